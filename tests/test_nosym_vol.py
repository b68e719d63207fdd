"""No symbols at hand, through the `vol` command line, on synthetic machines (no real sample
needed): the error paths (no BTF, damaged BTF, BTF but no kallsyms), the switch, plugins
that need no symbols, two ISFs for one banner, and 5-level RAM dumps.

Truth: the generator's task list and the place the test put the BTF blob (tests/btfcraft.py)."""

import dataclasses
import gzip
import json
import lzma
import os
import re
import subprocess
from pathlib import Path

import pytest

from samples import resume_scenarios, swsusp_gen, synthkernel
from tests import btfcraft, realsamples

REPO = realsamples.REPO
BTF_OFFSET = 0x1200000  # from _text: in .rodata, between __start_rodata and linux_banner's neighbours
KINDS = {"nobtf": "6.1.0-nosym-nobtf", "damaged": "6.1.0-nosym-damaged", "nokallsyms": "6.1.0-nosym-nokallsyms"}
WORDS = {"nobtf": "the memory holds no BTF type information", "damaged": "is damaged",
         "nokallsyms": "its symbol table (kallsyms) was not found"}


def banner_of(release: str) -> bytes:
    return synthkernel.BANNER.replace(synthkernel.RELEASE.encode(), release.encode())


def machine_without_isf(kind: str):
    """A synthetic machine whose kernel has no ISF anywhere, with the BTF `kind` says."""
    release = KINDS[kind]
    m = synthkernel.build_machine(release=release, banner=banner_of(release), ram_mib=256, seed=11)
    blob = {"nobtf": None, "damaged": btfcraft.damaged(btfcraft.kernel_btf()),
            "nokallsyms": btfcraft.kernel_btf()}[kind]
    if blob is None:
        return m, None
    pages = dict(m.pages)
    at = m.kernel_text_pa + BTF_OFFSET
    for i in range(0, len(blob), 4096):
        pages[(at + i) >> 12] = blob[i:i + 4096].ljust(4096, b"\0")
    return dataclasses.replace(m, pages=pages), (at, len(blob))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nosym-images")
    out = {}
    for kind in KINDS:
        m, btf_at = machine_without_isf(kind)
        path = folder / f"{kind}.img"
        swsusp_gen.write_image(m, str(path))
        out[kind] = (m, btf_at, path)
    return out


@pytest.fixture(scope="module")
def xdg(tmp_path_factory):
    """One Volatility cache for the module (its identifier cache warms once)."""
    return tmp_path_factory.mktemp("nosym-xdg")


def run_vol(xdg, *args, symbols=()):
    sym = ";".join([str(REPO / "symbols"), *map(str, symbols)])
    cmd = [realsamples.vol_command(), "-q", "-p", str(REPO / "plugins"), "-s", sym, *map(str, args)]
    env = dict(os.environ, XDG_CACHE_HOME=str(xdg))
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900, env=env)


def store_files(xdg):
    folder = Path(xdg) / "volatility3" / "symbols" / "linux" / "swsusp-btf"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def our_warnings(stderr: str):
    return [line for line in stderr.splitlines() if line.startswith("WARNING") and "swsusp" in line]


def tasks_of(csv_text: str):
    return sorted((int(r["PID"]), r["COMM"]) for r in realsamples.parse_csv_output(csv_text))


# -- the error paths -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_no_isf_can_be_built_one_message_nothing_written(images, xdg, kind):
    _m, _btf, path = images[kind]
    result = run_vol(xdg, "-r", "csv", "-f", path, "linux.pslist")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    (warning,) = our_warnings(result.stderr)
    assert f"No ISF for kernel {KINDS[kind]}: " in warning and WORDS[kind] in warning
    assert f"dwarf2json linux --elf /usr/lib/debug/boot/vmlinux-{KINDS[kind]}" in warning
    assert not [f for f in store_files(xdg) if KINDS[kind] in f or f.endswith(".partial")]
    if kind == "nobtf":  # the README shows this line as the example of a kernel without BTF
        assert warning in (REPO / "README.md").read_text()


