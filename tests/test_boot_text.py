"""analysis/boot_text.py: the `--boot-facts DIR` files, each parser against independent truth:
the real 6.1 machine's serial log (whose image carries e820 CRC32 0xba571fd2 and num_physpages
65403), and text built here from an e820 list in each file's format."""

import random
import re
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from volatility3.plugins.swsusp.analysis import boot_text
from volatility3.plugins.swsusp.analysis.boot_facts import (
    E820Entry,
    e820_crc32,
    present_pages,
    ram_pfn_ranges,
)
from volatility3.plugins.swsusp.analysis.boot_text import (
    BootFactsError,
    kernel_param,
    parse_config,
    parse_crypto,
    parse_dmesg,
    parse_iomem,
    parse_memmap,
    parse_power,
    parse_uname,
    parse_zoneinfo,
    read_boot_facts,
)

REAL_CRC = 0xBA571FD2  # the swsusp_info e820_checksum the real machine's images carry
REAL_PHYSPAGES = 65403  # and their num_physpages
LOG = "lzo-b-resume.serial.log"

# an e820 table of our choosing (sorted, as e820__update_table leaves it), every kind of type
TABLE = (
    E820Entry(0x0, 0x9FC00, 1),
    E820Entry(0x9FC00, 0x400, 2),
    E820Entry(0xF0000, 0x10000, 2),
    E820Entry(0x100000, 0x7FEE0000, 1),
    E820Entry(0x7FFE0000, 0x10000, 3),
    E820Entry(0x7FFF0000, 0x10000, 4),
    E820Entry(0x80000000, 0x1000000, 5),
    E820Entry(0xFEC00000, 0x1000, 2),
    E820Entry(0x100000000, 0x80000000, 1),
    E820Entry(0x180000000, 0x40000000, 7),
    E820Entry(0x1C0000000, 0x40000000, 12),
    E820Entry(0x200000000, 0x10000000, 0xEFFFFFFF),
)
MEMMAP_NAMES = {1: "System RAM", 2: "Reserved", 3: "ACPI Tables", 4: "ACPI Non-volatile Storage",
                5: "Unusable memory", 7: "Persistent Memory", 12: "Persistent Memory (legacy)",
                0xEFFFFFFF: "Soft Reserved"}
DMESG_NAMES = {1: "usable", 2: "reserved", 3: "ACPI data", 4: "ACPI NVS", 5: "unusable",
               7: "persistent (type 7)", 12: "persistent (type 12)", 0xEFFFFFFF: "soft reserved"}


def memmap_text(table, names=MEMMAP_NAMES, shuffle=True) -> str:
    """`grep -r . /sys/firmware/memmap`: directory order, not N order."""
    lines = []
    for n, e in enumerate(table):
        for field, value in (("end", f"{e.end - 1:#x}"), ("type", names[e.type]), ("start", f"{e.addr:#x}")):
            lines.append(f"/sys/firmware/memmap/{n}/{field}:{value}")
    if shuffle:
        random.Random(1).shuffle(lines)
    return "\n".join(lines) + "\n"


def dmesg_lines(table, names=DMESG_NAMES):
    """e820__print_table("BIOS-e820")."""
    return [f"BIOS-e820: [mem {e.addr:#018x}-{e.end - 1:#018x}] {names.get(e.type, f'type {e.type}')}"
            for e in table]


BANNER = ("Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) "
          "12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)")


def boot_log(table, cmdline="root=/dev/vda1 resume=/dev/vda2", banner=BANNER):
    return [banner, f"Command line: {cmdline}", "BIOS-provided physical RAM map:", *dmesg_lines(table),
            "NX (Execute Disable) protection: active", f"Kernel command line: {cmdline}"]


def stamped(lines, t0=0.0):
    return "\n".join(f"[{t0 + i * 0.000001:12.6f}] {line}" for i, line in enumerate(lines)) + "\n"


def journal(lines, host="deb"):
    return "\n".join(f"Dec 02 10:00:{i % 60:02d} {host} kernel: {line}" for i, line in enumerate(lines)) + "\n"


