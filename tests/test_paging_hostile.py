"""The safepgt engine and plugin on hostile page tables (issue 4 item 5).

Every input is a synthetic machine of the generator (samples/synthkernel.py) whose page
tables are known, with a few entries overwritten: loops at every level (in the direct map and
in the kernel text mapping), tables and leaves beyond memory, reserved bits, a cr3 naming
garbage, a direct map that cannot be found, tables shared by hundreds of entries.  The truth
each test compares against is the edit itself: the entry's physical address, the frame it
names, and the kind of problem it is.  The contract:

* the engine and `vol ... linux.swsusp_safepgt` finish in bounded time (no traceback; an
  input with no direct map is one clean error naming the cause);
* the problem is reported *per entry* (kind, entry address, frame), and nothing else is;
* the rest of the direct map still translates, and the rebuilt tables still verify.

A hypothesis test then mutates entries at random and checks the walk contract.
"""

import dataclasses
import json
import struct
import time
from typing import Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samples import swsusp_gen, synthkernel
from volatility3.plugins.swsusp.analysis import kernel_tables, safepgt
from volatility3.plugins.swsusp.analysis.errors import NoDirectMap, RecordCr3Unusable
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.paging import directmap, walk
from volatility3.plugins.swsusp.paging.entries import ADDR_MASK, reserved_bits

PAGE = 4096
GIB, MIB2 = 1 << 30, 1 << 21
TABLE, LARGE_2M = 0x63, 0x1E3  # _KERNPG_TABLE; P RW A D PS G
BEYOND = 0x7FFFFFF000  # 512 GiB: beyond the synthetic machines' memory (512 MiB)
TIME_LIMIT = 2.0  # seconds for one engine run on a hostile image (a pristine one takes 0.05)

Edits = List[Tuple[int, int]]  # (entry physical address, new 64-bit value)


# ---- the synthetic machine and its tables, read independently of the engine ---------------
def q(pages: Dict[int, bytes], pa: int) -> int:
    page = pages.get(pa >> 12)
    return struct.unpack_from("<Q", page, pa & 0xFFF)[0] if page is not None else 0


@dataclasses.dataclass(frozen=True)
class Tables:
    """Where the generator put the tables walked for the direct map and the kernel text."""

    m: synthkernel.Machine
    root: int
    pgd_index: int  # top-level slot of the direct map
    pud: int  # PUD table of the direct map's first GiB
    pud_index: int
    pmd: int  # PMD table of that GiB
    leaf_index: int  # a PMD entry holding a 2 MiB direct-map leaf
    text_pud: int  # level3_kernel_pgt (4-level)
    text_pmd: int  # level2_kernel_pgt

    def free_top_slot(self, nth: int = 0) -> int:
        """The nth kernel-half top-level slot the machine leaves empty."""
        return [i for i in range(256, 511) if not q(self.m.pages, self.root + 8 * i)][nth]

    @property
    def leaf_pa(self) -> int:
        """Physical address the direct map's PMD entry `leaf_index` maps (base is 1 GiB aligned)."""
        return self.leaf_index * MIB2

    def dm_va(self, pa: int) -> int:
        return self.m.page_offset + pa


def tables_of(m: synthkernel.Machine) -> Tables:
    assert m.levels == 4
    frame = lambda v: v & ADDR_MASK  # noqa: E731
    po = m.page_offset
    pgd_index, pud_index = (po >> 39) & 511, (po >> 30) & 511
    pud = frame(q(m.pages, m.cr3 + 8 * pgd_index))
    pmd = frame(q(m.pages, pud + 8 * pud_index))
    leaf_index = next(i for i in range(8, 512) if q(m.pages, pmd + 8 * i) & 0x80)  # a 2 MiB leaf
    text_pud = frame(q(m.pages, m.cr3 + 8 * 511))
    text_pmd = frame(q(m.pages, text_pud + 8 * 510))
    return Tables(m, m.cr3, pgd_index, pud, pud_index, pmd, leaf_index, text_pud, text_pmd)


