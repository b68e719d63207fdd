"""A hibernation image as physical memory: page PFN is the data page the PFN list assigns
to it (docs/format.md §4.3, §6.5).

Opening (opener.py) reads the header, the map chain, the info page and the PFN list only;
data pages come from the stream (stream.py) on demand.  Index memory: 4-8 bytes per stream
page for the block list and 4-8 bytes per PFN.

    image = SwsuspImage.open("swap.img")        # found in a partition, disk or filesystem
    image.read(pfn * PAGE_SIZE, PAGE_SIZE)      # a page; PageNotInImage if it was not saved
    for first, count in image.runs(): ...       # runs of saved PFNs
"""

import hashlib
import itertools
from array import array
from bisect import bisect_left
from typing import Callable, Iterator, List, Optional, Tuple

from . import locate
from .compress import crc32_le
from .damage import Damage
from .errors import PageDamaged, PageNotInImage
from .opener import ImageParts, find_image, open_at
from .pfn_list import NO_PFN
from .stream import CompressedStream, Pages
from .structs import PAGE_SIZE
from .uswsusp import IMAGE_CHECKSUM

ZERO_PAGE = bytes(PAGE_SIZE)
Progress = Optional[Callable[[float, str], None]]


class SwsuspImage:
    """An in-kernel (S1SUSPEND, or consumed) or s2disk hibernation image at one location."""

    def __init__(self, parts: ImageParts) -> None:
        self.location = parts.location
        self.header = parts.header
        self.area = parts.area  # the swap area the image lives in: device blocks and slots
        self.source = parts.area.source
        self.swap_map = parts.swap_map
        self.info = parts.info
        self.stream = parts.stream
        self.pfns = parts.pfns
        self.uswsusp = parts.uswsusp
        self.codec = parts.stream.codec
        self.codec_notes = parts.codec_notes  # read otherwise than the header says (a flipped codec flag)
        self.damage = parts.stream.damage  # grows as blocks are read
        self.size_warnings = parts.warnings  # damaged size fields, each with what was used instead
        self._crc: Optional[int] = None

    @classmethod
    def open(cls, path_or_source, *, resume_offset: Optional[int] = None, partition: Optional[int] = None,
             scan: str = "auto", cache_blocks: int = 64, extents=None) -> "SwsuspImage":
        """Find and open the image in a swap partition, filesystem or disk image (`extents`,
        format/filefrag.py: a swap file copied out of its filesystem)."""
        return cls(find_image(path_or_source, resume_offset, partition, scan, cache_blocks, extents))

    @classmethod
    def at(cls, source, location: locate.Location, cache_blocks: int = 64) -> "SwsuspImage":
        """The image whose header page is at `location`."""
        return cls(open_at(source, location, cache_blocks))

    @property
    def kind(self) -> str:
        return "s2disk (uswsusp)" if self.uswsusp else "in-kernel"

    @property
    def nr_blocks(self) -> int:
        """Compressed blocks of the stream (0 for an uncompressed image)."""
        return self.stream.nr_blocks if isinstance(self.stream, CompressedStream) else 0

    # -- the stream ------------------------------------------------------------------------

    def stream_offset(self, page: int) -> int:
        """File offset of stream page `page` (for compressed images: of its block's start)."""
        return self.stream.offset(page)

    def iter_stream_chunks(self, progress: Progress = None) -> Iterator[Tuple[int, bytes]]:
        """(first stream page, uncompressed bytes) in order, uncached: pages 1.. of an in-kernel
        image (what its CRC covers), pages 0.. of an s2disk image (what its MD5 covers).
        Damaged parts are skipped (and recorded in `damage`)."""
        return self.stream.chunks(progress)

    def damaged_pfns(self, damage: Damage) -> array:
        """PFNs whose data pages lie in `damage` (metadata pages have none)."""
        first = max(damage.first, self.data_page_first) - self.data_page_first
        end = max(damage.end, self.data_page_first) - self.data_page_first
        pfn_of = self._pfn_by_data_page()
        return array(pfn_of.typecode, sorted(p for p in pfn_of[first:end] if p != NO_PFN))

    def is_damaged_pfn(self, pfn: int) -> bool:
        """Known damaged (blocks not yet decompressed may still turn out damaged)."""
        if not self.damage:
            return False
        k = self._data_index(pfn)
        return k is not None and self.damage.at(self.data_page_first + k) is not None

    def scan_damage(self, progress: Progress = None) -> List[Damage]:
        """Read the whole stream once so every damaged block is known (the CRC does this too)."""
        for _chunk in self.iter_stream_chunks(progress):
            pass
        return list(self.damage)

    # -- integrity -----------------------------------------------------------------------

    def compute_crc32(self, progress: Progress = None) -> Optional[int]:
        """crc32_le(0, …) of the uncompressed stream after the header page (§5.3);
        None when part of the stream is damaged (then `damage` lists every damaged part)."""
        if self._crc is None:
            crc = 0
            for _first, data in self.iter_stream_chunks(progress):
                crc = crc32_le(crc, data)
            self._crc = None if self.damage else crc
        return self._crc

    def compute_md5(self, progress: Progress = None) -> Optional[bytes]:
        """MD5 of the whole uncompressed stream: an s2disk image's IMAGE_CHECKSUM (None when
        part of the stream is damaged)."""
        digest = hashlib.md5()
        for _first, data in self.iter_stream_chunks(progress):
            digest.update(data)
        return None if self.damage else digest.digest()

    @property
    def md5_valid(self) -> bool:
        return bool(self.uswsusp and self.uswsusp.flags & IMAGE_CHECKSUM)

    # -- physical memory -----------------------------------------------------------------

    @property
    def data_page_first(self) -> int:
        """Stream page of data page 0."""
        return 1 + self.info.meta_pages

    def _data_index(self, pfn: int) -> Optional[int]:
        pfns = self.pfns.data_pfns
        i = bisect_left(pfns, pfn)
        if i < len(pfns) and pfns[i] == pfn:
            return self.pfns.data_slot[i] if self.pfns.data_slot is not None else i
        return None

    def stream_page_of(self, pfn: int) -> Optional[int]:
        """The stream page holding PFN `pfn`'s data, None if it has none."""
        k = self._data_index(pfn)
        return None if k is None else self.data_page_first + k

    def is_zero_page(self, pfn: int) -> bool:
        zero = self.pfns.zero_pfns
        i = bisect_left(zero, pfn)
        return i < len(zero) and zero[i] == pfn

    def has_pfn(self, pfn: int) -> bool:
        return self._data_index(pfn) is not None or self.is_zero_page(pfn)

    def read_page(self, pfn: int) -> Pages:
        """Page `pfn` as saved; PageNotInImage if the image does not hold it."""
        k = self._data_index(pfn)
        if k is not None:
            try:
                return self.stream.page(self.data_page_first + k)
            except PageDamaged as exc:
                exc.pfn = pfn
                raise
        if self.is_zero_page(pfn):
            return ZERO_PAGE
        raise PageNotInImage(pfn)

    def read(self, address: int, length: int, pad: bool = False) -> bytes:
        """Physical memory [address, address+length); missing pages raise unless pad.

        Consecutive PFNs whose data pages are consecutive in the stream are served as one
        slice of a decompressed block (or one disk read), not page by page."""
        out = []
        pos, end = address, address + length
        pfns, slots = self.pfns.data_pfns, self.pfns.data_slot
        while pos < end:
            pfn, off = divmod(pos, PAGE_SIZE)
            i = bisect_left(pfns, pfn)
            if i < len(pfns) and pfns[i] == pfn:
                try:
                    if slots is None:
                        data, pages = self._data_pages(i, self._consecutive(i, -(-(end - pos + off) // PAGE_SIZE)))
                    else:
                        data, pages = self._data_pages(slots[i], 1)
                except PageDamaged as exc:
                    if not pad:
                        exc.pfn = pfn
                        raise
                    data, pages = ZERO_PAGE, 1  # damaged: padded like a hole
            elif self.is_zero_page(pfn):
                data, pages = ZERO_PAGE, 1
            elif pad:  # a hole: pad up to the next present page in one piece
                pages = self._gap(pfn, i, -(-(end - pos + off) // PAGE_SIZE))
                data = bytes(pages * PAGE_SIZE)
            else:
                raise PageNotInImage(pfn)
            take = min(end - pos, pages * PAGE_SIZE - off)
            out.append(data[off : off + take])
            pos += take
        return b"".join(out)

    def _gap(self, pfn: int, i: int, want: int) -> int:
        """Absent pages from `pfn` (data_pfns[i] is the next data PFN) to the next present one,
        at most `want`."""
        data, zero = self.pfns.data_pfns, self.pfns.zero_pfns
        nxt = data[i] if i < len(data) else pfn + want
        j = bisect_left(zero, pfn)
        if j < len(zero):
            nxt = min(nxt, zero[j])
        return max(1, min(want, nxt - pfn))

    def _consecutive(self, i: int, want: int) -> int:
        """How many of data_pfns[i:i+want] are PFN-consecutive (the list is strictly ascending,
        so a run is exactly where value and index advance together)."""
        pfns = self.pfns.data_pfns
        hi = min(want, len(pfns) - i)
        first = pfns[i]
        if pfns[i + hi - 1] - first == hi - 1:
            return hi
        lo = 1  # invariant: run >= lo, run < hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if pfns[i + mid - 1] - first == mid - 1:
                lo = mid
            else:
                hi = mid
        return lo

    def _data_pages(self, k: int, count: int) -> Tuple[Pages, int]:
        """Up to `count` data pages from data page k that one read serves, and how many."""
        return self.stream.run(self.data_page_first + k, count)

    def count_present(self, first_pfn: int, end_pfn: int) -> int:
        """How many PFNs in [first_pfn, end_pfn) the image holds (data or zero pages)."""
        d, z = self.pfns.data_pfns, self.pfns.zero_pfns
        return (bisect_left(d, end_pfn) - bisect_left(d, first_pfn)) + (
            bisect_left(z, end_pfn) - bisect_left(z, first_pfn)
        )

    def present_pfns(self, first_pfn: int = 0, end_pfn: Optional[int] = None) -> Iterator[int]:
        """PFNs held by the image in [first_pfn, end_pfn), ascending."""
        d, z = self.pfns.data_pfns, self.pfns.zero_pfns
        end = self.max_pfn + 1 if end_pfn is None else end_pfn
        di, de = bisect_left(d, first_pfn), bisect_left(d, end)
        zi, ze = bisect_left(z, first_pfn), bisect_left(z, end)
        if zi == ze:
            yield from d[di:de]
            return
        yield from sorted(list(d[di:de]) + list(z[zi:ze]))

    def runs(self, first_pfn: int = 0, end_pfn: Optional[int] = None) -> Iterator[Tuple[int, int]]:
        """(first PFN, count) of each run of consecutive present PFNs in the range."""
        d = self.pfns.data_pfns
        if not self.pfns.zero_pfns:  # jump from run to run by binary search
            end = self.max_pfn + 1 if end_pfn is None else end_pfn
            i, stop = bisect_left(d, first_pfn), bisect_left(d, end)
            while i < stop:
                n = self._consecutive(i, stop - i)
                yield d[i], n
                i += n
            return
        start = prev = -2
        for pfn in self.present_pfns(first_pfn, end_pfn):
            if pfn == prev + 1:
                prev = pfn
                continue
            if start >= 0:
                yield start, prev - start + 1
            start = prev = pfn
        if start >= 0:
            yield start, prev - start + 1

    @property
    def min_pfn(self) -> int:
        return min(x[0] for x in (self.pfns.data_pfns, self.pfns.zero_pfns) if len(x))

    @property
    def max_pfn(self) -> int:
        return max(x[-1] for x in (self.pfns.data_pfns, self.pfns.zero_pfns) if len(x))

    def pfn_of_data_page(self) -> array:
        """The PFN of each placed data page, in list (stream) order (the data pages of
        rejected list entries have none, and are left out)."""
        pfn_of = self._pfn_by_data_page()
        return array(pfn_of.typecode, (p for p in pfn_of if p != NO_PFN)) if self.pfns.rejected else pfn_of

    def _pfn_by_data_page(self) -> array:
        """Data page number -> PFN (list order); NO_PFN for a rejected entry's page."""
        pfns = self.pfns
        if pfns.data_slot is None:
            return pfns.data_pfns
        typecode = "Q" if pfns.rejected else pfns.data_pfns.typecode
        out = array(typecode, [NO_PFN if pfns.rejected else 0]) * pfns.data_pages
        for pos, k in enumerate(pfns.data_slot):
            out[k] = pfns.data_pfns[pos]
        return out

    @property
    def rejected(self):
        """PFN-list entries rejected as implausible (pfn_list.RejectedEntry): their pages are lost."""
        return self.pfns.rejected

    def iter_pages(self, progress: Progress = None) -> Iterator[Tuple[int, Pages]]:
        """(PFN, page) of every placed data page in stream order, then the zero pages."""
        pfn_of = self._pfn_by_data_page()
        first_data = self.data_page_first
        for first, chunk in self.iter_stream_chunks(progress):
            mv = memoryview(chunk)
            for i in range(len(chunk) // PAGE_SIZE):
                k = first + i - first_data
                if k >= 0 and pfn_of[k] != NO_PFN:
                    yield pfn_of[k], mv[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]
        for pfn in self.pfns.zero_pfns:
            yield pfn, ZERO_PAGE

    # -- facts ---------------------------------------------------------------------------

    def index_nbytes(self) -> int:
        """Bytes held by the index (map entries, PFN arrays, block starts)."""
        e = self.swap_map.entries
        total = e.itemsize * len(e) + self.pfns.nbytes()
        if isinstance(self.stream, CompressedStream):
            total += self.stream.starts.itemsize * len(self.stream.starts)
        return total

    @property
    def zero_page_count(self) -> int:
        return len(self.pfns.zero_pfns)

    def iter_banners(self, prefix: bytes = b"Linux version ") -> Iterator[Tuple[int, bytes]]:
        """Kernel banners as (physical address, bytes up to and with the NUL), lazily: the
        kernel image around jump_address_phys first, all other memory after it.  A caller
        that needs one banner decompresses only the pages up to it."""
        near = self._kernel_range()
        yield from self._banners_in(self.present_pfns(near.start, near.stop), prefix)
        yield from self._banners_in((p for p in self.present_pfns() if p not in near), prefix)

    def find_banners(self, prefix: bytes = b"Linux version ", limit: int = 8) -> List[Tuple[int, bytes]]:
        """Up to `limit` banners of the kernel image around jump_address_phys; of all memory
        only when that has none."""
        near = self._kernel_range()
        hits = list(itertools.islice(self._banners_in(self.present_pfns(near.start, near.stop), prefix), limit))
        return hits or list(itertools.islice(self.iter_banners(prefix), limit))

    def _kernel_range(self) -> range:
        """PFNs around jump_address_phys (restore_registers, in kernel text): the kernel image."""
        record = self.info.record
        if record is None or record.jump_address_phys is None:
            return range(0)
        centre = record.jump_address_phys >> 12
        return range(max(0, centre - 0x4000), centre + 0x8000)

    def _banners_in(self, pfns, prefix: bytes) -> Iterator[Tuple[int, bytes]]:
        for pfn in pfns:
            try:
                page = bytes(self.read_page(pfn))
            except PageDamaged:
                continue
            at = page.find(prefix)
            while at >= 0:
                tail = self.read(pfn * PAGE_SIZE + at, 512, pad=True)
                yield pfn * PAGE_SIZE + at, tail.split(b"\0", 1)[0] + b"\0"
                at = page.find(prefix, at + 1)
