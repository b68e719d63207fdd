"""What each kernel generation writes: the on-disk constants and the table of eras.

Constants carry the kernel's names (kernel/power/swap.c, kernel/power/power.h,
include/linux/swap.h, arch/x86/power/hibernate.c); the eras follow docs/format.md §2.1, §2.3, §4, §5
and §7.  Pure data, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass

PAGE = 4096
MAP_PAGE_ENTRIES = PAGE // 8 - 1          # 511 entries + next_swap (kernel/power/swap.c)
UNC_PAGES = 32                            # LZO_UNC_PAGES / UNC_PAGES: pages per compressed block
CMP_HEADER = 8                            # sizeof(size_t) length prefix of each block
LZO_WORST = UNC_PAGES * PAGE + UNC_PAGES * PAGE // 16 + 64 + 3   # 139331
BM_END_OF_MAP = 0xFFFFFFFFFFFFFFFF
ENCODED_PFN_ZERO_FLAG = 1 << 63
PAGE_OFFSET_2_6_16 = 0xFFFF810000000000   # PFN list holds direct-map VAs in 2.6.16-2.6.18
SWP_TYPE_SHIFT = 59                       # swp_entry_t: (type << 59) | offset

HIBERNATE_SIG = b"S1SUSPEND\0"
USWSUSP_SIG = b"ULSUSPEND\0"
SWAPSPACE2 = b"SWAPSPACE2"

SF_PLATFORM_MODE, SF_NOCOMPRESS_MODE, SF_CRC32_MODE, SF_HW_SIG, SF_LZ4 = 1, 2, 4, 8, 16

RESTORE_MAGIC = {"cdef": 0x0123456789ABCDEF, "def0": 0x123456789ABCDEF0,
                 "f01": 0x23456789ABCDEF01, "f02": 0x23456789ABCDEF02}

# struct swsusp_header: offsets in the resume page.  Layout A (2.6.23+): hw_sig (5.17+),
# crc32 (3.2+), image, flags; the 28-byte header of layouts B and C (2.6.16-22) and of s2disk
# has only image, at 4068.
HDR_HW_SIG, HDR_CRC32, HDR_IMAGE, HDR_FLAGS = 4056, 4060, 4064, 4072
HDR_IMAGE_28 = 4068
HDR_ORIG_SIG, HDR_SIG = 4076, 4086


@dataclass(frozen=True)
class Era:
    name: str
    layout: str                 # header layout "A" (2.6.23+), "B" (2.6.19-22), "C" (2.6.16-18)
    pfn_form: str               # "va" (2.6.16-18, 0-terminated) | "pfn" (~0 terminator)
    record: str | None          # default arch record ("cdef"...), None = uts + version_code
    version_code: int
    cpus_written: bool          # swsusp_info.cpus set (<= 2.6.23)
    has_lzo: bool               # 2.6.37+
    has_crc: bool               # 3.2+  (SF_CRC32_MODE when compressing)
    has_hw_sig: bool            # 5.17+
    zero_pages: bool            # 6.6+  (bit-63 PFN entries, no data page)
    has_lz4: bool               # 6.9+
    resume_offset: bool         # 2.6.19+: header read at resume_offset (swap files possible)

    @property
    def linux_version_code(self) -> int:
        parts = [int(x) for x in self.name.split(".")] + [0, 0]
        return _vc(*parts[:3])


def _vc(a, b, c):
    return a * 65536 + b * 256 + c


ERAS: dict[str, Era] = {e.name: e for e in [
    Era("2.6.16", "C", "va", None, _vc(2, 6, 16), True, False, False, False, False, False, False),
    Era("2.6.20", "B", "pfn", None, _vc(2, 6, 20), True, False, False, False, False, False, True),
    Era("2.6.23", "A", "pfn", None, _vc(2, 6, 23), True, False, False, False, False, False, True),
    Era("2.6.24", "A", "pfn", "cdef", 0, False, False, False, False, False, False, True),
    Era("2.6.37", "A", "pfn", "cdef", 0, False, True, False, False, False, False, True),
    Era("3.2", "A", "pfn", "cdef", 0, False, True, True, False, False, False, True),
    Era("4.9", "A", "pfn", "def0", 0, False, True, True, False, False, False, True),
    Era("4.12", "A", "pfn", "f01", 0, False, True, True, False, False, False, True),
    Era("5.12", "A", "pfn", "f02", 0, False, True, True, False, False, False, True),
    Era("5.17", "A", "pfn", "f02", 0, False, True, True, True, False, False, True),
    Era("6.1", "A", "pfn", "f02", 0, False, True, True, True, False, False, True),
    Era("6.6", "A", "pfn", "f02", 0, False, True, True, True, True, False, True),
    Era("6.9", "A", "pfn", "f02", 0, False, True, True, True, True, True, True),
]}


def era_of(name: str) -> Era:
    """The era called ``name`` (ValueError naming the known ones otherwise)."""
    if name not in ERAS:
        raise ValueError(f"unknown era {name!r}; known: {', '.join(ERAS)}")
    return ERAS[name]
