"""The swap_map_page chain (docs/format.md §3): `get_swap_reader()` in kernel/power/swap.c.

    struct swap_map_page { sector_t entries[511]; sector_t next_swap; };

Entry i is the swap block holding stream page i; a zero entry ends the stream.
"""

from array import array
from typing import Callable, List, Optional, Set

from .errors import SwsuspFormatError
from .structs import MAP_PAGE_ENTRIES, PAGE_SIZE, SWAP_MAP_PAGE_STRUCT


class SwapMap:
    """The stream's block list, in compact arrays (4 or 8 bytes per stream page)."""

    def __init__(self, entries: array, map_blocks: List[int], broken: Optional[SwsuspFormatError] = None,
                 block_offset: Optional[Callable[[int], int]] = None) -> None:
        self.entries = entries  # stream page i -> swap block
        self.map_blocks = map_blocks  # where the map pages themselves are
        self.broken = broken  # why the chain stopped early (salvage: the entries before it are kept)
        self._block_offset = block_offset

    def __len__(self) -> int:
        return len(self.entries)

    def entry_offset(self, i: int) -> Optional[int]:
        """File offset of map entry i (where a bad block number is stored)."""
        if self._block_offset is None or i // MAP_PAGE_ENTRIES >= len(self.map_blocks):
            return None
        return self._block_offset(self.map_blocks[i // MAP_PAGE_ENTRIES]) + 8 * (i % MAP_PAGE_ENTRIES)


def read_swap_map(
    first: int,
    read_block: Callable[[int], bytes],
    block_offset: Callable[[int], int],
    is_block: Callable[[int], bool],  # true on one interval of block numbers
    max_entries: int,
    first_pointer_offset: int,
) -> SwapMap:
    """Follow next_swap from `first` until 0 and collect entries up to the first zero.

    Every pointer is checked before use: inside the swap area, never visited twice (a
    looping chain), and the total bounded by `max_entries` (the stream cannot have more
    pages than the area has blocks), so hostile input cannot make this hang or grow.
    A chain that breaks after its first page keeps what it listed (`SwapMap.broken` says
    why): the pages before the break are still evidence.  Entries are not checked here;
    a bad one damages only its own page (checked when read).
    """
    entries = array("Q")
    map_blocks: List[int] = []
    seen: Set[int] = set()
    block, came_from = first, None
    broken = None
    while block:
        # where the pointer itself is stored: the header's `image`, or a next_swap
        where = block_offset(came_from) + PAGE_SIZE - 8 if came_from is not None else first_pointer_offset
        try:
            values = _map_page(block, where, seen, read_block, is_block)
        except SwsuspFormatError as exc:
            if not entries:
                raise
            broken = exc
            break
        map_blocks.append(block)
        page_entries = values[:MAP_PAGE_ENTRIES]
        if 0 in page_entries:
            entries.extend(page_entries[: page_entries.index(0)])
            break  # the last map page: unused entries are zero (next_swap is 0 too)
        entries.extend(page_entries)
        if len(entries) > max_entries:
            broken = SwsuspFormatError(
                f"swap_map chain lists more than {max_entries} pages, more than the swap area holds",
                block_offset(block),
                block=block,
            )
            del entries[max_entries:]
            break
        block, came_from = values[MAP_PAGE_ENTRIES], block
    if not entries:
        raise SwsuspFormatError("swap_map_page chain is empty", block_offset(first), block=first)
    if max(entries) < 1 << 32:
        entries = array("I", entries)  # 4 bytes per stream page on any disk up to 16 TiB
    return SwapMap(entries, map_blocks, broken, block_offset)


def _map_page(block: int, where: int, seen: set, read_block, is_block) -> tuple:
    if not is_block(block):
        raise SwsuspFormatError(f"swap_map_page pointer {block} is outside the swap area", where, block=block)
    if block in seen:
        raise SwsuspFormatError(f"swap_map_page chain loops back to block {block}", where, block=block)
    seen.add(block)
    return SWAP_MAP_PAGE_STRUCT.unpack(read_block(block))


def first_bad_entry(smap: SwapMap, first: int, end: int, is_block: Callable[[int], bool],
                    where: Callable[[int], str] = lambda b: "outside the swap area") -> Optional[SwsuspFormatError]:
    """The first entry in [first, end) naming a block outside the swap area, as an error
    (`where` says where such a block is).  is_block accepts one interval, so the extremes
    decide (one check per read, not per page)."""
    part = smap.entries[first:end]
    if not part or (is_block(min(part)) and is_block(max(part))):
        return None
    i = next(first + j for j, b in enumerate(part) if not is_block(b))
    b = smap.entries[i]
    return SwsuspFormatError(f"swap_map entry {i} points to block {b}, {where(b)}", smap.entry_offset(i), block=b)
