"""Userspace s2disk images (`ULSUSPEND`, suspend-utils; docs/format.md §11).

The payload is the kernel's own snapshot stream (swsusp_info page, PFN list, data), but the
container differs: the header's `image` is a *byte* offset of a `struct image_header_info`
page; the stream's pages lie, in order, in sorted byte extents `{loff_t start, end}` listed on
chained extents pages (255 per page, slot 255's start = next page); compressed images cut the
stream into 32-page LZO buffers, the swsusp_info page inside the first one.
"""

from array import array
from dataclasses import dataclass
from typing import Callable, List

from .errors import SwsuspFormatError
from .structs import EXTENT, EXTENTS_PER_PAGE, IMAGE_HEADER_INFO, PAGE_SIZE
from .swap_map import SwapMap

IMAGE_CHECKSUM = 0x1  # MD5 of the uncompressed stream
IMAGE_COMPRESSED = 0x2  # LZO1X-1 buffers of 32 pages
IMAGE_ENCRYPTED = 0x4
IMAGE_USE_RSA = 0x8
PLATFORM_SUSPEND = 0x10
FLAG_NAMES = {
    IMAGE_CHECKSUM: "IMAGE_CHECKSUM",
    IMAGE_COMPRESSED: "IMAGE_COMPRESSED",
    IMAGE_ENCRYPTED: "IMAGE_ENCRYPTED",
    IMAGE_USE_RSA: "IMAGE_USE_RSA",
    PLATFORM_SUSPEND: "PLATFORM_SUSPEND",
}


@dataclass(frozen=True)
class ImageHeaderInfo:
    offset: int
    pages: int  # whole stream, swsusp_info page included
    flags: int
    map_start: int  # byte offset of the first extents page
    image_data_size: int  # bytes of stored pages
    checksum: bytes  # MD5, valid with IMAGE_CHECKSUM

    @property
    def flag_names(self) -> List[str]:
        return [name for bit, name in FLAG_NAMES.items() if self.flags & bit]


def parse_image_header_info(page: bytes, offset: int, device_size: int) -> ImageHeaderInfo:
    f = IMAGE_HEADER_INFO.read(page)
    pages, flags, map_start, data_size = f["pages"], f["flags"], f["map_start"], f["image_data_size"]
    info = ImageHeaderInfo(offset, pages, flags, map_start, data_size, f["checksum"])

    def at(field: str) -> int:
        return offset + IMAGE_HEADER_INFO.offset(field)

    if flags & (IMAGE_ENCRYPTED | IMAGE_USE_RSA):
        raise SwsuspFormatError("encrypted s2disk image: decrypting is not supported", at("flags"))
    # `pages` is checked against swsusp_info (opener), which states it twice more
    if map_start <= 0 or map_start % PAGE_SIZE or map_start >= device_size:
        raise SwsuspFormatError(f"s2disk map_start {map_start:#x} is not a page inside the device", at("map_start"))
    if data_size <= 0 or data_size % PAGE_SIZE or data_size > device_size:
        raise SwsuspFormatError(f"s2disk image_data_size {data_size} is not a whole number of pages",
                                at("image_data_size"))
    return info


def read_extents(
    info: ImageHeaderInfo, read_page: Callable[[int], bytes], device_size: int, header_offset_of: Callable[[int], int]
) -> SwapMap:
    """The stored pages' blocks in stream order, walking the extents pages (`load_extents_page`)."""
    wanted = info.image_data_size // PAGE_SIZE
    blocks = array("Q")
    map_blocks: List[int] = []
    seen = set()
    page_at = info.map_start
    while len(blocks) < wanted:
        if not page_at:
            raise SwsuspFormatError(
                f"s2disk extents end after {len(blocks)} of {wanted} stored pages",
                header_offset_of(map_blocks[-1]) if map_blocks else info.offset + 16,
            )
        if page_at % PAGE_SIZE or not 0 < page_at < device_size or page_at in seen:
            what = "loops back to" if page_at in seen else "points outside the device to"
            raise SwsuspFormatError(f"s2disk extents chain {what} byte offset {page_at:#x}",
                                    header_offset_of(map_blocks[-1]) + 255 * 16 if map_blocks else info.offset + 16)
        seen.add(page_at)
        block = page_at // PAGE_SIZE
        map_blocks.append(block)
        page = read_page(block)
        values = list(EXTENT.iter_unpack(page))
        for slot, (start, end) in enumerate(values[: EXTENTS_PER_PAGE - 1]):
            if start >= end:
                break  # the rest of this page is unused
            if start % PAGE_SIZE or end % PAGE_SIZE or start <= 0 or end > device_size:
                raise SwsuspFormatError(
                    f"s2disk extent {start:#x}-{end:#x} is not whole pages inside the device",
                    header_offset_of(block) + slot * EXTENT.size,
                )
            take = min((end - start) // PAGE_SIZE, wanted - len(blocks))
            first = start // PAGE_SIZE
            blocks.extend(range(first, first + take))
            if len(blocks) >= wanted:
                break
        page_at = values[EXTENTS_PER_PAGE - 1][0]
    if max(blocks) < 1 << 32:
        blocks = array("I", blocks)
    return SwapMap(blocks, map_blocks)
