"""One hibernation image of a synthetic machine: :func:`write_image` -> :class:`Facts`.

The steps, each in its module: the stream (:mod:`samples.image_stream`: swsusp_info, PFN list,
data pages, compressed blocks), the swap area and its allocator (:mod:`samples.containers`),
the kernel's swap_map_page chain and swsusp_header (:mod:`samples.swap_writer`) or the s2disk
writer (:mod:`samples.uswsusp`), and the container around the swap area.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import random
import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .containers import (
    CONTAINERS,
    SwapArea,
    SwapLayout,
    assemble,
    fill_other_users,
    mkswap_page,
    plan_swap_area,
)
from .eras import (
    HDR_CRC32,
    HDR_HW_SIG,
    HDR_ORIG_SIG,
    HDR_SIG,
    MAP_PAGE_ENTRIES,
    PAGE,
    RESTORE_MAGIC,
    Era,
    era_of,
)
from .image_stream import build_stream, compress_stream, crc32_le, e820_bytes
from .swap_writer import (
    mark_swapfiles,
    reset_swap_signature,
    swsusp_header_flags,
    write_swap_map_chain,
)
from .uswsusp import mark_swap, write_uswsusp

if TYPE_CHECKING:
    from .synthkernel import Machine


@dataclass
class Facts:
    """Everything written, for tests.  ``asdict(facts)`` is JSON-serialisable."""
    variant: str | None
    path: str
    file_size: int
    era: str
    kind: str                      # "swsusp" | "uswsusp"
    container: str                 # partition | swapfile | mbr | gpt | swapfile-copy
    partition_offset: int          # byte offset of the partition start in the file (may be < 0)
    partition_blocks: int          # size of the (possibly virtual) partition in 4 KiB blocks
    resume_offset: int             # block of the header inside the partition
    header_file_offset: int        # = partition_offset + resume_offset * 4096
    layout: str                    # A | B | C | uswsusp
    sig: str                       # latin-1 decoded 10 bytes
    orig_sig: str
    consumed: bool
    last_page: int                 # mkswap header last_page (of the swap area / swap file)
    image_field: int               # raw header `image` value (swp_entry for layout C, bytes for uswsusp)
    image_block: int               # block of the first map page (uswsusp: of the info page)
    swap_type: int | None
    flags: int | None              # None for layouts B/C
    crc32: int | None              # computed crc32_le(0, U) when SF_CRC32_MODE, else None
    crc32_field: int               # raw u32 @4060 (stale value possible when flag clear)
    hw_sig: int | None             # value when SF_HW_SIG set, else None
    hw_sig_field: int
    codec: str                     # none | lzo | lz4
    record: str | None             # cdef | def0 | f01 | f02 | None
    record_magic: int | None
    record_fields: dict[str, object]
    info: dict[str, object]        # swsusp_info fields as written
    map_blocks: list[int]          # chain order (uswsusp: extents pages)
    stream_blocks: list[int]       # block of every stream entry (entry 0 = info page)
    num_entries: int               # stream entries (map entries before the terminating 0)
    meta_pages: int                # M
    pfn_entries: list[int]         # raw u64 PFN-list entries (VA form / bit-63 as written)
    pfns: list[int]                # PFN order of the list (decoded)
    data_pfns: list[int]           # PFNs with a stored data page, in data-page order
    zero_pfns: list[int]           # PFNs encoded with bit 63 (6.6+), else []
    blocks: list[dict[str, int]]   # compressed blocks: {first_entry, stored_pages, unc_pages, cmp_len}
    num_blocks: int
    max_block_stored_pages: int
    uncompressed_stream_sha256: str  # of U = stream pages 1..pages-1
    e820_crc: int | None
    e820_md5: str | None
    machine: dict[str, object]     # summary: levels, cr3, page_offset, ...
    uswsusp: dict[str, object] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)
    swap: dict[str, object] = field(default_factory=dict)   # swapped-out memory (synth_swap)


def machine_summary(m: Machine) -> dict[str, object]:
    return {"levels": m.levels, "cr3": m.cr3, "cr3_record": m.cr3_record, "pti": m.pti,
            "sme_bit": m.sme_bit, "page_offset": m.page_offset, "phys_base": m.phys_base,
            "kernel_text_va": m.kernel_text_va, "kernel_text_pa": m.kernel_text_pa,
            "jump_address": m.jump_address, "jump_address_phys": m.jump_address_phys,
            "banner_pa": m.banner_pa, "release": m.release, "num_physpages": m.num_physpages,
            "max_pfn": m.max_pfn, "saved_pages": len(m.pages), "opts": m.opts}


# ---------------------------------------------------------------------------------------------
# options
def _check_options(e: Era, codec: str | None, container: str, map_start: int, scatter: bool,
                   uswsusp: bool, record: object) -> tuple[str, str | None]:
    """Refuse combinations no kernel wrote -> (codec, record) with the era's defaults."""
    era = e.name
    if codec is None:
        codec = "lzo" if e.has_lzo else "none"
    if codec not in ("none", "lzo", "lz4"):
        raise ValueError(f"codec {codec!r}")
    if codec == "lzo" and not e.has_lzo and not uswsusp:
        raise ValueError(f"era {era} has no LZO (2.6.37+)")
    if codec == "lz4" and (not e.has_lz4 or uswsusp):
        raise ValueError("LZ4 exists only in 6.9+ kernel images")
    if container in ("swapfile", "swapfile-copy") and not e.resume_offset:
        raise ValueError(f"era {era}: swap files need resume_offset (2.6.19+)")
    if container not in CONTAINERS:
        raise ValueError(f"container {container!r}")
    if scatter and container not in ("partition", "mbr", "gpt"):
        raise ValueError("scatter applies to partition containers")
    if map_start < 1:
        raise ValueError("map_start >= 1")
    if record == "auto":
        record = e.record
    if record is not None and (not isinstance(record, str) or record not in RESTORE_MAGIC):
        raise ValueError(f"record {record!r}")
    return codec, record


