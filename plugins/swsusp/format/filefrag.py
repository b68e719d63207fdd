"""A swap file's extents as `filefrag -v` prints them (e2fsprogs): where each run of the
file's pages lies in its filesystem.

A swap file copied out of its filesystem (`cp /swapfile`) keeps the image's pointers as the
kernel wrote them: filesystem blocks (`swapdev_block()`), which a fragmented copy holds out
of order.  The extents map them back to pages of the copy:

    Filesystem type is: ef53
    File size of /swapfile is 1073741824 (262144 blocks of 4096 bytes)
     ext:     logical_offset:        physical_offset: length:   expected: flags:
       0:        0..   32767:      34816..     67583:  32768:
       1:    32768..   63487:      69632..    100351:  30720:      67584: last,eof
"""

import re
from typing import List, Tuple

from .errors import SwsuspFormatError
from .structs import PAGE_SIZE

Extent = Tuple[int, int, int]  # (first page of the file, pages, first filesystem block): struct swap_extent

_BLOCK_SIZE = re.compile(r"\((\d+) blocks? of (\d+) bytes\)")
_EXTENT = re.compile(r"^\s*\d+:\s*(\d+)\.\.\s*(\d+):\s*(\d+)\.\.\s*(\d+):\s*(\d+):")


def parse_filefrag(text: str, where: str = "extents") -> List[Extent]:
    """The extents of `filefrag -v` output, in 4 KiB pages, sorted by file page; a
    SwsuspFormatError names the line that does not read."""
    block_size = PAGE_SIZE
    size = _BLOCK_SIZE.search(text)
    if size:
        block_size = int(size.group(2))
    if block_size <= 0 or (PAGE_SIZE % block_size and block_size % PAGE_SIZE):
        raise SwsuspFormatError(f"{where}: filesystem blocks of {block_size} bytes do not divide 4 KiB pages")
    extents = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _EXTENT.match(line)
        if not match:
            continue
        first, last, phys_first, phys_last, length = map(int, match.groups())
        if last - first + 1 != length or phys_last - phys_first + 1 != length:
            raise SwsuspFormatError(f"{where} line {number}: extent {first}..{last} of {length} blocks does not add "
                                    f"up: {line.strip()!r}")
        first_byte, phys_byte, nbytes = first * block_size, phys_first * block_size, length * block_size
        if first_byte % PAGE_SIZE or phys_byte % PAGE_SIZE:
            raise SwsuspFormatError(f"{where} line {number}: extent not aligned to 4 KiB pages: {line.strip()!r}")
        extents.append((first_byte // PAGE_SIZE, nbytes // PAGE_SIZE, phys_byte // PAGE_SIZE))
    if not extents:
        raise SwsuspFormatError(f"{where}: no extent lines (expected the output of `filefrag -v SWAPFILE`)")
    extents.sort()
    if extents[0][0] != 0:
        raise SwsuspFormatError(f"{where}: no extent holds the file's first page (the swap header)")
    for (a, n, _), (b, _, _) in zip(extents, extents[1:]):
        if b < a + n:
            raise SwsuspFormatError(f"{where}: extents overlap at file page {b}")
    return extents


def read_filefrag(path: str) -> List[Extent]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(16 << 20)  # a swap file has at most a few thousand extents
    except OSError as exc:
        raise SwsuspFormatError(f"cannot read the extents file {path}: {exc.strerror}") from None
    return parse_filefrag(text, path)
