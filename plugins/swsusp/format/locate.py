"""Where the swap area and its header page lie inside the input (docs/format.md §1, §12.1).

Inputs analysts hold:
  * a swap partition image: header at block 0, blocks count from the file start;
  * a filesystem partition holding a swap file: header at the kernel's `resume_offset`
    block, every pointer a block of that partition (found by scanning when not given);
  * a whole disk with an MBR or GPT: the same, counted from a partition's start;
  * a swap file copied out of its filesystem: header at 0, pointers still count from the
    filesystem's start, so they are rebased by the file's own first block (a contiguous
    copy), or placed by the file's extents (`filefrag -v`, a fragmented one).
"""

import logging
import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from .errors import NotAnImageError, SwsuspFormatError
from .header import ALL_SIGS, HIBERNATE_SIG, USWSUSP_SIG
from .source import Run, data_runs
from .structs import PAGE_SIZE, SIG_LEN, SIG_OFFSET

log = logging.getLogger(__name__)

SECTOR = 512
MBR_SIGNATURE = b"\x55\xaa"
MBR_ENTRY = struct.Struct("<B3sB3sII")  # status, chs, type, chs, first LBA, sectors
MBR_PROTECTIVE = 0xEE
MBR_EXTENDED = (0x05, 0x0F, 0x85)
GPT_SIGNATURE = b"EFI PART"
# signature, revision, header_size, header_crc32, reserved, my_lba, alternate_lba, first and
# last usable LBA, disk GUID, partition entries LBA, entry count, entry size, entries CRC32
GPT_HEADER = struct.Struct("<8sIIIIQQQQ16sQIII")
GPT_HEADER_CRC = 16  # offset of header_crc32, zero while the CRC is computed
MAX_GPT_ENTRIES = 1024
SCAN_CHUNK = 16 << 20  # bytes read at once by a scan (what a scan holds)
MAX_SCAN_HITS = 256  # header-like pages a scan yields before it stops (each try is ~1 ms)
IMAGE_SIGS = (HIBERNATE_SIG, USWSUSP_SIG)  # a scan yields these at once; swap signatures after


@dataclass(frozen=True)
class Partition:
    offset: int  # bytes from the start of the input
    size: int  # bytes
    name: str  # e.g. "whole file", "MBR partition 2 (type 0x82)"

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class Location:
    """One place an image header may be: a partition and a block inside it."""

    partition: Partition
    resume_offset: int  # header block, counted from the partition start
    block_base: int = 0  # block number found at the partition's first byte (copied swap file)
    how: str = "header at block 0"
    # a swap file copied out with its extents (first file page, pages, first filesystem
    # block): device block b is the copy's page of b (swap_area.SwapArea), in any order
    extents: Tuple[Tuple[int, int, int], ...] = ()

    @property
    def header_offset(self) -> int:
        return self.partition.offset + (self.resume_offset - self.block_base) * PAGE_SIZE


@dataclass(frozen=True)
class PartitionTable:
    partitions: List[Partition]
    warning: Optional[str] = None  # e.g. the primary GPT is damaged and the backup was read


def partitions(source) -> List[Partition]:
    """The partitions of an MBR or GPT disk image (empty if there is no table)."""
    return partition_table(source).partitions


def partition_table(source) -> PartitionTable:
    """The partitions of an MBR or GPT disk image, each start once: a table whose entries
    repeat a partition (hostile or damaged) costs one visit, not one per entry."""
    sector0 = source.read(0, SECTOR)
    if len(sector0) < SECTOR or sector0[510:512] != MBR_SIGNATURE:
        return PartitionTable([])
    entries = [MBR_ENTRY.unpack_from(sector0, 446 + 16 * i) for i in range(4)]
    if any(e[2] == MBR_PROTECTIVE for e in entries):
        gpt = _gpt_partitions(source)
        if gpt.partitions:
            return gpt
    found = []
    for i, (_status, _chs, ptype, _chs2, lba, count) in enumerate(entries, 1):
        if ptype and ptype not in MBR_EXTENDED and ptype != MBR_PROTECTIVE and count:
            found.append(_clip(source, lba * SECTOR, count * SECTOR, f"MBR partition {i} (type {ptype:#04x})"))
    return PartitionTable(_distinct(found))


@dataclass(frozen=True)
class _Gpt:
    """One GPT header and its entries, as read (problem: why it is not to be trusted)."""

    where: int  # file offset of the header
    partitions: List[Partition]
    problem: Optional[str]


