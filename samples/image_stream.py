"""The kernel's image stream (docs/format.md §4, §5): swsusp_info page, PFN list pages, data pages, and
their compressed on-disk form (32-page blocks) with the CRC32 of the uncompressed stream.

kernel/power/snapshot.c makes the stream (init_header, pack_pfns, snapshot_read_next);
kernel/power/swap.c compresses it (save_compressed_image).  The arch record of the info page
is arch/x86/power/hibernate.c's restore_data_record.
"""
from __future__ import annotations

import hashlib
import random
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .eras import (
    BM_END_OF_MAP,
    ENCODED_PFN_ZERO_FLAG,
    LZO_WORST,
    PAGE,
    PAGE_OFFSET_2_6_16,
    RESTORE_MAGIC,
    UNC_PAGES,
    Era,
)

if TYPE_CHECKING:
    from .synthkernel import Machine


class SavedMachine(Protocol):
    """What the info page says about the machine (a :class:`~samples.synthkernel.Machine` or
    the large images' record)."""
    jump_address: int
    jump_address_phys: int
    cr3_record: int
    e820: list[tuple[int, int, int]]
    num_physpages: int
    release: str
    cpus: int


@dataclass
class StreamFacts:
    """What the stream holds, besides its pages (Facts fields of the same names)."""
    pfn_entries: list[int]          # raw u64 PFN-list entries (VA form / bit-63 as written)
    pfns: list[int]                 # PFN order of the list
    data_pfns: list[int]            # PFNs with a data page, in data-page order
    zero_pfns: list[int]            # PFNs encoded with bit 63 (6.6+)
    meta_pages: int                 # PFN list pages
    info: dict[str, object]         # swsusp_info fields as written
    record_fields: dict[str, object]  # the restore_data_record's fields


