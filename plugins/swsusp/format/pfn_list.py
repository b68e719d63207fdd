"""The metadata pages: which PFN each data page belongs to (docs/format.md §4.3, §6.5).

    2.6.16-2.6.18  u64 direct-map virtual address (PAGE_OFFSET 0xffff810000000000), 0 ends
    2.6.19-6.5     u64 PFN, BM_END_OF_MAP (~0) ends
    6.6+           as above; bit 63 (ENCODED_PFN_ZERO_FLAG) = an all-zero page with no data page

Data page k belongs to the k-th entry without bit 63.  The index is kept in compact arrays:
PFNs sorted (4 bytes each below 16 TiB of RAM) and, only when the list was not ascending or
an entry was rejected, the data-page number of each sorted position.

Plausibility (a one-bit error must not make a PFN of terabytes, which `layerwriter` would pad
up to): the kernel writes the list by walking its memory bitmap, PFNs ascending
(`pack_pfns()` <- `memory_bm_next_pfn()`), so in a list ascending but for a few entries those
few are damaged; and no PFN of the machine lies far beyond its `num_physpages`
(`SwsuspInfo.pfn_limit`).  Up to MAX_REJECTED such entries are rejected: their data pages
cannot be placed (lost, reported with the entry's file offset), every other page stays
readable.  More than that is no bit error but a list to refuse (or, below MAX_PFN, a header
that disagrees with it: the list is kept as written).
"""

import operator
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from itertools import islice
from typing import List, Optional, Sequence, Tuple, Union

from .errors import SwsuspFormatError

BM_END_OF_MAP = 0xFFFFFFFFFFFFFFFF
ENCODED_PFN_ZERO_FLAG = 1 << 63
PAGE_OFFSET_2616 = 0xFFFF810000000000  # the direct map of 2.6.16-2.6.18, whose lists hold VAs
MAX_PFN = 1 << 40  # x86-64 MAXPHYADDR is at most 52 bits
MAX_REJECTED = 16  # implausible entries salvaged as damaged; more is no bit error
NO_PFN = BM_END_OF_MAP  # the PFN of a data page whose list entry was rejected


@dataclass(frozen=True)
class RejectedEntry:
    """A PFN-list entry that cannot be trusted: its data page (if any) is not placed."""

    index: int  # entry number in the list
    value: int  # as stored
    data_page: Optional[int]  # the data page it names (None: a 6.6+ zero-page entry)
    offset: int  # file offset of the entry (compressed lists: of the block holding it)
    reason: str

    @property
    def message(self) -> str:
        lost = ("its data page cannot be placed" if self.data_page is not None
                else "its zero page cannot be placed")
        return f"PFN list entry #{self.index} holds {self.value:#x}: {self.reason}; {lost}"


@dataclass
class PfnIndex:
    data_pfns: array  # sorted PFNs that have a data page
    data_slot: Optional[array]  # sorted position -> data page number; None when identity
    zero_pfns: array  # sorted PFNs of 6.6+ zero pages (no data page)
    form: str  # "pfn" or "virtual address (2.6.16-2.6.18)"
    ascending: bool  # the entries kept are in ascending order
    rejected: Tuple[RejectedEntry, ...] = ()
    pfn_limit: Optional[int] = None  # the plausibility bound applied (None: none known)

    @property
    def data_pages(self) -> int:
        """Data pages of the stream, those of rejected entries included."""
        return len(self.data_pfns) + sum(r.data_page is not None for r in self.rejected)

    def nbytes(self) -> int:
        arrays = [self.data_pfns, self.zero_pfns] + ([self.data_slot] if self.data_slot else [])
        return sum(a.itemsize * len(a) for a in arrays)


def _compact(values) -> array:
    values = array("Q", values)
    if not values or max(values) < 1 << 32:
        return array("I", values)
    return values


def _strictly_ascending(values) -> bool:
    return all(map(operator.lt, values, islice(values, 1, None)))


def _u64s(data: Union[bytes, bytearray, memoryview]) -> array:
    values = array("Q")
    values.frombytes(data)
    if sys.byteorder != "little":
        values.byteswap()
    return values


def _is_virtual(first_entry: int) -> bool:
    """2.6.16-2.6.18 lists hold direct-map addresses (and end at 0), later ones PFNs."""
    return first_entry >> 47 == 0x1FFFF


_TOP_BIT = bytes(0x80) + b"\x01" * 0x80  # bytes.translate table: 1 where bit 7 is set


