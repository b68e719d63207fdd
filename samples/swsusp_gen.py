#!/usr/bin/env python3
"""Synthetic Linux x86-64 hibernation (swsusp) image generator: the tests' ground truth.

Writes hibernation images of every variant described in ``shared/docs/swsusp-format.md``
from a *known* physical memory (:mod:`samples.synthkernel`).  Independent of ``plugins/``;
deterministic (seeded ``random.Random``); pure Python + lzallright (LZO) + lz4.

CLI::

    python samples/swsusp_gen.py --list
    python samples/swsusp_gen.py VARIANT -o out.img [--facts out.json]
    python samples/swsusp_gen.py --all DIR
    python samples/swsusp_gen.py --isf symbols/linux/
    python samples/swsusp_gen.py --large GIB -o out.img [--codec lzo|lz4|none] [--era 6.6]
    python samples/swsusp_gen.py --scenario NAME|all -o DIR [--compact-elf]
    python samples/swsusp_gen.py --seed-pair samples/

API: :func:`build_machine`, :func:`write_image` -> :class:`Facts`, :data:`VARIANTS`,
:func:`make_variant`, :func:`write_isf`; large streamed images: :func:`write_large_image`
-> :class:`LargeFacts`, :func:`large_page`; resume scenarios (an image plus a RAM dump of the
boot kernel during resume, :mod:`samples.resume_scenarios`): :data:`SCENARIOS`,
:func:`make_scenario` -> :class:`Scenario`, :func:`write_seed_pair`.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import inspect
import json
import math
import os
import random
import struct
import sys
import time
import uuid as uuidlib
import zlib
from array import array
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

if __package__ in (None, ""):                       # run as a script: python samples/swsusp_gen.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from samples import resume_scenarios, synthkernel  # noqa: E402
    from samples.synthkernel import Machine, build_machine  # noqa: E402
else:
    from . import resume_scenarios, synthkernel
    from .synthkernel import Machine, build_machine

PAGE = 4096
MAP_PAGE_ENTRIES = PAGE // 8 - 1          # 511 entries + next_swap (kernel/power/swap.c)
UNC_PAGES = 32                            # LZO_UNC_PAGES / UNC_PAGES: pages per compressed block
CMP_HEADER = 8                            # sizeof(size_t) length prefix of each block
LZO_WORST = UNC_PAGES * PAGE + UNC_PAGES * PAGE // 16 + 64 + 3   # 139331
BM_END_OF_MAP = 0xFFFFFFFFFFFFFFFF
ENCODED_PFN_ZERO_FLAG = 1 << 63
PAGE_OFFSET_2_6_16 = 0xFFFF810000000000   # PFN list holds direct-map VAs in 2.6.16-2.6.18
SWP_TYPE_SHIFT = 59                       # swp_entry_t: (type << 59) | offset

HIBERNATE_SIG = b"S1SUSPEND\0"
USWSUSP_SIG = b"ULSUSPEND\0"
SWAPSPACE2 = b"SWAPSPACE2"

SF_PLATFORM_MODE, SF_NOCOMPRESS_MODE, SF_CRC32_MODE, SF_HW_SIG, SF_LZ4 = 1, 2, 4, 8, 16

RESTORE_MAGIC = {"cdef": 0x0123456789ABCDEF, "def0": 0x123456789ABCDEF0,
                 "f01": 0x23456789ABCDEF01, "f02": 0x23456789ABCDEF02}

GPT_SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
GPT_LINUX_FS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"


# ---------------------------------------------------------------------------------------------
# eras (spec §2.1, §2.3, §4, §5, §7)
@dataclass(frozen=True)
class Era:
    name: str
    layout: str                 # header layout "A" (2.6.23+), "B" (2.6.19-22), "C" (2.6.16-18)
    pfn_form: str               # "va" (2.6.16-18, 0-terminated) | "pfn" (~0 terminator)
    record: Optional[str]       # default arch record ("cdef"...), None = uts + version_code
    version_code: int
    cpus_written: bool          # swsusp_info.cpus set (<= 2.6.23)
    has_lzo: bool               # 2.6.37+
    has_crc: bool               # 3.2+  (SF_CRC32_MODE when compressing)
    has_hw_sig: bool            # 5.17+
    zero_pages: bool            # 6.6+  (bit-63 PFN entries, no data page)
    has_lz4: bool               # 6.9+
    resume_offset: bool         # 2.6.19+: header read at resume_offset (swap files possible)

    @property
    def linux_version_code(self) -> int:
        parts = [int(x) for x in self.name.split(".")] + [0, 0]
        return _vc(*parts[:3])


def _vc(a, b, c):
    return a * 65536 + b * 256 + c


ERAS: Dict[str, Era] = {e.name: e for e in [
    Era("2.6.16", "C", "va", None, _vc(2, 6, 16), True, False, False, False, False, False, False),
    Era("2.6.20", "B", "pfn", None, _vc(2, 6, 20), True, False, False, False, False, False, True),
    Era("2.6.23", "A", "pfn", None, _vc(2, 6, 23), True, False, False, False, False, False, True),
    Era("2.6.24", "A", "pfn", "cdef", 0, False, False, False, False, False, False, True),
    Era("2.6.37", "A", "pfn", "cdef", 0, False, True, False, False, False, False, True),
    Era("3.2", "A", "pfn", "cdef", 0, False, True, True, False, False, False, True),
    Era("4.9", "A", "pfn", "def0", 0, False, True, True, False, False, False, True),
    Era("4.12", "A", "pfn", "f01", 0, False, True, True, False, False, False, True),
    Era("5.12", "A", "pfn", "f02", 0, False, True, True, False, False, False, True),
    Era("5.17", "A", "pfn", "f02", 0, False, True, True, True, False, False, True),
    Era("6.1", "A", "pfn", "f02", 0, False, True, True, True, False, False, True),
    Era("6.6", "A", "pfn", "f02", 0, False, True, True, True, True, False, True),
    Era("6.9", "A", "pfn", "f02", 0, False, True, True, True, True, True, True),
]}


# ---------------------------------------------------------------------------------------------
@dataclass
class Facts:
    """Everything written, for tests.  ``asdict(facts)`` is JSON-serialisable."""
    variant: Optional[str]
    path: str
    file_size: int
    era: str
    kind: str                      # "swsusp" | "uswsusp"
    container: str                 # partition | swapfile | mbr | gpt | swapfile-copy
    partition_offset: int          # byte offset of the partition start in the file (may be < 0)
    partition_blocks: int          # size of the (possibly virtual) partition in 4 KiB blocks
    resume_offset: int             # block of the header inside the partition
    header_file_offset: int        # = partition_offset + resume_offset * 4096
    layout: str                    # A | B | C | uswsusp
    sig: str                       # latin-1 decoded 10 bytes
    orig_sig: str
    consumed: bool
    last_page: int                 # mkswap header last_page (of the swap area / swap file)
    image_field: int               # raw header `image` value (swp_entry for layout C, bytes for uswsusp)
    image_block: int               # block of the first map page (uswsusp: of the info page)
    swap_type: Optional[int]
    flags: Optional[int]           # None for layouts B/C
    crc32: Optional[int]           # computed crc32_le(0, U) when SF_CRC32_MODE, else None
    crc32_field: int               # raw u32 @4060 (stale value possible when flag clear)
    hw_sig: Optional[int]          # value when SF_HW_SIG set, else None
    hw_sig_field: int
    codec: str                     # none | lzo | lz4
    record: Optional[str]          # cdef | def0 | f01 | f02 | None
    record_magic: Optional[int]
    record_fields: Dict[str, object]
    info: Dict[str, object]        # swsusp_info fields as written
    map_blocks: List[int]          # chain order (uswsusp: extents pages)
    stream_blocks: List[int]       # block of every stream entry (entry 0 = info page)
    num_entries: int               # stream entries (map entries before the terminating 0)
    meta_pages: int                # M
    pfn_entries: List[int]         # raw u64 PFN-list entries (VA form / bit-63 as written)
    pfns: List[int]                # PFN order of the list (decoded)
    data_pfns: List[int]           # PFNs with a stored data page, in data-page order
    zero_pfns: List[int]           # PFNs encoded with bit 63 (6.6+), else []
    blocks: List[Dict[str, int]]   # compressed blocks: {first_entry, stored_pages, unc_pages, cmp_len}
    num_blocks: int
    max_block_stored_pages: int
    uncompressed_stream_sha256: str  # of U = stream pages 1..pages-1
    e820_crc: Optional[int]
    e820_md5: Optional[str]
    machine: Dict[str, object]     # summary: levels, cr3, page_offset, ...
    uswsusp: Dict[str, object] = field(default_factory=dict)
    options: Dict[str, object] = field(default_factory=dict)


def crc32_le(seed: int, data: bytes) -> int:
    """Kernel crc32_le(seed, data): reflected 0xEDB88320, no pre/post inversion (spec §5.3)."""
    return zlib.crc32(data, seed ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def e820_bytes(e820) -> bytes:
    return struct.pack("<I", len(e820)) + b"".join(struct.pack("<QQI", a, s, t) for a, s, t in e820)


_COMPRESSED: Dict[Tuple[str, bytes], bytes] = {}


def _memo(codec: str, data: bytes, fn) -> bytes:
    """Compression is deterministic; many variants share blocks, so memoise by digest."""
    key = (codec, hashlib.sha256(data).digest())
    out = _COMPRESSED.get(key)
    if out is None:
        if len(_COMPRESSED) > 4096:
            _COMPRESSED.clear()
        out = _COMPRESSED[key] = fn(data)
    return out


def lzo_compress(data: bytes) -> bytes:
    """LZO1X stream (lzallright); decodable by the kernel's lzo1x_decompress_safe."""
    import lzallright
    return _memo("lzo", data, lambda d: lzallright.LZOCompressor().compress(d))


def lz4_compress(data: bytes) -> bytes:
    """Raw LZ4 block, no size prefix (crypto/lz4.c: LZ4_compress_default)."""
    import lz4.block
    return _memo("lz4", data, lambda d: lz4.block.compress(d, store_size=False))


# ---------------------------------------------------------------------------------------------
# the kernel stream (spec §4): info page, PFN list pages, data pages
def _uts(release: str) -> bytes:
    fields = [b"Linux", b"synth-host", release.encode(),
              b"#1 SMP PREEMPT_DYNAMIC Debian 6.1.0-synthetic (2025-01-01)", b"x86_64", b"(none)"]
    return b"".join(f[:64].ljust(65, b"\0") for f in fields)


def build_info_page(m: Machine, era: Era, record: Optional[str], image_pages: int,
                    pages: int) -> Tuple[bytes, Dict[str, object], Dict[str, object]]:
    info = bytearray(PAGE)
    rec_fields: Dict[str, object] = {}
    if record is None:
        info[0:390] = _uts(m.release)
        version_code, cpus = era.linux_version_code, (m.cpus if era.cpus_written else 0)
    else:
        version_code, cpus = 0, 0
        magic = RESTORE_MAGIC[record]
        if record == "cdef":
            info[0:24] = struct.pack("<QQQ", m.jump_address, m.cr3_record, magic)
            rec_fields = dict(jump_address=m.jump_address, cr3=m.cr3_record, magic=magic)
        else:
            info[0:32] = struct.pack("<QQQQ", m.jump_address, m.jump_address_phys, m.cr3_record, magic)
            rec_fields = dict(jump_address=m.jump_address, jump_address_phys=m.jump_address_phys,
                              cr3=m.cr3_record, magic=magic)
            if record == "f01":
                digest = hashlib.md5(e820_bytes(m.e820)).digest()
                info[32:48] = digest
                rec_fields["e820_digest"] = digest.hex()
            elif record == "f02":
                crc = zlib.crc32(e820_bytes(m.e820))
                info[32:40] = struct.pack("<Q", crc)
                rec_fields["e820_checksum"] = crc
    struct.pack_into("<I", info, 392, version_code)
    struct.pack_into("<Q", info, 400, m.num_physpages)
    struct.pack_into("<i", info, 408, cpus)
    struct.pack_into("<QQQ", info, 416, image_pages, pages, pages * PAGE)
    fields = dict(version_code=version_code, num_physpages=m.num_physpages, cpus=cpus,
                  image_pages=image_pages, pages=pages, size=pages * PAGE,
                  uts_release=m.release if record is None else None)
    return bytes(info), fields, rec_fields