def _gpt_partitions(source) -> PartitionTable:
    """The primary GPT (LBA 1); when its header or entries CRC32 fails, the backup GPT at
    the disk's last LBA (as the kernel's efi_partition() does), with a warning."""
    primary = _read_gpt(source, 1, "")
    if primary.partitions and primary.problem is None:
        return PartitionTable(primary.partitions)
    last_lba = source.size // SECTOR - 1
    backup = _read_gpt(source, last_lba, " of the backup GPT") if last_lba > 1 else None
    if backup is not None and backup.partitions and backup.problem is None:
        why = primary.problem or "holds no partition"
        return PartitionTable(backup.partitions,
                              f"primary GPT damaged ({why}, at file offset {primary.where:#x}): partitions "
                              f"read from the backup GPT at file offset {backup.where:#x}")
    if primary.partitions:  # both damaged: the primary's entries are still the best guess
        return PartitionTable(primary.partitions, f"GPT damaged ({primary.problem}, at file offset "
                                                  f"{primary.where:#x}) and no intact backup: its entries read anyway")
    return PartitionTable([])


def _read_gpt(source, lba: int, which: str) -> _Gpt:
    where = lba * SECTOR
    header = source.read(where, SECTOR)
    if len(header) < GPT_HEADER.size or header[:8] != GPT_SIGNATURE:
        return _Gpt(where, [], "no EFI PART signature")
    (_sig, _rev, header_size, header_crc, _res, _my, _alt, _first, _last, _guid, entries_lba, count, entry_size,
     entries_crc) = GPT_HEADER.unpack_from(header)
    if not 128 <= entry_size <= 4096 or count > MAX_GPT_ENTRIES:
        return _Gpt(where, [], f"entry size {entry_size} or count {count} out of range")
    problems = []
    if not GPT_HEADER.size <= header_size <= SECTOR:
        problems.append(f"header size {header_size}")
    else:
        crc_input = header[:GPT_HEADER_CRC] + bytes(4) + header[GPT_HEADER_CRC + 4 : header_size]
        if zlib.crc32(crc_input) != header_crc:
            problems.append("header CRC32 mismatch")
    table = source.read(entries_lba * SECTOR, count * entry_size)
    if len(table) != count * entry_size or zlib.crc32(table) != entries_crc:
        problems.append("partition entries CRC32 mismatch")
    found = []
    for i in range(len(table) // entry_size):
        entry = table[i * entry_size : (i + 1) * entry_size]
        type_guid = uuid.UUID(bytes_le=bytes(entry[:16]))
        first, last = struct.unpack_from("<QQ", entry, 32)
        if type_guid.int and last >= first:
            found.append(_clip(source, first * SECTOR, (last - first + 1) * SECTOR,
                               f"GPT partition {i + 1}{which} ({type_guid})"))
    return _Gpt(where, _distinct(found), "; ".join(problems) or None)


def _clip(source, offset: int, size: int, name: str) -> Optional[Partition]:
    if offset >= source.size:
        return None
    return Partition(offset, min(size, source.size - offset), name)


def _distinct(found: List[Optional[Partition]]) -> List[Partition]:
    """One partition per start offset (the largest: the same blocks, counted from the same
    start), in table order."""
    by_start: Dict[int, Partition] = {}
    for part in found:
        if part is not None and (part.offset not in by_start or part.size > by_start[part.offset].size):
            by_start[part.offset] = part
    return list(by_start.values())


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
    with "all" every region, with "none" nothing.

    Bounded by the evidence, not the input's apparent size: a region whose block 0 holds a
    swap or hibernation signature is a swap area (its header is slot 0; signature-like pages
    inside it are swapped-out data), so it is not scanned; every byte is scanned at most
    once, in one pass for all signatures, skipping a sparse file's holes; and a scan stops
    after MAX_SCAN_HITS header-like pages."""
    table = partition_table(source)
    if table.warning:
        log.warning(table.warning)
    parts = table.partitions
    whole = Partition(0, source.size, "whole file")
    if partition is not None:
        if not 1 <= partition <= len(parts):
            raise NotAnImageError(f"partition {partition} not found (the input has {len(parts)})", 0)
        regions = [parts[partition - 1]]
    else:
        regions = parts + [whole]
    if resume_offset is not None:
        yield from _at_resume_offset(regions, resume_offset)
        return
    decided = [region for region in regions if has_signature(source, region.offset)]
    for region in decided:
        yield Location(region, 0, how=f"header at block 0 of {region.name}")
    scanned: List[Run] = [(r.offset, r.end) for r in decided]
    if whole not in decided:  # the table's partitions are regions of their own
        scanned += [(p.offset, p.end) for p in parts if partition is None]
    hits = 0
    for region in regions:
        if region in decided or not _scanned_by_policy(source, region, region in parts, scan):
            continue
        todo = _subtract((region.offset + PAGE_SIZE, region.end), scanned)
        for location in _scan(source, region, todo, MAX_SCAN_HITS - hits):
            hits += 1
            yield location
        if hits >= MAX_SCAN_HITS:
            log.warning(f"{hits} header-like pages found by scanning, the rest not looked at: give the "
                        "kernel's resume_offset to open the one that holds the image")
            return
        scanned.append((region.offset, region.end))


def _at_resume_offset(regions: List[Partition], resume_offset: int) -> Iterator[Location]:
    """The header at `resume_offset` in each region large enough to hold it."""
    if resume_offset < 0:
        raise SwsuspFormatError(f"resume_offset {resume_offset} is negative: it is the 4 KiB block of the swap "
                                "header in its partition (0 for a swap partition)")
    fitting = [r for r in regions if (resume_offset + 1) * PAGE_SIZE <= r.size]
    if not fitting:
        largest = max(regions, key=lambda r: r.size)
        raise SwsuspFormatError(f"resume_offset {resume_offset} is beyond the end of the input: {largest.name} "
                                f"holds blocks 0-{largest.size // PAGE_SIZE - 1}", largest.offset)
    for region in fitting:
        yield Location(region, resume_offset, how=f"resume_offset={resume_offset} in {region.name}")


def _scanned_by_policy(source, region: Partition, is_partition: bool, scan: str) -> bool:
    return scan == "all" or (scan == "auto" and (is_partition or looks_like_filesystem(source, region.offset)))


def _subtract(span: Run, done: List[Run]) -> List[Run]:
    """`span` without the ranges in `done`."""
    todo = [span]
    for lo, hi in done:
        todo = [piece for a, b in todo for piece in ((a, min(b, lo)), (max(a, hi), b)) if piece[0] < piece[1]]
    return todo


def _scan(source, region: Partition, spans: List[Run], limit: int) -> Iterator[Location]:
    """Header pages in `spans` of the region (a swap file inside a filesystem), at most
    `limit`: image signatures as they are found, swap signatures (a consumed image's
    header, or a plain swap file) after the pass."""
    later: List[int] = []
    found = 0
    for offset, sig in _header_pages(source, region.offset, spans):
        block = (offset - region.offset) // PAGE_SIZE
        if sig not in IMAGE_SIGS:
            if len(later) < limit:
                later.append(block)
            continue
        yield Location(region, block, how=f"header found by scanning at block {block} of {region.name}")
        found += 1
        if found >= limit:
            return
    for block in later[: limit - found]:
        yield Location(region, block, how=f"header found by scanning at block {block} of {region.name}")


_SIG_FIRST_BYTES = sorted({sig[:1] for sig in ALL_SIGS})


def _header_pages(source, base: int, spans: List[Run]) -> Iterator[Tuple[int, bytes]]:
    """(page offset, signature) of every page, counted from `base`, whose bytes at
    SIG_OFFSET are a signature: one read of each data run, holes skipped."""
    done = base  # pages before this one were looked at (two data runs may share a page)
    for span_lo, span_hi in spans:
        for lo, hi in data_runs(source, span_lo, span_hi):
            pos = max(done, base + (lo - base) // PAGE_SIZE * PAGE_SIZE)  # the page holding lo
            while pos < hi:
                data = source.read(pos, min(SCAN_CHUNK, hi - pos + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE)
                if not data:
                    break
                yield from _signatures_in(data, pos)
                pos += len(data)
            done = max(done, pos)


def _signatures_in(data: bytes, pos: int) -> Iterator[Tuple[int, bytes]]:
    marks = data[SIG_OFFSET::PAGE_SIZE]  # the first signature byte of every page
    pages: List[int] = []
    for first in _SIG_FIRST_BYTES:
        at = marks.find(first)
        while at >= 0:
            pages.append(at)
            at = marks.find(first, at + 1)
    for page in sorted(pages):
        at = page * PAGE_SIZE + SIG_OFFSET
        sig = data[at : at + SIG_LEN]
        if sig in ALL_SIGS:
            yield pos + page * PAGE_SIZE, sig


def copied_with_extents(source, extents) -> Location:
    """A swap file copied out of its filesystem, placed by its extents (`filefrag -v`): its
    header is the copy's first page, and the kernel's resume_offset the block of that page."""
    first_block = extents[0][2]
    return Location(Partition(0, source.size, "whole file"), first_block, first_block,
                    f"swap file copied out of its filesystem, placed by its {len(extents)} extent(s)",
                    tuple(tuple(e) for e in extents))


def rebased(location: Location, block_base: int) -> Location:
    """The same header read as a copied swap file whose first block is `block_base`."""
    return Location(location.partition, location.resume_offset + block_base, block_base,
                    f"swap file copied out of its filesystem, first block {block_base}")
