"""Page walks from a CR3 over any `read(phys_addr, length) -> bytes` (docs/format.md §9.1, §9.3, §9.4).

The read function (`ReadPhys`) returns exactly `length` bytes, or raises KeyError when any of
them is not in memory: `errors.MissingMemory` from the Volatility adapters, the format's
PageNotInImage (and PageDamaged) from a hibernation image, a dict's KeyError from a table of
pages.  It never returns a short read or None; any other exception is a bug and propagates.

4 and 5 levels are the same code: one loop (or one recursion) over the `Level` records of
`entries.py`.  A table page that cannot be read (absent from a hibernation image, outside a
dump) is "unreadable", never "not present"; a table that points back to itself or to an
ancestor is reported and not followed by the enumerations; an entry with reserved bits set
(PS in a PML4/PML5 entry, bits 13..20/29 of a large leaf) is "reserved" and, as the MMU
does, not followed.  Hostile tables cost bounded work: a walk has at most one step per
level, and the enumerations with `shared=False` read every table page at most once.

    paging = Paging(read, cr3)                 # 4-level, PCID/bit 63 dropped
    paging.translate(va)                       # -> physical address or None
    for step in paging.walk(va): print(step)   # teaching / --explain
    for leaf in paging.leaves(lo, hi): ...     # every present mapping, skipping empty subtrees
"""

import sys
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..memory import U64
from .entries import (
    ADDR_MASK,
    ENTRIES,
    LARGE_LEAF_RESERVED_LOW,
    PS,
    TABLE_SIZE,
    Level,
    P,
    PageTableEntry,
    decode,
    levels_for,
    reserved_bits,
)
from .errors import NonCanonicalAddress

__all__ = [
    "ADDR_MASK",
    "CR3_ADDR_MASK",
    "PTI_USER_BIT",
    "Leaf",
    "Paging",
    "Problem",
    "ReadPhys",
    "Step",
    "TableRef",
    "detect_levels",
    "detect_sme_bit",
    "kernel_paging",
    "levels_for",
    "pti_kernel_root",
    "read_table",
    "table_entries",
]

CR3_ADDR_MASK = ADDR_MASK  # drops PCID (bits 0-11) and the no-flush bit 63 (docs/format.md §9.3)
PTI_USER_BIT = 1 << 12  # with PTI the user half of the PGD pair is 4 KiB above the kernel half
TABLE_CACHE_MAX = 8192  # table pages kept per Paging (32 MiB of raw entries at most)
_NOT_CACHED: Any = object()  # (None is cached too: an unreadable table)

ReadPhys = Callable[[int, int], bytes]  # read(pa, n): n bytes, or KeyError (see the module docstring)

# Step.status / what ended a walk
TABLE, LEAF, NOT_PRESENT, UNREADABLE, RESERVED = "table", "leaf", "not present", "unreadable", "reserved"
# Problem.kind: what an enumeration refused to follow
LOOP = "loop"
PROBLEM_KINDS = (LOOP, UNREADABLE, RESERVED)


@dataclass(frozen=True)
class Step:
    """One level of a walk: the entry at `entry_pa` (index `index` of the table at `table_pa`).
    `status` says what it led to: 'table' (next step follows), 'leaf' (the walk ends with a
    translation), 'not present', 'unreadable' (the table page could not be read; `entry`
    is None) or 'reserved' (reserved bits set: the MMU faults, the walk ends).
    `revisit` marks a table pointer back to a table already on this walk."""

    va: int
    level: Level
    index: int
    table_pa: int
    entry_pa: int
    entry: Optional[PageTableEntry]
    status: str
    revisit: bool = False

    @property
    def pa(self) -> Optional[int]:
        """The translation, on the leaf step."""
        if self.status != LEAF or self.entry is None:
            return None
        return self.entry.frame | (self.va & (self.level.span - 1))

    def __str__(self) -> str:
        where = f"{self.level.linux:3} {self.level.intel:4}[{self.index:3}] @ {self.entry_pa:#x}"
        e = self.entry
        if self.status == UNREADABLE or e is None:
            return f"{where}: table page {self.table_pa:#x} unreadable"
        if self.status == NOT_PRESENT:
            return f"{where} = {e.value:#018x}: not present"
        if self.status == RESERVED:
            return f"{where} = {e.value:#018x}: reserved bits {e.reserved:#x} set (the MMU faults)"
        if self.status == LEAF:
            return f"{where} = {e.value:#018x} [{e.flags_text()}] -> {e.kind} page {e.frame:#x}: pa {self.pa:#x}"
        loop = " (already on this walk: loop)" if self.revisit else ""
        return f"{where} = {e.value:#018x} [{e.flags_text()}] -> table {e.frame:#x}{loop}"


