"""A hibernation image, read top to bottom as kernel/power/swap.c reads it:

    swsusp_check()       header page: signature, era layout           (header.py, spec §2)
    get_swap_reader()    the swap_map_page chain                       (swap_map.py, §3)
    swsusp_read()        stream page 0: swsusp_info + restore record   (info.py, §4.1-4.2)
    load_image*()        stream pages 1..: the PFN list, then data      (pfn_list.py, §4.3)
                         uncompressed, or LZO/LZ4 blocks of 32 pages    (compress.py, §5)

Opening reads the header, the map chain, the info page and the PFN list only; data blocks
are decompressed on demand (an LRU of decompressed blocks), and block boundaries are found
lazily from each block's 8-byte length.  Index memory: 4-8 bytes per stream page for the
block list and 4-8 bytes per PFN.
"""

import hashlib
import itertools
import os
import re
from array import array
from bisect import bisect_left
from bisect import insort
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Tuple

from . import locate
from .compress import (
    CMP_HEADER,
    CMP_PAGES_MAX,
    CMP_SIZE_MAX,
    UNC_PAGES,
    BlockDecompressor,
    crc32_le,
)
from .errors import NotAnImageError, PageDamaged, PageNotInImage, SwsuspFormatError
from .header import (
    HIBERNATE_SIG,
    PAGE_SIZE,
    SF_COMPRESSION_ALG_LZ4,
    SF_NOCOMPRESS_MODE,
    SIG_OFFSET,
    SWAP_SIGS,
    USWSUSP_SIG,
    USWSUSP_LAYOUT,
    SwsuspHeader,
    candidate_headers,
    read_header,
    signature_of,
)
from .identify import identify
from .info import SwsuspInfo, parse_info
from .pfn_list import ListEnd, PfnIndex, parse_pfn_list
from .readahead import WORKERS, ReadAhead
from .source import FileSource
from .swap_map import SwapMap, first_bad_entry, read_swap_map
from .uswsusp import IMAGE_CHECKSUM, IMAGE_COMPRESSED, ImageHeaderInfo, parse_image_header_info, read_extents

ZERO_PAGE = bytes(PAGE_SIZE)
Progress = Optional[Callable[[float, str], None]]

_BEYOND_END = "beyond the end of the input (truncated file)"

# How far a failed attempt got, so the most telling error is the one reported.
_STAGE_CHAIN, _STAGE_INFO, _STAGE_PFNS = 1, 2, 3


class _Failed(Exception):
    def __init__(self, stage: int, error: SwsuspFormatError) -> None:
        self.stage, self.error = stage, error


@dataclass(frozen=True)
class Damage:
    """Stream pages [first, end) that cannot be read, and why (salvage: the rest can)."""

    first: int
    end: int
    error: SwsuspFormatError
    block_index: Optional[int] = None  # the compressed block, for compressed images

    @property
    def where(self) -> str:
        pages = f"stream pages {self.first}-{self.end - 1}"
        return pages if self.block_index is None else f"compressed block #{self.block_index} ({pages})"


def _kind(error: SwsuspFormatError) -> str:
    """An error's reason without its numbers: consecutive pages lost the same way form one run."""
    return re.sub(r"\d+", "#", error.reason)


