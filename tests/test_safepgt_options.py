"""linux.swsusp_safepgt's options and output files (issue 11): every unusable value is one line
before any work or output, with a non-zero exit and no traceback; -o that cannot take the files
is refused before the analysis; a write that fails half-way (a full disk) leaves nothing under
the final name; inputs that are neither an image nor a RAM dump say why."""

import errno
import json
import os
import random
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from volatility3.cli import CommandLine

from samples import containers, swsusp_gen
from tests import realsamples
from volatility3.plugins.swsusp.format.errors import NotAnImageError
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.paging import walk
from volatility3.plugins.swsusp.vol import options, physical, plot
from volatility3.plugins.swsusp.vol.output import OutputError, OutputFile, OutputFiles

SAMPLES = realsamples.REPO / "samples"
SEED_IMAGE, SEED_RESUME = SAMPLES / "seed-image.img", SAMPLES / "seed-resume.elf"
QUICKSTART = SAMPLES / "quickstart-lzo.img"


def run(vol_runner, *args, cwd=None, fsize=None):
    """`vol` as VolRunner runs it, in `cwd`, optionally with a file-size limit (RLIMIT_FSIZE:
    writes past it fail with EFBIG, as a full disk fails with ENOSPC, without root)."""
    cmd = [realsamples.vol_command(), "-q", "-p", str(realsamples.REPO / "plugins"),
           "-s", str(realsamples.REPO / "symbols"), *args]
    env = dict(os.environ, XDG_CACHE_HOME=str(vol_runner.home()))

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd,
                          preexec_fn=limit if fsize else None)


def refusal(result):
    """The refusal's lines (Volatility's framing removed); asserts the contract around them."""
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "\t" not in result.stdout, "rows printed before the refusal"
    assert "faulty layer" not in result.stderr, result.stderr[-3000:]
    framing = ("Volatility 3 Framework", "Volatility experienced", "Volatility could not import", "\t* ",
               "No further results")
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.strip() and not line.startswith(framing)]


def files_in(folder: Path):
    return sorted(p.name for p in folder.iterdir())


# -- arguments ----------------------------------------------------------------------------

def test_every_bad_argument_is_one_line_before_any_work(vol, tmp_path):
    result = vol("-o", str(tmp_path), "-f", str(QUICKSTART), "linux.swsusp_safepgt", "--rebuild",
                 "--plot", "sub/map.png", "--explain", "-1", "--cr3", "-5", "--resume-dump", "/dev/zero",
                 "--copied", "-2")
    lines = refusal(result)
    assert lines == [
        "--plot takes a file name, written into the -o folder, not a path: 'sub/map.png'",
        lines[1], "--cr3 -5: not a physical address (0 to 0xfffffffffffff, 52 bits)",
        "--resume-dump /dev/zero: a character device, not a RAM dump Volatility can read (it has no size and "
        "no offsets)",
        "--copied -2: a number of copies, 0 or more",
    ]
    assert lines[1].startswith("--explain -1: not a canonical x86-64 virtual address")
    assert files_in(tmp_path) == []  # refused before -o was touched


@pytest.mark.parametrize("args,line", [
    (["--explain", hex((1 << 71) - 1)], "--explain 0x7fffffffffffffffff: not a canonical x86-64 virtual address"),
    (["--explain", hex(0x00FF800000000000)], "--explain 0xff800000000000: not canonical with the 4-level paging "
                                             "of this kernel (0-0x7fffffffffff or 0xffff800000000000-"),
    (["--copied", "3"], "--copied needs --resume-dump"),
    (["--resume-cr3", "0x1000"], "--resume-cr3 needs --resume-dump"),
])
def test_addresses_and_counts_out_of_range(vol, args, line):
    lines = refusal(vol("-f", str(QUICKSTART), "linux.swsusp_safepgt", *args))
    assert len(lines) == 1 and lines[0].startswith(line), lines


def test_copied_beyond_the_final_loop_names_the_range(vol, tmp_path):
    """The copy count is the image's own (its restore order), not clamped; nothing is written."""
    rows = json.loads(vol("-r", "json", "-f", str(SEED_IMAGE), "linux.swsusp_safepgt", "--resume-dump",
                          str(SEED_RESUME)).stdout)
    copies = int({r["Kind"]: r["Finding"] for r in rows if r["Level"] == "summary"}["pages copied by the final loop"])
    result = vol("-o", str(tmp_path), "-f", str(SEED_IMAGE), "linux.swsusp_safepgt", "--resume-dump",
                 str(SEED_RESUME), "--rebuild", "--copied", str(copies + 1))
    assert refusal(result) == [f"--copied {copies + 1}: this image's final loop makes {copies} copies; "
                               f"give 0 to {copies}"]
    assert files_in(tmp_path) == []
    dump_as_f = vol("-f", str(SEED_RESUME), "linux.swsusp_safepgt", "--resume-dump", str(SEED_RESUME),
                    "--copied", "1")
    assert refusal(dump_as_f) == ["--copied needs a hibernation image as -f (the copies it replays), not a RAM dump"]


