"""Stream page 0: struct swsusp_info, and on x86-64 2.6.24+ the restore_data_record
written over its start (docs/format.md §4.1, §4.2).

The record is identified by its magic, never by kernel version: stable and vendor trees
backported every layout change.
"""

import struct
import zlib
from dataclasses import dataclass, replace
from typing import Optional, Tuple

from ..memory import START_KERNEL_MAP, U64
from .errors import SwsuspFormatError
from .structs import (
    PAGE_SIZE,
    PFN_ENTRY,
    RESTORE_RECORD_V1,
    RESTORE_RECORD_V2,
    RESTORE_RECORD_V3,
    RESTORE_RECORD_V4,
    SWSUSP_INFO,
    UTS_FIELD,
    UTS_NAMES,
    X86_32_MAGIC,
    Layout,
)

# RESTORE_MAGIC values (arch/x86/power/hibernate*.c), each with its record layout
MAGIC_V1 = 0x0123456789ABCDEF  # jump_address, cr3, magic                      2.6.24 .. 4.6
MAGIC_V2 = 0x123456789ABCDEF0  # + jump_address_phys                           4.7 .. ~4.10
MAGIC_V3 = 0x23456789ABCDEF01  # + e820_digest[16] (MD5)                        ~4.11 .. 5.11
MAGIC_V4 = 0x23456789ABCDEF02  # e820_checksum (CRC32) instead of the digest    5.12 ..
RECORD_LAYOUTS = {
    MAGIC_V1: RESTORE_RECORD_V1,
    MAGIC_V2: RESTORE_RECORD_V2,
    MAGIC_V3: RESTORE_RECORD_V3,
    MAGIC_V4: RESTORE_RECORD_V4,
}
RECORD_NAMES = {
    MAGIC_V1: "v1 (jump_address, cr3; 2.6.24-4.6)",
    MAGIC_V2: "v2 (+ jump_address_phys; 4.7-4.10)",
    MAGIC_V3: "v3 (+ e820 MD5 digest; 4.11-5.11)",
    MAGIC_V4: "v4 (+ e820 CRC32 checksum; 5.12+)",
}
X86_32_MAGICS = (0x12345678, 0x12345679)  # 32-bit x86's own record: out of scope
PFNS_PER_PAGE = PAGE_SIZE // PFN_ENTRY
HOLES_ALLOWED = 1 << 20  # PFNs: 4 GiB of physical address space without RAM, at least

@dataclass(frozen=True)
class RestoreDataRecord:
    """struct restore_data_record (x86-64)."""

    magic: int
    jump_address: int  # VA of the image kernel's restore_registers
    jump_address_phys: Optional[int]  # its PA (v2+)
    cr3: int  # top-level table of the hibernating context (PML4 or PML5)
    e820_digest: Optional[bytes] = None  # v3: MD5
    e820_checksum: Optional[int] = None  # v4: zlib CRC-32 in the low 32 bits

    @property
    def layout(self) -> str:
        return RECORD_NAMES[self.magic]

    @property
    def struct(self) -> Layout:
        return RECORD_LAYOUTS[self.magic]

    @property
    def version(self) -> int:
        return (MAGIC_V1, MAGIC_V2, MAGIC_V3, MAGIC_V4).index(self.magic) + 1

    @property
    def phys_base(self) -> Optional[int]:
        """phys_base = jump_address_phys - (jump_address - __START_KERNEL_map), mod 2^64."""
        if self.jump_address_phys is None:
            return None
        return (self.jump_address_phys - (self.jump_address - START_KERNEL_MAP)) & U64


@dataclass(frozen=True)
class SwsuspInfo:
    """struct swsusp_info (§4.1)."""

    offset: int
    version_code: int
    num_physpages: int
    cpus: int
    image_pages: int
    pages: int
    size: int
    record: Optional[RestoreDataRecord]
    uts: Optional[dict]  # only when no arch record overwrote it (x86-64 <= 2.6.23)
    notes: Tuple[str, ...] = ()  # size fields found damaged, and what was used instead
    stored: Optional[Tuple[int, int]] = None  # (pages, size) as the file holds them, when replaced

    def at(self, field: str) -> int:
        """File offset of a field (of the page, for an s2disk image's compressed info page)."""
        return self.offset + SWSUSP_INFO.offset(field)

    def with_meta_pages(self, meta_pages: int) -> "SwsuspInfo":
        """This info with the M the PFN list itself fills, where pages/size disagree with it
        (a damaged `pages` hid the data pages behind a wrong M, or cut the stream short)."""
        pages = self.image_pages + meta_pages + 1
        note = (f"swsusp_info.pages {self.pages} (file offset {self.at('pages'):#x}) and size {self.size} disagree "
                f"with the PFN list, which fills {meta_pages} page(s): using pages = image_pages + "
                f"{meta_pages} + 1 = {pages}")
        return replace(self, pages=pages, size=pages * PAGE_SIZE, notes=self.notes + (note,),
                       stored=self.stored or (self.pages, self.size))

    @property
    def meta_pages(self) -> int:
        """M: pages of PFN list between this page and the data (§4)."""
        return self.pages - self.image_pages - 1

    @property
    def pfn_limit(self) -> Optional[int]:
        """No PFN of the machine is at or beyond this: num_physpages counts its present pages
        (`get_num_physpages()`, checked by the kernel at resume), and the holes between them
        (the PCI hole below 4 GiB, gaps between nodes) are allowed as much again, at least
        4 GiB.  None when num_physpages cannot be the machine's (fewer than image_pages)."""
        if self.num_physpages < self.image_pages or not self.num_physpages:
            return None
        return self.num_physpages + max(self.num_physpages, HOLES_ALLOWED)

    @property
    def kernel_version(self) -> Optional[str]:
        if not self.version_code:
            return None
        v = self.version_code
        return f"{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}"