@pytest.mark.parametrize("kind", ["nobtf", "nokallsyms"])
def test_swsusp_info_symbols_section(images, xdg, kind):
    _m, btf_at, path = images[kind]
    result = run_vol(xdg, "-r", "json", "-f", path, "linux.swsusp_info", "--no-crc")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [r for r in json.loads(result.stdout) if r["Section"] == "symbols"]
    by_field = {r["Field"]: r for r in rows}
    assert by_field["ISF used by plugins"]["Value"].startswith("none")
    if btf_at is None:
        assert by_field["BTF"]["Value"].startswith("not found")
        assert by_field["debug package"]["Value"].startswith(f"linux-image-{KINDS[kind]}-dbg")
        assert f"| xz -c > {KINDS[kind]}.json.xz" in by_field["next step"]["Value"]
    else:  # where the test put it, as big as written
        assert (by_field["BTF"]["Value"], by_field["BTF"]["Offset"]) == (f"present: {btf_at[1]} bytes", btf_at[0])
        assert (by_field["next step"]["Value"].startswith("none needed")
                and "linux.swsusp_symbols" in by_field["next step"]["Value"])


def test_swsusp_symbols_refuses_with_one_clear_message(images, xdg, tmp_path):
    _m, _btf, path = images["nobtf"]
    out = tmp_path / "out"
    out.mkdir()
    result = run_vol(xdg, "-o", out, "-f", path, "linux.swsusp_symbols")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]  # only the cause: no bug-report text
    assert line.startswith(f"No ISF for kernel {KINDS['nobtf']}: ") and WORDS["nobtf"] in line
    assert os.listdir(out) == []


def test_plugins_without_symbols_neither_build_nor_warn(images, xdg):
    _m, _btf, path = images["nokallsyms"]
    result = run_vol(xdg, "-f", path, "banners.Banners")
    assert result.returncode == 0 and our_warnings(result.stderr) == [], result.stderr
    assert "Linux version 6.1.0-nosym-nokallsyms" in result.stdout


def test_the_switch_turns_building_off(images, xdg):
    _m, _btf, path = images["nokallsyms"]
    result = run_vol(xdg, "-e", "swsusp.btf=false", "-f", path, "linux.pslist")
    (warning,) = our_warnings(result.stderr)
    assert f"No ISF on the symbol path matches kernel {KINDS['nokallsyms']}" in warning
    assert "drop -e swsusp.btf=false" in warning and WORDS["nokallsyms"] not in warning  # nothing was tried


# -- two ISFs for one banner -----------------------------------------------------------------

def _isf_copy(folder: Path, name: str, broken: bool) -> Path:
    isf = synthkernel.isf_dict()
    if broken:  # a copy that would list wrong PIDs: which ISF was used shows in the rows
        isf["user_types"]["task_struct"]["fields"]["pid"]["offset"] += 0x40
        isf["user_types"]["task_struct"]["fields"]["tgid"]["offset"] += 0x40
    path = folder / "linux" / name
    path.parent.mkdir(parents=True)
    data = json.dumps(isf).encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else lzma.compress(data))
    return path


def test_two_isfs_for_one_banner_a_deterministic_choice(tmp_path, xdg):
    """Three more ISFs match the synthetic banner: a BTF-named one that sorts first, a good copy
    and a broken one (besides the checkout's and an installed copy, wherever they sort).  The rule
    (DWARF before BTF, then by location) picks the same one whatever the order of -s, never the
    BTF-named one while a DWARF one exists; Volatility's own dictionary keeps whichever its cache
    lists last."""
    machine, _facts, path = swsusp_gen.make_variant("quickstart-lzo", str(tmp_path))
    first = _isf_copy(tmp_path / "0", "synthetic-btf-0123456789abcdef.json.gz", broken=True)
    _isf_copy(tmp_path / "a", "good.json.xz", broken=False)
    bad = _isf_copy(tmp_path / "b", "bad.json.xz", broken=True)
    truth = sorted((pid, comm[:15]) for pid, comm, _va in machine.tasks if pid)
    choices = set()
    for order in (["0", "a", "b"], ["b", "a", "0"]):
        result = run_vol(xdg, "-r", "csv", "-f", path, "linux.pslist", symbols=[tmp_path / d for d in order])
        assert result.returncode == 0, result.stderr[-2000:]
        (warning,) = our_warnings(result.stderr)
        found = re.search(r"(\d+) ISFs match kernel 6\.1\.0-swsusp-synthetic: using (\S+) \(.*\); not (.*)$", warning)
        assert found, warning
        chosen, others = found[2], found[3].split(", ")
        # copies of one file count once (the good copy may equal the checkout's or the installed one)
        assert int(found[1]) == 1 + len(others) and {first.as_uri(), bad.as_uri()} <= {chosen, *others}
        assert chosen == min(loc for loc in (chosen, *others) if "-btf-" not in loc)
        choices.add(chosen)
        assert tasks_of(result.stdout) == truth  # the chosen ISF reads the right PIDs
    assert len(choices) == 1


