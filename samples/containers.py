"""Where a hibernation image lives: the swap area and what holds it.

* :class:`SwapArea` -- the swap area as a block-addressed device image, with the swap slot
  allocator the writers take blocks from (get_swap_page);
* :class:`SwapLayout` -- the blocks of the area: a swap partition (slot = block) or a swap file
  (slot -> partition block, the map that the kernel's swap extents describe);
  :func:`plan_swap_area` chooses which slots the allocator hands out and which hold other
  users' swapped-out pages;
* :func:`mkswap_page` -- the mkswap v1 header (include/linux/swap.h ``union swap_header``);
* containers: the partition alone, an ext4-like partition holding a swap file, the swap file
  copied out, and whole MBR/GPT disks (:func:`assemble`).
"""
from __future__ import annotations

import random
import struct
import uuid as uuidlib
import zlib
from dataclasses import dataclass

from .eras import PAGE, SWAPSPACE2
from .synth_pages import struct_page, text_page

GPT_SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
GPT_LINUX_FS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
CONTAINERS = ("partition", "swapfile", "mbr", "gpt", "swapfile-copy")
SECTOR = 512


# ---------------------------------------------------------------------------------------------
# the swap area
class SwapArea:
    """Block-addressed device image (dict block -> page) with a swap slot allocator:
    :meth:`alloc` hands out the blocks of ``free`` in order, as get_swap_page() would."""

    def __init__(self, free=()) -> None:
        self.blocks: dict[int, bytes] = {}
        self._free = iter(free)

    def put(self, blk: int, data: bytes) -> None:
        assert len(data) == PAGE and blk not in self.blocks, blk
        self.blocks[blk] = data

    def alloc(self) -> int:
        return next(self._free)


@dataclass
class SwapLayout:
    """The blocks of one swap area, relative to the partition that holds it."""
    part_blocks: int                 # size of the partition in 4 KiB blocks
    resume_offset: int               # block of the header page (swap file: its first block)
    last_page: int                   # mkswap last_page: slots 1..last_page are usable
    file_map: list[int] | None       # swap file: slot -> partition block; None: slot = block

    def block(self, slot: int) -> int:
        return slot if self.file_map is None else self.file_map[slot]

    def slots_from(self, map_start: int, stride: int) -> tuple[list[int], list[int]]:
        """(blocks the allocator hands out, blocks it skips): slots map_start..last_page,
        every ``stride``-th one used (a fragmented allocator when stride > 1)."""
        slots = range(map_start, self.last_page + 1)
        used = [self.block(x) for x in slots[::stride]]
        skipped = [self.block(x) for x in slots[1::stride]] if stride > 1 else []
        return used, skipped


def _shuffled_runs(items: list[int], max_run: int, rng: random.Random) -> list[int]:
    """``items`` cut into runs of 1..max_run, the runs shuffled (a fragmented allocator)."""
    chunks, i = [], 0
    while i < len(items):
        k = rng.randint(1, max_run)
        chunks.append(items[i:i + k])
        i += k
    rng.shuffle(chunks)
    return [b for c in chunks for b in c]


def partition_layout(last_page: int) -> SwapLayout:
    """A swap partition of blocks 0..last_page, the header at block 0."""
    return SwapLayout(part_blocks=last_page + 1, resume_offset=0, last_page=last_page,
                      file_map=None)


def swapfile_layout(file_pages: int, rng: random.Random) -> SwapLayout:
    """A swap file of ``file_pages`` pages scattered in runs of 1..24 blocks over an ext4-like
    partition (at least 2.5 times as large, blocks 0..47 left to the filesystem)."""
    part_blocks = 1024
    while part_blocks < 2.5 * file_pages + 64:
        part_blocks *= 2
    fmap = _shuffled_runs(list(range(48, part_blocks)), 24, rng)[:file_pages]
    assert fmap != sorted(fmap)
    return SwapLayout(part_blocks=part_blocks, resume_offset=fmap[0], last_page=file_pages - 1,
                      file_map=fmap)


def swapfile_copy_layout(file_pages: int, rng: random.Random) -> SwapLayout:
    """A contiguous swap file somewhere past block 0x8800 of its partition (only the file is
    written out: see :func:`assemble`)."""
    resume = 0x8800 + rng.randrange(0, 0x400)
    fmap = list(range(resume, resume + file_pages))
    return SwapLayout(part_blocks=resume + file_pages + 0x200, resume_offset=resume,
                      last_page=file_pages - 1, file_map=fmap)


