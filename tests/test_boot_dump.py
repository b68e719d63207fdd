"""The boot kernel's facts from a RAM dump of it (vol/boot_dump.py), on run B's boot-kernel
dump (taken during the successful resume of swap-lzo-b.img): with the dwarf2json ISF on the
symbol path, with no ISF anywhere (one built from the dump's BTF and kallsyms), and with no
symbols at all (the kernel's text in physical memory); and a file that is no dump.

Truth: the console log of that very boot (lzo-b-resume.serial.log: "Command line:",
"BIOS-e820:", "last_pfn", "Memory: free/present K"), the image run B wrote on the same machine
(its restore record's magic and e820 CRC, swsusp_info.num_physpages), the kernel's config."""

import json
import lzma
import os
import re
from pathlib import Path

import pytest
import volatility3.symbols
from volatility3 import schemas
from volatility3.framework import constants, contexts

from tests import realsamples
from volatility3.plugins.swsusp.analysis.boot_facts import (
    E820Entry,
    e820_crc32,
    present_pages,
)
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.vol import boot_dump
from volatility3.plugins.swsusp.vol.boot_dump import read_boot_dump
from volatility3.plugins.swsusp.vol.refusal import Refusal

DUMP = "resume-bootkernel-b.elf"
LOG = "lzo-b-resume.serial.log"
ISF = "6.1.0-56-amd64_6.1.192-2.json.xz"
USER_CACHE = os.path.abspath(constants.CACHE_PATH)  # before any test moves it
E820_TYPES = {"usable": 1, "reserved": 2, "ACPI data": 3, "ACPI NVS": 4, "unusable": 5}


# -- truth ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def log(real):
    """The console lines of the boot whose memory the dump holds, without the timestamps."""
    text = (real.folder / LOG).read_text(errors="replace")
    return [re.sub(r"^.*?\[\s*\d+\.\d+\] ", "", line.rstrip("\r\n")) for line in text.splitlines()
            if re.search(r"\[\s*\d+\.\d+\] ", line)]


def logged_cmdline(log):
    (line,) = [line for line in log if line.startswith("Command line: ")]
    return line[len("Command line: "):]


def logged_e820(log):
    out = []
    for line in log:
        m = re.match(r"BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (.+)$", line)
        if m:
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            out.append(E820Entry(start, end - start + 1, E820_TYPES[m.group(3)]))
    assert out
    return tuple(out)


@pytest.fixture(scope="module")
def image_b(real):
    return SwsuspImage.open(str(real.image("lzo-b")))


# -- runs ------------------------------------------------------------------------------------------

def _symbol_path(*extra):
    """The checkout's and the installed package's symbol folders (never a per-user cache
    folder, where an ISF an earlier run built from BTF may lie), and `extra`."""
    keep = [p for p in volatility3.symbols.__path__ if not os.path.abspath(p).startswith(USER_CACHE)]
    return [str(realsamples.REPO / "symbols"), *map(str, extra), *keep]


def _seed_validation(isf_path: Path):
    """Volatility validates an ISF against its schema on first use and remembers it under the
    cache path; for the 6.1 dwarf2json ISF that takes ~3 minutes and tests nothing here, so the
    hash Volatility would record after validating it is added to a copy of its set."""
    with lzma.open(isf_path) as f:
        digest = schemas.create_json_hash(json.load(f))
    return set(schemas.cached_validations) | {digest}


def _read(real, tmp_path_factory, name, symbols=(), seed=None, config=None):
    """read_boot_dump in a fresh context, with its own cache path (identifier cache, store of
    ISFs built from BTF) and symbol path; (facts, the kernel's BootKernelReader or None)."""
    import time

    dump = real.path(DUMP)
    before = os.stat(dump)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(volatility3.symbols, "__path__", _symbol_path(*symbols))
        mp.setattr(constants, "CACHE_PATH", str(tmp_path_factory.mktemp(name)))
        if seed is not None:
            mp.setattr(schemas, "cached_validations", seed)
        context = contexts.Context()
        for key, value in (config or {}).items():
            context.config[key] = value
        start = time.monotonic()
        facts = read_boot_dump(context, str(dump))
        print(f"read_boot_dump ({name}): {time.monotonic() - start:.1f} s")
        kernel = boot_dump.kernel_layer(context)
        reader = None if kernel is None else boot_dump.kernel_reader(context, kernel)  # while the ISF is known
    after = os.stat(dump)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)  # only read
    return facts, reader


@pytest.fixture(scope="module")
def with_isf(real, tmp_path_factory):
    seed = _seed_validation(real.symbols / "linux" / ISF)
    return _read(real, tmp_path_factory, "bootdump-isf", symbols=[real.symbols], seed=seed)


@pytest.fixture(scope="module")
def with_btf(real, tmp_path_factory):
    """No ISF on the symbol path: the one built from the dump's BTF and kallsyms."""
    return _read(real, tmp_path_factory, "bootdump-btf")


@pytest.fixture(params=["isf", "btf"])
def run(request):
    return request.getfixturevalue({"isf": "with_isf", "btf": "with_btf"}[request.param])


@pytest.fixture
def facts(run):
    return run[0]


# -- with symbols ----------------------------------------------------------------------------------