@pytest.fixture(scope="module")
def t() -> Tables:
    return tables_of(swsusp_gen.get_machine(**swsusp_gen.split_options(swsusp_gen.VARIANTS["quickstart-lzo"])[0]))


def edited(m: synthkernel.Machine, edits: Edits, extra: Optional[Dict[int, bytes]] = None) -> synthkernel.Machine:
    pages = dict(m.pages)
    pages.update(extra or {})
    for pa, value in edits:
        page = bytearray(pages.get(pa >> 12, bytes(PAGE)))
        struct.pack_into("<Q", page, pa & 0xFFF, value)
        pages[pa >> 12] = bytes(page)
    return dataclasses.replace(m, pages=pages)


def write(m: synthkernel.Machine, directory, name: str) -> str:
    path = str(directory / f"{name}.img")
    swsusp_gen.write_image(m, path, era="6.1", codec="none")
    return path


def write_raw(m: synthkernel.Machine, path) -> str:
    """A RAM dump of the machine: page PFN at PFN*4096, holes sparse, up to max_pfn."""
    with open(path, "wb") as f:
        for pfn, page in sorted(m.pages.items()):
            f.seek(pfn * PAGE)
            f.write(page)
        f.truncate(m.max_pfn * PAGE)
    return str(path)


# ---- the hostile cases: the edit and the problem it must produce --------------------------
@dataclasses.dataclass(frozen=True)
class Case:
    edits: Edits
    expected: Tuple[Tuple[str, int, int], ...]  # (kind, entry pa, frame named) - all and only these
    extra: Optional[Dict[int, bytes]] = None


def cases(t: Tables) -> Dict[str, Case]:
    root, pud, pmd, j = t.root, t.pud, t.pmd, t.leaf_index
    free, nxt = t.free_top_slot(), t.pud_index + 1  # nxt: the GiB after the direct map (unused)
    assert nxt < 512 and not q(t.m.pages, pud + 8 * nxt)
    leaf_pa = t.leaf_pa
    unused_text = next(i for i in range(511, 0, -1) if not q(t.m.pages, t.text_pmd + 8 * i))
    rsvd_2m = leaf_pa | 0x2000 | LARGE_2M
    return {
        # loops: to the table itself and to each ancestor, at every level
        "pgd-loop-self": Case([(root + 8 * free, root | TABLE)], (("loop", root + 8 * free, root),)),
        "pud-loop-self": Case([(pud + 8 * nxt, pud | TABLE)], (("loop", pud + 8 * nxt, pud),)),
        "pud-loop-root": Case([(pud + 8 * nxt, root | TABLE)], (("loop", pud + 8 * nxt, root),)),
        "pmd-loop-self": Case([(pmd + 8 * j, pmd | TABLE)], (("loop", pmd + 8 * j, pmd),)),
        "pmd-loop-pud": Case([(pmd + 8 * j, pud | TABLE)], (("loop", pmd + 8 * j, pud),)),
        "pmd-loop-root": Case([(pmd + 8 * j, root | TABLE)], (("loop", pmd + 8 * j, root),)),
        "text-pud-loop-self": Case([(t.text_pud + 8 * 509, t.text_pud | TABLE)],
                                   (("loop", t.text_pud + 8 * 509, t.text_pud),)),
        "text-pud-loop-root": Case([(t.text_pud + 8 * 509, root | TABLE)], (("loop", t.text_pud + 8 * 509, root),)),
        "text-pmd-loop-self": Case([(t.text_pmd + 8 * unused_text, t.text_pmd | TABLE)],
                                   (("loop", t.text_pmd + 8 * unused_text, t.text_pmd),)),
        # beyond memory: a table there cannot be read; a leaf there is not the direct map
        "pmd-table-beyond": Case([(pmd + 8 * j, BEYOND | TABLE)], (("unreadable", pmd + 8 * j, BEYOND),)),
        "pud-table-bit51": Case([(pud + 8 * nxt, 1 << 51 | pmd | TABLE)],
                                (("unreadable", pud + 8 * nxt, 1 << 51 | pmd),)),
        "pmd-leaf-beyond": Case([(pmd + 8 * j, 0x4000000000 | LARGE_2M)], (("foreign", pmd + 8 * j, 0x4000000000),)),
        "pmd-leaf-bit50": Case([(pmd + 8 * j, 1 << 50 | leaf_pa | LARGE_2M)],
                               (("foreign", pmd + 8 * j, 1 << 50 | leaf_pa),)),
        # reserved bits: PS in a PML4 entry, bit 13 of a 2 MiB / 1 GiB leaf
        "pgd-ps": Case([(root + 8 * free, pud | LARGE_2M)], (("reserved", root + 8 * free, pud),)),
        "pmd-leaf-bit13": Case([(pmd + 8 * j, rsvd_2m)], (("reserved", pmd + 8 * j, leaf_pa),)),
        "pud-leaf-bit13": Case([(pud + 8 * nxt, GIB | 0x2000 | LARGE_2M)], (("reserved", pud + 8 * nxt, GIB),)),
        # a random page and a page of all ones as a PUD table outside the direct map
        "pud-table-all-ones": Case([(root + 8 * free, 0x9100000 | TABLE)], (),
                                   {0x9100: b"\xff" * PAGE}),
    }


