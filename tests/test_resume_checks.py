"""linux.swsusp_resume's replay of the boot kernel's resume checks: one synthetic pair per
failing check and a pair that resumes (samples/resume_pairs.py says what the kernel compares,
from the generator's own knowledge), and the kernel's rules one by one."""

import json
from pathlib import Path

import pytest

from samples import resume_pairs
from tests import realsamples
from volatility3.plugins.swsusp.analysis import resume_checks as rc
from volatility3.plugins.swsusp.analysis.boot_facts import BootFacts, Fact
from volatility3.plugins.swsusp.analysis.boot_text import read_boot_facts
from volatility3.plugins.swsusp.format.image import SwsuspImage


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume-pairs")
    return {name: resume_pairs.make_pair(name, str(folder)) for name in resume_pairs.PAIRS}


def replay(pair):
    image = SwsuspImage.open(pair.image, scan="all")
    boot, _notes = read_boot_facts(pair.facts)
    crc = image.compute_crc32()
    stream = rc.StreamResult(crc, tuple(f"{d.where}: {d.message}" for d in image.damage))
    return rc.replay(rc.ImageSide.of(image), boot, stream)


def row(checks, name):
    (found,) = [c for c in checks if c.name.split(" (")[0] == name]
    return found


def test_the_machine_that_hibernated_resumes_it(pairs):
    checks = replay(pairs["resumes"])
    assert [c.result for c in checks] == [rc.PASS] * len(checks), [c for c in checks if c.result != rc.PASS]
    assert rc.verdict(checks).result == rc.PASS
    facts = pairs["resumes"].image_facts
    assert row(checks, "memory map").image == f"CRC32 {facts.e820_crc:#010x}"
    assert row(checks, "image CRC32").boot == f"computed {facts.crc32:#010x}"


@pytest.mark.parametrize("name", [n for n in resume_pairs.PAIRS if n != "resumes"])
def test_each_pair_fails_first_at_its_check(pairs, name):
    pair = pairs[name]
    checks = replay(pair)
    failed = [c for c in checks if c.result == rc.FAIL]
    assert failed, checks
    first = failed[0]
    assert first.name.split(" (")[0] == pair.expected.check
    assert pair.expected.image in first.image
    assert pair.expected.boot in first.boot
    assert pair.expected.message in first.message
    verdict = rc.verdict(checks)
    assert verdict.result == rc.FAIL and first.message in verdict.message
    # the checks before the verdict were made and passed, but those the facts cannot decide
    before = checks[:checks.index(first)]
    assert [c for c in before if c.result != rc.PASS] == [
        c for c in before if c.name.split(" (")[0] in pair.expected.not_checked and c.result == rc.NOT_CHECKED]


def test_a_check_without_its_boot_fact_is_not_checked_and_says_which(pairs):
    image = SwsuspImage.open(pairs["resumes"].image, scan="all")
    checks = rc.replay(rc.ImageSide.of(image), BootFacts(), None)
    unknown = {c.name.split(" (")[0]: c.message for c in checks if c.result == rc.NOT_CHECKED}
    assert set(unknown) == {"resume requested", "resume location", "restore record", "memory map",
                            "memory size", "page frames", "image data", "image CRC32"}
    assert "e820 table" in unknown["memory map"] and "--no-crc" in unknown["image CRC32"]
    assert row(checks, "signature").result == rc.PASS
    assert rc.verdict(checks).result == rc.NOT_CHECKED


# -- the kernel's rules, one by one --------------------------------------------------------

@pytest.mark.parametrize("release, magic", [("6.12.57+deb13-amd64", rc.MAGIC_V4), ("5.12.0", rc.MAGIC_V4),
                                            ("5.11.22", rc.MAGIC_V3), ("4.11.0", rc.MAGIC_V3),
                                            ("4.9.0-19-amd64", rc.MAGIC_V2), ("4.4.0", rc.MAGIC_V1)])
def test_restore_magic_follows_the_release_when_no_dump_says(release, magic):
    fact = rc.expected_magic(BootFacts(release=Fact(release, "uname")))
    assert fact is not None and fact.value == magic and "by release" in fact.source


def test_a_magic_read_from_the_boot_kernel_wins_over_its_release():
    boot = BootFacts(release=Fact("5.10.0", "uname"), restore_magic=Fact(rc.MAGIC_V4, "dump"))
    assert rc.expected_magic(boot) == Fact(rc.MAGIC_V4, "dump")


