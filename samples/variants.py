"""Named samples: the variants (one image each, :data:`VARIANTS`, :func:`make_variant`) and the
resume scenarios (an image plus a RAM dump of the boot kernel during resume,
:mod:`samples.resume_scenarios`: :data:`SCENARIOS`, :func:`make_scenario`).

A variant is a set of options: those in :data:`MACHINE_OPTS` build the machine
(:func:`samples.synthkernel.build_machine`, cached by :func:`get_machine`), the others go to
:func:`samples.image_writer.write_image`.
"""
from __future__ import annotations

import os
import random

from . import resume_scenarios, synth_swap
from .image_writer import Facts, write_image
from .synth_layout import PAGE_OFFSET_2_6_16, PAGE_OFFSET_2_6_27
from .synthkernel import Machine, build_machine

MACHINE_OPTS = {"levels", "kaslr", "pti", "sme_bit", "ram_mib", "gib_pages", "page_offset",
                "page_offset_base", "saved", "incompressible", "seed", "cpus"}


VARIANTS: dict[str, dict] = {
    # the committed samples (samples/*.img)
    "quickstart-lzo": {"era": "6.1", "codec": "lzo"},
    "quickstart-lz4-zeropages": {"era": "6.9", "codec": "lz4"},
    "quickstart-consumed": {"era": "6.1", "codec": "lzo", "consumed": True},
    # eras (partition container, era's default codec)
    "era-2.6.16": {"era": "2.6.16", "page_offset": PAGE_OFFSET_2_6_16, "kaslr": False},
    "era-2.6.20": {"era": "2.6.20", "page_offset": PAGE_OFFSET_2_6_16, "kaslr": False},
    "era-2.6.23": {"era": "2.6.23", "page_offset": PAGE_OFFSET_2_6_16, "kaslr": False,
                   "platform": True},
    "era-2.6.24": {"era": "2.6.24", "page_offset": PAGE_OFFSET_2_6_16, "kaslr": False},
    "era-2.6.37-lzo": {"era": "2.6.37", "page_offset": PAGE_OFFSET_2_6_27, "kaslr": False},
    "era-2.6.37-none": {"era": "2.6.37", "codec": "none",
                        "page_offset": PAGE_OFFSET_2_6_27, "kaslr": False},
    "era-3.2": {"era": "3.2", "page_offset": PAGE_OFFSET_2_6_27, "kaslr": False},
    "era-4.9": {"era": "4.9", "page_offset_base": PAGE_OFFSET_2_6_27},
    "era-4.12": {"era": "4.12", "page_offset_base": PAGE_OFFSET_2_6_27},
    "era-5.12": {"era": "5.12"},
    "era-5.17-hwsig": {"era": "5.17", "hw_sig": 0x5A17C0DE},
    "era-6.1-lzo": {"era": "6.1"},
    "era-6.1-none": {"era": "6.1", "codec": "none"},
    "era-6.6-zero": {"era": "6.6"},
    "era-6.9-lz4": {"era": "6.9", "codec": "lz4"},
    "era-6.9-lzo": {"era": "6.9", "codec": "lzo"},
    # containers
    "swapfile": {"era": "6.1", "container": "swapfile"},
    "swapfile-none": {"era": "6.1", "container": "swapfile", "codec": "none"},
    "swapfile-copy": {"era": "6.1", "container": "swapfile-copy"},
    "mbr": {"era": "6.1", "container": "mbr"},
    "gpt": {"era": "6.1", "container": "gpt"},
    "swapfile-2.6.20": {"era": "2.6.20", "container": "swapfile",
                        "page_offset": PAGE_OFFSET_2_6_16, "kaslr": False},
    # header states and allocation shapes
    "consumed": {"era": "6.1", "consumed": True},
    "consumed-2.6.20": {"era": "2.6.20", "consumed": True,
                        "page_offset": PAGE_OFFSET_2_6_16, "kaslr": False},
    "map-start-40": {"era": "6.1", "map_start": 40},
    "scatter": {"era": "6.1", "scatter": True},
    "scatter-none": {"era": "6.1", "scatter": True, "codec": "none", "map_start": 7},
    "stale-fields": {"era": "6.1", "codec": "none", "stale": True},
    "platform": {"era": "6.1", "platform": True},
    "pfn-shuffled": {"era": "6.1", "codec": "none", "pfn_order": "shuffled"},
    # record magic independent of era ("identified by magic, not by version")
    "record-f01-on-6.1": {"era": "6.1", "record": "f01"},
    "record-cdef-on-6.1": {"era": "6.1", "record": "cdef"},
    "record-none-on-6.1": {"era": "6.1", "record": None},
    # machines
    "nokaslr": {"era": "6.1", "kaslr": False},
    "gib-pages": {"era": "6.1", "gib_pages": True, "ram_mib": 4096},
    "gib-pages-none": {"era": "6.1", "codec": "none", "gib_pages": True, "ram_mib": 4096,
                       "kaslr": False},
    "pti": {"era": "6.1", "pti": True},
    "sme": {"era": "6.1", "sme_bit": 47},
    "la57": {"era": "6.1", "levels": 5},
    "la57-nokaslr-zero": {"era": "6.6", "levels": 5, "kaslr": False},
    "incompressible-lzo": {"era": "6.1", "incompressible": True},
    "incompressible-lz4": {"era": "6.9", "codec": "lz4", "incompressible": True},
    "medium-lzo": {"era": "6.1", "saved": "medium", "ram_mib": 1024},
    "medium-none": {"era": "6.1", "codec": "none", "saved": "medium", "ram_mib": 1024},
    # userspace s2disk
    "uswsusp-none": {"era": "6.1", "uswsusp": True, "codec": "none"},
    "uswsusp-lzo": {"era": "6.1", "uswsusp": True, "codec": "lzo"},
    "uswsusp-fragmented": {"era": "6.1", "uswsusp": True, "codec": "none", "fragmented": True,
                           "saved": "moderate"},
    "uswsusp-lzo-scatter": {"era": "6.1", "uswsusp": True, "codec": "lzo", "scatter": True,
                            "map_start": 5},
    "uswsusp-swapfile": {"era": "6.1", "uswsusp": True, "codec": "lzo", "container": "swapfile"},
    "uswsusp-consumed": {"era": "6.1", "uswsusp": True, "codec": "lzo", "consumed": True},
    "uswsusp-6.6-zero": {"era": "6.6", "uswsusp": True, "codec": "none", "checksum": False,
                         "platform": False},
    "fragmented-lzo": {"era": "6.1", "fragmented": True},
    # swapped-out process pages in the image's own swap area (samples/synth_swap.py)
    "swapped": {"era": "6.1", "swapped": "l1tf"},
    "swapped-swapfile": {"era": "6.1", "swapped": "l1tf", "container": "swapfile"},
    "swapped-4.14": {"era": "4.12", "swapped": "type-above-protnone", "page_offset_base": PAGE_OFFSET_2_6_27},
    "swapped-swapfile-copy": {"era": "6.1", "swapped": "l1tf", "container": "swapfile-copy"},
}

