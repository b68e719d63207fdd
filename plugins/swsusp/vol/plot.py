"""The direct map drawn by physical address: one bar per PUD/PMD slot, coloured by what the
comparison found, hazards and moved tables marked.  Needs matplotlib (the `plot` extra):
`available` says whether it is installed without importing it, `draw` raises ImportError
without it.  (Imported lazily: Volatility imports every module under plugins/ at start-up, and
a missing optional package must not show up in every `vol -h`.)  matplotlib writes its font
cache into its config folder (~/.cache/matplotlib or ~/.config/matplotlib) when it is first
imported: `draw` points MPLCONFIGDIR at a temporary folder, removed afterwards, so a run
writes nothing but its files in -o (unless the user set MPLCONFIGDIR)."""

import contextlib
import importlib.util
import os
import shutil
import tempfile
from typing import Iterator

from volatility3.plugins.swsusp.analysis.compare import MERGED, MOVED, ONLY_IMAGE, ONLY_RESUME, SAME, SPLIT

COLOURS = {
    SAME: "#9ecae1",
    MOVED: "#e6550d",
    SPLIT: "#fdae6b",
    MERGED: "#a1d99b",
    ONLY_IMAGE: "#756bb1",
    ONLY_RESUME: "#bcbddc",
    None: "#d9d9d9",
}
MIB = 1 << 20


def available() -> bool:
    """Whether matplotlib is installed (found, not imported: importing it writes its cache)."""
    return importlib.util.find_spec("matplotlib") is not None


@contextlib.contextmanager
def private_config() -> Iterator[None]:
    """MPLCONFIGDIR in a temporary folder while matplotlib is first imported and draws."""
    if "MPLCONFIGDIR" in os.environ:  # the user's choice
        yield
        return
    folder = tempfile.mkdtemp(prefix="swsusp-mplconfig-")
    os.environ["MPLCONFIGDIR"] = folder
    try:
        yield
    finally:
        del os.environ["MPLCONFIGDIR"]
        shutil.rmtree(folder, ignore_errors=True)


def draw(result, out) -> None:
    """Write a PNG of `result` (an analysis.safepgt.Analysis) to the binary file object `out`."""
    with private_config():
        _draw(result, out)


def _draw(result, out) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(12, 3.6))
    rows = {"PUD": 1.0, "PMD": 0.0}
    for pair in result.pairs:
        slot = pair.image
        if pair.finding is None and not (slot and slot.entry and slot.entry.present):
            continue
        y = rows.get(pair.level, 0.0)
        start, width = pair.pa_start / MIB, (pair.pa_end - pair.pa_start) / MIB
        colour = COLOURS.get(pair.finding, COLOURS[None]) if result.resume else _kind_colour(slot)
        ax.broken_barh([(start, width)], (y, 0.8), facecolors=colour, edgecolor="white", linewidth=0.3)
        if (pair.pa_start, pair.pa_end) in result.hazards:
            ax.plot(start + width / 2, y + 0.9, marker="v", color="#a50f15", markersize=4)
        elif slot is not None and slot.entry_pa in result.exposure:
            ax.plot(start + width / 2, y + 0.9, marker="v", color="#fd8d3c", markersize=4)
    ends = [p.pa_end for p in result.pairs if p.level == "PMD" and p.image and p.image.entry and p.image.entry.present]
    if ends:  # the mapped memory, not the whole GiB its PUD slot spans
        ax.set_xlim(0, max(ends) / MIB * 1.02)
    ax.set_yticks([0.4, 1.4], ["PMD (2 MiB)", "PUD (1 GiB)"])
    ax.set_xlabel("physical address (MiB)")
    dm = result.image.direct_map
    title = f"direct map at {dm.base:#x}"
    if result.resume is not None:
        title += f" vs resume-time kernel at {result.resume.direct_map.base:#x} (aligned by physical address)"
    ax.set_title(title, fontsize=9)
    if result.resume is not None:
        legend = [Patch(color=c, label=k) for k, c in COLOURS.items() if k]
    else:
        legend = [Patch(color=c, label=k) for k, c in (("1 GiB page", "#3182bd"), ("2 MiB page", "#9ecae1"),
                                                       ("PTE/PMD table", "#fdae6b"))]
    legend.append(plt.Line2D([], [], marker="v", linestyle="", color="#a50f15", label="breaks on live tables"))
    ax.legend(handles=legend, fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.28))
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)


def _kind_colour(slot) -> str:
    if slot is None or slot.entry is None or not slot.entry.present:
        return COLOURS[None]
    return {"1G": "#3182bd", "2M": "#9ecae1"}.get(slot.kind, "#fdae6b")  # tables orange
