"""Swap entries, page-cache walks and slot accounting without Volatility (swap/).

Truth: the kernel's encoders written out here bit by bit from pgtable_64.h / swapops.h (not
through the code under test), the real 6.1 image's own swap PTEs with the slots an
independent decoder found (swap-lzo-swapped.holder-ptes.tsv), and hand-built trees."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from volatility3.plugins.swsusp.format.swap_area import SwapExtent
from volatility3.plugins.swsusp.swap import accounting, page_cache, swp_entry
from volatility3.plugins.swsusp.swap.swp_entry import SwpEntry

U64 = (1 << 64) - 1


def l1tf_pte(swap_type, offset):
    """__swp_entry_to_pte() of 4.18+: (~offset << 14 >> 5) | type << 59."""
    return ((~offset << 14) & U64) >> 5 | swap_type << 59


def knl_pte(swap_type, offset):
    """4.8 .. 4.17: type in bits 9..13, offset from bit 14."""
    return swap_type << 9 | offset << 14


def classic_pte(swap_type, offset):
    """4.0 .. 4.7 (and 2.6.28 .. 3.19): type in bits 1..5, offset from bit 9."""
    return swap_type << 1 | offset << 9


KERNEL_ENCODERS = [(swp_entry.L1TF_INVERTED, l1tf_pte), (swp_entry.TYPE_ABOVE_PROTNONE, knl_pte),
                   (swp_entry.CLASSIC, classic_pte)]


@pytest.mark.parametrize("layout,encode", KERNEL_ENCODERS, ids=lambda x: getattr(x, "name", ""))
@given(swap_type=st.integers(0, 31), offset=st.integers(1, (1 << 40) - 1),
       flags=st.sampled_from([0, 0x2, 0x80, 0x2 | 0x4]))  # _PAGE_SWP_EXCLUSIVE, soft-dirty, uffd-wp
def test_kernel_encoded_ptes_decode(layout, encode, swap_type, offset, flags):
    pte = encode(swap_type, offset)
    if layout is not swp_entry.CLASSIC:  # the classic layout keeps the type in bits 1..5
        pte |= flags
    assert layout.swp_entry(pte) == (swap_type, offset)
    assert layout.make_pte(SwpEntry(swap_type, offset)) == encode(swap_type, offset)


@pytest.mark.parametrize("layout", swp_entry.PTE_LAYOUTS, ids=lambda x: x.name)
def test_not_swap_ptes(layout):
    assert layout.swp_entry(0) is None  # pte_none
    assert layout.swp_entry(0x8000000012345067) is None  # present
    assert layout.swp_entry(0x12345000 | layout.protnone) is None  # PROT_NONE: present to the kernel
    if layout.none_ignored:  # A/D set by the Knights Landing erratum on a cleared PTE is still none
        assert layout.swp_entry(0x60) is None
    if layout.file_bit is not None:  # a nonlinear file PTE (remap_file_pages) is not swap
        assert layout.swp_entry(1 << layout.file_bit | 5 << 20) is None


def test_the_layout_is_the_kernels():
    def has(*names):
        return lambda name: name in names

    assert swp_entry.pte_layout_for((6, 1, 0), has("l1tf_mitigation"))[0] is swp_entry.L1TF_INVERTED
    # an L1TF backport into an old kernel: decided by the symbol, not the version
    assert swp_entry.pte_layout_for((3, 10, 0), has("l1tf_mitigation"))[0] is swp_entry.L1TF_INVERTED
    assert swp_entry.pte_layout_for((4, 18, 0), has())[0] is swp_entry.L1TF_INVERTED
    assert swp_entry.pte_layout_for((4, 14, 0), has())[0] is swp_entry.TYPE_ABOVE_PROTNONE
    assert swp_entry.pte_layout_for((4, 4, 0), has())[0] is swp_entry.CLASSIC
    assert swp_entry.pte_layout_for((3, 16, 0), has("task_numa_work"))[0] is swp_entry.NUMA_BALANCING
    assert swp_entry.pte_layout_for((3, 16, 0), has())[0] is swp_entry.CLASSIC_NONLINEAR
    assert swp_entry.pte_layout_for((2, 6, 27), has())[0] is swp_entry.EARLY
    assert swp_entry.pte_layout_for(None, has())[0] is None
    assert swp_entry.banner_version(b"Linux version 6.1.0-56-amd64 (debian-kernel@...)") == (6, 1, 0)
    assert swp_entry.banner_version("Linux version 2.6.32-5-amd64 ...") == (2, 6, 32)


def test_real_image_swap_ptes(real):
    """Every swap PTE of PID 108 in the real 6.1 image decodes to the type and slot an
    independent decoder found (its page was checked byte for byte against the RAM dump)."""
    rows = [line.rstrip("\n").split("\t") for line in open(real.folder / "swap-lzo-swapped.holder-ptes.tsv")
            if not line.startswith(("#", "vaddr"))]
    swapped = [r for r in rows if r[5] == "swap"]
    assert len(swapped) == 125
    layout = swp_entry.pte_layout_for(swp_entry.banner_version(b"Linux version 6.1.0-56-amd64"),
                                      lambda name: name == "l1tf_mitigation")[0]
    for r in swapped:
        assert layout.swp_entry(int(r[4], 16)) == (int(r[7]), int(r[6]))
    for r in rows:
        if r[5] != "swap":
            assert layout.swp_entry(int(r[4], 16)) is None


@given(swap_type=st.integers(0, 31), offset=st.integers(0, (1 << 50) - 1))
def test_page_cache_value_entries(swap_type, offset):
    # xa_mk_value(swp_entry(type, offset).val): type at bit 58 of the value, value << 1 | 1
    xa = ((swap_type << 58 | offset) << 1) | 1
    assert swp_entry.XA_VALUE.swp_entry(xa) == (swap_type, offset)
    # radix-tree exceptional entry (3.1 .. 4.19): type at bit 57, << 2 | 2
    radix = ((swap_type << 57 | offset) << 2) | 2
    assert swp_entry.RADIX_EXCEPTIONAL.swp_entry(radix) == (swap_type, offset)
    assert swp_entry.XA_VALUE.swp_entry(0xFFFF888012345000) is None  # a struct page pointer


def test_settings_kinds():
    s = swp_entry.SwapSettings(our_type=1, nr_swapfiles=3, nr_slots=100, pte_layout=swp_entry.L1TF_INVERTED)
    assert s.kind(SwpEntry(1, 5)) == swp_entry.EntryKind.OURS
    assert s.kind(SwpEntry(1, 100)) == swp_entry.EntryKind.BEYOND
    assert s.kind(SwpEntry(1, 0)) == swp_entry.EntryKind.BEYOND  # slot 0 is the header
    assert s.kind(SwpEntry(2, 5)) == swp_entry.EntryKind.ELSEWHERE
    assert s.kind(SwpEntry(31, 5)) == swp_entry.EntryKind.SPECIAL  # e.g. a migration entry


# -- page cache walk ----------------------------------------------------------------------------


def xa_tree(leaves, base_addr=0x10000):
    """A 2-level XArray holding `leaves` {index: entry}: nodes at made-up addresses."""
    nodes, root_slots = {}, [0] * 64
    for i in range(64):
        chunk = {idx: e for idx, e in leaves.items() if idx >> 6 == i}
        if chunk:
            address = base_addr + 0x1000 * (i + 1)
            nodes[address] = (0, [chunk.get((i << 6) + j, 0) for j in range(64)])
            root_slots[i] = address | 2
    nodes[base_addr] = (6, root_slots)
    return base_addr | 2, nodes


def test_xarray_walk_indexes_values_and_pointers():
    leaves = {0: 0xFFFF888000001000, 5: swp_entry.XA_VALUE.make_entry(SwpEntry(0, 77)), 64: 0xFFFF888000002000,
              4095: swp_entry.XA_VALUE.make_entry(SwpEntry(0, 78))}
    head, nodes = xa_tree(leaves)
    walk = page_cache.Walk(page_cache.XARRAY, nodes.get)
    assert dict(walk.entries(head)) == leaves
    assert walk.unreadable_nodes == 0


def test_xarray_walk_skips_siblings_and_counts_unreadable():
    head, nodes = xa_tree({1: 0xFFFF888000001000, 70: 0xFFFF888000003000})
    shift, slots = nodes[0x10000 + 0x1000]
    slots[2] = (1 << 2) | 2  # a sibling entry (internal, < 256) of slot 1
    del nodes[0x10000 + 0x2000]  # a node the image does not hold
    walk = page_cache.Walk(page_cache.XARRAY, nodes.get)
    assert dict(walk.entries(head)) == {1: 0xFFFF888000001000}
    assert walk.unreadable_nodes == 1


def test_walk_of_a_looping_tree_ends():
    nodes = {0x10000: (6, [0x10000 | 2] * 64)}  # every slot points back at the root
    assert list(page_cache.Walk(page_cache.XARRAY, nodes.get).entries(0x10000 | 2)) == []


def test_single_entry_in_the_root():
    assert list(page_cache.Walk(page_cache.XARRAY, {}.get).entries(0xFFFF888000001000)) == [(0, 0xFFFF888000001000)]


# -- slot accounting ----------------------------------------------------------------------------


def test_classify_slots():
    def page(b):
        return bytes([b]) * 4096

    content = {s: page(0) for s in range(40)}
    content.update({3: page(1), 4: page(2), 5: page(3), 9: page(4), 10: page(5), 30: page(6)})

    def read(first, count):
        if first + count > 38:  # slots 38, 39: the input ends
            return None if count == 1 else b""
        return b"".join(content[s] for s in range(first, first + count))

    swap_map = {3: 1, 5: 1, 6: 1, 7: accounting.SWAP_MAP_BAD, 12: None, 13: None}  # 12, 13: page unreadable
    content[13] = page(7)
    owners = accounting.classify_slots(40, accounting.image_slots([20], [21, 22]), [3], [4],
                                       lambda s: swap_map.get(s, 0), read)
    expect = {0: accounting.HEADER, 3: accounting.PROCESS, 4: accounting.SHMEM, 5: accounting.IN_USE,
              6: accounting.IN_USE, 7: accounting.BAD, 9: accounting.STALE, 10: accounting.STALE,
              13: accounting.UNREFERENCED, 20: accounting.IMAGE_MAP,
              21: accounting.IMAGE_DATA, 22: accounting.IMAGE_DATA,
              30: accounting.STALE, 38: accounting.UNREADABLE, 39: accounting.UNREADABLE}
    assert {s: c for s, c in enumerate(owners.codes) if c != accounting.FREE_ZERO} == expect
    assert accounting.stale_runs(owners) == [(9, 10), (30, 30)]
    rows = list(accounting.slot_rows(owners, {(9, 10): "stale-9-10.bin"}))
    stale = [r for r in rows if r.owner == accounting.OWNER_NAMES[accounting.STALE]][0]
    assert (stale.slots, stale.first, stale.last) == (3, 9, 30)
    assert [r.output for r in rows if r.depth == 1] == ["stale-9-10.bin", None]



def test_classify():
    """One decision for page tables and page caches: the area's kind, then zswap's record,
    then whether the input holds the slot."""
    s = swp_entry.SwapSettings(our_type=0, nr_swapfiles=2, nr_slots=100, pte_layout=swp_entry.L1TF_INVERTED)
    held, readable = {7}, lambda slot: slot < 50
    kind = swp_entry.EntryKind
    assert swp_entry.classify(s, SwpEntry(0, 5), held, readable) == kind.OURS
    assert swp_entry.classify(s, SwpEntry(0, 7), held, readable) == kind.ZSWAP
    assert swp_entry.classify(s, SwpEntry(0, 60), held, readable) == kind.UNREADABLE
    assert swp_entry.classify(s, SwpEntry(0, 100), held, readable) == kind.BEYOND
    assert swp_entry.classify(s, SwpEntry(1, 7), held, readable) == kind.ELSEWHERE  # zswap's bits are our area's
    assert swp_entry.classify(s, SwpEntry(29, 5), held, readable) == kind.SPECIAL


def test_entry_counts():
    counts = accounting.EntryCounts()
    kind = swp_entry.EntryKind
    assert counts.add(kind.ELSEWHERE, SwpEntry(1, 5)) is True  # the first of its kind
    assert counts.add(kind.ELSEWHERE, SwpEntry(1, 5)) is False
    assert counts.add(kind.ELSEWHERE, SwpEntry(1, 6)) is False
    assert (counts.count(kind.ELSEWHERE), counts.references(kind.ELSEWHERE)) == (2, 3)
    assert (counts.count(kind.ZSWAP), counts.references(kind.ZSWAP)) == (0, 0)


# -- slots and blocks (format/swap_area.py) -----------------------------------------------------


def swap_file(nblocks, header_block, extents=None, last_page=9):
    """A filesystem of `nblocks` blocks (block b holds b in every byte, after 4 marker bytes)
    with a swap file whose header is at `header_block`."""
    from volatility3.plugins.swsusp.format import locate
    from volatility3.plugins.swsusp.format.source import BytesSource
    from volatility3.plugins.swsusp.format.swap_area import SwapArea

    data = b"".join(b"BLK:" + bytes([b % 256]) * 4092 for b in range(nblocks))
    location = locate.Location(locate.Partition(0, len(data), "whole file"), header_block)
    return SwapArea(BytesSource(data), location, last_page, extents)


def test_slots_and_blocks_of_a_partition():
    area = swap_file(12, 0)  # slot s is block s; last_page 9
    assert area.slots_are_blocks
    assert [area.block_slot(b) for b in (0, 1, 9, 10, -1)] == [0, 1, 9, None, None]
    assert all(area.block_slot(area.slot_block(s)) == s for s in range(10))
    assert area.read_slots(2, 3) == b"".join(b"BLK:" + bytes([b]) * 4092 for b in (2, 3, 4))
    assert area.read_slots(8, 3) is None  # slot 10 is beyond the area
    assert area.with_kernel_extents([SwapExtent(0, 10, 500)]) is area  # slots are blocks whatever they say


def test_slots_and_blocks_of_a_swap_file_in_a_filesystem():
    extents = [SwapExtent(0, 1, 5), SwapExtent(1, 4, 20), SwapExtent(5, 5, 10)]
    bare = swap_file(30, 5)
    assert not bare.slots_are_blocks
    # without the kernel's extents nothing past the header is placed (never assumed contiguous)
    assert [bare.block_slot(b) for b in (5, 6, 20)] == [0, None, None]
    assert bare.slot_block(1) is None and bare.read_slots(1, 2) is None
    area = bare.with_kernel_extents(extents)
    assert area is not bare and bare.with_kernel_extents([]) is bare
    blocks = [area.slot_block(s) for s in range(10)]
    assert blocks == [5, 20, 21, 22, 23, 10, 11, 12, 13, 14]
    assert [area.block_slot(b) for b in blocks] == list(range(10))
    assert [area.block_slot(b) for b in (6, 15, 24, 0)] == [None] * 4
    assert area.read_slots(3, 4) == b"".join(b"BLK:" + bytes([b]) * 4092 for b in (22, 23, 10, 11))