def e820_checksum(nr_entries: int, entries: bytes) -> int:
    """The v4 record's checksum: plain zlib CRC-32 over u32 nr + 20-byte entries (§4.2)."""
    return zlib.crc32(struct.pack("<I", nr_entries) + entries)


def parse_record(page: bytes, offset: int) -> Optional[RestoreDataRecord]:
    """The x86-64 restore record at the start of the info page, or None if there is none."""
    for magic, layout in RECORD_LAYOUTS.items():
        if layout["magic"].read(page) == magic:
            f = layout.read(page)
            checksum = f.get("e820_checksum")
            return RestoreDataRecord(magic, f["jump_address"], f.get("jump_address_phys"), f["cr3"],
                                     e820_digest=f.get("e820_digest"),
                                     e820_checksum=None if checksum is None else checksum & 0xFFFFFFFF)
    return None


def parse_uts(page: bytes) -> dict:
    uts = SWSUSP_INFO["uts"].read(page)
    return {
        name: uts[i * UTS_FIELD : (i + 1) * UTS_FIELD].split(b"\0", 1)[0].decode("latin-1")
        for i, name in enumerate(UTS_NAMES)
    }


def _check_architecture(page: bytes, offset: int) -> dict:
    """No x86-64 record: accept only an x86-64 uts (<= 2.6.23); name anything else."""
    magic32 = X86_32_MAGIC.read(page)
    if magic32 in X86_32_MAGICS:
        raise SwsuspFormatError(
            f"restore record is 32-bit x86 (magic {magic32:#x}), not x86-64", offset + X86_32_MAGIC.offset
        )
    uts = parse_uts(page)
    if not uts["sysname"].startswith("Linux"):
        raise SwsuspFormatError(
            "swsusp_info has no x86-64 restore_data_record magic (at +16 or +24) and no uts "
            "name: an image of another architecture",
            offset,
        )
    if uts["machine"] != "x86_64":
        raise SwsuspFormatError(
            f"image was written by a kernel for machine {uts['machine']!r} (uts.machine), not x86_64",
            offset + UTS_NAMES.index("machine") * UTS_FIELD,
        )
    return uts


def parse_info(page: bytes, offset: int) -> SwsuspInfo:
    """Decode the info page; raise SwsuspFormatError if it cannot be one (§6.2)."""
    record = parse_record(page, offset)
    uts = None if record else _check_architecture(page, offset)
    f = SWSUSP_INFO.read(page)
    info = SwsuspInfo(offset, f["version_code"], f["num_physpages"], f["cpus"], f["image_pages"], f["pages"],
                      f["size"], record, uts)
    info = _resolve_pages(info)
    _check_counts(info)
    return info


def plausible_pages(info: SwsuspInfo, pages: int) -> bool:
    """`pages` leaves room for a PFN list of image_pages entries (and of the zero pages, at
    most num_physpages in all: M = ceil(entries / 512), `nr_meta_pages`)."""
    meta = pages - info.image_pages - 1
    most = -(-max(info.num_physpages, info.image_pages) // PFNS_PER_PAGE)
    return 0 < info.image_pages and meta * PFNS_PER_PAGE >= info.image_pages and meta <= most


def _resolve_pages(info: SwsuspInfo) -> SwsuspInfo:
    """pages and size (= pages * 4096) say the same twice: when one is damaged, the other one,
    if it fits image_pages (ties: the M of a list without zero pages); else refuse."""
    if info.size == info.pages * PAGE_SIZE:
        return info
    by_size = info.size // PAGE_SIZE if info.size % PAGE_SIZE == 0 else None
    fits = [p for p in (info.pages, by_size) if p is not None and plausible_pages(info, p)]
    if len(fits) == 2:
        exact = info.image_pages + 1 + -(-info.image_pages // PFNS_PER_PAGE)
        fits = [p for p in fits if p == exact] or fits[:1]  # the PFN list checks M afterwards
    if not fits:
        raise SwsuspFormatError(f"swsusp_info.size {info.size} is not pages*4096 (pages={info.pages}), and "
                                "neither fits image_pages", info.at("size"))
    pages = fits[0]
    wrong, value = ("size", info.size) if pages == info.pages else ("pages", info.pages)
    note = (f"swsusp_info.{wrong} {value} (file offset {info.at(wrong):#x}) disagrees with "
            f"{'size' if wrong == 'pages' else 'pages'}: using {pages} pages")
    return replace(info, pages=pages, size=pages * PAGE_SIZE, notes=info.notes + (note,),
                   stored=(info.pages, info.size))


def _check_counts(info: SwsuspInfo) -> None:
    at = info.at
    if not 0 < info.image_pages < info.pages:
        raise SwsuspFormatError(
            f"swsusp_info image_pages {info.image_pages} does not fit pages {info.pages}", at("image_pages")
        )
    # one PFN entry per data page, 512 per metadata page
    if info.meta_pages * PFNS_PER_PAGE < info.image_pages:
        raise SwsuspFormatError(
            f"{info.meta_pages} PFN-list pages cannot list {info.image_pages} data pages", at("pages")
        )
