"""Evidence integrity (issue 4 item 6): no plugin of the project writes to its input or
anywhere but the -o folder, and what lands in -o is what the plugin says it wrote.

Each plugin runs through the real `vol` command line on read-only copies (0o444) of the
bundled synthetic samples, from an empty current directory, with `-o` another empty folder.
The truth: the inputs' SHA-256 taken before the first run, and snapshots (name, size,
mtime, SHA-256) of the current directory, the inputs' folder and -o before and after each
run.  Permissions alone prove nothing when the tests run as root, hence the snapshots.
"""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Tuple

import pytest

from tests import realsamples
from volatility3.plugins.swsusp.vol import plot

REPO = realsamples.REPO
SAMPLES = ("seed-image.img", "seed-resume.elf", "quickstart-lzo.img")
Snapshot = Dict[str, Tuple[int, int, str]]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def snapshot(folder: Path) -> Snapshot:
    """Every file under `folder`: relative path -> (size, mtime_ns, SHA-256)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns, sha256(path))
    return out


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    """Read-only copies of the samples in a folder of their own, and their digests."""
    folder = tmp_path_factory.mktemp("evidence")
    digests = {}
    for name in SAMPLES:
        shutil.copyfile(REPO / "samples" / name, folder / name)
        os.chmod(folder / name, 0o444)
        digests[name] = sha256(REPO / "samples" / name)
    return folder, digests


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    return tmp_path_factory.mktemp("volcache")


def run_vol(evidence, cache_home, tmp_path, *args: str):
    """`vol -o OUT ARGS` from an empty current directory; checks that the inputs and their
    folder are untouched and the current directory stays empty; returns (result, files in -o)."""
    folder, digests = evidence
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    out.mkdir()
    before = snapshot(folder)
    cmd = [realsamples.vol_command(), "-q", "-p", str(REPO / "plugins"), "-s", str(REPO / "symbols"),
           "-o", str(out), *args]
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert snapshot(folder) == before, "the inputs' folder changed"
    assert {name: sha256(folder / name) for name in SAMPLES} == digests
    assert all((folder / name).stat().st_mode & 0o777 == 0o444 for name in SAMPLES)
    assert snapshot(cwd) == {}, "files written to the current directory"
    return result, snapshot(out)


def rows_of(result):
    return json.loads(result.stdout)


def test_swsusp_info_writes_nothing(evidence, cache_home, tmp_path):
    folder, _ = evidence
    result, written = run_vol(evidence, cache_home, tmp_path, "-r", "json", "-f", str(folder / "seed-image.img"),
                              "linux.swsusp_info")
    assert rows_of(result) and written == {}


def test_safepgt_writes_exactly_the_files_it_names(evidence, cache_home, tmp_path):
    """--resume-dump, --rebuild, --plot and --copied in one run: the .bin/.json pair and the
    PNG, named in the output and in the JSON, and nothing else."""
    folder, _ = evidence
    expected = ["safepgt-tables.bin", "safepgt-tables.json"]
    plotting = ["--plot", "map.png"] if plot.available() else []  # refused without matplotlib
    result, written = run_vol(evidence, cache_home, tmp_path, "-r", "json", "-f", str(folder / "seed-image.img"),
                              "linux.swsusp_safepgt", "--resume-dump", str(folder / "seed-resume.elf"),
                              "--rebuild", *plotting, "--copied", "10")
    rows = rows_of(result)
    summary = {r["Kind"]: r["Finding"] for r in rows if r["Level"] == "summary"}
    said = summary["files written"].split(", ")
    expected += ["map.png"] if plotting else []
    assert said == expected and set(written) == set(expected)
    assert summary["output folder"].startswith(f"{tmp_path / 'out'} ")
    meta = json.loads((tmp_path / "out" / "safepgt-tables.json").read_text())
    assert meta["file"] == "safepgt-tables.bin"
    assert written["safepgt-tables.bin"][0] == 4096 * len(meta["pages"])


def test_safepgt_explain_and_plot_path_write_nothing(evidence, cache_home, tmp_path):
    folder, _ = evidence
    result, written = run_vol(evidence, cache_home, tmp_path, "-r", "json", "-f", str(folder / "seed-image.img"),
                              "linux.swsusp_safepgt", "--explain", str(0xFFFF81000A001000))
    assert rows_of(result) and written == {}
    # a path for --plot is refused before anything is written (no stray temporary file in -o)
    cmd = [realsamples.vol_command(), "-q", "-p", str(REPO / "plugins"), "-s", str(REPO / "symbols"),
           "-o", str(tmp_path / "out"), "-f", str(folder / "seed-image.img"), "linux.swsusp_safepgt",
           "--plot", "../escape.png"]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path / "cwd",
                             env=dict(os.environ, XDG_CACHE_HOME=str(cache_home)))
    assert refused.returncode != 0 and "Traceback" not in refused.stderr and "not a path" in refused.stderr
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize("extra", [(), ("-e", "swsusp.safe_tables=true")], ids=["image-tables", "safe-tables"])
def test_stock_pslist_through_our_layer_writes_nothing(evidence, cache_home, tmp_path, extra):
    folder, _ = evidence
    result, written = run_vol(evidence, cache_home, tmp_path, *extra, "-r", "json",
                              "-f", str(folder / "quickstart-lzo.img"), "linux.pslist")
    assert rows_of(result) and written == {}


def test_layerwriter_writes_only_the_layer_it_names(evidence, cache_home, tmp_path):
    folder, _ = evidence
    result, written = run_vol(evidence, cache_home, tmp_path, "-r", "json", "-f", str(folder / "seed-image.img"),
                              "layerwriter")
    (row,) = rows_of(result)
    name = row["Status"].rsplit(" ", 1)[-1]
    assert row["Status"].startswith("Layer has been written to ") and list(written) == [name]
    (tmp_path / "out" / name).unlink()  # 256 MiB of mostly zeros: not kept
