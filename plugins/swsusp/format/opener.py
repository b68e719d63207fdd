"""Finding and opening a hibernation image, top to bottom as kernel/power/swap.c reads it
(docs/format.md §6):

    swsusp_check()       the header page: signature, era layout             (header.py)
    get_swap_reader()    the swap_map_page chain                             (swap_map.py)
    swsusp_read()        stream page 0: swsusp_info + restore record         (info.py)
    load_image*()        stream pages 1..M: the PFN list                     (stream.py, pfn_list.py)

An s2disk image takes the same steps through its own container (uswsusp.py).  Each era's
layout is tried in turn; when all fail, the error of the attempt that got furthest is the
one reported, so the message names the real problem.
"""

import os
from dataclasses import dataclass, replace
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from . import locate
from .compress import UNC_PAGES
from .errors import NotAnImageError, PageDamaged, SwsuspFormatError
from .filefrag import Extent
from .header import (
    HIBERNATE_SIG,
    SF_COMPRESSION_ALG_LZ4,
    SF_NOCOMPRESS_MODE,
    SWAP_SIGS,
    USWSUSP_LAYOUT,
    USWSUSP_SIG,
    SwsuspHeader,
    candidate_headers,
    read_header,
    signature_of,
    swap_header_doubt,
)
from .identify import identify
from .info import SwsuspInfo, parse_info, plausible_pages
from .pfn_list import ListEnd, PfnIndex, parse_pfn_list
from .source import FileSource, Source
from .stream import CompressedStream, PlainStream, read_map_blocks
from .structs import IMAGE_HEADER_INFO, PAGE_SIZE, PFN_ENTRY, SIG_OFFSET, SWAP_MAP_PAGE_STRUCT, SWSUSP_HEADER_A
from .swap_area import SwapArea
from .swap_map import SwapMap, read_swap_map
from .uswsusp import IMAGE_COMPRESSED, ImageHeaderInfo, parse_image_header_info, read_extents

Stream = Union[PlainStream, CompressedStream]

# How far a failed attempt got, so the most telling error is the one reported.
_STAGE_CHAIN, _STAGE_INFO, _STAGE_PFNS = 1, 2, 3


class _Failed(Exception):
    def __init__(self, stage: int, error: SwsuspFormatError) -> None:
        self.stage, self.error = stage, error


@dataclass
class ImageParts:
    """What opening found: everything the image's pages depend on."""

    location: locate.Location
    header: SwsuspHeader
    area: SwapArea
    swap_map: SwapMap
    info: SwsuspInfo
    stream: Stream
    pfns: PfnIndex
    uswsusp: Optional[ImageHeaderInfo] = None
    notes: Tuple[str, ...] = ()  # size fields the image's own structure contradicted, and what was used
    codec_notes: Tuple[str, ...] = ()  # read with another codec than the header's flags say (one line each)

    @property
    def warnings(self) -> Tuple[str, ...]:
        return self.notes + self.info.notes


# -- one location ---------------------------------------------------------------------------


def open_at(source: Source, location: locate.Location, cache_blocks: int = 64) -> ImageParts:
    """The image whose header page is at `location`, under the first layout that reads."""
    page = source.read(location.header_offset, PAGE_SIZE)
    if len(page) != PAGE_SIZE:
        raise SwsuspFormatError("input ends inside the header page (truncated file)", location.header_offset)
    sig = signature_of(page)
    if sig != HIBERNATE_SIG and sig != USWSUSP_SIG and sig not in SWAP_SIGS:
        raise NotAnImageError(
            f"no hibernation signature at offset {SIG_OFFSET} of the header page (found {sig!r})",
            location.header_offset + SIG_OFFSET,
        )
    attempts: List[Tuple[object, SwsuspHeader]] = []
    if sig != USWSUSP_SIG:
        attempts += [(_open_kernel, h) for h in candidate_headers(page, location.header_offset)]
    uswsusp = read_header(page, location.header_offset, USWSUSP_LAYOUT)
    if sig != HIBERNATE_SIG and uswsusp.image and uswsusp.image % PAGE_SIZE == 0:
        attempts.append((_open_uswsusp, uswsusp))  # also a consumed s2disk image
    failures = []
    for open_as, header in attempts:
        area = SwapArea(source, location, header.area_last_page)
        try:
            return open_as(area, header, cache_blocks)  # type: ignore[operator]
        except _Failed as failed:
            failures.append(failed)
    raise _explain_failure(location, sig, failures, _not_a_swap_area(source, location, page))