class ListEnd:
    """Says, as the metadata pages are read chunk by chunk, when the rest cannot matter.

    M = pages - image_pages - 1 comes from two swsusp_info fields nothing checks before the
    list is parsed: a lying image_pages made the reader decompress the whole image as
    "metadata" (held up to three times over: 170-190 MiB for the 256 MiB real sample) only to
    report the mismatch.  The list ends at its first terminator (parse_pfn_list ignores what
    follows), and it is wrong as soon as it holds more data entries than image_pages.
    """

    def __init__(self, image_pages: int) -> None:
        self.image_pages = image_pages
        self.terminator: Optional[int] = None
        self.data_entries = 0
        self.too_many = False

    def reached(self, chunk: bytes) -> bool:
        values = _u64s(chunk)
        if not values:
            return False
        if self.terminator is None:  # the list's form, as parse_pfn_list decides it
            self.terminator = 0 if _is_virtual(values[0]) else BM_END_OF_MAP
        if self.terminator in values:
            return True
        self.data_entries += len(values)
        if self.terminator != 0:  # minus the 6.6+ zero-page entries: bit 63 = top bit of byte 7
            self.data_entries -= bytes(chunk[7::8]).translate(_TOP_BIT).count(1)
        self.too_many = self.data_entries > self.image_pages
        return self.too_many


def parse_pfn_list(meta: Union[bytes, bytearray], image_pages: int, offset_of_entry, cut: bool = False,
                   pfn_limit: Optional[int] = None) -> PfnIndex:
    """Parse M metadata pages.  `offset_of_entry(i)` names where entry i lies (for errors);
    `cut`: reading stopped early because the list already held too many entries (ListEnd);
    `pfn_limit`: no PFN of the machine is at or beyond it (from swsusp_info)."""
    values = _u64s(meta)
    if values and _is_virtual(values[0]):
        entries, form = _virtual_form(values, offset_of_entry), "virtual address (2.6.16-2.6.18)"
    else:
        end = values.index(BM_END_OF_MAP) if BM_END_OF_MAP in values else len(values)
        entries, form = values[:end], "pfn"

    zero_flags = bool(entries) and max(entries) >= ENCODED_PFN_ZERO_FLAG
    data_count = sum(1 for v in entries if not v & ENCODED_PFN_ZERO_FLAG) if zero_flags else len(entries)
    if data_count != image_pages:
        raise SwsuspFormatError(
            f"PFN list holds {'at least ' if cut else ''}{data_count} data entries but swsusp_info.image_pages "
            f"is {image_pages}",
            offset_of_entry(min(len(entries), len(values) - 1) if values else 0),
        )
    plain = array("Q", (v & ~ENCODED_PFN_ZERO_FLAG for v in entries)) if zero_flags else entries
    rejected = _implausible(entries, plain, pfn_limit, offset_of_entry)
    skip = {r.index for r in rejected}

    data_page: Optional[array] = None  # kept position -> data page number; None: identity
    if not zero_flags and not rejected:
        data, zero = entries, array("Q")
    else:
        data, zero, data_page = array("Q"), array("Q"), array("I")
        k = 0
        for i, v in enumerate(entries):
            is_data = not v & ENCODED_PFN_ZERO_FLAG
            if i not in skip:
                (data if is_data else zero).append(plain[i])
                if is_data:
                    data_page.append(k)
            k += is_data
        if not rejected:
            data_page = None

    ascending = _strictly_ascending(data)
    if ascending and data_page is None:
        data_pfns, data_slot = _compact(data), None
    else:
        order = range(len(data)) if ascending else sorted(range(len(data)), key=data.__getitem__)
        pages = data_page if data_page is not None else range(len(data))
        data_pfns, data_slot = _compact(data[i] for i in order), array("I", (pages[i] for i in order))
    zero_pfns = _compact(sorted(zero))
    _check_unique(data_pfns, zero_pfns, entries, offset_of_entry)
    return PfnIndex(data_pfns, data_slot, zero_pfns, form, ascending, tuple(rejected), pfn_limit)


