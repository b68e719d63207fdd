"""The no-symbols room (plugins/swsusp/isf/), piece by piece, against independent truth: the
synthetic generator's memory and page tables, Volatility's own ELF layer, BTF blobs written
from the kernel's uapi header (tests/btfcraft.py), and pakunoda's result shapes."""

import dataclasses
import gzip
import json
import os
import sys
import types

import pytest

from samples import swsusp_gen, synthkernel
from tests import btfcraft
from volatility3.plugins.swsusp.isf import (
    btf,
    core,
    coverage,
    engine,
    hints,
    report,
    store,
)
from volatility3.plugins.swsusp.paging import walk

DEBIAN = (b"Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) "
          b"12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)\n\0")
UBUNTU = (b"Linux version 6.8.0-45-generic (buildd@lcy02-amd64-075) (x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) "
          b"13.2.0) #45-Ubuntu SMP\n\0")
FEDORA = b"Linux version 6.11.4-301.fc41.x86_64 (mockbuild@) (gcc (GCC) 14.2.1 20240912 (Red Hat 14.2.1-3)) #1 SMP\n\0"
CUSTOM = b"Linux version 7.2.0-rc1-custom (me@box) (gcc 14) #3 SMP\n\0"


def _read(machine):
    return lambda pa, n, pad=True: machine.read(pa, n)


# -- core: the kernel-image ELF core ------------------------------------------------------

@pytest.mark.parametrize("levels", [4, 5])
def test_kernel_image_pfns_are_the_image_and_its_tables(levels):
    """Truth: the generator's kernel image range (text mapping of _text.._end) and its page tables."""
    m = swsusp_gen.get_machine(levels=levels)
    paging = walk.kernel_paging(m.read, m.cr3_record, m.jump_address, m.jump_address_phys, m.max_pfn << 12)
    assert paging.n_levels == levels
    pfns = set(core.kernel_image_pfns(paging, lambda p: p in m.pages))
    first, end = m.kernel_text_pa >> 12, (m.kernel_text_pa + synthkernel.KERNEL_IMAGE_SIZE) >> 12
    image = {p for p in m.pages if first <= p < end}
    assert image and image <= pfns
    assert pfns - image <= set(m.page_table_pfns)  # the rest are page tables
    assert m.cr3 >> 12 in pfns or m.init_top_pgt_pa >> 12 in pfns


def test_elf_core_reads_back_through_volatility(tmp_path):
    """The core written from the generator's memory, read by Volatility's own ELF layer."""
    from volatility3.framework import contexts
    from volatility3.framework.layers import elf, physical

    m = swsusp_gen.get_machine()
    pfns = sorted(m.pages)[::3][:300]
    runs = core.pfn_runs(pfns)
    path = tmp_path / "core.elf"
    with open(path, "wb") as f:
        size = core.write_elf_core(f, runs, _read(m))
    assert path.stat().st_size == size
    ctx = contexts.Context()
    ctx.config["file.location"] = path.as_uri()
    ctx.add_layer(physical.FileLayer(ctx, "file", "file"))
    ctx.config["elf.base_layer"] = "file"
    ctx.add_layer(elf.Elf64Layer(ctx, "elf", "elf"))
    layer = ctx.layers["elf"]
    assert all(layer.read(p << 12, 4096) == m.pages[p] for p in pfns)
    assert not layer.is_valid((max(pfns) + 1) << 12)


def test_pfn_runs_join_the_smallest_gaps_first():
    assert core.pfn_runs([1, 2, 3, 7, 8, 20]) == [(1, 3), (7, 2), (20, 1)]
    assert core.pfn_runs([1, 2, 3, 7, 8, 20], max_runs=2) == [(1, 8), (20, 1)]  # gap 4 joined, gap 12 kept
    assert core.pfn_runs([]) == []


def test_scratch_file_leaves_nothing():
    with core.scratch_file() as (f, path):
        f.write(b"kernel")
        f.flush()
        with open(path, "rb") as again:
            assert again.read() == b"kernel"
        inode = os.fstat(f.fileno()).st_ino
    assert not os.path.exists(path) or os.stat(path).st_ino != inode  # a /proc/self/fd number may be reused