def _open_kernel(area: SwapArea, header: SwsuspHeader, cache_blocks: int) -> ImageParts:
    """An in-kernel image: header -> swap_map chain -> info page (uncompressed, entry 0)."""
    try:
        swap_map: Optional[SwapMap] = _read_map(area, header)
    except SwsuspFormatError as exc:
        swap_map, failure = None, exc
    area, swap_map, notes = _checked_last_page(area, header, swap_map)
    if swap_map is None:
        raise _Failed(0, failure) from None
    broken = swap_map.broken  # salvage: kept only if the info page and PFN list are readable
    try:  # page 0 is stored alone, uncompressed
        info = parse_info(read_map_blocks(area, swap_map, swap_map.entries[:1], 0),
                          area.block_offset(swap_map.entries[0]))
    except SwsuspFormatError as exc:
        raise _Failed(0 if broken else _STAGE_CHAIN, broken or exc) from None
    codec = _kernel_codec(header, swap_map, info)
    codec_notes: Tuple[str, ...] = ()
    try:
        try:
            stream = _stream(area, swap_map, info, base=1, codec=codec, cache_blocks=cache_blocks)
            pfns = _read_pfn_list(stream, info)
        except _Failed:
            other = _other_codec(area, header, swap_map, info, codec, cache_blocks)
            if other is None:
                raise
            stream, pfns, note, codec = other
            codec_notes += (note,)
        checked = _meta_pages_of_list(info, pfns)
        if checked is not info:  # pages/size were wrong: the stream's length and data start move
            info = checked
            stream = _stream(area, swap_map, info, base=1, codec=codec, cache_blocks=cache_blocks)
    except _Failed as failed:
        if broken and failed.stage < _STAGE_PFNS:
            raise _Failed(0, broken) from None
        raise
    return ImageParts(area.location, header, area, swap_map, info, stream, pfns, notes=notes,
                      codec_notes=codec_notes)


def _read_map(area: SwapArea, header: SwsuspHeader) -> SwapMap:
    return read_swap_map(header.image, area.read_block, area.block_offset, area.holds_block, area.nr_blocks,
                         header.offset + header.layout.struct.offset("image"))


def _checked_last_page(area: SwapArea, header: SwsuspHeader, swap_map: Optional[SwapMap]
                       ) -> Tuple[SwapArea, Optional[SwapMap], Tuple[str, ...]]:
    """mkswap's last_page, unless the image's own map contradicts it: two or more of its
    blocks (map pages or data) beyond it yet inside the file (one is a damaged entry or
    pointer, lost alone).  The kernel reads the image by block and never looks at
    last_page: the file's size and the map chain tell the truth."""
    last, base = area.last_page, area.location.block_base
    if not (last and area.slots_are_blocks):
        return area, swap_map, ()
    if swap_map is not None and swap_map.broken is None and max(swap_map.entries) - base <= last:
        return area, swap_map, ()  # the map keeps inside last_page
    bounded_by_file = SwapArea(area.source, area.location)
    try:
        lenient = _read_map(bounded_by_file, header)
    except SwsuspFormatError:
        return area, swap_map, ()
    beyond = [b for b in list(lenient.map_blocks) + list(lenient.entries) if last < b - base < area.nr_blocks]
    if len(beyond) < 2:
        return area, swap_map, ()
    note = (f"mkswap last_page {last} (file offset {header.field_offset('last_page'):#x}) is below block "
            f"{max(beyond)} of the image's own map ({len(beyond)} of its blocks lie beyond it): ignored, the "
            f"input's size ({area.nr_blocks} blocks) bounds the swap area")
    return bounded_by_file, lenient, (note,)


