"""The direct map (virtual = base + physical) found from the page tables alone (docs/format.md §10).

1. Quick test of the fixed PAGE_OFFSET of each era (docs/format.md §9.5): the base is right when
   `translate(base + X) == X` for X = 0 and a few sample physical addresses.
2. Otherwise (KASLR since 4.8: a random 1 GiB-aligned base) the general method: enumerate
   every leaf in the kernel half except the last top-level slot (kernel text, modules,
   fixmap), sum the mapped bytes per delta = (va - pa) mod 2**64, and take the 1 GiB-aligned
   delta with the most bytes (ties: the lowest smallest pa).  vmalloc and vmemmap leaves
   scatter over many deltas and lose.

`direct_map_slots` then lists the direct map's PUD and PMD entries one by one: the rows the
safe-page-table report is made of.
"""

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from ..memory import U64
from .entries import Level, PageTableEntry, decode, size_text
from .walk import NOT_PRESENT, UNREADABLE, Paging

GIB = 1 << 30

# (paging levels, PAGE_OFFSET, end of its region = the era's vmalloc start, era)   docs/format.md §9.5
FIXED_BASES = (
    (4, 0xFFFF810000000000, 0xFFFFC20000000000, "2.6.11-2.6.26"),
    (4, 0xFFFF880000000000, 0xFFFFC80000000000, "2.6.27-4.19"),
    (4, 0xFFFF888000000000, 0xFFFFC88000000000, "4.20+ (no KASLR)"),
    (5, 0xFF10000000000000, 0xFF90000000000000, "4.12-4.19 LA57"),
    (5, 0xFF11000000000000, 0xFF91000000000000, "4.20+ LA57 (no KASLR)"),
)
QUICK_SAMPLES = 8  # physical addresses checked per fixed base, besides 0
CANDIDATES_KEPT = 5


@dataclass
class _Acc:
    """Running totals of one delta during the leaf enumeration."""

    mapped: int = 0
    min_pa: int = 1 << 64
    max_end: int = 0
    counts: Dict[str, int] = field(default_factory=dict)
    ranges: List[List[int]] = field(default_factory=list)  # merged [pa_start, pa_end)

    def add(self, pa: int, size: int) -> None:
        self.mapped += size
        self.min_pa = min(self.min_pa, pa)
        self.max_end = max(self.max_end, pa + size)
        key = size_text(size)
        self.counts[key] = self.counts.get(key, 0) + 1
        ranges = self.ranges
        if ranges and ranges[-1][1] == pa:
            ranges[-1][1] = pa + size
        else:
            ranges.append([pa, pa + size])


@dataclass(frozen=True)
class Candidate:
    """One delta (va - pa) seen while enumerating leaves, with what maps at it."""

    delta: int
    mapped_bytes: int
    min_pa: int
    max_pa: int  # exclusive end of the highest mapped byte
    leaf_counts: Dict[str, int]

    def __str__(self) -> str:
        counts = " ".join(f"{n}x{k}" for k, n in sorted(self.leaf_counts.items()))
        return (f"{self.delta:#018x}: {self.mapped_bytes >> 20} MiB mapped, "
                f"pa {self.min_pa:#x}-{self.max_pa:#x} ({counts})")


@dataclass(frozen=True)
class DirectMap:
    """The direct map: VA `base` + pa for every mapped pa in `ranges`.

    `end` is the VA just past the highest mapped byte (`extent` = end - base); `mapped_bytes`
    counts only what is mapped (holes excluded).  `how` says which method found it;
    `candidates` are the best deltas of the general method (empty after a quick test)."""

    base: int
    end: int
    levels: int
    root: int
    how: str
    mapped_bytes: int
    min_pa: int
    leaf_counts: Dict[str, int]
    ranges: Tuple[Tuple[int, int], ...]
    candidates: Tuple[Candidate, ...] = ()

    @property
    def extent(self) -> int:
        return self.end - self.base

    @property
    def max_pa(self) -> int:
        """The physical address just past the highest mapped byte (pa = va - base)."""
        return self.extent

    def va(self, pa: int) -> int:
        return (self.base + pa) & U64

    def pa(self, va: int) -> Optional[int]:
        return va - self.base if self.base <= va < self.end else None

    def __str__(self) -> str:
        counts = " ".join(f"{n}x{k}" for k, n in sorted(self.leaf_counts.items()))
        return (
            f"direct map {self.base:#x}-{self.end:#x} ({self.mapped_bytes >> 20} MiB mapped, "
            f"pa from {self.min_pa:#x}; {counts}) by {self.how}"
        )


