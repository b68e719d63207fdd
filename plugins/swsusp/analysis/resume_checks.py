"""The boot kernel's resume checks, replayed offline in the kernel's order (docs/format.md §17).

software_resume() (kernel/power/hibernate.c) -> swsusp_check() (kernel/power/swap.c: the
signature, 5.17+ the hardware signature) -> 6.9+ the compressor -> swsusp_read() ->
snapshot_write_next() -> load_header() -> check_header() (kernel/power/snapshot.c), whose
check_image_kernel() on x86-64 is arch_hibernation_header_restore()
(arch/x86/power/hibernate.c: the record's magic, 4.11+ the e820 digest, 5.12+ its CRC32),
then num_physpages -> unpack_orig_pfns() -> load_compressed_image() / load_image() -> the
image CRC32.  x86-64 compares no kernel version: the restore record replaces utsname, and
any kernel that accepts the record may resume the image.

Each check yields a `Check`: pass, FAIL (with the kernel's own console message) or
`not checked` (a fact missing, and which); the first FAIL is the verdict, later checks still
run on what is known.  Nothing here imports Volatility or the format: the image side is read
structurally (`ImageSide.of`), the boot side is a `BootFacts`.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from .boot_facts import SECTION_PAGES, BootFacts, E820Entry, Fact, e820_crc32, e820_md5
from .boot_text import kernel_param, kernel_param_values

PASS, FAIL, NOT_CHECKED = "pass", "FAIL", "not checked"

HIBERNATE_SIG = "S1SUSPEND"
SF_NOCOMPRESS_MODE, SF_CRC32_MODE, SF_HW_SIG, SF_COMPRESSION_ALG_LZ4 = 2, 4, 8, 16

# RESTORE_MAGIC of arch/x86/power/hibernate*.c (format/info.py has them with their layouts)
MAGIC_V1, MAGIC_V2, MAGIC_V3, MAGIC_V4 = (0x0123456789ABCDEF, 0x123456789ABCDEF0,
                                          0x23456789ABCDEF01, 0x23456789ABCDEF02)
MAGIC_SINCE = ((5, 12, MAGIC_V4), (4, 11, MAGIC_V3), (4, 7, MAGIC_V2), (2, 6, MAGIC_V1))

E820_NAMES = {1: "usable", 2: "reserved", 3: "ACPI data", 4: "ACPI NVS", 5: "unusable"}  # e820_print_type()
ARCH_MISMATCH = "PM: hibernation: Image mismatch: architecture specific data"
NOT_FOUND = "PM: Image not found (code -22)"  # swsusp_check() fails (pr_debug): software_resume gives up
RECOVERING = "PM: hibernation: Failed to load image, recovering."  # load_image_and_restore(), after a load error
Progress = Optional[Callable[[float, str], None]]


@dataclass(frozen=True)
class Check:
    """One row: the check, its result, the kernel's message (or why not checked), the two
    values compared, and where the boot value came from."""

    name: str
    result: str
    message: str
    image: str
    boot: str
    source: str = ""


@dataclass(frozen=True)
class ImageSide:
    """What the checks read of the image (its header, swsusp_info, restore record, PFNs)."""

    signature: str
    consumed: bool
    uswsusp: bool
    flags: int
    hw_sig: Optional[int]  # the header's hw_sig when its layout has one
    header_block: int  # resume_offset: the header's block in its partition / filesystem
    container: str  # where the header was found, e.g. "whole file", "GPT partition 2"
    swap_uuid: Optional[str]
    record_magic: Optional[int]
    e820_checksum: Optional[int]
    e820_digest: Optional[bytes]
    num_physpages: int
    codec: str  # "none", "lzo", "lz4"
    crc32: Optional[int]  # stored, when SF_CRC32_MODE
    pfn_runs: Callable[[], Iterable[Tuple[int, int]]]  # (first PFN, count), ascending
    pfn_count: int

    @classmethod
    def of(cls, image) -> "ImageSide":
        """Read structurally from a format.image.SwsuspImage."""
        h, info = image.header, image.info
        record = info.record
        has_hw = "hw_sig" in h.layout.struct
        uuid_bytes = bytes(h.uuid or b"")
        return cls(
            signature=h.signature, consumed=h.consumed, uswsusp=image.uswsusp is not None,
            flags=h.flags, hw_sig=h.hw_sig if has_hw else None,
            header_block=image.location.resume_offset, container=image.location.partition.name,
            swap_uuid=str(uuid.UUID(bytes=uuid_bytes)) if any(uuid_bytes) and len(uuid_bytes) == 16 else None,
            record_magic=record.magic if record else None,
            e820_checksum=getattr(record, "e820_checksum", None),
            e820_digest=getattr(record, "e820_digest", None),
            num_physpages=info.num_physpages, codec=image.codec,
            crc32=h.crc32 if h.crc32_valid else None,
            pfn_runs=image.runs,
            pfn_count=len(image.pfns.data_pfns) + len(image.pfns.zero_pfns),
        )


@dataclass(frozen=True)
class StreamResult:
    """What reading the whole stream found: the CRC32 of the uncompressed stream (None when
    damage stopped it) and one line per damaged part."""

    crc32: Optional[int]
    damage: Tuple[str, ...]


# -- helpers --------------------------------------------------------------------------------

def _hex(value: Optional[int], width: int = 8) -> str:
    return "unknown" if value is None else f"{value:#0{width + 2}x}"


def _src(*facts: Optional[Fact]) -> str:
    return "; ".join(dict.fromkeys(f.source for f in facts if f is not None))


def _missing(what: str, how: str) -> str:
    return f"no {what} of the boot kernel ({how})"


def _at_least(boot: BootFacts, major: int, minor: int) -> Optional[bool]:
    k = boot.kernel
    return None if k is None else k.at_least(major, minor)


def _release(boot: BootFacts) -> str:
    return boot.release.value if boot.release else "unknown kernel"


# -- the checks, in the kernel's order ------------------------------------------------------

def _hibernate_flags(line: str) -> List[str]:
    """hibernate_setup() runs for every hibernate= and matches prefixes: "noresume..." sets
    noresume, "nocompress..." nothing here, any other "no..." noresume and nohibernate."""
    out = []
    for value in kernel_param_values(line, "hibernate"):
        if value.startswith("no") and not value.startswith("nocompress"):
            out.append(f"hibernate={value}")
    return out


def resume_requested(img: ImageSide, boot: BootFacts) -> Check:
    """software_resume(): `noresume` (and hibernate=noresume) skips the resume; `nohibernate`,
    hibernate=no and kernel lockdown make hibernation_available() false (5.4+), which skips it
    too.  Silently, but for lockdown's one notice."""
    name = "resume requested (software_resume)"
    if boot.cmdline is None and boot.lockdown is None:
        return Check(name, NOT_CHECKED, _missing("command line", "--boot-dump, or cmdline in --boot-facts"), "-",
                     "unknown")
    line = boot.cmdline.value if boot.cmdline else ""
    why = [w for w in ("noresume", "nohibernate") if kernel_param(line, w) is not None] + _hibernate_flags(line)
    locked = _lockdown(boot, line)
    if why:
        return Check(name, FAIL, f"(no message: {', '.join(why)} on the command line skips the resume; "
                     "initramfs resume tools honour noresume too)", "an image to resume", " ".join(why),
                     _src(boot.cmdline))
    if locked:
        level, source = locked
        return Check(name, FAIL, "Lockdown: ...: hibernation is restricted; see man kernel_lockdown.7",
                     "an image to resume", f"lockdown={level}", source)
    note = "" if boot.lockdown or kernel_param(line, "lockdown") is not None else \
        "lockdown not known (a Secure Boot lockdown also skips the resume: lockdown in --boot-facts)"
    return Check(name, PASS, note, "an image to resume", "no noresume/nohibernate/lockdown",
                 _src(boot.cmdline, boot.lockdown))