def _meta_pages_of_list(info: SwsuspInfo, pfns: PfnIndex) -> SwsuspInfo:
    """The info with M as the PFN list fills it (`nr_meta_pages` = ceil(entries / 512)):
    pages and size damaged alike would put the data pages behind a wrong M, and misread
    them all."""
    entries = len(pfns.data_pfns) + len(pfns.zero_pfns) + len(pfns.rejected)
    meta = -(-entries // (PAGE_SIZE // PFN_ENTRY))
    return info if meta == info.meta_pages else info.with_meta_pages(meta)


def _kernel_codec(header: SwsuspHeader, swap_map: SwapMap, info: SwsuspInfo) -> str:
    """§6.3: era, then the flag, then the entry count decide."""
    if header.layout.name != "A" or header.flags & SF_NOCOMPRESS_MODE:
        return "none"
    if len(swap_map) == info.pages:
        return "none"  # 2.6.23-2.6.36 images are uncompressed without the flag
    return "lz4" if header.flags & SF_COMPRESSION_ALG_LZ4 else "lzo"


_CODEC_FLAGS = {"none": "uncompressed (SF_NOCOMPRESS_MODE)", "lzo": "LZO (no SF_COMPRESSION_ALG_LZ4)",
                "lz4": "LZ4 (SF_COMPRESSION_ALG_LZ4)"}


def _other_codec(area: SwapArea, header: SwsuspHeader, swap_map: SwapMap, info: SwsuspInfo, flagged: str,
                 cache_blocks: int) -> Optional[Tuple[Stream, PfnIndex, str, str]]:
    """A flipped compression bit in the header's flags must not refuse an intact image: when
    the flagged codec cannot read block #0 (the PFN list), the other codec of a compressed
    stream is tried (a stream with one entry per page is uncompressed whatever the flags
    say: _kernel_codec).  Only a codec that decodes the whole PFN list is accepted."""
    if header.layout.name != "A" or len(swap_map) == info.pages:
        return None
    for codec in ("lzo", "lz4"):
        if codec == flagged:
            continue
        try:
            stream = _stream(area, swap_map, info, base=1, codec=codec, cache_blocks=cache_blocks)
            pfns = _read_pfn_list(stream, info)
        except (_Failed, ImportError):
            continue
        where = header.field_offset("flags")
        note = (f"header flags {header.flags:#x} say {_CODEC_FLAGS[flagged]}, but only {codec.upper()} "
                f"decodes compressed block #0: read as {codec.upper()}"
                + (f" (flags at file offset {where:#x})" if where is not None else ""))
        return stream, pfns, note, codec
    return None


def _open_uswsusp(area: SwapArea, header: SwsuspHeader, cache_blocks: int) -> ImageParts:
    """An s2disk image: header -> image_header_info -> extents -> the same kernel stream."""
    size = area.nr_blocks * PAGE_SIZE
    try:
        block = header.image // PAGE_SIZE
        if not area.holds_block(block):
            raise SwsuspFormatError(f"s2disk image pointer {header.image:#x} is outside the device",
                                    header.offset + header.layout.struct.offset("image"))
        uswsusp = parse_image_header_info(area.read_block(block), area.block_offset(block), size)
        swap_map = read_extents(uswsusp, area.read_block, size, area.block_offset)
    except SwsuspFormatError as exc:
        raise _Failed(0, exc) from None
    codec = "lzo" if uswsusp.flags & IMAGE_COMPRESSED else "none"
    # the stream's length is the s2disk header's until swsusp_info (inside the stream) is read
    first = min(max(uswsusp.pages, 1), area.nr_blocks)  # a damaged `pages` may claim more than the device
    provisional = SwsuspInfo(0, 0, 0, 0, 0, first, first * PAGE_SIZE, None, None)
    try:
        stream = _stream(area, swap_map, provisional, base=0, codec=codec, cache_blocks=cache_blocks)
        info = parse_info(bytes(stream.page(0)), stream.offset(0))
        if info.pages != uswsusp.pages:
            info = _s2disk_pages(info, uswsusp)
        if info.pages != first:
            stream = _stream(area, swap_map, info, base=0, codec=codec, cache_blocks=cache_blocks)
    except SwsuspFormatError as exc:
        raise _Failed(_STAGE_CHAIN, exc) from None
    except PageDamaged as exc:  # block 0, which holds swsusp_info, does not decompress
        raise _Failed(_STAGE_CHAIN, exc.error) from None
    except _Failed as failed:
        raise _Failed(_STAGE_CHAIN, failed.error) from None
    pfns = _read_pfn_list(stream, info)
    checked = _meta_pages_of_list(info, pfns)
    if checked is not info:
        info = checked
        stream = _stream(area, swap_map, info, base=0, codec=codec, cache_blocks=cache_blocks)
    return ImageParts(area.location, header, area, swap_map, info, stream, pfns, uswsusp)


def _s2disk_pages(info: SwsuspInfo, uswsusp: ImageHeaderInfo) -> SwsuspInfo:
    """The s2disk header's `pages` and swsusp_info's pages and size state one number three
    times: the one two of them agree on (one damaged field loses nothing), else a refusal."""
    at = uswsusp.offset + IMAGE_HEADER_INFO.offset("pages")
    if info.stored is None:  # swsusp_info agrees with itself: the s2disk header is damaged
        note = (f"s2disk image_header_info.pages {uswsusp.pages} (file offset {at:#x}) disagrees with "
                f"swsusp_info.pages and size: using {info.pages} pages")
        return replace(info, notes=info.notes + (note,))
    raw_pages, raw_size = info.stored
    if uswsusp.pages in (raw_pages, raw_size / PAGE_SIZE) and plausible_pages(info, uswsusp.pages):
        note = f"s2disk image_header_info.pages {uswsusp.pages} (file offset {at:#x}) decides: using it"
        return replace(info, pages=uswsusp.pages, size=uswsusp.pages * PAGE_SIZE, notes=info.notes + (note,))
    raise SwsuspFormatError(f"s2disk header says {uswsusp.pages} pages, swsusp_info says {info.pages}", at)


def _stream(area: SwapArea, swap_map: SwapMap, info: SwsuspInfo, base: int, codec: str,
            cache_blocks: int) -> Stream:
    try:
        if codec == "none":
            return PlainStream(area, swap_map, info.pages, base)
        return CompressedStream(area, swap_map, info.pages, base, codec, cache_blocks)
    except SwsuspFormatError as exc:
        raise _Failed(_STAGE_INFO, exc) from None


def _read_pfn_list(stream: Stream, info: SwsuspInfo) -> PfnIndex:
    """The PFN-list pages (stream pages 1..M), one block at a time and only as far as the
    list goes: M is not checked yet, so reading all of it at once let a lying image_pages
    size the allocation (see pfn_list.ListEnd)."""
    meta, end, last = bytearray(), ListEnd(info.image_pages), info.meta_pages
    try:
        for first in range(1, last + 1, UNC_PAGES):
            try:
                chunk = stream.read(first, min(UNC_PAGES, last + 1 - first))
            except PageDamaged as exc:  # the PFN list is needed whole: no salvage without it
                raise exc.error from None
            meta += chunk
            if end.reached(chunk):
                break
    except SwsuspFormatError as exc:
        raise _Failed(_STAGE_INFO, exc) from None

    def offset_of_entry(i: int) -> int:
        page = 1 + i // (PAGE_SIZE // PFN_ENTRY)
        within = PFN_ENTRY * (i % (PAGE_SIZE // PFN_ENTRY))
        return stream.offset(page) + (within if stream.codec == "none" else 0)

    try:
        return parse_pfn_list(meta, info.image_pages, offset_of_entry, end.too_many, info.pfn_limit)
    except SwsuspFormatError as exc:
        raise _Failed(_STAGE_PFNS, exc) from None


def _not_a_swap_area(source: Source, location: locate.Location, page: bytes) -> Optional[str]:
    """Why a swap signature here is no swap area (None when it may be one): a header swapon
    would refuse, or a page found by scanning data that is neither a partition's start nor a
    filesystem holding a swap file (a RAM dump holds the swap header's page in memory)."""
    doubt = swap_header_doubt(page)
    if doubt is None and location.resume_offset and not location.block_base \
            and not locate.looks_like_filesystem(source, location.partition.offset):
        doubt = (f"found by scanning the {location.partition.name}, which is neither a swap partition nor a "
                 "filesystem holding a swap file")
    return doubt


def _explain_failure(location: locate.Location, sig: bytes, failures: List[_Failed],
                     not_swap: Optional[str] = None) -> SwsuspFormatError:
    best = max(failures, key=lambda f: f.stage, default=None)
    if sig in SWAP_SIGS and not_swap and (best is None or best.stage == 0):
        return NotAnImageError(
            f"not a hibernation image: the {sig.decode()} page at file offset {location.header_offset:#x} is no "
            f"swap area ({not_swap}): a swap header's copy in memory? The input looks like a RAM dump: "
            "analyse it with vol directly",
            location.header_offset + SIG_OFFSET,
        )
    if sig in SWAP_SIGS:
        where = location.header_offset + SIG_OFFSET
        if best is None:
            return NotAnImageError(
                f"plain swap area (signature {sig.decode()}) holding no hibernation image: its image pointer is 0",
                where,
            )
        if best.stage == 0:
            return NotAnImageError(
                f"plain swap area (signature {sig.decode()}) holding no hibernation image: a "
                f"consumed image's pointer does not lead to one ({best.error.message})",
                where,
            )
    if best is None:
        return SwsuspFormatError("hibernation header has a zero image pointer",
                                 location.header_offset + SWSUSP_HEADER_A.offset("image"))
    return best.error


# -- the whole input ------------------------------------------------------------------------


def find_image(path_or_source: Union[str, "os.PathLike[str]", Source], resume_offset: Optional[int] = None,
               partition: Optional[int] = None, scan: str = "auto", cache_blocks: int = 64,
               extents: Optional[Sequence[Extent]] = None) -> ImageParts:
    """Find and open the image in a swap partition, filesystem or disk image (`extents`:
    the input is a swap file copied out of its filesystem, placed by them)."""
    source = FileSource(path_or_source) if isinstance(path_or_source, (str, os.PathLike)) else path_or_source
    if source.size < PAGE_SIZE:
        raise NotAnImageError(f"input is {source.size} bytes, smaller than one swap header page", 0)
    if extents:
        return open_at(source, locate.copied_with_extents(source, extents), cache_blocks)
    errors: List[SwsuspFormatError] = []  # the first real error and the first "not an image"
    for location in locate.candidates(source, resume_offset, partition, scan):
        try:
            return open_at(source, location, cache_blocks)
        except SwsuspFormatError as exc:
            parts = _copied_swap_file(source, location, exc, cache_blocks)
            if parts:
                return parts
            exc = _copy_hint(source, location, exc)
            # keep the message, not the frames: a scan may try thousands of header-like pages
            exc.__traceback__ = exc.__context__ = None
            kind = isinstance(exc, NotAnImageError)
            if all(isinstance(e, NotAnImageError) != kind for e in errors):  # first of each kind
                errors.append(exc)
    real = [e for e in errors if not isinstance(e, NotAnImageError)]
    if not real:  # nothing that even looked like an image: say what the input is instead
        what = _describe(source)
        # a swap header found by scanning explains itself better than "a filesystem"
        if what and not (errors and ("swap area" in what or "filesystem" in what)):
            raise NotAnImageError(f"not a hibernation image: {what}", 0)
        if not errors:
            raise NotAnImageError(
                f"not a hibernation image: no S1SUSPEND/ULSUSPEND/SWAPSPACE2 signature at offset {SIG_OFFSET} "
                "of the file or of a partition, nor in a filesystem",
                SIG_OFFSET,
            )
    raise (real or errors)[0]


def _describe(source: Source) -> Optional[str]:
    """Name what the input is instead (LUKS, LVM, a RAM dump, a filesystem...)."""
    what = identify(source)
    if what:
        return f"the input is {what}"
    named = [f"{part.name} is {identify(source, part.offset)}" for part in locate.partitions(source)
             if identify(source, part.offset)]
    return "; ".join(named) or None


def _copied_swap_file(source: Source, location: locate.Location, error: SwsuspFormatError,
                      cache_blocks: int) -> Optional[ImageParts]:
    """A swap file copied out of its filesystem keeps filesystem block numbers: rebase them
    so that the header's `image` block is the file page holding the first swap_map page."""
    if location.resume_offset or location.block_base or isinstance(error, NotAnImageError):
        return None
    page = source.read(location.header_offset, PAGE_SIZE)
    nblocks = location.partition.size // PAGE_SIZE
    for header in candidate_headers(page, location.header_offset):
        if header.image >= 1 << 32:  # 2^32+: an older layout's misreading
            continue
        # (a pointer inside the file may still be a filesystem block: a copy larger than
        # its first block's number)
        for slot in _first_map_page_slots(source, location, header.image, nblocks):
            if slot >= header.image:  # the copy's slot 0 would be block 0 or before
                break
            try:
                return open_at(source, locate.rebased(location, header.image - slot), cache_blocks)
            except SwsuspFormatError:
                continue
    return None


def _copy_hint(source: Source, location: locate.Location, error: SwsuspFormatError) -> SwsuspFormatError:
    """A header at the start of a plain file whose first map page is not where a swap
    partition keeps it (one of the first slots), and that no contiguous copy explains: say
    what a swap file copied out of its filesystem needs (its blocks are the filesystem's)."""
    if (location.resume_offset or location.block_base or location.partition.offset
            or isinstance(error, NotAnImageError)):
        return error
    headers = candidate_headers(source.read(location.header_offset, PAGE_SIZE), location.header_offset)
    if not headers or headers[0].image <= COPIED_NEAR_START or headers[0].layout.name != "A":
        return error
    image = headers[0].image
    hint = (f"; if the input is a swap file copied out of its filesystem: its header names filesystem block "
            f"{image} for the first swap_map_page, and a fragmented copy does not keep the filesystem's "
            "blocks in order: give the file's extents (option swapfile_extents: a file holding `filefrag -v "
            "SWAPFILE` as run where the swap file lives), or the filesystem partition with resume_offset = the "
            "swap file's first block (physical_offset of extent 0)")
    hinted = type(error)(error.reason + hint, error.offset, block=error.block, pfn=error.pfn,
                         block_index=error.block_index)
    return hinted


COPIED_NEAR_START = 8  # the first map page is normally slot 1, or just after
COPIED_SCAN_PAGES = 1 << 16  # beyond those, file pages looked at for it (256 MiB)
COPIED_CANDIDATES = 4  # pages found there that are tried


def _first_map_page_slots(source: Source, location: locate.Location, image: int, nblocks: int) -> Iterator[int]:
    """File pages (slots) that may hold the first swap_map_page, likeliest first: slots
    1..COPIED_NEAR_START, then (swapped-out pages before the image push it further) pages
    of the file's start that read as that map page would in a contiguous copy: with the
    page at block `image`, every block it names is a slot of the file."""
    yield from range(1, min(COPIED_NEAR_START + 1, nblocks))
    found = 0
    end = min(nblocks, COPIED_SCAN_PAGES)
    for first in range(COPIED_NEAR_START + 1, end, 256):
        data = source.read(location.header_offset + first * PAGE_SIZE, min(256, end - first) * PAGE_SIZE)
        for i in range(len(data) // PAGE_SIZE):
            if _reads_as_map_page(data[i * PAGE_SIZE : (i + 1) * PAGE_SIZE], image - (first + i), nblocks):
                yield first + i
                found += 1
                if found == COPIED_CANDIDATES:
                    return


def _reads_as_map_page(page: bytes, base: int, nblocks: int) -> bool:
    """A swap_map_page whose blocks, in a copy whose slot 0 is block `base`, are slots of
    the file: entries filled from the first one on (the page was zeroed), next_swap 0 or
    a slot too."""
    def a_slot(block: int) -> bool:
        return base < block < base + nblocks

    if not a_slot(int.from_bytes(page[:8], "little")):  # most pages end here
        return False
    *entries, next_swap = SWAP_MAP_PAGE_STRUCT.unpack(page)
    used = entries.index(0) if 0 in entries else len(entries)
    return (all(map(a_slot, entries[:used])) and not any(entries[used:])
            and (next_swap == 0 or a_slot(next_swap)))
