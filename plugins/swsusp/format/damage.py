"""The damage log: which stream pages cannot be read, and why (salvage, docs/format.md §6.4).

A damaged block, a map entry outside the area or a broken chain costs only its own pages;
the log records each damaged part once, so the rest of the image stays readable and
`linux.swsusp_info` can list exactly what was lost.
"""

import re
from bisect import bisect_left, insort
from typing import Iterator, List, Optional

from .errors import SwsuspFormatError


class Damage:
    """Stream pages [first, end) that cannot be read, and why.

    Only the error's words and coordinates are kept (message, file offset, swap block, PFN,
    block index), never the exception: its traceback's frames held the decompressed buffer
    of the failed block alive (~36 MiB each for a block that claims a huge output), and a
    hostile image may damage thousands of blocks.  `error` builds a fresh exception."""

    __slots__ = ("first", "end", "block_index", "_kind", "_reason", "_where")

    def __init__(self, first: int, end: int, error: SwsuspFormatError, block_index: Optional[int] = None) -> None:
        self.first = first
        self.end = end
        self.block_index = block_index  # the compressed block, for compressed images
        self._kind = type(error)
        self._reason = error.reason
        self._where = (error.offset, error.block, error.pfn, error.block_index)

    def __repr__(self) -> str:
        return f"Damage({self.first}, {self.end}, {self._reason!r}, block_index={self.block_index})"

    def _key(self) -> tuple:
        return (self.first, self.end, self.block_index, self._kind, self._reason, self._where)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Damage) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def error(self) -> SwsuspFormatError:
        """Why, as a new exception (raising it never attaches frames to the log)."""
        offset, block, pfn, block_index = self._where
        return self._kind(self._reason, offset, block=block, pfn=pfn, block_index=block_index)

    @property
    def message(self) -> str:
        return self.error.message

    @property
    def where(self) -> str:
        pages = f"stream pages {self.first}-{self.end - 1}"
        return pages if self.block_index is None else f"compressed block #{self.block_index} ({pages})"


def error_kind(error: SwsuspFormatError) -> str:
    """An error's reason without its numbers: consecutive pages lost the same way form one run."""
    return re.sub(r"\d+", "#", error.reason)


class DamageLog:
    """Damaged parts sorted by first stream page; ranges never overlap (a few hundred bytes
    each: see Damage)."""

    def __init__(self, end: int) -> None:
        self.end = end  # the stream's length in pages
        self._parts: List[Damage] = []

    def __iter__(self) -> Iterator[Damage]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def __bool__(self) -> bool:
        return bool(self._parts)

    def __getitem__(self, i: int) -> Damage:
        return self._parts[i]

    def add(self, damage: Damage) -> None:
        """Record damage unless known; a wider range replaces those inside it."""
        if self.at(damage.first) is None:
            self._parts = [d for d in self._parts if not damage.first <= d.first < damage.end]
            insort(self._parts, damage, key=lambda d: d.first)

    def at(self, page: int) -> Optional[Damage]:
        i = bisect_left(self._parts, page + 1, key=lambda d: d.first) - 1
        if i >= 0 and self._parts[i].first <= page < self._parts[i].end:
            return self._parts[i]
        return None

    def next_from(self, page: int) -> int:
        """First damaged stream page at or after `page` (the stream's end when none)."""
        if self.at(page):
            return page
        i = bisect_left(self._parts, page, key=lambda d: d.first)
        return self._parts[i].first if i < len(self._parts) else self.end

    def forget_blocks_from(self, index: int) -> None:
        """Drop what was recorded for compressed blocks >= index (they are being re-located)."""
        self._parts = [d for d in self._parts if d.block_index is None or d.block_index < index]
