#!/usr/bin/env python3
"""Synthetic Linux x86-64 hibernation (swsusp) image generator: the tests' ground truth.

Writes hibernation images of every variant described in ``docs/format.md``
from a *known* physical memory (:mod:`samples.synthkernel`).  Independent of ``plugins/``;
deterministic (seeded ``random.Random``); pure Python + lzallright (LZO) + lz4.

CLI::

    python samples/swsusp_gen.py --list
    python samples/swsusp_gen.py VARIANT -o out.img [--facts out.json]
    python samples/swsusp_gen.py --all DIR
    python samples/swsusp_gen.py --isf symbols/linux/
    python samples/swsusp_gen.py --large GIB -o out.img [--codec lzo|lz4|none] [--era 6.6]
    python samples/swsusp_gen.py --scenario NAME|all -o DIR [--compact-elf]
    python samples/swsusp_gen.py --seed-pair samples/
    python samples/swsusp_gen.py --resume-pair NAME|all -o DIR

This module is the command line and a façade: the generator lives in one module per job
(see samples/README.md, "Layout") and the names below are re-exported from them.

API: :func:`build_machine`, :func:`write_image` -> :class:`Facts`, :data:`VARIANTS`,
:func:`make_variant`, :func:`write_isf`; large streamed images: :func:`write_large_image`
-> :class:`LargeFacts`, :func:`large_page`; resume scenarios (an image plus a RAM dump of the
boot kernel during resume, :mod:`samples.resume_scenarios`): :data:`SCENARIOS`,
:func:`make_scenario` -> :class:`Scenario`, :func:`write_seed_pair`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict

if __name__ == "__main__" and not __package__:
    # run as a script (python samples/swsusp_gen.py): run this file as the module
    # samples.swsusp_gen instead, whose imports below are relative to the package
    import runpy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    runpy.run_module("samples.swsusp_gen", run_name="__main__", alter_sys=True)
    sys.exit(0)

from . import resume_pairs
from .containers import (
    GPT_LINUX_FS,
    GPT_SWAP,
    SwapArea,
    build_gpt,
    build_mbr,
    ext4ish_block0,
    fs_junk,
    junk_page,
    mkswap_page,
)
from .eras import (
    BM_END_OF_MAP,
    CMP_HEADER,
    ENCODED_PFN_ZERO_FLAG,
    ERAS,
    HIBERNATE_SIG,
    LZO_WORST,
    MAP_PAGE_ENTRIES,
    PAGE,
    PAGE_OFFSET_2_6_16,
    RESTORE_MAGIC,
    SF_CRC32_MODE,
    SF_HW_SIG,
    SF_LZ4,
    SF_NOCOMPRESS_MODE,
    SF_PLATFORM_MODE,
    SWAPSPACE2,
    SWP_TYPE_SHIFT,
    UNC_PAGES,
    USWSUSP_SIG,
    Era,
)
from .image_stream import (
    build_info_page,
    build_stream,
    compress_stream,
    crc32_le,
    e820_bytes,
    lz4_compress,
    lzo_compress,
)
from .image_writer import Facts, machine_summary, write_image
from .large_image import (
    LARGE_DIRECT_MAP_GIB,
    LARGE_KINDS,
    LARGE_STAMP_OFFSET,
    LARGE_TEMPLATES,
    LARGE_WEIGHTS,
    LargeFacts,
    large_page,
    write_large_image,
)
from .lzo_encoder import lzo1x_parse
from .swap_writer import write_swap_map_chain
from .synthkernel import Machine, build_machine, isf_filename, write_isf
from .uswsusp import (
    BUFFER_PAGES,
    EXTENT,
    EXTENTS_PER_PAGE,
    IMAGE_CHECKSUM,
    IMAGE_COMPRESSED,
    IMAGE_ENCRYPTED,
    IMAGE_USE_RSA,
    MAX_EXTENTS,
    PLATFORM_SUSPEND,
    US_HEADER,
    write_uswsusp,
)
from .variants import (
    DESCRIPTIONS,
    MACHINE_OPTS,
    SCENARIOS,
    SEED_PAIR,
    VARIANTS,
    Scenario,
    get_machine,
    make_scenario,
    make_variant,
    split_options,
    write_seed_pair,
)

write_chain = write_swap_map_chain            # the name before the split

__all__ = [
    "BM_END_OF_MAP",
    "BUFFER_PAGES",
    "CMP_HEADER",
    "DESCRIPTIONS",
    "ENCODED_PFN_ZERO_FLAG",
    "ERAS",
    "EXTENT",
    "EXTENTS_PER_PAGE",
    "GPT_LINUX_FS",
    "GPT_SWAP",
    "HIBERNATE_SIG",
    "IMAGE_CHECKSUM",
    "IMAGE_COMPRESSED",
    "IMAGE_ENCRYPTED",
    "IMAGE_USE_RSA",
    "LARGE_DIRECT_MAP_GIB",
    "LARGE_KINDS",
    "LARGE_STAMP_OFFSET",
    "LARGE_TEMPLATES",
    "LARGE_WEIGHTS",
    "LZO_WORST",
    "MACHINE_OPTS",
    "MAP_PAGE_ENTRIES",
    "MAX_EXTENTS",
    # the format: constants, stream, swap writers, containers
    "PAGE",
    "PAGE_OFFSET_2_6_16",
    "PLATFORM_SUSPEND",
    "RESTORE_MAGIC",
    "SCENARIOS",
    "SEED_PAIR",
    "SF_CRC32_MODE",
    "SF_HW_SIG",
    "SF_LZ4",
    "SF_NOCOMPRESS_MODE",
    "SF_PLATFORM_MODE",
    "SWAPSPACE2",
    "SWP_TYPE_SHIFT",
    "UNC_PAGES",
    "USWSUSP_SIG",
    "US_HEADER",
    # named variants and resume scenarios
    "VARIANTS",
    "Era",
    # one image
    "Facts",
    # large images
    "LargeFacts",
    # the synthetic machine
    "Machine",
    "Scenario",
    "SwapArea",
    "build_gpt",
    "build_info_page",
    "build_machine",
    "build_mbr",
    "build_stream",
    "compress_stream",
    "crc32_le",
    "e820_bytes",
    "ext4ish_block0",
    "fs_junk",
    "get_machine",
    "junk_page",
    "large_page",
    "lz4_compress",
    "lzo1x_parse",
    "lzo_compress",
    "machine_summary",
    "main",
    "make_scenario",
    "make_variant",
    "mkswap_page",
    "split_options",
    "write_chain",
    "write_image",
    "write_isf",
    "write_large_image",
    "write_seed_pair",
    "write_uswsusp",
]


# ---------------------------------------------------------------------------------------------
# command line
def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variant", nargs="?", help="variant name (see --list)")
    ap.add_argument("-o", "--output", help="output image path")
    ap.add_argument("--facts", help="also write the Facts as JSON here")
    ap.add_argument("--list", action="store_true", help="list variants")
    ap.add_argument("--all", metavar="DIR", help="write every variant (+ .json facts) into DIR")
    ap.add_argument("--isf", metavar="DIR", help="write the synthetic kernel's ISF into DIR")
    ap.add_argument("--large", type=float, metavar="GIB",
                    help="write a large image holding GIB GiB of pages (streamed; see "
                         "write_large_image) to -o")
    ap.add_argument("--codec", choices=("lzo", "lz4", "none"), default="lzo", help="with --large")
    ap.add_argument("--era", help="with --large: 6.1 (default; 6.9 for lz4), 6.6/6.9 zero pages")
    ap.add_argument("--seed", type=int, default=0, help="with --large")
    ap.add_argument("--ram-gib", type=float, help="with --large: RAM size (default 2.5 x GIB)")
    ap.add_argument("--scenario", metavar="NAME",
                    help=f"write a resume scenario into -o DIR: NAME.img, NAME-resume.elf|.raw, "
                         f"NAME.json ({', '.join(SCENARIOS)}, or all)")
    ap.add_argument("--compact-elf", action="store_true",
                    help="with --scenario: all-zero RAM runs share one block of zeros in the ELF")
    ap.add_argument("--resume-pair", metavar="NAME",
                    help=f"write a resume pair (an image and the boot facts that tried to resume it) into "
                         f"-o DIR ({', '.join(resume_pairs.PAIRS)}, or all)")
    ap.add_argument("--seed-pair", metavar="DIR",
                    help="write the seed scenario as DIR/seed-image.img + DIR/seed-resume.elf")
    return ap


def _dump_facts(path: str, facts) -> None:
    with open(path, "w") as f:
        json.dump(asdict(facts), f, indent=1, sort_keys=True)


def _scenarios(ap: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    if a.seed_pair:
        done = [write_seed_pair(a.seed_pair)]
    else:
        if not a.output:
            ap.error("-o DIR is required with --scenario")
        names = list(SCENARIOS) if a.scenario == "all" else [a.scenario]
        if any(n not in SCENARIOS for n in names):
            ap.error(f"unknown scenario {a.scenario!r}; known: {', '.join(SCENARIOS)}")
        done = [make_scenario(n, a.output, compact_elf=a.compact_elf) for n in names]
    for sc in done:
        counts = " ".join(f"{k}={v}" for k, v in sc.counts.items() if v)
        print(f"{sc.name}: {sc.image_path} ({sc.image_facts.file_size} bytes), "
              f"{sc.resume_path} ({sc.dump['file_size']} bytes), {counts}, "
              f"{len(sc.hazards)} hazard(s)")
    return 0


def _resume_pairs(ap: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    if not a.output:
        ap.error("-o DIR is required with --resume-pair")
    names = list(resume_pairs.PAIRS) if a.resume_pair == "all" else [a.resume_pair]
    if any(n not in resume_pairs.PAIRS for n in names):
        ap.error(f"unknown resume pair {a.resume_pair!r}; known: {', '.join(resume_pairs.PAIRS)}")
    for name in names:
        pair = resume_pairs.make_pair(name, a.output)
        first = pair.expected.check or "nothing (it resumes)"
        print(f"{name}: {pair.image} + {pair.facts}: fails first at {first} - {resume_pairs.DESCRIPTIONS[name]}")
    return 0


def _large(ap: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    if not a.output:
        ap.error("-o is required")
    lf = write_large_image(a.output, gib=a.large, codec=a.codec, era=a.era, seed=a.seed,
                           ram_gib=a.ram_gib)
    if a.facts:
        _dump_facts(a.facts, lf)
    print(f"{a.output}  {lf.file_size} bytes  {lf.saved_pages} pages ({lf.zero_pages} zero)  "
          f"{lf.codec} era {lf.era}  ratio {lf.compression_ratio:.2f}  "
          f"crc32 {lf.stream_crc32:#010x}  {lf.seconds_to_write:.1f} s")
    return 0


def _list() -> int:
    def show(x):
        big = isinstance(x, int) and not isinstance(x, bool) and x > 4096
        return hex(x) if big else repr(x)

    for k, v in VARIANTS.items():
        opts = ", ".join(f"{o}={show(x)}" for o, x in sorted(v.items()))
        print(f"{k:26s} {DESCRIPTIONS.get(k, '')}\n{'':26s}   [{opts}]")
    return 0


def _all(directory: str) -> int:
    os.makedirs(directory, exist_ok=True)
    for name in VARIANTS:
        _, facts, path = make_variant(name, directory)
        _dump_facts(os.path.join(directory, f"{name}.json"), facts)
        print(f"{path}  {facts.file_size} bytes")
    return 0


def _variant(ap: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    if not a.output:
        ap.error("-o is required")
    mo, io = split_options(VARIANTS[a.variant])
    facts = write_image(get_machine(**mo), a.output, variant=a.variant, **io)
    if a.facts:
        _dump_facts(a.facts, facts)
    print(f"{a.output}  {facts.file_size} bytes")
    return 0


def main(argv=None) -> int:
    ap = _parser()
    a = ap.parse_args(argv)
    if a.scenario or a.seed_pair:
        return _scenarios(ap, a)
    if a.resume_pair:
        return _resume_pairs(ap, a)
    if a.large is not None:
        return _large(ap, a)
    if a.list:
        return _list()
    if a.isf:
        os.makedirs(a.isf, exist_ok=True)
        print(write_isf(os.path.join(a.isf, isf_filename())))
    if a.all:
        return _all(a.all)
    if a.variant:
        return _variant(ap, a)
    if not a.isf:
        ap.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