def _lockdown(boot: BootFacts, line: str) -> Optional[Tuple[str, str]]:
    """The lockdown level that forbids hibernation (integrity and above), and its source."""
    if boot.lockdown is not None:
        level = boot.lockdown.value
        return (level, boot.lockdown.source) if level in ("integrity", "confidentiality") else None
    asked = kernel_param(line, "lockdown")
    if asked in ("integrity", "confidentiality") and boot.cmdline is not None:
        return asked, boot.cmdline.source
    return None


def _llu(text: str) -> int:
    """resume_offset_setup(): sscanf("%llu") takes the leading decimal digits ("0x8800" is 0);
    none leaves swsusp_resume_block 0."""
    digits = re.match(r"\s*\+?(\d+)", text)
    return int(digits.group(1)) if digits else 0


def _resume_device(boot: BootFacts, line: Optional[str]) -> Tuple[Optional[str], List[Optional[Fact]]]:
    """swsusp_resume_device as the resume saw it: set at run time (a dump, /sys/power/resume
    written by an initramfs) else named by resume= (the kernel or an initramfs resolves it)."""
    if boot.resume_device and boot.resume_device.value not in ("0:0", ""):
        return boot.resume_device.value, [boot.resume_device]
    device = kernel_param(line, "resume") if line is not None else None
    return (device or None), [boot.cmdline]