def _implausible(entries: Sequence[int], plain: Sequence[int], pfn_limit: Optional[int],
                 offset_of_entry) -> List[RejectedEntry]:
    """The entries a bit error made implausible (see the module's docstring); refuses a list
    with more than MAX_REJECTED of them that names PFNs beyond MAX_PFN."""
    limit = MAX_PFN if pfn_limit is None else min(pfn_limit, MAX_PFN)
    bad = {i: "out of the list's ascending order" for i in _order_outliers(plain, limit)}
    beyond = [i for i, v in enumerate(plain) if v >= limit and i not in bad] if max(plain, default=0) >= limit else []
    if len(beyond) + len(bad) <= MAX_REJECTED:
        for i in beyond:
            bad[i] = (f"PFN {plain[i]:#x} beyond the machine's memory (swsusp_info.num_physpages allows PFNs "
                      f"below {limit:#x})" if limit < MAX_PFN else "PFN beyond the 52-bit physical address space")
    else:
        huge = next((i for i, v in enumerate(plain) if v >= MAX_PFN), None)
        if huge is not None:
            raise SwsuspFormatError("PFN beyond the 52-bit physical address space", offset_of_entry(huge),
                                    pfn=plain[huge])
        if len(bad) > MAX_REJECTED:
            bad = {}
    out = []
    k_of = _data_page_numbers(entries)
    for i in sorted(bad):
        out.append(RejectedEntry(i, entries[i], k_of(i), offset_of_entry(i), bad[i]))
    return out


def _data_page_numbers(entries: Sequence[int]):
    """i -> the data page entry i names (None for a zero-page entry), computed on demand."""

    def k_of(i: int) -> Optional[int]:
        if entries[i] & ENCODED_PFN_ZERO_FLAG:
            return None
        return sum(1 for v in islice(entries, 0, i) if not v & ENCODED_PFN_ZERO_FLAG)

    return k_of


def _order_outliers(plain: Sequence[int], limit: int) -> List[int]:
    """Entries whose removal makes an otherwise ascending list ascending: at each descent
    v[i] >= v[i+1], the side whose true value can lie between its neighbours (when both can:
    the one at or beyond `limit`, else both).  None
    when the list is ascending, or when more than MAX_REJECTED entries would go (a list in
    another order: the order is a fact of the bitmap walk, not of the format)."""
    if _strictly_ascending(plain):
        return []
    descents = []
    for i, ok in enumerate(map(operator.lt, plain, islice(plain, 1, None))):
        if not ok:
            if plain[i] == plain[i + 1]:
                return []  # a PFN listed twice: which entry is wrong is unknown (_check_unique refuses)
            descents.append(i)
            if len(descents) > MAX_REJECTED:
                return []
    n, out = len(plain), set()
    for i in descents:
        before = plain[i - 1] if i > 0 else -1
        after = plain[i + 2] if i + 2 < n else 1 << 64
        # a side fits when a PFN lies strictly between the neighbours it would have had
        sides = [j for j, fits in ((i, plain[i + 1] - before >= 2), (i + 1, after - plain[i] >= 2)) if fits]
        beyond = [j for j in sides if plain[j] >= limit]
        out.update(beyond if len(beyond) == 1 else sides)
    kept = [v for i, v in enumerate(plain) if i not in out]
    if len(out) > MAX_REJECTED or not _strictly_ascending(kept):
        return []
    return sorted(out)


def _virtual_form(values: array, offset_of_entry) -> array:
    end = values.index(0) if 0 in values else len(values)
    out = array("Q")
    for i in range(end):
        va = values[i]
        if va < PAGE_OFFSET_2616 or va & 0xFFF:
            raise SwsuspFormatError(
                f"PFN list entry {va:#x} is not a page-aligned direct-map address", offset_of_entry(i)
            )
        out.append((va - PAGE_OFFSET_2616) >> 12)
    return out


def _first_repeat(sorted_values: array) -> Optional[int]:
    if _strictly_ascending(sorted_values):
        return None
    return next(a for a, b in zip(sorted_values, islice(sorted_values, 1, None)) if a == b)


def _check_unique(data_pfns: array, zero_pfns: array, entries, offset_of_entry) -> None:
    dup = _first_repeat(data_pfns)
    if dup is None:
        dup = _first_repeat(zero_pfns)
    if dup is None:
        for z in zero_pfns:  # a zero page must not also have a data page
            i = bisect_left(data_pfns, z)
            if i < len(data_pfns) and data_pfns[i] == z:
                dup = z
                break
    if dup is not None:
        plain = [v & ~ENCODED_PFN_ZERO_FLAG for v in entries]
        second = plain.index(dup, plain.index(dup) + 1)
        raise SwsuspFormatError("PFN listed twice in the image", offset_of_entry(second), pfn=dup)
