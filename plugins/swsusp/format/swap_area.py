"""The evidence file as the kernel sees a swap device: a swap area addressed by slot.

A hibernation image is one occupant of a swap area (header, map chain, data blocks); pages
swapped out by reclaim, and stale data in free slots, are others.  Two numberings meet here,
as in mm/swapfile.c:

  * device blocks: 4 KiB blocks of the partition (or disk) holding the area.  The image's
    header and map entries name device blocks (`swapdev_block()` maps a slot to its block
    before writing).
  * slots (`swp_offset()` of a `swp_entry_t`): positions in the swap area itself, slot 0 being
    the mkswap header.  A process's swap PTE names a slot.  On a swap partition slot == block;
    a swap file's slots reach their blocks through its extents (`struct swap_extent`:
    start_page, nr_pages, start_block), which only the kernel (or the filesystem) knows.

`SwapArea` does both translations in one place; nothing else computes a file offset.
"""

from bisect import bisect_right
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .errors import SwsuspFormatError
from .locate import Location
from .source import Source
from .structs import PAGE_SIZE

BEYOND_END = "beyond the end of the input (truncated file)"


@dataclass(frozen=True)
class SwapExtent:
    """struct swap_extent (mm/swapfile.c): slots [start_page, start_page + nr_pages) lie in
    device blocks [start_block, start_block + nr_pages)."""

    start_page: int
    nr_pages: int
    start_block: int