DESCRIPTIONS: dict[str, str] = {
    "quickstart-lzo": "committed sample: 6.1-era LZO swap partition (flags 4 + CRC, record F02)",
    "quickstart-lz4-zeropages": "committed sample: 6.9-era LZ4 (flags 4|16), bit-63 zero-page entries",
    "quickstart-consumed": "committed sample: quickstart-lzo after a resume attempt (sig=SWAPSPACE2)",
    "era-2.6.16": "layout C: image@4068 = swp_entry (type 1 << 59 | block); PFN list = direct-map "
                  "VAs (0xffff810000000000 + pfn*4096) ending in 0; uts+version_code+cpus",
    "era-2.6.20": "layout B: image@4068 = block; PFN list with ~0 terminator; uts+version_code+cpus",
    "era-2.6.23": "layout A with flags (SF_PLATFORM_MODE set); uts+version_code+cpus; uncompressed",
    "era-2.6.24": "record ...CDEF (jump, cr3); version_code 0, cpus 0; uncompressed, flags 0",
    "era-2.6.37-lzo": "record ...CDEF; LZO with flags 0 (no CRC before 3.2)",
    "era-2.6.37-none": "record ...CDEF; SF_NOCOMPRESS_MODE (flags 2)",
    "era-3.2": "record ...CDEF; LZO + CRC32 (flags 4); PAGE_OFFSET 0xffff880000000000",
    "era-4.9": "record ...DEF0 (jump_address_phys); LZO+CRC; KASLR from 0xffff880000000000",
    "era-4.12": "record ...F01 with MD5 of the e820 table",
    "era-5.12": "record ...F02 with e820 CRC32 (zlib)",
    "era-5.17-hwsig": "hw_sig@4056 + SF_HW_SIG (flags 4|8)",
    "era-6.1-lzo": "like the real 6.1 samples: F02, flags 4",
    "era-6.1-none": "6.1 uncompressed, flags 2, crc32 field 0",
    "era-6.6-zero": "6.6: all-zero pages as PFN|1<<63 entries without data page",
    "era-6.9-lz4": "6.9: LZ4 raw blocks, flags 4|16, zero pages",
    "era-6.9-lzo": "6.9: LZO (flag 16 clear), zero pages",
    "swapfile": "4 MiB ext4-like partition with a scattered swap file; header at resume_offset; "
                "entries are partition blocks (may exceed the file's last_page)",
    "swapfile-none": "same, uncompressed",
    "swapfile-copy": "the swap file copied out as a plain file (partition_offset < 0): "
                     "entries = resume_offset + block-in-file",
    "mbr": "whole disk: MBR, Linux 0x83 partition at LBA 2048, swap 0x82 at LBA 2560",
    "gpt": "whole disk: GPT (protective MBR, header+entries, backup), swap type GUID at LBA 2560",
    "swapfile-2.6.20": "layout B image in a swap file (resume_offset exists since 2.6.19/20)",
    "consumed": "6.1 LZO after a resume attempt: sig reset to SWAPSPACE2, rest unchanged",
    "consumed-2.6.20": "layout B consumed",
    "map-start-40": "first map page at block 40; blocks 1..39 hold swapped-out junk",
    "scatter": "map and stream blocks allocated in shuffled runs (not ascending)",
    "scatter-none": "scatter + map_start 7, uncompressed",
    "stale-fields": "flags 2 but stale crc32/hw_sig values in the header (trust only with flag)",
    "platform": "SF_PLATFORM_MODE | SF_CRC32_MODE (flags 5)",
    "pfn-shuffled": "PFN list not ascending (data pages follow the list order)",
    "record-f01-on-6.1": "6.1 era with an F01 record (identify records by magic)",
    "record-cdef-on-6.1": "6.1 era with a CDEF record",
    "record-none-on-6.1": "6.1 era without arch record: uts + version_code 0x060100",
    "nokaslr": "KASLR off: page_offset 0xffff888000000000, text at 0x1000000, phys_base 0",
    "gib-pages": "4 GiB RAM (3 GiB low + 1 GiB above 4 GiB) with 1 GiB direct-map pages",
    "gib-pages-none": "same machine without KASLR, uncompressed",
    "pti": "PTI: cr3 = kernel half of an 8 KiB pair, user PGD at cr3+4096",
    "sme": "AMD SME C-bit 47 in cr3 and every table entry",
    "la57": "5-level paging (PML5 at cr3), KASLR direct map from 0xff11000000000000",
    "la57-nokaslr-zero": "5-level, fixed 0xff11000000000000, 6.6 zero pages",
    "incompressible-lzo": "random data pages: some LZO blocks take 33 pages (> 32)",
    "incompressible-lz4": "random data pages: some LZ4 blocks take 33 pages",
    "medium-lzo": "~690 saved pages, 1 GiB RAM, LZO",
    "medium-none": "same, uncompressed: 694 entries -> a chain of 2 map pages",
    "uswsusp-none": "s2disk image (ULSUSPEND), uncompressed, MD5, PLATFORM_SUSPEND",
    "uswsusp-lzo": "s2disk image, LZO 32-page buffers (info page inside the first buffer)",
    "uswsusp-fragmented": "s2disk, every other swap block: >255 extents, 2 extents pages",
    "uswsusp-lzo-scatter": "s2disk, shuffled swap allocation (many sorted extents), map_start 5",
    "uswsusp-swapfile": "s2disk image in a swap file (byte offsets of the partition)",
    "uswsusp-consumed": "s2disk image after reset_signature (sig = SWAPSPACE2)",
    "uswsusp-6.6-zero": "s2disk carrying a 6.6 stream with zero-page entries; no MD5, no platform",
    "fragmented-lzo": "kernel image with every other block used (non-contiguous entries)",
    "swapped": "6.1 (L1TF swap PTEs): processes with pages swapped into slots 1..47 of the swap "
               "partition before the image, entries of a second swap area, a slot beyond the area",
    "swapped-swapfile": "same in a scattered swap file: the kernel's swap extents (many) map slots to blocks",
    "swapped-swapfile-copy": "the swapped swap file copied out of its filesystem: the image's first map "
                             "page is slot 48, its pointers are the filesystem's blocks",
    "swapped-4.14": "4.14 kernel (no L1TF: type in PTE bits 9..13, offset from bit 14); its ISF "
                    "comes from synth_isf.write_isf(..., *synth_swap.KERNELS['type-above-protnone'])",
}

