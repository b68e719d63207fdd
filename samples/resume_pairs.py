"""Resume pairs: a hibernation image and the boot environment that tried to resume it, one
pair per check of ``linux.swsusp_resume`` that fails, and one that resumes.

Each pair says which check the boot kernel fails first (the verdict) and the two values it
compares, computed here from the generator's own knowledge (the machine, the e820 table,
what was written), never by the plugin's code.  Imports nothing from ``plugins/``.

    pair = make_pair("memory-map", "/tmp/pairs")
    vol -f pair.image linux.swsusp_resume --boot-facts pair.facts
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

from .boot_env import BootEnv
from .image_stream import e820_bytes
from .image_writer import Facts, write_image
from .variants import get_machine

MACHINE = {"ram_mib": 512, "saved": "small"}  # the quickstart samples' machine
HW_SIG = 0x1A2B3C4D


@dataclass(frozen=True)
class Expected:
    """The first failing check (None: the image resumes) and what its row compares."""

    check: str | None  # the row's name up to " (": "memory map", "memory size" ...
    image: str = ""  # a text the Image column holds
    boot: str = ""  # a text the Boot column holds
    message: str = ""  # a text the kernel's message holds
    not_checked: tuple[str, ...] = ()  # checks before it the boot facts cannot decide


@dataclass(frozen=True)
class Pair:
    name: str
    image: str
    facts: str
    expected: Expected
    image_facts: Facts


# image options (write_image) shared by several pairs
IMAGES = {
    "lzo": {"era": "6.1", "codec": "lzo"},
    "swapfile": {"era": "6.1", "codec": "lzo", "container": "swapfile"},
    "consumed": {"era": "6.1", "codec": "lzo", "consumed": True},
    "hw-sig": {"era": "6.1", "codec": "lzo", "hw_sig": HW_SIG},
    "lz4": {"era": "6.9", "codec": "lz4"},
}

DESCRIPTIONS = {
    "resumes": "the machine that hibernated, booted again: every check passes",
    "noresume": "booted with noresume: the kernel looks for no image",
    "stale-resume-offset": "a swap file image, but the boot command line has no resume_offset=",
    "consumed": "an earlier resume attempt reset the signature (consumed image)",
    "hw-signature": "acpi_sleep=s4_hwsig and the firmware's FACS signature changed",
    "lz4-old-kernel": "an LZ4 image (6.9+) booted by a 6.8 kernel",
    "lz4-missing": "an LZ4 image booted by a 6.12 kernel without the lz4 compressor",
    "restore-record": "a 5.12+ image (record ...F02) booted by a 5.10 kernel (...F01)",
    "memory-map": "a firmware update grew a reserved range: the e820 CRC32 differs",
    "memory-size": "booted with mem=256M: fewer pages than the image was written with",
    "page-frames": "same number of pages, but RAM laid out elsewhere (iomem): a PFN the boot kernel lacks",
    "damaged-block": "a compressed block of the image overwritten: it does not decompress",
    "crc-mismatch": "the header's CRC32 differs from the data's",
}
PAIRS = tuple(DESCRIPTIONS)


def _crc(e820) -> int:
    return zlib.crc32(e820_bytes(e820))


def _image(kind: str, directory: str) -> tuple[Facts, str]:
    path = os.path.join(directory, f"image-{kind}.img")
    facts = write_image(get_machine(**MACHINE), path, **IMAGES[kind])
    return facts, path


def _edit(path: str, offset: int, data: bytes, name: str) -> str:
    """A copy of the image at `path` with `data` written at `offset`."""
    out = os.path.join(os.path.dirname(path), f"image-{name}.img")
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    raw[offset:offset + len(data)] = data
    with open(out, "wb") as f:
        f.write(raw)
    return out


def make_pair(name: str, directory: str) -> Pair:
    """Write pair `name` (an image and a facts folder) into `directory`."""
    if name not in DESCRIPTIONS:
        raise KeyError(f"unknown resume pair {name!r}; known: {', '.join(PAIRS)}")
    os.makedirs(directory, exist_ok=True)
    machine = get_machine(**MACHINE)
    env = BootEnv.of_machine(machine)
    kind = {"stale-resume-offset": "swapfile", "consumed": "consumed", "hw-signature": "hw-sig",
            "lz4-old-kernel": "lz4", "lz4-missing": "lz4"}.get(name, "lzo")
    facts, image = _image(kind, directory)
    env, image, expected = _pair(name, env, facts, image, machine)
    folder = env.write(os.path.join(directory, f"facts-{name}"))
    return Pair(name, image, folder, expected, facts)


def _pair(name: str, env: BootEnv, facts: Facts, image: str, machine) -> tuple[BootEnv, str, Expected]:
    if name == "resumes":
        return env, image, Expected(None)
    if name == "noresume":
        return env.with_(cmdline=env.cmdline + " noresume"), image, Expected("resume requested", boot="noresume")
    if name == "stale-resume-offset":
        return env, image, Expected("resume location", image=f"block {facts.resume_offset}", boot="resume_offset=0")
    if name == "consumed":
        return env, image, Expected("signature", image="SWAPSPACE2", boot="S1SUSPEND", message="Image not found")
    if name == "hw-signature":
        env = env.with_(cmdline=env.cmdline + " acpi_sleep=s4_hwsig", facs_signature=HW_SIG + 1)
        return env, image, Expected("hardware signature", image=f"{HW_SIG:#010x}", boot=f"{HW_SIG + 1:#010x}",
                                    message=f"({HW_SIG:08x} now {HW_SIG + 1:08x})")
    if name == "lz4-old-kernel":
        return (env.with_(release="6.8.0-31-generic"), image,
                Expected("compressor", image="lz4", boot="lzo", message="LZO decompression failed"))
    if name == "lz4-missing":
        return (env.with_(release="6.12.57+deb13-amd64", crypto=("lzo",)), image,
                Expected("compressor", image="lz4", boot="lzo", message="lz4 compression is not available"))
    if name == "restore-record":
        return (env.with_(release="5.10.0-35-amd64"), image,
                Expected("restore record", image="0x23456789abcdef02", boot="0x23456789abcdef01",
                         message="Unrecognized hibernate image header format!"))
    if name == "memory-map":
        # the reserved range below the 4 GiB boundary grew by 16 KiB, downwards
        e820 = tuple((a - 0x4000, s + 0x4000, t) if (a, t) == (0xFEFFC000, 2) else (a, s, t) for a, s, t in env.e820)
        return (env.with_(e820=e820), image,
                Expected("memory map", image=f"{facts.e820_crc:#010x}", boot=f"{_crc(e820):#010x}",
                         message="Hibernate inconsistent memory map detected!"))
    if name == "memory-size":
        limit = 256 << 8  # mem=256M: RAM pages below 256 MiB
        ram = tuple((s, min(e, limit)) for s, e in env.ram_pfns if s < limit)
        env = env.with_(cmdline=env.cmdline + " mem=256M", ram_pfns=ram)
        return env, image, Expected("memory size", image=f"{machine.num_physpages} pages",
                                    boot=f"{env.present_pages} pages", message="Image mismatch: memory size")
    if name == "page-frames":
        # the same number of pages, but the top 256 MiB of RAM moved above 4 GiB; no e820 file
        (s0, e0), (s1, e1) = env.ram_pfns[0], env.ram_pfns[-1]
        moved = 256 << 8
        ram = ((s0, e0), (s1, e1 - moved), (1 << 20, (1 << 20) + moved))
        first_lost = min(p for p in facts.pfns if e1 - moved <= p < e1)
        iomem = tuple((s << 12, e << 12) for s, e in ram)
        env = env.with_(ram_pfns=ram, iomem_ram=iomem, files=("uname", "cmdline", "zoneinfo", "power", "crypto"))
        return env, image, Expected("page frames", image=f"PFN {first_lost:#x}",
                                    message=f"Memory map mismatch at {first_lost << 12:#x}",
                                    not_checked=("memory map",))
    if name == "damaged-block":
        block = facts.blocks[len(facts.blocks) // 2]
        offset = facts.partition_offset + facts.stream_blocks[block["first_entry"]] * 4096
        # the compressed bytes after the block's length overwritten: LZO cannot decode them
        bad = _edit(image, offset + 8, b"\xff" * 4088, name)
        return env, bad, Expected("image data", message="decompression failed")
    if name == "crc-mismatch":
        assert facts.crc32 is not None
        bad = _edit(image, facts.header_file_offset + 4060, struct.pack("<I", facts.crc32 ^ 1), name)
        return env, bad, Expected("image CRC32", image=f"{facts.crc32 ^ 1:#010x}", boot=f"{facts.crc32:#010x}",
                                  message="Invalid image CRC32!")
    raise KeyError(name)
