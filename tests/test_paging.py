"""The x86-64 paging engine (plugins/swsusp/paging) against independent truth:

* the synthetic generator's machines, whose page tables were built from a known plan
  (direct-map base, mapped ranges, leaf counts by size, PTE tables placed far above their
  PMD page, kernel text and jump addresses);
* the real 6.1 images: the direct-map bases of the validation log (docs/format.md §14), the kernel's own
  `page_offset_base` variable read at the physical address System.map gives it, the firmware
  memory map printed on the serial console, and restore_registers' physical address;
* the ELF dump of the boot kernel during a resume: the CR3 of both CPUs recorded by QEMU in
  the dump's notes, and System.map's `init_top_pgt` / `page_offset_base`.
"""

import re
import struct
import time

import pytest

from samples import swsusp_gen
from tests import realsamples
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.paging import entries as E
from volatility3.plugins.swsusp.paging.directmap import FIXED_BASES, direct_map_slots, find_direct_map
from volatility3.plugins.swsusp.paging.errors import NonCanonicalAddress
from volatility3.plugins.swsusp.paging.scan import find_cr3
from volatility3.plugins.swsusp.paging.walk import (
    CR3_ADDR_MASK,
    PTI_USER_BIT,
    Paging,
    detect_levels,
    detect_sme_bit,
    kernel_paging,
    pti_kernel_root,
)
from volatility3.plugins.swsusp.vol import physical

GIB, MIB2 = 1 << 30, 1 << 21

# machine options of the generator's variants that differ in page-table shape
MACHINES = {
    name: swsusp_gen.split_options(swsusp_gen.VARIANTS[name])[0]
    for name in ("era-6.1-lzo", "nokaslr", "la57", "la57-nokaslr-zero", "pti", "sme", "gib-pages",
                 "era-2.6.16", "era-2.6.37-lzo", "era-4.9", "medium-lzo")
}


def machine(name):
    return swsusp_gen.get_machine(**MACHINES[name])


def machine_paging(m, cr3=None):
    sme = (1 << m.sme_bit) if m.sme_bit else 0
    return Paging(m.read, m.cr3_record if cr3 is None else cr3, m.levels, sme)


# ---- entries -------------------------------------------------------------------------------
def test_entry_decoding_by_level():
    """Bit meanings of docs/format.md §9.2: bit 7 is PS in PUD/PMD entries and PAT in PTEs; bit 12 is PAT
    in large leaves; frames are masked 51..12 / 51..21 / 51..30; G and pkey only in leaves."""
    L4 = E.levels_for(4)
    pgd, pud, pmd, pte = L4
    assert [lv.linux for lv in L4] == ["PGD", "PUD", "PMD", "PTE"]
    assert [lv.intel for lv in E.levels_for(5)] == ["PML5", "PML4", "PDPT", "PD", "PT"]
    assert [lv.linux for lv in E.levels_for(5)] == ["PGD", "P4D", "PUD", "PMD", "PTE"]

    big = E.decode(E.NX | 0x1000 | 0x40000000 | 0x1E3, pud)  # 1 GiB, PAT, G
    assert big.is_leaf and big.large and big.pat and big.global_ and big.nx
    assert big.frame == 0x40000000 and big.page_size == GIB and big.kind == "1G"
    assert big.flags_text() == "P RW A D NX G PS PAT"

    mid = E.decode(E.NX | 0x1000 | 0x12200000 | 0x1E3, pmd)  # 2 MiB, PAT
    assert mid.is_leaf and mid.frame == 0x12200000 and mid.pat and mid.page_size == MIB2

    small = E.decode(0x8000000012345163, pte)
    assert small.is_leaf and not small.large and not small.pat and small.frame == 0x12345000
    assert small.page_size == 4096 and small.flags_text() == "P RW A D NX G"
    assert E.decode(0x12345000 | 0x80 | 0x1, pte).pat  # bit 7 of a PTE is PAT, not PS

    table = E.decode(0x2A8E000 | 0x100 | 0x67, pud)  # table pointer: G ignored
    assert not table.is_leaf and table.page_size is None and table.kind == "table"
    assert table.frame == 0x2A8E000 and table.user and not table.global_ and not table.pat
    assert E.decode(0x2A8E000 | 0x80 | 0x63, pgd).large is False  # no PS at the top level

    keyed = E.decode((0b1010 << 59) | 0x5000 | 0x7, pte)
    assert keyed.pkey == 10 and keyed.user and "PK10" in keyed.flags_text()
    assert E.decode((0b1010 << 59) | 0x5000 | 0x63, pmd).pkey == 0

    c = 1 << 47
    enc = E.decode(c | 0x1234000 | 0x63, pud, sme_mask=c)
    assert enc.frame == 0x1234000 and enc.encrypted

    absent = E.decode(0x7FFF0000DEAD0000, pmd)  # software bits (swap entry): nothing decoded
    assert not absent.present and absent.frame == 0 and absent.kind == "not present"
    assert absent.flags_text() == "not present"


