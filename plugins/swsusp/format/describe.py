"""What an image says about itself, as rows (`linux.swsusp_info` renders them; no Volatility).

Every offset comes from the structure declarations (structs.py), so a row's offset is where a
hex editor shows the field.
"""

from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Tuple

from .header import decode_flags
from .image import SwsuspImage
from .structs import IMAGE_HEADER_INFO, SWSUSP_INFO

Warn = Callable[[str], None]
Progress = Optional[Callable[[float, str], None]]

MAX_RUN_ROWS = 4096  # per damaged part: a truncated multi-GiB image can lose many runs


@dataclass(frozen=True)
class Row:
    section: str
    field: str
    value: str
    offset: Optional[int] = None  # in the input file, where the value is stored
    depth: int = 0  # 1: a child of the row before (the lost PFN runs of a damaged part)


def _runs(pfns) -> List[List[int]]:
    """Sorted PFNs as [first, last] runs."""
    runs: List[List[int]] = []
    for pfn in pfns:
        if runs and pfn == runs[-1][1] + 1:
            runs[-1][1] = pfn
        else:
            runs.append([pfn, pfn])
    return runs


def _at(base: Optional[int], delta: int) -> Optional[int]:
    return None if base is None else base + delta


def input_rows(image: SwsuspImage) -> Iterator[Row]:
    loc = image.location
    yield Row("input", "location", loc.how, loc.header_offset)
    yield Row("input", "partition offset", f"{loc.partition.offset:#x} ({loc.partition.name})", loc.partition.offset)
    yield Row("input", "resume_offset", str(loc.resume_offset))
    if loc.block_base:
        yield Row("input", "block_base", str(loc.block_base))


def header_rows(image: SwsuspImage) -> Iterator[Row]:
    h = image.header
    yield Row("header", "image kind", image.kind)
    yield Row("header", "signature", h.signature, h.field_offset("sig"))
    yield Row("header", "orig_sig", h.orig_sig.rstrip(b"\0").decode("ascii", "replace"), h.field_offset("orig_sig"))
    yield Row("header", "state", "CONSUMED (signature reset by a resume; data intact)" if h.consumed else "live image")
    yield Row("header", "layout", f"{h.layout.name} ({h.layout.era})")
    if image.uswsusp:
        u = image.uswsusp
        yield Row("header", "image (byte offset of image_header_info)", f"{h.image:#x}", h.field_offset("image"))
        yield Row("s2disk", "flags", f"{u.flags:#x} {' '.join(u.flag_names) or '(none)'}",
                  u.offset + IMAGE_HEADER_INFO.offset("flags"))
        yield Row("s2disk", "pages", str(u.pages), u.offset + IMAGE_HEADER_INFO.offset("pages"))
        yield Row("s2disk", "map_start", f"{u.map_start:#x}", u.offset + IMAGE_HEADER_INFO.offset("map_start"))
        yield Row("s2disk", "image_data_size", str(u.image_data_size),
                  u.offset + IMAGE_HEADER_INFO.offset("image_data_size"))
    else:
        yield Row("header", "image (first swap_map_page)", str(h.image), h.field_offset("image"))
    if h.field_offset("flags") is not None:
        yield Row("header", "flags", f"{h.flags:#x} {' '.join(decode_flags(h.flags)) or '(none)'}",
                  h.field_offset("flags"))
    if h.hw_sig_valid:
        yield Row("header", "hw_sig", f"{h.hw_sig:#010x}", h.field_offset("hw_sig"))
    yield Row("header", "mkswap last_page", str(h.last_page), h.field_offset("last_page"))


def stream_rows(image: SwsuspImage, check: bool, warn: Warn, progress: Progress = None) -> Iterator[Row]:
    """The codec, the map, and the CRC32 (s2disk: MD5) computed unless `check` is False."""
    yield Row("stream", "codec", image.codec)
    for note in image.codec_notes:
        warn(f"Hibernation image header: {note}")
        yield Row("stream", "codec note", note, image.header.field_offset("flags"))
    yield Row("stream", "extents pages" if image.uswsusp else "swap_map pages", str(len(image.swap_map.map_blocks)))
    yield Row("stream", "stream entries", str(len(image.swap_map)))
    if image.codec != "none":
        yield Row("stream", "compressed blocks", str(image.nr_blocks))
    if image.uswsusp:
        yield from _md5_rows(image, check, warn, progress)
    else:
        yield from _crc_rows(image, check, warn, progress)