def _kernel_half(paging: Paging) -> Tuple[int, int]:
    """[first VA of top-level slot 256, first VA of slot 511): kernel half without the text slot."""
    top = paging.levels[0]
    return paging.canonical(256 << top.shift), paging.canonical(511 << top.shift)


def _accumulate(paging: Paging, va_start: int, va_end: int, only_delta: Optional[int] = None) -> Dict[int, _Acc]:
    accs: Dict[int, _Acc] = {}
    for va, pa, size, _value, _entry_pa in paging.raw_leaves(va_start, va_end, shared=False):
        delta = (va - pa) & U64
        if only_delta is not None and delta != only_delta:
            continue
        acc = accs.get(delta)
        if acc is None:
            acc = accs[delta] = _Acc()
        acc.add(pa, size)
    return accs


def _sample_pas(present_pfns: Optional[Iterable[int]]) -> List[int]:
    if present_pfns is None:
        return [0x100000]  # 1 MiB: RAM on every PC
    pfns = sorted(present_pfns)
    if not pfns:
        return []
    step = max(1, len(pfns) // QUICK_SAMPLES)
    return [pfn << 12 for pfn in pfns[::step][:QUICK_SAMPLES]] + [pfns[-1] << 12]


def quick_fixed_base(paging: Paging, present_pfns: Optional[Iterable[int]] = None) -> Optional[Tuple[int, int, str]]:
    """(base, region end, era) of the first fixed PAGE_OFFSET under which 0 and the sample
    physical addresses translate to themselves (docs/format.md §10 step 3), else None."""
    samples = [0] + _sample_pas(present_pfns)
    for levels, base, region_end, era in FIXED_BASES:
        if levels != paging.n_levels:
            continue
        if all(paging.translate(base + x) == x for x in samples):
            return base, region_end, era
    return None


def _make(paging: Paging, base: int, acc: _Acc, how: str, candidates=()) -> DirectMap:
    return DirectMap(
        base=base,
        end=base + acc.max_end,
        levels=paging.n_levels,
        root=paging.root,
        how=how,
        mapped_bytes=acc.mapped,
        min_pa=acc.min_pa,
        leaf_counts=dict(acc.counts),
        ranges=tuple((s, e) for s, e in acc.ranges),
        candidates=tuple(candidates),
    )


def find_direct_map(paging: Paging, present_pfns: Optional[Iterable[int]] = None) -> Optional[DirectMap]:
    """The direct map of `paging` (docs/format.md §10), or None when nothing qualifies.

    `present_pfns` (e.g. the image's PFN list) supplies sample addresses for the quick test."""
    quick = quick_fixed_base(paging, present_pfns)
    if quick is not None:
        base, region_end, era = quick
        acc = _accumulate(paging, base, region_end, only_delta=base).get(base)
        if acc is not None:
            return _make(paging, base, acc, f"fixed PAGE_OFFSET {base:#x} ({era})")
    lo, hi = _kernel_half(paging)
    accs = _accumulate(paging, lo, hi)
    ranked = sorted(accs.items(), key=lambda kv: (-kv[1].mapped, kv[1].min_pa, kv[0]))
    candidates = [Candidate(d, a.mapped, a.min_pa, a.max_end, dict(a.counts)) for d, a in ranked[:CANDIDATES_KEPT]]
    for delta, acc in ranked:
        if delta % GIB == 0 and lo <= delta < hi and paging.is_canonical(delta):
            how = "largest 1 GiB-aligned delta (va - pa) over the kernel half"
            return _make(paging, delta, acc, how, candidates)
    return None


# ---- rows for the safe-page-table report ---------------------------------------------------
# SlotRecord.problem: why a slot is not (or not only) what a direct map entry should be
LOOP, UNREADABLE_TABLE, RESERVED = "loop", "unreadable", "reserved"
SHARED = "shared"  # a table already listed under another entry (listed once: bounded rows)
FOREIGN = "foreign"  # a leaf mapping another physical address than va - base
BEYOND_MEMORY = "beyond memory"  # a leaf past the end of physical memory (when known)
SLOT_PROBLEMS = (LOOP, UNREADABLE_TABLE, RESERVED, SHARED, FOREIGN, BEYOND_MEMORY)


@dataclass(frozen=True)
class SlotRecord:
    """One direct-map entry at the PUD or PMD level, or a higher-level (PGD/P4D) entry that
    is absent or ends the walk (its record then stands for the span it covers).

    `va` is the first address the slot covers and [pa_start, pa_end) the physical range it
    stands for in the direct map (va - base ...); `entry_pa`/`value`/`entry` are the entry
    itself (None when its table is unreadable); `target` is the frame it points to (page or
    table); `kind` is '1G', '2M', 'PMD table at frame 0x...', 'PTE table at frame 0x...',
    'not present' or 'unreadable'.  `problem` (one of SLOT_PROBLEMS) and `problem_text` say
    what is wrong with the entry; the walk does not go below a loop, a reserved entry, an
    unreadable table or a table already listed."""

    level: Level
    va: int
    pa_start: int
    pa_end: int
    table_pa: int
    entry_pa: int
    value: Optional[int]
    entry: Optional[PageTableEntry]
    kind: str
    target: Optional[int]
    readable: bool = True  # the table `target` points to could be read (tables only)
    problem: Optional[str] = None
    problem_text: str = ""

    @property
    def is_leaf(self) -> bool:
        return self.entry is not None and self.entry.is_leaf

    @property
    def follow(self) -> bool:
        """A table pointer the walk goes below."""
        return self.entry is not None and self.entry.present and not self.entry.is_leaf and self.problem is None

    @property
    def next_table(self) -> Optional[int]:
        """The table the walk goes below this entry to, or None (see `follow`)."""
        return self.target if self.follow else None


def _level_named(paging: Paging, linux: str) -> int:
    return next(i for i, lv in enumerate(paging.levels) if lv.linux == linux)


def _record(paging: Paging, base: int, depth: int, va: int, table_pa: int, path: Tuple[int, ...] = (),
            max_pa: Optional[int] = None) -> SlotRecord:
    """The record of the entry for `va` at `depth` in the table at `table_pa`; `path` holds the
    tables above it (root first), to recognise an entry pointing back to one of them."""
    level = paging.levels[depth]
    index = level.index(va)
    entry_pa = table_pa + 8 * index
    pa_start = va - base
    pa_end = pa_start + level.span
    table = paging.table(table_pa)
    if table is None:
        return SlotRecord(level, va, pa_start, pa_end, table_pa, entry_pa, None, None, UNREADABLE, None, False,
                          UNREADABLE_TABLE, f"{level.linux} table at {table_pa:#x} cannot be read")
    entry = decode(table[index], level, paging.sme_mask)
    record = functools.partial(SlotRecord, level, va, pa_start, pa_end, table_pa, entry_pa, entry.value, entry)
    if not entry.present:
        return record(NOT_PRESENT, None)
    if entry.reserved:
        return record(f"reserved bits {entry.reserved:#x}", entry.frame, True, RESERVED,
                      f"{level.linux} entry has reserved bits {entry.reserved:#x} set: the MMU faults on it")
    if entry.is_leaf:
        if max_pa is not None and entry.frame >= max_pa:
            return record(entry.kind, entry.frame, True, BEYOND_MEMORY,
                          f"maps {entry.frame:#x}, beyond the end of physical memory {max_pa:#x}")
        if entry.frame != pa_start:
            return record(entry.kind, entry.frame, True, FOREIGN,
                          f"maps physical {entry.frame:#x}, not the direct map's {pa_start:#x}")
        return record(entry.kind, entry.frame)
    child = paging.levels[depth + 1]
    if entry.frame in path:
        which = paging.levels[path.index(entry.frame)].linux
        return record(f"loop to the {which} table at {entry.frame:#x}", entry.frame, True, LOOP,
                      f"{level.linux} entry points back to the {which} table at {entry.frame:#x} "
                      "(already on this walk): not followed")
    readable = paging.table(entry.frame) is not None
    kind = f"{child.linux} table at frame {entry.frame:#x}" + ("" if readable else " (unreadable)")
    if not readable:
        where = (f", beyond the end of physical memory {max_pa:#x}"
                 if max_pa is not None and entry.frame >= max_pa else "")
        return record(kind, entry.frame, False, UNREADABLE_TABLE,
                      f"the {child.linux} table at {entry.frame:#x} cannot be read{where}")
    return record(kind, entry.frame, True)


def direct_map_slots(paging: Paging, dm: DirectMap, va_end: Optional[int] = None,
                     max_pa: Optional[int] = None) -> Iterator[SlotRecord]:
    """One record per direct-map PUD slot (1 GiB) and, under each PUD entry that points to a
    PMD table, one per PMD slot (2 MiB), in address order, over [dm.base, va_end or dm.end)
    rounded out to the slot size.  Where an upper level (PGD/P4D) entry is missing, its table
    unreadable, or the entry a loop or reserved, that entry's record stands for the whole span
    it covers.  A PUD or PMD table reached again through another entry is listed once (the
    entry says `shared`): the number of records is bounded by the table pages, whatever the
    entries say.  `max_pa`, the end of physical memory when known, flags leaves beyond it."""
    end = dm.end if va_end is None else va_end
    pud = _level_named(paging, "PUD")
    pmd_span = paging.levels[pud + 1].span
    listed: Dict[int, int] = {}  # table pa -> entry_pa of the entry it was listed under
    va = dm.base & ~(GIB - 1)
    while va < end:
        table_pa, upper = paging.root, None
        path: Tuple[int, ...] = (paging.root,)
        for depth in range(pud):  # PGD (and P4D): one record when the walk stops here
            span = paging.levels[depth].span
            rec = _listed_once(_record(paging, dm.base, depth, max(va & ~(span - 1), dm.base), table_pa, path,
                                       max_pa), listed)
            below = rec.next_table
            if below is None:
                upper = rec
                break
            table_pa, path = below, path + (below,)
        if upper is not None:
            yield upper
            va = (va & ~(upper.level.span - 1)) + upper.level.span
            continue
        rec = _listed_once(_record(paging, dm.base, pud, va, table_pa, path, max_pa), listed)
        yield rec
        pmd_table = rec.next_table
        if pmd_table is not None:
            stop = min(va + GIB, -(-end // pmd_span) * pmd_span)
            sub, pmd_path = va, path + (pmd_table,)
            while sub < stop:
                yield _listed_once(_record(paging, dm.base, pud + 1, sub, pmd_table, pmd_path, max_pa), listed)
                sub += pmd_span
        va += GIB


def _listed_once(rec: SlotRecord, listed: Dict[int, int]) -> SlotRecord:
    """`rec`, or `rec` marked shared when its table was already reached through another entry."""
    table = rec.next_table
    if table is None:
        return rec
    first_entry_pa = listed.setdefault(table, rec.entry_pa)
    if first_entry_pa == rec.entry_pa:
        return rec
    return dataclasses.replace(rec, problem=SHARED, problem_text=(
        f"the table at {table:#x} is also under the entry at {first_entry_pa:#x} (listed there once); "
        "a direct map never shares tables"))
