"""The hibernated kernel's swap areas (`swap_info[]`), as read from its memory, and which one
is the input's.  Pure Python: the reading is vol/kernel_swap.py's."""

from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..format.swap_area import SwapArea, SwapExtent


@dataclass
class KernelSwapArea:
    """One used entry of swap_info[] (struct swap_info_struct, include/linux/swap.h)."""

    type: int  # its index in swap_info[]: the swap type of its entries
    address: int
    flags: int
    max: int  # slots of the area (mkswap's last_page + 1)
    swap_map: int  # address of the use count of each slot (one byte per slot)
    extents: List[SwapExtent]
    frontswap_map: int = 0  # bitmap of slots frontswap (zswap) holds (3.5 .. 6.4), 0 if none

    def first_block(self) -> Optional[int]:
        """The device block of slot 0 (the mkswap header), None without an extent for it."""
        first = [e for e in self.extents if e.start_page == 0]
        return first[0].start_block if first else None


def choose_area(areas: List[KernelSwapArea], area: SwapArea,
                forced: Optional[int] = None) -> Tuple[Optional[KernelSwapArea], str]:
    """The kernel's area that the input holds, and why: its first extent starts at the input's
    swap header block and its size is the mkswap header's (the kernel takes max = last_page + 1);
    `forced` (-e swsusp.swap_type) names it instead."""
    if forced is not None:
        match = [a for a in areas if a.type == forced]
        return (match[0], f"swap type {forced} as given by swsusp.swap_type") if match else \
            (None, f"swsusp.swap_type={forced} is not a used swap area of the kernel (types {[a.type for a in areas]})")
    header_block = area.location.resume_offset
    slots = area.nr_slots  # None when the swap header does not say
    at_header = [a for a in areas if a.first_block() == header_block]
    exact = [a for a in at_header if slots is None or a.max == slots]
    for found, how in ((exact, "first block and size"), (at_header, "first block")):
        if len(found) == 1:
            a = found[0]
            return a, f"swap type {a.type}: {how} match the input's swap header (block {header_block}, {a.max} slots)"
        if len(found) > 1:
            return None, (f"swap types {[a.type for a in found]} all match the input's swap header; "
                          "choose one with -e swsusp.swap_type=N")
    seen = ", ".join(f"type {a.type}: {a.max} slots from block {a.first_block()}" for a in areas) or "none"
    return None, f"no swap area of the kernel starts at block {header_block} (kernel areas: {seen})"