def reported(kt: kernel_tables.KernelTables) -> set:
    """(kind, entry pa, frame) of every problem the engine reports, slots and kernel half."""
    out = {(s.problem, s.entry_pa, s.target) for s in kt.slots if s.problem}
    shown = {s.entry_pa for s in kt.slots if s.problem}
    return out | {(p.kind, p.entry_pa, p.table_pa) for p in kt.problems if p.entry_pa not in shown}


def run_engine(path: str, cr3: Optional[int] = None):
    image = SwsuspImage.open(path)
    start = time.perf_counter()
    if cr3 is None:
        kt = kernel_tables.kernel_from_image(image)
    else:
        kt = kernel_tables.kernel_from_dump(image.read, (image.max_pfn + 1) * PAGE, "image", cr3)
    result = safepgt.analyse(kt, image, None, rebuild=True)
    return kt, result, time.perf_counter() - start


def still_translates(t: Tables, kt: kernel_tables.KernelTables, skip: Tuple[int, int] = (0, 0)) -> None:
    """The direct map outside the edited 2 MiB still maps every sampled page to itself."""
    assert kt.direct_map.base == t.m.page_offset
    for pfn in sorted(t.m.pages)[::7]:
        pa = pfn * PAGE
        if pa < t.m.max_pfn * PAGE and not skip[0] <= pa < skip[1]:
            assert kt.paging.translate(t.dm_va(pa)) == pa, hex(pa)