# -- store --------------------------------------------------------------------------------

def test_store_names_are_keyed_by_the_whole_banner(tmp_path):
    s = store.IsfStore(str(tmp_path))
    rebuilt = DEBIAN.replace(b"#1 SMP", b"#2 SMP")  # same release, another build
    assert s.path_for(DEBIAN) != s.path_for(rebuilt)
    assert os.path.basename(s.path_for(DEBIAN)).startswith("6.1.0-56-amd64-btf-")
    assert s.path_for(DEBIAN) == s.path_for(DEBIAN.rstrip(b"\0"))
    assert store.built_from_btf(s.path_for(DEBIAN)) and not store.built_from_btf("6.1.0-56-amd64_6.1.192-2.json.xz")
    assert os.path.dirname(s.path_for(CUSTOM)) == os.path.join(str(tmp_path), "linux", "swsusp-btf")


def test_store_writes_atomically(tmp_path):
    s = store.IsfStore(str(tmp_path))
    isf = {"metadata": {"format": "6.2.0"}, "symbols": {"a": {"address": 1}}}
    path = s.write(isf, DEBIAN)
    with gzip.open(path) as f:
        assert json.loads(f.read()) == isf and s.find(DEBIAN) == path
    with pytest.raises(TypeError):  # fails half-way through: nothing a later run would trust
        s.write({"metadata": {}, "symbols": {"b": object()}}, CUSTOM)
    assert os.listdir(s.folder) == [os.path.basename(path)]


# -- hints --------------------------------------------------------------------------------

@pytest.mark.parametrize("banner,release,package,vmlinux", [
    (DEBIAN, "6.1.0-56-amd64", "linux-image-6.1.0-56-amd64-dbg", "/usr/lib/debug/boot/vmlinux-6.1.0-56-amd64"),
    (UBUNTU, "6.8.0-45-generic", "linux-image-unsigned-6.8.0-45-generic-dbgsym",
     "/usr/lib/debug/boot/vmlinux-6.8.0-45-generic"),
    (FEDORA, "6.11.4-301.fc41.x86_64", "kernel-debuginfo-6.11.4-301.fc41.x86_64",
     "/usr/lib/debug/lib/modules/6.11.4-301.fc41.x86_64/vmlinux"),
    (CUSTOM, "7.2.0-rc1-custom", None, "VMLINUX"),
])
def test_next_step_names_the_debug_package_and_the_command(banner, release, package, vmlinux):
    assert hints.release_of(banner) == release
    pkg, _ = hints.debug_package(banner)
    assert (pkg is None) if package is None else pkg.startswith(package)
    step = hints.next_step(banner)
    assert f"dwarf2json linux --elf {vmlinux} | xz -c > {release}.json.xz" in step and "-s" in step
    assert "swsusp.btf=false" in hints.next_step(banner, btf_switched_off=True)


# -- btf header ---------------------------------------------------------------------------

def test_btf_header_of_a_written_blob():
    blob = btfcraft.kernel_btf()
    assert btf.parse_header(blob) == (24, len(blob))
    assert btf.parse_header(blob[:4] + b"\x1c\0\0\0" + blob[8:]) is None  # hdr_len 28: neither 24 nor 32
    small = btfcraft.kernel_btf(min_size=0)
    assert btf.parse_header(small) is None  # a BPF program's size, not a kernel's
    memory = bytes(0x1234) + blob + bytes(100)  # 0x1234: 4-byte aligned

    def read(a, n):
        return memory[a - 0x10000:a - 0x10000 + n]

    chunks = [(0x10000 + i, memory[i:i + 4096]) for i in range(0, len(memory), 4096)]
    assert btf.find_btf(chunks, read) == (0x10000 + 0x1234, len(blob))
    broken = bytearray(memory)
    broken[0x1234 + 24 + btf.HEADER.unpack_from(blob)[6]] = 1  # the string section must start with ""
    assert btf.find_btf([(0x10000, bytes(broken))], lambda a, n: bytes(broken)[a - 0x10000:a - 0x10000 + n]) is None


# -- coverage -------------------------------------------------------------------------------

