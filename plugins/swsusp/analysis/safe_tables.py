"""Safe page tables, built offline as set_up_temporary_mappings() builds them online
(arch/x86/power/hibernate_64.c; docs/format.md §8.1-8.2).

During resume the kernel copies image pages over the memory it runs in.  Page-table pages
that the copy overwrites change meaning mid-copy (the 2005 hang).  The fix: a private set of
tables, top level down to PMD, largest pages possible, allocated only in *safe* frames — frames
whose PFN the image does not contain, so no copy ever lands on them.  Here the same tables are
built for analysis: they map the image kernel's direct map and its kernel text mapping, and
let an analyst decode memory without trusting tables the restore may have broken.
"""

import struct
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from ..memory import MODULES_VADDR, PAGE_SIZE, START_KERNEL_MAP
from ..paging.entries import ADDR_MASK
from ..paging.errors import MissingMemory
from ..paging.walk import Paging
from .errors import MappingConflict, NoSafeFrame

PMD_SIZE = 1 << 21
PUD_SIZE = 1 << 30
_KERNPG_TABLE = 0x063  # P RW A D: what the kernel uses for non-leaf entries
_PAGE_LARGE_EXEC = 0x1E3  # P RW A D PS G: __PAGE_KERNEL_LARGE_EXEC
_SHIFTS = {5: (48, 39, 30, 21), 4: (39, 30, 21)}  # table levels above the PMD leaves


@dataclass
class SafeTables:
    """Rebuilt tables: `pages` maps each allocated PFN to its 4096 bytes; `root` is the CR3."""

    levels: int
    root: int
    pages: Dict[int, bytearray] = field(default_factory=dict)
    mappings: List[Tuple[int, int, int, str]] = field(default_factory=list)  # (va, pa, size, what)
    leaf_counts: Dict[str, int] = field(default_factory=dict)

    @property
    def frames(self) -> List[int]:
        return sorted(self.pages)

    def read(self, pa: int, length: int) -> bytes:
        """A `walk.ReadPhys` over the rebuilt pages alone (MissingMemory anywhere else)."""
        pfn, off = divmod(pa, PAGE_SIZE)
        page = self.pages.get(pfn)
        if page is None or off + length > PAGE_SIZE:
            raise MissingMemory(pa, length, "not inside one rebuilt table page")
        return bytes(page[off : off + length])


class FrameAllocator:
    """get_safe_page(): frames that are not `unsafe`, lowest first from `start`, below `end`."""

    def __init__(self, unsafe: Callable[[int], bool], start: int, end: int) -> None:
        self._unsafe, self._next, self._end = unsafe, start, end

    def __call__(self) -> int:
        while self._next < self._end:
            pfn = self._next
            self._next += 1
            if not self._unsafe(pfn):
                return pfn
        raise NoSafeFrame(f"no safe frame left below PFN {self._end:#x}")


