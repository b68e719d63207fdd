"""x86-64 page-table levels and entries (docs/format.md §9.1, §9.2).

An entry is decoded once into a :class:`PageTableEntry`; the walker, the direct-map finder,
the reports and the teaching output all read that record and never re-derive a mask.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

from ..memory import PAGE_SIZE
from .errors import UnsupportedLevels

# ---- entry bits (arch/x86/include/asm/pgtable_types.h, Intel SDM vol. 3 §4.5) -------------
P, RW, US, PWT, PCD, A, D, PS, G = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100
PAT_4K = 0x80           # bit 7 of a 4 KiB PTE is PAT (there is no PS in a PTE)
PAT_LARGE = 0x1000      # bit 12 of a 2 MiB / 1 GiB leaf is PAT, not an address bit
NX = 1 << 63
PKEY_SHIFT, PKEY_MASK = 59, 0xF   # bits 59..62 of a leaf (protection key, when CR4.PKE)

ADDR_MASK = 0x000FFFFFFFFFF000    # bits 12..51: a table's or a 4 KiB page's frame
ENTRIES = 512                     # per table, every level
TABLE_SIZE = PAGE_SIZE


@dataclass(frozen=True)
class Level:
    """One paging level: what Linux and Intel call it, the VA bits it indexes (shift..shift+8),
    and whether PS (bit 7) makes an entry there a leaf (PUD: 1 GiB, PMD: 2 MiB)."""

    linux: str           # PGD / P4D / PUD / PMD / PTE
    intel: str           # PML5 / PML4 / PDPT / PD / PT
    shift: int           # 48 39 30 21 12
    large_ok: bool       # PS makes a leaf here
    last: bool = False   # every present entry is a leaf (PTE)

    @property
    def span(self) -> int:
        """Bytes of virtual address space one entry covers."""
        return 1 << self.shift

    def index(self, va: int) -> int:
        return (va >> self.shift) & (ENTRIES - 1)

    @property
    def name(self) -> str:
        return f"{self.linux}/{self.intel}"

    def __str__(self) -> str:
        return self.linux


# The same PML4 level is Linux's PGD under 4 levels and its P4D under 5 levels (LA57).
PML5 = Level("PGD", "PML5", 48, False)
PML4_AS_PGD = Level("PGD", "PML4", 39, False)
PML4_AS_P4D = Level("P4D", "PML4", 39, False)
PDPT = Level("PUD", "PDPT", 30, True)
PD = Level("PMD", "PD", 21, True)
PT = Level("PTE", "PT", 12, False, last=True)

LEVELS = {4: (PML4_AS_PGD, PDPT, PD, PT), 5: (PML5, PML4_AS_P4D, PDPT, PD, PT)}


def levels_for(n: int) -> Tuple[Level, ...]:
    if n not in LEVELS:
        raise UnsupportedLevels(f"x86-64 paging has 4 or 5 levels, not {n}")
    return LEVELS[n]


def size_text(size: int) -> str:
    """'4K', '2M', '1G' (any power of two in K/M/G/T)."""
    for unit, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return str(size)


@dataclass(frozen=True)
class PageTableEntry:
    """One decoded 64-bit entry.  For a non-present entry only `value`, `level` and
    `present` mean anything (the other bits are software-defined: swap/PROT_NONE)."""

    value: int
    level: Level
    present: bool
    writable: bool
    user: bool
    pwt: bool
    pcd: bool
    accessed: bool
    dirty: bool
    large: bool          # PS at a PUD/PMD entry (bit 7 elsewhere is PAT or reserved)
    global_: bool
    nx: bool
    pat: bool            # bit 7 of a PTE, bit 12 of a large leaf
    pkey: int            # bits 59..62 of a leaf
    frame: int           # physical address the entry points to (table or page), C-bit removed
    encrypted: bool = False   # the SME C-bit was set (and removed from `frame`)
    reserved: int = 0    # reserved bits set (see `reserved_bits`): the MMU faults on this entry

    @property
    def is_leaf(self) -> bool:
        return self.present and (self.level.last or self.large)

    @property
    def page_size(self) -> Optional[int]:
        """4096, 2 MiB or 1 GiB for a leaf; None for a table pointer or a non-present entry."""
        return self.level.span if self.is_leaf else None

    @property
    def kind(self) -> str:
        """'not present', '4K', '2M', '1G', or 'table' (points to the next level's table)."""
        if not self.present:
            return "not present"
        return size_text(self.level.span) if self.is_leaf else "table"

    def flags_text(self) -> str:
        """Set bits by name, e.g. 'P RW A D NX G PS'."""
        if not self.present:
            return "not present"
        names = [
            name
            for name, on in (
                ("P", True), ("RW", self.writable), ("US", self.user), ("PWT", self.pwt),
                ("PCD", self.pcd), ("A", self.accessed), ("D", self.dirty), ("NX", self.nx),
                ("G", self.global_), ("PS", self.large), ("PAT", self.pat), ("C", self.encrypted),
            )
            if on
        ]
        if self.pkey:
            names.append(f"PK{self.pkey}")
        if self.reserved:
            names.append(f"RSVD={self.reserved:#x}")
        return " ".join(names)

    def __str__(self) -> str:
        if not self.present:
            return f"{self.level.linux} {self.value:#018x} not present"
        what = f"{self.kind} page" if self.is_leaf else "table"
        return f"{self.level.linux} {self.value:#018x} [{self.flags_text()}] -> {what} at {self.frame:#x}"


_new = object.__new__


def _record(value, level, present, writable, user, pwt, pcd, accessed, dirty, large, global_, nx, pat, pkey, frame,
            encrypted, reserved=0):
    """A PageTableEntry without the frozen dataclass __init__ (one object.__setattr__ per
    field: 5 us).  Filling __dict__ directly gives the same immutable, comparable record in
    a third of the time, which matters when leaves are enumerated by the ten thousand."""
    entry = _new(PageTableEntry)
    entry.__dict__.update(
        value=value, level=level, present=present, writable=writable, user=user, pwt=pwt, pcd=pcd,
        accessed=accessed, dirty=dirty, large=large, global_=global_, nx=nx, pat=pat, pkey=pkey,
        frame=frame, encrypted=encrypted, reserved=reserved,
    )
    return entry


LARGE_LEAF_RESERVED_LOW = 0x2000  # lowest reserved bit of a 2 MiB / 1 GiB leaf (bit 12 is PAT)


def reserved_bits(value: int, level: Level) -> int:
    """The reserved bits set in a present entry, which make the MMU fault (Intel SDM vol. 3
    §4.5, tables 4-15..4-20), among those a reader can check without knowing MAXPHYADDR:
    PS in a PML4/PML5 entry, and bits 13..20 (2 MiB) or 13..29 (1 GiB) of a large leaf.
    Address bits above MAXPHYADDR show up as a frame beyond memory instead (unreadable)."""
    if not value & P or level.last or not value & PS:
        return 0
    if not level.large_ok:
        return PS
    return value & (level.span - 1) & ~(LARGE_LEAF_RESERVED_LOW - 1)


def decode(value: int, level: Level, sme_mask: int = 0) -> PageTableEntry:
    """Decode the raw 64-bit `value` of an entry at `level` (docs/format.md §9.2).  `sme_mask` is the
    AMD SME C-bit (e.g. 1 << 47), removed from the address (docs/format.md §9.4)."""
    if not value & P:
        return _record(value, level, False, False, False, False, False, False, False, False, False, False, False,
                       0, 0, False)
    large = level.large_ok and value & PS != 0
    leaf = level.last or large
    if large:
        frame = value & ADDR_MASK & ~sme_mask & ~(level.span - 1)  # bits 51..21 or 51..30
        pat = value & PAT_LARGE != 0
    else:
        frame = value & ADDR_MASK & ~sme_mask
        pat = level.last and value & PAT_4K != 0
    return _record(
        value,
        level,
        True,
        value & RW != 0,
        value & US != 0,
        value & PWT != 0,
        value & PCD != 0,
        value & A != 0,
        value & D != 0,
        large,
        leaf and value & G != 0,
        value & NX != 0,
        pat,
        (value >> PKEY_SHIFT) & PKEY_MASK if leaf else 0,
        frame,
        value & sme_mask != 0,
        reserved_bits(value, level),
    )