def truth_table(log_text: str):
    """The real log's BIOS-e820 lines, read here independently of the module."""
    out = []
    for a, b, kind in re.findall(r"BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] (\w+)", log_text):
        out.append(E820Entry(int(a, 16), int(b, 16) + 1 - int(a, 16), {"usable": 1, "reserved": 2}[kind]))
    return tuple(out)


# -- the real machine ------------------------------------------------------------------------

def test_real_log_gives_the_images_checksum_and_size(real):
    text = real.path(LOG).read_bytes().decode("utf-8", "replace")
    truth = truth_table(text)
    assert len(truth) == 7 and e820_crc32(truth) == REAL_CRC
    facts = parse_dmesg(text)
    assert facts.e820_firmware is not None and facts.e820_firmware.value == truth
    assert e820_crc32(facts.e820_firmware.value) == REAL_CRC
    assert present_pages(ram_pfn_ranges(facts.e820_firmware.value)) == REAL_PHYSPAGES
    assert facts.release is not None and facts.release.value == "6.1.0-56-amd64"
    assert facts.cmdline is not None and kernel_param(facts.cmdline.value, "resume") == "/dev/vda"
    assert facts.banner is not None and facts.banner.value.startswith("Linux version 6.1.0-56-amd64 (")


def test_real_table_as_memmap_gives_the_same_checksum(real, tmp_path):
    truth = truth_table(real.path(LOG).read_bytes().decode("utf-8", "replace"))
    facts = parse_memmap(memmap_text(truth))
    assert facts.e820_firmware is not None and e820_crc32(facts.e820_firmware.value) == REAL_CRC
    assert "ambiguous" in facts.e820_firmware.source  # "Reserved" entries, no dmesg to settle them
    (tmp_path / "memmap").write_text(memmap_text(truth))
    (tmp_path / "dmesg").write_bytes(real.path(LOG).read_bytes())
    got, notes = read_boot_facts(tmp_path)
    assert got.e820_firmware is not None and e820_crc32(got.e820_firmware.value) == REAL_CRC
    assert "ambiguous" not in got.e820_firmware.source and "memmap" in got.e820_firmware.source
    assert got.num_physpages is not None and got.num_physpages.value == REAL_PHYSPAGES
    assert got.num_physpages.source.startswith("computed from the firmware map: ")
    assert got.max_pfn is not None and got.max_pfn.value == 0xFFDD
    assert got.ram_pfns is not None and got.ram_pfns.value == ((0, 0x9F), (0x100, 0xFFDD))


# -- e820 in both forms -----------------------------------------------------------------------

def test_memmap_and_dmesg_forms_of_one_table_agree():
    mm = parse_memmap(memmap_text(TABLE), "facts/memmap")
    dm = parse_dmesg(stamped(boot_log(TABLE)), "facts/dmesg")
    assert mm.e820_firmware is not None and dm.e820_firmware is not None
    assert mm.e820_firmware.value == dm.e820_firmware.value == TABLE
    assert e820_crc32(mm.e820_firmware.value) == e820_crc32(dm.e820_firmware.value) == e820_crc32(TABLE)
    assert mm.e820_firmware.source.startswith("facts/memmap")
    assert dm.e820_firmware.source == "facts/dmesg BIOS-e820 lines"


def test_memmap_ordered_by_entry_number_not_text_order():
    table = tuple(E820Entry(i << 20, 1 << 20, 1 + (i % 2)) for i in range(12))  # N = 0..11: "10" < "2"
    text = "\n".join(sorted(memmap_text(table, shuffle=False).splitlines()))
    assert parse_memmap(text).e820_firmware.value == table


def test_memmap_one_entry_per_line():
    text = "".join(f"{e.addr:#x} {e.end - 1:#x} {MEMMAP_NAMES[e.type]}\n" for e in TABLE)
    assert parse_memmap(text).e820_firmware.value == TABLE