CASE_NAMES = [
    "pgd-loop-self", "pud-loop-self", "pud-loop-root", "pmd-loop-self", "pmd-loop-pud", "pmd-loop-root",
    "text-pud-loop-self", "text-pud-loop-root", "text-pmd-loop-self", "pmd-table-beyond", "pud-table-bit51",
    "pmd-leaf-beyond", "pmd-leaf-bit50", "pgd-ps", "pmd-leaf-bit13", "pud-leaf-bit13", "pud-table-all-ones",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_engine_reports_each_edit_per_entry(t, tmp_path, name):
    case = cases(t)[name]
    path = write(edited(t.m, case.edits, case.extra), tmp_path, name)
    kt, result, seconds = run_engine(path)
    assert seconds < TIME_LIMIT
    got = reported(kt)
    if name == "pud-table-all-ones":  # 512 entries of ~0 at the PUD level: PS with bits 13..29 set
        assert got == {("reserved", 0x9100000 + 8 * i, 0xFFFFFC0000000) for i in range(512)}
    else:
        assert got == set(case.expected)
    still_translates(t, kt, (t.leaf_pa, t.leaf_pa + MIB2))
    assert result.verification is not None
    foreign = any(kind == "foreign" for kind, _e, _f in case.expected)
    assert result.verification.ok != foreign  # a foreign leaf is the one thing the rebuilt tables map otherwise
    pages = edited(t.m, case.edits, case.extra).pages
    for slot in kt.slots:  # rows stand for entries: their address holds their value
        if slot.value is not None:
            assert q(pages, slot.entry_pa) == slot.value


def test_walk_and_translate_stop_where_the_mmu_faults(t, tmp_path):
    """--explain's walk: a loop is followed and marked (the MMU would follow it too), a
    reserved entry ends the walk, and translate agrees."""
    c = cases(t)
    free = t.free_top_slot()
    m = edited(t.m, c["pgd-loop-self"].edits + c["pmd-leaf-bit13"].edits)
    paging = walk.Paging(m.read, m.cr3)
    loop_va = paging.canonical(free << 39)
    steps = paging.walk(loop_va)
    assert steps[0].revisit and steps[0].entry_pa == t.root + 8 * free and len(steps) <= 4
    edited_pa = t.leaf_pa
    steps = paging.walk(t.dm_va(edited_pa))
    assert steps[-1].status == walk.RESERVED and steps[-1].entry_pa == t.pmd + 8 * t.leaf_index
    assert steps[-1].entry.reserved == 0x2000 and "reserved bits 0x2000" in str(steps[-1])
    assert paging.translate(t.dm_va(edited_pa)) is None
    assert paging.translate(t.dm_va(edited_pa + MIB2)) == edited_pa + MIB2


def _pgd_of_direct_map_edit(t: Tables, value: int) -> Edits:
    return [(t.root + 8 * t.pgd_index, value)]


@pytest.mark.parametrize("what,value,words", [
    ("loop", lambda t: t.root | TABLE, "points back to table"),
    ("reserved", lambda t: t.pud | LARGE_2M, "has reserved bits 0x80 set"),
    ("unreadable", lambda t: BEYOND | TABLE, f"table {BEYOND:#x}"),
])
def test_no_direct_map_is_one_error_naming_the_entry(t, tmp_path, what, value, words):
    """The direct map's own PML4 entry broken: no direct map; the error says which entry."""
    path = write(edited(t.m, _pgd_of_direct_map_edit(t, value(t))), tmp_path, what)
    with pytest.raises(NoDirectMap) as err:
        run_engine(path)
    message = str(err.value)
    assert words in message and f"entry @ {t.root + 8 * t.pgd_index:#x}" in message


GARBAGE_CR3 = {
    "random page": lambda t: (0x9200000, "reserved bits"),
    "all ones": lambda t: (0x9100000, "reserved bits 0x80"),
    "not in the image": lambda t: (0x9300000, "top-level table at 0x9300000 cannot be read"),
    "beyond memory": lambda t: (0x7FFFFF000000, "top-level table at 0x7fffff000000 cannot be read"),
}


@pytest.fixture(scope="module")
def garbage_image(t, tmp_path_factory):
    """The machine plus a page of random bytes (with PS set in every entry that is present,
    so no entry names a table by chance) and a page of all ones."""
    import random

    rng = random.Random(4)
    noise = [rng.getrandbits(64) | 0x80 for _ in range(512)]
    extra = {0x9200: struct.pack("<512Q", *noise), 0x9100: b"\xff" * PAGE}
    return write(edited(t.m, [], extra), tmp_path_factory.mktemp("garbage"), "garbage")


@pytest.mark.parametrize("name", list(GARBAGE_CR3))
def test_cr3_naming_garbage_is_one_clean_error(t, garbage_image, name):
    cr3, words = GARBAGE_CR3[name](t)
    start = time.perf_counter()
    with pytest.raises(NoDirectMap) as err:
        run_engine(garbage_image, cr3)
    assert time.perf_counter() - start < TIME_LIMIT
    assert words in str(err.value) and f"cr3 {cr3:#x}" in str(err.value)


@pytest.mark.parametrize("cr3,words", [
    (0x9100000, "PGD PML4[511] @ 0x9100ff8 = 0xffffffffffffffff: reserved bits 0x80 set (the MMU faults)"),
    (0x9300000, "table page 0x9300000 unreadable"),
])
def test_restore_record_cr3_naming_garbage_is_one_clean_error(t, tmp_path, cr3, words):
    """The image's own record names garbage: the error says where the jump_address walk ends."""
    m = dataclasses.replace(edited(t.m, [], {0x9100: b"\xff" * PAGE}), cr3_record=cr3)
    with pytest.raises(RecordCr3Unusable) as err:
        run_engine(write(m, tmp_path, "record-cr3"))
    assert f"restore record cr3 {cr3:#x} does not translate jump_address" in str(err.value)
    assert words in str(err.value)


@pytest.mark.parametrize("cr3", [lambda t: t.root | 0xFFF, lambda t: t.root | 1 << 63])
def test_cr3_low_bits_and_bit_63_are_dropped(t, garbage_image, cr3):
    kt, result, _s = run_engine(garbage_image, cr3(t))
    assert kt.paging.root == t.root and kt.direct_map.base == t.m.page_offset and result.verification.ok


def shared_far_edits(t: Tables) -> Tuple[Edits, int, int]:
    """A PUD table whose 511 entries all name the direct map's PMD table, and whose last entry
    leads to one 2 MiB leaf placed at va = base + pa: the direct map now "ends" 10+ TiB
    away.  Before the fix the slot rows listed the shared PMD table 511 times (262k rows, 18 s)."""
    y, z, slot = 0x9000000, 0x9001000, t.free_top_slot() + 24
    edits = [(t.root + 8 * slot, y | TABLE)] + [(y + 8 * i, t.pmd | TABLE) for i in range(511)]
    edits.append((y + 8 * 511, z | TABLE))
    va = walk.Paging(t.m.read, t.root).canonical(slot << 39 | 511 << 30 | 511 << 21)
    pa = va - t.m.page_offset
    edits.append((z + 8 * 511, pa | LARGE_2M))
    return edits, y, pa


def test_tables_shared_by_many_entries_cost_their_pages_not_their_fan_out(t, tmp_path):
    edits, y, far_pa = shared_far_edits(t)
    kt, result, seconds = run_engine(write(edited(t.m, edits), tmp_path, "shared"))
    assert seconds < TIME_LIMIT
    # the rebuilt tables map the real direct map and the far leaf as the image's tables do
    # (the shared PMD table is checked once, under its first entry)
    assert result.verification.ok and result.verification.pages == (t.m.max_pfn * PAGE + MIB2) // PAGE
    assert kt.direct_map.end == t.m.page_offset + far_pa + MIB2  # the far leaf counts: it is va = base + pa
    shared = [s for s in kt.slots if s.problem == directmap.SHARED]
    assert sorted(s.entry_pa for s in shared) == [y + 8 * i for i in range(511)]
    assert all(s.target == t.pmd for s in shared)
    assert len(kt.slots) < 4000  # one record per PUD entry, the PMD table listed once
    far = [s for s in kt.slots if s.pa_start == far_pa]
    assert [(s.kind, s.problem) for s in far] == [("2M", None)]


def test_five_level_loop_at_the_p4d_level(tmp_path):
    m = swsusp_gen.get_machine(**swsusp_gen.split_options(swsusp_gen.VARIANTS["la57"])[0])
    p4d = q(m.pages, m.cr3 + 8 * ((m.page_offset >> 48) & 511)) & ADDR_MASK
    free = next(i for i in range(511, 0, -1) if not q(m.pages, p4d + 8 * i))
    kt, result, seconds = run_engine(write(edited(m, [(p4d + 8 * free, m.cr3 | TABLE)]), tmp_path, "la57-loop"))
    assert seconds < TIME_LIMIT and result.verification.ok and kt.direct_map.base == m.page_offset
    assert [(p.kind, p.level.linux, p.entry_pa, p.table_pa) for p in kt.problems] == [
        ("loop", "P4D", p4d + 8 * free, m.cr3)]


# ---- the plugin through the real command line ---------------------------------------------
COMBO = ("pgd-loop-self", "text-pud-loop-self", "pmd-loop-pud", "pud-table-bit51", "pgd-ps")


@pytest.fixture(scope="module")
def combo(t, tmp_path_factory):
    """One image with several independent edits (one vol run checks them all), its raw RAM
    dump (a resume-time dump whose memory end is known) and the expected problems."""
    c = cases(t)
    edits = [e for name in COMBO[:-1] for e in c[name].edits]
    edits.append((t.root + 8 * t.free_top_slot(1), t.pud | LARGE_2M))  # pgd-ps, in another free slot
    second = next(i for i in range(t.leaf_index + 1, 512) if q(t.m.pages, t.pmd + 8 * i) & 0x80)
    m = edited(t.m, edits)
    directory = tmp_path_factory.mktemp("combo")
    image = write(m, directory, "combo")
    # the dump: the same kernel, with a second 2 MiB leaf moved beyond the dump's end
    dump_machine = edited(m, [(t.pmd + 8 * second, BEYOND & ~(MIB2 - 1) | LARGE_2M)])
    dump = write_raw(dump_machine, directory / "combo-resume.raw")
    return m, image, dump, second


def run_json(vol, *args):
    result = vol("-r", "json", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def test_plugin_rows_name_each_broken_entry(t, combo, vol, tmp_path):
    m, image, _dump, _second = combo
    free, free2 = t.free_top_slot(), t.free_top_slot(1)
    start = time.perf_counter()
    rows = run_json(vol, "-o", str(tmp_path), "-f", image, "linux.swsusp_safepgt", "--rebuild")
    assert time.perf_counter() - start < 30
    problems = {r["Entry address"]: r for r in rows if r["Level"] != "summary" and r["Problem"]}
    pmd_entry = t.pmd + 8 * t.leaf_index
    want = {
        t.root + 8 * free: ("PGD", "loop", f"points back to table {t.root:#x}"),
        t.root + 8 * free2: ("PGD", "reserved", "reserved bits 0x80 set"),
        t.text_pud + 8 * 509: ("PUD", "loop", f"points back to table {t.text_pud:#x}"),
        t.pud + 8 * (t.pud_index + 1): ("PUD", "unreadable", f"table {1 << 51 | t.pmd:#x}"),
        pmd_entry: ("PMD", f"loop to the PUD table at {t.pud:#x}", f"points back to the PUD table at {t.pud:#x}"),
    }
    assert set(problems) == set(want)
    for entry_pa, (level, kind, words) in want.items():
        row = problems[entry_pa]
        assert (row["Level"], row["Kind"]) == (level, kind) and words in row["Problem"], row
        assert row["Entry"] == q(m.pages, entry_pa)
    summary = {r["Kind"]: r["Finding"] for r in rows if r["Level"] == "summary"}
    assert summary["page-table problems"].startswith("3 loop, 1 reserved, 1 unreadable")
    assert summary["image direct map"].startswith(f"direct map {t.m.page_offset:#x}-")
    assert summary["rebuilt tables verified"].endswith("direct-map pages translate identically")
    assert (tmp_path / "safepgt-tables.json").exists()
    # the rest of the direct map: every other PMD slot of the first GiB still a 2M leaf or table
    slots = [r for r in rows if r["Level"] == "PMD" and r["Entry address"] != pmd_entry]
    assert len(slots) == 255 and not any(r["Problem"] for r in slots)


def test_plugin_explain_on_a_loop_and_a_reserved_entry(t, combo, vol):
    _m, image, _dump, _second = combo
    rows = run_json(vol, "-f", image, "linux.swsusp_safepgt", "--explain", str(t.dm_va(t.leaf_pa)))
    results = [r["Result"] for r in rows]
    assert len(rows) == 4 and results[2] == f"next table at {t.pud:#x} (a table already on this walk: a loop)"
    free2 = t.free_top_slot(1)
    va = 0xFFFF << 48 | free2 << 39  # kernel half: sign-extended
    rows = run_json(vol, "-f", image, "linux.swsusp_safepgt", "--explain", str(va))
    assert [(r["Entry address"], r["Result"]) for r in rows] == [
        (t.root + 8 * free2, "reserved bits 0x80 set: the MMU faults here")]


def test_plugin_with_a_hostile_resume_time_dump(t, combo, vol, tmp_path):
    """Both kernels hostile: the image's problems and the dump's (a leaf beyond the dump's
    end, which a RAM dump knows) are rows; the restore replay, rebuild and --copied still run."""
    _m, image, dump, second = combo
    rows = run_json(vol, "-o", str(tmp_path), "-f", image, "linux.swsusp_safepgt", "--resume-dump", dump,
                    "--resume-cr3", str(t.root), "--rebuild", "--copied", "5")
    by_entry = {r["Entry address"]: r for r in rows if r["Level"] == "PMD"}
    beyond = by_entry[t.pmd + 8 * second]
    assert (beyond["Problem"].startswith("resume-time kernel: maps ")
            and "beyond the end of physical memory" in beyond["Problem"])
    assert beyond["Finding"] == "moved" and beyond["Resume kind"] == "2M"
    summary = {r["Kind"]: r["Finding"] for r in rows if r["Level"] == "summary"}
    assert summary["resume-time page-table problems"].startswith("1 beyond memory, 3 loop, 1 reserved, 1 unreadable")
    assert summary["rebuilt tables verified"].endswith("translate identically")
    assert any(r["Level"] == "hung resume" for r in rows)


def test_plugin_without_a_direct_map_prints_one_clean_error(t, tmp_path, vol):
    path = write(edited(t.m, _pgd_of_direct_map_edit(t, t.root | TABLE)), tmp_path, "no-dm")
    result = vol("-f", path, "linux.swsusp_safepgt")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"points back to table {t.root:#x} (entry @ {t.root + 8 * t.pgd_index:#x})" in result.stderr


def test_plugin_cr3_on_garbage_prints_one_clean_error(garbage_image, vol):
    result = vol("-f", garbage_image, "linux.swsusp_safepgt", "--cr3", "0x9100fff")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no direct map under cr3 0x9100fff" in result.stderr and "reserved bits 0x80" in result.stderr


# ---- hypothesis: random entries in a synthetic machine's tables ----------------------------
HYPO = settings(derandomize=True, database=None, deadline=None, max_examples=40, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FLAGS = (0x63, 0x1E3, 0xE3, 0x67, 0x1E3 | 0x2000, 0x8000000000000063, 0x1)


def values(table_pas: List[int]):
    """Entry values a hostile table might hold: pointers to tables of the machine (itself,
    ancestors, siblings), frames beyond memory or with high bits set, and random words."""
    pointer = st.tuples(st.sampled_from(table_pas), st.sampled_from(FLAGS)).map(lambda p: p[0] | p[1])
    far = st.tuples(st.sampled_from((BEYOND, 1 << 51, 1 << 47, 0xFFFFFFFFFF000)), st.sampled_from(FLAGS))
    return st.one_of(pointer, far.map(lambda p: p[0] | p[1]), st.integers(0, (1 << 64) - 1), st.just(0))


@pytest.fixture(scope="module")
def hypo_machine():
    m = swsusp_gen.get_machine(**swsusp_gen.split_options(swsusp_gen.VARIANTS["quickstart-lzo"])[0])
    return m, sorted(pfn << 12 for pfn in m.page_table_pfns)


def upper_entries(m: synthkernel.Machine) -> List[int]:
    """Addresses of the PGD, PUD and PMD entries in use in the kernel half (the tree a walk
    takes; PTEs can only be leaves)."""
    out, tables = [], [(m.cr3, 0)]
    while tables:
        table, depth = tables.pop()
        for i in range(256 if depth == 0 else 0, 512):
            value = q(m.pages, table + 8 * i)
            if value & 1:
                out.append(table + 8 * i)
                if depth < 2 and not value & 0x80:
                    tables.append((value & ADDR_MASK, depth + 1))
    return out


def mutations(m: synthkernel.Machine, table_pas: List[int]):
    """Up to 8 (entry pa, value) edits, half of them on PGD/PUD/PMD entries in use."""
    in_use = upper_entries(m)
    anywhere = st.tuples(st.sampled_from(table_pas), st.integers(0, 511)).map(lambda p: p[0] + 8 * p[1])
    entry = st.one_of(st.sampled_from(in_use), anywhere)
    return st.lists(st.tuples(entry, values(table_pas)), min_size=1, max_size=8)


def check_problem(p: walk.Problem, pages: Dict[int, bytes], paging: walk.Paging) -> None:
    """Each problem is what memory says at its entry."""
    assert p.kind in walk.PROBLEM_KINDS
    if p.entry_pa is None:  # the root itself
        assert p.kind == walk.UNREADABLE and p.table_pa == paging.root
        return
    value = q(pages, p.entry_pa)
    assert p.value == value and value & 1
    frame = value & ADDR_MASK
    if p.kind == walk.RESERVED:
        assert reserved_bits(value, p.level)
    elif p.kind == walk.LOOP:
        steps = paging.walk(p.va)  # the entry's own walk passes through the table it names
        at = next(i for i, s in enumerate(steps) if s.entry_pa == p.entry_pa)
        assert frame == p.table_pa and p.table_pa in {s.table_pa for s in steps[: at + 1]}
    else:
        assert frame == p.table_pa and (p.table_pa >> 12) not in pages


def check_slot_problem(s: directmap.SlotRecord, pages: Dict[int, bytes], paging: walk.Paging) -> None:
    """Each slot problem is what memory says at the slot's entry."""
    if s.problem == directmap.UNREADABLE_TABLE and s.value is None:  # the entry's own table
        assert (s.table_pa >> 12) not in pages
        return
    assert s.value == q(pages, s.entry_pa) and s.value & 1
    if s.problem == directmap.RESERVED:
        assert reserved_bits(s.value, s.level)
    elif s.problem == directmap.LOOP:
        steps = paging.walk(s.va)
        at = next(i for i, step in enumerate(steps) if step.entry_pa == s.entry_pa)
        assert s.target in {step.table_pa for step in steps[: at + 1]}
    elif s.problem == directmap.UNREADABLE_TABLE:
        assert (s.target >> 12) not in pages
    elif s.problem == directmap.FOREIGN:
        assert s.is_leaf and s.target != s.pa_start
    elif s.problem == directmap.SHARED:  # another present entry names the same table
        others = [(pfn << 12) + 8 * i for pfn, page in pages.items() for i, v in enumerate(struct.unpack("<512Q", page))
                  if v & 1 and not v & 0x80 and v & ADDR_MASK == s.target]
        assert set(others) - {s.entry_pa}


@HYPO
@given(data=st.data())
def test_walk_contract_on_mutated_tables(hypo_machine, data):
    m, table_pas = hypo_machine
    muts = data.draw(mutations(m, table_pas))
    hostile = edited(m, muts)
    pages = hostile.pages
    reads = []

    def read(pa, n):
        reads.append(pa)
        return synthkernel.read_pages(pages, pa, n)  # KeyError for a page not in memory

    start = time.perf_counter()
    paging = walk.Paging(read, m.cr3)
    problems: List[walk.Problem] = []
    tables = list(paging.tables(paging.kernel_half, problems=problems, shared=False))
    leaves = list(paging.raw_leaves(paging.kernel_half, problems=[], shared=False))
    # bounded work: each table page read once, each table enumerated once
    assert len(reads) == len(set(reads)) <= len(pages) + len(problems) + 1
    assert len(tables) <= len(pages) + len(problems) + 1 and len(leaves) <= 512 * len(tables)
    for p in problems:
        check_problem(p, pages, paging)
    for entry_pa, _value in muts:  # walks of the VAs the edits touched: at most one step per level
        for va in (m.page_offset, m.kernel_text_va, paging.canonical(((entry_pa >> 3) & 511) << 39)):
            steps = paging.walk(va)
            assert 1 <= len(steps) <= 4
            assert paging.translate(va) == steps[-1].pa
    dm = directmap.find_direct_map(paging)
    if dm is not None:
        kt = kernel_tables.with_slots(kernel_tables.KernelTables("image", read, paging, dm, "mutated"))
        result = safepgt.analyse(kt, None, None, rebuild=True)
        assert {s.problem for s in kt.slots} <= {None, *directmap.SLOT_PROBLEMS}
        for slot in kt.slots:
            if slot.problem:
                check_slot_problem(slot, pages, paging)
        assert len(kt.slots) <= 513 * (len(pages) + 1)
        assert result.rebuild_error is not None or result.verification is not None
    assert time.perf_counter() - start < TIME_LIMIT
