"""The metadata pages: which PFN each data page belongs to (docs/format.md §4.3, §6.5).

    2.6.16-2.6.18  u64 direct-map virtual address (PAGE_OFFSET 0xffff810000000000), 0 ends
    2.6.19-6.5     u64 PFN, BM_END_OF_MAP (~0) ends
    6.6+           as above; bit 63 (ENCODED_PFN_ZERO_FLAG) = an all-zero page with no data page

Data page k belongs to the k-th entry without bit 63.  The index is kept in compact arrays:
PFNs sorted (4 bytes each below 16 TiB of RAM) and, only when the list was not ascending,
the data-page number of each sorted position.
"""

import operator
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from itertools import islice
from typing import Optional, Union

from .errors import SwsuspFormatError

BM_END_OF_MAP = 0xFFFFFFFFFFFFFFFF
ENCODED_PFN_ZERO_FLAG = 1 << 63
PAGE_OFFSET_2616 = 0xFFFF810000000000  # the direct map of 2.6.16-2.6.18, whose lists hold VAs
MAX_PFN = 1 << 40  # x86-64 MAXPHYADDR is at most 52 bits


@dataclass
class PfnIndex:
    data_pfns: array  # sorted PFNs that have a data page
    data_slot: Optional[array]  # sorted position -> data page number; None when identity
    zero_pfns: array  # sorted PFNs of 6.6+ zero pages (no data page)
    form: str  # "pfn" or "virtual address (2.6.16-2.6.18)"
    ascending: bool

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


def parse_pfn_list(meta: Union[bytes, bytearray], image_pages: int, offset_of_entry, cut: bool = False) -> PfnIndex:
    """Parse M metadata pages.  `offset_of_entry(i)` names where entry i lies (for errors);
    `cut`: reading stopped early because the list already held too many entries (ListEnd)."""
    values = _u64s(meta)
    if values and _is_virtual(values[0]):
        entries, form = _virtual_form(values, offset_of_entry), "virtual address (2.6.16-2.6.18)"
    else:
        end = values.index(BM_END_OF_MAP) if BM_END_OF_MAP in values else len(values)
        entries, form = values[:end], "pfn"

    if entries and max(entries) >= ENCODED_PFN_ZERO_FLAG:
        data = array("Q", (v for v in entries if not v & ENCODED_PFN_ZERO_FLAG))
        zero = array("Q", (v & ~ENCODED_PFN_ZERO_FLAG for v in entries if v & ENCODED_PFN_ZERO_FLAG))
    else:
        data, zero = entries, array("Q")

    if len(data) != image_pages:
        raise SwsuspFormatError(
            f"PFN list holds {'at least ' if cut else ''}{len(data)} data entries but swsusp_info.image_pages "
            f"is {image_pages}",
            offset_of_entry(min(len(entries), len(values) - 1) if values else 0),
        )
    for v in (data, zero):
        if v and max(v) >= MAX_PFN:
            i = list(entries).index(next(x for x in entries if x & ~ENCODED_PFN_ZERO_FLAG >= MAX_PFN))
            raise SwsuspFormatError(
                "PFN beyond the 52-bit physical address space", offset_of_entry(i),
                pfn=entries[i] & ~ENCODED_PFN_ZERO_FLAG,
            )

    ascending = _strictly_ascending(data)
    if ascending:
        data_pfns, data_slot = _compact(data), None
    else:
        order = sorted(range(len(data)), key=data.__getitem__)
        data_pfns, data_slot = _compact(data[i] for i in order), array("I", order)
    zero_pfns = _compact(sorted(zero))
    _check_unique(data_pfns, zero_pfns, entries, offset_of_entry)
    return PfnIndex(data_pfns, data_slot, zero_pfns, form, ascending)


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