def test_coverage_of_the_synthetic_isf():
    """The synthetic ISF defines task_struct and mm_struct in full and the rest as stubs."""
    isf = synthkernel.isf_dict()
    assert coverage.missing_essentials(isf) == []
    rows = {(p, w): s for p, w, s in coverage.plugin_coverage(isf)}
    assert rows[("linux.pslist", "struct task_struct")] == "complete"
    assert rows[("linux.pslist", "symbol init_task")] == "complete"
    assert rows[("linux.proc.Maps", "struct vm_area_struct")] == "complete"  # the swapped variants' VMAs
    assert rows[("linux.proc.Maps", "struct dentry")].startswith("missing")
    assert rows[("linux.psaux", "struct mm_struct")] == "incomplete: no arg_start, arg_end"
    assert rows[("linux.lsmod", "symbol modules")] == "symbol missing"
    del isf["user_types"]["task_struct"]["fields"]["comm"]
    assert "a complete task_struct" in coverage.missing_essentials(isf)


def test_coverage_sees_members_of_anonymous_structs():
    isf = {"user_types": {
        "mm_struct": {"kind": "struct", "size": 64, "fields": {
            "unnamed_field_0": {"offset": 0, "anonymous": True, "type": {"kind": "struct", "name": "anon"}}}},
        "anon": {"kind": "struct", "size": 64, "fields": {"arg_start": {"offset": 0, "type": {}},
                                                          "arg_end": {"offset": 8, "type": {}}}}}}
    assert coverage.missing_members(isf, "mm_struct",
                                    ["arg_start", "arg_end", "env_start|env_end"]) == ["env_start|env_end"]


# -- report: the choice among ISFs, the swsusp_info rows ------------------------------------

def test_choice_among_isfs_is_deterministic():
    locations = ["file:///b/x-btf-0123456789abcdef.json.gz", "file:///z/dwarf.json.xz", "file:///a/dwarf.json.xz",
                 "file:///0/y-btf-fedcba9876543210.json.gz"]
    for order in (locations, locations[::-1], sorted(locations)):
        chosen, others = report.choose(order, store.built_from_btf)
        assert chosen == "file:///a/dwarf.json.xz"
        assert others == ["file:///z/dwarf.json.xz", "file:///0/y-btf-fedcba9876543210.json.gz",
                          "file:///b/x-btf-0123456789abcdef.json.gz"]
    assert report.choose(["file:///0/y-btf-fedcba9876543210.json.gz"], store.built_from_btf)[0].endswith(".json.gz")
    assert report.choose([], store.built_from_btf) == (None, [])


def _rows(banners, isfs, btf_at, known=True, enabled=True):
    return [(f, v, a) for f, v, a in report.symbol_rows(banners, lambda b: isfs.get(b, []), store.built_from_btf,
                                                        btf_at, known, "/store", enabled)]


def test_symbol_rows():
    banners = [(0x1000, DEBIAN), (0x5000, UBUNTU)]
    with_isf = _rows(banners, {UBUNTU: ["file:///u.json.xz"]}, None)
    assert ("ISF matching the banner", "none", 0x1000) in with_isf
    assert ("ISF used by plugins", "file:///u.json.xz", None) in with_isf
    assert not any(f == "next step" for f, _v, _a in with_isf)
    btf_only = _rows(banners, {}, (0x9000, 4 << 20))
    assert ("BTF", f"present: {4 << 20} bytes", 0x9000) in btf_only
    assert any(f == "next step" and v.startswith("none needed") and "/store" in v for f, v, _a in btf_only)
    nothing = {f: v for f, v, _a in _rows(banners, {}, None)}
    assert nothing["debug package"].startswith("linux-image-6.1.0-56-amd64-dbg")
    assert "dwarf2json linux --elf /usr/lib/debug/boot/vmlinux-6.1.0-56-amd64" in nothing["next step"]
    switched_off = {f: v for f, v, _a in _rows(banners, {}, (0x9000, 1 << 20), enabled=False)}
    assert "swsusp.btf=false" in switched_off["next step"]
    assert _rows([], {}, None)[0][0] == "kernel banner"
    assert {f: v for f, v, _a in _rows(banners, {}, None, known=False)}["BTF"].startswith("unknown")


