"""Every on-disk structure the reader knows, declared once: name, offset, type, kernel versions.

The reader and `linux.swsusp_info` both read fields through these declarations, so no offset
is spelled twice (docs/format.md has the same structures with their history).  All values are
little-endian (x86-64).  Sources: include/linux/swap.h (union swap_header), kernel/power/swap.c
(struct swsusp_header, struct swap_map_page), kernel/power/power.h (struct swsusp_info),
arch/x86/power/hibernate.c (struct restore_data_record), suspend-utils swsusp.h (s2disk).
"""

import struct
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ..memory import PAGE_SIZE  # the page, swap slot and swap block size (re-exported)


@dataclass(frozen=True)
class Field:
    """One member: `fmt` is a `struct` code for one value ("I", "Q", "10s", "16s")."""

    name: str
    offset: int
    fmt: str
    versions: str = ""  # kernels that have the member here, when not all

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)

    def read(self, buf, base: int = 0) -> Any:
        return struct.unpack_from("<" + self.fmt, buf, base + self.offset)[0]


class Layout:
    """A C structure (or one era's layout of it) as a set of fields at fixed offsets."""

    def __init__(self, name: str, size: int, *fields: Field, versions: str = "") -> None:
        self.name = name
        self.size = size
        self.versions = versions
        self.fields: Dict[str, Field] = {f.name: f for f in fields}

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def offset(self, name: str) -> int:
        return self.fields[name].offset

    def get(self, name: str) -> Optional[Field]:
        return self.fields.get(name)

    def read(self, buf, base: int = 0) -> Dict[str, Any]:
        """Every field of the structure at `buf[base:]`."""
        return {name: f.read(buf, base) for name, f in self.fields.items()}

    def __repr__(self) -> str:
        return f"Layout({self.name!r})"


# -- the header page ------------------------------------------------------------------------

SIG_LEN = 10

# union swap_header (include/linux/swap.h), as mkswap writes it; `magic` ends the page.
SWAP_HEADER = Layout(
    "swap_header", PAGE_SIZE,
    Field("version", 1024, "I"),
    Field("last_page", 1028, "I"),  # the area's last usable slot
    Field("nr_badpages", 1032, "I"),
    Field("sws_uuid", 1036, "16s"),
    Field("sws_volume", 1052, "16s"),
    Field("magic", PAGE_SIZE - SIG_LEN, f"{SIG_LEN}s"),  # SWAPSPACE2 / SWAP-SPACE, or a hibernation signature
)
SIG_OFFSET = SWAP_HEADER.offset("magic")  # 4086: where every signature is
ORIG_SIG_OFFSET = SIG_OFFSET - SIG_LEN  # 4076: the swap signature the hibernation one replaced

# struct swsusp_header (kernel/power/swap.c): written over the swap header's last bytes.
# Three eras of the in-kernel layout, newest first (docs/format.md §2.1).
SWSUSP_HEADER_A = Layout(
    "swsusp_header", PAGE_SIZE,
    Field("hw_sig", 4056, "I", "5.17+"),
    Field("crc32", 4060, "I", "3.2+"),
    Field("image", 4064, "Q"),  # sector_t: block of the first swap_map_page
    Field("flags", 4072, "I"),
    Field("orig_sig", ORIG_SIG_OFFSET, f"{SIG_LEN}s"),
    Field("sig", SIG_OFFSET, f"{SIG_LEN}s"),
    versions="2.6.23+",
)
SWSUSP_HEADER_B = Layout(
    "swsusp_header", PAGE_SIZE,
    Field("image", 4068, "Q"),  # sector_t
    Field("orig_sig", ORIG_SIG_OFFSET, f"{SIG_LEN}s"),
    Field("sig", SIG_OFFSET, f"{SIG_LEN}s"),
    versions="2.6.19-2.6.22",
)
SWSUSP_HEADER_C = Layout(
    "swsusp_header", PAGE_SIZE,
    Field("image", 4068, "Q"),  # swp_entry_t: (type << 59) | offset
    Field("orig_sig", ORIG_SIG_OFFSET, f"{SIG_LEN}s"),
    Field("sig", SIG_OFFSET, f"{SIG_LEN}s"),
    versions="2.6.16-2.6.18",
)
# s2disk's packed {loff_t image; char orig_sig[10]; char sig[10];} (suspend-utils swsusp.h):
# `image` is a byte offset of the image_header_info page.
USWSUSP_HEADER = Layout(
    "swsusp_header (s2disk)", PAGE_SIZE,
    Field("image", 4068, "Q"),
    Field("orig_sig", ORIG_SIG_OFFSET, f"{SIG_LEN}s"),
    Field("sig", SIG_OFFSET, f"{SIG_LEN}s"),
    versions="s2disk (uswsusp)",
)

