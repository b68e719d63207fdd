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

API: :func:`build_machine`, :func:`write_image` -> :class:`Facts`, :data:`VARIANTS`,
:func:`make_variant`, :func:`write_isf`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import struct
import sys
import uuid as uuidlib
import zlib
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

if __package__ in (None, ""):                       # run as a script: python samples/swsusp_gen.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from samples import synthkernel  # noqa: E402
    from samples.synthkernel import Machine, build_machine  # noqa: E402
else:
    from . import synthkernel
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
    page_offset: int            # era's direct-map base default (for the VARIANTS' machines)
    kaslr: bool                 # era has KASLR (text 3.14+, memory 4.8+)


def _vc(a, b, c):
    return a * 65536 + b * 256 + c


ERAS: Dict[str, Era] = {e.name: e for e in [
    Era("2.6.16", "C", "va", None, _vc(2, 6, 16), True, False, False, False, False, False, False,
        synthkernel.PAGE_OFFSET_2_6_16, False),
    Era("2.6.20", "B", "pfn", None, _vc(2, 6, 20), True, False, False, False, False, False, True,
        synthkernel.PAGE_OFFSET_2_6_16, False),
    Era("2.6.23", "A", "pfn", None, _vc(2, 6, 23), True, False, False, False, False, False, True,
        synthkernel.PAGE_OFFSET_2_6_16, False),
    Era("2.6.24", "A", "pfn", "cdef", 0, False, False, False, False, False, False, True,
        synthkernel.PAGE_OFFSET_2_6_16, False),
    Era("2.6.37", "A", "pfn", "cdef", 0, False, True, False, False, False, False, True,
        synthkernel.PAGE_OFFSET_2_6_27, False),
    Era("3.2", "A", "pfn", "cdef", 0, False, True, True, False, False, False, True,
        synthkernel.PAGE_OFFSET_2_6_27, False),
    Era("4.9", "A", "pfn", "def0", 0, False, True, True, False, False, False, True,
        synthkernel.PAGE_OFFSET_2_6_27, True),
    Era("4.12", "A", "pfn", "f01", 0, False, True, True, False, False, False, True,
        synthkernel.PAGE_OFFSET_2_6_27, True),
    Era("5.12", "A", "pfn", "f02", 0, False, True, True, False, False, False, True,
        synthkernel.PAGE_OFFSET_L4, True),
    Era("5.17", "A", "pfn", "f02", 0, False, True, True, True, False, False, True,
        synthkernel.PAGE_OFFSET_L4, True),
    Era("6.1", "A", "pfn", "f02", 0, False, True, True, True, False, False, True,
        synthkernel.PAGE_OFFSET_L4, True),
    Era("6.6", "A", "pfn", "f02", 0, False, True, True, True, True, False, True,
        synthkernel.PAGE_OFFSET_L4, True),
    Era("6.9", "A", "pfn", "f02", 0, False, True, True, True, True, True, True,
        synthkernel.PAGE_OFFSET_L4, True),
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


def lzo_compress(data: bytes) -> bytes:
    import lzallright
    return lzallright.LZOCompressor().compress(data)


def lz4_compress(data: bytes) -> bytes:
    import lz4.block
    return lz4.block.compress(data, store_size=False)


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
        version_code, cpus = era.version_code or _vc(6, 1, 0), (m.cpus if era.cpus_written else 0)
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


def junk_page(rng: random.Random, i: int) -> bytes:
    """A "swapped-out" anonymous page or filesystem block: text, pointers or random bytes."""
    r = rng.random()
    if r < 0.4:
        return synthkernel.text_page(rng, 0x100000 + i)
    if r < 0.7:
        return synthkernel.struct_page(rng, 0x100000 + i)
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
                hw_sig: Optional[int] = None, platform: bool = False, stale: bool = False,
                pfn_order: str = "ascending", swap_type: int = 1, slack_blocks: int = 24,
                seed: int = 0, variant: Optional[str] = None) -> Facts:
    """Write one hibernation image of ``machine`` to ``path`` and return its :class:`Facts`.

    era        kernel generation (see ERAS): header layout, PFN-list form, arch record, flags.
    codec      "none" | "lzo" | "lz4"; default: "lzo" from 2.6.37 on, else "none".
    container  "partition" | "swapfile" | "mbr" | "gpt" | "swapfile-copy".
    map_start  swap block of the first map page; blocks 1..map_start-1 hold swapped-out junk.
    scatter    allocate map and stream blocks in a shuffled (non-ascending) order.
    consumed   reset sig to orig_sig (SWAPSPACE2) as a resume attempt does (spec §2.4).
    uswsusp    write an s2disk image (ULSUSPEND, spec §11) instead; codec "none" | "lzo".
    record     arch record "cdef"|"def0"|"f01"|"f02"|None(=uts form); "auto" = era default.
    hw_sig     ACPI FACS signature (5.17+): sets SF_HW_SIG.  platform: SF_PLATFORM_MODE.
    stale      put stale values into crc32/hw_sig when their flag is clear (layout A).
    pfn_order  "ascending" (bitmap walk) | "shuffled".
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
                   slack_blocks=slack_blocks, seed=seed)
    rng = random.Random("swsusp-image:" + json.dumps(options, sort_keys=True)
                        + f":{machine.opts.get('seed')}")

    stream, sf = build_stream(machine, e, record, pfn_order, rng)
    unc = stream[1:]
    U = b"".join(unc)
    if uswsusp:
        from . import uswsusp_gen  # noqa: F401  (written below in this package)
        raise NotImplementedError
    if codec == "none":
        stored, blocks = unc, []
    else:
        stored, blocks = compress_stream(unc, codec, rng)
    on_disk = [stream[0]] + stored

    # flags / crc / hw_sig (spec §2.3)
    flags: Optional[int] = None
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
    n_needed = len(on_disk) + len(on_disk) // MAP_PAGE_ENTRIES + 2
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
        slot = iter(range(map_start, file_pages))

        def alloc():
            return fmap[next(slot)]
        for s in range(1, map_start):
            area.put(fmap[s], junk_page(rng, s))
    else:
        resume_offset = 0
        last_page = map_start + n_needed + slack_blocks
        part_blocks = last_page + 1
        fmap = None
        pool = list(range(map_start, last_page + 1))
        if scatter:
            # runs of 1..8 blocks in shuffled order (as a fragmented swap allocator would)
            chunks, i = [], 0
            while i < len(pool):
                k = rng.randint(1, 8)
                chunks.append(pool[i:i + k])
                i += k
            rng.shuffle(chunks)
            pool = [b for c in chunks for b in c]
        it = iter(pool)

        def alloc():
            return next(it)
        for s in range(1, map_start):
            area.put(s, junk_page(rng, s))

    first_map, maps, sblocks = write_chain(area, on_disk, alloc)

    # ---- header page (mark_swapfiles: read-modify-write of the mkswap page) ---------------
    hdr = mkswap_page(last_page, rng, b"synthswap")
    orig = bytes(hdr[4086:4096])
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
        disk_sectors = swap_lba + swap_len + 2048        # 1 MiB tail (backup GPT fits)
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
        variant=variant, path=str(path), file_size=len(out), era=era, kind="swsusp",
        container=container, partition_offset=partition_offset, partition_blocks=part_blocks,
        resume_offset=resume_offset, header_file_offset=partition_offset + resume_offset * PAGE,
        layout=e.layout, sig=bytes(hdr[4086:4096]).decode("latin-1"),
        orig_sig=bytes(hdr[4076:4086]).decode("latin-1"), consumed=consumed,
        last_page=last_page, image_field=image_field, image_block=first_map,
        swap_type=swap_type if e.layout == "C" else None, flags=flags, crc32=crc,
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
        machine=machine_summary(machine), options=options)


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
                "saved", "incompressible", "seed", "cpus"}


def _old(**kw):
    """Machine options matching an old era: fixed page offset, no KASLR."""
    return dict(kaslr=False, **kw)


VARIANTS: Dict[str, dict] = {
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
    "era-4.9": dict(era="4.9", page_offset=None, ram_mib=512),
    "era-4.12": dict(era="4.12"),
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
    # userspace s2disk
    "uswsusp-none": dict(era="6.1", uswsusp=True, codec="none"),
    "uswsusp-lzo": dict(era="6.1", uswsusp=True, codec="lzo"),
}

_MACHINES: Dict[tuple, Machine] = {}


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
    facts = write_image(m, path, variant=name, **io)
    return m, facts, path


write_isf = synthkernel.write_isf


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variant", nargs="?", help="variant name (see --list)")
    ap.add_argument("-o", "--output", help="output image path")
    ap.add_argument("--facts", help="also write the Facts as JSON here")
    ap.add_argument("--list", action="store_true", help="list variants")
    ap.add_argument("--all", metavar="DIR", help="write every variant (+ .json facts) into DIR")
    ap.add_argument("--isf", metavar="DIR", help="write the synthetic kernel's ISF into DIR")
    a = ap.parse_args(argv)
    if a.list:
        for k, v in VARIANTS.items():
            print(f"{k:24s} {json.dumps(v, sort_keys=True)}")
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