def test_canonical_addresses():
    p4 = Paging(lambda pa, n: bytes(n), 0x1000, 4)
    p5 = Paging(lambda pa, n: bytes(n), 0x1000, 5)
    assert p4.is_canonical(0x00007FFFFFFFFFFF) and p4.is_canonical(0xFFFF800000000000)
    assert not p4.is_canonical(0x0000800000000000) and not p4.is_canonical(0xFF11000000000000)
    assert p5.is_canonical(0x0000800000000000) and p5.is_canonical(0xFF11000000000000)
    assert not p5.is_canonical(0x0100000000000000)
    with pytest.raises(NonCanonicalAddress):
        p4.walk(0x0000800000000000)
    assert p4.translate(0x0000800000000000) is None
    assert p4.canonical(0x800000000000) == 0xFFFF800000000000
    assert p5.canonical(0x100000000000000) == 0xFF00000000000000


# ---- synthetic machines ----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MACHINES))
def test_direct_map_of_synthetic_machine(name):
    """Base, mapped ranges and leaf counts equal the generator's plan."""
    m = machine(name)
    paging = machine_paging(m)
    t0 = time.perf_counter()
    dm = find_direct_map(paging, m.pages)
    elapsed = time.perf_counter() - t0
    assert dm is not None and dm.base == m.page_offset, dm
    assert [list(r) for r in dm.ranges] == [list(r) for r in m.direct_map_ranges]
    assert dm.min_pa == 0 and dm.end == m.page_offset + m.direct_map_ranges[-1][1]
    assert {k: dm.leaf_counts.get(k, 0) for k in m.leaf_counts} == m.leaf_counts
    assert dm.mapped_bytes == sum(e - s for s, e in m.direct_map_ranges)
    fixed = any(base == m.page_offset and lv == m.levels for lv, base, _end, _era in FIXED_BASES)
    assert dm.how.startswith("fixed") == fixed, dm.how
    assert elapsed < 0.5


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_translations_of_synthetic_machine(name):
    m = machine(name)
    paging = machine_paging(m)
    assert paging.translate(m.jump_address) == m.jump_address_phys
    assert paging.translate(m.kernel_text_va) == m.kernel_text_pa
    for sym in ("linux_banner", "init_task", "page_offset_base", "init_top_pgt"):
        assert paging.translate(m.sym_va(sym)) == m.sym_pa(sym), sym
    for pfn in list(m.pages)[:: max(1, len(m.pages) // 50)]:
        assert paging.translate(m.page_offset + (pfn << 12) + 0x123) == (pfn << 12) + 0x123
    steps = paging.walk(m.jump_address)
    assert [s.level.linux for s in steps][-1] in ("PMD", "PTE") and steps[-1].status == "leaf"
    assert steps[-1].pa == m.jump_address_phys and len(steps) == m.levels - 1  # 2 MiB text page
    assert steps[0].table_pa == m.cr3 and steps[0].entry_pa == m.cr3 + 8 * 511
    # the kernel's own variable agrees (docs/format.md §10 step 5)
    assert struct.unpack("<Q", m.read(m.sym_pa("page_offset_base"), 8))[0] == m.page_offset


@pytest.mark.parametrize("name", ["era-6.1-lzo", "la57", "gib-pages", "sme"])
def test_direct_map_slot_rows(name):
    """One row per PUD and PMD slot; the PTE tables the generator placed far above their PMD
    page are reported at exactly those frames, from exactly those entries."""
    m = machine(name)
    paging = machine_paging(m)
    dm = find_direct_map(paging, m.pages)
    rows = list(direct_map_slots(paging, dm))
    puds = [r for r in rows if r.level.linux == "PUD"]
    pmds = [r for r in rows if r.level.linux == "PMD"]
    assert len(puds) == -(-(dm.end - dm.base) // GIB)
    assert sum(r.kind == "1G" for r in puds) == m.leaf_counts["1G"]
    assert sum(r.kind == "2M" for r in pmds) == m.leaf_counts["2M"]
    by_entry = {r.entry_pa: r for r in pmds}
    assert m.pmd_tables_far_above
    for entry_pa, pte_table in m.pmd_tables_far_above:
        row = by_entry[entry_pa]
        assert row.kind == f"PTE table at frame {pte_table:#x}" and row.target == pte_table
    for r in rows:
        assert r.pa_start == r.va - dm.base
        if r.is_leaf:  # the direct map maps va - base
            assert r.target == r.pa_start
    ptes = [r for r in pmds if r.kind.startswith("PTE table")]
    present_4k = sum(1 for r in ptes for v in paging.table(r.target) if v & 1)
    assert present_4k == m.leaf_counts["4K"]
    if name == "gib-pages":  # the hole between 3 and 4 GiB
        assert [r.va - dm.base for r in puds if r.kind == "not present"] == [3 * GIB]


def test_leaves_and_tables_cover_the_plan():
    """Every leaf of the direct map is found, with nothing read twice; every table reached is
    one of the generator's page-table pages."""
    m = machine("era-6.1-lzo")
    paging = machine_paging(m)
    leaves = list(paging.leaves(m.page_offset, m.page_offset + m.direct_map_ranges[-1][1]))
    sizes = {"4K": 0, "2M": 0, "1G": 0}
    for leaf in leaves:
        sizes[leaf.entry.kind] += 1
        assert leaf.va - leaf.pa == m.page_offset and leaf.path[0] == m.cr3
        assert leaf.entry_pa >> 12 == leaf.path[-1] >> 12
    assert sizes == m.leaf_counts
    assert [leaf.va for leaf in leaves] == sorted(leaf.va for leaf in leaves)
    assert paging.table_reads == paging.tables_cached  # no table page read twice

    tables = list(paging.tables())
    reached = {t.pa >> 12 for t in tables}
    assert reached <= set(m.page_table_pfns)
    assert tables[0].pa == m.cr3 and tables[0].va_start == 0 and tables[0].va_end == 1 << 64
    for pfn in set(m.page_table_pfns) - reached:  # only other processes' PGDs and init_top_pgt
        assert m.read((pfn << 12) + 256 * 8, 256 * 8) == m.read(m.cr3 + 256 * 8, 256 * 8)
    assert all(t.readable for t in tables) and not paging.last_problems
    # a sub-range visits only what lies under it
    text = list(paging.leaves(m.kernel_text_va, m.kernel_text_va + 4 * MIB2))
    assert [leaf.pa for leaf in text] == [m.kernel_text_pa + i * MIB2 for i in range(4)]


def test_leaves_skip_non_present_subtrees():
    """A reader that fails on any page outside the tables proves no data page is touched, and
    only tables under present entries are read."""
    m = machine("era-6.1-lzo")
    tables = {pfn for pfn in m.page_table_pfns}
    reads = []

    def read(pa, n):
        reads.append(pa)
        assert pa >> 12 in tables, f"read of non-table page {pa:#x}"
        return m.read(pa, n)

    paging = Paging(read, m.cr3, 4)
    count = sum(1 for _ in paging.leaves())
    assert count > 3000 and len(reads) == len(set(reads))


def test_five_level_machine():
    m = machine("la57")
    assert detect_levels(m.read, m.cr3, m.jump_address, m.jump_address_phys) == 5
    assert Paging(m.read, m.cr3, 5).translate(m.jump_address) == m.jump_address_phys
    steps = Paging(m.read, m.cr3, 5).walk(m.page_offset + 0x1000)
    assert [s.level.name for s in steps][:2] == ["PGD/PML5", "P4D/PML4"]
    other = machine("era-6.1-lzo")
    assert detect_levels(other.read, other.cr3, other.jump_address, other.jump_address_phys) == 4


def test_pti_kernel_half():
    """cr3 holding the user half (bit 12 set) of a PTI pair: the kernel half is 4 KiB below."""
    m = machine("pti")
    user = m.cr3 | PTI_USER_BIT
    assert Paging(m.read, user).translate(m.page_offset) is None  # the user half has no direct map
    assert Paging(m.read, user, pti=True).root == m.cr3
    assert pti_kernel_root(m.read, user) == m.cr3 and pti_kernel_root(m.read, m.cr3) == m.cr3
    paging = kernel_paging(m.read, user, m.jump_address, m.jump_address_phys)
    assert paging.root == m.cr3 and find_direct_map(paging, m.pages).base == m.page_offset
    # the user half maps the user pages the kernel half also maps (NX in the kernel's copy)
    user_leaves = list(Paging(m.read, user).leaves(0, 1 << 47))
    kernel_leaves = list(Paging(m.read, m.cr3).leaves(0, 1 << 47))
    assert [(x.va, x.pa) for x in user_leaves] == [(x.va, x.pa) for x in kernel_leaves] != []


def test_sme_bit():
    m = machine("sme")
    bit = 1 << m.sme_bit
    assert m.cr3_record & bit
    assert detect_sme_bit(m.read, m.cr3_record, m.max_pfn << 12) == bit
    assert detect_sme_bit(m.read, m.cr3_record) == bit
    plain = machine("era-6.1-lzo")
    assert detect_sme_bit(plain.read, plain.cr3_record, plain.max_pfn << 12) == 0
    paging = kernel_paging(m.read, m.cr3_record, m.jump_address, m.jump_address_phys, m.max_pfn << 12)
    assert paging.sme_mask == bit and paging.root == m.cr3
    leaf = next(paging.leaves(m.page_offset))
    assert leaf.entry.encrypted and leaf.pa == 0 and "C" in leaf.entry.flags_text().split()


def test_loops_and_unreadable_tables_are_reported():
    """A table pointing to itself or an ancestor is not followed; a missing table page is
    reported as unreadable, not as "not present", and the rest is still enumerated."""
    pages = {}

    def put(pa, index, value):
        pages.setdefault(pa, bytearray(4096))[8 * index : 8 * index + 8] = struct.pack("<Q", value)

    root, pud, pmd, pte = 0x10000, 0x11000, 0x12000, 0x13000
    put(root, 1, root | 0x63)  # PGD -> itself
    put(root, 2, pud | 0x63)
    put(pud, 0, root | 0x63)  # PUD -> the PGD (an ancestor)
    put(pud, 1, pmd | 0x63)
    put(pmd, 0, pte | 0x63)
    put(pmd, 1, 0x200000 | 0x1E3)  # 2 MiB leaf
    put(pte, 3, 0x5000 | 0x63)
    put(pmd, 2, 0x99000 | 0x63)  # PTE table page that does not exist

    def read(pa, n):
        return bytes(pages[pa & ~0xFFF][pa & 0xFFF : (pa & 0xFFF) + n])

    paging = Paging(read, root)
    leaves = list(paging.leaves())
    base = (2 << 39) | (1 << 30)
    assert [(x.va, x.pa, x.size) for x in leaves] == [(base + 0x3000, 0x5000, 4096), (base + MIB2, 0x200000, MIB2)]
    problems = {(p.kind, p.table_pa) for p in paging.last_problems}
    assert problems == {("loop", root), ("unreadable", 0x99000)}
    assert all(str(p) for p in paging.last_problems)
    steps = paging.walk(base + 2 * MIB2)
    assert steps[-1].status == "unreadable" and steps[-1].table_pa == 0x99000 and "unreadable" in str(steps[-1])
    assert paging.translate(base + 2 * MIB2) is None
    looped = paging.walk(1 << 39)  # the MMU would follow the self-pointer: so does walk, flagged
    assert looped[0].revisit and "loop" in str(looped[0])
    tables = list(paging.tables())
    assert [t.pa for t in tables] == [root, pud, pmd, pte, 0x99000] and not tables[-1].readable


def test_generator_images_through_the_decoded_image(tmp_path):
    """The same answers through the swsusp image reader, from the image's own restore record."""
    for name in ("la57", "sme", "era-2.6.37-lzo"):
        m, _facts, path = swsusp_gen.make_variant(name, str(tmp_path))
        image = SwsuspImage.open(path)
        rec = image.info.record
        paging = kernel_paging(image.read, rec.cr3, rec.jump_address, rec.jump_address_phys, (image.max_pfn + 1) << 12)
        assert paging is not None and paging.n_levels == m.levels and paging.root == m.cr3
        dm = find_direct_map(paging, image.present_pfns())
        assert dm.base == m.page_offset, name


def test_find_cr3_in_synthetic_memory():
    """Scanning memory finds the hibernating process's PGD and the kernel's init_top_pgt (in
    the kernel image, listed first), for 4 and 5 levels."""
    for name in ("era-6.1-lzo", "la57"):
        m = machine(name)
        found = find_cr3(m.read, m.max_pfn << 12, levels=m.levels)
        pas = [c.pa for c in found]
        assert m.cr3 in pas and m.init_top_pgt_pa == pas[0] and found[0].in_kernel_image
        assert found[0].text_pa == m.kernel_text_pa and found[0].text_va == m.kernel_text_va
        assert {c.direct_map.base for c in found} == {m.page_offset}


# ---- real 6.1 images -----------------------------------------------------------------------
SPEC_BASES = {"lzo": 0xFFFF8E1100000000, "nocompress": 0xFFFF8B9680000000}  # docs/format.md §14


@pytest.fixture(scope="module")
def system_map(real):
    symbols = {}
    with open(real.path("System.map-6.1.0-56-amd64")) as f:
        for line in f:
            addr, _kind, name = line.split()
            if name in ("_text", "init_top_pgt", "page_offset_base", "restore_registers"):
                symbols[name] = int(addr, 16)
    return symbols


def _usable_ram_end(log_text):
    """End of the highest usable range of the firmware memory map on the serial console."""
    ends = [int(m.group(2), 16) + 1
            for m in re.finditer(r"BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] usable", log_text)]
    return max(ends)


@pytest.fixture(scope="module")
def real_paging(real):
    out = {}
    for run in realsamples.RUNS:
        image = SwsuspImage.open(real.image(run))
        rec = image.info.record
        t0 = time.perf_counter()
        paging = kernel_paging(image.read, rec.cr3, rec.jump_address, rec.jump_address_phys, (image.max_pfn + 1) << 12)
        dm = find_direct_map(paging, image.present_pfns())
        elapsed = time.perf_counter() - t0
        out[run] = image, paging, dm, elapsed
    return out


@pytest.mark.parametrize("run", list(realsamples.RUNS))
def test_real_image_direct_map(real, real_paging, system_map, run):
    image, paging, dm, elapsed = real_paging[run]
    rec = image.info.record
    print(f"{run}: {dm} in {elapsed * 1000:.0f} ms, {paging.table_reads} table pages read")
    assert elapsed < 0.5, "enumerating a 256 MiB direct map must take well under a second"
    assert paging.n_levels == 4 and paging.sme_mask == 0 and paging.root == rec.cr3 & CR3_ADDR_MASK
    if run in SPEC_BASES:
        assert dm.base == SPEC_BASES[run]
    # the kernel's page_offset_base, at the physical address System.map gives it
    text_pa = rec.jump_address_phys - (system_map["restore_registers"] - system_map["_text"])
    variable_pa = text_pa + system_map["page_offset_base"] - system_map["_text"]
    assert struct.unpack("<Q", image.read(variable_pa, 8))[0] == dm.base
    # every byte of usable RAM is mapped, from 0 (the ISA hole included) to the e820 end
    log = (real.folder / f"{run}.serial.log").read_text(errors="replace")
    assert dm.min_pa == 0 and dm.ranges == ((0, _usable_ram_end(log)),) and dm.mapped_bytes == dm.extent
    # restore_registers: the translation the restore record promises
    assert paging.translate(rec.jump_address) == rec.jump_address_phys
    assert paging.walk(rec.jump_address)[-1].pa == rec.jump_address_phys
    # sample of saved pages through the direct map
    for pfn in list(image.present_pfns())[::997]:
        assert paging.translate(dm.base + (pfn << 12)) == pfn << 12


@pytest.mark.parametrize("run", list(realsamples.RUNS))
def test_real_image_slot_rows(real_paging, run):
    image, paging, dm, _elapsed = real_paging[run]
    t0 = time.perf_counter()
    rows = list(direct_map_slots(paging, dm))
    assert time.perf_counter() - t0 < 0.2
    puds = [r for r in rows if r.level.linux == "PUD"]
    pmds = [r for r in rows if r.level.linux == "PMD"]
    assert len(puds) == 1 and puds[0].kind.startswith("PMD table at frame")
    assert len(pmds) == -(-dm.extent // MIB2) == 128
    assert sum(r.kind == "2M" for r in pmds) == dm.leaf_counts["2M"]
    ptes = [r for r in pmds if r.kind.startswith("PTE table")]
    assert len(ptes) + dm.leaf_counts["2M"] == len(pmds)
    for r in ptes:  # each PTE table maps its 2 MiB of the direct map, page by page
        assert image.has_pfn(r.target >> 12) and r.readable
        for i, v in enumerate(paging.table(r.target)):
            if v & 1:
                assert v & E.ADDR_MASK == r.pa_start + i * 4096
    for r in pmds:
        if r.kind == "2M":
            assert r.target == r.pa_start and r.entry.nx and r.entry.global_


def test_real_image_cr3_is_a_table_of_the_dump_before_hibernation(real, real_paging):
    """Run A: the dump taken seconds before hibernation holds the hibernating process's PGD
    (the record's cr3) among its kernel top-level tables, with the same direct map."""
    layer = _elf_layer(real, "prehib-lzo.elf")
    image, _paging, dm, _ = real_paging["lzo"]
    found = find_cr3(physical.reader(layer), 0x10000000)
    assert image.info.record.cr3 in {c.pa for c in found}
    assert {c.direct_map.base for c in found} == {dm.base}


# ---- the boot kernel during resume (run B) ---------------------------------------------------
def _elf_layer(real, name):
    return realsamples.elf_layer(real.path(name))


def _qemu_cr3s(path):
    return realsamples.qemu_cr3s(path)


def test_resume_time_boot_kernel_cr3(real, system_map, real_paging):
    """No restore record: the boot kernel's top-level tables are found by scanning, the CPUs'
    CR3 (QEMU notes) are among them, init_top_pgt comes first where System.map puts it, and
    the boot kernel's direct map (its own KASLR) matches its page_offset_base variable."""
    path = real.path("resume-bootkernel-b.elf")
    layer = _elf_layer(real, "resume-bootkernel-b.elf")
    log = (real.folder / "lzo-b-resume.serial.log").read_text(errors="replace")
    t0 = time.perf_counter()
    found = find_cr3(physical.reader(layer), _usable_ram_end(log))
    elapsed = time.perf_counter() - t0
    best = found[0]
    print(f"resume dump: {len(found)} tables in {elapsed:.2f} s; first {best.pa:#x}: {best.direct_map}")
    assert elapsed < 5
    cpu_cr3s = _qemu_cr3s(path)
    assert len(cpu_cr3s) == 2 and {c & CR3_ADDR_MASK for c in cpu_cr3s} <= {c.pa for c in found}
    assert best.in_kernel_image
    assert best.pa == best.text_pa + system_map["init_top_pgt"] - system_map["_text"]
    base = struct.unpack("<Q", layer.read(best.text_pa + system_map["page_offset_base"] - system_map["_text"], 8))[0]
    assert {c.direct_map.base for c in found} == {base}
    assert best.direct_map.ranges == ((0, _usable_ram_end(log)),)
    # the boot kernel is not the image kernel: its own KASLR layout
    assert base != real_paging["lzo-b"][2].base
    paging = Paging(physical.reader(layer), cpu_cr3s[0])
    assert paging.translate(best.text_va) == best.text_pa