class SwapArea:
    """The swap area at `location` in `source`.

    `nr_blocks` bounds device blocks (the partition's size); `last_page` (from a version-1
    mkswap header, 0 when unknown) bounds slots.  `extents` maps slots to blocks; without them, slot
    s is block s on a swap partition (header at block 0) and in a swap file copied out of its
    filesystem (the file *is* the area), and unknown inside a filesystem (never assumed
    contiguous)."""

    def __init__(self, source: Source, location: Location, last_page: int = 0,
                 extents: Optional[Sequence[SwapExtent]] = None) -> None:
        self.source = source
        self.location = location
        self.partition = location.partition
        self.nr_blocks = location.partition.size // PAGE_SIZE
        self.last_page = last_page
        # a copied-out swap file with its extents: the input holds slots, in slot order
        self.copied = bool(location.extents)
        if self.copied:
            extents = [SwapExtent(*e) for e in location.extents]
        self.extents: Optional[Tuple[SwapExtent, ...]] = (
            tuple(sorted(extents, key=lambda e: e.start_page)) if extents is not None else None
        )
        self._starts = [e.start_page for e in self.extents] if self.extents else []
        self._by_block: Optional[Tuple[List[int], List[SwapExtent]]] = None  # for block_slot

    def with_extents(self, extents: Sequence[SwapExtent]) -> "SwapArea":
        """The same area with the kernel's slot -> block extents (a swap file)."""
        return SwapArea(self.source, self.location, self.last_page, extents)

    def with_kernel_extents(self, extents: Optional[Sequence[SwapExtent]]) -> "SwapArea":
        """The area as the hibernated kernel addressed it.  Its extents are needed, and
        used, only where slots are not blocks (a swap file inside a filesystem): on a
        partition or a copied-out swap file slot s is block s whatever they say."""
        if self.slots_are_blocks or self.copied or not extents:
            return self
        return self.with_extents(extents)

    # -- device blocks ----------------------------------------------------------------------

    @property
    def block_base(self) -> int:
        return self.location.block_base

    def block_offset(self, block: int) -> int:
        """Byte offset in the input of device block `block` (a copied swap file: of its
        slot; a block the copy does not hold is placed past the input's end)."""
        if self.copied:
            slot = self.block_slot(block)
            return self.source.size if slot is None else self.partition.offset + slot * PAGE_SIZE
        return self.partition.offset + (block - self.location.block_base) * PAGE_SIZE

    def holds_block(self, block: int) -> bool:
        """A block of the area: inside the partition (whose block 0 never holds image data)
        and, on a swap partition, not beyond mkswap's last_page."""
        if self.copied:
            slot = self.block_slot(block)
            return slot is not None and 0 < slot < self.nr_blocks
        rel = block - self.location.block_base
        if not 0 < rel < self.nr_blocks:
            return False
        return not (self.slots_are_blocks and self.last_page) or rel <= self.last_page

    def where(self, block: int) -> str:
        """Where a block the area does not hold is: past a truncated copy of a partition
        whose mkswap header says it is larger, or really outside."""
        if self.copied:
            slot = self.block_slot(block)
            if slot is None:
                return "not a block of the swap file (its extents)"
            return BEYOND_END
        rel = block - self.location.block_base
        if not self.location.resume_offset and self.nr_blocks <= rel <= self.last_page:
            return BEYOND_END
        return "outside the swap area"

    def last_block_in_file(self) -> int:
        """The highest device block whose page the input still holds whole."""
        if self.copied:  # blocks are not in file order: holds_block bounds them
            return max(e.start_block + e.nr_pages - 1 for e in self.extents or ())
        return (self.source.size - self.partition.offset) // PAGE_SIZE + self.location.block_base - 1

    def read_block(self, block: int, what: str = "") -> bytes:
        offset = self.block_offset(block)
        data = self.source.read(offset, PAGE_SIZE)
        if len(data) != PAGE_SIZE:
            raise SwsuspFormatError(f"input ends inside {what or f'swap block {block}'} (truncated file)", offset,
                                    block=block)
        return data

    # -- slots ------------------------------------------------------------------------------

    @property
    def nr_slots(self) -> Optional[int]:
        """Slots of the area (mkswap's last_page + 1), None when the header does not say."""
        return self.last_page + 1 if self.last_page else None

    @property
    def slots_are_blocks(self) -> bool:
        """Slot s is device block header_block + s: a swap partition, or a copied-out file
        (without its extents: then assumed contiguous)."""
        return self.location.resume_offset == self.location.block_base and not self.location.extents

    def slot_block(self, slot: int) -> Optional[int]:
        """The device block holding `slot`, None when the area does not have it or (a swap
        file inside a filesystem, without extents) where it is is unknown."""
        if slot < 0 or (self.last_page and slot > self.last_page):
            return None
        if self.extents is not None:
            i = bisect_right(self._starts, slot) - 1
            if i < 0:
                return None
            ext = self.extents[i]
            if slot >= ext.start_page + ext.nr_pages:
                return None
            return ext.start_block + slot - ext.start_page
        if slot == 0:
            return self.location.resume_offset
        return self.location.resume_offset + slot if self.slots_are_blocks else None

    def slot_offset(self, slot: int) -> Optional[int]:
        """Byte offset in the input of `slot`, None if the input cannot hold it."""
        if self.copied:  # the copy is the area, slot by slot
            if slot < 0 or (self.last_page and slot > self.last_page) or (slot + 1) * PAGE_SIZE > self.source.size:
                return None
            return self.partition.offset + slot * PAGE_SIZE
        block = self.slot_block(slot)
        if block is None or not (block == self.location.resume_offset or self.holds_block(block)):
            return None
        offset = self.block_offset(block)
        return offset if offset + PAGE_SIZE <= self.source.size else None

    def block_slot(self, block: int) -> Optional[int]:
        """The slot of device block `block` (the inverse of `slot_block`), None when no slot
        of the area is there or (a swap file inside a filesystem, without extents) which
        slot it is is unknown."""
        if self.extents is not None:
            if self._by_block is None:
                ordered = sorted(self.extents, key=lambda e: e.start_block)
                self._by_block = ([e.start_block for e in ordered], ordered)
            starts, ordered = self._by_block
            i = bisect_right(starts, block) - 1
            if i < 0 or block >= ordered[i].start_block + ordered[i].nr_pages:
                return None
            slot = ordered[i].start_page + block - ordered[i].start_block
        elif self.slots_are_blocks or block == self.location.resume_offset:  # the header is slot 0 anyway
            slot = block - self.location.resume_offset
        else:
            return None
        return slot if self.slot_block(slot) == block else None

    def read_slot(self, slot: int) -> Optional[bytes]:
        """The page in `slot`, None when the input does not hold it."""
        offset = self.slot_offset(slot)
        return None if offset is None else self.source.read(offset, PAGE_SIZE)

    def read_slots(self, first: int, count: int) -> Optional[bytes]:
        """The pages of slots first .. first+count-1, None when the input does not hold one
        of them (read them one by one to know which).  Slots in consecutive blocks are read
        at once."""
        offsets = []
        for slot in range(first, first + count):
            offset = self.slot_offset(slot)
            if offset is None:
                return None
            offsets.append(offset)
        if offsets and all(b - a == PAGE_SIZE for a, b in zip(offsets, offsets[1:])):
            return self.source.read(offsets[0], count * PAGE_SIZE)
        return b"".join(self.source.read(o, PAGE_SIZE) for o in offsets)