def _resume_offset(boot: BootFacts, line: Optional[str]) -> Tuple[int, List[Optional[Fact]]]:
    """swsusp_resume_block: the run-time value (a dump, /sys/power/resume_offset) else
    resume_offset= as the kernel parses it, else 0."""
    if boot.resume_offset is not None:
        return boot.resume_offset.value, [boot.resume_offset]
    text = kernel_param(line, "resume_offset") if line is not None else None
    return (_llu(text) if text is not None else 0), [boot.cmdline]


def resume_location(img: ImageSide, boot: BootFacts) -> Check:
    """swsusp_check() reads the header page at swsusp_resume_block (resume_offset=, in pages)
    of swsusp_resume_device (resume=).  A device path or MAJ:MIN cannot be matched with an
    image file (the offset is checked, the device is taken to be the input); a UUID= is the
    swap header's (mkswap's) UUID when the header is at block 0."""
    name = "resume location (swsusp_check)"
    line = boot.cmdline.value if boot.cmdline else None
    device, device_facts = _resume_device(boot, line)
    offset, offset_facts = _resume_offset(boot, line)
    source = _src(*device_facts, *offset_facts)
    image = f"{img.container}, block {img.header_block}" + (f", UUID {img.swap_uuid}" if img.swap_uuid else "")
    if device is None:
        if boot.cmdline is None and boot.resume_device is None:
            return Check(name, NOT_CHECKED, _missing("resume device", "--boot-dump, or cmdline or power in "
                         "--boot-facts"), image, "unknown", source)
        return Check(name, NOT_CHECKED, "no resume= and no device in /sys/power/resume: an initramfs may name one "
                     "(initramfs-tools RESUME=, systemd's HibernateLocation)", image, f"resume_offset={offset}",
                     source)
    booted = f"resume={device} resume_offset={offset}"
    if offset != img.header_block:
        return Check(name, FAIL, f"{NOT_FOUND} (debug message; block {offset} holds no image header)", image,
                     booted, source)
    wanted = device[5:] if device.upper().startswith("UUID=") else None
    if wanted and img.header_block == 0 and img.swap_uuid and wanted.lower() != img.swap_uuid.lower():
        return Check(name, FAIL, f"{NOT_FOUND} (debug message; resume= names another swap area)", image, booted,
                     source)
    note = "" if wanted else f"the header is at resume_offset; the device {device} is taken to be this input"
    return Check(name, PASS, note, image, booted, source)