def plan_swap_area(container: str, map_start: int, slots: int, slack_blocks: int, stride: int,
                   scatter: bool, rng: random.Random) -> tuple[SwapLayout, SwapArea, list[int]]:
    """The swap area of a container -> (layout, area whose allocator hands out slots
    map_start.. (every ``stride``-th; in shuffled runs with ``scatter``), blocks of other users
    of the area: slots 1..map_start-1 and the slots a fragmented allocator skipped).
    ``slots`` is what the writer will take, ``slack_blocks`` the free slots left after it."""
    if container in ("swapfile", "swapfile-copy"):
        # swap file: slots (file page offsets) 1.. map to partition blocks via the extents
        file_pages = map_start + slots + slack_blocks
        layout = (swapfile_layout(file_pages, rng) if container == "swapfile" else
                  swapfile_copy_layout(file_pages, rng))
    else:
        layout = partition_layout(map_start + slots + slack_blocks)
    pool, skipped = layout.slots_from(map_start, stride)
    if scatter:
        # runs of 1..8 blocks in shuffled order (as a fragmented swap allocator would)
        pool = _shuffled_runs(pool, 8, rng)
    others = [layout.block(x) for x in range(1, map_start)] + skipped
    return layout, SwapArea(pool), others


# ---------------------------------------------------------------------------------------------
# page contents: mkswap header, other users' pages, filesystem blocks
def mkswap_page(last_page: int, rng: random.Random, label: bytes = b"") -> bytearray:
    """mkswap v1 header (include/linux/swap.h union swap_header)."""
    h = bytearray(PAGE)
    struct.pack_into("<III", h, 1024, 1, last_page, 0)
    h[1036:1052] = rng.randbytes(16)                       # uuid
    h[1052:1068] = label[:16].ljust(16, b"\0")
    h[4086:4096] = SWAPSPACE2
    return h


_JUNK_CORPUS: list[bytes] = []


def junk_page(rng: random.Random, i: int) -> bytes:
    """A "swapped-out" anonymous page or filesystem block: text, pointers or random bytes.
    (Cheap: a slice of a fixed corpus, stamped with the block number.)"""
    if not _JUNK_CORPUS:
        crng = random.Random("swsusp-junk-corpus")
        _JUNK_CORPUS.append(b"".join(text_page(crng, j) for j in range(8)))
        _JUNK_CORPUS.append(b"".join(struct_page(crng, j) for j in range(8)))
    r = rng.random()
    if r < 0.7:
        corpus = _JUNK_CORPUS[0 if r < 0.4 else 1]
        off = rng.randrange(0, len(corpus) - PAGE) & ~7
        return f"swapped-out {i:#x} ".encode()[:24].ljust(24) + corpus[off + 24:off + PAGE]
    if r < 0.85:
        return rng.randbytes(PAGE)
    return bytes(PAGE)


def fill_other_users(area: SwapArea, blocks: list[int], rng: random.Random) -> None:
    """Swapped-out pages of other users of the area (and stale swap) in ``blocks``."""
    for b in blocks:
        area.put(b, junk_page(rng, b))