def build_stream(m: Machine, era: Era, record: Optional[str], pfn_order: str,
                 rng: random.Random):
    """Return (stream pages list, facts dict).  stream[0] is the info page."""
    pfns = sorted(m.pages)
    if pfn_order == "shuffled":
        rng.shuffle(pfns)
    entries, data, data_pfns, zero_pfns = [], [], [], []
    for pfn in pfns:
        pg = m.pages[pfn]
        if era.zero_pages and not any(pg):
            entries.append(pfn | ENCODED_PFN_ZERO_FLAG)
            zero_pfns.append(pfn)
            continue
        entries.append(PAGE_OFFSET_2_6_16 + pfn * PAGE if era.pfn_form == "va" else pfn)
        data.append(pg)
        data_pfns.append(pfn)
    meta = b"".join(struct.pack("<Q", e) for e in entries)
    if era.pfn_form == "pfn" and len(entries) % (PAGE // 8):
        meta += struct.pack("<Q", BM_END_OF_MAP)        # written only if the page is not full
    meta += bytes(-len(meta) % PAGE)
    meta_pages = [meta[i:i + PAGE] for i in range(0, len(meta), PAGE)]
    n, mcount = len(data), len(meta_pages)
    assert mcount == -(-len(entries) * 8 // PAGE)
    pages = 1 + mcount + n
    info, info_fields, rec_fields = build_info_page(m, era, record, n, pages)
    stream = [info] + meta_pages + data
    return stream, dict(pfn_entries=entries, pfns=pfns, data_pfns=data_pfns, zero_pfns=zero_pfns,
                        meta_pages=mcount, info=info_fields, record_fields=rec_fields)


def compress_stream(unc: List[bytes], codec: str, rng: random.Random):
    """Kernel compressed layout (spec §5.2): 32-page blocks, u64 cmp_len + data, padded with
    garbage to a page.  Returns (stored pages, block descriptions)."""
    comp = lzo_compress if codec == "lzo" else lz4_compress
    out: List[bytes] = []
    blocks = []
    for i in range(0, len(unc), UNC_PAGES):
        chunk = b"".join(unc[i:i + UNC_PAGES])
        c = comp(chunk)
        assert 0 < len(c) <= LZO_WORST + 2, len(c)
        rec = struct.pack("<Q", len(c)) + c
        rec += rng.randbytes(-len(rec) % PAGE)            # stale buffer contents
        blocks.append(dict(first_entry=1 + len(out), stored_pages=len(rec) // PAGE,
                           unc_pages=len(chunk) // PAGE, cmp_len=len(c)))
        out += [rec[j:j + PAGE] for j in range(0, len(rec), PAGE)]
    return out, blocks


# ---------------------------------------------------------------------------------------------
# swap areas and containers
def mkswap_page(last_page: int, rng: random.Random, label: bytes = b"") -> bytearray:
    """mkswap v1 header (include/linux/swap.h union swap_header)."""
    h = bytearray(PAGE)
    struct.pack_into("<III", h, 1024, 1, last_page, 0)
    h[1036:1052] = rng.randbytes(16)                       # uuid
    h[1052:1068] = label[:16].ljust(16, b"\0")
    h[4086:4096] = SWAPSPACE2
    return h


_JUNK_CORPUS: List[bytes] = []


def junk_page(rng: random.Random, i: int) -> bytes:
    """A "swapped-out" anonymous page or filesystem block: text, pointers or random bytes.
    (Cheap: a slice of a fixed corpus, stamped with the block number.)"""
    if not _JUNK_CORPUS:
        crng = random.Random("swsusp-junk-corpus")
        _JUNK_CORPUS.append(b"".join(synthkernel.text_page(crng, j) for j in range(8)))
        _JUNK_CORPUS.append(b"".join(synthkernel.struct_page(crng, j) for j in range(8)))
    r = rng.random()
    if r < 0.7:
        corpus = _JUNK_CORPUS[0 if r < 0.4 else 1]
        off = rng.randrange(0, len(corpus) - PAGE) & ~7
        return f"swapped-out {i:#x} ".encode()[:24].ljust(24) + corpus[off + 24:off + PAGE]
    if r < 0.85:
        return rng.randbytes(PAGE)
    return bytes(PAGE)


class SwapArea:
    """Block-addressed device image (dict block -> page) with a swap slot allocator."""

    def __init__(self) -> None:
        self.blocks: Dict[int, bytes] = {}

    def put(self, blk: int, data: bytes) -> None:
        assert len(data) == PAGE and blk not in self.blocks, blk
        self.blocks[blk] = data


def write_chain(area: SwapArea, stream: List[bytes], alloc) -> Tuple[int, List[int], List[int]]:
    """swap_write_page/flush_swap_writer emulation: first map page allocated before any data;
    after 511 entries the next map block is allocated and the full map page written; the final
    map page (possibly empty) has zero-filled entries and next_swap 0.  Returns
    (first map block, map blocks in chain order, stream blocks)."""
    first = cur = alloc()
    entries: List[int] = []
    maps, sblocks = [first], []
    for sp in stream:
        b = alloc()
        area.put(b, sp)
        entries.append(b)
        sblocks.append(b)
        if len(entries) == MAP_PAGE_ENTRIES:
            nxt = alloc()
            area.put(cur, struct.pack("<511Q", *entries) + struct.pack("<Q", nxt))
            maps.append(nxt)
            cur, entries = nxt, []
    area.put(cur, struct.pack(f"<{len(entries)}Q", *entries) + bytes(8 * (512 - len(entries))))
    return first, maps, sblocks


# ---------------------------------------------------------------------------------------------
# userspace s2disk (suspend-utils) writer -- see /work/notes/uswsusp.md for the sources
EXTENT = struct.Struct("<qq")            # struct extent {loff_t start; loff_t end;}  (bytes)
EXTENTS_PER_PAGE = PAGE // EXTENT.size   # 256; slot 255 = {next extents page, 0}
MAX_EXTENTS = EXTENTS_PER_PAGE - 1       # 255 usable
BUFFER_PAGES = 32                        # memalloc.h
IMAGE_CHECKSUM, IMAGE_COMPRESSED, IMAGE_ENCRYPTED, IMAGE_USE_RSA, PLATFORM_SUSPEND = 1, 2, 4, 8, 0x10
US_HEADER = struct.Struct("<QI4xqq16sdi")  # image_header_info without CONFIG_ENCRYPT


class _UswsuspWriter:
    """Emulates suspend.c's swap_writer: alloc_swap/preallocate_swap/next_swap_page/
    save_extents, with byte offsets (= device block << 12)."""

    def __init__(self, area: SwapArea, alloc, compress: bool):
        self.area, self.alloc_block, self.compress = area, alloc, compress
        self.extents: List[List[int]] = []     # sorted [start, end) byte ranges
        self.carry: Optional[List[int]] = None  # slot 255 (leftover extent)
        self.nr = 0
        self.idx = 0
        self.cur = 0
        self.swap_needed = 0
        self.written = 0
        self.extents_spc = 0
        self.extents_pages: List[Tuple[int, list]] = []
        self.data_blocks: List[int] = []
        self.allocated: List[int] = []

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
            for k, e in enumerate(ex):
                if off == e[0] - PAGE:
                    e[0] = off
                    if k > 0 and ex[k - 1][1] == off:
                        ex[k - 1][1] = e[1]
                        del ex[k]
                    break
                if off == e[1]:
                    e[1] += PAGE
                    if k + 1 < len(ex) and e[1] == ex[k + 1][0]:
                        e[1] = ex[k + 1][1]
                        del ex[k + 1]
                    break
            else:
                if len(ex) < MAX_EXTENTS:
                    ex.append([off, off + PAGE])
                    ex.sort()
                else:
                    self.carry = [off, off + PAGE]   # goes to the last slot
            size += PAGE

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


def write_uswsusp(area: SwapArea, stream: List[bytes], alloc, codec: str, rng: random.Random,
                  checksum: bool = True, platform: bool = True) -> Dict[str, object]:
    """s2disk write_image(): header page, extents pages, data pages (spec §11)."""
    compress = codec == "lzo"
    w = _UswsuspWriter(area, alloc, compress)
    start = w.get_swap_page()                      # image_header_info page
    w.extents_spc = w.get_swap_page()              # init_swap_writer(): first extents page
    map_start = w.extents_spc
    image_size = len(stream) * PAGE                # SNAPSHOT_GET_IMAGE_SIZE = pages << 12
    w.swap_needed = image_size
    if compress:                                   # worst-case LZO expansion reserve
        w.swap_needed += -(-((image_size >> 4) + 67) // PAGE) * PAGE
    w.preallocate()
    w.cur -= PAGE                                  # "Shift cur_offset for next_swap_page()"
    blocks = []
    for i in range(0, len(stream), BUFFER_PAGES):  # save_image()/flush_buffer()
        buf = b"".join(stream[i:i + BUFFER_PAGES])
        if compress:
            c = lzo_compress(buf)
            rec = struct.pack("<Q", len(c)) + c    # struct buf_block {size_t size; char data[];}
            rec += rng.randbytes(-len(rec) % PAGE)
            blocks.append(dict(first_entry=len(w.data_blocks), stored_pages=len(rec) // PAGE,
                               unc_pages=len(buf) // PAGE, cmp_len=len(c)))
        else:
            rec = buf
        for j in range(0, len(rec), PAGE):
            w.save_page(rec[j:j + PAGE])
    w.save_extents(True)
    flags = (IMAGE_CHECKSUM if checksum else 0) | (IMAGE_COMPRESSED if compress else 0)
    flags |= PLATFORM_SUSPEND if platform else 0
    md5 = hashlib.md5(b"".join(stream)).digest() if checksum else bytes(16)
    writeout_time = 1.25
    hdr = US_HEADER.pack(len(stream), flags, map_start, w.written, md5, writeout_time, 0)
    area.put(start // PAGE, hdr.ljust(PAGE, b"\0"))
    used = set(w.data_blocks) | {b for b, _ in w.extents_pages} | {start // PAGE}
    return dict(start_block=start // PAGE, header_pages=len(stream), header_flags=flags,
                map_start=map_start, image_data_size=w.written,
                checksum=md5.hex(), writeout_time=writeout_time, resume_pause=0,
                extents_blocks=[b for b, _ in w.extents_pages],
                extents=[[list(x) for x in ex] for _, ex in w.extents_pages],
                data_blocks=w.data_blocks, blocks=blocks,
                unused_blocks=[b for b in w.allocated if b not in used])


def _guid_bytes(s: str) -> bytes:
    return uuidlib.UUID(s).bytes_le


def build_mbr(parts, disk_sig: int) -> bytes:
    """parts: list of (type, lba_start, lba_count)."""
    mbr = bytearray(512)
    mbr[0:3] = b"\xeb\x63\x90"
    struct.pack_into("<I", mbr, 440, disk_sig)
    for i, (ptype, start, count) in enumerate(parts):
        e = 446 + 16 * i
        mbr[e] = 0
        mbr[e + 1:e + 4] = b"\xfe\xff\xff"                  # CHS: LBA-only
        mbr[e + 4] = ptype
        mbr[e + 5:e + 8] = b"\xfe\xff\xff"
        struct.pack_into("<II", mbr, e + 8, start, count)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def build_gpt(disk_sectors: int, parts, rng: random.Random) -> Tuple[bytes, bytes]:
    """Return (bytes for LBA 0..33, bytes for the last 33 sectors).  parts: (type_guid,
    lba_first, lba_last, name)."""
    disk_guid = uuidlib.UUID(bytes=rng.randbytes(16)).bytes_le
    ents = bytearray(128 * 128)
    for i, (tg, first, last, name) in enumerate(parts):
        e = 128 * i
        ents[e:e + 16] = _guid_bytes(tg)
        ents[e + 16:e + 32] = rng.randbytes(16)
        struct.pack_into("<QQQ", ents, e + 32, first, last, 0)
        ents[e + 56:e + 128] = name.encode("utf-16-le")[:72].ljust(72, b"\0")
    ents_crc = zlib.crc32(ents)
    last_lba = disk_sectors - 1

    def header(my, alt, ents_lba):
        h = bytearray(92)
        h[0:8] = b"EFI PART"
        struct.pack_into("<IIII", h, 8, 0x00010000, 92, 0, 0)
        struct.pack_into("<QQQQ", h, 24, my, alt, 34, last_lba - 33)
        h[56:72] = disk_guid
        struct.pack_into("<QIII", h, 72, ents_lba, 128, 128, ents_crc)
        struct.pack_into("<I", h, 16, zlib.crc32(h))
        return bytes(h).ljust(512, b"\0")

    pmbr = build_mbr([(0xEE, 1, min(last_lba, 0xFFFFFFFF))], 0)
    head = pmbr + header(1, last_lba, 2) + bytes(ents)
    tail = bytes(ents) + header(last_lba, 1, last_lba - 32)
    return head, tail


def ext4ish_block0(rng: random.Random, blocks: int, label: bytes) -> bytes:
    b = bytearray(PAGE)
    sb = 1024
    struct.pack_into("<IIIIIIIIIIIIIHHHH", b, sb, blocks // 4, blocks, blocks // 20, blocks // 2,
                     blocks // 8, 0, 2, 2, 32768, 32768, 8192, 0, 1735689600, 1, 0xFFFF, 0xEF53, 1)
    b[sb + 0x68:sb + 0x78] = rng.randbytes(16)             # s_uuid
    b[sb + 0x78:sb + 0x88] = label[:16].ljust(16, b"\0")  # s_volume_name
    b[sb + 0x88:sb + 0x90] = b"/\0\0\0\0\0\0\0"
    return bytes(b)


def fs_junk(rng: random.Random, i: int) -> bytes:
    r = rng.random()
    if r < 0.15:                                            # directory block
        names = [b"etc", b"var", b"home", b"usr", b"swapfile", b"lost+found", b"notes.txt"]
        out = bytearray()
        while len(out) < PAGE - 64:
            nm = rng.choice(names)
            out += struct.pack("<IHBB", rng.randrange(11, 99999), 12 + len(nm) + 3 & ~3, len(nm), 2)
            out += nm + bytes(-len(nm) % 4)
        return bytes(out).ljust(PAGE, b"\0")
    if r < 0.5:
        return bytes(PAGE)
    return junk_page(rng, i)


# ---------------------------------------------------------------------------------------------
def _era(era: str) -> Era:
    if era not in ERAS:
        raise ValueError(f"unknown era {era!r}; known: {', '.join(ERAS)}")
    return ERAS[era]


def write_image(machine: Machine, path: str, *, era: str = "6.1", codec: Optional[str] = None,
                container: str = "partition", map_start: int = 1, scatter: bool = False,
                consumed: bool = False, uswsusp: bool = False, record: object = "auto",
                hw_sig: Optional[int] = None, platform: Optional[bool] = None,
                stale: bool = False,
                pfn_order: str = "ascending", swap_type: int = 1, slack_blocks: int = 24,
                fragmented: bool = False, checksum: bool = True, seed: int = 0,
                variant: Optional[str] = None) -> Facts:
    """Write one hibernation image of ``machine`` to ``path`` and return its :class:`Facts`.

    era        kernel generation (see ERAS): header layout, PFN-list form, arch record, flags.
    codec      "none" | "lzo" | "lz4"; default: "lzo" from 2.6.37 on, else "none".
    container  "partition" | "swapfile" | "mbr" | "gpt" | "swapfile-copy".
    map_start  swap block of the first map page; blocks 1..map_start-1 hold swapped-out junk.
    scatter    allocate map and stream blocks in a shuffled (non-ascending) order.
    consumed   reset sig to orig_sig (SWAPSPACE2) as a resume attempt does (spec §2.4).
    uswsusp    write an s2disk image (ULSUSPEND, spec §11) instead; codec "none" | "lzo".
    record     arch record "cdef"|"def0"|"f01"|"f02"|None(=uts form); "auto" = era default.
    hw_sig     ACPI FACS signature (5.17+): sets SF_HW_SIG.
    platform   SF_PLATFORM_MODE (kernel; default off) / PLATFORM_SUSPEND (uswsusp; default on).
    stale      put stale values into crc32/hw_sig when their flag is clear (layout A).
    pfn_order  "ascending" (bitmap walk) | "shuffled".
    fragmented swap allocator hands out every other block (others hold junk): many extents.
    checksum   uswsusp only: IMAGE_CHECKSUM with the MD5 of the stream (default on).
    """
    e = _era(era)
    if codec is None:
        codec = "lzo" if e.has_lzo else "none"
    if codec not in ("none", "lzo", "lz4"):
        raise ValueError(f"codec {codec!r}")
    if codec == "lzo" and not e.has_lzo and not uswsusp:
        raise ValueError(f"era {era} has no LZO (2.6.37+)")
    if codec == "lz4" and (not e.has_lz4 or uswsusp):
        raise ValueError("LZ4 exists only in 6.9+ kernel images")
    if container in ("swapfile", "swapfile-copy") and not e.resume_offset:
        raise ValueError(f"era {era}: swap files need resume_offset (2.6.19+)")
    if container not in ("partition", "swapfile", "mbr", "gpt", "swapfile-copy"):
        raise ValueError(f"container {container!r}")
    if scatter and container not in ("partition", "mbr", "gpt"):
        raise ValueError("scatter applies to partition containers")
    if map_start < 1:
        raise ValueError("map_start >= 1")
    if record == "auto":
        record = e.record
    if record is not None and record not in RESTORE_MAGIC:
        raise ValueError(f"record {record!r}")
    options = dict(era=era, codec=codec, container=container, map_start=map_start, scatter=scatter,
                   consumed=consumed, uswsusp=uswsusp, record=record, hw_sig=hw_sig,
                   platform=platform, stale=stale, pfn_order=pfn_order, swap_type=swap_type,
                   slack_blocks=slack_blocks, fragmented=fragmented, checksum=checksum, seed=seed)
    if uswsusp and (hw_sig is not None or stale):
        raise ValueError("hw_sig/stale are kernel-header fields")
    # seed from the non-default options only, so that adding options keeps old images stable
    defaults = {k: v.default for k, v in inspect.signature(write_image).parameters.items()
                if v.default is not inspect.Parameter.empty}
    salient = {k: v for k, v in options.items() if defaults.get(k, object()) != v}
    rng = random.Random("swsusp-image:" + json.dumps(salient, sort_keys=True)
                        + f":{machine.opts.get('seed')}")

    stream, sf = build_stream(machine, e, record, pfn_order, rng)
    unc = stream[1:]
    U = b"".join(unc)
    if uswsusp:
        stored, blocks = [], []
        on_disk = stream                      # the whole /dev/snapshot stream
        flags = crc = hw = None
        if codec == "lz4":
            raise ValueError("s2disk compresses with LZO only")
    else:
        if codec == "none":
            stored, blocks = unc, []
        else:
            stored, blocks = compress_stream(unc, codec, rng)
        on_disk = [stream[0]] + stored

        # flags / crc / hw_sig (spec §2.3)
        flags = None
        crc = hw = None
        if e.layout == "A":
            flags = SF_PLATFORM_MODE if platform else 0
            if codec == "none":
                if e.has_lzo:
                    flags |= SF_NOCOMPRESS_MODE
            else:
                if e.has_crc:
                    flags |= SF_CRC32_MODE
                    crc = crc32_le(0, U)
                if codec == "lz4":
                    flags |= SF_LZ4
            if hw_sig is not None:
                if not e.has_hw_sig:
                    raise ValueError(f"era {era} has no hw_sig (5.17+)")
                flags |= SF_HW_SIG
                hw = hw_sig & 0xFFFFFFFF
        elif platform or hw_sig is not None:
            raise ValueError("flags need layout A (2.6.23+)")

    # ---- swap area (block numbers relative to the partition) ------------------------------
    area = SwapArea()
    if uswsusp:
        n = len(stream)
        n_needed = n + n // 8 + 16
    else:
        n_needed = len(on_disk) + len(on_disk) // MAP_PAGE_ENTRIES + 2
    stride = 2 if fragmented else 1
    n_needed *= stride
    if container in ("swapfile", "swapfile-copy"):
        # swap file: slots (file page offsets) 1.. map to partition blocks via the extents
        file_pages = map_start + n_needed + slack_blocks
        if container == "swapfile":
            part_blocks = 1024
            while part_blocks < 2.5 * file_pages + 64:
                part_blocks *= 2
            cand = list(range(48, part_blocks))
            chunks, i = [], 0
            while i < len(cand):
                k = rng.randint(1, 24)
                chunks.append(cand[i:i + k])
                i += k
            rng.shuffle(chunks)
            fmap = [b for c in chunks for b in c][:file_pages]
            assert fmap != sorted(fmap)
        else:
            resume = 0x8800 + rng.randrange(0, 0x400)
            fmap = list(range(resume, resume + file_pages))
            part_blocks = resume + file_pages + 0x200
        resume_offset = fmap[0]
        last_page = file_pages - 1
        slots = list(range(map_start, file_pages))
        pool = [fmap[x] for x in slots[::stride]]
        skipped = [fmap[x] for x in slots[1::stride]] if stride > 1 else []
        junk_blocks = [fmap[x] for x in range(1, map_start)] + skipped
    else:
        resume_offset = 0
        last_page = map_start + n_needed + slack_blocks
        part_blocks = last_page + 1
        fmap = None
        pool = list(range(map_start, last_page + 1))
        skipped = pool[1::stride] if stride > 1 else []
        pool = pool[::stride]
        if scatter:
            # runs of 1..8 blocks in shuffled order (as a fragmented swap allocator would)
            chunks, i = [], 0
            while i < len(pool):
                k = rng.randint(1, 8)
                chunks.append(pool[i:i + k])
                i += k
            rng.shuffle(chunks)
            pool = [b for c in chunks for b in c]
        junk_blocks = list(range(1, map_start)) + skipped
    for jb in junk_blocks:                     # swapped-out pages of other users of the area
        area.put(jb, junk_page(rng, jb))
    it = iter(pool)

    def alloc():
        return next(it)

    hdr = mkswap_page(last_page, rng, b"synthswap")
    orig = bytes(hdr[4086:4096])
    us: Dict[str, object] = {}
    if uswsusp:
        us = write_uswsusp(area, stream, alloc, codec, rng, checksum=checksum,
                           platform=True if platform is None else platform)
        blocks = us.pop("blocks")
        first_map, maps, sblocks = us["start_block"], us["extents_blocks"], us["data_blocks"]
        # mark_swap(): the 28-byte struct swsusp_header at the end of the resume page
        image_field = us["start_block"] * PAGE             # byte offset (loff_t)
        struct.pack_into("<Q", hdr, 4068, image_field)
        hdr[4076:4086] = orig
        hdr[4086:4096] = USWSUSP_SIG
        # unused preallocated swap keeps stale contents
        for b in us.pop("unused_blocks"):
            area.put(b, junk_page(rng, b))
    else:
        first_map, maps, sblocks = write_chain(area, on_disk, alloc)
        # ---- header page (mark_swapfiles: read-modify-write of the mkswap page) -----------
        hdr[4076:4086] = orig
        hdr[4086:4096] = HIBERNATE_SIG
        if e.layout == "C":
            image_field = (swap_type << SWP_TYPE_SHIFT) | first_map
            struct.pack_into("<Q", hdr, 4068, image_field)
        elif e.layout == "B":
            image_field = first_map
            struct.pack_into("<Q", hdr, 4068, image_field)
        else:
            image_field = first_map
            struct.pack_into("<QI", hdr, 4064, image_field, flags)
            if crc is not None:
                struct.pack_into("<I", hdr, 4060, crc)
            elif stale:
                struct.pack_into("<I", hdr, 4060, 0x5EA1C0DE)
            if hw is not None:
                struct.pack_into("<I", hdr, 4056, hw)
            elif stale:
                struct.pack_into("<I", hdr, 4056, 0xBADC0FFE)
    if consumed:
        hdr[4086:4096] = hdr[4076:4086]
    area.put(resume_offset, bytes(hdr))

    # ---- container assembly ---------------------------------------------------------------
    def part_bytes(nblocks: int, fill=None) -> bytearray:
        buf = bytearray(nblocks * PAGE)
        for b in range(nblocks):
            if b in area.blocks:
                buf[b * PAGE:(b + 1) * PAGE] = area.blocks[b]
            elif fill is not None:
                buf[b * PAGE:(b + 1) * PAGE] = fill(b)
        return buf

    if container == "partition":
        out = part_bytes(part_blocks)
        partition_offset = 0
    elif container == "swapfile":
        fileset = set(fmap)
        sbblk = ext4ish_block0(rng, part_blocks, b"synthroot")

        def fill(b):
            if b == 0:
                return sbblk
            if b in fileset:
                return bytes(PAGE)           # unused swap file slots (mkswap leaves them)
            return fs_junk(rng, b)
        out = part_bytes(part_blocks, fill)
        partition_offset = 0
    elif container == "swapfile-copy":
        out = bytearray(b"".join(area.blocks.get(b, bytes(PAGE)) for b in fmap))
        partition_offset = -resume_offset * PAGE
    else:
        SECTOR = 512
        p1_lba, p1_len = 2048, 512                        # ext4-ish partition (256 KiB)
        swap_lba = p1_lba + p1_len                        # 2560 = 1.25 MiB, 4 KiB aligned
        swap_len = part_blocks * 8
        disk_sectors = swap_lba + swap_len + 64          # tail: backup GPT (33 sectors) fits
        disk = bytearray(disk_sectors * SECTOR)
        sb = ext4ish_block0(rng, p1_len // 8, b"boot")
        disk[p1_lba * SECTOR:p1_lba * SECTOR + PAGE] = sb
        for b in range(1, p1_len // 8):
            off = p1_lba * SECTOR + b * PAGE
            disk[off:off + PAGE] = fs_junk(rng, b)
        disk[swap_lba * SECTOR:(swap_lba + swap_len) * SECTOR] = part_bytes(part_blocks)
        if container == "mbr":
            disk[0:512] = build_mbr([(0x83, p1_lba, p1_len), (0x82, swap_lba, swap_len)],
                                    rng.getrandbits(32))
        else:
            head, tail = build_gpt(disk_sectors, [(GPT_LINUX_FS, p1_lba, p1_lba + p1_len - 1, "boot"),
                                                  (GPT_SWAP, swap_lba, swap_lba + swap_len - 1, "swap")],
                                   rng)
            disk[0:len(head)] = head
            disk[len(disk) - len(tail):] = tail
        out = disk
        partition_offset = swap_lba * SECTOR
    with open(path, "wb") as f:
        f.write(out)

    max_stored = max((b["stored_pages"] for b in blocks), default=0)
    return Facts(
        variant=variant, path=str(path), file_size=len(out), era=era,
        kind="uswsusp" if uswsusp else "swsusp",
        container=container, partition_offset=partition_offset, partition_blocks=part_blocks,
        resume_offset=resume_offset, header_file_offset=partition_offset + resume_offset * PAGE,
        layout="uswsusp" if uswsusp else e.layout, sig=bytes(hdr[4086:4096]).decode("latin-1"),
        orig_sig=bytes(hdr[4076:4086]).decode("latin-1"), consumed=consumed,
        last_page=last_page, image_field=image_field, image_block=first_map,
        swap_type=swap_type if e.layout == "C" and not uswsusp else None, flags=flags, crc32=crc,
        crc32_field=struct.unpack_from("<I", hdr, 4060)[0], hw_sig=hw,
        hw_sig_field=struct.unpack_from("<I", hdr, 4056)[0], codec=codec, record=record,
        record_magic=RESTORE_MAGIC[record] if record else None, record_fields=sf["record_fields"],
        info=sf["info"], map_blocks=maps, stream_blocks=sblocks, num_entries=len(sblocks),
        meta_pages=sf["meta_pages"], pfn_entries=sf["pfn_entries"], pfns=sf["pfns"],
        data_pfns=sf["data_pfns"], zero_pfns=sf["zero_pfns"], blocks=blocks,
        num_blocks=len(blocks), max_block_stored_pages=max_stored,
        uncompressed_stream_sha256=hashlib.sha256(U).hexdigest(),
        e820_crc=zlib.crc32(e820_bytes(machine.e820)),
        e820_md5=hashlib.md5(e820_bytes(machine.e820)).hexdigest(),
        machine=machine_summary(machine), uswsusp=us, options=options)


def machine_summary(m: Machine) -> Dict[str, object]:
    return dict(levels=m.levels, cr3=m.cr3, cr3_record=m.cr3_record, pti=m.pti, sme_bit=m.sme_bit,
                page_offset=m.page_offset, phys_base=m.phys_base, kernel_text_va=m.kernel_text_va,
                kernel_text_pa=m.kernel_text_pa, jump_address=m.jump_address,
                jump_address_phys=m.jump_address_phys, banner_pa=m.banner_pa, release=m.release,
                num_physpages=m.num_physpages, max_pfn=m.max_pfn, saved_pages=len(m.pages),
                opts=m.opts)


# ---------------------------------------------------------------------------------------------
# named variants
MACHINE_OPTS = {"levels", "kaslr", "pti", "sme_bit", "ram_mib", "gib_pages", "page_offset",
                "page_offset_base",
                "saved", "incompressible", "seed", "cpus"}


VARIANTS: Dict[str, dict] = {
    # the committed samples (samples/*.img)
    "quickstart-lzo": dict(era="6.1", codec="lzo"),
    "quickstart-lz4-zeropages": dict(era="6.9", codec="lz4"),
    "quickstart-consumed": dict(era="6.1", codec="lzo", consumed=True),
    # eras (partition container, era's default codec)
    "era-2.6.16": dict(era="2.6.16", page_offset=synthkernel.PAGE_OFFSET_2_6_16, kaslr=False),
    "era-2.6.20": dict(era="2.6.20", page_offset=synthkernel.PAGE_OFFSET_2_6_16, kaslr=False),
    "era-2.6.23": dict(era="2.6.23", page_offset=synthkernel.PAGE_OFFSET_2_6_16, kaslr=False,
                       platform=True),
    "era-2.6.24": dict(era="2.6.24", page_offset=synthkernel.PAGE_OFFSET_2_6_16, kaslr=False),
    "era-2.6.37-lzo": dict(era="2.6.37", page_offset=synthkernel.PAGE_OFFSET_2_6_27, kaslr=False),
    "era-2.6.37-none": dict(era="2.6.37", codec="none",
                            page_offset=synthkernel.PAGE_OFFSET_2_6_27, kaslr=False),
    "era-3.2": dict(era="3.2", page_offset=synthkernel.PAGE_OFFSET_2_6_27, kaslr=False),
    "era-4.9": dict(era="4.9", page_offset_base=synthkernel.PAGE_OFFSET_2_6_27),
    "era-4.12": dict(era="4.12", page_offset_base=synthkernel.PAGE_OFFSET_2_6_27),
    "era-5.12": dict(era="5.12"),
    "era-5.17-hwsig": dict(era="5.17", hw_sig=0x5A17C0DE),
    "era-6.1-lzo": dict(era="6.1"),
    "era-6.1-none": dict(era="6.1", codec="none"),
    "era-6.6-zero": dict(era="6.6"),
    "era-6.9-lz4": dict(era="6.9", codec="lz4"),
    "era-6.9-lzo": dict(era="6.9", codec="lzo"),
    # containers
    "swapfile": dict(era="6.1", container="swapfile"),
    "swapfile-none": dict(era="6.1", container="swapfile", codec="none"),
    "swapfile-copy": dict(era="6.1", container="swapfile-copy"),
    "mbr": dict(era="6.1", container="mbr"),
    "gpt": dict(era="6.1", container="gpt"),
    "swapfile-2.6.20": dict(era="2.6.20", container="swapfile",
                            page_offset=synthkernel.PAGE_OFFSET_2_6_16, kaslr=False),
    # header states and allocation shapes
    "consumed": dict(era="6.1", consumed=True),
    "consumed-2.6.20": dict(era="2.6.20", consumed=True,
                            page_offset=synthkernel.PAGE_OFFSET_2_6_16, kaslr=False),
    "map-start-40": dict(era="6.1", map_start=40),
    "scatter": dict(era="6.1", scatter=True),
    "scatter-none": dict(era="6.1", scatter=True, codec="none", map_start=7),
    "stale-fields": dict(era="6.1", codec="none", stale=True),
    "platform": dict(era="6.1", platform=True),
    "pfn-shuffled": dict(era="6.1", codec="none", pfn_order="shuffled"),
    # record magic independent of era ("identified by magic, not by version")
    "record-f01-on-6.1": dict(era="6.1", record="f01"),
    "record-cdef-on-6.1": dict(era="6.1", record="cdef"),
    "record-none-on-6.1": dict(era="6.1", record=None),
    # machines
    "nokaslr": dict(era="6.1", kaslr=False),
    "gib-pages": dict(era="6.1", gib_pages=True, ram_mib=4096),
    "gib-pages-none": dict(era="6.1", codec="none", gib_pages=True, ram_mib=4096, kaslr=False),
    "pti": dict(era="6.1", pti=True),
    "sme": dict(era="6.1", sme_bit=47),
    "la57": dict(era="6.1", levels=5),
    "la57-nokaslr-zero": dict(era="6.6", levels=5, kaslr=False),
    "incompressible-lzo": dict(era="6.1", incompressible=True),
    "incompressible-lz4": dict(era="6.9", codec="lz4", incompressible=True),
    "medium-lzo": dict(era="6.1", saved="medium", ram_mib=1024),
    "medium-none": dict(era="6.1", codec="none", saved="medium", ram_mib=1024),
    # userspace s2disk
    "uswsusp-none": dict(era="6.1", uswsusp=True, codec="none"),
    "uswsusp-lzo": dict(era="6.1", uswsusp=True, codec="lzo"),
    "uswsusp-fragmented": dict(era="6.1", uswsusp=True, codec="none", fragmented=True,
                               saved="moderate"),
    "uswsusp-lzo-scatter": dict(era="6.1", uswsusp=True, codec="lzo", scatter=True, map_start=5),
    "uswsusp-swapfile": dict(era="6.1", uswsusp=True, codec="lzo", container="swapfile"),
    "uswsusp-consumed": dict(era="6.1", uswsusp=True, codec="lzo", consumed=True),
    "uswsusp-6.6-zero": dict(era="6.6", uswsusp=True, codec="none", checksum=False,
                             platform=False),
    "fragmented-lzo": dict(era="6.1", fragmented=True),
}

DESCRIPTIONS: Dict[str, str] = {
    "quickstart-lzo": "committed sample: 6.1-era LZO swap partition (flags 4 + CRC, record F02)",
    "quickstart-lz4-zeropages": "committed sample: 6.9-era LZ4 (flags 4|16), bit-63 zero-page entries",
    "quickstart-consumed": "committed sample: quickstart-lzo after a resume attempt (sig=SWAPSPACE2)",
    "era-2.6.16": "layout C: image@4068 = swp_entry (type 1 << 59 | block); PFN list = direct-map "
                  "VAs (0xffff810000000000 + pfn*4096) ending in 0; uts+version_code+cpus",
    "era-2.6.20": "layout B: image@4068 = block; PFN list with ~0 terminator; uts+version_code+cpus",
    "era-2.6.23": "layout A with flags (SF_PLATFORM_MODE set); uts+version_code+cpus; uncompressed",
    "era-2.6.24": "record ...CDEF (jump, cr3); version_code 0, cpus 0; uncompressed, flags 0",
    "era-2.6.37-lzo": "record ...CDEF; LZO with flags 0 (no CRC before 3.2)",
    "era-2.6.37-none": "record ...CDEF; SF_NOCOMPRESS_MODE (flags 2)",
    "era-3.2": "record ...CDEF; LZO + CRC32 (flags 4); PAGE_OFFSET 0xffff880000000000",
    "era-4.9": "record ...DEF0 (jump_address_phys); LZO+CRC; KASLR from 0xffff880000000000",
    "era-4.12": "record ...F01 with MD5 of the e820 table",
    "era-5.12": "record ...F02 with e820 CRC32 (zlib)",
    "era-5.17-hwsig": "hw_sig@4056 + SF_HW_SIG (flags 4|8)",
    "era-6.1-lzo": "like the real 6.1 samples: F02, flags 4",
    "era-6.1-none": "6.1 uncompressed, flags 2, crc32 field 0",
    "era-6.6-zero": "6.6: all-zero pages as PFN|1<<63 entries without data page",
    "era-6.9-lz4": "6.9: LZ4 raw blocks, flags 4|16, zero pages",
    "era-6.9-lzo": "6.9: LZO (flag 16 clear), zero pages",
    "swapfile": "4 MiB ext4-like partition with a scattered swap file; header at resume_offset; "
                "entries are partition blocks (may exceed the file's last_page)",
    "swapfile-none": "same, uncompressed",
    "swapfile-copy": "the swap file copied out as a plain file (partition_offset < 0): "
                     "entries = resume_offset + block-in-file",
    "mbr": "whole disk: MBR, Linux 0x83 partition at LBA 2048, swap 0x82 at LBA 2560",
    "gpt": "whole disk: GPT (protective MBR, header+entries, backup), swap type GUID at LBA 2560",
    "swapfile-2.6.20": "layout B image in a swap file (resume_offset exists since 2.6.19/20)",
    "consumed": "6.1 LZO after a resume attempt: sig reset to SWAPSPACE2, rest unchanged",
    "consumed-2.6.20": "layout B consumed",
    "map-start-40": "first map page at block 40; blocks 1..39 hold swapped-out junk",
    "scatter": "map and stream blocks allocated in shuffled runs (not ascending)",
    "scatter-none": "scatter + map_start 7, uncompressed",
    "stale-fields": "flags 2 but stale crc32/hw_sig values in the header (trust only with flag)",
    "platform": "SF_PLATFORM_MODE | SF_CRC32_MODE (flags 5)",
    "pfn-shuffled": "PFN list not ascending (data pages follow the list order)",
    "record-f01-on-6.1": "6.1 era with an F01 record (identify records by magic)",
    "record-cdef-on-6.1": "6.1 era with a CDEF record",
    "record-none-on-6.1": "6.1 era without arch record: uts + version_code 0x060100",
    "nokaslr": "KASLR off: page_offset 0xffff888000000000, text at 0x1000000, phys_base 0",
    "gib-pages": "4 GiB RAM (3 GiB low + 1 GiB above 4 GiB) with 1 GiB direct-map pages",
    "gib-pages-none": "same machine without KASLR, uncompressed",
    "pti": "PTI: cr3 = kernel half of an 8 KiB pair, user PGD at cr3+4096",
    "sme": "AMD SME C-bit 47 in cr3 and every table entry",
    "la57": "5-level paging (PML5 at cr3), KASLR direct map from 0xff11000000000000",
    "la57-nokaslr-zero": "5-level, fixed 0xff11000000000000, 6.6 zero pages",
    "incompressible-lzo": "random data pages: some LZO blocks take 33 pages (> 32)",
    "incompressible-lz4": "random data pages: some LZ4 blocks take 33 pages",
    "medium-lzo": "~690 saved pages, 1 GiB RAM, LZO",
    "medium-none": "same, uncompressed: 694 entries -> a chain of 2 map pages",
    "uswsusp-none": "s2disk image (ULSUSPEND), uncompressed, MD5, PLATFORM_SUSPEND",
    "uswsusp-lzo": "s2disk image, LZO 32-page buffers (info page inside the first buffer)",
    "uswsusp-fragmented": "s2disk, every other swap block: >255 extents, 2 extents pages",
    "uswsusp-lzo-scatter": "s2disk, shuffled swap allocation (many sorted extents), map_start 5",
    "uswsusp-swapfile": "s2disk image in a swap file (byte offsets of the partition)",
    "uswsusp-consumed": "s2disk image after reset_signature (sig = SWAPSPACE2)",
    "uswsusp-6.6-zero": "s2disk carrying a 6.6 stream with zero-page entries; no MD5, no platform",
    "fragmented-lzo": "kernel image with every other block used (non-contiguous entries)",
}

_MACHINES: Dict[tuple, Machine] = {}
_VARIANT_CACHE: Dict[tuple, "Facts"] = {}


def split_options(opts: dict) -> Tuple[dict, dict]:
    mo = {k: v for k, v in opts.items() if k in MACHINE_OPTS}
    io = {k: v for k, v in opts.items() if k not in MACHINE_OPTS}
    return mo, io


def get_machine(**mopts) -> Machine:
    key = tuple(sorted(mopts.items()))
    if key not in _MACHINES:
        _MACHINES[key] = build_machine(**mopts)
    return _MACHINES[key]


def make_variant(name: str, directory: str) -> Tuple[Machine, Facts, str]:
    """Write variant ``name`` into ``directory`` as ``<name>.img`` (machines are cached)."""
    if name not in VARIANTS:
        raise KeyError(f"unknown variant {name!r}")
    mo, io = split_options(VARIANTS[name])
    m = get_machine(**mo)
    path = os.path.join(directory, f"{name}.img")
    key = (name, os.path.abspath(path))
    hit = _VARIANT_CACHE.get(key)
    if hit and os.path.exists(path) and os.path.getsize(path) == hit.file_size:
        return m, hit, path
    facts = write_image(m, path, variant=name, **io)
    _VARIANT_CACHE[key] = facts
    return m, facts, path


write_isf = synthkernel.write_isf


# ---------------------------------------------------------------------------------------------
# resume scenarios: image kernel + boot kernel during resume (samples/resume_scenarios.py)
Scenario = resume_scenarios.Scenario
SCENARIOS = resume_scenarios.SCENARIOS
SEED_PAIR = ("seed-image.img", "seed-resume.elf")     # the README tutorial's bundled pair


def make_scenario(name: str, directory: str, *, compact_elf: bool = False) -> Scenario:
    """Write scenario ``name`` into ``directory``: ``NAME.img`` (6.1-era LZO swap partition),
    ``NAME-resume.elf`` (QEMU-style ELF core; ``NAME-resume.raw`` for raw scenarios) and
    ``NAME.json`` (expected findings and hazards).  See :mod:`samples.resume_scenarios`."""
    return resume_scenarios.build_scenario(name, directory, write_image, compact_elf=compact_elf)


def write_seed_pair(directory: str) -> Scenario:
    """The ``seed`` scenario as the bundled pair ``seed-image.img`` + ``seed-resume.elf``
    (compact ELF: all-zero RAM runs share one block of zeros in the file; no JSON)."""
    return resume_scenarios.build_scenario("seed", directory, write_image, compact_elf=True,
                                           image_name=SEED_PAIR[0], resume_name=SEED_PAIR[1],
                                           json_name="")


# ---------------------------------------------------------------------------------------------
# large images (benchmarks, CI smoke test): GiB-sized, streamed, bounded memory
#
# Page contents are a pure function of (PFN, seed) -- large_page() -- built from a few hundred
# precomputed template pages, so neither the memory nor the image is ever held whole.  LZO is
# far too slow to run over GiBs here (lzallright's LZ-okay compressor manages ~5-20 MB/s), so
# every template page is compressed ONCE into a self-contained LZO1X "fragment" and a block's
# LZO stream is assembled by concatenating fragments (see _lzo_fragment).  The result is a
# valid LZO1X bitstream (Linux lzo1x_decompress_safe rules, Documentation/staging/lzo.rst), but
# not the bytes lzo1x_1_compress would emit: it never matches across pages.
LARGE_STAMP_OFFSET = 16         # u64 PFN here in every ordinary non-zero page ("stamp")
LARGE_DIRECT_MAP_GIB = 64       # the direct map covers PA [0, 64 GiB) whatever the RAM size
LARGE_KINDS = ("zero", "text", "code", "struct", "random", "kernel")
LARGE_WEIGHTS = (22, 30, 16, 18, 14)   # share of ordinary pages per kind (per 100)
LARGE_TEMPLATES = 64            # templates per non-zero kind
_LARGE_GROUP_SHIFT = 2          # 4 consecutive PFNs share a kind (zero/text/... come in runs)
_LARGE_POOL = 0x8000000         # direct-map page tables at 128 MiB (as synthkernel's pool)
_LZO_EOF = b"\x11\x00\x00"      # M4 with distance 16384 = end of stream
_M64 = (1 << 64) - 1
_HOLE = (LARGE_STAMP_OFFSET, LARGE_STAMP_OFFSET + 8)

_LZO_COMPRESSOR = None


def _lzo_raw(data: bytes) -> bytes:
    """lzallright LZO1X without lzo_compress's memo (whose cache would grow by GiBs here)."""
    global _LZO_COMPRESSOR
    if _LZO_COMPRESSOR is None:
        import lzallright
        _LZO_COMPRESSOR = lzallright.LZOCompressor()
    return _LZO_COMPRESSOR.compress(data)


def lzo1x_parse(comp: bytes) -> Tuple[bytes, List[Tuple[int, int, int]]]:
    """Decode an LZO1X stream into (output, segments); a segment is (start, end, distance) of
    the output, distance 0 = literals.  Decoder rules of Documentation/staging/lzo.rst."""
    out = bytearray()
    segs: List[Tuple[int, int, int]] = []
    ip, state = 0, 0

    def ext(ip: int, base: int) -> Tuple[int, int]:
        z = 0
        while comp[ip] == 0:
            z += 1
            ip += 1
        return ip + 1, base + 255 * z + comp[ip]

    def lit(ip: int, n: int) -> int:
        if n:
            segs.append((len(out), len(out) + n, 0))
            out.extend(comp[ip:ip + n])
        return ip + n

    b = comp[0]
    if b >= 22:
        ip, state = lit(1, b - 17), 4
    elif b >= 18:
        ip, state = lit(1, b - 17), b - 17
    while True:
        t = comp[ip]
        ip += 1
        if t >= 64:                                   # M2
            dist = (comp[ip] << 3) + ((t >> 2) & 7) + 1
            ip += 1
            length, ss = (t >> 5) + 1, t & 3
        elif t >= 32:                                 # M3
            length = (t & 31) + 2
            if length == 2:
                ip, length = ext(ip, 33)
            d = comp[ip] | comp[ip + 1] << 8
            ip += 2
            dist, ss = (d >> 2) + 1, d & 3
        elif t >= 16:                                 # M4 (or end of stream)
            length = (t & 7) + 2
            if length == 2:
                ip, length = ext(ip, 9)
            d = comp[ip] | comp[ip + 1] << 8
            ip += 2
            dist, ss = ((t & 8) << 11) + (d >> 2), d & 3
            if dist == 0:
                if ip != len(comp):
                    raise ValueError("input not consumed")
                return bytes(out), segs
            dist += 16384
        elif state == 0:                              # literal run
            n = t + 3
            if n == 3:
                ip, n = ext(ip, 18)
            ip, state = lit(ip, n), 4
            continue
        else:                                         # M1: 2 bytes (state 1-3) / 3 bytes (4)
            dist = (t >> 2) + (comp[ip] << 2) + (1 if state != 4 else 2049)
            ip += 1
            length, ss = (2 if state != 4 else 3), t & 3
        s = len(out)
        if not 0 < dist <= s:
            raise ValueError(f"match distance {dist} before the start of the output")
        if dist >= length:
            out.extend(out[s - dist:s - dist + length])
        else:
            for _ in range(length):
                out.append(out[-dist])
        segs.append((s, s + length, dist))
        ip = lit(ip, ss)
        state = ss


def _lzo_count(n: int) -> bytes:
    """LZO length extension for n >= 1: n // 255 zero bytes (255 each) then a non-zero byte."""
    z = (n - 1) // 255
    return b"\0" * z + bytes([n - 255 * z])


def _lzo_literal_run(n: int) -> bytes:
    """'copy long literal string' (valid in state 0 only, n >= 4)."""
    return bytes([n - 3]) if n <= 18 else b"\0" + _lzo_count(n - 18)


def _lzo_match(length: int, dist: int, ss: int) -> bytes:
    """M2 (3..8 bytes within 2 KiB) or M3 (within 16 KiB) with `ss` trailing literals."""
    if length <= 8 and dist <= 2048:
        d = dist - 1
        return bytes([((length - 1) << 5) | ((d & 7) << 2) | ss, d >> 3])
    assert 3 <= length and dist <= 16384
    op = bytes([32 | (length - 2)]) if length <= 33 else b"\x20" + _lzo_count(length - 33)
    return op + struct.pack("<H", ((dist - 1) << 2) | ss)


def _lzo_fragment(page: bytes, hole: bool = False) -> Tuple[bytes, bytes, bytes]:
    """One page as a concatenable LZO1X fragment (head, body, tail):

    * head: leading literals, >= 4 bytes (>= 24 with ``hole``: the stamp bytes 16..23 are
      literals and no match copies from them, so any stamp can be patched into the head);
    * body: instructions starting with a match (valid after any state) and ending with a match
      whose S bits are 0 (state 0);
    * tail: trailing literals, 0 or >= 4 bytes.

    A block is ``run(pending + head) + body`` per page (pending = the previous page's tail,
    fragments without a body only add their head to pending), a final run, and EOF.  The
    parse comes from lzallright's compression of the page alone."""
    out, segs = lzo1x_parse(_lzo_raw(page))
    assert out == page
    hmin = _HOLE[1] if hole else 4
    norm: List[List[int]] = []

    def add(s: int, e: int, d: int) -> None:
        if d == 0 and norm and norm[-1][2] == 0:
            norm[-1][1] = e
        else:
            norm.append([s, e, d])

    for s, e, d in segs:
        if d and e - s < 3:                              # M1 (2 bytes): only after S literals
            d = 0
        if d:
            if s < hmin:                                 # inside the head: literals
                if e - hmin < 3:
                    add(s, e, 0)
                    continue
                add(s, hmin, 0)
                s = hmin
            if hole and s - d < _HOLE[1] and e - d > _HOLE[0]:
                add(s, e, 0)                             # would copy stamp bytes
                continue
        add(s, e, d)
    # 1..3 trailing literals cannot start a literal run: take bytes from the last match
    if len(norm) > 1 and norm[-1][2] == 0 and norm[-1][1] - norm[-1][0] < 4:
        m, t = norm[-2], norm[-1]
        need = 4 - (t[1] - t[0])
        if m[1] - m[0] - need >= 3:
            m[1] -= need
            t[0] -= need
        else:
            del norm[-2:]
            add(m[0], t[1], 0)
    head = page[:norm[0][1]]
    rest = norm[1:]
    tail = b""
    if rest and rest[-1][2] == 0:
        tail = page[rest[-1][0]:]
        rest.pop()
    body = []
    for i, (s, e, d) in enumerate(rest):
        if d:
            nxt = rest[i + 1] if i + 1 < len(rest) else None
            ss = nxt[1] - nxt[0] if nxt is not None and nxt[2] == 0 and nxt[1] - nxt[0] <= 3 else 0
            body.append(_lzo_match(e - s, d, ss))
            if ss:
                body.append(page[nxt[0]:nxt[1]])
        elif e - s >= 4:
            body.append(_lzo_literal_run(e - s) + page[s:e])
    frag = (head, b"".join(body), tail)
    # self-check: decodes to the page, also with other bytes in the hole
    for probe in ((page,) if not hole else (page, page[:16] + b"\xa5\x5a" * 4 + page[24:])):
        ph = probe[:len(head)]
        stream = _lzo_literal_run(len(ph)) + ph + frag[1]
        if tail:
            stream += _lzo_literal_run(len(tail)) + tail
        assert lzo1x_parse(stream + _LZO_EOF)[0] == probe
    return frag


def _lzo_assemble(frags) -> bytes:
    """LZO1X stream of consecutive pages from (head pieces, head length, body, tail)."""
    out: List[bytes] = []
    pend: List[bytes] = []
    plen = 0
    for hp, hl, body, tail in frags:
        pend.extend(hp)
        plen += hl
        if body:
            out.append(_lzo_literal_run(plen))
            out.extend(pend)
            out.append(body)
            pend = [tail] if tail else []
            plen = len(tail)
    if plen:
        out.append(_lzo_literal_run(plen))
        out.extend(pend)
    out.append(_LZO_EOF)
    return b"".join(out)


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


class _LargeKit:
    """Everything of a large machine that depends on the seed only: templates (with their LZO
    fragments), the kernel/page-table/task-list pages and the restore record's addresses."""

    def __init__(self, seed: int) -> None:
        K = synthkernel
        self.seed = seed
        self.key = _splitmix64(seed ^ 0x5357_5355_5350_4C47)
        rng = random.Random(f"swsusp-large-templates:{seed}")
        table: List[int] = []
        for kind, w in enumerate(LARGE_WEIGHTS):
            table += [kind] * (w * 1024 // 100)
        table += [1] * (1024 - len(table))
        rng.shuffle(table)
        self.kind_table = table
        gens = {1: K.text_page, 2: K.code_page, 3: K.struct_page, 4: K.random_page}
        self.templates: Dict[int, List[tuple]] = {}
        for kind, gen in gens.items():
            tpls = []
            for i in range(LARGE_TEMPLATES):
                page = bytearray(gen(rng, 0x1000 * kind + i))
                page[_HOLE[0]:_HOLE[1]] = bytes(8)
                page = bytes(page)
                head, body, tail = _lzo_fragment(page, hole=True)
                tpls.append((page[:_HOLE[0]], page[_HOLE[1]:], head[:_HOLE[0]], head[_HOLE[1]:],
                             len(head), body, tail))
            self.templates[kind] = tpls
        zh, zb, zt = _lzo_fragment(bytes(PAGE))
        self.zero_spec = ((bytes(PAGE),), ((zh,), len(zh), zb, zt), 0)

        # ---- machine: KASLR, a 4-level kernel mapping and a direct map ---------------------
        mrng = random.Random(f"swsusp-large-machine:{seed}")
        phys_shift = mrng.randrange(0, 40) * K.SZ_2M
        virt_shift = mrng.randrange(0, 400) * K.SZ_2M
        self.page_offset = K.PAGE_OFFSET_L4 + (mrng.randrange(0, 0x1800) << 30)
        self.vmalloc_base = self.page_offset + (74 << 40) + (mrng.randrange(1, 64) << 30)
        self.vmemmap_base = self.vmalloc_base + (32 << 40) + (mrng.randrange(1, 64) << 30)
        self.kernel_text_pa = text_pa = K.LINK_TEXT_PA + phys_shift
        self.kernel_text_va = text_va = K.LINK_TEXT_VA + virt_shift
        self.phys_base = (phys_shift - virt_shift) & _M64

        def kpa(name: str) -> int:
            return text_pa + K.KOFF[name]

        mem = K.PhysMem()
        pt = K.PageTables(mem, 4)
        pgd = kpa("init_top_pgt")
        mem.page(pgd >> 12)
        ktables = iter([kpa("level3_kernel_pgt"), kpa("level2_kernel_pgt")])
        for off in range(0, K.KERNEL_IMAGE_SIZE, K.SZ_2M):
            pt.map(pgd, text_va + off, text_pa + off, K.SZ_2M, K.TEXT_LARGE,
                   alloc=lambda s, v: next(ktables))
        pool = iter(range(_LARGE_POOL + 0x10000, _LARGE_POOL + 0x100000, PAGE))

        def alloc(shift: int, va: int) -> int:
            return next(pool)

        po = self.page_offset
        for pa in range(0, K.SZ_2M, PAGE):                 # first 2 MiB in 4 KiB pages
            flags = K.DIRECT_4K | (K.PCD | K.PWT if 0x9F000 <= pa < 0x100000 else 0)
            pt.map(pgd, po + pa, pa, K.SZ_4K, flags, alloc)
        for pa in range(K.SZ_2M, K.SZ_1G, K.SZ_2M):       # rest of the first GiB: 2 MiB
            pt.map(pgd, po + pa, pa, K.SZ_2M, K.DIRECT_LARGE, alloc)
        for pa in range(K.SZ_1G, LARGE_DIRECT_MAP_GIB << 30, K.SZ_1G):
            pt.map(pgd, po + pa, pa, K.SZ_1G, K.DIRECT_LARGE, alloc)
        # one PGD per user process (mm->pgd): a copy of the kernel half, as pgd_alloc() makes
        user_idx = [i for i, s in enumerate(K.TASK_SPECS) if not s[2]]
        proc_pgds = [next(pool) for _ in user_idx]
        for p in proc_pgds:
            mem.write(p + 256 * 8, mem.read(pgd + 256 * 8, 256 * 8))
        self.cr3 = pgd
        self.page_table_pfns = sorted(mem.pages)
        self.jump_address = text_va + K.KOFF["restore_registers"]
        self.jump_address_phys = kpa("restore_registers")
        assert pt.translate(pgd, self.jump_address) == self.jump_address_phys
        for pa in (0, 0x9F000, 0x1FF000, 0x200000, 0x3FFFF000, 0x40000000, (63 << 30) + 0x1234):
            assert pt.translate(pgd, po + pa) == pa, hex(pa)
        # kernel pages: restore_registers, linux_banner, the layout variables, phys_base
        mem.write(kpa("restore_registers") & ~0xFFF,
                  K.restore_page(self.templates[2][0][0] + bytes(8) + self.templates[2][0][1]))
        bpa = kpa("linux_banner")
        mem.write(bpa & ~0xFFF, self.templates[1][1][0] + bytes(8) + self.templates[1][1][1])
        mem.write(bpa, K.BANNER)
        mem.write(bpa - 0x40, (K.RELEASE.encode() + b"\0").ljust(0x40, b"\0"))
        mem.write_u64(kpa("page_offset_base"), po)
        mem.write_u64(kpa("vmalloc_base"), self.vmalloc_base)
        mem.write_u64(kpa("vmemmap_base"), self.vmemmap_base)
        mem.write(kpa("pgdir_shift"), struct.pack("<I", 39))
        mem.write(kpa("ptrs_per_p4d"), struct.pack("<I", 1))
        mem.write_u64(kpa("phys_base"), self.phys_base)
        self.banner_pa = bpa
        # the task list (init_task, init_mm, ...; the other task_structs and the user
        # mm_structs in slab pages of the direct map between 130 and 240 MiB), as synthkernel's
        # machines have it, so that stock linux.pslist lists K.TASK_SPECS
        slab = mrng.sample(range(0x8200, 0xF000), len(K.TASK_SPECS))
        task_pa = [kpa("init_task")] + [(pfn << 12) + 0x200 for pfn in slab[1:]]
        mm_of = {}
        for j, (i, p) in enumerate(zip(user_idx, proc_pgds)):
            mm_pa = (slab[0] << 12) + j * K.MM_SIZE
            mem.write(mm_pa, K.user_mm_struct(po + p))
            mm_of[i] = po + mm_pa
        self.tasks = K.write_task_list(mem, kpa, lambda name: text_va + K.KOFF[name],
                                       lambda pa: po + pa, task_pa, mm_of)
        self.special: Dict[int, tuple] = {}
        for pfn, pg in sorted(mem.pages.items()):
            pg = bytes(pg)
            h, b, t = _lzo_fragment(pg)
            self.special[pfn] = ((pg,), ((h,), len(h), b, t), 5)

    def classify(self, pfn: int) -> Tuple[int, int]:
        """(kind, template index) of an ordinary (non-kernel) PFN."""
        h = _splitmix64((pfn >> _LARGE_GROUP_SHIFT) ^ self.key)
        return self.kind_table[h & 1023], ((h >> 10) + (pfn & 3) * 11) % LARGE_TEMPLATES

    def spec(self, pfn: int) -> tuple:
        """((uncompressed pieces), (head pieces, head length, body, tail), kind) of a page."""
        sp = self.special.get(pfn)
        if sp is not None:
            return sp
        kind, t = self.classify(pfn)
        if kind == 0:
            return self.zero_spec
        t16, trest, h16, hrest, hl, body, tail = self.templates[kind][t]
        st = pfn.to_bytes(8, "little")
        return (t16, st, trest), ((h16, st, hrest), hl, body, tail), kind

    def is_zero(self, pfn: int) -> bool:
        return pfn not in self.special and self.classify(pfn)[0] == 0


@functools.lru_cache(maxsize=4)
def _large_kit(seed: int) -> _LargeKit:
    return _LargeKit(seed)


def large_page(pfn: int, seed: int = 0) -> bytes:
    """Contents of PFN ``pfn`` in every large image written with ``seed`` (whether or not the
    image saves that PFN).  Ordinary pages are a template chosen by a hash of the PFN -- zero,
    text, code, struct-like or random -- with the PFN as u64 at LARGE_STAMP_OFFSET (zero pages
    have no stamp); the kernel's page tables, a few kernel pages and the task list's pages
    (LargeFacts.special_pfns) are stored as built."""
    unc = _large_kit(seed).spec(pfn)[0]
    return unc[0] if len(unc) == 1 else b"".join(unc)


def _large_runs(n: int, ram_pfns, forced: List[int], rng: random.Random) -> List[Tuple[int, int]]:
    """Saved PFNs as ascending (first, count) runs: ``forced`` plus runs of log-uniform length
    (1..2048 pages) spread over all RAM (PFN 0 never saved), n PFNs in all."""
    fset = set(forced)
    segs = []
    for a, b in ram_pfns:
        cur = max(a, 1)
        for f in forced:
            if cur <= f < b:
                if f > cur:
                    segs.append((cur, f))
                cur = f + 1
        if cur < b:
            segs.append((cur, b))
    assert all(any(a <= f < b for a, b in ram_pfns) and f > 0 for f in fset)
    need = n - len(fset)
    avail = sum(b - a for a, b in segs)
    if need < 0 or need > avail:
        raise ValueError(f"{n} saved pages do not fit this RAM ({avail + len(fset)} saveable)")
    runs: List[Tuple[int, int]] = [(f, 1) for f in sorted(fset)]
    si, pos = 0, segs[0][0] if segs else 0
    log_max = math.log(2048)

    def advance(k: int, record: bool) -> None:
        nonlocal si, pos, avail
        while k:
            a, b = segs[si]
            step = min(k, b - pos)
            if record:
                runs.append((pos, step))
            pos += step
            k -= step
            avail -= step
            if pos == b and si + 1 < len(segs):
                si += 1
                pos = segs[si][0]

    while need:
        d = need / avail
        length = min(int(math.exp(rng.uniform(0, log_max))), need)
        gap = min(int(length * (1 - d) / d * rng.uniform(0.5, 1.5)), avail - need)
        advance(gap, False)
        advance(length, True)
        need -= length
    runs.sort()
    out: List[Tuple[int, int]] = []
    for first, count in runs:
        if out and out[-1][0] + out[-1][1] == first:
            out[-1] = (out[-1][0], out[-1][1] + count)
        else:
            out.append((first, count))
    assert sum(c for _, c in out) == n
    return out


@dataclass
class LargeFacts:
    """What write_large_image wrote.  ``asdict(facts)`` is JSON-serialisable."""
    path: str
    file_size: int
    codec: str
    era: str
    seed: int
    flags: int                     # header flags (SF_CRC32_MODE | SF_LZ4 | SF_NOCOMPRESS_MODE)
    image_pages: int               # info.image_pages: data pages stored in the stream
    zero_pages: int                # bit-63 PFN entries (6.6+), else 0
    pages: int                     # info.pages = 1 + meta_pages + image_pages
    saved_pages: int               # PFN-list entries = image_pages + zero_pages (gib * 262144)
    meta_pages: int
    num_physpages: int
    ram_gib: float
    crc32: Optional[int]           # header crc32 = crc32_le(0, U) (compressed images), else None
    stream_crc32: int              # crc32_le(0, U) whatever the codec
    pfn_runs: List[Tuple[int, int]]  # saved PFNs (zero pages included) as (first, count), ascending
    cr3: int
    jump_address: int
    jump_address_phys: int
    page_offset: int
    kernel_text_va: int
    kernel_text_pa: int
    banner_pa: int
    tasks: List[Tuple[int, str, int]]  # (pid, comm, task_struct VA): init_task's list
    special_pfns: List[int]        # kernel, task and page-table pages: stored as built, no stamp
    page_table_pfns: List[int]
    num_entries: int               # swap-map entries: info page + stored stream pages
    num_blocks: int                # compressed blocks (0 for codec none)
    map_blocks: List[int]
    last_page: int                 # mkswap last_page; the file is (last_page + 1) * 4096 bytes
    compression_ratio: float       # uncompressed stream pages / stored stream pages
    kind_counts: Dict[str, int]    # saved pages by content kind
    e820: List[Tuple[int, int, int]]
    ram_pfns: List[Tuple[int, int]]
    seconds_to_write: float


def _full_map_page(j: int) -> bytes:
    """Map page j of a contiguous chain starting at block 1: entries 2+512j.., next 513+512j."""
    return struct.pack("<512Q", *range(2 + 512 * j, 513 + 512 * j), 513 + 512 * j)


def write_large_image(path: str, *, gib: float = 2.0, codec: str = "lzo",
                      era: Optional[str] = None, seed: int = 0, ram_gib: Optional[float] = None,
                      verify: bool = True) -> LargeFacts:
    """Stream a swap-partition hibernation image holding ``gib`` GiB of saved pages to ``path``.

    codec    "lzo" | "lz4" | "none".
    era      "6.1" (default; "6.9" for lz4) or any 5.12+ era; "6.6"/"6.9" store all-zero pages
             as bit-63 PFN entries without a data page.
    seed     selects templates, KASLR and the PFN layout; page contents = large_page(pfn, seed).
    ram_gib  RAM of the machine (default 2.5 * gib, at least 0.25); hibernation saves ~2/5.
    verify   decompress a sample of the written blocks and compare.

    Layout as the kernel writes a swap partition: mkswap page with header layout A, map chain
    from block 1 (map pages at 1, 513, 1025, ...), entry 0 = info page with an F02 record,
    PFN list, then 32-page compressed blocks (u64 length + data + stale padding to a page) or
    plain pages; CRC32 per spec 5.3.  Memory stays bounded: one block at a time plus the PFN
    list (8 bytes per page).

    The machine is the synthetic kernel of symbols/linux/ (banner, page tables, KASLR shift
    from the restore record) with synthkernel's task list from init_task (LargeFacts.tasks),
    so stock ``vol -p plugins -s symbols -f IMG linux.pslist`` lists those tasks."""
    t0 = time.perf_counter()
    if era is None:
        era = "6.9" if codec == "lz4" else "6.1"
    e = _era(era)
    if e.layout != "A" or e.record != "f02":
        raise ValueError(f"era {era}: large images need header layout A and an F02 record (5.12+)")
    if codec not in ("none", "lzo", "lz4"):
        raise ValueError(f"codec {codec!r}")
    if codec == "lz4" and not e.has_lz4:
        raise ValueError("LZ4 exists only in 6.9+ kernel images")
    n = int(round(gib * (1 << 30) / PAGE))
    if ram_gib is None:
        ram_gib = max(0.25, 2.5 * gib)
    ram_mib = int(round(ram_gib * 1024))
    if ram_mib < 256:
        raise ValueError("ram_gib >= 0.25 (the kernel and its page tables live below 256 MiB)")
    ram_pfns, e820 = synthkernel._ram_layout(ram_mib)
    if ram_pfns[-1][1] > LARGE_DIRECT_MAP_GIB << 18:
        raise ValueError(f"RAM above {LARGE_DIRECT_MAP_GIB} GiB is not direct-mapped")
    num_physpages = sum(b - a for a, b in ram_pfns)
    kit = _large_kit(seed)
    forced = sorted(set(range(1, 0x9F)) | set(kit.special))
    if n < len(forced) + 1:
        raise ValueError(f"gib too small: at least {len(forced) + 1} pages")
    runs = _large_runs(n, ram_pfns, forced, random.Random(f"swsusp-large:{seed}:{n}:{ram_mib}"))

    # ---- PFN list (the only per-page state held: 8 bytes a page) -----------------------------
    entries = array("Q")
    zero = 0
    for first, count in runs:
        if e.zero_pages:
            for pfn in range(first, first + count):
                if kit.is_zero(pfn):
                    entries.append(pfn | ENCODED_PFN_ZERO_FLAG)
                    zero += 1
                else:
                    entries.append(pfn)
        else:
            entries.extend(range(first, first + count))
    if sys.byteorder != "little":
        entries.byteswap()
    meta = entries.tobytes()
    if n % (PAGE // 8):
        meta += struct.pack("<Q", BM_END_OF_MAP)
    meta += bytes(-len(meta) % PAGE)
    if sys.byteorder != "little":
        entries.byteswap()
    meta_pages = len(meta) // PAGE
    image_pages = n - zero
    pages = 1 + meta_pages + image_pages
    rec_machine = SimpleNamespace(jump_address=kit.jump_address, cr3_record=kit.cr3,
                                  jump_address_phys=kit.jump_address_phys, e820=e820,
                                  num_physpages=num_physpages, release=synthkernel.RELEASE, cpus=2)
    info, _, _ = build_info_page(rec_machine, e, "f02", image_pages, pages)

    # ---- the stream U = PFN list pages + data pages, as 32-page blocks ------------------------
    def u_pages():
        for i in range(meta_pages):
            yield (meta[i * PAGE:(i + 1) * PAGE],), None, -1
        spec = kit.spec
        for v in entries:
            if not v >> 63:
                yield spec(v)

    pad_rng = random.Random(f"swsusp-large-pad:{seed}")
    kinds = [0] * len(LARGE_KINDS)
    crc = 0
    stored = 0
    nblocks = 0
    if codec == "lz4":
        import lz4.block
    if verify and codec == "lzo":
        import lzallright
    f = open(path, "wb")
    try:
        f.write(bytes(PAGE))                      # block 0: header, written last
        f.write(_full_map_page(0))                # block 1: first map page
        f.write(info)                             # block 2: entry 0
        written = 1                               # map entries so far
        room = MAP_PAGE_ENTRIES - 1               # entries before the next map page

        def put(data) -> None:                    # whole pages, as swap_write_page() does
            nonlocal written, room
            mv = memoryview(data)
            off, k = 0, len(data) // PAGE
            while k:
                if room == 0:
                    f.write(_full_map_page(written // MAP_PAGE_ENTRIES))
                    room = MAP_PAGE_ENTRIES
                take = min(room, k)
                f.write(mv[off:off + take * PAGE])
                off += take * PAGE
                k -= take
                room -= take
                written += take

        block: List[tuple] = []

        def _meta_frag(page: bytes) -> tuple:     # a PFN-list page sharing a block with data
            h, b, t = _lzo_fragment(page)
            return (h,), len(h), b, t

        def flush() -> None:
            nonlocal crc, stored, nblocks
            unc = b"".join([p for s in block for p in s[0]])
            crc = crc32_le(crc, unc)
            for s in block:
                if s[2] >= 0:
                    kinds[s[2]] += 1
            if codec == "none":
                put(unc)
                stored += len(unc) // PAGE
                return
            if codec == "lz4":
                c = lz4.block.compress(unc, store_size=False)
            elif all(s[1] is None for s in block):
                c = _lzo_raw(unc)                  # PFN list only: lzallright on the block
            else:
                c = _lzo_assemble([s[1] if s[1] is not None else _meta_frag(s[0][0])
                                   for s in block])
            assert 0 < len(c) <= LZO_WORST, len(c)
            if verify and (nblocks < 2 or nblocks % 61 == 0):
                d = (lz4.block.decompress(c, uncompressed_size=len(unc)) if codec == "lz4" else
                     lzallright.LZOCompressor.decompress(c, output_size_hint=len(unc)))
                assert d == unc, f"block {nblocks} does not decompress to its pages"
            rec = struct.pack("<Q", len(c)) + c
            rec += pad_rng.randbytes(-len(rec) % PAGE)
            put(rec)
            stored += len(rec) // PAGE
            nblocks += 1

        for s in u_pages():
            block.append(s)
            if len(block) == UNC_PAGES:
                flush()
                block = []
        if block:
            flush()

        # ---- the final map page, header and slack ----------------------------------------------
        E = written
        J = E // MAP_PAGE_ENTRIES
        cnt = E - J * MAP_PAGE_ENTRIES
        last_map = struct.pack(f"<{cnt}Q", *range(2 + 512 * J, 2 + 512 * J + cnt))
        f.seek((1 + 512 * J) * PAGE)
        f.write(last_map + bytes(PAGE - len(last_map)))
        last_page = 1 + (E + E // MAP_PAGE_ENTRIES + 2) + 24
        hdr = mkswap_page(last_page, random.Random(f"swsusp-large-header:{seed}"), b"synthswap")
        hdr[4076:4086] = hdr[4086:4096]
        hdr[4086:4096] = HIBERNATE_SIG
        if codec == "none":
            flags, hcrc = SF_NOCOMPRESS_MODE, None
        else:
            flags, hcrc = SF_CRC32_MODE | (SF_LZ4 if codec == "lz4" else 0), crc
            struct.pack_into("<I", hdr, 4060, crc)
        struct.pack_into("<QI", hdr, 4064, 1, flags)
        f.seek(0)
        f.write(hdr)
        f.truncate((last_page + 1) * PAGE)
    finally:
        f.close()
    assert 1 + 512 * J <= last_page
    return LargeFacts(
        path=str(path), file_size=(last_page + 1) * PAGE, codec=codec, era=era, seed=seed,
        flags=flags, image_pages=image_pages, zero_pages=zero, pages=pages, saved_pages=n,
        meta_pages=meta_pages, num_physpages=num_physpages, ram_gib=ram_gib, crc32=hcrc,
        stream_crc32=crc, pfn_runs=runs, cr3=kit.cr3, jump_address=kit.jump_address,
        jump_address_phys=kit.jump_address_phys, page_offset=kit.page_offset,
        kernel_text_va=kit.kernel_text_va, kernel_text_pa=kit.kernel_text_pa,
        banner_pa=kit.banner_pa, tasks=list(kit.tasks), special_pfns=sorted(kit.special),
        page_table_pfns=kit.page_table_pfns, num_entries=E, num_blocks=nblocks,
        map_blocks=[1 + 512 * j for j in range(J + 1)], last_page=last_page,
        compression_ratio=(pages - 1) / stored, kind_counts=dict(zip(LARGE_KINDS, kinds)),
        e820=e820, ram_pfns=ram_pfns, seconds_to_write=time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variant", nargs="?", help="variant name (see --list)")
    ap.add_argument("-o", "--output", help="output image path")
    ap.add_argument("--facts", help="also write the Facts as JSON here")
    ap.add_argument("--list", action="store_true", help="list variants")
    ap.add_argument("--all", metavar="DIR", help="write every variant (+ .json facts) into DIR")
    ap.add_argument("--isf", metavar="DIR", help="write the synthetic kernel's ISF into DIR")
    ap.add_argument("--large", type=float, metavar="GIB",
                    help="write a large image holding GIB GiB of pages (streamed; see "
                         "write_large_image) to -o")
    ap.add_argument("--codec", choices=("lzo", "lz4", "none"), default="lzo", help="with --large")
    ap.add_argument("--era", help="with --large: 6.1 (default; 6.9 for lz4), 6.6/6.9 zero pages")
    ap.add_argument("--seed", type=int, default=0, help="with --large")
    ap.add_argument("--ram-gib", type=float, help="with --large: RAM size (default 2.5 x GIB)")
    ap.add_argument("--scenario", metavar="NAME",
                    help=f"write a resume scenario into -o DIR: NAME.img, NAME-resume.elf|.raw, "
                         f"NAME.json ({', '.join(SCENARIOS)}, or all)")
    ap.add_argument("--compact-elf", action="store_true",
                    help="with --scenario: all-zero RAM runs share one block of zeros in the ELF")
    ap.add_argument("--seed-pair", metavar="DIR",
                    help="write the seed scenario as DIR/seed-image.img + DIR/seed-resume.elf")
    a = ap.parse_args(argv)
    if a.scenario or a.seed_pair:
        if a.seed_pair:
            sc = write_seed_pair(a.seed_pair)
            done = [sc]
        else:
            if not a.output:
                ap.error("-o DIR is required with --scenario")
            names = list(SCENARIOS) if a.scenario == "all" else [a.scenario]
            if any(n not in SCENARIOS for n in names):
                ap.error(f"unknown scenario {a.scenario!r}; known: {', '.join(SCENARIOS)}")
            done = [make_scenario(n, a.output, compact_elf=a.compact_elf) for n in names]
        for sc in done:
            counts = " ".join(f"{k}={v}" for k, v in sc.counts.items() if v)
            print(f"{sc.name}: {sc.image_path} ({sc.image_facts.file_size} bytes), "
                  f"{sc.resume_path} ({sc.dump['file_size']} bytes), {counts}, "
                  f"{len(sc.hazards)} hazard(s)")
        return 0
    if a.large is not None:
        if not a.output:
            ap.error("-o is required")
        lf = write_large_image(a.output, gib=a.large, codec=a.codec, era=a.era, seed=a.seed,
                               ram_gib=a.ram_gib)
        if a.facts:
            with open(a.facts, "w") as f:
                json.dump(asdict(lf), f, indent=1, sort_keys=True)
        print(f"{a.output}  {lf.file_size} bytes  {lf.saved_pages} pages ({lf.zero_pages} zero)  "
              f"{lf.codec} era {lf.era}  ratio {lf.compression_ratio:.2f}  "
              f"crc32 {lf.stream_crc32:#010x}  {lf.seconds_to_write:.1f} s")
        return 0
    if a.list:
        for k, v in VARIANTS.items():
            def show(x):
                big = isinstance(x, int) and not isinstance(x, bool) and x > 4096
                return hex(x) if big else repr(x)
            opts = ", ".join(f"{o}={show(x)}" for o, x in sorted(v.items()))
            print(f"{k:26s} {DESCRIPTIONS.get(k, '')}\n{'':26s}   [{opts}]")
        return 0
    if a.isf:
        os.makedirs(a.isf, exist_ok=True)
        p = write_isf(os.path.join(a.isf, synthkernel.isf_filename()))
        print(p)
    if a.all:
        os.makedirs(a.all, exist_ok=True)
        for name in VARIANTS:
            m, facts, path = make_variant(name, a.all)
            with open(os.path.join(a.all, f"{name}.json"), "w") as f:
                json.dump(asdict(facts), f, indent=1, sort_keys=True)
            print(f"{path}  {facts.file_size} bytes")
        return 0
    if a.variant:
        if not a.output:
            ap.error("-o is required")
        mo, io = split_options(VARIANTS[a.variant])
        facts = write_image(get_machine(**mo), a.output, variant=a.variant, **io)
        if a.facts:
            with open(a.facts, "w") as f:
                json.dump(asdict(facts), f, indent=1, sort_keys=True)
        print(f"{a.output}  {facts.file_size} bytes")
        return 0
    if not a.isf:
        ap.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