def crc32_le(seed: int, data: bytes) -> int:
    """Kernel crc32_le(seed, data): reflected 0xEDB88320, no pre/post inversion (docs/format.md §5.3)."""
    return zlib.crc32(data, seed ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def e820_bytes(e820) -> bytes:
    """The e820 table as the restore record's checksum covers it (nr_entries, then entries)."""
    return struct.pack("<I", len(e820)) + b"".join(struct.pack("<QQI", a, s, t) for a, s, t in e820)


# ---------------------------------------------------------------------------------------------
# compressors (deterministic, memoised: many variants share blocks)
_COMPRESSED: dict[tuple[str, bytes], bytes] = {}


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
# swsusp_info (entry 0 of the stream)
def utsname(release: str) -> bytes:
    """struct new_utsname (6 fields of 65 bytes): the info page of pre-2.6.24 kernels."""
    fields = [b"Linux", b"synth-host", release.encode(),
              b"#1 SMP PREEMPT_DYNAMIC Debian 6.1.0-synthetic (2025-01-01)", b"x86_64", b"(none)"]
    return b"".join(f[:64].ljust(65, b"\0") for f in fields)


def restore_data_record(m: SavedMachine, record: str) -> tuple[bytes, dict[str, object]]:
    """arch_hibernation_header_save(): the record at the start of the info page, by magic
    (cdef: jump, cr3; def0: + jump_address_phys; f01: + MD5 of e820; f02: + CRC32 of e820)."""
    magic = RESTORE_MAGIC[record]
    if record == "cdef":
        return (struct.pack("<QQQ", m.jump_address, m.cr3_record, magic),
                {"jump_address": m.jump_address, "cr3": m.cr3_record, "magic": magic})
    rec = struct.pack("<QQQQ", m.jump_address, m.jump_address_phys, m.cr3_record, magic)
    fields: dict[str, object] = {"jump_address": m.jump_address,
                                 "jump_address_phys": m.jump_address_phys,
                                 "cr3": m.cr3_record, "magic": magic}
    if record == "f01":
        digest = hashlib.md5(e820_bytes(m.e820)).digest()
        rec += digest
        fields["e820_digest"] = digest.hex()
    elif record == "f02":
        crc = zlib.crc32(e820_bytes(m.e820))
        rec += struct.pack("<Q", crc)
        fields["e820_checksum"] = crc
    return rec, fields


def build_info_page(m: SavedMachine, era: Era, record: str | None, image_pages: int,
                    pages: int) -> tuple[bytes, dict[str, object], dict[str, object]]:
    """init_header(): struct swsusp_info as one page -> (page, its fields, record fields).
    ``record`` None: the utsname form of pre-2.6.24 kernels."""
    info = bytearray(PAGE)
    rec_fields: dict[str, object] = {}
    if record is None:
        head = utsname(m.release)
        version_code, cpus = era.linux_version_code, (m.cpus if era.cpus_written else 0)
    else:
        head, rec_fields = restore_data_record(m, record)
        version_code, cpus = 0, 0
    info[0:len(head)] = head
    struct.pack_into("<I", info, 392, version_code)
    struct.pack_into("<Q", info, 400, m.num_physpages)
    struct.pack_into("<i", info, 408, cpus)
    struct.pack_into("<QQQ", info, 416, image_pages, pages, pages * PAGE)
    fields: dict[str, object] = {"version_code": version_code, "num_physpages": m.num_physpages, "cpus": cpus,
              "image_pages": image_pages, "pages": pages, "size": pages * PAGE,
              "uts_release": m.release if record is None else None}
    return bytes(info), fields, rec_fields


# ---------------------------------------------------------------------------------------------
# the PFN list (pack_pfns) and the whole stream
def pfn_entries(pages: dict[int, bytes], era: Era,
                pfns: list[int]) -> tuple[list[int], list[int], list[int]]:
    """The PFN list as the era writes it -> (entries, data_pfns, zero_pfns): an entry is the
    PFN (2.6.19+), a direct-map VA (2.6.16-18) or PFN | 1 << 63 for a zero page (6.6+)."""
    entries: list[int] = []
    data_pfns: list[int] = []
    zero_pfns: list[int] = []
    for pfn in pfns:
        if era.zero_pages and not any(pages[pfn]):
            entries.append(pfn | ENCODED_PFN_ZERO_FLAG)
            zero_pfns.append(pfn)
            continue
        entries.append(PAGE_OFFSET_2_6_16 + pfn * PAGE if era.pfn_form == "va" else pfn)
        data_pfns.append(pfn)
    return entries, data_pfns, zero_pfns


def pfn_list_pages(entries: list[int], era: Era) -> list[bytes]:
    """The meta pages holding ``entries``: ~0 ends a list that does not fill its last page
    (2.6.19+); the 2.6.16 list ends in the zero padding."""
    meta = b"".join(struct.pack("<Q", e) for e in entries)
    if era.pfn_form == "pfn" and len(entries) % (PAGE // 8):
        meta += struct.pack("<Q", BM_END_OF_MAP)        # written only if the page is not full
    meta += bytes(-len(meta) % PAGE)
    return [meta[i:i + PAGE] for i in range(0, len(meta), PAGE)]


def build_stream(m: Machine, era: Era, record: str | None, pfn_order: str,
                 rng: random.Random) -> tuple[list[bytes], StreamFacts]:
    """The stream of ``m``'s saved pages: [info page, PFN list pages..., data pages...]."""
    pfns = sorted(m.pages)
    if pfn_order == "shuffled":
        rng.shuffle(pfns)
    entries, data_pfns, zero_pfns = pfn_entries(m.pages, era, pfns)
    data = [m.pages[pfn] for pfn in data_pfns]
    meta_pages = pfn_list_pages(entries, era)
    n, mcount = len(data), len(meta_pages)
    assert mcount == -(-len(entries) * 8 // PAGE)
    pages = 1 + mcount + n
    info, info_fields, rec_fields = build_info_page(m, era, record, n, pages)
    return [info, *meta_pages, *data], StreamFacts(entries, pfns, data_pfns, zero_pfns, mcount,
                                                    info_fields, rec_fields)


def compress_stream(unc: list[bytes], codec: str,
                    rng: random.Random) -> tuple[list[bytes], list[dict[str, int]]]:
    """Kernel compressed layout (docs/format.md §5.2): 32-page blocks, u64 cmp_len + data, padded with
    garbage to a page.  Returns (stored pages, block descriptions)."""
    comp = lzo_compress if codec == "lzo" else lz4_compress
    out: list[bytes] = []
    blocks: list[dict[str, int]] = []
    for i in range(0, len(unc), UNC_PAGES):
        chunk = b"".join(unc[i:i + UNC_PAGES])
        c = comp(chunk)
        assert 0 < len(c) <= LZO_WORST + 2, len(c)
        rec = struct.pack("<Q", len(c)) + c
        rec += rng.randbytes(-len(rec) % PAGE)            # stale buffer contents
        blocks.append({"first_entry": 1 + len(out), "stored_pages": len(rec) // PAGE,
                       "unc_pages": len(chunk) // PAGE, "cmp_len": len(c)})
        out += [rec[j:j + PAGE] for j in range(0, len(rec), PAGE)]
    return out, blocks
