"""The damage log: which stream pages cannot be read, and why (salvage, docs/format.md §6.4).

A damaged block, a map entry outside the area or a broken chain costs only its own pages;
the log records each damaged part once, so the rest of the image stays readable and
`linux.swsusp_info` can list exactly what was lost.
"""

import re
from bisect import bisect_left, insort
from dataclasses import dataclass
from typing import Iterator, List, Optional

from .errors import SwsuspFormatError


@dataclass(frozen=True)
class Damage:
    """Stream pages [first, end) that cannot be read, and why."""

    first: int
    end: int
    error: SwsuspFormatError
    block_index: Optional[int] = None  # the compressed block, for compressed images

    @property
    def where(self) -> str:
        pages = f"stream pages {self.first}-{self.end - 1}"
        return pages if self.block_index is None else f"compressed block #{self.block_index} ({pages})"


def error_kind(error: SwsuspFormatError) -> str:
    """An error's reason without its numbers: consecutive pages lost the same way form one run."""
    return re.sub(r"\d+", "#", error.reason)


class DamageLog:
    """Damaged parts sorted by first stream page; ranges never overlap.

    The error objects keep no traceback (nor the frames and buffers it would hold alive):
    a hostile image may damage thousands of blocks."""

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
            damage.error.__traceback__ = None
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
