"""Swap entries as the hibernated kernel wrote them (include/linux/swapops.h,
arch/x86/include/asm/pgtable_64.h).

A process page swapped out leaves a non-present PTE holding a swap entry: a swap *type*
(the index of the swap area in `swap_info[]`) and an *offset* (the slot in that area).
x86-64 has packed the two into the PTE in several ways; the layout is a property of the
kernel, so it is decided once per kernel (`pte_layout_for`), never guessed per entry:

  layout               kernels                                  type bits   offset bits
  l1tf-inverted        4.18+; the L1TF backports (stable 4.4.147+,  59..63  9..58, inverted
                       4.9.119+, 4.14.62+, 4.17.14+, distribution
                       2.6.32/3.10 kernels)
  type-above-protnone  4.8 .. 4.17 without L1TF                     9..13       14..63
  classic              4.0 .. 4.7                                   1..5         9..63
  numa-balancing       3.15 .. 3.19 with CONFIG_NUMA_BALANCING      1..5        10..63
  classic-nonlinear    2.6.28 .. 3.19 (bit 6 = nonlinear file PTE)  1..5         9..63
  early                2.6.24 .. 2.6.27 (include/asm-x86)           1..6         8..63

The rule (`pte_layout_for`): a kernel with the symbol `l1tf_mitigation` (added by the same
L1TF series that inverted the swap offset, so backports carry both) uses l1tf-inverted;
otherwise the kernel version from its banner picks the row (4.8: Knights Landing A/D erratum,
commit 00839ee3b299; 3.15-3.19: _PAGE_NUMA took bit 9 when the kernel has `task_numa_work`;
4.0 removed nonlinear file PTEs; the 2.6.27 header still shifts the offset by 8, the 2.6.32
one by 9).

Types >= nr_swapfiles are not swap areas at all: migration, hwpoison, device-private and
PTE-marker entries take the top type numbers (MAX_SWAPFILES and above).

Page-cache value entries of shmem/tmpfs (a swapped-out file page) hold the arch-independent
swp_entry_t, type in the top bits (`swp_to_radix_entry`): XArray value entries (4.20+) and
radix-tree exceptional entries (3.1 .. 4.19) shift it differently.
"""

import re
from dataclasses import dataclass
from typing import Callable, Container, NamedTuple, Optional, Tuple

from ..memory import U64

PAGE_PRESENT = 0x1
PAGE_ACCESSED, PAGE_DIRTY = 0x20, 0x40
PAGE_PSE, PAGE_GLOBAL = 0x80, 0x100
MAX_SWAPFILES_SHIFT = 5


class SwpEntry(NamedTuple):
    type: int
    offset: int  # the slot in swap area `type`


@dataclass(frozen=True)
class SwapPteLayout:
    """How one kernel stores a swap entry in a non-present PTE."""

    name: str
    kernels: str
    type_shift: int  # first bit of the type (unused when inverted: the type is the top bits)
    type_bits: int
    offset_shift: int  # first bit of the offset field
    inverted: bool = False  # L1TF: offset stored as ~offset, type in the top `type_bits` bits
    protnone: int = PAGE_GLOBAL  # the bit that makes a non-present PTE present to the kernel (PROT_NONE)
    none_ignored: int = 0  # bits pte_none() ignores (A/D set by the KNL erratum, 4.8+)
    file_bit: Optional[int] = None  # nonlinear file PTE bit (remap_file_pages, before 4.0)

    def is_swap_pte(self, pte: int) -> bool:
        """!pte_none && !pte_present (&& !pte_file before 4.0): is_swap_pte() of swapops.h."""
        if pte & (PAGE_PRESENT | self.protnone) or not pte & ~self.none_ignored:
            return False
        return self.file_bit is None or not pte >> self.file_bit & 1

    def swp_entry(self, pte: int) -> Optional[SwpEntry]:
        """The swap entry of a swap PTE, None for any other PTE (none, present, file)."""
        if not self.is_swap_pte(pte):
            return None
        if self.inverted:
            pte_type = pte >> (64 - self.type_bits)
            offset = ((~pte << self.type_bits) & U64) >> (self.offset_shift + self.type_bits)
            return SwpEntry(pte_type, offset)
        return SwpEntry(pte >> self.type_shift & ((1 << self.type_bits) - 1), pte >> self.offset_shift)

    def make_pte(self, entry: SwpEntry) -> int:
        """__swp_entry_to_pte(): the PTE the kernel writes for `entry` (tests, generators)."""
        if self.inverted:
            shift = self.offset_shift + self.type_bits
            return ((~entry.offset << shift) & U64) >> self.type_bits | entry.type << (64 - self.type_bits)
        return entry.type << self.type_shift | entry.offset << self.offset_shift


L1TF_INVERTED = SwapPteLayout("l1tf-inverted", "4.18+ and the L1TF backports", 59, 5, 9, inverted=True,
                              none_ignored=PAGE_ACCESSED | PAGE_DIRTY)
TYPE_ABOVE_PROTNONE = SwapPteLayout("type-above-protnone", "4.8 .. 4.17 without the L1TF backport", 9, 5, 14,
                                    none_ignored=PAGE_ACCESSED | PAGE_DIRTY)