def ext4ish_block0(rng: random.Random, blocks: int, label: bytes) -> bytes:
    """Block 0 of an ext4-like filesystem: the superblock at 1024 (magic 0xEF53)."""
    b = bytearray(PAGE)
    sb = 1024
    struct.pack_into("<IIIIIIIIIIIIIHHHH", b, sb, blocks // 4, blocks, blocks // 20, blocks // 2,
                     blocks // 8, 0, 2, 2, 32768, 32768, 8192, 0, 1735689600, 1, 0xFFFF, 0xEF53, 1)
    b[sb + 0x68:sb + 0x78] = rng.randbytes(16)             # s_uuid
    b[sb + 0x78:sb + 0x88] = label[:16].ljust(16, b"\0")  # s_volume_name
    b[sb + 0x88:sb + 0x90] = b"/\0\0\0\0\0\0\0"
    return bytes(b)


def fs_junk(rng: random.Random, i: int) -> bytes:
    """A filesystem block: a directory block, zeros or file data."""
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
# partition tables
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


def build_gpt(disk_sectors: int, parts, rng: random.Random) -> tuple[bytes, bytes]:
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


# ---------------------------------------------------------------------------------------------
# container assembly
def partition_bytes(area: SwapArea, nblocks: int, fill=None) -> bytearray:
    """The partition's blocks 0..nblocks-1: the area's pages, ``fill(block)`` (in ascending
    block order) or zeros elsewhere."""
    buf = bytearray(nblocks * PAGE)
    for b in range(nblocks):
        if b in area.blocks:
            buf[b * PAGE:(b + 1) * PAGE] = area.blocks[b]
        elif fill is not None:
            buf[b * PAGE:(b + 1) * PAGE] = fill(b)
    return buf


def ext4ish_with_swapfile(area: SwapArea, layout: SwapLayout, rng: random.Random) -> bytearray:
    """An ext4-like partition holding the swap file: superblock, filesystem blocks, and the
    swap file's blocks (zeros where mkswap left its slots unused)."""
    assert layout.file_map is not None
    fileset = set(layout.file_map)
    sbblk = ext4ish_block0(rng, layout.part_blocks, b"synthroot")

    def fill(b):
        if b == 0:
            return sbblk
        if b in fileset:
            return bytes(PAGE)           # unused swap file slots (mkswap leaves them)
        return fs_junk(rng, b)
    return partition_bytes(area, layout.part_blocks, fill)


def swapfile_copy(area: SwapArea, layout: SwapLayout) -> bytearray:
    """The swap file alone, as ``cp /swapfile`` would copy it (file page i = slot i)."""
    assert layout.file_map is not None
    return bytearray(b"".join(area.blocks.get(b, bytes(PAGE)) for b in layout.file_map))


def disk_image(area: SwapArea, part_blocks: int, scheme: str,
               rng: random.Random) -> tuple[bytearray, int]:
    """A whole disk (``scheme`` "mbr" | "gpt"): a 256 KiB ext4-like partition at LBA 2048,
    the swap partition at LBA 2560.  Returns (disk, byte offset of the swap partition)."""
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
    disk[swap_lba * SECTOR:(swap_lba + swap_len) * SECTOR] = partition_bytes(area, part_blocks)
    if scheme == "mbr":
        disk[0:512] = build_mbr([(0x83, p1_lba, p1_len), (0x82, swap_lba, swap_len)],
                                rng.getrandbits(32))
    else:
        head, tail = build_gpt(disk_sectors, [(GPT_LINUX_FS, p1_lba, p1_lba + p1_len - 1, "boot"),
                                              (GPT_SWAP, swap_lba, swap_lba + swap_len - 1, "swap")],
                               rng)
        disk[0:len(head)] = head
        disk[len(disk) - len(tail):] = tail
    return disk, swap_lba * SECTOR


def assemble(container: str, area: SwapArea, layout: SwapLayout,
             rng: random.Random) -> tuple[bytearray, int]:
    """The file holding the swap area -> (bytes, byte offset of the partition start; negative
    for a swap file copied out: its partition starts before the file)."""
    if container == "partition":
        return partition_bytes(area, layout.part_blocks), 0
    if container == "swapfile":
        return ext4ish_with_swapfile(area, layout, rng), 0
    if container == "swapfile-copy":
        return swapfile_copy(area, layout), -layout.resume_offset * PAGE
    return disk_image(area, layout.part_blocks, container, rng)


# ---------------------------------------------------------------------------------------------
# a swap file copied out of a fragmented file: its pages, and what `filefrag -v` says
def fragmented_copy(contiguous: bytes, first_block: int, cuts: list[int],
                    rng: random.Random) -> tuple[bytes, list[tuple[int, int, int]]]:
    """The copy (``cp /swapfile``) of the swap file whose contiguous copy is ``contiguous``
    (page s at filesystem block ``first_block + s``), had the file been fragmented: the
    pages between ``cuts`` are runs whose filesystem blocks are shuffled (run 0, the header,
    stays first).  The image's pointers name blocks, so each block's page moves with it.
    Returns (the copy, its extents: (first file page, pages, first filesystem block))."""
    pages = len(contiguous) // PAGE
    edges = [0] + sorted(c for c in cuts if 0 < c < pages) + [pages]
    runs = [(a, b) for a, b in zip(edges, edges[1:]) if a < b]
    order = runs[:1] + rng.sample(runs[1:], len(runs) - 1)  # blocks of file run i: order[i]
    copy, extents, page = bytearray(), [], 0
    for lo, hi in order:
        extents.append((page, hi - lo, first_block + lo))
        copy += contiguous[lo * PAGE:hi * PAGE]
        page += hi - lo
    return bytes(copy), extents


def filefrag_text(extents: list[tuple[int, int, int]], path: str = "/swapfile") -> str:
    """``filefrag -v PATH`` (e2fsprogs 1.47) for a file of 4 KiB blocks with these extents."""
    pages = sum(n for _, n, _ in extents)
    lines = ["Filesystem type is: ef53",
             f"File size of {path} is {pages * PAGE} ({pages} blocks of {PAGE} bytes)",
             " ext:     logical_offset:        physical_offset: length:   expected: flags:"]
    expected = None
    for i, (first, n, block) in enumerate(extents):
        exp = f"{expected:>10}:" if expected is not None and expected != block else " " * 11
        flags = " last,eof" if i == len(extents) - 1 else ""
        lines.append(f"{i:4}: {first:>10}..{first + n - 1:>10}: {block:>10}..{block + n - 1:>10}: "
                     f"{n:>6}: {exp}{flags}")
        expected = block + n
    lines.append(f"{path}: {len(extents)} extents found")
    return "\n".join(lines) + "\n"
