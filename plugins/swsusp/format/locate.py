"""Where the swap area and its header page lie inside the input (docs/format.md §1, §12.1).

Inputs analysts hold:
  * a swap partition image: header at block 0, blocks count from the file start;
  * a filesystem partition holding a swap file: header at the kernel's `resume_offset`
    block, every pointer a block of that partition (found by scanning when not given);
  * a whole disk with an MBR or GPT: the same, counted from a partition's start;
  * a swap file copied out of its filesystem: header at 0, pointers still count from the
    filesystem's start, so they are rebased by the file's own first block.
"""

import struct
import uuid
from dataclasses import dataclass
from typing import Iterator, List, Optional

from .errors import NotAnImageError
from .header import ALL_SIGS, HIBERNATE_SIG, SWAP_SIGS, USWSUSP_SIG
from .structs import PAGE_SIZE, SIG_LEN, SIG_OFFSET

SECTOR = 512
MBR_SIGNATURE = b"\x55\xaa"
MBR_ENTRY = struct.Struct("<B3sB3sII")  # status, chs, type, chs, first LBA, sectors
MBR_PROTECTIVE = 0xEE
MBR_EXTENDED = (0x05, 0x0F, 0x85)
GPT_SIGNATURE = b"EFI PART"
GPT_HEADER = struct.Struct("<8sIIIIQQQQ16sQII")
MAX_GPT_ENTRIES = 1024
SCAN_CHUNK = 64 << 20


@dataclass(frozen=True)
class Partition:
    offset: int  # bytes from the start of the input
    size: int  # bytes
    name: str  # e.g. "whole file", "MBR partition 2 (type 0x82)"


@dataclass(frozen=True)
class Location:
    """One place an image header may be: a partition and a block inside it."""

    partition: Partition
    resume_offset: int  # header block, counted from the partition start
    block_base: int = 0  # block number found at the partition's first byte (copied swap file)
    how: str = "header at block 0"

    @property
    def header_offset(self) -> int:
        return self.partition.offset + (self.resume_offset - self.block_base) * PAGE_SIZE


def partitions(source) -> List[Partition]:
    """The partitions of an MBR or GPT disk image (empty if there is no table)."""
    sector0 = source.read(0, SECTOR)
    if len(sector0) < SECTOR or sector0[510:512] != MBR_SIGNATURE:
        return []
    entries = [MBR_ENTRY.unpack_from(sector0, 446 + 16 * i) for i in range(4)]
    if any(e[2] == MBR_PROTECTIVE for e in entries):
        gpt = _gpt_partitions(source)
        if gpt:
            return gpt
    found = []
    for i, (_status, _chs, ptype, _chs2, lba, count) in enumerate(entries, 1):
        if ptype and ptype not in MBR_EXTENDED and ptype != MBR_PROTECTIVE and count:
            part = _clip(source, lba * SECTOR, count * SECTOR, f"MBR partition {i} (type {ptype:#04x})")
            if part:
                found.append(part)
    return found


def _gpt_partitions(source) -> List[Partition]:
    header = source.read(SECTOR, GPT_HEADER.size)
    if len(header) < GPT_HEADER.size or header[:8] != GPT_SIGNATURE:
        return []
    fields = GPT_HEADER.unpack(header)
    entries_lba, count, entry_size = fields[10], fields[11], fields[12]
    if not 128 <= entry_size <= 4096 or count > MAX_GPT_ENTRIES:
        return []
    table = source.read(entries_lba * SECTOR, count * entry_size)
    found = []
    for i in range(len(table) // entry_size):
        entry = table[i * entry_size : (i + 1) * entry_size]
        type_guid = uuid.UUID(bytes_le=bytes(entry[:16]))
        first, last = struct.unpack_from("<QQ", entry, 32)
        if type_guid.int and last >= first:
            part = _clip(source, first * SECTOR, (last - first + 1) * SECTOR, f"GPT partition {i + 1} ({type_guid})")
            if part:
                found.append(part)
    return found


def _clip(source, offset: int, size: int, name: str) -> Optional[Partition]:
    if offset >= source.size:
        return None
    return Partition(offset, min(size, source.size - offset), name)


def has_signature(source, header_offset: int) -> bool:
    return source.read(header_offset + SIG_OFFSET, SIG_LEN) in ALL_SIGS


FS_MAGICS = (  # (offset, magic): filesystems Linux keeps swap files on
    (1080, b"\x53\xef"),  # ext2/3/4 s_magic
    (0, b"XFSB"),
    (0x10040, b"_BHRfS_M"),  # btrfs
    (1024, b"\x10\x20\xf5\xf2"),  # f2fs
)


def looks_like_filesystem(source, offset: int) -> bool:
    return any(source.read(offset + at, len(magic)) == magic for at, magic in FS_MAGICS)


def candidates(
    source, resume_offset: Optional[int] = None, partition: Optional[int] = None, scan: str = "auto"
) -> Iterator[Location]:
    """Places to try, most likely first.  Scanning happens only when nothing simpler fits:
    with scan="auto" only partitions and filesystems are scanned (never a raw RAM dump),
    with "all" every region, with "none" nothing."""
    whole = Partition(0, source.size, "whole file")
    parts = partitions(source)
    if partition is not None:
        if not 1 <= partition <= len(parts):
            raise NotAnImageError(f"partition {partition} not found (the input has {len(parts)})", 0)
        regions = [parts[partition - 1]]
    else:
        regions = parts + [whole]
    if resume_offset is not None:
        for region in regions:
            yield Location(region, resume_offset, how=f"resume_offset={resume_offset} in {region.name}")
        return
    for region in regions:
        if has_signature(source, region.offset):
            yield Location(region, 0, how=f"header at block 0 of {region.name}")
    for region in regions:
        if scan == "all" or (scan == "auto" and (region in parts or looks_like_filesystem(source, region.offset))):
            yield from _scan(source, region)


def _scan(source, region: Partition) -> Iterator[Location]:
    """Header pages anywhere in the region (a swap file inside a filesystem)."""
    end = region.offset + region.size
    for sig in (HIBERNATE_SIG, USWSUSP_SIG) + SWAP_SIGS:
        pos = region.offset + PAGE_SIZE + SIG_OFFSET
        while pos < end:
            hit = source.find(sig, pos, min(end, pos + SCAN_CHUNK + len(sig)))
            if hit < 0:
                pos += SCAN_CHUNK
                continue
            rel = hit - region.offset - SIG_OFFSET
            if rel % PAGE_SIZE == 0:
                block = rel // PAGE_SIZE
                yield Location(region, block, how=f"header found by scanning at block {block} of {region.name}")
            pos = hit + 1


def rebased(location: Location, block_base: int) -> Location:
    """The same header read as a copied swap file whose first block is `block_base`."""
    return Location(location.partition, location.resume_offset + block_base, block_base,
                    f"swap file copied out of its filesystem, first block {block_base}")