CLASSIC = SwapPteLayout("classic", "4.0 .. 4.7", 1, 5, 9)
NUMA_BALANCING = SwapPteLayout("numa-balancing", "3.15 .. 3.19 with CONFIG_NUMA_BALANCING", 1, 5, 10, file_bit=6)
CLASSIC_NONLINEAR = SwapPteLayout("classic-nonlinear", "2.6.28 .. 3.19", 1, 5, 9, file_bit=6)
EARLY = SwapPteLayout("early", "2.6.24 .. 2.6.27", 1, 6, 8, protnone=PAGE_PSE, file_bit=6)
PTE_LAYOUTS = (L1TF_INVERTED, TYPE_ABOVE_PROTNONE, CLASSIC, NUMA_BALANCING, CLASSIC_NONLINEAR, EARLY)

Version = Tuple[int, int, int]
_VERSION = re.compile(rb"Linux version (\d+)\.(\d+)(?:\.(\d+))?")


def banner_version(banner) -> Optional[Version]:
    """(major, minor, patch) of a `Linux version ...` banner."""
    if isinstance(banner, str):
        banner = banner.encode("latin-1", "replace")
    found = _VERSION.search(banner or b"")
    return tuple(int(g or 0) for g in found.groups()) if found else None  # type: ignore[return-value]


def pte_layout_for(version: Optional[Version],
                   has_symbol: Callable[[str], bool]) -> Tuple[Optional[SwapPteLayout], str]:
    """The swap PTE layout of a kernel, and why (see the module docstring)."""
    if has_symbol("l1tf_mitigation"):
        return L1TF_INVERTED, "the kernel has l1tf_mitigation (L1TF series: inverted swap offset)"
    if version is None:
        return None, "no kernel version in the banner and no l1tf_mitigation symbol"
    text = ".".join(map(str, version))
    if version >= (4, 18):
        return L1TF_INVERTED, f"kernel {text} >= 4.18"
    if version >= (4, 8):
        return TYPE_ABOVE_PROTNONE, f"kernel {text}: 4.8 .. 4.17 without l1tf_mitigation"
    if version >= (4, 0):
        return CLASSIC, f"kernel {text}: 4.0 .. 4.7"
    if version >= (3, 15) and has_symbol("task_numa_work"):
        return NUMA_BALANCING, f"kernel {text}: 3.15 .. 3.19 with NUMA balancing (task_numa_work)"
    if version >= (2, 6, 28):
        return CLASSIC_NONLINEAR, f"kernel {text}: 2.6.28 .. 3.19"
    return EARLY, f"kernel {text} < 2.6.28"


@dataclass(frozen=True)
class ValueEntryEncoding:
    """How a page-cache slot holds a swp_entry_t (shmem's swapped-out pages)."""

    name: str
    tag_mask: int
    tag: int
    shift: int  # the swp_entry_t is entry >> shift
    type_shift: int  # SWP_TYPE_SHIFT of that era

    def swp_entry(self, entry: int) -> Optional[SwpEntry]:
        if entry & self.tag_mask != self.tag:
            return None
        value = entry >> self.shift
        return SwpEntry(value >> self.type_shift, value & ((1 << self.type_shift) - 1))

    def make_entry(self, entry: SwpEntry) -> int:
        return (entry.type << self.type_shift | entry.offset) << self.shift | self.tag


# xa_mk_value(): BITS_PER_XA_VALUE (63) - MAX_SWAPFILES_SHIFT
XA_VALUE = ValueEntryEncoding("xarray-value", 1, 1, 1, 63 - MAX_SWAPFILES_SHIFT)
# RADIX_TREE_EXCEPTIONAL_ENTRY (2), RADIX_TREE_EXCEPTIONAL_SHIFT (2): 64 - 5 - 2
RADIX_EXCEPTIONAL = ValueEntryEncoding("radix-exceptional", 3, 2, 2, 64 - MAX_SWAPFILES_SHIFT - 2)


class EntryKind:
    """What a swap entry met in a page table or page cache is, for the area we hold."""

    OURS = "swapped, recovered"
    BEYOND = "swapped, slot beyond the area"
    UNREADABLE = "swapped, slot not in the input"
    ZSWAP = "swapped, held by zswap in RAM (its slot was never written)"
    ELSEWHERE = "swapped to another swap area"
    SPECIAL = "not swap (migration, hwpoison, device, marker)"


@dataclass(frozen=True)
class SwapSettings:
    """What the hibernated kernel says about swap: our area's type, how many areas it had,
    and how it encodes entries."""

    our_type: int
    nr_swapfiles: int
    nr_slots: int  # swap_info[our_type]->max
    pte_layout: SwapPteLayout

    def kind(self, entry: SwpEntry) -> str:
        if entry.type == self.our_type:
            return EntryKind.OURS if 0 < entry.offset < self.nr_slots else EntryKind.BEYOND
        return EntryKind.ELSEWHERE if entry.type < self.nr_swapfiles else EntryKind.SPECIAL


def classify(settings: SwapSettings, entry: SwpEntry, held_by_zswap: Container[int],
             readable: Callable[[int], bool]) -> str:
    """The EntryKind of a swap entry met in a page table or page cache: `settings.kind`,
    then, for a slot of our area, whether zswap kept the page in RAM (its slot was never
    written) and whether the input holds the slot."""
    kind = settings.kind(entry)
    if kind == EntryKind.OURS:
        if entry.offset in held_by_zswap:
            return EntryKind.ZSWAP
        if not readable(entry.offset):
            return EntryKind.UNREADABLE
    return kind


def layout_named(name: str) -> SwapPteLayout:
    for layout in PTE_LAYOUTS:
        if layout.name == name:
            return layout
    raise ValueError(f"unknown swap PTE layout {name!r} (known: {', '.join(p.name for p in PTE_LAYOUTS)})")
