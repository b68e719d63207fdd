"""What the boot kernel that tried to resume an image knew: the facts its resume checks
compare with the image (kernel/power/swap.c swsusp_check(), kernel/power/snapshot.c
check_header(), arch/x86/power/hibernate.c arch_hibernation_header_restore()).

Each fact carries where it came from ("boot dump: symbol e820_table_firmware",
"facts/memmap", ...), so a verdict can say what it rests on.  Facts come from a RAM dump of
the boot kernel (vol/boot_dump.py) and from text a user copied from the running machine
(analysis/boot_text.py); `merge` keeps the first source's value of each fact.
"""
from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, fields, replace
from typing import Generic, Optional, Tuple, TypeVar

T = TypeVar("T")

# enum e820_type (arch/x86/include/asm/e820/types.h)
E820_RAM = 1
E820_RESERVED = 2
E820_ACPI = 3
E820_NVS = 4
E820_UNUSABLE = 5
E820_PMEM = 7
E820_PRAM = 12
E820_SOFT_RESERVED = 0xEFFFFFFF

SECTION_PAGES = 1 << (27 - 12)  # SECTION_SIZE_BITS 27 (x86-64 SPARSEMEM): pfn_valid() per 128 MiB


@dataclass(frozen=True)
class Fact(Generic[T]):
    """One value and where it was read."""

    value: T
    source: str


@dataclass(frozen=True)
class E820Entry:
    """struct e820_entry {u64 addr; u64 size; u32 type} __packed (20 bytes)."""

    addr: int
    size: int
    type: int

    @property
    def end(self) -> int:  # exclusive
        return self.addr + self.size


def e820_table_bytes(entries: Tuple[E820Entry, ...]) -> bytes:
    """What the restore record's e820 checksum covers: offsetof(struct e820_table, entries)
    + nr_entries * sizeof(struct e820_entry) bytes of e820_table_firmware."""
    return struct.pack("<I", len(entries)) + b"".join(struct.pack("<QQI", e.addr, e.size, e.type) for e in entries)


def e820_crc32(entries: Tuple[E820Entry, ...]) -> int:
    """compute_e820_crc32() (5.12+): ~crc32_le(~0, table, size), which is zlib's CRC-32."""
    return zlib.crc32(e820_table_bytes(entries))


def e820_md5(entries: Tuple[E820Entry, ...]) -> bytes:
    """get_e820_md5() (4.11-5.11): MD5 of the same bytes."""
    import hashlib

    return hashlib.md5(e820_table_bytes(entries)).digest()


@dataclass(frozen=True)
class KernelRelease:
    """A utsname release such as "6.1.0-56-amd64": (major, minor) is what the checks need."""

    text: str

    @property
    def version(self) -> Optional[Tuple[int, int]]:
        m = re.match(r"(\d+)\.(\d+)", self.text)
        return (int(m.group(1)), int(m.group(2))) if m else None

    def at_least(self, major: int, minor: int) -> Optional[bool]:
        v = self.version
        return None if v is None else v >= (major, minor)


@dataclass(frozen=True)
class BootFacts:
    """The boot kernel's side of every resume check; None = not known from any source."""

    release: Optional[Fact[str]] = None  # init_uts_ns.name.release / uname -r
    banner: Optional[Fact[str]] = None  # linux_banner / uname -a
    cmdline: Optional[Fact[str]] = None  # saved_command_line / /proc/cmdline
    resume_device: Optional[Fact[str]] = None  # swsusp_resume_device "MAJ:MIN" (0:0 = none yet)
    resume_offset: Optional[Fact[int]] = None  # swsusp_resume_block: header block, in pages
    e820_firmware: Optional[Fact[Tuple[E820Entry, ...]]] = None  # e820_table_firmware
    num_physpages: Optional[Fact[int]] = None  # get_num_physpages(): present pages of all nodes
    ram_pfns: Optional[Fact[Tuple[Tuple[int, int], ...]]] = None  # RAM as [start, end) PFN ranges
    max_pfn: Optional[Fact[int]] = None
    hw_signature: Optional[Fact[int]] = None  # swsusp_hardware_signature (5.17+)
    restore_magic: Optional[Fact[int]] = None  # RESTORE_MAGIC the boot kernel accepts
    codecs: Optional[Fact[Tuple[str, ...]]] = None  # compressors registered or built in: "lzo", "lz4"
    codec_modules: Optional[Fact[Tuple[str, ...]]] = None  # built as modules (=m), from the kernel config
    lockdown: Optional[Fact[str]] = None  # kernel lockdown: "none", "integrity", "confidentiality"

    def merge(self, other: "BootFacts") -> "BootFacts":
        """These facts, completed by `other`'s where these have none."""
        return replace(self, **{f.name: getattr(other, f.name) for f in fields(self)
                                if getattr(self, f.name) is None and getattr(other, f.name) is not None})

    @property
    def kernel(self) -> Optional[KernelRelease]:
        return KernelRelease(self.release.value) if self.release else None

    def known(self) -> Tuple[str, ...]:
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)


def ram_pfn_ranges(entries: Tuple[E820Entry, ...]) -> Tuple[Tuple[int, int], ...]:
    """The whole pages of E820_RAM entries, as memblock takes them: [start, end) PFNs."""
    out = []
    for e in entries:
        if e.type == E820_RAM:
            first, end = -(-e.addr // 4096), e.end // 4096
            if end > first:
                out.append((first, end))
    return tuple(out)


def present_pages(ranges: Tuple[Tuple[int, int], ...], first_page_reserved: bool = True) -> int:
    """get_num_physpages() from RAM ranges of the firmware map: x86 setup_arch() reserves
    PFN 0 for the BIOS (trim_bios_range) before memblock sees it."""
    total = sum(end - first for first, end in ranges)
    if first_page_reserved and any(first == 0 for first, _ in ranges):
        total -= 1
    return total
