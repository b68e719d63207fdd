"""The userspace s2disk writer (suspend-utils suspend.c, docs/format.md §11): image_header_info page,
extents pages (sorted byte ranges of the swap it preallocated), data pages in 32-page buffers
(LZO-compressed or not), and the 28-byte swsusp_header with ``ULSUSPEND`` (mark_swap).
The sources are cited in the project notes (uswsusp.md).
"""
from __future__ import annotations

import hashlib
import random
import struct
from dataclasses import dataclass

from .eras import HDR_IMAGE_28, HDR_ORIG_SIG, HDR_SIG, PAGE, USWSUSP_SIG
from .image_stream import lzo_compress

EXTENT = struct.Struct("<qq")            # struct extent {loff_t start; loff_t end;}  (bytes)
EXTENTS_PER_PAGE = PAGE // EXTENT.size   # 256; slot 255 = {next extents page, 0}
MAX_EXTENTS = EXTENTS_PER_PAGE - 1       # 255 usable
BUFFER_PAGES = 32                        # memalloc.h
IMAGE_CHECKSUM, IMAGE_COMPRESSED, IMAGE_ENCRYPTED, IMAGE_USE_RSA, PLATFORM_SUSPEND = 1, 2, 4, 8, 0x10
US_HEADER = struct.Struct("<QI4xqq16sdi")  # image_header_info without CONFIG_ENCRYPT
WRITEOUT_TIME = 1.25                     # image_header_info.writeout_time (seconds)