def _crc_rows(image: SwsuspImage, check: bool, warn: Warn, progress: Progress) -> Iterator[Row]:
    h = image.header
    stored = f"{h.crc32:#010x}" if h.crc32_valid else "not recorded (no SF_CRC32_MODE)"
    yield Row("stream", "crc32 stored", stored, h.field_offset("crc32") if h.crc32_valid else None)
    if not check:
        return
    computed = image.compute_crc32(progress)
    if computed is None:
        verdict = f"not computable: {len(image.damage)} damaged part(s) of the stream (see damage)"
    elif not h.crc32_valid:
        verdict = f"{computed:#010x} (nothing to compare)"
    elif computed == h.crc32:
        verdict = f"{computed:#010x} MATCH"
    else:
        verdict = f"{computed:#010x} MISMATCH: the image data differs from what was written"
        warn(f"Hibernation image CRC32 mismatch: stored {h.crc32:#010x}, computed {computed:#010x}")
    yield Row("stream", "crc32 computed", verdict)


def _md5_rows(image: SwsuspImage, check: bool, warn: Warn, progress: Progress) -> Iterator[Row]:
    u = image.uswsusp
    assert u is not None
    stored = u.checksum.hex() if image.md5_valid else "not recorded (no IMAGE_CHECKSUM)"
    yield Row("stream", "md5 stored", stored,
              u.offset + IMAGE_HEADER_INFO.offset("checksum") if image.md5_valid else None)
    if not check or not image.md5_valid:
        return
    digest = image.compute_md5(progress)
    if digest is None:
        yield Row("stream", "md5 computed", f"not computable: {len(image.damage)} damaged part(s) of the stream")
        return
    computed = digest.hex()
    if computed == stored:
        yield Row("stream", "md5 computed", f"{computed} MATCH")
    else:
        warn(f"s2disk image MD5 mismatch: stored {stored}, computed {computed}")
        yield Row("stream", "md5 computed", f"{computed} MISMATCH: the image data differs from what was written")


def damage_rows(image: SwsuspImage, checked: bool, warn: Warn) -> Iterator[Row]:
    """Salvage: which pages are missing and why (a CRC pass found every damaged block;
    `checked` False says compressed blocks were not all read)."""
    checked = checked or image.codec == "none"
    for note in image.size_warnings:  # a size field the image's own structure contradicts
        warn(f"Hibernation image size field damaged: {note}")
        yield Row("damage", "size field", note)
    yield from _rejected_rows(image, warn)
    if not image.damage:
        if not image.rejected:
            yield Row("damage", "summary", "none: every page listed is readable" if checked
                      else "not checked (--no-crc: compressed blocks not read)")
        return
    lost = [image.damaged_pfns(d) for d in image.damage]
    total, data_pages = sum(map(len, lost)), len(image.pfns.data_pfns)
    warn(f"Hibernation image damaged: {total} of {data_pages} data pages unreadable in {len(image.damage)} "
         "part(s); the other pages are intact")
    known = "" if checked else " (so far: --no-crc left compressed blocks unread)"
    yield Row("damage", "summary", f"{total} of {data_pages} data pages unreadable in {len(image.damage)} "
              f"damaged part(s){known}; all other pages are readable")
    for damage, pfns in zip(image.damage, lost):
        runs = _runs(pfns)
        yield Row("damage", damage.where, f"{len(pfns)} pages lost in {len(runs)} PFN run(s): {damage.error.reason}",
                  damage.error.offset)
        for first, last in runs[:MAX_RUN_ROWS]:  # the full list, one child row per run
            text = f"{first:#x}-{last:#x} ({last - first + 1} pages)" if last > first else f"{first:#x} (1 page)"
            yield Row("damage", "lost PFNs", text, depth=1)
        if len(runs) > MAX_RUN_ROWS:
            yield Row("damage", "lost PFNs", f"… {len(runs) - MAX_RUN_ROWS} more runs", depth=1)


def rejected_warning(image: SwsuspImage) -> Optional[str]:
    """One line for the PFN-list entries rejected as implausible (None when there are none)."""
    rejected = image.rejected
    if not rejected:
        return None
    first = rejected[0]
    more = f" (and {len(rejected) - 1} more entries)" if len(rejected) > 1 else ""
    return (f"Hibernation image PFN list damaged: {first.message}, at file offset {first.offset:#x}{more}; "
            "the other pages are intact")