class _Builder:
    def __init__(self, levels: int, alloc: FrameAllocator) -> None:
        self.tables = SafeTables(levels, 0)
        self._alloc = alloc
        self.tables.root = self._new_table() * PAGE_SIZE

    def _new_table(self) -> int:
        pfn = self._alloc()
        self.tables.pages[pfn] = bytearray(PAGE_SIZE)
        return pfn

    def _entry(self, table_pa: int, index: int) -> int:
        return struct.unpack_from("<Q", self.tables.pages[table_pa // PAGE_SIZE], index * 8)[0]

    def _set(self, table_pa: int, index: int, value: int) -> None:
        struct.pack_into("<Q", self.tables.pages[table_pa // PAGE_SIZE], index * 8, value)

    def map_large(self, va: int, pa: int, size: int) -> None:
        """One leaf of `size` (2 MiB, or 1 GiB at the PUD level), creating tables on the way."""
        table = self.tables.root
        for shift in _SHIFTS[self.tables.levels]:
            index = (va >> shift) & 0x1FF
            if 1 << shift == size:
                self._set(table, index, pa | _PAGE_LARGE_EXEC)
                return
            entry = self._entry(table, index)
            if not entry & 1:
                entry = self._new_table() * PAGE_SIZE | _KERNPG_TABLE
                self._set(table, index, entry)
            elif entry & 0x80:
                raise MappingConflict(f"VA {va:#x} is already inside a large page")
            table = entry & ADDR_MASK
        raise MappingConflict(f"cannot map a {size:#x}-byte page")


def _spans(ranges: Iterable[Tuple[int, int]], align: int) -> List[Tuple[int, int]]:
    """Merge (start, end) ranges after rounding them out to `align` (kernel_ident_mapping_init
    rounds pfn_mapped ranges to PMD boundaries)."""
    spans: List[List[int]] = []
    for start, end in sorted((s - s % align, -(-e // align) * align) for s, e in ranges):
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(s, e) for s, e in spans]


def build_safe_tables(
    *,
    levels: int,
    direct_map_base: int,
    direct_map_ranges: Iterable[Tuple[int, int]],
    text_leaves: Iterable[Tuple[int, int, int]],
    unsafe: Callable[[int], bool],
    alloc_range: Tuple[int, int],
    gbpages: bool = False,
) -> SafeTables:
    """Tables mapping VA base+PA for every direct-map PA range (2 MiB pages, or 1 GiB where
    `gbpages` and a whole aligned GiB is mapped) and every kernel-text leaf (va, pa, size),
    allocated only in frames for which `unsafe(pfn)` is false."""
    builder = _Builder(levels, FrameAllocator(unsafe, *alloc_range))
    counts = {"1G": 0, "2M": 0}
    for start, end in _spans(direct_map_ranges, PMD_SIZE):
        pa = start
        while pa < end:
            if gbpages and pa % PUD_SIZE == 0 and end - pa >= PUD_SIZE:
                builder.map_large(direct_map_base + pa, pa, PUD_SIZE)
                counts["1G"] += 1
                pa += PUD_SIZE
            else:
                builder.map_large(direct_map_base + pa, pa, PMD_SIZE)
                counts["2M"] += 1
                pa += PMD_SIZE
        builder.tables.mappings.append((direct_map_base + start, start, end - start, "direct map"))
    text = [(va - va % PMD_SIZE, pa - pa % PMD_SIZE) for va, pa, _size in text_leaves]
    for va, pa in sorted(set(text)):
        builder.map_large(va, pa, PMD_SIZE)
        counts["2M"] += 1
    if text:
        first, last = min(text), max(text)
        builder.tables.mappings.append((first[0], first[1], last[0] + PMD_SIZE - first[0], "kernel text"))
    builder.tables.leaf_counts = counts
    return builder.tables


# -- from a kernel's own tables --------------------------------------------------------------



@dataclass
class Verification:
    pages: int = 0  # 4 KiB pages of the direct map checked
    mismatches: List[Tuple[int, int, Optional[int]]] = field(default_factory=list)  # (va, expected, got)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def kernel_text_leaves(paging) -> List[Tuple[int, int, int]]:
    """(va, pa, size) of the kernel text mapping at __START_KERNEL_map (each table once:
    hostile tables shared by many entries cost no more than their pages)."""
    return [(va, pa, size) for va, pa, size, _v, _e in paging.raw_leaves(START_KERNEL_MAP, MODULES_VADDR, shared=False)]


def rebuild(paging, direct_map, unsafe: Callable[[int], bool], alloc_range: Tuple[int, int],
            gbpages: Optional[bool] = None) -> SafeTables:
    """Safe tables for the kernel whose tables `paging` walks: its direct map (at the same base)
    and its kernel text mapping.  1 GiB pages only where the kernel itself used them."""
    if gbpages is None:
        gbpages = direct_map.leaf_counts.get("1G", 0) > 0
    return build_safe_tables(
        levels=paging.n_levels,
        direct_map_base=direct_map.base,
        direct_map_ranges=direct_map.ranges,
        text_leaves=kernel_text_leaves(paging),
        unsafe=unsafe,
        alloc_range=alloc_range,
        gbpages=gbpages,
    )


def verify(safe: SafeTables, paging, direct_map, limit: int = 32) -> Verification:
    """Every direct-map page translates through `safe` as through the kernel's own tables.

    The rebuilt tables use only 2 MiB/1 GiB leaves, linear inside, so checking each original
    leaf at every 2 MiB boundary it crosses covers all of its 4 KiB pages.  A table reached
    through several entries is checked once (a direct map never shares tables; bounded work)."""
    rebuilt = Paging(safe.read, safe.root, safe.levels)
    result = Verification()
    for va, pa, size, _value, _entry_pa in paging.raw_leaves(direct_map.base, direct_map.end, shared=False):
        step = min(size, PMD_SIZE)
        for off in range(0, size, step):
            got = rebuilt.translate(va + off)
            if got != pa + off and len(result.mismatches) < limit:
                result.mismatches.append((va + off, pa + off, got))
        result.pages += size // PAGE_SIZE
    return result