# -- RAM dumps: 5-level paging ---------------------------------------------------------------

@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("la57-dumps")
    out = {}
    for levels in (4, 5):
        m = swsusp_gen.get_machine(levels=levels)
        raw, elf = folder / f"machine{levels}.raw", folder / f"machine{levels}.elf"
        resume_scenarios.write_raw(str(raw), m.ram_pfns, m.pages)
        resume_scenarios.write_elf_core(str(elf), m.ram_pfns, m.pages, cr3=m.cr3, rip=m.jump_address, levels=levels)
        out[levels] = (m, raw, elf)
    return out


@pytest.mark.parametrize("levels,fmt", [(4, "raw"), (5, "raw"), (5, "elf")])
def test_stock_pslist_on_ram_dumps(dumps, xdg, levels, fmt):
    m, raw, elf = dumps[levels]
    result = run_vol(xdg, "-r", "csv", "-f", raw if fmt == "raw" else elf, "linux.pslist")
    assert result.returncode == 0, result.stderr[-2000:]
    assert tasks_of(result.stdout) == sorted((pid, comm[:15]) for pid, comm, _va in m.tasks if pid)


def test_a_table_outside_the_dump_does_not_hide_5_levels(dumps, xdg, tmp_path):
    """The 4-level walk of init_top_pgt on a 5-level kernel goes through its PML4 (entry 510
    for a kernel-text address); there the test puts a table 1 GiB beyond the end of the
    dump.  That walk finds the table unreadable and the 5-level walk decides: pslist lists
    the generator's tasks."""
    m, _raw, _elf = dumps[5]
    pml4 = int.from_bytes(m.pages[m.init_top_pgt_pa >> 12][511 * 8:512 * 8], "little") & 0x000FFFFFFFFFF000
    beyond = (m.ram_pfns[-1][1] << 12) + (1 << 30)
    page = bytearray(m.pages[pml4 >> 12])
    assert page[510 * 8:511 * 8] == bytes(8)  # not present in the generator's PML4: the walk stopped there
    page[510 * 8:511 * 8] = (beyond | 0x63).to_bytes(8, "little")  # present, writable, accessed, dirty
    raw = tmp_path / "outside.raw"
    resume_scenarios.write_raw(str(raw), m.ram_pfns, {**m.pages, pml4 >> 12: bytes(page)})
    result = run_vol(xdg, "-r", "csv", "-f", raw, "linux.pslist")
    assert result.returncode == 0, result.stderr[-2000:]
    assert tasks_of(result.stdout) == sorted((pid, comm[:15]) for pid, comm, _va in m.tasks if pid)


def test_stock_stackers_alone_list_nothing_on_a_5_level_dump(dumps, xdg):
    """What the stacker fixes: Volatility 2.28's own Linux stackers build a 4-level layer on
    the LA57 machine, and pslist finds no task through it."""
    _m, raw, _elf = dumps[5]
    stock = '["LinuxIntelStacker","LinuxIntelVMCOREINFOStacker"]'
    result = run_vol(xdg, "-e", f"automagic.LayerStacker.stackers={stock}", "-r", "csv", "-f", raw, "linux.pslist")
    assert tasks_of(result.stdout) == []


def test_no_isf_for_a_ram_dump_names_the_kernel(images, xdg, tmp_path):
    """A raw dump of the no-BTF machine: the same single message as for its image."""
    m, _btf, _path = images["nobtf"]
    raw = tmp_path / "nobtf.raw"
    resume_scenarios.write_raw(str(raw), m.ram_pfns, m.pages)
    result = run_vol(xdg, "-r", "csv", "-f", raw, "linux.pslist")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    (warning,) = our_warnings(result.stderr)
    assert f"No ISF for kernel {KINDS['nobtf']}: " in warning and WORDS["nobtf"] in warning