def signature(img: ImageSide, boot: BootFacts) -> Check:
    """swsusp_check(): the header's sig must be HIBERNATE_SIG; the check resets it, so an
    image a resume attempt already read is found no more (consumed)."""
    name = "signature (swsusp_check)"
    if img.signature == HIBERNATE_SIG and not img.consumed:
        return Check(name, PASS, "", img.signature, HIBERNATE_SIG)
    if img.consumed:
        why = "consumed: an earlier resume attempt reset the signature to the swap one"
    elif img.uswsusp:
        why = "an s2disk image: only its userspace resume program loads it"
    else:
        why = "no hibernation signature"
    return Check(name, FAIL, f"{NOT_FOUND} (debug message; {why})", img.signature, HIBERNATE_SIG)


def hardware_signature(img: ImageSide, boot: BootFacts) -> Check:
    """swsusp_check() 5.17+: with SF_HW_SIG the header's hw_sig must equal the boot kernel's
    swsusp_hardware_signature (the ACPI FACS signature, kept only with acpi_sleep=s4_hwsig)."""
    name = "hardware signature (swsusp_check)"
    boot_value = boot.hw_signature.value if boot.hw_signature else None
    boot_text = _hex(boot_value)
    if not (img.flags & SF_HW_SIG) or img.hw_sig is None:
        return Check(name, PASS, "SF_HW_SIG clear: the kernel compares nothing", "none (SF_HW_SIG clear)",
                     boot_text, _src(boot.hw_signature))
    image = _hex(img.hw_sig)
    if _at_least(boot, 5, 17) is False:
        return Check(name, PASS, f"{_release(boot)} predates the check (5.17)", image, boot_text, _src(boot.release))
    if boot_value is None:
        return Check(name, NOT_CHECKED, _missing("swsusp_hardware_signature", "--boot-dump, or FACS and cmdline "
                     "in --boot-facts"), image, "unknown")
    if boot_value != img.hw_sig:
        return Check(name, FAIL, f"PM: Suspend image hardware signature mismatch ({img.hw_sig:08x} now "
                     f"{boot_value:08x}); aborting resume.", image, boot_text, _src(boot.hw_signature))
    return Check(name, PASS, "", image, boot_text, _src(boot.hw_signature))


def compressor(img: ImageSide, boot: BootFacts) -> Check:
    """software_resume() 6.9+: crypto_has_comp() for the image's codec (SF_COMPRESSION_ALG_LZ4
    or LZO), which loads a crypto-<name> module on demand.  LZO is always there: built in
    before 6.9 (CONFIG_HIBERNATION selects LZO_COMPRESS), selected as CRYPTO_LZO from 6.9.
    Before 6.9 the LZ4 flag is unknown: an LZ4 image's blocks are read as LZO and fail."""
    new = _at_least(boot, 6, 9)
    name = "compressor (load_image_lzo)" if new is False else "compressor (software_resume)"
    if img.codec == "none":
        return Check(name, PASS, "", "none (SF_NOCOMPRESS_MODE)", "-")
    have = ", ".join(boot.codecs.value) or "none" if boot.codecs else "unknown"
    if img.codec == "lzo":
        built_in = "lzo (built in before 6.9)" if new is False else "lzo (CONFIG_HIBERNATION selects it)"
        return Check(name, PASS, "", "lzo", built_in, _src(boot.release))
    if new is False:
        return Check(name, FAIL, f"PM: LZO decompression failed / {RECOVERING} (LZ4 "
                     "images are 6.9+: an older kernel reads their blocks as LZO)", img.codec, "lzo only (before 6.9)",
                     _src(boot.release))
    if boot.codecs is not None and img.codec in boot.codecs.value:
        return Check(name, PASS, "", img.codec, have, _src(boot.codecs))
    missing = f"PM: hibernation: {img.codec} compression is not available"
    modules = boot.codec_modules
    if modules is not None and img.codec in modules.value:
        return Check(name, NOT_CHECKED, f"{img.codec} is a module, not loaded: the kernel loads it on demand if the "
                     f"initramfs holds it, else \"{missing}\"", img.codec, f"{have}; module {img.codec}",
                     _src(boot.codecs, modules))
    if modules is not None and boot.codecs is not None:  # the config says: not built at all
        return Check(name, FAIL, missing, img.codec, have, _src(boot.codecs, modules))
    how = "the kernel release" if new is None else "config in --boot-facts"
    return Check(name, NOT_CHECKED, _missing(f"build of {img.codec} (built in, module or absent)", how), img.codec,
                 have, _src(boot.release, boot.codecs))