class SwapWriter:
    """Emulates suspend.c's swap_writer: alloc_swap/preallocate_swap/next_swap_page/
    save_extents, with byte offsets (= device block << 12)."""

    def __init__(self, area, alloc, compress: bool):
        self.area, self.alloc_block, self.compress = area, alloc, compress
        self.extents: list[list[int]] = []     # sorted [start, end) byte ranges
        self.carry: list[int] | None = None    # slot 255 (leftover extent)
        self.nr = 0
        self.idx = 0
        self.cur = 0
        self.swap_needed = 0
        self.written = 0
        self.extents_spc = 0
        self.extents_pages: list[tuple[int, list]] = []
        self.data_blocks: list[int] = []
        self.allocated: list[int] = []

    def get_swap_page(self) -> int:
        b = self.alloc_block()
        self.allocated.append(b)
        return b * PAGE

    def alloc_swap(self, total: int) -> None:
        """alloc_swap(): grow/merge sorted extents until `total` bytes or 255 extents."""
        ex = self.extents
        if not ex:
            off = self.get_swap_page()
            ex.append([off, off + PAGE])
            size = PAGE
        else:
            size = 0
        while size < total and len(ex) + (1 if self.carry else 0) <= MAX_EXTENTS:
            off = self.get_swap_page()
            if not self._grow(off):
                if len(ex) < MAX_EXTENTS:
                    ex.append([off, off + PAGE])
                    ex.sort()
                else:
                    self.carry = [off, off + PAGE]   # goes to the last slot
            size += PAGE

    def _grow(self, off: int) -> bool:
        """Extend (and merge) the extent that ``off`` touches; False if it touches none."""
        ex = self.extents
        for k, e in enumerate(ex):
            if off == e[0] - PAGE:
                e[0] = off
                if k > 0 and ex[k - 1][1] == off:
                    ex[k - 1][1] = e[1]
                    del ex[k]
                return True
            if off == e[1]:
                e[1] += PAGE
                if k + 1 < len(ex) and e[1] == ex[k + 1][0]:
                    e[1] = ex[k + 1][1]
                    del ex[k + 1]
                return True
        return False

    def preallocate(self) -> int:
        if self.swap_needed < PAGE:
            return 0
        size = self.swap_needed
        if self.compress and size > PAGE:
            size //= 2
        self.alloc_swap(size)
        self.nr = min(len(self.extents), MAX_EXTENTS)
        self.idx = 0
        self.cur = self.extents[0][0]
        return self.cur

    def save_extents(self, finish: bool) -> None:
        nxt = 0
        if not finish:
            nxt = self.get_swap_page()
        slots = [tuple(e) for e in self.extents] + [(0, 0)] * (MAX_EXTENTS - len(self.extents))
        last = (nxt, 0) if not finish else ((0, 0) if self.carry is None else tuple(self.carry))
        page = b"".join(EXTENT.pack(*x) for x in slots) + EXTENT.pack(*last)
        self.area.put(self.extents_spc // PAGE, page)
        self.extents_pages.append((self.extents_spc // PAGE, slots[:len(self.extents)]))
        self.extents_spc = nxt

    def next_swap_page(self) -> int:
        self.cur += PAGE
        if self.cur < self.extents[self.idx][1]:
            return self.cur
        self.idx += 1
        if self.idx < self.nr:
            self.cur = self.extents[self.idx][0]
            return self.cur
        carry, self.carry = self.carry, None
        self.save_extents(False)
        self.extents = [carry] if carry else []
        return self.preallocate()

    def save_page(self, data: bytes) -> None:
        off = self.next_swap_page()
        assert off, "out of swap"
        self.area.put(off // PAGE, data)
        self.data_blocks.append(off // PAGE)
        self.swap_needed -= PAGE
        self.written += PAGE


def swap_needed(image_pages: int, compress: bool) -> int:
    """Bytes of swap to preallocate: the image (SNAPSHOT_GET_IMAGE_SIZE = pages << 12), plus
    the worst-case LZO expansion when compressing."""
    image_size = image_pages * PAGE
    if compress:
        return image_size + -(-((image_size >> 4) + 67) // PAGE) * PAGE
    return image_size


def save_image(w: SwapWriter, stream: list[bytes], rng: random.Random) -> list[dict[str, int]]:
    """save_image()/flush_buffer(): the stream in 32-page buffers, each LZO-compressed into a
    struct buf_block {size_t size; char data[];} padded to a page when ``w.compress``.
    Returns the compressed blocks' shapes (empty when not compressing)."""
    blocks: list[dict[str, int]] = []
    for i in range(0, len(stream), BUFFER_PAGES):
        buf = b"".join(stream[i:i + BUFFER_PAGES])
        if w.compress:
            c = lzo_compress(buf)
            rec = struct.pack("<Q", len(c)) + c
            rec += rng.randbytes(-len(rec) % PAGE)
            blocks.append({"first_entry": len(w.data_blocks), "stored_pages": len(rec) // PAGE,
                           "unc_pages": len(buf) // PAGE, "cmp_len": len(c)})
        else:
            rec = buf
        for j in range(0, len(rec), PAGE):
            w.save_page(rec[j:j + PAGE])
    return blocks


def image_header_info(pages: int, flags: int, map_start: int, image_data_size: int,
                      checksum: bytes) -> bytes:
    """struct image_header_info (without CONFIG_ENCRYPT) as its page."""
    hdr = US_HEADER.pack(pages, flags, map_start, image_data_size, checksum, WRITEOUT_TIME, 0)
    return hdr.ljust(PAGE, b"\0")


@dataclass
class UswsuspImage:
    """What s2disk's write_image() wrote."""
    start_block: int                  # block of the image_header_info page (swsusp_header image)
    header_pages: int                 # image_header_info.pages
    header_flags: int
    map_start: int                    # byte offset of the first extents page
    image_data_size: int
    checksum: str                     # MD5 of the stream (hex), zeros without IMAGE_CHECKSUM
    extents_blocks: list[int]         # extents pages in chain order
    extents: list[list[list[int]]]    # [start, end) byte ranges of each extents page
    data_blocks: list[int]            # block of every data page written
    blocks: list[dict[str, int]]      # compressed buffers: first_entry, stored_pages, ...
    unused_blocks: list[int]          # preallocated and never written (stale contents)

    def facts(self) -> dict[str, object]:
        """Facts.uswsusp: the header and extents fields, the written blocks."""
        return {"start_block": self.start_block, "header_pages": self.header_pages,
                "header_flags": self.header_flags, "map_start": self.map_start,
                "image_data_size": self.image_data_size, "checksum": self.checksum,
                "writeout_time": WRITEOUT_TIME, "resume_pause": 0,
                "extents_blocks": self.extents_blocks, "extents": self.extents,
                "data_blocks": self.data_blocks}


def write_uswsusp(area, stream: list[bytes], alloc, codec: str, rng: random.Random,
                  checksum: bool = True, platform: bool = True) -> UswsuspImage:
    """s2disk write_image(): header page, extents pages, data pages (docs/format.md §11)."""
    compress = codec == "lzo"
    w = SwapWriter(area, alloc, compress)
    start = w.get_swap_page()                      # image_header_info page
    w.extents_spc = w.get_swap_page()              # init_swap_writer(): first extents page
    map_start = w.extents_spc
    w.swap_needed = swap_needed(len(stream), compress)
    w.preallocate()
    w.cur -= PAGE                                  # "Shift cur_offset for next_swap_page()"
    blocks = save_image(w, stream, rng)
    w.save_extents(True)
    flags = (IMAGE_CHECKSUM if checksum else 0) | (IMAGE_COMPRESSED if compress else 0)
    flags |= PLATFORM_SUSPEND if platform else 0
    md5 = hashlib.md5(b"".join(stream)).digest() if checksum else bytes(16)
    area.put(start // PAGE, image_header_info(len(stream), flags, map_start, w.written, md5))
    used = set(w.data_blocks) | {b for b, _ in w.extents_pages} | {start // PAGE}
    return UswsuspImage(
        start_block=start // PAGE, header_pages=len(stream), header_flags=flags,
        map_start=map_start, image_data_size=w.written, checksum=md5.hex(),
        extents_blocks=[b for b, _ in w.extents_pages],
        extents=[[list(x) for x in ex] for _, ex in w.extents_pages],
        data_blocks=w.data_blocks, blocks=blocks,
        unused_blocks=[b for b in w.allocated if b not in used])


def mark_swap(hdr: bytearray, start_block: int) -> int:
    """mark_swap(): the 28-byte swsusp_header at the end of the resume page -- image = byte
    offset of the image_header_info page, orig_sig, sig = ULSUSPEND.  Returns image."""
    image_field = start_block * PAGE                       # byte offset (loff_t)
    struct.pack_into("<Q", hdr, HDR_IMAGE_28, image_field)
    hdr[HDR_ORIG_SIG:HDR_SIG] = hdr[HDR_SIG:HDR_SIG + 10]
    hdr[HDR_SIG:HDR_SIG + 10] = USWSUSP_SIG
    return image_field