def _rejected_rows(image: SwsuspImage, warn: Warn) -> Iterator[Row]:
    """PFN-list entries a bit error made implausible: each costs its own page only."""
    line = rejected_warning(image)
    if line is None:
        return
    warn(line)
    lost = sum(r.data_page is not None for r in image.rejected)
    yield Row("damage", "PFN list", f"{len(image.rejected)} implausible entries rejected, {lost} data pages "
              "not placed (their PFN is unknown); all other pages are readable")
    for r in image.rejected:
        page = "" if r.data_page is None else f" (stream page {image.data_page_first + r.data_page})"
        yield Row("damage", f"PFN list entry #{r.index}{page}", r.message, r.offset)


def info_rows(image: SwsuspImage) -> Iterator[Row]:
    info = image.info
    # an s2disk image compresses its swsusp_info page: no file offset inside it
    base = None if image.uswsusp and image.codec != "none" else info.offset

    def at(field: str) -> Optional[int]:
        return _at(base, SWSUSP_INFO.offset(field))

    yield Row("swsusp_info", "num_physpages", str(info.num_physpages), at("num_physpages"))
    yield Row("swsusp_info", "image_pages", str(info.image_pages), at("image_pages"))
    stored_pages, stored_size = info.stored or (info.pages, info.size)
    for field, value, stored in (("pages", info.pages, stored_pages), ("size", info.size, stored_size)):
        text = str(value) if value == stored else f"{value} (the file holds {stored}: damaged, see damage)"
        yield Row("swsusp_info", field, text, at(field))
    yield Row("swsusp_info", "metadata (PFN list) pages", str(info.meta_pages))
    if info.version_code:
        yield Row("swsusp_info", "version_code", f"{info.version_code:#x} ({info.kernel_version})", at("version_code"))
        yield Row("swsusp_info", "cpus", str(info.cpus), at("cpus"))
    if info.uts:
        for name, value in info.uts.items():
            yield Row("swsusp_info", f"uts.{name}", value)

    record = info.record
    if record is None:
        yield Row("restore_data_record", "present", "no (x86-64 kernel before 2.6.24: uts written instead)")
        return

    def rec(field: str) -> Optional[int]:
        return _at(base, record.struct.offset(field))

    yield Row("restore_data_record", "magic", f"{record.magic:#018x} {record.layout}")
    yield Row("restore_data_record", "jump_address", f"{record.jump_address:#x}", rec("jump_address"))
    if record.jump_address_phys is not None:
        yield Row("restore_data_record", "jump_address_phys", f"{record.jump_address_phys:#x}",
                  rec("jump_address_phys"))
        yield Row("restore_data_record", "phys_base", f"{record.phys_base:#x}")
    yield Row("restore_data_record", "cr3", f"{record.cr3:#x}", rec("cr3"))
    if record.e820_digest is not None:
        yield Row("restore_data_record", "e820_digest (MD5)", record.e820_digest.hex(), rec("e820_digest"))
    if record.e820_checksum is not None:
        yield Row("restore_data_record", "e820_checksum", f"{record.e820_checksum:#010x}", rec("e820_checksum"))


def memory_rows(image: SwsuspImage) -> Iterator[Row]:
    yield Row("memory", "PFN list form", image.pfns.form)
    yield Row("memory", "PFN list ascending", str(image.pfns.ascending))
    yield Row("memory", "PFN range", f"{image.min_pfn:#x}-{image.max_pfn:#x}")
    limit = image.pfns.pfn_limit
    yield Row("memory", "PFN plausibility limit",
              f"{limit:#x} (num_physpages plus as much again for holes, at least 4 GiB)" if limit is not None
              else "none (num_physpages is fewer than image_pages: not the machine's)")
    yield Row("memory", "data pages", str(len(image.pfns.data_pfns)))
    yield Row("memory", "zero pages (6.6+, not stored)", str(image.zero_page_count))
    yield Row("memory", "index bytes", str(image.index_nbytes()))


def banner_rows(banners: List[Tuple[int, bytes]]) -> Iterator[Row]:
    """The kernel banners `SwsuspImage.find_banners()` found, with their physical addresses."""
    if not banners:
        yield Row("kernel", "banner", "not found")
    for address, banner in banners:
        text = banner.rstrip(b"\0").decode("latin-1").rstrip("\n")
        yield Row("kernel", "banner at physical address", text, address)