def expected_magic(boot: BootFacts) -> Optional[Fact[int]]:
    """The RESTORE_MAGIC the boot kernel compares with: read from its code, else by release."""
    if boot.restore_magic is not None:
        return boot.restore_magic
    version = boot.kernel.version if boot.kernel else None
    if version is None:
        return None
    for major, minor, magic in MAGIC_SINCE:
        if version >= (major, minor):
            return Fact(magic, f"by release {boot.release.value if boot.release else ''} "
                               "(a stable or vendor kernel may carry a later record)")
    return None


def record_magic(img: ImageSide, boot: BootFacts) -> Check:
    """arch_hibernation_header_restore(): rdr->magic must be the boot kernel's RESTORE_MAGIC,
    else "Unrecognized hibernate image header format!" and check_header() fails."""
    name = "restore record (arch_hibernation_header_restore)"
    if img.record_magic is None:
        return Check(name, NOT_CHECKED, "the image has no x86-64 restore record (a kernel before 2.6.24)",
                     "none", "-")
    magic = expected_magic(boot)
    image = _hex(img.record_magic, 16)
    if magic is None:
        return Check(name, NOT_CHECKED, _missing("RESTORE_MAGIC", "--boot-dump, or uname in --boot-facts"), image,
                     "unknown")
    if magic.value != img.record_magic:
        return Check(name, FAIL, f"Unrecognized hibernate image header format! / {ARCH_MISMATCH} / {RECOVERING}", image,
                     _hex(magic.value, 16), magic.source)
    return Check(name, PASS, "", image, _hex(magic.value, 16), magic.source)


def memory_map(img: ImageSide, boot: BootFacts) -> Check:
    """arch_hibernation_header_restore() 4.11+: the record's digest of e820_table_firmware
    (MD5 to 5.11, CRC32 from 5.12, compared as the record's whole unsigned long) must be the
    boot kernel's.  An all-zero MD5 digest (the hibernating kernel had no built-in MD5) is let go."""
    name = "memory map (arch_hibernation_header_restore)"
    if img.e820_checksum is None and img.e820_digest is None:
        return Check(name, PASS, "the record holds no memory map digest (before 4.11)", "none", "-")
    digest = bytes(img.e820_digest or b"")
    if img.e820_checksum is None and not any(digest):
        return Check(name, PASS, "no MD5 digest in the record (no built-in MD5 when it hibernated): let go",
                     "MD5 none", "-")
    table = boot.e820_firmware
    image = f"CRC32 {_hex(img.e820_checksum)}" if img.e820_checksum is not None else f"MD5 {digest.hex()}"
    if table is None:
        return Check(name, NOT_CHECKED, _missing("e820 table", "--boot-dump, or memmap or dmesg in --boot-facts"),
                     image, "unknown")
    entries = table.value
    if img.e820_checksum is not None:
        value = e820_crc32(entries)
        same = value == img.e820_checksum
        boot_text = f"CRC32 {_hex(value)} of {len(entries)} entries"
    else:
        boot_digest = e820_md5(entries)
        same = boot_digest == digest
        boot_text = f"MD5 {boot_digest.hex()} of {len(entries)} entries"
    if not same:
        return Check(name, FAIL, f"Hibernate inconsistent memory map detected! / {ARCH_MISMATCH} / {RECOVERING}",
                     image, f"{boot_text}: {describe_e820(entries)}", table.source)
    return Check(name, PASS, "", image, boot_text, table.source)