def test_sources_name_the_symbol_table(with_isf, with_btf):
    for (facts, _reader), label in ((with_isf, f"(ISF {ISF})"), (with_btf, "(ISF built from BTF)")):
        assert set(facts.known()) == {"release", "banner", "cmdline", "resume_device", "resume_offset",
                                      "e820_firmware", "num_physpages", "ram_pfns", "max_pfn", "hw_signature",
                                      "restore_magic", "codecs", "lockdown"}
        for name in facts.known():
            source = getattr(facts, name).source
            assert source.startswith("boot dump: ") and source.endswith(label), (name, source)
    assert with_isf[0].e820_firmware.source == f"boot dump: symbol e820_table_firmware (ISF {ISF})"


def test_release_banner_and_command_line(facts, log):
    assert facts.release.value == realsamples.RELEASE
    (banner,) = [line for line in log if line.startswith("Linux version ")]
    assert facts.banner.value == banner
    assert facts.cmdline.value == logged_cmdline(log)


def test_firmware_e820_is_the_logged_map_and_the_images_checksum(facts, log, image_b):
    assert facts.e820_firmware.value == logged_e820(log)
    assert e820_crc32(facts.e820_firmware.value) == image_b.info.record.e820_checksum


def test_memory_size(facts, log, image_b):
    (memory,) = [line for line in log if line.startswith("Memory: ")]
    present_kib = int(re.match(r"Memory: \d+K/(\d+)K available", memory).group(1))  # mem_init_print_info()
    assert facts.num_physpages.value == present_kib // 4 == image_b.info.num_physpages
    assert present_pages(facts.ram_pfns.value) == facts.num_physpages.value  # one node: RAM less PFN 0
    (last,) = [line for line in log if line.startswith("last_pfn = ")]
    assert facts.max_pfn.value == int(last.split()[2], 16)


def test_resume_checks(facts, image_b, real, log):
    assert facts.restore_magic.value == image_b.info.record.magic
    with lzma.open(real.folder / "config-6.1.0-56-amd64.xz", "rt") as f:
        config = f.read()
    assert "CONFIG_HIBERNATION=y" in config and "HIBERNATION_COMP_LZ4" not in config  # before 6.9: LZO only
    assert facts.codecs.value == ("lzo",)
    assert facts.resume_offset.value == 0  # resume=/dev/vda: the whole disk, no resume_offset=
    assert re.fullmatch(r"\d+:\d+", facts.resume_device.value)
    # no Secure Boot under this QEMU: the log has no "Kernel is locked down" line, the LSM is built
    assert "CONFIG_SECURITY_LOCKDOWN_LSM=y" in config and not any("locked down" in line for line in log)
    assert facts.lockdown.value == "none"


def test_crypto_alg_list(run, real):
    """The walk a 6.9+ kernel's codecs come from, on this 6.1 kernel's list: the compressors
    built in (=y) are registered; those built as modules (=m) are not (no crypto module is
    loaded on this guest: lsmod lists only virtio drivers)."""
    _facts, reader = run
    with lzma.open(real.folder / "config-6.1.0-56-amd64.xz", "rt") as f:
        config = dict(line.strip().split("=", 1) for line in f if line.startswith("CONFIG_CRYPTO_LZ"))
    modules = {row["Module Name"] for row in real.truth_csv("prehib-lzo-b.lsmod.csv")}
    assert not any(name.startswith(("lz", "crypto")) for name in modules)
    expected = tuple(codec for codec in ("lzo", "lz4") if config.get(f"CONFIG_CRYPTO_{codec.upper()}") == "y")
    assert expected == ("lzo",) and reader.registered_compressors() == expected


# -- without symbols -------------------------------------------------------------------------------

def test_no_symbols_reads_the_kernels_text(real, tmp_path_factory, log):
    """No ISF, and building one switched off: the banner and the command line from memory."""
    facts, reader = _read(real, tmp_path_factory, "bootdump-text", config={"swsusp.btf": False})
    assert reader is None and facts.known() == ("release", "banner", "cmdline")
    assert facts.release.value == realsamples.RELEASE
    assert facts.banner.value == next(line for line in log if line.startswith("Linux version "))
    assert facts.cmdline.value == logged_cmdline(log)  # not the stale bytes after the log record's text
    assert all("(no symbols)" in getattr(facts, name).source for name in facts.known())


# -- refusals --------------------------------------------------------------------------------------

def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "noise #1.bin"
    path.write_bytes(os.urandom(1 << 20))
    with pytest.MonkeyPatch.context() as mp:
        (tmp_path / "cache").mkdir()
        mp.setattr(constants, "CACHE_PATH", str(tmp_path / "cache"))
        with pytest.raises(Refusal) as caught:
            read_boot_dump(contexts.Context(), path.as_uri())
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("kind", ["missing", "empty", "folder"])
def test_unreadable_files_are_refused(tmp_path, kind):
    path = tmp_path / f"{kind} #1"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(Refusal) as caught:
        read_boot_dump(contexts.Context(), str(path))
    assert str(path) in str(caught.value)


def test_a_hibernation_image_is_refused(real, tmp_path):
    """The image's kernel is the one that hibernated, not the boot kernel."""
    image = real.image("lzo-b")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(volatility3.symbols, "__path__", _symbol_path())
        mp.setattr(constants, "CACHE_PATH", str(tmp_path))
        with pytest.raises(Refusal) as caught:
            read_boot_dump(contexts.Context(), str(image))
    assert str(image) in str(caught.value) and "hibernation image" in str(caught.value)