def _image_rng(options: dict[str, object], machine: Machine) -> random.Random:
    """Seeded from the non-default options only, so that adding options keeps old images
    stable."""
    defaults = {k: v.default for k, v in inspect.signature(write_image).parameters.items()
                if v.default is not inspect.Parameter.empty}
    salient = {k: v for k, v in options.items() if defaults.get(k, object()) != v}
    return random.Random("swsusp-image:" + json.dumps(salient, sort_keys=True)
                         + f":{machine.opts.get('seed')}")


def _slots_needed(on_disk_pages: int, uswsusp: bool) -> int:
    """Swap slots the writer takes: the stream and its map pages (s2disk: and its extents
    pages, preallocation and LZO reserve, generously)."""
    if uswsusp:
        return on_disk_pages + on_disk_pages // 8 + 16
    return on_disk_pages + on_disk_pages // MAP_PAGE_ENTRIES + 2


def _stored_stream(stream: list[bytes], codec: str,
                   rng: random.Random) -> tuple[list[bytes], list[dict[str, int]]]:
    """The kernel's stored stream (save_image / save_compressed_image): entry 0, the info
    page, as is; pages 1.. (U) plain or in compressed 32-page blocks."""
    if codec == "none":
        return stream, []
    stored, blocks = compress_stream(stream[1:], codec, rng)
    return [stream[0], *stored], blocks


# ---------------------------------------------------------------------------------------------
# facts
def _u32(page: bytes | bytearray, off: int) -> int:
    return struct.unpack_from("<I", page, off)[0]


def _sig(page: bytes | bytearray, off: int) -> str:
    return bytes(page[off:off + 10]).decode("latin-1")