def describe_e820(entries: Sequence[E820Entry], limit: int = 8) -> str:
    """The table, short, as the boot log's BIOS-e820 lines give it: what a user holds against
    the log of the boot that hibernated (the image keeps only the digest)."""
    shown = ", ".join(f"{e.addr:#x}-{e.end - 1:#x} {E820_NAMES.get(e.type, e.type)}" for e in entries[:limit])
    more = f" (+{len(entries) - limit})" if len(entries) > limit else ""
    return f"{shown}{more}"


def memory_size(img: ImageSide, boot: BootFacts) -> Check:
    """check_header(): info->num_physpages must be get_num_physpages() of the boot kernel."""
    name = "memory size (check_header)"
    image = f"{img.num_physpages} pages ({img.num_physpages * 4096 >> 20} MiB)"
    if boot.num_physpages is None:
        return Check(name, NOT_CHECKED, _missing("num_physpages", "--boot-dump, or zoneinfo, memmap or dmesg in "
                     "--boot-facts"), image, "unknown")
    value = boot.num_physpages.value
    boot_text = f"{value} pages ({value * 4096 >> 20} MiB)"
    if value != img.num_physpages:
        return Check(name, FAIL, f"PM: hibernation: Image mismatch: memory size / {RECOVERING}", image, boot_text,
                     boot.num_physpages.source)
    return Check(name, PASS, "", image, boot_text, boot.num_physpages.source)