@dataclass(frozen=True)
class Leaf:
    """A present mapping: `size` bytes at virtual `va` -> physical `pa`.  `path` holds the
    physical addresses of the tables walked, root first; the last one holds `entry_pa`."""

    va: int
    pa: int
    size: int
    entry: PageTableEntry
    entry_pa: int
    path: Tuple[int, ...]

    def __str__(self) -> str:
        return (f"{self.va:#x} -> {self.pa:#x} {self.entry.kind} [{self.entry.flags_text()}] "
                f"({self.entry.level.linux} @ {self.entry_pa:#x})")


@dataclass(frozen=True)
class TableRef:
    """A table page reached by an enumeration: its level, where it is, the virtual range its
    512 entries cover, the entry that points to it (None for the root) and whether it could
    be read.  `depth` is 0 for the root."""

    level: Level
    pa: int
    va_start: int
    va_end: int  # exclusive (2**64 for the last table of the address space)
    entry_pa: Optional[int]
    readable: bool
    depth: int

    def __str__(self) -> str:
        state = "" if self.readable else " (unreadable)"
        return f"{self.level.linux} table {self.pa:#x} for {self.va_start:#x}-{self.va_end:#x}{state}"


@dataclass(frozen=True)
class Problem:
    """Something an enumeration refused to follow (`kind`, one of PROBLEM_KINDS):
    'unreadable' (a table page that cannot be read), 'loop' (an entry pointing to its own
    table or an ancestor) or 'reserved' (an entry with reserved bits set; the MMU faults)."""

    kind: str
    level: Level  # level of the entry pointing to the table (of the table itself for the root)
    va: int  # first virtual address the pointing entry covers
    table_pa: int  # the table that could not be read / that is already on the path / the frame a reserved entry names
    entry_pa: Optional[int]
    value: Optional[int] = None  # the entry (None for an unreadable root)

    def __str__(self) -> str:
        by = f" (entry @ {self.entry_pa:#x})" if self.entry_pa is not None else " (root)"
        if self.kind == LOOP:
            return (f"{self.level.linux} entry for {self.va:#x} points back to table "
                    f"{self.table_pa:#x}{by}: not followed")
        if self.kind == RESERVED:
            bits = reserved_bits(self.value or 0, self.level)
            return (f"{self.level.linux} entry for {self.va:#x} has reserved bits {bits:#x} set{by}: "
                    "the MMU faults, not followed")
        return f"table {self.table_pa:#x} for {self.va:#x} cannot be read{by}"


def table_entries(raw) -> array:
    """The 512 little-endian 64-bit entries of a 4096-byte table page."""
    table = array("Q")
    table.frombytes(raw)
    if sys.byteorder != "little":
        table.byteswap()
    return table


def read_table(read: ReadPhys, pa: int) -> Optional[array]:
    """The 512 entries of the table page at `pa`, or None when memory is missing there."""
    try:
        return table_entries(read(pa, TABLE_SIZE))
    except KeyError:  # the ReadPhys contract: no memory there
        return None