@pytest.fixture
def not_dumps(tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    rng = random.Random(11)
    rand = tmp_path / "random.bin"
    rand.write_bytes(rng.randbytes(1 << 20))
    text = tmp_path / "text.txt"
    text.write_text((realsamples.REPO / "README.md").read_text()[:200_000])
    ext4 = tmp_path / "ext4.img"  # an ext4-like filesystem without a swap file
    ext4.write_bytes(containers.ext4ish_block0(rng, 256, b"root") + rng.randbytes(255 * 4096))
    return {"empty": empty, "random": rand, "text": text, "ext4": ext4, "folder": tmp_path}


@pytest.mark.parametrize("kind,why", [
    ("folder", "a folder, not a file"), ("empty", "an empty file (0 bytes), not a RAM dump"),
    ("missing", "no such file"),
    ("random", "not a RAM dump Volatility can read: no dump format recognised"),
])
def test_resume_dump_says_what_is_wrong(vol, not_dumps, kind, why):
    path = not_dumps.get(kind, not_dumps["folder"] / "missing.elf")
    lines = refusal(vol("-f", str(QUICKSTART), "linux.swsusp_safepgt", "--resume-dump", str(path)))
    assert len(lines) == 1 and lines[0].startswith(f"--resume-dump {path}: {why}"), lines


@pytest.mark.parametrize("kind", ["random", "text", "ext4"])
def test_neither_image_nor_dump_says_why(vol, not_dumps, kind):
    """The reason linux.swsusp_info gives (the reader's NotAnImageError), then the RAM-dump one."""
    path = not_dumps[kind]
    with pytest.raises(NotAnImageError) as info:
        SwsuspImage.open(path)
    lines = refusal(vol("-f", str(path), "linux.swsusp_safepgt"))
    assert lines == [f"{path.name}: {info.value.message}; nor a RAM dump: no kernel page-table root found in it "
                     "(give --cr3 if it is one)"]


@pytest.mark.parametrize("kind,why", [
    ("empty", "an empty file (0 bytes), not a hibernation image or RAM dump"),
    ("folder", "a folder, not a file"),
    ("zero", "a character device, not a hibernation image or RAM dump Volatility can read"),
])
def test_input_that_is_no_file_to_read(vol, not_dumps, kind, why):
    path = "/dev/zero" if kind == "zero" else str(not_dumps[kind])
    lines = refusal(vol("-f", path, "linux.swsusp_safepgt"))
    assert len(lines) == 1 and lines[0].startswith(f"-f {path}: {why}"), lines


# -- -e values Volatility's JSON parse refuses ---------------------------------------------

@pytest.mark.parametrize("value", ["yes", "maybe", "0x10"])
def test_unquoted_extension_is_one_line(vol, value):
    result = vol("-e", f"swsusp.safe_tables={value}", "-f", str(QUICKSTART), "linux.swsusp_info", "--no-crc")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert [line for line in result.stderr.splitlines() if line.startswith("-e ")] == [
        options.explain_extension(f"swsusp.safe_tables={value}")]


def test_extension_advice_is_a_form_volatility_and_the_option_take():
    """The quoted form suggested parses as JSON and as the option's value."""
    line = options.explain_extension("swsusp.safe_tables=yes")
    suggested = line.split("-e '")[1].rstrip("'")
    name, value = suggested.split("=", 1)
    assert name == "swsusp.safe_tables" and options.OPTIONS["safe_tables"].parse(json.loads(value)) is True
    line = options.explain_extension("swsusp.resume_offset=0x8800")
    value = line.split("-e '")[1].rstrip("'").split("=", 1)[1]
    assert options.OPTIONS["resume_offset"].parse(json.loads(value)) == 0x8800
    line = options.explain_extension("swsusp.swapfile_extents=/tmp/filefrag.txt")
    value = line.split("-e '")[1].rstrip("'").split("=", 1)[1]
    assert options.OPTIONS["swapfile_extents"].parse(json.loads(value)) == "/tmp/filefrag.txt"
    assert "number" not in line and "file name" in line  # the advice names what the option takes


def test_canonical_addresses_are_64_bit_numbers():
    paging = walk.Paging(lambda pa, n: bytes(n), 0x1000, 4)
    assert paging.is_canonical(0xFFFF800000000000) and paging.is_canonical(0x7FFFFFFFFFFF)
    for va in (-1, -(1 << 63), 1 << 64, (1 << 71) - 1, 0x0000800000000000):
        assert not paging.is_canonical(va) and paging.translate(va) is None


# -- output files ---------------------------------------------------------------------------

def cli_handler(folder: Path):
    """Volatility's own command-line file handler class (temporary file, renamed on close)."""
    cli = CommandLine()
    cli.output_dir = str(folder)
    return cli.file_handler_class_factory()


def full_disk_after(handle, limit: int, where: str):
    """Make `handle` fail as a full disk does: `write` keeps `limit` bytes then ENOSPC, or
    `flush` fails."""
    real_write = handle.write

    def write(data):
        real_write(bytes(data)[:limit])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush():
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    setattr(handle, where, write if where == "write" else flush)
    return handle


def test_volatility_alone_commits_a_truncated_file(tmp_path):
    """Why OutputFile exists: the handler's `with` commits whatever was written on failure."""
    handler = cli_handler(tmp_path)
    with pytest.raises(OSError):
        with full_disk_after(handler("safepgt-tables.bin"), 4096, "write") as f:
            f.write(bytes(8192))
    assert files_in(tmp_path) == ["safepgt-tables.bin"] and (tmp_path / "safepgt-tables.bin").stat().st_size == 4096


@pytest.mark.parametrize("where", ["write", "flush"])
def test_a_full_disk_leaves_nothing(tmp_path, where):
    handler = cli_handler(tmp_path)
    files = OutputFiles(lambda name: full_disk_after(handler(name), 4096, where)
                        if name.endswith(".bin") else handler(name))
    tables, description = files.open("safepgt-tables.bin"), files.open("safepgt-tables.json")
    with pytest.raises(OutputError, match="no space left on the device; nothing was left under that name"):
        files.commit(tables, bytes(8192))
    del tables, description, files  # the finaliser of a discarded handler must not commit either
    assert files_in(tmp_path) == []


def test_files_are_committed_complete(tmp_path):
    files = OutputFiles(cli_handler(tmp_path))
    out = files.open("a.bin")
    assert files.folder == str(tmp_path)
    data = random.Random(1).randbytes(3 * 4096 + 5)
    assert files.commit(out, data) == "a.bin" and (tmp_path / "a.bin").read_bytes() == data
    again = files.open("a.bin")  # Volatility's rule: never overwrite, add -1
    assert files.commit(again, b"x") == "a-1.bin" and files.written == ["a.bin", "a-1.bin"]


@pytest.mark.parametrize("exc,why", [
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/x/file/tmp_1.vol3"), "-o (/x/file): -o is not a folder"),
    (PermissionError(errno.EACCES, "Permission denied", "/ro/tmp_1.vol3"), "-o is not writable"),
    (OSError(errno.EROFS, "Read-only file system", "/mnt/tmp_1.vol3"), "-o is on a read-only file system"),
])
def test_a_folder_that_takes_no_files_is_one_line(exc, why):
    def opener(name):
        raise exc

    with pytest.raises(OutputError, match=why.replace("(", r"\(").replace(")", r"\)")):
        OutputFile(opener, "safepgt-tables.bin")


def test_o_is_a_file(vol, tmp_path):
    target = tmp_path / "afile"
    target.write_bytes(b"keep")
    lines = refusal(vol("-o", str(target), "-f", str(QUICKSTART), "linux.swsusp_safepgt", "--rebuild"))
    assert lines == [f"cannot write safepgt-tables.bin into -o ({target}): -o is not a folder"]
    assert target.read_bytes() == b"keep" and files_in(tmp_path) == ["afile"]


def test_a_failing_write_commits_nothing_through_vol(vol, tmp_path):
    """A file-size limit below the tables' size: the write fails half-way, as on a full disk."""
    whole, limited = tmp_path / "whole", tmp_path / "limited"
    whole.mkdir()
    limited.mkdir()
    assert run(vol, "-o", str(whole), "-f", str(QUICKSTART), "linux.swsusp_safepgt", "--rebuild").returncode == 0
    size = (whole / "safepgt-tables.bin").stat().st_size
    assert size > 8192
    result = run(vol, "-o", str(limited), "-f", str(QUICKSTART), "linux.swsusp_safepgt", "--rebuild", fsize=8192)
    assert refusal(result) == [f"cannot write safepgt-tables.bin into -o ({limited}): file too large for the file "
                               "system or the file-size limit (ulimit -f); nothing was left under that name"]
    assert files_in(limited) == []


def test_without_o_the_summary_names_the_current_folder(vol, tmp_path):
    result = run(vol, "-r", "json", "-f", str(QUICKSTART), "linux.swsusp_safepgt", "--rebuild", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = {r["Kind"]: r["Finding"] for r in json.loads(result.stdout) if r["Level"] == "summary"}
    assert summary["files written"] == "safepgt-tables.bin, safepgt-tables.json"
    assert summary["output folder"].startswith(f"{tmp_path} ")
    assert files_in(tmp_path) == ["safepgt-tables.bin", "safepgt-tables.json"]


# -- --plot -----------------------------------------------------------------------------------

def test_plot_config_is_private_and_removed(monkeypatch):
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    with plot.private_config():
        folder = Path(os.environ["MPLCONFIGDIR"])
        assert folder.is_dir() and not folder.is_relative_to(Path.home())
    assert "MPLCONFIGDIR" not in os.environ and not folder.exists()
    monkeypatch.setenv("MPLCONFIGDIR", "/chosen")
    with plot.private_config():
        assert os.environ["MPLCONFIGDIR"] == "/chosen"


def test_plot_fails_without_matplotlib_or_writes_only_into_o(vol, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    before = files_in(Path(vol.home()))
    result = vol("-o", str(out), "-f", str(swsusp_gen.make_variant("quickstart-lzo", str(tmp_path))[2]),
                 "linux.swsusp_safepgt", "--plot", "map.png")
    if not plot.available():
        assert refusal(result) == ["--plot needs matplotlib: install it with: pip install 'swsusp-safepgt[plot]'"]
        assert files_in(out) == []
        return
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "matplotlib" not in files_in(Path(vol.home())) or "matplotlib" in before  # no font cache


# -- fuzz: any -e text gets one line, never an exception --------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=60))
def test_any_extension_text_is_one_line(text):
    line = options.explain_extension(text)
    assert line.startswith(f"-e {text}") and "\n" not in line
    assert options.ExtendHook.explain(ValueError(text), None) is None  # not from Volatility's parse


# -- time: a sparse input is scanned where it holds data only ----------------------------------

def test_data_extents_of_a_sparse_file(tmp_path):
    path = tmp_path / "sparse.bin"
    with open(path, "wb") as f:
        f.truncate(1 << 30)
        for at in (0, 300 << 20, (1 << 30) - 4096):
            f.seek(at)
            f.write(b"\x01" * 4096)
    extents = physical.data_extents(str(path), 1 << 30)
    covered = sum(end - start for start, end in extents)
    assert covered < 16 << 20 or extents == [(0, 1 << 30)]  # a file system without holes: all of it
    for at in (0, 300 << 20, (1 << 30) - 4096):
        assert any(start <= at and at + 4096 <= end for start, end in extents)
    empty = tmp_path / "holes.bin"
    with open(empty, "wb") as f:
        f.truncate(1 << 30)
    assert physical.data_extents(str(empty), 1 << 30) in ([], [(0, 1 << 30)])


def test_a_sparse_terabyte_is_refused_in_seconds(vol, tmp_path):
    path = tmp_path / "sparse-1t.bin"
    with open(path, "wb") as f:
        f.truncate(1 << 40)
        f.seek(1 << 39)
        f.write(random.Random(3).randbytes(1 << 20))
    if physical.data_extents(str(path), 1 << 40) == [(0, 1 << 40)]:
        pytest.skip("this file system does not report holes (SEEK_DATA)")
    started = time.monotonic()
    lines = refusal(vol("-f", str(path), "linux.swsusp_safepgt"))
    assert time.monotonic() - started < 10
    assert lines[0].startswith(f"{path.name}: not a hibernation image") and "nor a RAM dump" in lines[0]


def test_a_full_disk_mid_stream_leaves_nothing(tmp_path):
    """Streamed writes (linux.swsusp_swaparea --dump): a failure after some parts commits none."""
    handler = cli_handler(tmp_path)
    dump = OutputFile(lambda name: full_disk_after(handler(name), 100, "flush"), "stale.bin")
    dump.write(bytes(4096))
    dump.write(bytes(4096))
    with pytest.raises(OutputError, match="no space left"):
        dump.close()
    del dump
    assert files_in(tmp_path) == []