def test_page_frames_without_a_section_are_a_firmware_bug_and_outside_the_zones_is_not():
    section = 1 << 15
    ram = ((1, 0x9F), (0x100, 2 * section))  # two 128 MiB sections of RAM
    sections = {0, 1}
    assert rc._first_invalid(0x100, 16, 1, 2 * section, sections) is None
    assert rc._first_invalid(2 * section - 4, 8, 1, 2 * section, sections) == (2 * section, False)
    # inside a section with RAM but above max_pfn: pfn_valid() holds, memory_bm_pfn_present() not
    assert rc._first_invalid(section + 10, 4, 1, section + 12, sections) == (section + 12, True)
    assert rc._first_invalid(0, 1, 1, 2 * section, sections) == (0, True)
    assert ram  # documents the layout the numbers above describe


def test_lz4_image_and_an_older_boot_kernel():
    boot = BootFacts(release=Fact("6.8.0-31-generic", "uname"))
    side = _side(codec="lz4")
    check = rc.compressor(side, boot)
    assert check.result == rc.FAIL and "LZO decompression failed" in check.message
    assert rc.compressor(_side(codec="lzo"), boot).result == rc.PASS


def test_lz4_on_a_6_9_kernel_depends_on_how_the_kernel_has_it():
    lz4 = _side(codec="lz4")
    release = Fact("6.12.57+deb13-amd64", "uname")
    registered = BootFacts(release=release, codecs=Fact(("lzo", "lz4"), "crypto"))
    assert rc.compressor(lz4, registered).result == rc.PASS
    module = BootFacts(release=release, codecs=Fact(("lzo",), "config"), codec_modules=Fact(("lz4",), "config"))
    check = rc.compressor(lz4, module)  # crypto_has_comp() may load it: only the initramfs knows
    assert check.result == rc.NOT_CHECKED and "lz4 compression is not available" in check.message
    absent = BootFacts(release=release, codecs=Fact(("lzo",), "config"), codec_modules=Fact((), "config"))
    check = rc.compressor(lz4, absent)
    assert check.result == rc.FAIL and check.message == "PM: hibernation: lz4 compression is not available"
    only_registered = BootFacts(release=release, codecs=Fact(("lzo",), "boot dump: crypto_alg_list"))
    assert rc.compressor(lz4, only_registered).result == rc.NOT_CHECKED
    assert rc.compressor(_side(codec="lzo"), BootFacts()).result == rc.PASS  # LZO is always there


def test_hw_sig_is_compared_only_when_the_image_has_one_and_the_kernel_checks():
    boot = BootFacts(release=Fact("6.1.0", "uname"), hw_signature=Fact(0x1234, "FACS"))
    assert rc.hardware_signature(_side(), boot).result == rc.PASS  # SF_HW_SIG clear
    signed = _side(flags=rc.SF_HW_SIG, hw_sig=0x1235)
    check = rc.hardware_signature(signed, boot)
    assert check.result == rc.FAIL and "(00001235 now 00001234)" in check.message
    old = BootFacts(release=Fact("5.16.0", "uname"), hw_signature=Fact(0x1234, "FACS"))
    assert rc.hardware_signature(signed, old).result == rc.PASS  # before 5.17 nobody compares


def test_the_vol_command_renders_the_rows_as_json(pairs, vol):
    pair = pairs["memory-map"]
    result = vol("-q", "-r", "json", "-f", pair.image, "linux.swsusp_resume", "--boot-facts", pair.facts)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(result.stdout)
    assert [r["Check"].split(" (")[0] for r in rows][-1] == "verdict"
    by_name = {r["Check"].split(" (")[0]: r for r in rows}
    assert by_name["memory map"]["Result"] == "FAIL"
    assert pair.expected.boot in by_name["memory map"]["Boot"]
    assert by_name["verdict"]["Result"] == "FAIL"
    assert "Hibernate inconsistent memory map detected!" in result.stderr  # the verdict, warned once


def _side(**changes) -> rc.ImageSide:
    base = dict(signature="S1SUSPEND", consumed=False, uswsusp=False, flags=rc.SF_CRC32_MODE, hw_sig=0,
                header_block=0, container="whole file", swap_uuid=None, record_magic=rc.MAGIC_V4,
                e820_checksum=0, e820_digest=None, num_physpages=65403, codec="lzo", crc32=0,
                pfn_runs=lambda: [(1, 10)], pfn_count=10)
    base.update(changes)
    return rc.ImageSide(**base)  # type: ignore[arg-type]