class Paging:
    """The page tables under one CR3.

    `root` is `cr3` with the PCID bits (0-11), bit 63 and the SME C-bit (`sme_mask`) cleared,
    and with bit 12 cleared when `pti` says the value may be the user half of a PTI pair
    (docs/format.md §9.3).  Table pages are read once and cached (by physical address)."""

    def __init__(self, read: ReadPhys, cr3: int, levels: int = 4, sme_mask: int = 0, pti: bool = False) -> None:
        self.read = read
        self.cr3 = cr3
        self.levels: Tuple[Level, ...] = levels_for(levels)
        self.sme_mask = sme_mask
        root = cr3 & CR3_ADDR_MASK & ~sme_mask
        self.root = root & ~PTI_USER_BIT if pti else root
        self.va_bits = self.levels[0].shift + 9  # 48 or 57
        self._half = 1 << (self.va_bits - 1)
        self._sign = U64 ^ ((1 << self.va_bits) - 1)
        self._tables: Dict[int, Optional[array]] = {}
        self.table_reads = 0  # pages actually read through `read` (cache misses)
        self.last_problems: List[Problem] = []

    def __repr__(self) -> str:
        return f"Paging(root={self.root:#x}, levels={len(self.levels)}, sme_mask={self.sme_mask:#x})"

    @property
    def tables_cached(self) -> int:
        """Distinct table pages held (each read once while the cache was not full)."""
        return len(self._tables)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def kernel_half(self) -> int:
        """First VA of the upper (kernel) half: 0xffff800000000000, or 0xff00000000000000 (LA57)."""
        return self.canonical(self._half)

    # ---- addresses --------------------------------------------------------------------------
    def is_canonical(self, va: int) -> bool:
        """A 64-bit address whose top bits repeat bit 47 (or 56); never a negative number or
        one wider than 64 bits (a mask would otherwise make -1 or a 71-bit number walkable)."""
        if not 0 <= va < 1 << 64:
            return False
        top = va & self._sign
        return top == 0 if not va & self._half else top == self._sign

    def canonical(self, linear: int) -> int:
        """Sign-extend a `va_bits`-bit linear address (bit 47 or 56) to 64 bits."""
        linear &= (1 << self.va_bits) - 1
        return linear | self._sign if linear & self._half else linear

    def _linear(self, va: int, end: bool) -> int:
        """Position of `va` in the va_bits-wide space where the lower half comes first and the
        upper half follows (so canonical order and linear order agree).  Non-canonical bounds
        clamp to the hole's edge; an end of 2**64 or more means "to the top"."""
        if va >= 1 << 64:
            return 1 << self.va_bits
        if va < 0:
            return 0
        if self.is_canonical(va):
            return va & ((1 << self.va_bits) - 1)
        return self._half  # in the hole: both a start and an end clamp to the upper half's start

    # ---- tables -------------------------------------------------------------------------------
    def table(self, pa: int) -> Optional[array]:
        """The 512 entries of the table page at `pa`, or None when it cannot be read."""
        cached = self._tables.get(pa, _NOT_CACHED)
        if cached is not _NOT_CACHED:
            return cached
        self.table_reads += 1
        entries = read_table(self.read, pa)
        if len(self._tables) >= TABLE_CACHE_MAX:
            self._tables.clear()
        self._tables[pa] = entries
        return entries

    # ---- one address ------------------------------------------------------------------------
    def walk(self, va: int) -> List[Step]:
        """Every step from the root to the leaf, or to the first non-present entry or unreadable
        table (the last step's `status` says which).  Follows table pointers as the MMU does,
        marking (not refusing) one that points back to a table already walked."""
        if not self.is_canonical(va):
            raise NonCanonicalAddress(f"{va:#x} is not canonical for {self.va_bits}-bit virtual addresses")
        steps: List[Step] = []
        table_pa, seen = self.root, {self.root}
        for level in self.levels:
            index = level.index(va)
            entry_pa = table_pa + 8 * index
            table = self.table(table_pa)
            if table is None:
                steps.append(Step(va, level, index, table_pa, entry_pa, None, UNREADABLE))
                break
            entry = decode(table[index], level, self.sme_mask)
            if not entry.present:
                steps.append(Step(va, level, index, table_pa, entry_pa, entry, NOT_PRESENT))
                break
            if entry.reserved:
                steps.append(Step(va, level, index, table_pa, entry_pa, entry, RESERVED))
                break
            if entry.is_leaf:
                steps.append(Step(va, level, index, table_pa, entry_pa, entry, LEAF))
                break
            revisit = entry.frame in seen
            steps.append(Step(va, level, index, table_pa, entry_pa, entry, TABLE, revisit))
            table_pa = entry.frame
            seen.add(table_pa)
        return steps

    def translate(self, va: int) -> Optional[int]:
        """Physical address of `va`; None when not mapped, not canonical, a table is unreadable
        or an entry has reserved bits set (as `walk`)."""
        if not self.is_canonical(va):
            return None
        table_pa, sme = self.root, self.sme_mask
        for level in self.levels:
            table = self.table(table_pa)
            if table is None:
                return None
            value = table[(va >> level.shift) & 0x1FF]
            if not value & P:
                return None
            if level.last:
                return (value & ADDR_MASK & ~sme) | (va & 0xFFF)
            if value & PS:  # a large leaf, or PS where it is reserved (PML4/PML5): fault
                offset_mask = level.span - 1
                if not level.large_ok or value & offset_mask & ~(LARGE_LEAF_RESERVED_LOW - 1):
                    return None
                return (value & ADDR_MASK & ~sme & ~offset_mask) | (va & offset_mask)
            table_pa = value & ADDR_MASK & ~sme
        return None  # not reached: the PTE level always ends the walk

    # ---- ranges ---------------------------------------------------------------------------
    def _enumerate(
        self, va_start: int, va_end: int, want_tables: bool, want_leaves: bool, problems: List[Problem],
        shared: bool = True
    ):
        """Depth-first, ascending-VA visit of [va_start, va_end).  Yields
        ('table', TableRef) and ('leaf', (linear_va, value, level, entry_pa, path)).
        Non-present entries are skipped without looking below them; every table page is read
        at most once (cache); loops and unreadable tables go to `problems`.  With `shared`
        False a table already enumerated through another entry is not enumerated again
        (espfix maps one PTE table under many PMD entries: 65536 leaves of a few pages)."""
        lo, hi = self._linear(va_start, False), self._linear(va_end, True)
        if lo >= hi:
            return
        levels, sme, canonical = self.levels, self.sme_mask, self.canonical
        last_depth = len(levels) - 1
        done = set()

        def visit(table_pa: int, depth: int, base: int, path: Tuple[int, ...], entry_pa: Optional[int],
                  entry_value: Optional[int]):
            level = levels[depth]
            table = self.table(table_pa)
            if want_tables:
                end = canonical(base + ENTRIES * level.span - 1) + 1  # exclusive; 2**64 at the top
                yield "table", TableRef(level, table_pa, canonical(base), end, entry_pa, table is not None, depth)
            if table is None:
                parent = levels[depth - 1] if depth else level
                problems.append(Problem(UNREADABLE, parent, canonical(base), table_pa, entry_pa, entry_value))
                return
            shift = level.shift
            reserved_low = (level.span - 1) & ~(LARGE_LEAF_RESERVED_LOW - 1)
            first = max(0, (lo - base) >> shift)
            last = min(ENTRIES - 1, (hi - 1 - base) >> shift)
            is_last, large_ok = depth == last_depth, level.large_ok
            for index in range(first, last + 1):
                value = table[index]
                if not value & P:
                    continue
                va = base + (index << shift)
                if is_last or (value & PS and not value & reserved_low and large_ok):
                    if want_leaves:
                        yield "leaf", (va, value, level, table_pa + 8 * index, path)
                    continue
                child = value & ADDR_MASK & ~sme
                if value & PS:  # PS where it is reserved, or reserved low bits of a large leaf
                    frame = child & ~(level.span - 1) if large_ok else child  # as decode() names it
                    problems.append(Problem(RESERVED, level, canonical(va), frame, table_pa + 8 * index, value))
                    continue
                if child in path:
                    problems.append(Problem(LOOP, level, canonical(va), child, table_pa + 8 * index, value))
                    continue
                if not shared:
                    if child in done:
                        continue
                    done.add(child)
                yield from visit(child, depth + 1, va, path + (child,), table_pa + 8 * index, value)

        yield from visit(self.root, 0, 0, (self.root,), None, None)

    def leaves(
        self, va_start: int = 0, va_end: int = 1 << 64, problems: Optional[List[Problem]] = None, shared: bool = True
    ) -> Iterator[Leaf]:
        """Every present mapping overlapping [va_start, va_end), ascending by virtual address.
        Problems (unreadable tables, loops) are appended to `problems` (default: a new list
        kept as `self.last_problems`).  `shared=False`: a table reached through several
        entries is enumerated only the first time."""
        problems = self._problems(problems)
        sme, canonical = self.sme_mask, self.canonical
        visits = self._enumerate(va_start, va_end, False, True, problems, shared)
        for _kind, (va, value, level, entry_pa, path) in visits:
            entry = decode(value, level, sme)
            yield Leaf(canonical(va), entry.frame, level.span, entry, entry_pa, path)

    def raw_leaves(
        self, va_start: int = 0, va_end: int = 1 << 64, problems: Optional[List[Problem]] = None, shared: bool = True
    ):
        """Like `leaves` but yields plain (va, pa, size, entry value, entry_pa) tuples and decodes
        nothing: for loops over many thousand leaves (the direct-map search).  `shared=False`
        enumerates a table reached through several entries only the first time."""
        problems = self._problems(problems)
        sme, canonical = self.sme_mask, self.canonical
        visits = self._enumerate(va_start, va_end, False, True, problems, shared)
        for _kind, (va, value, level, entry_pa, _path) in visits:
            span = level.span
            yield canonical(va), value & ADDR_MASK & ~sme & ~(span - 1), span, value, entry_pa

    def tables(self, va_start: int = 0, va_end: int = 1 << 64, problems: Optional[List[Problem]] = None,
               shared: bool = True) -> Iterator[TableRef]:
        """Every table page reached while enumerating [va_start, va_end), root first, in walk
        order.  A table reached through two entries is reported twice (two VA ranges), unless
        `shared` is False (then once)."""
        problems = self._problems(problems)
        for _kind, ref in self._enumerate(va_start, va_end, True, False, problems, shared):
            yield ref

    def _problems(self, problems: Optional[List[Problem]]) -> List[Problem]:
        if problems is None:
            problems = []
            self.last_problems = problems
        return problems


