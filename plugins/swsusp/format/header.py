"""The swap header page: mkswap's `union swap_header` plus the hibernation fields
`mark_swapfiles()` edits in place (spec §2).

The hibernation fields sit at the end of the page and moved once (2.6.23), so a header is
read under each era's layout, newest first; the caller keeps the first layout whose map
chain validates (spec §6.1).
"""

import struct
from dataclasses import dataclass
from typing import List, Optional

PAGE_SIZE = 4096

HIBERNATE_SIG = b"S1SUSPEND\0"  # in-kernel image (SWSUSP_SIG in 2.6.x)
USWSUSP_SIG = b"ULSUSPEND\0"  # userspace s2disk image (spec §11)
SWAP_SIGS = (b"SWAPSPACE2", b"SWAP-SPACE")  # plain swap, or a consumed image's header
ALL_SIGS = (HIBERNATE_SIG, USWSUSP_SIG) + SWAP_SIGS

SIG_OFFSET = 4086
ORIG_SIG_OFFSET = 4076

# mkswap v1 header fields (include/linux/swap.h)
MKSWAP_VERSION = struct.Struct("<I")  # @1024
MKSWAP_LAST_PAGE = struct.Struct("<I")  # @1028
MKSWAP_UUID_OFFSET = 1036

# flags (kernel/power/power.h)
SF_PLATFORM_MODE = 1
SF_NOCOMPRESS_MODE = 2
SF_CRC32_MODE = 4
SF_HW_SIG = 8
SF_COMPRESSION_ALG_LZ4 = 16
FLAG_NAMES = {
    SF_PLATFORM_MODE: "SF_PLATFORM_MODE",
    SF_NOCOMPRESS_MODE: "SF_NOCOMPRESS_MODE",
    SF_CRC32_MODE: "SF_CRC32_MODE",
    SF_HW_SIG: "SF_HW_SIG",
    SF_COMPRESSION_ALG_LZ4: "SF_COMPRESSION_ALG_LZ4",
}

SWP_OFFSET_MASK = (1 << 59) - 1  # 2.6.16-18 swp_entry_t: (type << 59) | offset


@dataclass(frozen=True)
class HeaderLayout:
    """Where one era keeps the hibernation fields (offsets in the header page)."""

    name: str
    era: str
    image: int
    flags: Optional[int] = None
    crc32: Optional[int] = None
    hw_sig: Optional[int] = None
    swp_entry: bool = False


# Newest first (spec §6.1): a wrong layout yields an `image` far beyond any swap area.
LAYOUTS = (
    HeaderLayout("A", "2.6.23+", image=4064, flags=4072, crc32=4060, hw_sig=4056),
    HeaderLayout("B", "2.6.19-2.6.22", image=4068),
    HeaderLayout("C", "2.6.16-2.6.18", image=4068, swp_entry=True),
)


# s2disk's packed {loff_t image; orig_sig[10]; sig[10]} at the page end: `image` is a byte offset
USWSUSP_LAYOUT = HeaderLayout("U", "s2disk (uswsusp)", image=4068)


def decode_flags(flags: int) -> List[str]:
    names = [name for bit, name in FLAG_NAMES.items() if flags & bit]
    unknown = flags & ~sum(FLAG_NAMES)
    if unknown:
        names.append(f"unknown {unknown:#x}")
    return names


@dataclass(frozen=True)
class SwsuspHeader:
    """struct swsusp_header as found on disk, read under one layout."""

    offset: int  # byte offset of the header page in the input
    sig: bytes
    orig_sig: bytes
    layout: HeaderLayout
    image: int  # block of the first swap_map_page
    flags: int
    crc32: int  # meaningful only with SF_CRC32_MODE
    hw_sig: int  # meaningful only with SF_HW_SIG
    mkswap_version: int
    last_page: int
    uuid: bytes

    @property
    def consumed(self) -> bool:
        """Signature reset by a resume attempt (spec §2.4) but the image is still there."""
        return self.sig in SWAP_SIGS

    @property
    def signature(self) -> str:
        return self.sig.rstrip(b"\0").decode("ascii", "replace")

    @property
    def crc32_valid(self) -> bool:
        return self.layout.crc32 is not None and bool(self.flags & SF_CRC32_MODE)

    @property
    def hw_sig_valid(self) -> bool:
        return self.layout.hw_sig is not None and bool(self.flags & SF_HW_SIG)


def _u32(page: bytes, off: int) -> int:
    return struct.unpack_from("<I", page, off)[0]


def _u64(page: bytes, off: int) -> int:
    return struct.unpack_from("<Q", page, off)[0]


def signature_of(page: bytes) -> bytes:
    return bytes(page[SIG_OFFSET : SIG_OFFSET + 10])


def read_header(page: bytes, offset: int, layout: HeaderLayout) -> SwsuspHeader:
    """Decode a 4096-byte header page under `layout` (no validation beyond decoding)."""
    image = _u64(page, layout.image)
    if layout.swp_entry:
        image &= SWP_OFFSET_MASK
    return SwsuspHeader(
        offset=offset,
        sig=signature_of(page),
        orig_sig=bytes(page[ORIG_SIG_OFFSET:SIG_OFFSET]),
        layout=layout,
        image=image,
        flags=_u32(page, layout.flags) if layout.flags is not None else 0,
        crc32=_u32(page, layout.crc32) if layout.crc32 is not None else 0,
        hw_sig=_u32(page, layout.hw_sig) if layout.hw_sig is not None else 0,
        mkswap_version=_u32(page, 1024),
        last_page=_u32(page, 1028),
        uuid=bytes(page[MKSWAP_UUID_OFFSET : MKSWAP_UUID_OFFSET + 16]),
    )


def candidate_headers(page: bytes, offset: int) -> List[SwsuspHeader]:
    """The header decoded under every layout whose `image` is non-zero, newest first."""
    return [h for h in (read_header(page, offset, lay) for lay in LAYOUTS) if h.image]