# -- real run B: the image and the console log of the boot that resumed it ------------------

SERIAL_LOG = "lzo-b-resume.serial.log"


def _log_folder(real, tmp_path):
    """A --boot-facts folder holding only the resume boot's console log, as `dmesg`."""
    folder = tmp_path / "facts"
    folder.mkdir()
    (folder / "dmesg").write_bytes((real.folder / SERIAL_LOG).read_bytes())
    return folder


def test_real_run_b_passes_every_check_against_its_boot_log(real, tmp_path):
    image = SwsuspImage.open(str(real.image("lzo-b")), scan="all")
    boot, _notes = read_boot_facts(_log_folder(real, tmp_path))
    stream = rc.StreamResult(image.compute_crc32(), ())
    checks = rc.replay(rc.ImageSide.of(image), boot, stream)
    assert [(c.name, c.result) for c in checks if c.result != rc.PASS] == []
    # the values compared are the image's own and the log's, computed independently here
    assert row(checks, "memory map").image == f"CRC32 {image.info.record.e820_checksum & 0xFFFFFFFF:#010x}"
    assert row(checks, "memory size").boot.startswith(f"{image.info.num_physpages} pages")


def test_real_consumed_image_fails_at_the_signature(real, tmp_path):
    image = SwsuspImage.open(str(real.consumed_image()), scan="all")
    boot, _notes = read_boot_facts(_log_folder(real, tmp_path))
    checks = rc.replay(rc.ImageSide.of(image), boot, None)
    failed = [c for c in checks if c.result == rc.FAIL]
    assert [c.name.split(" (")[0] for c in failed] == ["signature"]
    assert failed[0].image == "SWAPSPACE2" and "consumed" in failed[0].message


def test_readme_walkthrough_is_what_vol_prints(vol):
    """README "My laptop did not resume": the command on the bundled pair and every line it
    prints (the verdict's WARNING on standard error, the rest on standard output)."""
    readme = (realsamples.REPO / "README.md").read_text()
    block = readme.split("<!-- resume example")[1].split("```")[1]
    command, *printed = block.strip("\n").splitlines()
    assert command.startswith("$ vol -q -f samples/")
    args = command.split()[3:]
    result = vol(*args[:1], str(realsamples.REPO / args[1]), *args[2:-1], str(realsamples.REPO / args[-1]))
    assert result.returncode == 0, result.stderr[-2000:]
    errors = [line for line in printed if line.startswith("WARNING ")]
    assert errors == result.stderr.splitlines()
    assert [line for line in printed if line not in errors] == result.stdout.splitlines()


def test_the_bundled_facts_folder_is_the_generators_memory_map_pair(tmp_path):
    """samples/laptop-after-bios-update is what samples/resume_pairs.py writes for the pair
    "memory-map", whose image is the bundled quickstart-lzo.img, byte for byte."""
    pair = resume_pairs.make_pair("memory-map", str(tmp_path))
    assert (tmp_path / "image-lzo.img").read_bytes() == (realsamples.REPO / "samples/quickstart-lzo.img").read_bytes()
    bundled = realsamples.REPO / "samples" / "laptop-after-bios-update"
    made = {p.name: p.read_bytes() for p in Path(pair.facts).iterdir()}
    assert made == {p.name: p.read_bytes() for p in bundled.iterdir()}