def test_memmap_unknown_type_is_settled_by_dmesg(tmp_path):
    table = (E820Entry(0, 0x9F000, 1), E820Entry(0x100000, 0x1000000, 13), E820Entry(0x2000000, 0x1000000, 1))
    names = {**MEMMAP_NAMES, 13: "Unknown E820 type"}
    alone = parse_memmap(memmap_text(table, names))
    assert alone.e820_firmware is None  # the number is lost
    assert alone.ram_pfns is not None and alone.ram_pfns.value == ((0, 0x9F), (0x2000, 0x3000))
    old = {**MEMMAP_NAMES, 13: "Reserved"}  # what older kernels write for it
    guess = parse_memmap(memmap_text(table, old))
    assert guess.e820_firmware.value[1].type == 2 and "ambiguous" in guess.e820_firmware.source
    (tmp_path / "memmap").write_text(memmap_text(table, old))
    (tmp_path / "dmesg").write_text(stamped(boot_log(table)))
    facts, _ = read_boot_facts(tmp_path)
    assert facts.e820_firmware.value == table  # "type 13" from the BIOS-e820 lines
    assert e820_crc32(facts.e820_firmware.value) == e820_crc32(table)


def test_memmap_and_dmesg_that_differ_keep_memmap_and_say_so(tmp_path):
    other = TABLE[:-1]
    (tmp_path / "memmap").write_text(memmap_text(TABLE))
    (tmp_path / "dmesg").write_text(stamped(boot_log(other)))
    facts, notes = read_boot_facts(tmp_path)
    assert facts.e820_firmware.value == TABLE
    assert any("differ" in n for n in notes)


# -- dmesg forms ------------------------------------------------------------------------------

@pytest.mark.parametrize("form", [stamped, journal,
                                  lambda lines: "\n".join(f"kern  :info  : [    0.000000] {x}" for x in lines),
                                  lambda lines: "\r\n".join(f"\x1b[2J[    0.000000] {x}" for x in lines)])
def test_dmesg_prefixes(form):
    facts = parse_dmesg(form(boot_log(TABLE, cmdline="a=1 b")))
    assert facts.e820_firmware.value == TABLE
    assert facts.cmdline.value == "a=1 b" and "Kernel command line" in facts.cmdline.source
    assert facts.release.value == "6.1.0-56-amd64" and facts.banner.value == BANNER


def test_dmesg_several_boots_takes_the_last(tmp_path):
    first = (E820Entry(0, 0x9F000, 1), E820Entry(0x100000, 0x4000000, 1))
    banner2 = BANNER.replace("6.1.0-56", "6.12.9")
    text = journal(boot_log(first, "resume=/dev/old") + ["PM: hibernation: hibernation entry"]
                   + boot_log(TABLE, "resume=/dev/new", banner2))
    facts = parse_dmesg(text)
    assert facts.e820_firmware.value == TABLE
    assert facts.cmdline.value == "resume=/dev/new" and facts.release.value == "6.12.9-amd64"
    (tmp_path / "dmesg").write_text(text)
    _, notes = read_boot_facts(tmp_path)
    assert any("2 boots" in n for n in notes)


def test_dmesg_command_line_without_kernel_command_line():
    lines = [x for x in boot_log(TABLE, "x=1") if not x.startswith("Kernel command line")]
    facts = parse_dmesg(stamped(lines))
    assert facts.cmdline.value == "x=1" and "boot_command_line" in facts.cmdline.source


def test_dmesg_garbled_e820_line_names_file_and_line():
    lines = boot_log(TABLE)
    lines[5] = "BIOS-e820: [mem 0x0000000000100000-0x00000000zz] usable"
    with pytest.raises(BootFactsError) as exc:
        parse_dmesg(stamped(lines), "facts/dmesg")
    assert str(exc.value).startswith("facts/dmesg line 6: ") and "\n" not in str(exc.value)
    lines[5] = "BIOS-e820: [mem 0x0000000000100000-0x000000007ffdffff] bogus"
    with pytest.raises(BootFactsError, match="line 6: unknown e820 type"):
        parse_dmesg(stamped(lines), "facts/dmesg")


# -- the other files ----------------------------------------------------------------------------