def test_built_rows_say_unknown_and_leave_out_what_was_not_found():
    """linux.swsusp_symbols' rows for an ISF built without a BTF place, kallsyms count, KASLR
    shift or paging found: those rows say "unknown" or are left out; the coverage rows are
    coverage.plugin_coverage's."""
    isf = synthkernel.isf_dict()
    built = engine.Built(isf=isf, banner=DEBIAN, banner_address=0x9F61900, btf_address=None, btf_size=None,
                         kallsyms_count=None, kaslr_shift=None, paging_levels=None, paging_root=None, seconds=1.5,
                         schema_checked=False, library="pakunoda 1.0.9")
    rows = list(report.built_rows(built, "dump.lime", "x-btf-0123456789abcdef.json.gz", ["file:///s/a.json.xz"]))
    by_field = {(section, field): (value, address) for section, field, value, address in rows}
    assert by_field[("kernel", "banner")] == (DEBIAN.rstrip(b"\n\0").decode(), 0x9F61900)
    assert by_field[("input", "read")] == ("dump.lime", None)
    assert by_field[("kallsyms", "symbols")] == ("unknown", None)
    assert by_field[("KASLR", "virtual shift")] == ("unknown", None)
    assert by_field[("ISF", "built by")] == ("pakunoda 1.0.9 in 1.5 s", None)
    assert by_field[("ISF", "already on the symbol path")] == ("file:///s/a.json.xz", None)
    assert not {section for section, *_rest in rows} & {"BTF", "paging"}
    assert [(s, f, v) for s, f, v, _a in rows if s.startswith("linux.")] == list(coverage.plugin_coverage(isf))
    assert all(isinstance(v, str) for _s, _f, v, _a in rows)


# -- engine: what pakunoda's results mean ---------------------------------------------------

DEBIAN_IN_MEMORY = DEBIAN.rstrip(b"\n\0")  # the library reports banners without the newline


def _result(scans=(), errors=(), timed_out=False, banner=DEBIAN_IN_MEMORY, isf=None):
    hits = [types.SimpleNamespace(scanner_name=name, offset=offset, metadata=meta) for name, offset, meta in scans]
    return types.SimpleNamespace(success=isf is not None, scan_results=hits, errors=list(errors), timed_out=timed_out,
                                 isf_json=isf, banner_bytes=banner, banner_phys=0x9F61900, kaslr_shift=0x1F200000,
                                 warnings=[])


@pytest.fixture
def library(monkeypatch):
    """A stand-in for pakunoda whose extract_isf returns the result given (after reporting
    the stages given), so build_isf's reading of its results is tested without a kernel."""

    def install(result, stages=()):
        fake = types.ModuleType("pakunoda")

        def extract_isf(path, arch, *, progress=None, **kwargs):
            for n, stage in enumerate(stages):
                progress(stage, float(n))
            return result

        fake.extract_isf = extract_isf
        monkeypatch.setitem(sys.modules, "pakunoda", fake)

    return install


BTF_HIT = ("btf", 0xA2C1B88, {"total_size": 4359789})
KALLSYMS_HIT = ("kallsyms", 0xA12DDD8, {"num_symbols": 88572})


@pytest.mark.parametrize("result,hint,reason,words", [
    (_result(timed_out=True), None, engine.TIMEOUT, "did not finish in 60 s"),
    (_result(), None, engine.NO_BTF, "no BTF type information"),
    (_result(), (0x3800000, 307262), engine.DAMAGED_BTF, "its BTF at physical 0x3800000 (307262 bytes"),
    (_result([BTF_HIT], ["All BTF candidates failed to parse and recovery failed"]), None, engine.DAMAGED_BTF,
     "its BTF at physical 0xa2c1b88 is damaged"),
    (_result([BTF_HIT], ["something else"]), None, engine.NO_KALLSYMS, "kallsyms"),
    (_result([BTF_HIT, KALLSYMS_HIT], ["boom"]), None, engine.FAILED, "pakunoda could not build it (boom)"),
])
def test_failures_are_classified_with_the_kernel_named(library, result, hint, reason, words):
    library(result)
    with pytest.raises(engine.NoSymbolsError) as caught:
        engine.build_isf("core.elf", banner=b"", timeout=60.0, btf_hint=hint)
    error = caught.value
    assert error.reason == reason and words in error.message
    assert error.message.startswith("No ISF for kernel 6.1.0-56-amd64: ")
    assert "linux-image-6.1.0-56-amd64-dbg" in error.message and "\n" not in error.message