# ---------------------------------------------------------------------------------------------
def write_image(machine: Machine, path: str, *, era: str = "6.1", codec: str | None = None,
                container: str = "partition", map_start: int = 1, scatter: bool = False,
                consumed: bool = False, uswsusp: bool = False, record: object = "auto",
                hw_sig: int | None = None, platform: bool | None = None,
                stale: bool = False,
                pfn_order: str = "ascending", swap_type: int = 1, slack_blocks: int = 24,
                fragmented: bool = False, checksum: bool = True, seed: int = 0,
                variant: str | None = None,
                swap_area: tuple[SwapLayout, SwapArea] | None = None) -> Facts:
    """Write one hibernation image of ``machine`` to ``path`` and return its :class:`Facts`.

    era        kernel generation (see ERAS): header layout, PFN-list form, arch record, flags.
    codec      "none" | "lzo" | "lz4"; default: "lzo" from 2.6.37 on, else "none".
    container  "partition" | "swapfile" | "mbr" | "gpt" | "swapfile-copy".
    map_start  swap block of the first map page; blocks 1..map_start-1 hold swapped-out junk.
    scatter    allocate map and stream blocks in a shuffled (non-ascending) order.
    consumed   reset sig to orig_sig (SWAPSPACE2) as a resume attempt does (docs/format.md §2.4).
    uswsusp    write an s2disk image (ULSUSPEND, docs/format.md §11) instead; codec "none" | "lzo".
    record     arch record "cdef"|"def0"|"f01"|"f02"|None(=uts form); "auto" = era default.
    hw_sig     ACPI FACS signature (5.17+): sets SF_HW_SIG.
    platform   SF_PLATFORM_MODE (kernel; default off) / PLATFORM_SUSPEND (uswsusp; default on).
    stale      put stale values into crc32/hw_sig when their flag is clear (layout A).
    pfn_order  "ascending" (bitmap walk) | "shuffled".
    fragmented swap allocator hands out every other block (others hold junk): many extents.
    checksum   uswsusp only: IMAGE_CHECKSUM with the MD5 of the stream (default on).
    swap_area  (layout, area) planned by the caller, slots before ``map_start`` already filled
               (:func:`samples.synth_swap.plan_swap`): the image goes after them.
    """
    e = era_of(era)
    codec, record = _check_options(e, codec, container, map_start, scatter, uswsusp, record)
    options = {"era": era, "codec": codec, "container": container, "map_start": map_start,
               "scatter": scatter, "consumed": consumed, "uswsusp": uswsusp, "record": record,
               "hw_sig": hw_sig, "platform": platform, "stale": stale, "pfn_order": pfn_order,
               "swap_type": swap_type, "slack_blocks": slack_blocks, "fragmented": fragmented,
               "checksum": checksum, "seed": seed}
    if uswsusp and (hw_sig is not None or stale):
        raise ValueError("hw_sig/stale are kernel-header fields")
    if swap_area is not None:
        if uswsusp or scatter or fragmented:
            raise ValueError("a planned swap area takes a plain kernel image")
        options["swap_area"] = "planned"
    rng = _image_rng(options, machine)

    # the stream, as stored (s2disk takes the whole /dev/snapshot stream and compresses it
    # itself), and the header fields that describe it
    stream, sf = build_stream(machine, e, record, pfn_order, rng)
    unc = b"".join(stream[1:])
    flags: int | None = None
    crc: int | None = None
    hw: int | None = None
    blocks: list[dict[str, int]] = []
    on_disk = stream
    if not uswsusp:
        on_disk, blocks = _stored_stream(stream, codec, rng)
        flags, crc, hw = swsusp_header_flags(e, codec, platform, hw_sig, crc32_le(0, unc))

    # the swap area (block numbers relative to the partition) and its other users' pages
    stride = 2 if fragmented else 1
    needed = _slots_needed(len(on_disk), uswsusp) * stride
    if swap_area is None:
        layout, area, others = plan_swap_area(container, map_start, needed, slack_blocks, stride, scatter, rng)
        fill_other_users(area, others, rng)
    else:
        layout, area = swap_area
        if layout.last_page + 1 - map_start < needed:
            raise ValueError(f"the planned swap area has {layout.last_page + 1 - map_start} slots after "
                             f"map_start, the image needs {needed}")

    # the writer's pages and the header page (mkswap's, marked)
    hdr = mkswap_page(layout.last_page, rng, b"synthswap")
    us: dict[str, object] = {}
    if uswsusp:
        s2 = write_uswsusp(area, stream, area.alloc, codec, rng, checksum=checksum,
                           platform=True if platform is None else platform)
        blocks, us = s2.blocks, s2.facts()
        first_map, maps, sblocks = s2.start_block, s2.extents_blocks, s2.data_blocks
        image_field = mark_swap(hdr, first_map)
        fill_other_users(area, s2.unused_blocks, rng)         # stale preallocated swap
    else:
        first_map, maps, sblocks = write_swap_map_chain(area, on_disk, area.alloc)
        image_field = mark_swapfiles(hdr, e, first_map, swap_type, flags, crc, hw, stale)
    if consumed:
        reset_swap_signature(hdr)
    area.put(layout.resume_offset, bytes(hdr))

    out, partition_offset = assemble(container, area, layout, rng)
    with open(path, "wb") as f:
        f.write(out)

    e820 = e820_bytes(machine.e820)
    return Facts(
        variant=variant, path=str(path), file_size=len(out), era=era,
        kind="uswsusp" if uswsusp else "swsusp", container=container,
        partition_offset=partition_offset, partition_blocks=layout.part_blocks,
        resume_offset=layout.resume_offset,
        header_file_offset=partition_offset + layout.resume_offset * PAGE,
        layout="uswsusp" if uswsusp else e.layout,
        sig=_sig(hdr, HDR_SIG), orig_sig=_sig(hdr, HDR_ORIG_SIG), consumed=consumed,
        last_page=layout.last_page, image_field=image_field, image_block=first_map,
        swap_type=swap_type if e.layout == "C" and not uswsusp else None, flags=flags,
        crc32=crc, crc32_field=_u32(hdr, HDR_CRC32), hw_sig=hw,
        hw_sig_field=_u32(hdr, HDR_HW_SIG), codec=codec, record=record,
        record_magic=RESTORE_MAGIC[record] if record else None,
        record_fields=sf.record_fields, info=sf.info, map_blocks=maps, stream_blocks=sblocks,
        num_entries=len(sblocks), meta_pages=sf.meta_pages, pfn_entries=sf.pfn_entries,
        pfns=sf.pfns, data_pfns=sf.data_pfns, zero_pfns=sf.zero_pfns, blocks=blocks,
        num_blocks=len(blocks),
        max_block_stored_pages=max((b["stored_pages"] for b in blocks), default=0),
        uncompressed_stream_sha256=hashlib.sha256(unc).hexdigest(),
        e820_crc=zlib.crc32(e820), e820_md5=hashlib.md5(e820).hexdigest(),
        machine=machine_summary(machine), uswsusp=us, options=options)