ZONEINFO = """Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 1234
  pages free     3840
        boost    0
        min      48
        spanned  4095
        present  3998
        managed  3840
        cma      0
        protection: (0, 1907, 1907, 1907, 1907)
      nr_free_pages 3840
  pagesets
    cpu: 0
              count: 0
  node_unreclaimable:  0
  start_pfn:           1
Node 0, zone    DMA32
  pages free     400000
        spanned  1044480
        present  489440
        managed  470000
        protection: (0, 0, 0, 0, 0)
  node_unreclaimable:  0
  start_pfn:           4096
Node 0, zone   Normal
  pages free     0
        spanned  0
        present  0
        managed  0
        protection: (0, 0, 0, 0, 0)
Node 1, zone   Normal
  pages free     0
        spanned  524288
        present  524288
        managed  510000
        protection: (0, 0, 0, 0, 0)
  start_pfn:           1048576
"""


def test_zoneinfo():
    facts = parse_zoneinfo(ZONEINFO, "facts/zoneinfo")
    assert facts.num_physpages.value == 3998 + 489440 + 524288
    assert facts.max_pfn.value == 1048576 + 524288
    assert facts.num_physpages.source.startswith("facts/zoneinfo")
    with pytest.raises(BootFactsError, match="^z line 39: node 0 zone DMA a second time$"):
        parse_zoneinfo(ZONEINFO + ZONEINFO, "z")


IOMEM = """00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000f0000-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-7ffdffff : System RAM
  01000000-01e01fff : Kernel code
  3e000000-3fffffff : System RAM
100000000-17fffffff : System RAM
"""


def test_iomem(tmp_path):
    facts = parse_iomem(IOMEM)
    assert facts.ram_pfns.value == ((1, 0x9F), (0x100, 0x7FFE0), (0x100000, 0x180000))
    nonroot = re.sub(r"[0-9a-f]+-[0-9a-f]+ :", "00000000-00000000 :", IOMEM)
    with pytest.raises(BootFactsError, match="line 1: .*without root.*sudo cat /proc/iomem"):
        parse_iomem(nonroot, "facts/iomem")
    (tmp_path / "iomem").write_text(IOMEM)
    got, _ = read_boot_facts(tmp_path)  # nothing better: num_physpages approximate from it
    assert got.num_physpages.value == (0x9F - 1) + (0x7FFE0 - 0x100) + 0x80000
    assert got.num_physpages.source.startswith("approximate: from /proc/iomem")
    assert got.max_pfn.value == 0x180000
    (tmp_path / "zoneinfo").write_text(ZONEINFO)
    got, _ = read_boot_facts(tmp_path)
    assert "zoneinfo" in got.num_physpages.source and "zoneinfo" in got.max_pfn.source


def test_power_uname_crypto_config():
    power = ("/sys/power/disk:[platform] shutdown reboot suspend test_resume\n/sys/power/resume:254:0\n"
             "/sys/power/resume_offset:34816\n/sys/module/hibernate/parameters/compressor:lzo\n")
    facts = parse_power(power, "f/power")
    assert facts.resume_device.value == "254:0" and facts.resume_offset.value == 34816
    with pytest.raises(BootFactsError, match="f/power line 1: .*not MAJOR:MINOR"):
        parse_power("/sys/power/resume:/dev/vda\n", "f/power")
    u = parse_uname("Linux deb 6.1.0-56-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16) x86_64 GNU/Linux\n")
    assert u.release.value == "6.1.0-56-amd64" and u.banner.value.startswith("Linux deb ")
    assert parse_uname("6.12.9+bpo-amd64\n").release.value == "6.12.9+bpo-amd64"
    with pytest.raises(BootFactsError, match="uname line 1"):
        parse_uname("hello world again\n")
    crypto = "name         : lzo-rle\ndriver       : lzo-rle-scomp\n\nname         : lzo\ndriver       : lzo-scomp\n"
    assert parse_crypto(crypto).codecs.value == ("lzo",)
    config = parse_config("CONFIG_CRYPTO_LZO=y\nCONFIG_CRYPTO_LZ4=m\n# CONFIG_CRYPTO_LZ4HC is not set\n")
    assert config.codecs.value == ("lzo",) and config.codec_modules.value == ("lz4",)
    assert "CONFIG_CRYPTO_LZ4=m" in config.codec_modules.source and "loaded" in config.codec_modules.source


