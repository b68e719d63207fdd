"""No symbols at hand, on the real Debian 6.1 image: one command builds the ISF from the
kernel's BTF and kallsyms, and stock plugins give the same rows with it as with the
dwarf2json ISF of ../shared/symbols.

Truth: the dwarf2json ISF (built from the kernel's DWARF), the kernel's System.map and the
restore record.  sockstat lists no socket on this guest (an initramfs without network
services) with either ISF: equal, but empty; ip.Link and mountinfo add net_device and mount
structures to the comparison."""

import gzip
import json
import lzma
import os
import subprocess
import sys

import pytest
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.isf import coverage

from tests import realsamples

REPO = realsamples.REPO
PLUGINS = ["linux.pslist.PsList", "linux.psaux.PsAux", "linux.lsmod.Lsmod", "linux.envars.Envars",
           "linux.proc.Maps", "linux.sockstat.Sockstat", "linux.lsof.Lsof", "linux.ip.Link",
           "linux.mountinfo.MountInfo"]
EMPTY_ON_THIS_GUEST = {"linux.sockstat.Sockstat"}


def _run(cmd, xdg, timeout=900):
    env = dict(os.environ, XDG_CACHE_HOME=str(xdg))
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


def _vol(xdg, *args):
    return _run([realsamples.vol_command(), "-q", "-p", str(REPO / "plugins"), "-s", str(REPO / "symbols"),
                 *map(str, args)], xdg)


def _system_map(real):
    with lzma.open(real.folder / "System.map-6.1.0-56-amd64.xz", "rt") as f:
        return {name: int(addr, 16) for addr, _kind, name in (line.split() for line in f)}


@pytest.fixture(scope="module")
def first_run(real, tmp_path_factory):
    """`vol -f swap-lzo.img linux.pslist` with no ISF anywhere (a fresh per-user cache)."""
    xdg = tmp_path_factory.mktemp("nosym-real-xdg")
    result = _vol(xdg, "-r", "csv", "-f", real.image("lzo"), "linux.pslist")
    store = xdg / "volatility3" / "symbols" / "linux" / "swsusp-btf"
    return xdg, result, store


@pytest.fixture(scope="module")
def d2j_isf(real):
    with lzma.open(real.symbols / "linux" / "6.1.0-56-amd64_6.1.192-2.json.xz") as f:
        return json.load(f)


def test_one_command_builds_stores_and_uses_the_isf(first_run, real, vol):
    xdg, result, store = first_run
    assert result.returncode == 0, result.stderr[-2000:]
    (isf,) = os.listdir(store)
    lines = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    assert len(lines) == 1 and "built one from its BTF and kallsyms" in lines[0] and str(store / isf) in lines[0]
    assert "-e swsusp.btf=false" in lines[0]
    d2j = vol("-r", "csv", "-f", str(real.image("lzo")), "linux.pslist", symbols=real.symbols)
    assert realsamples.parse_csv_output(result.stdout) == realsamples.parse_csv_output(d2j.stdout)
    again = _vol(xdg, "-r", "csv", "-f", real.image("lzo"), "linux.pslist")  # the second run pays nothing extra
    assert again.returncode == 0 and "WARNING" not in again.stderr, again.stderr
    assert again.stdout == result.stdout and os.listdir(store) == [isf]


def test_structures_match_the_dwarf2json_isf(first_run, d2j_isf):
    """Every structure the common plugins read has the same size and member offsets in the
    ISF built from BTF as in the one built from DWARF; the symbols they read, the same address."""
    _xdg, _result, store = first_run
    (name,) = os.listdir(store)
    with gzip.open(store / name) as f:
        built = json.load(f)
    for (symbols, structures) in coverage.PLUGIN_NEEDS.values():
        for structure in structures:
            ours, theirs = built["user_types"][structure], d2j_isf["user_types"][structure]
            assert ours["size"] == theirs["size"], structure
            assert {k: v["offset"] for k, v in ours["fields"].items()} == {
                k: v["offset"] for k, v in theirs["fields"].items()}, structure
        for symbol in symbols:
            assert built["symbols"][symbol]["address"] == d2j_isf["symbols"][symbol]["address"]
    assert all(state == "complete" for _p, _w, state in coverage.plugin_coverage(built))


def test_stock_plugins_give_the_same_rows(first_run, real, vol):
    xdg, _result, store = first_run
    runner = [sys.executable, "-m", "tests.plugin_rows", str(real.image("lzo"))]
    ours = _run(runner + [str(store.parent.parent)] + PLUGINS, xdg)
    assert ours.returncode == 0, ours.stderr[-3000:]
    theirs = _run(runner + [str(real.symbols)] + PLUGINS, vol.home(real.symbols))  # its ISF validated once a session
    assert theirs.returncode == 0, theirs.stderr[-3000:]
    ours, theirs = json.loads(ours.stdout), json.loads(theirs.stdout)
    for plugin in PLUGINS:
        assert ours[plugin] == theirs[plugin], plugin
        assert bool(ours[plugin]) == (plugin not in EMPTY_ON_THIS_GUEST), plugin
    print({plugin: len(rows) for plugin, rows in ours.items()})


def test_swsusp_symbols_rows_against_system_map(real, d2j_isf, tmp_path):
    """The explicit plugin: the BTF where System.map's __start_BTF.. __stop_BTF put it, the
    KASLR shift the restore record and the DWARF ISF give, the file in -o loads as an ISF."""
    out = tmp_path / "out"
    out.mkdir()
    result = _vol(tmp_path / "xdg", "-r", "json", "-o", out, "-f", real.image("lzo"), "linux.swsusp_symbols")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {(r["Section"], r["Field"]): r for r in json.loads(result.stdout)}
    record = SwsuspImage.open(real.image("lzo")).info.record
    smap = _system_map(real)
    btf_pa = record.jump_address_phys + smap["__start_BTF"] - smap["restore_registers"]
    assert rows[("BTF", "location (physical)")]["Address"] == btf_pa
    assert rows[("BTF", "size")]["Value"] == f"{smap['__stop_BTF'] - smap['__start_BTF']} bytes"
    shift = record.jump_address - d2j_isf["symbols"]["restore_registers"]["address"]
    assert rows[("KASLR", "virtual shift")]["Value"] == f"{shift:#x}"
    assert rows[("kernel", "release")]["Value"] == "6.1.0-56-amd64"
    assert int(rows[("kallsyms", "symbols")]["Value"]) > 80000
    (written,) = os.listdir(out)
    assert rows[("ISF", "written")]["Value"] == written
    with gzip.open(out / written) as f:
        isf = json.load(f)
    assert isf["symbols"]["init_task"]["address"] == d2j_isf["symbols"]["init_task"]["address"]
    assert all(r["Value"] == "complete" for (s, _f), r in rows.items() if s.startswith("linux."))
    readme = (REPO / "README.md").read_text()  # its example rows are these (but the time and the paths)
    for (section, field), r in rows.items():
        if field not in ("built by", "already on the symbol path"):
            address = "N/A" if r["Address"] is None else f"{r['Address']:#x}"
            assert "\t".join((section, field, r["Value"], address)) in readme, (section, field)
