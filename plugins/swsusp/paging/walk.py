"""Page walks from a CR3 (spec §9.1, §9.3): 4 and 5 levels are the same loop over data."""

import struct
from typing import Callable, Optional

ADDR_MASK = 0x000FFFFFFFFFF000
CR3_ADDR_MASK = ADDR_MASK  # drops PCID (bits 0-11) and the no-flush bit 63
PTI_USER_BIT = 1 << 12  # with PTI the user half of the PGD pair is 4 KiB above the kernel half

_P, _PS = 0x1, 0x80

# (name, VA shift, level where PS makes a leaf)
LEVELS_4 = (("PML4", 39, False), ("PDPT", 30, True), ("PD", 21, True), ("PT", 12, False))
LEVELS_5 = (("PML5", 48, False),) + LEVELS_4

ReadPhys = Callable[[int, int], bytes]


def levels_for(n: int):
    if n not in (4, 5):
        raise ValueError("x86-64 paging has 4 or 5 levels")
    return LEVELS_4 if n == 4 else LEVELS_5


def translate(read: ReadPhys, root: int, va: int, levels: int = 4) -> Optional[int]:
    """Physical address of `va`, or None when not mapped or a table cannot be read."""
    table = root & CR3_ADDR_MASK
    for _name, shift, may_be_large in levels_for(levels):
        index = (va >> shift) & 0x1FF
        try:
            raw = read(table + 8 * index, 8)
        except Exception:
            return None
        if len(raw) != 8:
            return None
        entry = struct.unpack("<Q", raw)[0]
        if not entry & _P:
            return None
        if shift == 12 or (may_be_large and entry & _PS):
            size_mask = (1 << shift) - 1
            return (entry & ADDR_MASK & ~size_mask) | (va & size_mask)
        table = entry & ADDR_MASK
    return None


def paging_levels(read: ReadPhys, cr3: int, va: int, pa: int) -> Optional[int]:
    """4 or 5: the depth under which `va` translates to `pa` (spec §10 step 2)."""
    for levels in (4, 5):
        if translate(read, cr3, va, levels) == pa:
            return levels
    return None