def test_crypto_wins_over_config(tmp_path):
    (tmp_path / "config").write_text("CONFIG_CRYPTO_LZO=y\nCONFIG_CRYPTO_LZ4=m\n")
    (tmp_path / "crypto").write_text("name         : lzo\n")
    facts, _ = read_boot_facts(tmp_path)
    assert facts.codecs.value == ("lzo",) and facts.codecs.source.endswith("/crypto (registered algorithms)")


def test_kernel_param():
    line = 'root=/dev/sda1 resume=/dev/vda2 quiet resume="/dev/disk/by-label/my swap" resume-offset=7 -- resume=x'
    assert kernel_param(line, "resume") == "/dev/disk/by-label/my swap"  # last one; "--" ends them
    assert kernel_param(line, "resume_offset") == "7"
    assert kernel_param(line, "quiet") == "" and kernel_param(line, "noresume") is None
    assert kernel_param('"acpi_sleep=s3_bios, s4_hwsig" x', "acpi_sleep") == "s3_bios, s4_hwsig"
    assert boot_text.s4_hwsig_requested("acpi_sleep=s3_bios,s4_hwsig")
    assert boot_text.s4_hwsig_requested("acpi_sleep=s4_hwsig acpi_sleep=s3_mode")  # each one runs
    assert not boot_text.s4_hwsig_requested("acpi_sleep=s4_hwsig,s4_nohwsig")
    assert not boot_text.s4_hwsig_requested("acpi_sleep=s3_bios s4_hwsig")


# -- FACS ---------------------------------------------------------------------------------------

def facs(signature: int) -> bytes:
    return b"FACS" + struct.pack("<II", 64, signature) + bytes(52)


@pytest.mark.parametrize("cmdline, release, want, why", [
    ("root=/dev/vda acpi_sleep=s4_hwsig", "6.1.0-56-amd64", 0xCAFE1234, "has acpi_sleep=s4_hwsig"),
    ("root=/dev/vda acpi_sleep=s3_bios,s4_hwsig", None, 0xCAFE1234, "has acpi_sleep=s4_hwsig"),
    ("root=/dev/vda", "6.1.0-56-amd64", 0, "no acpi_sleep=s4_hwsig"),
    ("acpi_sleep=s4_hwsig acpi=off", None, 0, "acpi=off"),
    ("acpi_sleep=s4_hwsig", "5.10.0-30-amd64", 0, "before 5.17"),
])
def test_facs(tmp_path, cmdline, release, want, why):
    (tmp_path / "FACS").write_bytes(facs(0xCAFE1234))
    (tmp_path / "cmdline").write_text(cmdline + "\n")
    if release:
        (tmp_path / "uname").write_text(release + "\n")
    got, _ = read_boot_facts(tmp_path)
    assert got.hw_signature.value == want and why in got.hw_signature.source


def test_facs_undecided_and_bad(tmp_path):
    (tmp_path / "FACS").write_bytes(facs(0xCAFE1234))
    got, notes = read_boot_facts(tmp_path)
    assert got.hw_signature is None and any("0xcafe1234" in n and "cmdline" in n for n in notes)
    (tmp_path / "FACS").write_bytes(b"DSDT" + bytes(60))
    with pytest.raises(BootFactsError, match="FACS: signature b'DSDT'"):
        read_boot_facts(tmp_path)
    (tmp_path / "FACS").unlink()
    (tmp_path / "cmdline").write_text("acpi_sleep=s4_hwsig\n")
    got, notes = read_boot_facts(tmp_path)
    assert got.hw_signature is None and any("no FACS" in n for n in notes)


# -- the folder ---------------------------------------------------------------------------------

def test_folder_errors(tmp_path):
    with pytest.raises(BootFactsError, match="does not exist.*uname, cmdline, memmap"):
        read_boot_facts(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BootFactsError, match="is not a directory"):
        read_boot_facts(tmp_path / "file")
    with pytest.raises(BootFactsError, match="holds none of the files .*FACS"):
        read_boot_facts(tmp_path)
    (tmp_path / "dmesg").write_text(stamped(boot_log(TABLE)))
    (tmp_path / "dmesg.txt").write_text(stamped(boot_log(TABLE)))
    with pytest.raises(BootFactsError, match="both dmesg and dmesg.txt"):
        read_boot_facts(tmp_path)
    (tmp_path / "dmesg.txt").unlink()
    facts, notes = read_boot_facts(tmp_path)
    assert notes == [f"{tmp_path.name}/file: not a known facts file, ignored"]
    assert facts.e820_firmware.source == f"{tmp_path.name}/dmesg BIOS-e820 lines"