_MACHINES: dict[tuple, Machine] = {}
_VARIANT_CACHE: dict[tuple, Facts] = {}


def split_options(opts: dict) -> tuple[dict, dict]:
    mo = {k: v for k, v in opts.items() if k in MACHINE_OPTS}
    io = {k: v for k, v in opts.items() if k not in MACHINE_OPTS}
    return mo, io


def get_machine(**mopts) -> Machine:
    key = tuple(sorted(mopts.items()))
    if key not in _MACHINES:
        _MACHINES[key] = build_machine(**mopts)
    return _MACHINES[key]


def make_variant(name: str, directory: str) -> tuple[Machine, Facts, str]:
    """Write variant ``name`` into ``directory`` as ``<name>.img`` (machines are cached)."""
    if name not in VARIANTS:
        raise KeyError(f"unknown variant {name!r}")
    if "swapped" in VARIANTS[name]:
        return _make_swapped(name, directory)
    mo, io = split_options(VARIANTS[name])
    m = get_machine(**mo)
    path = os.path.join(directory, f"{name}.img")
    key = (name, os.path.abspath(path))
    hit = _VARIANT_CACHE.get(key)
    if hit and os.path.exists(path) and os.path.getsize(path) == hit.file_size:
        return m, hit, path
    facts = write_image(m, path, variant=name, **io)
    _VARIANT_CACHE[key] = facts
    return m, facts, path


