"""The kernel's swap writer (kernel/power/swap.c): the swap_map_page chain that lists where each
stream page went (docs/format.md §3), and the swsusp_header that mark_swapfiles() writes into the mkswap
page (docs/format.md §2).  Blocks come from a :class:`~samples.containers.SwapArea`.
"""
from __future__ import annotations

import struct

from .eras import (
    HDR_CRC32,
    HDR_FLAGS,
    HDR_HW_SIG,
    HDR_IMAGE,
    HDR_IMAGE_28,
    HDR_ORIG_SIG,
    HDR_SIG,
    HIBERNATE_SIG,
    MAP_PAGE_ENTRIES,
    SF_CRC32_MODE,
    SF_HW_SIG,
    SF_LZ4,
    SF_NOCOMPRESS_MODE,
    SF_PLATFORM_MODE,
    SWP_TYPE_SHIFT,
    Era,
)

STALE_CRC32, STALE_HW_SIG = 0x5EA1C0DE, 0xBADC0FFE     # left over from an earlier hibernation


def swap_map_page(entries: list[int], next_swap: int = 0) -> bytes:
    """struct swap_map_page: up to 511 swap entries (zero-filled) and next_swap."""
    assert len(entries) <= MAP_PAGE_ENTRIES
    return (struct.pack(f"<{len(entries)}Q", *entries)
            + bytes(8 * (MAP_PAGE_ENTRIES - len(entries))) + struct.pack("<Q", next_swap))


def write_swap_map_chain(area, stream: list[bytes], alloc) -> tuple[int, list[int], list[int]]:
    """swap_write_page/flush_swap_writer emulation: first map page allocated before any data;
    after 511 entries the next map block is allocated and the full map page written; the final
    map page (possibly empty) has zero-filled entries and next_swap 0.  Returns
    (first map block, map blocks in chain order, stream blocks)."""
    first = cur = alloc()
    entries: list[int] = []
    maps, sblocks = [first], []
    for sp in stream:
        b = alloc()
        area.put(b, sp)
        entries.append(b)
        sblocks.append(b)
        if len(entries) == MAP_PAGE_ENTRIES:
            nxt = alloc()
            area.put(cur, swap_map_page(entries, nxt))
            maps.append(nxt)
            cur, entries = nxt, []
    area.put(cur, swap_map_page(entries))
    return first, maps, sblocks


def swsusp_header_flags(era: Era, codec: str, platform: bool | None, hw_sig: int | None,
                        stream_crc: int) -> tuple[int | None, int | None, int | None]:
    """(flags, crc32, hw_sig) of the header (docs/format.md §2.3); flags None before layout A (2.6.23).
    ``stream_crc`` is crc32_le(0, U) of the uncompressed stream U (pages 1..), recorded when
    the era checksums compressed images (3.2+)."""
    if era.layout != "A":
        if platform or hw_sig is not None:
            raise ValueError("flags need layout A (2.6.23+)")
        return None, None, None
    crc = hw = None
    flags = SF_PLATFORM_MODE if platform else 0
    if codec == "none":
        if era.has_lzo:
            flags |= SF_NOCOMPRESS_MODE
    else:
        if era.has_crc:
            flags |= SF_CRC32_MODE
            crc = stream_crc
        if codec == "lz4":
            flags |= SF_LZ4
    if hw_sig is not None:
        if not era.has_hw_sig:
            raise ValueError(f"era {era.name} has no hw_sig (5.17+)")
        flags |= SF_HW_SIG
        hw = hw_sig & 0xFFFFFFFF
    return flags, crc, hw


def mark_swapfiles(hdr: bytearray, era: Era, first_map: int, swap_type: int, flags: int | None,
                   crc: int | None, hw: int | None, stale: bool) -> int:
    """Read-modify-write of the mkswap page: orig_sig = the mkswap signature, sig = S1SUSPEND,
    the image field (layout C: a swp_entry; B, A: the first map block) and, in layout A, flags,
    crc32 and hw_sig (``stale``: old values where the flag is clear).  Returns the image field."""
    hdr[HDR_ORIG_SIG:HDR_SIG] = hdr[HDR_SIG:HDR_SIG + 10]
    hdr[HDR_SIG:HDR_SIG + 10] = HIBERNATE_SIG
    if era.layout == "C":
        image_field = (swap_type << SWP_TYPE_SHIFT) | first_map
        struct.pack_into("<Q", hdr, HDR_IMAGE_28, image_field)
    elif era.layout == "B":
        image_field = first_map
        struct.pack_into("<Q", hdr, HDR_IMAGE_28, image_field)
    else:
        image_field = first_map
        struct.pack_into("<Q", hdr, HDR_IMAGE, image_field)
        struct.pack_into("<I", hdr, HDR_FLAGS, flags)
        if crc is not None:
            struct.pack_into("<I", hdr, HDR_CRC32, crc)
        elif stale:
            struct.pack_into("<I", hdr, HDR_CRC32, STALE_CRC32)
        if hw is not None:
            struct.pack_into("<I", hdr, HDR_HW_SIG, hw)
        elif stale:
            struct.pack_into("<I", hdr, HDR_HW_SIG, STALE_HW_SIG)
    return image_field


def reset_swap_signature(hdr: bytearray) -> None:
    """What a resume attempt does (docs/format.md §2.4): sig = orig_sig, everything else unchanged."""
    hdr[HDR_SIG:HDR_SIG + 10] = hdr[HDR_ORIG_SIG:HDR_SIG]