# ---- the kernel's tables from a restore record (docs/format.md §10) -----------------------------
def detect_levels(read: ReadPhys, cr3: int, va: int, pa: int, sme_mask: int = 0) -> Optional[int]:
    """4 or 5: the depth under which `va` translates to `pa` (docs/format.md §10 step 2)."""
    for levels in (4, 5):
        if Paging(read, cr3, levels, sme_mask).translate(va) == pa:
            return levels
    return None


def detect_sme_bit(read: ReadPhys, cr3: int, max_pa: Optional[int] = None) -> int:
    """The AMD SME C-bit mask (e.g. 1 << 47) or 0 (docs/format.md §9.4, heuristic).

    With SME active, cr3 and every present entry of the top-level table carry the C-bit, a
    single bit in 51..32.  A bit qualifies when it is set in every present top-level entry
    (at least two), is the only such bit, clearing it makes cr3 readable, and (given
    `max_pa`, the end of physical memory) it lies above every real frame."""
    root = cr3 & CR3_ADDR_MASK
    high: List[Optional[int]] = [b for b in range(32, 52) if root >> b & 1]
    for bit in high or [None]:  # cr3 carries the C-bit when SME is on; else look at the entries
        table = read_table(read, root & ~(1 << bit) if bit is not None else root)
        if table is None:
            continue
        present = [v for v in table if v & P]
        if len(present) < 2:
            continue
        common = [b for b in range(32, 52) if all(v >> b & 1 for v in present)]
        if len(common) != 1 or (bit is not None and common[0] != bit):
            continue
        if max_pa is not None and (1 << common[0]) < max_pa:
            continue  # a real address bit of this machine's memory
        return 1 << common[0]
    return 0