_SWAPPED: dict[tuple, tuple[Machine, Facts]] = {}


def _make_swapped(name: str, directory: str) -> tuple[Machine, Facts, str]:
    """A swapped variant: the swap area is planned first (slots before the image hold process
    pages), the machine is built with those swap entries and its kernel's swap_info[], then
    the image is written after them."""
    opts = dict(VARIANTS[name])
    pte_layout = opts.pop("swapped")
    path = os.path.join(directory, f"{name}.img")
    key = (name, os.path.abspath(path))
    hit = _SWAPPED.get(key)
    if hit and os.path.exists(path) and os.path.getsize(path) == hit[1].file_size:
        return hit[0], hit[1], path
    mo, io = split_options(opts)
    plan = synth_swap.plan_swap(pte_layout, io.get("container", "partition"), random.Random(f"swsusp-swapped:{name}"))
    release, banner, _l1tf = synth_swap.KERNELS[pte_layout]
    m = build_machine(**mo, release=release, banner=banner, swap=plan)
    facts = write_image(m, path, variant=name, map_start=synth_swap.FIRST_IMAGE_SLOT,
                        swap_area=(plan.layout, plan.area), **io)
    facts.swap = plan.facts()
    _SWAPPED[key] = (m, facts)
    return m, facts, path


# ---------------------------------------------------------------------------------------------
# resume scenarios: image kernel + boot kernel during resume (samples/resume_scenarios.py)
Scenario = resume_scenarios.Scenario
SCENARIOS = resume_scenarios.SCENARIOS
SEED_PAIR = ("seed-image.img", "seed-resume.elf")     # the README tutorial's bundled pair


def make_scenario(name: str, directory: str, *, compact_elf: bool = False) -> Scenario:
    """Write scenario ``name`` into ``directory``: ``NAME.img`` (6.1-era LZO swap partition),
    ``NAME-resume.elf`` (QEMU-style ELF core; ``NAME-resume.raw`` for raw scenarios) and
    ``NAME.json`` (expected findings and hazards).  See :mod:`samples.resume_scenarios`."""
    return resume_scenarios.build_scenario(name, directory, write_image, compact_elf=compact_elf)


def write_seed_pair(directory: str) -> Scenario:
    """The ``seed`` scenario as the bundled pair ``seed-image.img`` + ``seed-resume.elf``
    (compact ELF: all-zero RAM runs share one block of zeros in the file; no JSON)."""
    return resume_scenarios.build_scenario("seed", directory, write_image, compact_elf=True,
                                           image_name=SEED_PAIR[0], resume_name=SEED_PAIR[1],
                                           json_name="")