class SwsuspImage:
    """An in-kernel (S1SUSPEND, or consumed) hibernation image at one location."""

    def __init__(self, source, location: locate.Location, *, cache_blocks: int = 64) -> None:
        self.source = source
        self.location = location
        self._part_offset = location.partition.offset
        self._nblocks = location.partition.size // PAGE_SIZE
        self._cache: "OrderedDict[int, bytes]" = OrderedDict()
        self._cache_blocks = max(1, cache_blocks)
        self._crc: Optional[int] = None
        self.damage: List[Damage] = []  # sorted by first stream page; grows as blocks are read

        self.uswsusp: Optional[ImageHeaderInfo] = None
        page = self._read_page_at(location.header_offset, "header page")
        sig = signature_of(page)
        if sig != HIBERNATE_SIG and sig != USWSUSP_SIG and sig not in SWAP_SIGS:
            raise NotAnImageError(
                f"no hibernation signature at offset {SIG_OFFSET} of the header page (found {sig!r})",
                location.header_offset + SIG_OFFSET,
            )
        failures = []
        uswsusp = read_header(page, location.header_offset, USWSUSP_LAYOUT)
        kernel = [] if sig == USWSUSP_SIG else candidate_headers(page, location.header_offset)
        attempts = [(self._open, h) for h in kernel]
        if sig != HIBERNATE_SIG and uswsusp.image and uswsusp.image % PAGE_SIZE == 0:
            attempts.append((self._open_uswsusp, uswsusp))  # also a consumed s2disk image
        for open_as, header in attempts:
            try:
                open_as(header)
                return
            except _Failed as failed:
                failures.append(failed)
        raise self._explain_failure(page, sig, failures)

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path_or_source,
        *,
        resume_offset: Optional[int] = None,
        partition: Optional[int] = None,
        scan: str = "auto",
        **kwargs,
    ) -> "SwsuspImage":
        """Find and open the image in a swap partition, filesystem or disk image."""
        source = FileSource(path_or_source) if isinstance(path_or_source, (str, os.PathLike)) else path_or_source
        if source.size < PAGE_SIZE:
            raise NotAnImageError(f"input is {source.size} bytes, smaller than one swap header page", 0)
        errors: List[SwsuspFormatError] = []  # the first real error and the first "not an image"
        for location in locate.candidates(source, resume_offset, partition, scan):
            try:
                return cls(source, location, **kwargs)
            except SwsuspFormatError as exc:
                image = cls._copied_swap_file(source, location, exc, **kwargs)
                if image:
                    return image
                # keep the message, not the frames: a scan may try thousands of header-like pages
                exc.__traceback__ = exc.__context__ = None
                kind = isinstance(exc, NotAnImageError)
                if all(isinstance(e, NotAnImageError) != kind for e in errors):  # first of each kind
                    errors.append(exc)
        real = [e for e in errors if not isinstance(e, NotAnImageError)]
        if not real:  # nothing that even looked like an image: say what the input is instead
            what = cls._describe(source)
            # a swap header found by scanning explains itself better than "a filesystem"
            if what and not (errors and ("swap area" in what or "filesystem" in what)):
                raise NotAnImageError(f"not a hibernation image: {what}", 0)
            if not errors:
                raise NotAnImageError(
                    "not a hibernation image: no S1SUSPEND/ULSUSPEND/SWAPSPACE2 signature at offset 4086 "
                    "of the file or of a partition, nor in a filesystem",
                    SIG_OFFSET,
                )
        raise (real or errors)[0]

    @staticmethod
    def _describe(source) -> Optional[str]:
        """Name what the input is instead (LUKS, LVM, a RAM dump, a filesystem...)."""
        what = identify(source)
        if what:
            return f"the input is {what}"
        named = [f"{part.name} is {identify(source, part.offset)}" for part in locate.partitions(source)
                 if identify(source, part.offset)]
        return "; ".join(named) or None

    @classmethod
    def _copied_swap_file(cls, source, location, error, **kwargs) -> Optional["SwsuspImage"]:
        """A swap file copied out of its filesystem keeps filesystem block numbers: rebase them.

        The first map page is normally swap slot 1, so try first blocks image-1, image-2, ...
        """
        if location.resume_offset or location.block_base or isinstance(error, NotAnImageError):
            return None
        page = source.read(location.header_offset, PAGE_SIZE)
        nblocks = location.partition.size // PAGE_SIZE
        for header in candidate_headers(page, location.header_offset):
            if header.image < nblocks or header.image >= 1 << 32:  # 2^32+: an older layout's misreading
                continue
            for slot in range(1, 9):
                try:
                    return cls(source, locate.rebased(location, header.image - slot), **kwargs)
                except SwsuspFormatError:
                    continue
        return None

    def _open(self, header: SwsuspHeader) -> None:
        """An in-kernel image: header -> swap_map chain -> info page (uncompressed, entry 0)."""
        self.header = header
        self._stream_base = 1  # the kernel stores page 0 (swsusp_info) alone, uncompressed
        try:
            self.swap_map: SwapMap = read_swap_map(
                header.image,
                self._read_block,
                self.block_offset,
                self._is_block,
                self._nblocks,
                header.offset + header.layout.image,
            )
        except SwsuspFormatError as exc:
            raise _Failed(0, exc) from None
        entries = self.swap_map.entries
        broken = self.swap_map.broken  # salvage: kept only if the info page and PFN list are readable
        try:
            self.info: SwsuspInfo = parse_info(self._read_blocks(entries[:1], 0), self.block_offset(entries[0]))
        except SwsuspFormatError as exc:
            raise _Failed(0 if broken else _STAGE_CHAIN, broken or exc) from None
        try:
            self.codec = self._choose_codec()
            self._setup_stream()
            meta, cut = self._read_meta()
        except SwsuspFormatError as exc:
            raise _Failed(0 if broken else _STAGE_INFO, broken or exc) from None
        self._read_pfn_list(meta, cut)

    def _read_meta(self) -> Tuple[bytearray, bool]:
        """The PFN-list pages (stream pages 1..M), one block at a time and only as far as the
        list goes: M is not checked yet, so reading all of it at once let a lying
        image_pages size the allocation (see pfn_list.ListEnd)."""
        meta, end, last = bytearray(), ListEnd(self.info.image_pages), self.info.meta_pages
        for first in range(1, last + 1, UNC_PAGES):
            try:
                chunk = self.read_stream(first, min(UNC_PAGES, last + 1 - first))
            except PageDamaged as exc:  # the PFN list is needed whole: no salvage without it
                raise exc.error from None
            meta += chunk
            if end.reached(chunk):
                break
        return meta, end.too_many

    def _read_pfn_list(self, meta: bytes, cut: bool = False) -> None:
        try:
            self.pfns: PfnIndex = parse_pfn_list(meta, self.info.image_pages, self._offset_of_pfn_entry, cut)
        except SwsuspFormatError as exc:
            raise _Failed(_STAGE_PFNS, exc) from None

    def _open_uswsusp(self, header: SwsuspHeader) -> None:
        """An s2disk image: header -> image_header_info -> extents -> the same kernel stream."""
        self.header = header
        self._stream_base = 0  # compressed buffers start with the swsusp_info page
        size = self._nblocks * PAGE_SIZE
        try:
            block = header.image // PAGE_SIZE
            if not self._is_block(block):
                raise SwsuspFormatError(f"s2disk image pointer {header.image:#x} is outside the device",
                                        header.offset + header.layout.image)
            self.uswsusp = parse_image_header_info(self._read_block(block), self.block_offset(block), size)
            self.swap_map = read_extents(self.uswsusp, self._read_block, size, self.block_offset)
        except SwsuspFormatError as exc:
            raise _Failed(0, exc) from None
        try:
            self.codec = "lzo" if self.uswsusp.flags & IMAGE_COMPRESSED else "none"
            self.info = SwsuspInfo(0, 0, 0, 0, 0, self.uswsusp.pages, self.uswsusp.pages * PAGE_SIZE, None, None)
            self._setup_stream()
            first = self.stream_offset(0)
            self.info = parse_info(bytes(self.stream_page(0)), first)
            if self.info.pages != self.uswsusp.pages:
                raise SwsuspFormatError(
                    f"s2disk header says {self.uswsusp.pages} pages, swsusp_info says {self.info.pages}",
                    self.uswsusp.offset,
                )
        except SwsuspFormatError as exc:
            raise _Failed(_STAGE_CHAIN, exc) from None
        try:
            meta, cut = self._read_meta()
        except SwsuspFormatError as exc:
            raise _Failed(_STAGE_INFO, exc) from None
        self._read_pfn_list(meta, cut)

    @property
    def kind(self) -> str:
        return "s2disk (uswsusp)" if self.uswsusp else "in-kernel"

    def _explain_failure(self, page: bytes, sig: bytes, failures: List[_Failed]) -> SwsuspFormatError:
        best = max(failures, key=lambda f: f.stage, default=None)
        if sig in SWAP_SIGS:
            where = self.location.header_offset + SIG_OFFSET
            if best is None:
                return NotAnImageError(
                    f"plain swap area (signature {sig.decode()}) holding no hibernation image: "
                    "its image pointer is 0",
                    where,
                )
            if best.stage == 0:
                return NotAnImageError(
                    f"plain swap area (signature {sig.decode()}) holding no hibernation image: a "
                    f"consumed image's pointer does not lead to one ({best.error.message})",
                    where,
                )
        if best is None:
            return SwsuspFormatError("hibernation header has a zero image pointer", self.location.header_offset + 4064)
        return best.error

    # -- blocks of the swap area ---------------------------------------------------------

    def block_offset(self, block: int) -> int:
        """Byte offset in the input of swap block `block` (spec §1)."""
        return self._part_offset + (block - self.location.block_base) * PAGE_SIZE

    def _is_block(self, block: int) -> bool:
        rel = block - self.location.block_base
        if not 0 < rel < self._nblocks:
            return False
        header = getattr(self, "header", None)
        if self.location.resume_offset == self.location.block_base and header and header.mkswap_version == 1:
            return rel <= header.last_page or header.last_page == 0
        return True

    def _outside(self, block: int) -> str:
        """Where a block the area does not hold is: past a truncated copy of a partition
        whose mkswap header says it is larger, or really outside."""
        header = getattr(self, "header", None)
        rel = block - self.location.block_base
        if header and not self.location.resume_offset and self._nblocks <= rel <= header.last_page:
            return _BEYOND_END
        return "outside the swap area"

    def _read_page_at(self, offset: int, what: str) -> bytes:
        data = self.source.read(offset, PAGE_SIZE)
        if len(data) != PAGE_SIZE:
            raise SwsuspFormatError(f"input ends inside the {what} (truncated file)", offset)
        return data

    def _read_block(self, block: int) -> bytes:
        return self._read_page_at(self.block_offset(block), f"swap block {block}")

    def _read_blocks(self, blocks, first_entry: Optional[int] = None) -> bytes:
        """Read swap blocks in order, one read per run of consecutive blocks.  With
        `first_entry` (the map index of blocks[0]) the blocks are checked against the area."""
        if first_entry is not None:
            bad = first_bad_entry(self.swap_map, first_entry, first_entry + len(blocks), self._is_block, self._outside)
            if bad:
                raise bad
        out, i, n = [], 0, len(blocks)
        while i < n:
            j = i + 1
            while j < n and blocks[j] == blocks[j - 1] + 1:
                j += 1
            offset = self.block_offset(blocks[i])
            data = self.source.read(offset, (j - i) * PAGE_SIZE)
            if len(data) != (j - i) * PAGE_SIZE:
                raise self._beyond_end(blocks, i, len(data), first_entry)
            out.append(data)
            i = j
        return b"".join(out)

    def _beyond_end(self, blocks, i: int, got: int, first_entry: Optional[int]) -> SwsuspFormatError:
        """A read past the end of the input: named by the map entry pointing there, which
        lies inside the file (the offset read from does not)."""
        k = i + got // PAGE_SIZE
        if first_entry is None or self.swap_map.entry_offset(first_entry + k) is None:
            return SwsuspFormatError("input ends inside the image data (truncated file)",
                                     self.block_offset(blocks[i]), block=blocks[i])
        return SwsuspFormatError(
            f"swap_map entry {first_entry + k} points to block {blocks[k]}, beyond the end of the input "
            "(truncated file)",
            self.swap_map.entry_offset(first_entry + k), block=blocks[k],
        )

    # -- the stream ----------------------------------------------------------------------

    def _choose_codec(self) -> str:
        """Spec §6.3: era, then the flag, then the entry count decide (in-kernel images)."""
        if self.header.layout.name != "A" or self.header.flags & SF_NOCOMPRESS_MODE:
            return "none"
        if len(self.swap_map) == self.info.pages:
            return "none"  # 2.6.23-2.6.36 images are uncompressed without the flag
        return "lz4" if self.header.flags & SF_COMPRESSION_ALG_LZ4 else "lzo"

    def _setup_stream(self) -> None:
        n = len(self.swap_map)
        pages = self.info.pages
        self.nr_blocks = -(-(pages - self._stream_base) // UNC_PAGES)
        self._lost_from: Optional[int] = None  # compressed block from which the stream is lost
        self._rechecked: set = set()  # damaged blocks already looked for after a damaged neighbour
        if self.codec == "none":
            self._decompress = None
            self._find_uncompressed_damage()
        else:
            if n > 1 + self.nr_blocks * CMP_PAGES_MAX:
                raise SwsuspFormatError(
                    f"map chain lists {n} pages, more than {self.nr_blocks} compressed blocks can use",
                    self.block_offset(self.swap_map.map_blocks[0]),
                )
            self._decompress = BlockDecompressor(self.codec)
            self._block_starts = array("Q", [self._stream_base])  # stream entry of each block's first page
            workers = WORKERS if getattr(self.source, "thread_safe", False) else 0  # in-order walks: ahead
            self._readahead = ReadAhead(self._decompress_block, self._block_start, self.nr_blocks, self._cache, workers,
                                        fetch_ahead=self._decompress_ahead)

    def _chain_short(self) -> SwsuspFormatError:
        """Why the map lists fewer stream pages than swsusp_info.pages."""
        return self.swap_map.broken or SwsuspFormatError(
            f"map chain lists {len(self.swap_map)} stream pages but swsusp_info says {self.info.pages} "
            "(truncated image)",
            self.block_offset(self.swap_map.map_blocks[-1]),
        )

    def _find_uncompressed_damage(self) -> None:
        """Uncompressed images: every page's readability is known from the map alone (a block
        outside the area or beyond the end of the file, or past a broken chain)."""
        entries, pages = self.swap_map.entries, self.info.pages
        n = min(len(entries), pages)
        limit = (self.source.size - self._part_offset) // PAGE_SIZE + self.location.block_base - 1  # last in file
        lo, hi = (min(entries[:n]), max(entries[:n])) if n else (1, 1)
        if n and not (self._is_block(lo) and self._is_block(hi) and hi <= limit):
            run = None
            for p in range(n):  # damage only: one pass, grouped into runs
                error = self._uncompressed_page_error(p, limit)
                if error and run and run[1] == p and _kind(run[2]) == _kind(error):
                    run[1] = p + 1
                    continue
                if run:
                    self._add_damage(Damage(run[0], run[1], run[2]))
                run = [p, p + 1, error] if error else None
            if run:
                self._add_damage(Damage(run[0], run[1], run[2]))
        if n < pages:
            self._add_damage(Damage(n, pages, self._chain_short()))

    def _uncompressed_page_error(self, p: int, limit: int) -> Optional[SwsuspFormatError]:
        bad = first_bad_entry(self.swap_map, p, p + 1, self._is_block, self._outside)
        if bad:
            return bad
        block = self.swap_map.entries[p]
        if block > limit:
            return SwsuspFormatError(f"swap_map entry {p} points to block {block}, {_BEYOND_END}",
                                     self.swap_map.entry_offset(p), block=block)
        return None

    # -- damage --------------------------------------------------------------------------

    def _add_damage(self, damage: Damage) -> None:
        """Record damage unless known; ranges never overlap (a wider one replaces those inside)."""
        if self._damage_at(damage.first) is None:
            self.damage = [d for d in self.damage if not damage.first <= d.first < damage.end]
            insort(self.damage, damage, key=lambda d: d.first)

    def _damage_at(self, page: int) -> Optional[Damage]:
        i = bisect_left(self.damage, page + 1, key=lambda d: d.first) - 1
        if i >= 0 and self.damage[i].first <= page < self.damage[i].end:
            return self.damage[i]
        return None

    def _next_damage(self, page: int) -> int:
        """First damaged stream page at or after `page` (the stream's end when none)."""
        d = self._damage_at(page)
        if d:
            return page
        i = bisect_left(self.damage, page, key=lambda d: d.first)
        return self.damage[i].first if i < len(self.damage) else self.info.pages

    def damaged_pfns(self, damage: Damage) -> array:
        """PFNs whose data pages lie in `damage` (metadata pages have none)."""
        first = max(damage.first, self.data_page_first) - self.data_page_first
        end = max(damage.end, self.data_page_first) - self.data_page_first
        pfn_of = self.pfn_of_data_page()
        return array(pfn_of.typecode, sorted(pfn_of[first:end]))

    def is_damaged_pfn(self, pfn: int) -> bool:
        """Known damaged (blocks not yet decompressed may still turn out damaged)."""
        if not self.damage:
            return False
        k = self._data_index(pfn)
        return k is not None and self._damage_at(self.data_page_first + k) is not None

    def scan_damage(self, progress: Progress = None) -> List[Damage]:
        """Read the whole stream once so every damaged block is known (the CRC does this too)."""
        for _chunk in self.iter_stream_chunks(progress):
            pass
        return self.damage

    # -- compressed blocks ---------------------------------------------------------------

    def stream_offset(self, page: int) -> int:
        """File offset of stream page `page` (for compressed images: of its block's start)."""
        if self.codec == "none":
            return self.block_offset(self.swap_map.entries[page])
        return self.block_offset(self.swap_map.entries[self._block_start((page - self._stream_base) // UNC_PAGES)])

    def _offset_of_pfn_entry(self, i: int) -> int:
        page = 1 + i // 512
        return self.stream_offset(page) + (8 * (i % 512) if self.codec == "none" else 0)

    def _block_first_page(self, index: int) -> int:
        return self._stream_base + index * UNC_PAGES

    def _block_start(self, index: int) -> int:
        """Entry index of compressed block `index`'s first page, found lazily from each block's
        length (spec §5.2).  A block whose length is damaged is skipped by finding the next
        block (salvage); if none is found, the stream is lost from there on."""
        starts = self._block_starts
        if self._lost_from is not None and index > self._lost_from:
            raise self._damage_at(self._block_first_page(self._lost_from)).error
        while len(starts) <= index:  # starts[j + 1] is where block j ends
            j = len(starts) - 1
            try:
                starts.append(self._block_end(j, starts[j]))
            except SwsuspFormatError as exc:
                if not self._relocate(j + 1, starts[j] + 1):  # the rest of the stream cannot be located
                    self._lost_from = j
                    self._add_damage(Damage(self._block_first_page(j), self.info.pages, exc, j))
                    raise
                self._add_damage(Damage(self._block_first_page(j), self._block_first_page(j + 1), exc, j))
        return starts[index]

    def _block_end(self, j: int, first: int) -> int:
        """Entry index after compressed block j, which starts at entry `first`."""
        entries = self.swap_map.entries
        if first >= len(entries):
            raise self.swap_map.broken or SwsuspFormatError(
                f"stream ends before compressed block #{j} (map lists {len(entries)} pages)",
                self.block_offset(self.swap_map.map_blocks[-1]),
                block_index=j,
            )
        bad = first_bad_entry(self.swap_map, first, first + 1, self._is_block, self._outside)
        if bad:
            bad.block_index = j
            raise bad
        offset = self.block_offset(entries[first])
        head = self.source.read(offset, CMP_HEADER)
        if len(head) < CMP_HEADER:
            raise SwsuspFormatError(f"input ends inside compressed block #{j} (truncated file)", offset,
                                    block=entries[first], block_index=j)
        cmp_len = int.from_bytes(head, "little")
        if not 0 < cmp_len <= CMP_SIZE_MAX:
            raise SwsuspFormatError(
                f"compressed block length {cmp_len} is outside 1..{CMP_SIZE_MAX} "
                f"(more than {CMP_PAGES_MAX} pages)",
                offset,
                block=entries[first],
                block_index=j,
            )
        end = first + -(-(CMP_HEADER + cmp_len) // PAGE_SIZE)
        if end > len(entries):
            raise self.swap_map.broken or SwsuspFormatError(
                f"compressed block #{j} needs {end - first} pages but the map ends after {len(entries) - first}",
                offset,
                block_index=j,
            )
        return end

    def _relocate(self, k: int, lo: int, skip: Optional[int] = None) -> bool:
        """Find block k among the CMP_PAGES_MAX entries from `lo` (after a block whose length
        is unusable or suspect) and rebuild the index from it.  A candidate must decompress as
        a whole block *and* its lengths must lead to the end of the map in exactly the blocks
        left: that is what tells block k from block k+1, which decompresses just as well but
        ends one block early.  Bounded: 35 candidates, one pass over the remaining lengths
        for each that decompresses."""
        entries = self.swap_map.entries
        if k >= self.nr_blocks or self.swap_map.broken:
            return False  # without the whole map, no identity check: lose the rest, guess nothing
        for candidate in range(lo, min(lo + CMP_PAGES_MAX, len(entries))):
            if candidate == skip:
                continue
            try:
                end = self._block_end(k, candidate)
                data = self._decompress_span(k, candidate, end)
                chain = self._chain_from(k, candidate)
            except SwsuspFormatError:
                continue
            if chain is None:
                continue
            del self._block_starts[k:]
            self._block_starts.extend(chain)
            self._remember(k, data)
            return True
        return False

    def _chain_from(self, k: int, start: int) -> Optional[array]:
        """Starts of blocks k.. and the end of the last, following the lengths from `start`;
        None unless they end exactly where the map does."""
        chain = array("Q", [start])
        for j in range(k, self.nr_blocks):
            chain.append(self._block_end(j, chain[-1]))
        return chain if chain[-1] == len(self.swap_map.entries) else None

    def _block_pages(self, index: int) -> int:
        return min(UNC_PAGES, self.info.pages - self._stream_base - index * UNC_PAGES)

    def _decompress_span(self, index: int, first: int, end: int) -> bytes:
        raw = self._read_blocks(self.swap_map.entries[first:end], first)
        cmp_len = int.from_bytes(raw[:CMP_HEADER], "little")
        return self._decompress(
            raw[CMP_HEADER : CMP_HEADER + cmp_len],
            self._block_pages(index) * PAGE_SIZE,
            self.block_offset(self.swap_map.entries[first]),
            index,
        )

    def _decompress_block(self, index: int) -> bytes:
        """Block `index` decompressed (uncached); PageDamaged if it cannot be, recorded.

        Damage found while locating the block (its length, read where a damaged neighbour's
        length put it) is checked once more against the neighbour: the order in which blocks
        were located (read-ahead locates early) must not change what is salvaged."""
        first = self._block_first_page(index)
        if self._damage_at(first) is None:
            try:
                return self._decompress_span(index, self._block_start(index), self._block_start(index + 1))
            except SwsuspFormatError as exc:
                if exc.block_index is None and exc is not self.swap_map.broken:
                    exc.block_index = index
                if self._damage_at(first) is None:
                    self._add_damage(Damage(first, first + self._block_pages(index), exc, index))
        if index not in self._rechecked:
            self._rechecked.add(index)
            moved = self._restart_after_damaged(index)
            if moved is not None:
                return moved
        raise PageDamaged(None, self._damage_at(first).error)

    def _decompress_ahead(self, index: int) -> bytes:
        """Block `index` for a read-ahead worker: no bookkeeping (the caller's thread found the
        boundaries); any failure is redone by the caller on the salvage path."""
        starts = self._block_starts
        return self._decompress_span(index, starts[index], starts[index + 1])

    def _restart_after_damaged(self, index: int) -> Optional[bytes]:
        """Block `index` failed where the lengths put it.  If block index-1 is damaged too, its
        length (which placed this block) is suspect: look for this block in the 35 entries
        after index-1's start (with the identity check of _relocate)."""
        j = index - 1
        starts = self._block_starts
        if j < 0 or len(starts) <= index or not self._is_damaged_block(j):
            return None
        if not self._relocate(index, starts[j] + 1, skip=starts[index]):
            return None
        self._lost_from = None if self._lost_from is None or self._lost_from >= index else self._lost_from
        self.damage = [d for d in self.damage if d.block_index is None or d.block_index < index]
        self._rechecked = {i for i in self._rechecked if i <= index}
        return self._cache.pop(index)  # _relocate decompressed and cached it

    def _is_damaged_block(self, j: int) -> bool:
        """Known damaged, or fails to decompress now (checked directly: no recursion)."""
        if self._damage_at(self._block_first_page(j)) is not None:
            return True
        if j in self._cache:
            return False
        try:
            self._decompress_span(j, self._block_start(j), self._block_start(j + 1))
        except SwsuspFormatError:
            return True
        return False

    def _remember(self, index: int, data: bytes) -> None:
        self._cache[index] = data
        if len(self._cache) > self._cache_blocks:
            self._cache.popitem(last=False)

    def _block(self, index: int) -> bytes:
        """A decompressed block, through the LRU cache."""
        data = self._cache.get(index)
        if data is not None:
            self._cache.move_to_end(index)
            return data
        data = self._readahead.get(index)
        self._remember(index, data)
        return data

    def _stream_pages(self, page: int, count: int) -> bytes:
        """Uncompressed images: stream pages page.. (fewer if damage follows); PageDamaged
        if `page` itself is damaged."""
        stop = self._next_damage(page) if self.damage else self.info.pages
        if stop == page:
            raise PageDamaged(None, self._damage_at(page).error)
        count = min(count, stop - page)
        return self._read_blocks(self.swap_map.entries[page : page + count], page), count

    def stream_page(self, page: int) -> bytes:
        """Uncompressed stream page `page` (1 .. pages-1)."""
        if self.codec == "none":
            return self._stream_pages(page, 1)[0]
        index, slot = divmod(page - self._stream_base, UNC_PAGES)
        return memoryview(self._block(index))[slot * PAGE_SIZE : (slot + 1) * PAGE_SIZE]

    def read_stream(self, first: int, count: int) -> bytes:
        """Stream pages first .. first+count-1, concatenated."""
        if self.codec == "none":
            data, got = self._stream_pages(first, count)
            if got < count:
                raise PageDamaged(None, self._damage_at(first + got).error)
            return data
        return b"".join(self.stream_page(p) for p in range(first, first + count))

    def iter_stream_chunks(self, progress: Progress = None) -> Iterator[Tuple[int, bytes]]:
        """(first stream page, uncompressed bytes) in order, uncached: pages 1.. of an in-kernel
        image (what its CRC covers), pages 0.. of an s2disk image (what its MD5 covers).
        Damaged parts are skipped (and recorded in `damage`)."""
        base, total = self._stream_base, self.info.pages
        if self.codec == "none":
            page = base
            while page < total:
                try:
                    data, got = self._stream_pages(page, min(UNC_PAGES, total - page))
                except PageDamaged:
                    page = self._damage_at(page).end
                    continue
                yield page, data
                if progress and (page - base) % (UNC_PAGES * 64) < got:
                    progress(100.0 * page / total, "Reading image pages")
                page += got
        else:
            for index in range(self.nr_blocks):
                if self._lost_from is not None and index > self._lost_from:
                    break
                try:
                    data = self._cache.get(index) or self._readahead.get(index)
                except PageDamaged:
                    continue
                yield base + index * UNC_PAGES, data
                if progress and index % 64 == 0:
                    progress(100.0 * index / self.nr_blocks, "Decompressing image blocks")

    # -- integrity -----------------------------------------------------------------------

    def compute_crc32(self, progress: Progress = None) -> Optional[int]:
        """crc32_le(0, …) of the uncompressed stream after the header page (spec §5.3);
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

    def is_zero_page(self, pfn: int) -> bool:
        zero = self.pfns.zero_pfns
        i = bisect_left(zero, pfn)
        return i < len(zero) and zero[i] == pfn

    def has_pfn(self, pfn: int) -> bool:
        return self._data_index(pfn) is not None or self.is_zero_page(pfn)

    def read_page(self, pfn: int) -> bytes:
        """Page `pfn` as saved; PageNotInImage if the image does not hold it."""
        k = self._data_index(pfn)
        if k is not None:
            try:
                return self.stream_page(self.data_page_first + k)
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

    def _data_pages(self, k: int, count: int):
        """Up to `count` data pages from data page k, as (bytes-like, pages) within one block."""
        page = self.data_page_first + k
        if self.codec == "none":
            return self._stream_pages(page, count)
        index, slot = divmod(page - self._stream_base, UNC_PAGES)
        count = min(count, UNC_PAGES - slot)
        return memoryview(self._block(index))[slot * PAGE_SIZE : (slot + count) * PAGE_SIZE], count

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
        start = prev = None
        for pfn in self.present_pfns(first_pfn, end_pfn):
            if prev is not None and pfn == prev + 1:
                prev = pfn
                continue
            if start is not None:
                yield start, prev - start + 1
            start = prev = pfn
        if start is not None:
            yield start, prev - start + 1

    @property
    def min_pfn(self) -> int:
        return min(x[0] for x in (self.pfns.data_pfns, self.pfns.zero_pfns) if len(x))

    @property
    def max_pfn(self) -> int:
        return max(x[-1] for x in (self.pfns.data_pfns, self.pfns.zero_pfns) if len(x))

    def pfn_of_data_page(self) -> array:
        """Data page number -> PFN (list order)."""
        if self.pfns.data_slot is None:
            return self.pfns.data_pfns
        out = array(self.pfns.data_pfns.typecode, bytes(len(self.pfns.data_pfns) * self.pfns.data_pfns.itemsize))
        for pos, k in enumerate(self.pfns.data_slot):
            out[k] = self.pfns.data_pfns[pos]
        return out

    def iter_pages(self, progress: Progress = None) -> Iterator[Tuple[int, bytes]]:
        """(PFN, page) of every data page in stream order, then the zero pages."""
        pfn_of = self.pfn_of_data_page()
        first_data = self.data_page_first
        for first, chunk in self.iter_stream_chunks(progress):
            mv = memoryview(chunk)
            for i in range(len(chunk) // PAGE_SIZE):
                k = first + i - first_data
                if k >= 0:
                    yield pfn_of[k], mv[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]
        for pfn in self.pfns.zero_pfns:
            yield pfn, ZERO_PAGE

    # -- facts ---------------------------------------------------------------------------

    def index_nbytes(self) -> int:
        """Bytes held by the index (map entries, PFN arrays, block starts)."""
        e = self.swap_map.entries
        total = e.itemsize * len(e) + self.pfns.nbytes()
        if self.codec != "none":
            total += self._block_starts.itemsize * len(self._block_starts)
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
