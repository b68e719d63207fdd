"""Finding a page-table root (cr3) in raw physical memory: for dumps without a restore record,
such as the boot kernel's memory during a resume.

A page is a kernel top-level table (4-level; PML4) when
* every entry is empty or a plausible table pointer (present, no PS, no reserved high bits,
  frame inside memory and not the page itself);
* slot 511 (`__START_KERNEL_map`) points to a PUD table whose entry 510 points to a PMD table
  holding 2 MiB kernel-text leaves (present, PS, global);
* besides slot 511 the kernel half (256-510) has at least one more present entry (the direct
  map);
and it is verified when a direct map (docs/format.md §10) found under it maps physical 0 and maps the
table itself at base + its own address (every page table lives in the direct map).

Every process has such a table (its kernel half mirrors `init_top_pgt`), so there are many
answers: all are listed, the kernel's own (`init_top_pgt`/`swapper_pg_dir`, empty user half)
first.
"""

import dataclasses
from array import array
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from ..memory import START_KERNEL_MAP  # top slot 511, PUD 510 (docs/format.md §9.5)
from .directmap import DirectMap, find_direct_map
from .entries import ADDR_MASK, PS, TABLE_SIZE, G, P
from .walk import Paging, ReadPhys, table_entries

CHUNK = 1 << 20  # bytes read at a time while scanning
RESERVED_HIGH = 0x7FF0000000000000  # bits 52..62: ignored/pkey bits, never set in Linux table pointers
MIN_TEXT_LEAVES = 2


@dataclass(frozen=True)
class Cr3Candidate:
    """A verified top-level table at physical `pa`: how many user-half (0-255) and kernel-half
    (256-511) entries are present, the kernel text mapping found under slot 511 (first 2 MiB
    leaf: VA and PA, and how many), and the direct map found with it."""

    pa: int
    levels: int
    user_slots: int
    kernel_slots: int
    text_va: int
    text_pa: int
    text_leaves: int
    direct_map: DirectMap

    @property
    def in_kernel_image(self) -> bool:
        """The table lies inside the kernel image mapped at __START_KERNEL_map: it is the
        kernel's own `init_top_pgt` (= `swapper_pg_dir`), not a process's PGD."""
        return self.text_pa <= self.pa < self.text_pa + (self.text_leaves << 21)


def _plausible_pointer(value: int, max_pa: int, sme_mask: int = 0) -> bool:
    return (
        bool(value & P) and not value & PS and not value & RESERVED_HIGH and (value & ADDR_MASK & ~sme_mask) < max_pa
    )


def _looks_like_top_table(entries: array, pa: int, max_pa: int, sme_mask: int) -> bool:
    if not _plausible_pointer(entries[511], max_pa, sme_mask):
        return False
    kernel = 0
    for index, value in enumerate(entries):
        if value == 0:
            continue
        if not _plausible_pointer(value, max_pa, sme_mask) or value & ADDR_MASK & ~sme_mask == pa:
            return False
        if index >= 256:
            kernel += 1
    return kernel >= 2


def _text_mapping(paging: Paging) -> Optional[tuple]:
    """(first text VA, its PA, number of 2 MiB text leaves) in the PMD table that maps
    __START_KERNEL_map (top slot 511, PUD 510), or None when there is no such table."""
    steps = paging.walk(START_KERNEL_MAP)
    pmd = next((s for s in steps if s.level.linux == "PMD"), None)
    if pmd is None or pmd.entry is None:
        return None
    table = paging.table(pmd.table_pa)
    if table is None:  # not reached: the walk read it
        return None
    leaves = [(i, v) for i, v in enumerate(table) if v & P and v & PS and v & G]
    if len(leaves) < MIN_TEXT_LEAVES:
        return None
    index, value = leaves[0]
    return START_KERNEL_MAP + (index << 21), value & ADDR_MASK & ~paging.sme_mask & ~((1 << 21) - 1), len(leaves)


def _pages(read: ReadPhys, max_pa: int, ranges: Optional[List[Tuple[int, int]]] = None) -> Iterator[tuple]:
    """(pa, 4096 bytes) of every readable page below max_pa, read a chunk at a time; only
    inside `ranges` ((start, end) physical ranges known to hold memory) when given."""
    for start, end in [(0, max_pa)] if ranges is None else ranges:  # [] holds nothing
        yield from _pages_in(read, start - start % TABLE_SIZE, min(end, max_pa))


def _pages_in(read: ReadPhys, first: int, max_pa: int) -> Iterator[tuple]:
    for chunk_pa in range(first, max_pa, CHUNK):
        size = min(CHUNK, max_pa - chunk_pa)
        try:
            data = read(chunk_pa, size)
        except KeyError:  # a hole in the chunk (the ReadPhys contract): page by page
            for pa in range(chunk_pa, chunk_pa + size, TABLE_SIZE):
                try:
                    page = read(pa, TABLE_SIZE)
                except KeyError:
                    continue
                yield pa, page
            continue
        view = memoryview(data)
        for off in range(0, size, TABLE_SIZE):
            yield chunk_pa + off, view[off : off + TABLE_SIZE]


def cr3_candidates(read: ReadPhys, max_pa: int, levels: int = 4, sme_mask: int = 0,
                   ranges: Optional[List[Tuple[int, int]]] = None) -> Iterator[Cr3Candidate]:
    """Every verified kernel top-level table (PML4, or PML5 with `levels` 5) below `max_pa`
    (inside `ranges` when given), ascending."""
    # identical kernel halves (every process PGD) share one direct map
    by_kernel_half: Dict[bytes, Optional[DirectMap]] = {}
    for pa, page in _pages(read, max_pa, ranges):
        last = int.from_bytes(page[0xFF8:0x1000], "little")
        if not _plausible_pointer(last, max_pa, sme_mask):  # cheap reject: slot 511 must be a table pointer
            continue
        entries = table_entries(page)
        if not _looks_like_top_table(entries, pa, max_pa, sme_mask):
            continue
        paging = Paging(read, pa, levels, sme_mask)
        text = _text_mapping(paging)
        if text is None:
            continue
        half = entries[256:].tobytes()
        if half in by_kernel_half:
            dm = by_kernel_half[half]
            dm = dm and _rerooted(dm, pa)
        else:
            dm = by_kernel_half[half] = find_direct_map(paging)
        if dm is None or dm.min_pa != 0 or paging.translate(dm.base + pa) != pa:
            continue
        user = sum(1 for v in entries[:256] if v)
        kernel = sum(1 for v in entries[256:] if v)
        yield Cr3Candidate(pa, levels, user, kernel, text[0], text[1], text[2], dm)


def _rerooted(dm: DirectMap, root: int) -> DirectMap:
    return dataclasses.replace(dm, root=root, how=dm.how + f" (same kernel half as {dm.root:#x})")


def find_cr3(read: ReadPhys, max_pa: int, levels: int = 4, sme_mask: int = 0,
             ranges: Optional[List[Tuple[int, int]]] = None) -> List[Cr3Candidate]:
    """All verified top-level tables below `max_pa`: the kernel's own `init_top_pgt` (inside
    the kernel image) first, then process PGDs (user half in use), then tables with an empty
    user half outside the image (kernel threads' or stale copies), each group by address.
    Empty when none is found."""
    found = list(cr3_candidates(read, max_pa, levels, sme_mask, ranges))
    return sorted(found, key=lambda c: (not c.in_kernel_image, c.user_slots == 0, c.pa))