def page_frames(img: ImageSide, boot: BootFacts) -> Check:
    """unpack_orig_pfns(): each PFN must be pfn_valid() (its 128 MiB memory section holds RAM)
    and inside the boot kernel's zones (memory_bm_pfn_present()); the first that is not ends
    the load with -EFAULT, with a message only when pfn_valid() failed."""
    name = "page frames (unpack_orig_pfns)"
    if boot.ram_pfns is None:
        return Check(name, NOT_CHECKED, _missing("RAM ranges", "--boot-dump, or memmap, dmesg or iomem in "
                     "--boot-facts"), f"{img.pfn_count} PFNs", "unknown")
    ranges = boot.ram_pfns.value
    if not ranges:
        return Check(name, NOT_CHECKED, "the boot memory map lists no RAM", f"{img.pfn_count} PFNs", "no RAM",
                     boot.ram_pfns.source)
    low = min(first for first, _ in ranges)
    high = boot.max_pfn.value if boot.max_pfn else max(end for _, end in ranges)
    sections = {s for first, end in ranges for s in range(first // SECTION_PAGES, (end - 1) // SECTION_PAGES + 1)}
    source = _src(boot.ram_pfns, boot.max_pfn)
    boot_text = f"PFNs {low:#x}-{high - 1:#x} ({len(ranges)} RAM ranges)"
    last = 0
    for first, count in img.pfn_runs():
        last = first + count - 1
        bad = _first_invalid(first, count, low, high, sections)
        if bad is not None:
            pfn, valid = bad
            message = (f"{RECOVERING} (no other message: PFN {pfn:#x} is outside the boot kernel's zones, -EFAULT)"
                       if valid else
                       f"PM: hibernation: [Firmware Bug]: Memory map mismatch at {pfn << 12:#x} after hibernation / "
                       f"{RECOVERING}")
            return Check(name, FAIL, message, f"PFN {pfn:#x} (of {img.pfn_count})", boot_text, source)
    return Check(name, PASS, "", f"{img.pfn_count} PFNs up to {last:#x}", boot_text, source)


def _first_invalid(first: int, count: int, low: int, high: int, sections: set) -> Optional[Tuple[int, bool]]:
    """The first PFN of a run the boot kernel refuses, and whether it was pfn_valid()."""
    end = first + count
    for s in range(first // SECTION_PAGES, (end - 1) // SECTION_PAGES + 1):
        lo, hi = max(first, s * SECTION_PAGES), min(end, (s + 1) * SECTION_PAGES)
        if s not in sections:
            return lo, False
        if lo < low:
            return lo, True
        if hi > high:
            return max(lo, high), True
    return None


def _algo(img: ImageSide, boot: BootFacts) -> str:
    """The codec as the kernel's messages name it: "LZO" before 6.9, hib_comp_algo from 6.9."""
    return img.codec if _at_least(boot, 6, 9) else "LZO"


def image_data(img: ImageSide, boot: BootFacts, stream: Optional[StreamResult]) -> Check:
    """swsusp_read() -> load_image_lzo() (6.9: load_compressed_image()) / load_image(): every
    block must read and decompress, every page read."""
    name = "image data (swsusp_read)"
    if stream is None:
        return Check(name, NOT_CHECKED, "the stream was not read (--no-crc)", img.codec, "-")
    if stream.damage:
        first = stream.damage[0]
        more = f" (+{len(stream.damage) - 1} more)" if len(stream.damage) > 1 else ""
        if img.codec == "none":
            message = "PM: Read-error on swap-device (a page the map names cannot be read)"
        elif "length" in first.lower():
            message = f"PM: Invalid {_algo(img, boot)} compressed length"
        else:
            message = f"PM: {_algo(img, boot)} decompression failed"
        return Check(name, FAIL, f"{message} / {RECOVERING}", f"{first}{more}", "-")
    return Check(name, PASS, "", "every block reads" if img.codec != "none" else "every page reads", "-")


def image_crc(img: ImageSide, boot: BootFacts, stream: Optional[StreamResult]) -> Check:
    """load_image_lzo() / load_compressed_image(): with SF_CRC32_MODE the CRC32 of the loaded
    pages must be the header's, else "Invalid image CRC32!" and the resume is abandoned
    (load_image(), for uncompressed images, checks none)."""
    name = "image CRC32 (swsusp_read)"
    if img.codec == "none":
        return Check(name, PASS, "an uncompressed image is loaded without a CRC32 check", "-", "-")
    if img.crc32 is None:
        return Check(name, PASS, "no CRC32 recorded (SF_CRC32_MODE clear)", "none", "-")
    stored = _hex(img.crc32)
    if stream is None:
        return Check(name, NOT_CHECKED, "the stream was not read (--no-crc)", stored, "-")
    if stream.crc32 is None:
        return Check(name, NOT_CHECKED, "damaged blocks: the CRC32 cannot be computed", stored, "-")
    if stream.crc32 != img.crc32:
        return Check(name, FAIL, f"PM: Invalid image CRC32! / {RECOVERING}", stored, f"computed {_hex(stream.crc32)}")
    return Check(name, PASS, "", stored, f"computed {_hex(stream.crc32)}")


BEFORE_LOAD = (resume_requested, resume_location, signature, hardware_signature, compressor,
               record_magic, memory_map, memory_size, page_frames)


def replay(img: ImageSide, boot: BootFacts, stream: Optional[StreamResult]) -> List[Check]:
    """Every check, in the kernel's order.  Before 6.9 no compressor is looked for: an LZ4
    image fails in load_image_lzo(), after check_header() and before the PFN list (which
    the compressed stream holds)."""
    order = list(BEFORE_LOAD)
    if _at_least(boot, 6, 9) is False:
        order.remove(compressor)
        order.insert(order.index(memory_size) + 1, compressor)
    checks = [check(img, boot) for check in order]
    return checks + [image_data(img, boot, stream), image_crc(img, boot, stream)]


def verdict(checks: Sequence[Check]) -> Check:
    """The first failing check decides; with none, the checks that could not be made are named."""
    failed = [c for c in checks if c.result == FAIL]
    if failed:
        first = failed[0]
        return Check("verdict", FAIL, f"resume fails at {first.name}: {first.message}", first.image, first.boot,
                     first.source)
    unknown = [c.name.split(" (")[0] for c in checks if c.result == NOT_CHECKED]
    note = f"every check made passes; not checked: {', '.join(unknown)}" if unknown else "every check passes"
    return Check("verdict", PASS if not unknown else NOT_CHECKED, note, "-", "-")