def pti_kernel_root(read: ReadPhys, root: int) -> int:
    """`root`, or the kernel half of its PTI pair when `root` (bit 12 set) looks like the user
    half: the page 4 KiB below has more present entries in slots 256-511 (docs/format.md §9.3)."""
    if not root & PTI_USER_BIT:
        return root
    mine, below = read_table(read, root), read_table(read, root & ~PTI_USER_BIT)
    if below is None:
        return root
    if mine is None or _kernel_entries(below) > _kernel_entries(mine):
        return root & ~PTI_USER_BIT
    return root


def _kernel_entries(table: array) -> int:
    """Present entries in the kernel half (slots 256-511) of a top-level table."""
    return sum(1 for v in table[256:] if v & P)


def kernel_paging(
    read: ReadPhys,
    cr3: int,
    jump_address: Optional[int] = None,
    jump_address_phys: Optional[int] = None,
    max_pa: Optional[int] = None,
) -> Optional[Paging]:
    """The kernel's page tables from a restore record (docs/format.md §10 steps 1-2): the SME C-bit
    detected and cleared, the PTI kernel half chosen, and 4 or 5 levels decided by the walk
    that takes `jump_address` to `jump_address_phys` (4 when the record has no
    jump_address_phys: before 5-level support).  None when no choice translates it."""
    sme = detect_sme_bit(read, cr3, max_pa)
    root = cr3 & CR3_ADDR_MASK & ~sme
    if jump_address is None or jump_address_phys is None:
        return Paging(read, pti_kernel_root(read, root), 4, sme)
    for candidate in dict.fromkeys((pti_kernel_root(read, root), root, root & ~PTI_USER_BIT)):
        levels = detect_levels(read, candidate, jump_address, jump_address_phys, sme)
        if levels:
            return Paging(read, candidate, levels, sme)
    return None
