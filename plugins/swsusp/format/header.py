"""The swap header page: mkswap's `union swap_header` plus the hibernation fields
`mark_swapfiles()` writes over its end (docs/format.md §2).

The hibernation fields moved once (2.6.23), so a header is read under each era's layout,
newest first; the opener keeps the first layout whose map chain validates (§6.1).
"""

from dataclasses import dataclass
from typing import List, Optional

from .structs import (
    ORIG_SIG_OFFSET,
    SIG_LEN,
    SIG_OFFSET,
    SWAP_HEADER,
    SWSUSP_HEADER_A,
    SWSUSP_HEADER_B,
    SWSUSP_HEADER_C,
    USWSUSP_HEADER,
    Layout,
)

HIBERNATE_SIG = b"S1SUSPEND\0"  # in-kernel image (SWSUSP_SIG in 2.6.x)
USWSUSP_SIG = b"ULSUSPEND\0"  # userspace s2disk image (§11)
SWAP_SIGS = (b"SWAPSPACE2", b"SWAP-SPACE")  # plain swap, or a consumed image's header
ALL_SIGS = (HIBERNATE_SIG, USWSUSP_SIG) + SWAP_SIGS

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
    """One era's struct swsusp_header, and how its `image` is to be read."""

    name: str
    struct: Layout
    swp_entry: bool = False  # `image` is a swp_entry_t (2.6.16-2.6.18), not a block

    @property
    def era(self) -> str:
        return self.struct.versions

    def offset(self, field: str) -> Optional[int]:
        """Where `field` is in the header page, None if this era has no such field."""
        f = self.struct.get(field)
        return f.offset if f else None


# Newest first (§6.1): a wrong layout yields an `image` far beyond any swap area.
LAYOUTS = (
    HeaderLayout("A", SWSUSP_HEADER_A),
    HeaderLayout("B", SWSUSP_HEADER_B),
    HeaderLayout("C", SWSUSP_HEADER_C, swp_entry=True),
)
USWSUSP_LAYOUT = HeaderLayout("U", USWSUSP_HEADER)  # `image` is a byte offset


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
    image: int  # block of the first swap_map_page (s2disk: byte offset of image_header_info)
    flags: int
    crc32: int  # meaningful only with SF_CRC32_MODE
    hw_sig: int  # meaningful only with SF_HW_SIG
    mkswap_version: int
    last_page: int
    uuid: bytes

    @property
    def consumed(self) -> bool:
        """Signature reset by a resume attempt (§2.4) but the image is still there."""
        return self.sig in SWAP_SIGS

    @property
    def signature(self) -> str:
        return self.sig.rstrip(b"\0").decode("ascii", "replace")

    @property
    def crc32_valid(self) -> bool:
        return "crc32" in self.layout.struct and bool(self.flags & SF_CRC32_MODE)

    @property
    def hw_sig_valid(self) -> bool:
        return "hw_sig" in self.layout.struct and bool(self.flags & SF_HW_SIG)

    @property
    def area_last_page(self) -> int:
        """mkswap's last_page when the swap header is a version-1 one, else 0 (unknown)."""
        return self.last_page if self.mkswap_version == 1 else 0

    def field_offset(self, field: str) -> Optional[int]:
        """File offset of a header field (None if this era has none)."""
        f = self.layout.struct.get(field) or SWAP_HEADER.get(field)
        return None if f is None else self.offset + f.offset


# mm/swapfile.c read_swap_header(): what swapon refuses
MAX_SWAP_BADPAGES = (SIG_OFFSET - 1536) // 4  # the badpages[] array fills the page up to the magic


def swap_header_doubt(page: bytes) -> Optional[str]:
    """Why a SWAPSPACE2 page is no swap header swapon would accept (None when it could be):
    version 1, a last_page, at most MAX_SWAP_BADPAGES bad pages (`read_swap_header()`)."""
    if signature_of(page) != SWAP_SIGS[0]:
        return None  # SWAP-SPACE (version 0) has no such fields
    f = SWAP_HEADER.read(page)
    if f["version"] == _swab32(1):  # written on a big-endian machine: swapon swabs it
        f = {k: _swab32(v) if isinstance(v, int) else v for k, v in f.items()}
    if f["version"] != 1:
        return f"its swap header version is {f['version']} (mkswap writes 1)"
    if not f["last_page"]:
        return "its swap header's last_page is 0"
    if f["nr_badpages"] > MAX_SWAP_BADPAGES:
        return f"its swap header lists {f['nr_badpages']} bad pages (at most {MAX_SWAP_BADPAGES})"
    return None


def _swab32(value: int) -> int:
    return int.from_bytes(value.to_bytes(4, "little"), "big")


def signature_of(page: bytes) -> bytes:
    return bytes(page[SIG_OFFSET : SIG_OFFSET + SIG_LEN])


def read_header(page: bytes, offset: int, layout: HeaderLayout) -> SwsuspHeader:
    """Decode a 4096-byte header page under `layout` (no validation beyond decoding)."""
    fields = layout.struct.read(page)
    image = fields["image"]
    if layout.swp_entry:
        image &= SWP_OFFSET_MASK
    swap = SWAP_HEADER.read(page)
    return SwsuspHeader(
        offset=offset,
        sig=signature_of(page),
        orig_sig=bytes(page[ORIG_SIG_OFFSET:SIG_OFFSET]),
        layout=layout,
        image=image,
        flags=fields.get("flags", 0),
        crc32=fields.get("crc32", 0),
        hw_sig=fields.get("hw_sig", 0),
        mkswap_version=swap["version"],
        last_page=swap["last_page"],
        uuid=swap["sws_uuid"],
    )


def candidate_headers(page: bytes, offset: int) -> List[SwsuspHeader]:
    """The header decoded under every layout whose `image` is non-zero, newest first."""
    return [h for h in (read_header(page, offset, lay) for lay in LAYOUTS) if h.image]