def test_a_missing_library_is_one_message(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pakunoda", None)  # import pakunoda -> ImportError
    with pytest.raises(engine.NoSymbolsError) as caught:
        engine.build_isf(str(tmp_path / "core.elf"), banner=DEBIAN)
    assert caught.value.reason == engine.NO_LIBRARY and "pip install pakunoda" in caught.value.message


def _unusable(library, isf):
    """Why build_isf refuses the ISF the library built (None: it is accepted)."""
    library(_result([BTF_HIT, KALLSYMS_HIT], isf=isf))
    try:
        built = engine.build_isf("core.elf", banner=DEBIAN)
    except engine.NoSymbolsError as exc:
        assert exc.reason == engine.INCOMPLETE
        prefix = "the ISF built from its BTF is unusable: "
        assert exc.detail.startswith(prefix)
        return exc.detail[len(prefix):]
    assert built.isf is isf and built.kallsyms_count == 88572 and built.btf_address == 0xA2C1B88
    return None


def test_an_isf_without_kallsyms_or_btf_types_is_refused(library):
    isf = synthkernel.isf_dict()
    assert _unusable(library, isf).startswith("its types do not come from BTF")
    isf["metadata"]["linux"] = {"types": [{"kind": "dwarf", "name": "vmlinux_btf"}], "symbols": []}
    assert _unusable(library, isf) is None
    del isf["symbols"]["init_task"], isf["user_types"]["qstr"]
    assert _unusable(library, isf) == "it lacks symbol init_task, type qstr"


def test_build_progress_moves_at_every_stage(library):
    """The stages of a real run on the 6.1 image (vmcoreinfo twice), then stages pakunoda
    may add or repeat: the percentage rises at each one and stays below 100."""
    stages = ["viability", "discovery_wave", "btf_scan", "btf_parse", "vmcoreinfo", "kallsyms", "vmcoreinfo",
              "ksymtab", "banner_revalidate", "system_map", "system_map_residue", "layout_anomalies",
              "isf_generate", "isf_validate", "init_task_synthesis", "isf_validate", "isf_validate"]
    library(_result(), stages)
    seen = []
    with pytest.raises(engine.NoSymbolsError):
        engine.build_isf("core.elf", banner=DEBIAN, progress=lambda pct, text: seen.append((pct, text)))
    assert len(seen) == len(stages)
    percents = [pct for pct, _text in seen]
    assert all(a < b for a, b in zip(percents, percents[1:])) and 0 <= percents[0] and percents[-1] < 100
    assert all(text.endswith(f": {stage} ({n} s)") for (_pct, text), (n, stage) in zip(seen, enumerate(stages)))


def test_the_library_schema_is_volatilitys():
    """pakunoda validates against a copy of Volatility's ISF schema: the validation it did is
    the one Volatility would do (vol/nosym.py records it only when they are equal)."""
    from volatility3 import schemas

    with open(os.path.join(os.path.dirname(schemas.__file__), "schema-6.2.0.json")) as f:
        assert engine.library_schema() == json.load(f)


def test_btf_blob_round_trip_in_a_machine():
    """btfcraft's blob, placed in a synthetic kernel image, is found by btf.find_btf at the
    address the test put it (what swsusp_info reports)."""
    m = swsusp_gen.get_machine()
    blob = btfcraft.kernel_btf()
    at = m.kernel_text_pa + 0x1200000
    pages = dict(m.pages)
    for i in range(0, len(blob), 4096):
        pages[(at + i) >> 12] = blob[i:i + 4096].ljust(4096, b"\0")
    m2 = dataclasses.replace(m, pages=pages)
    chunks = [(p << 12, m2.pages[p]) for p in sorted(m2.pages)]
    assert btf.find_btf(chunks, m2.read) == (at, len(blob))