def test_real_run_b_passes_every_check_against_its_boot_dump(real, vol):
    """The issue's truth: run B's image and the boot kernel that resumed it (its dump, the ISF
    on the symbol path): every row passes, each boot value read from the dump."""
    result = vol("-r", "json", "-f", str(real.image("lzo-b")), "linux.swsusp_resume",
                 "--boot-dump", str(real.path("resume-bootkernel-b.elf")), symbols=real.symbols, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(result.stdout)
    assert [(r["Check"], r["Result"]) for r in rows if r["Result"] != "pass"] == []
    sourced = [r for r in rows if r["Source"]]  # the rows that compare a boot-kernel fact
    assert len(sourced) >= 8 and all(r["Source"].startswith("boot dump: ") for r in sourced), sourced
    memory_map = next(r for r in rows if r["Check"].startswith("memory map"))
    assert memory_map["Image"] == "CRC32 0xba571fd2" and memory_map["Boot"].startswith("CRC32 0xba571fd2")


def test_a_missing_facts_folder_is_one_line(vol, tmp_path):
    result = vol("-f", str(realsamples.REPO / "samples/quickstart-lzo.img"), "linux.swsusp_resume",
                 "--boot-facts", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "nowhere" in lines[0] and "does not exist" in lines[0], result.stderr


# -- the kernel's command-line parsing, and what it decides ------------------------------------

def _boot(cmdline: str, **more) -> BootFacts:
    return BootFacts(release=Fact("6.1.0", "uname"), cmdline=Fact(cmdline, "cmdline"), **more)


@pytest.mark.parametrize("line, fails", [
    ("root=/dev/sda1 resume=/dev/sda2", False),
    ("resume=/dev/sda2 noresume", True),
    ("resume=/dev/sda2 hibernate=noresume hibernate=nocompress", True),  # every hibernate= counts
    ("resume=/dev/sda2 hibernate=nofoo", True),  # hibernate_setup(): any other "no..." is "no"
    ("resume=/dev/sda2 hibernate=nocompress", False),
    ("resume=/dev/sda2 nohibernate", True),
    ("resume=/dev/sda2 lockdown=integrity", True),
    ("resume=/dev/sda2 lockdown=none", False),
])
def test_resume_requested_follows_hibernate_setup_and_lockdown(line, fails):
    check = rc.resume_requested(_side(), _boot(line))
    assert check.result == (rc.FAIL if fails else rc.PASS), check


def test_a_secure_boot_lockdown_skips_the_resume():
    check = rc.resume_requested(_side(), _boot("resume=/dev/sda2", lockdown=Fact("integrity", "lockdown")))
    assert check.result == rc.FAIL and "hibernation is restricted" in check.message


@pytest.mark.parametrize("line, block, result", [
    ("resume=/dev/sda2 resume_offset=34816", 34816, rc.PASS),
    ("resume=/dev/sda2 resume_offset=0x8800", 34816, rc.FAIL),  # sscanf("%llu"): 0, not 34816
    ("resume=/dev/sda2 resume_offset=34816abc", 34816, rc.PASS),  # the leading digits
    ("resume=/dev/sda2", 34816, rc.FAIL),  # a swap file, but no resume_offset=
    ("root=/dev/sda1", 0, rc.NOT_CHECKED),  # no device named: an initramfs may name one
])
def test_resume_offset_is_parsed_as_the_kernel_does(line, block, result):
    check = rc.resume_location(_side(header_block=block), _boot(line))
    assert check.result == result, check


def test_the_run_time_resume_offset_wins_over_the_command_line():
    boot = _boot("resume=/dev/sda2 resume_offset=34816", resume_offset=Fact(0, "dump"))
    assert rc.resume_location(_side(header_block=34816), boot).result == rc.FAIL


def test_an_lz4_image_on_an_older_kernel_fails_after_check_header():
    boot = BootFacts(release=Fact("5.15.0", "uname"), e820_firmware=Fact((), "memmap"))
    names = [c.name.split(" (")[0] for c in rc.replay(_side(codec="lz4"), boot, None)]
    assert names.index("memory size") + 1 == names.index("compressor") < names.index("page frames")
    first = next(c for c in rc.replay(_side(codec="lz4"), boot, None) if c.result == rc.FAIL)
    assert first.name.startswith("memory map")  # the e820 line is what that kernel printed


def test_an_all_zero_md5_digest_is_let_go():
    side = _side(e820_checksum=None, e820_digest=bytes(16), record_magic=rc.MAGIC_V3)
    boot = BootFacts(release=Fact("5.10.0", "uname"), e820_firmware=Fact((), "memmap"))
    assert rc.memory_map(side, boot).result == rc.PASS


def test_damage_in_an_uncompressed_image_is_a_read_error():
    stream = rc.StreamResult(None, ("stream pages 10-10: block beyond the area",))
    check = rc.image_data(_side(codec="none", crc32=None), BootFacts(), stream)
    assert check.result == rc.FAIL and check.message.startswith("PM: Read-error on swap-device")
    check = rc.image_data(_side(codec="lzo"), BootFacts(release=Fact("6.12.0", "uname")), stream)
    assert check.message.startswith("PM: lzo decompression failed")