def test_big_dmesg_reads_its_end(tmp_path):
    filler = "[    1.000000] " + "x" * 200 + "\n"
    text = stamped(boot_log(TABLE[:3])) + filler * (9 * 1024 * 1024 // len(filler)) + stamped(boot_log(TABLE))
    (tmp_path / "dmesg").write_text(text)
    facts, notes = read_boot_facts(tmp_path)
    assert facts.e820_firmware.value == TABLE and any("last 8 MiB" in n for n in notes)
    (tmp_path / "dmesg").unlink()
    (tmp_path / "cmdline").write_text("a" * (9 << 20))
    facts, notes = read_boot_facts(tmp_path)
    assert len(facts.cmdline.value) == 8 << 20 and any("first 8 MiB" in n for n in notes)


def test_full_folder(tmp_path):
    files = {
        "uname": "Linux deb 6.1.0-56-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16) x86_64 GNU/Linux\n",
        "cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/vda1 resume=/dev/vda2\n",
        "memmap": memmap_text(TABLE),
        "dmesg": journal(boot_log(TABLE)),
        "zoneinfo": ZONEINFO,
        "iomem": IOMEM,
        "power": "/sys/power/resume:254:2\n/sys/power/resume_offset:0\n",
        "crypto": "name : lz4\n\nname : lzo\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "FACS").write_bytes(facs(7))
    facts, notes = read_boot_facts(tmp_path)
    label = tmp_path.name
    assert facts.release.source == f"{label}/uname (uname -a)"
    assert facts.banner.value == BANNER  # linux_banner from the log
    assert facts.cmdline.source == f"{label}/cmdline" and facts.cmdline.value.startswith("BOOT_IMAGE=")
    assert facts.e820_firmware.value == TABLE and facts.e820_firmware.source.startswith(f"{label}/memmap")
    assert facts.num_physpages.value == 3998 + 489440 + 524288
    assert facts.ram_pfns.source.startswith(f"{label}/iomem")
    assert (facts.resume_device.value, facts.resume_offset.value) == ("254:2", 0)
    assert facts.hw_signature.value == 0 and facts.codecs.value == ("lzo", "lz4")  # /proc/crypto
    assert notes == []


# -- hostile input ------------------------------------------------------------------------------

NAMES = ["uname", "cmdline", "memmap", "iomem", "dmesg", "zoneinfo", "power", "FACS", "crypto", "config", "lockdown"]
SEEDS = {"memmap": memmap_text(TABLE).encode(), "dmesg": stamped(boot_log(TABLE)).encode(),
         "zoneinfo": ZONEINFO.encode(), "iomem": IOMEM.encode(), "FACS": facs(1)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), junk=st.binary(max_size=300), cut=st.integers(0, 4000),
       mode=st.sampled_from(["junk", "splice", "truncate"]))
def test_hostile_files_raise_only_boot_facts_error(name, junk, cut, mode):
    seed = SEEDS.get(name, b"")
    data = {"junk": junk, "splice": seed[:cut] + junk + seed[cut:], "truncate": seed[:cut]}[mode]
    with tempfile.TemporaryDirectory() as d:
        Path(d, name).write_bytes(data)
        try:
            facts, notes = read_boot_facts(d)
        except BootFactsError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(Path(d).name + "/" + name)
        else:
            assert isinstance(notes, list)
            if facts.e820_firmware is not None:
                e820_crc32(facts.e820_firmware.value)  # packable: 64-bit ranges, 32-bit types


def test_lockdown_is_the_bracketed_level():
    from volatility3.plugins.swsusp.analysis.boot_text import parse_lockdown

    assert parse_lockdown("none [integrity] confidentiality\n").lockdown.value == "integrity"
    assert parse_lockdown("[none] integrity confidentiality\n").lockdown.value == "none"
    with pytest.raises(BootFactsError):
        parse_lockdown("none integrity confidentiality\n")
