"""The ISF of a kernel from its own BTF and kallsyms, by the `pakunoda` library.

`build_isf(path, banner=...)` runs pakunoda on a memory file it can map (raw, LiME or ELF
core: a RAM dump, or the kernel-image core of `core.py`) and returns the ISF with what was
found; or raises `NoSymbolsError` with one line that names the kernel, says what is missing
and what to do.  pakunoda is imported here, lazily: Volatility imports every module under
plugins/ at start-up, and most runs never build an ISF.

pakunoda is run offline and BTF-only: no donor profile is fetched or guessed from the
network (`offline`, `skip_donor`) and no pslist-only layout is pinned without BTF
(`layout_leg`): an ISF comes from this kernel's own type information or not at all.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import hints

DEFAULT_TIMEOUT = 900.0  # seconds; a kernel-image core takes ~10 s, a 16 GiB dump a few minutes
# offline: no network; skip_donor: no profile of another build; layout_leg: no BTF-less layout
OFFLINE, SKIP_DONOR, LAYOUT_LEG = True, True, False
LIBRARY_SCHEMA = "isf_schema_6_2_0.json"  # pakunoda/vendor/: the schema its validation uses

# Why no ISF: NoSymbolsError.reason
NO_LIBRARY, NO_BTF, DAMAGED_BTF, NO_KALLSYMS, TIMEOUT, INCOMPLETE, FAILED = (
    "pakunoda missing", "no BTF", "damaged BTF", "no kallsyms", "timeout", "incomplete", "failed")

# pakunoda reports stage boundaries, not a fraction (stages repeat or are skipped per memory):
# the percentage of a BTF run at which each stage starts, as timed on the real 6.1 image's
# kernel-image core (~10 s), gives the progress bar a plausible pace
STAGE_STARTS = {"viability": 0, "discovery_wave": 1, "btf_scan": 5, "btf_parse": 8, "vmcoreinfo": 25,
                "kallsyms": 27, "ksymtab": 40, "banner_revalidate": 41, "system_map": 42, "system_map_residue": 43,
                "layout_anomalies": 44, "isf_generate": 47, "isf_validate": 65}

Progress = Callable[[float, str], None] | None


class NoSymbolsError(Exception):
    """No ISF could be built for `kernel` (its release): `reason` is one of the module's
    reasons, `message` one line with the next step."""

    def __init__(self, reason: str, kernel: str, detail: str, next_step: str) -> None:
        self.reason, self.kernel, self.detail, self.next_step = reason, kernel, detail, next_step
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"No ISF for kernel {self.kernel}: {self.detail}. {self.next_step}"


@dataclass
class Built:
    """An ISF built from BTF and kallsyms, and what it was built from."""

    isf: dict
    banner: bytes  # linux_banner as in memory (the ISF's identifier)
    banner_address: int | None  # physical address of the banner the library chose
    btf_address: int | None  # physical address of the BTF header in the input
    btf_size: int | None
    kallsyms_count: int | None
    kaslr_shift: int | None  # virtual KASLR shift pakunoda measured
    paging_levels: int | None
    paging_root: int | None  # physical address of the kernel's top-level table
    seconds: float
    schema_checked: bool  # validated by pakunoda against Volatility's ISF schema
    library: str = ""
    warnings: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _library_logs_as_debug() -> Iterator[None]:
    """pakunoda's own log lines become DEBUG while it runs: the user sees our one line."""
    logger = logging.getLogger("pakunoda")

    def demote(record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True

    logger.addFilter(demote)
    try:
        yield
    finally:
        logger.removeFilter(demote)


def _stage_progress(progress: Progress) -> Callable[[str, float], None] | None:
    """pakunoda's stage callback as a percentage that moves at every stage boundary and never
    goes back: a stage of STAGE_STARTS jumps to its start (if ahead); a repeated or unlisted
    stage moves half-way to the next listed start (never past it: the order is kept)."""
    if progress is None:
        return None
    report = progress
    starts = sorted(set(STAGE_STARTS.values())) + [100]
    done = [0.0]
    seen: set[str] = set()

    def on_stage(stage: str, elapsed: float) -> None:
        start = STAGE_STARTS.get(stage)
        if start is not None and stage not in seen and start > done[0]:
            done[0] = float(start)
        else:
            done[0] += (next((s for s in starts if s > done[0]), 100) - done[0]) / 2
        seen.add(stage)
        report(done[0], f"Building the ISF from BTF and kallsyms: {stage} ({elapsed:.0f} s)")

    return on_stage


def _scan_facts(result) -> tuple[tuple[int, int] | None, int | None, bool]:
    """(BTF (address, size) of the best candidate, kallsyms count, BTF candidates seen)."""
    btf, count, seen = None, None, False
    for hit in result.scan_results:
        meta = hit.metadata or {}
        if hit.scanner_name == "btf":
            seen = True
            if btf is None and meta.get("total_size"):
                btf = (hit.offset, int(meta["total_size"]))
        elif hit.scanner_name == "kallsyms" and count is None and meta.get("num_symbols"):
            count = int(meta["num_symbols"])
    return btf, count, seen


def _provenance(isf: dict) -> dict[str, list[str]]:
    linux = isf.get("metadata", {}).get("linux", {})
    return {part: [str(x.get("name", "")) for x in linux.get(part, []) if isinstance(x, dict)]
            for part in ("types", "symbols")}


def _classify(result, banner: bytes, timeout: float, btf_hint: tuple[int, int] | None) -> NoSymbolsError:
    """Why pakunoda built nothing usable, as one message naming the kernel.  `btf_hint` is
    a BTF header found by btf.py in the same memory: a header the library rejects is damage."""
    btf, count, btf_seen = _scan_facts(result)
    errors = "; ".join(result.errors) or "no reason given"
    banner = result.banner_bytes or banner  # the library's choice among the banners in memory
    kernel, fix = hints.release_of(banner), hints.next_step(banner)
    if getattr(result, "timed_out", False):
        return NoSymbolsError(TIMEOUT, kernel, f"building its ISF did not finish in {timeout:.0f} s",
                              f"Allow longer with -e swsusp.btf_timeout=SECONDS, or: {fix}")
    if not btf_seen and btf_hint is not None:
        return NoSymbolsError(DAMAGED_BTF, kernel, f"its BTF at physical {btf_hint[0]:#x} ({btf_hint[1]} bytes by its "
                              "header) is damaged: the BTF reader rejected its type section", fix)
    if not btf_seen:
        return NoSymbolsError(NO_BTF, kernel, "the memory holds no BTF type information (a kernel built "
                              "without CONFIG_DEBUG_INFO_BTF, or its .BTF pages are not in the memory)", fix)
    if result.isf_json is None and "failed to parse" in errors:
        where = f" at physical {btf[0]:#x}" if btf else ""
        return NoSymbolsError(DAMAGED_BTF, kernel, f"its BTF{where} is damaged ({errors})", fix)
    if count is None:
        return NoSymbolsError(NO_KALLSYMS, kernel, "its symbol table (kallsyms) was not found in the memory "
                              "(a kernel built without CONFIG_KALLSYMS_ALL, or those pages are missing)", fix)
    return NoSymbolsError(FAILED, kernel, f"pakunoda could not build it ({errors})", fix)


def _incomplete(isf: dict) -> str | None:
    """What Volatility's Linux support needs and the ISF lacks, or None."""
    where = _provenance(isf)
    if "vmlinux_btf" not in where["types"]:
        return f"its types do not come from BTF ({', '.join(where['types']) or 'no source recorded'})"
    from .coverage import missing_essentials

    missing = missing_essentials(isf)
    if not missing:
        return None
    more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
    return f"it lacks {', '.join(missing[:4])}{more}"


def build_isf(path: str, *, banner: bytes, progress: Progress = None, timeout: float = DEFAULT_TIMEOUT,
              btf_hint: tuple[int, int] | None = None) -> Built:
    """Build the ISF of the kernel in the memory file at `path` (raw, LiME or ELF core).
    `banner` (the kernel's, as found in memory) names it in messages; `btf_hint` is where
    btf.py saw a BTF header in that memory, if it looked.  Raises NoSymbolsError."""
    kernel = hints.release_of(banner)
    try:
        import pakunoda
    except ImportError as exc:
        raise NoSymbolsError(NO_LIBRARY, kernel, f"the pakunoda library is not importable ({exc})",
                             "Install it (pip install pakunoda) or give the kernel's ISF with -s") from None
    start = time.monotonic()
    try:
        with _library_logs_as_debug():
            result = pakunoda.extract_isf(Path(path), "x86_64", progress=_stage_progress(progress),
                                          timeout_s=timeout, offline=OFFLINE, skip_donor=SKIP_DONOR,
                                          layout_leg=LAYOUT_LEG)
    except Exception as exc:  # noqa: BLE001  the library promises not to raise; a bug must not become a traceback
        raise NoSymbolsError(FAILED, kernel, f"pakunoda stopped with {type(exc).__name__}: {exc}",
                             hints.next_step(banner)) from None
    if not result.success or not isinstance(result.isf_json, dict):
        raise _classify(result, banner, timeout, btf_hint)
    isf = result.isf_json
    btf, count, _seen = _scan_facts(result)
    if count is None or not isf.get("symbols"):
        raise NoSymbolsError(NO_KALLSYMS, kernel, "its symbol table (kallsyms) was not found in the memory (a kernel "
                             "built without CONFIG_KALLSYMS_ALL, or those pages are missing): its BTF alone names "
                             "no symbol", hints.next_step(banner))
    lacking = _incomplete(isf)
    if lacking:
        raise NoSymbolsError(INCOMPLETE, kernel, f"the ISF built from its BTF is unusable: {lacking}",
                             hints.next_step(banner))
    loadability = getattr(result, "loadability", None)
    paging = getattr(result, "paging", None)
    return Built(
        isf=isf,
        banner=identifier(isf) or (result.banner_bytes or b""),
        banner_address=result.banner_phys,
        btf_address=btf[0] if btf else None,
        btf_size=btf[1] if btf else None,
        kallsyms_count=count,
        kaslr_shift=result.kaslr_shift,
        paging_levels=getattr(paging, "levels", None),
        paging_root=getattr(paging, "pgd_phys", None),
        seconds=time.monotonic() - start,
        schema_checked=bool(loadability is not None and loadability.document_valid),
        library=f"pakunoda {getattr(pakunoda, '__version__', '?')}",
        warnings=list(result.warnings),
    )


def identifier(isf: dict) -> bytes | None:
    """The Linux identifier of an ISF: linux_banner's bytes as in memory (base64 in the ISF)."""
    import base64
    import binascii

    data = isf.get("symbols", {}).get("linux_banner", {}).get("constant_data")
    if not data:
        return None
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        return None


def library_schema() -> dict | None:
    """The ISF schema pakunoda validates against (the copy it ships), or None."""
    import importlib.resources
    import json

    try:
        text = (importlib.resources.files("pakunoda") / "vendor" / LIBRARY_SCHEMA).read_text(encoding="utf-8")
        return json.loads(text)
    except (ImportError, OSError, ValueError):
        return None