# -- the swap map ---------------------------------------------------------------------------

MAP_PAGE_ENTRIES = PAGE_SIZE // 8 - 1  # 511 (kernel/power/swap.c MAP_PAGE_ENTRIES)
# struct swap_map_page { sector_t entries[MAP_PAGE_ENTRIES]; sector_t next_swap; }
SWAP_MAP_PAGE = Layout(
    "swap_map_page", PAGE_SIZE,
    Field("entries", 0, f"{MAP_PAGE_ENTRIES}Q"),
    Field("next_swap", MAP_PAGE_ENTRIES * 8, "Q"),
)
# the whole page in one unpack: entries[0..510], next_swap
SWAP_MAP_PAGE_STRUCT = struct.Struct("<" + "".join(f.fmt for f in SWAP_MAP_PAGE.fields.values()))

# -- stream page 0 --------------------------------------------------------------------------

UTS_FIELD = 65  # __NEW_UTS_LEN + 1
UTS_NAMES = ("sysname", "nodename", "release", "version", "machine", "domainname")

# struct swsusp_info (kernel/power/power.h), x86-64 offsets; `uts` is overwritten by the
# architecture's restore_data_record on x86-64 2.6.24+.
SWSUSP_INFO = Layout(
    "swsusp_info", PAGE_SIZE,
    Field("uts", 0, f"{len(UTS_NAMES) * UTS_FIELD}s"),
    Field("version_code", 392, "I"),
    Field("num_physpages", 400, "Q"),
    Field("cpus", 408, "i"),
    Field("image_pages", 416, "Q"),
    Field("pages", 424, "Q"),
    Field("size", 432, "Q"),
)

# struct restore_data_record (arch/x86/power/hibernate.c), told apart by its magic
# (docs/format.md §4.2); stable and vendor trees backported every change, so never by version.
RESTORE_RECORD_V1 = Layout(
    "restore_data_record", 24,
    Field("jump_address", 0, "Q"), Field("cr3", 8, "Q"), Field("magic", 16, "Q"),
    versions="2.6.24-4.6",
)
RESTORE_RECORD_V2 = Layout(
    "restore_data_record", 32,
    Field("jump_address", 0, "Q"), Field("jump_address_phys", 8, "Q"), Field("cr3", 16, "Q"),
    Field("magic", 24, "Q"),
    versions="4.7-4.10",
)
RESTORE_RECORD_V3 = Layout(
    "restore_data_record", 48,
    Field("jump_address", 0, "Q"), Field("jump_address_phys", 8, "Q"), Field("cr3", 16, "Q"),
    Field("magic", 24, "Q"), Field("e820_digest", 32, "16s"),
    versions="4.11-5.11",
)
RESTORE_RECORD_V4 = Layout(
    "restore_data_record", 40,
    Field("jump_address", 0, "Q"), Field("jump_address_phys", 8, "Q"), Field("cr3", 16, "Q"),
    Field("magic", 24, "Q"), Field("e820_checksum", 32, "Q"),  # a u32 CRC in the low half
    versions="5.12+",
)
# the 32-bit x86 record's magic sits here (arch/x86/power/hibernate_32.c): named, then refused
X86_32_MAGIC = Field("magic", 12, "I")

# -- the data stream ------------------------------------------------------------------------

CMP_HEADER = 8  # LZO_HEADER / CMP_HEADER: the size_t cmp_len in front of each compressed block
PFN_ENTRY = 8  # one unsigned long per data page in the metadata pages

# -- s2disk (suspend-utils) -----------------------------------------------------------------

# struct image_header_info (swsusp.h), without CONFIG_ENCRYPT's trailing members
IMAGE_HEADER_INFO = Layout(
    "image_header_info", PAGE_SIZE,
    Field("pages", 0, "Q"),
    Field("flags", 8, "I"),
    Field("map_start", 16, "q"),  # byte offset of the first extents page
    Field("image_data_size", 24, "q"),  # bytes of stored pages
    Field("checksum", 32, "16s"),  # MD5 with IMAGE_CHECKSUM
    versions="suspend-utils",
)
EXTENT = struct.Struct("<qq")  # struct extent { loff_t start, end; } (bytes)
EXTENTS_PER_PAGE = PAGE_SIZE // EXTENT.size  # 256: 255 extents + the next-page link

