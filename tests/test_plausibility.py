"""Plausibility of the sizes and PFNs an image states, and of the input (issue 11): a one-bit
error in the PFN list costs that entry's page, never an export of terabytes; the truth is the
generator's memory and PFN list."""

import os
import resource
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.realsamples import REPO, vol_command
from tests.test_fuzz import FUZZ, Case, Put, StreamPut, base, check_contract, check_error, examples, u64
from volatility3.plugins.swsusp.format.errors import PageNotInImage, SwsuspFormatError
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.format.pfn_list import ENCODED_PFN_ZERO_FLAG, MAX_REJECTED
from volatility3.plugins.swsusp.format.source import BytesSource, FileSource

PAGE = 4096
FLIP_VARIANTS = ("era-6.1-none", "quickstart-lzo", "era-6.6-zero", "uswsusp-lzo", "medium-none")


def _flipped(name, flips):
    """Variant `name` with bit b of PFN-list entry i flipped, for each (i, b)."""
    entries = base(name).facts.pfn_entries
    return Case(name, [StreamPut(1 + i // 512, 8 * (i % 512), u64(entries[i] ^ (1 << b))) for i, b in flips])


def _entry_offset(facts, i):
    """File offset of PFN-list entry i in an uncompressed in-kernel image."""
    return facts.partition_offset + facts.stream_blocks[1 + i // 512] * PAGE + 8 * (i % 512)


def check_flipped(made, name, flips):
    """Each flipped entry costs at most its own page: every other page reads as the generator
    wrote it, the physical layer ends at the last true PFN, and the flips that make a PFN
    beyond the machine's memory are named with their file offsets."""
    machine, facts, _path = made(name)
    data = _flipped(name, flips).build()
    check_contract(data, scans=("auto",))
    try:
        image = SwsuspImage.open(BytesSource(data))
    except SwsuspFormatError as exc:  # e.g. the flip made a PFN listed twice: one clean line
        check_error(exc, data)
        values = {facts.pfn_entries[i] ^ (1 << b) for i, b in flips}
        assert values & (set(facts.pfn_entries) | {v ^ ENCODED_PFN_ZERO_FLAG for v in facts.pfn_entries}) \
            or any(b == 63 for _i, b in flips), exc.message
        return
    plain = {i: (facts.pfn_entries[i] ^ (1 << b)) & ~ENCODED_PFN_ZERO_FLAG for i, b in flips}
    rejected = {r.index for r in image.rejected}
    # an entry out of order beside a flipped one may be the wrong one for all the list says
    assert rejected <= {j for i in plain for j in (i - 1, i, i + 1)}
    unknown = {facts.pfns[i] for i in set(plain) | rejected} | set(plain.values())
    limit = image.pfns.pfn_limit
    assert limit is not None and max(facts.pfns) < limit
    assert {i for i, v in plain.items() if v >= limit} <= rejected  # implausible: never placed
    # the layer (and layerwriter's file) ends at the last true PFN, or a plausible flipped one
    assert image.max_pfn <= max([max(facts.pfns)] + [v for i, v in plain.items() if i not in rejected])
    for r in image.rejected:
        flipped = r.index in plain
        assert r.value == facts.pfn_entries[r.index] ^ (1 << dict(flips)[r.index] if flipped else 0)
        if facts.codec == "none":
            assert r.offset == _entry_offset(facts, r.index)
        assert f"entry #{r.index}" in r.message
    for pfn, page in machine.pages.items():
        if pfn in unknown:
            continue
        if pfn in facts.zero_pfns:
            assert bytes(image.read(pfn * PAGE, PAGE)) == bytes(PAGE)
        else:
            assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x}"
    for r in image.rejected:  # the page of a rejected entry is lost, not misplaced
        true_pfn = facts.pfns[r.index]
        if true_pfn not in plain.values() and r.index in plain:
            with pytest.raises(PageNotInImage):
                image.read_page(true_pfn)


@pytest.mark.parametrize("name", ["era-6.1-none", "medium-none", "quickstart-lzo"])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_high_bit_flip_in_one_pfn_is_rejected(made, name, where):
    n = len(base(name).facts.pfn_entries)
    i = {"first": 0, "middle": n // 2, "last": n - 1}[where]
    check_flipped(made, name, [(i, 39)])
    image = SwsuspImage.open(BytesSource(_flipped(name, [(i, 39)]).build()))
    (r,) = image.rejected
    assert r.index == i and r.data_page == i
    expected = "beyond the machine's memory" if where == "last" else "out of the list's ascending order"
    assert expected in r.reason


def test_zero_page_entry_flip_is_rejected(made):
    facts = base("era-6.6-zero").facts
    i = next(k for k, v in enumerate(facts.pfn_entries) if v & ENCODED_PFN_ZERO_FLAG)
    check_flipped(made, "era-6.6-zero", [(i, 44)])
    image = SwsuspImage.open(BytesSource(_flipped("era-6.6-zero", [(i, 44)]).build()))
    (r,) = image.rejected
    assert r.data_page is None and not image.is_zero_page(facts.pfns[i])


def test_shuffled_list_keeps_the_limit(made):
    """A list in another order: no order to judge by, the limit from num_physpages still holds."""
    facts = base("pfn-shuffled").facts
    i = max(range(len(facts.pfns)), key=facts.pfns.__getitem__)
    check_flipped(made, "pfn-shuffled", [(i, 35)])
    image = SwsuspImage.open(BytesSource(_flipped("pfn-shuffled", [(i, 35)]).build()))
    assert [r.index for r in image.rejected] == [i] and not image.pfns.ascending


def test_many_implausible_pfns_are_refused():
    """More than MAX_REJECTED entries beyond the 52-bit space is no bit error: refused, at the first."""
    name = "era-6.1-none"
    facts = base(name).facts
    flips = [(i, 50) for i in range(10, 10 + MAX_REJECTED + 1)]
    with pytest.raises(SwsuspFormatError, match="52-bit") as info:
        SwsuspImage.open(BytesSource(_flipped(name, flips).build()))
    assert info.value.offset == _entry_offset(facts, 10)


def test_damaged_num_physpages_keeps_a_consistent_list(made):
    """num_physpages fewer than image_pages cannot be the machine's: no limit from it, and
    the list (ascending, plausible) is kept whole."""
    machine, facts, _ = made("era-6.1-none")
    data = Case("era-6.1-none", [StreamPut(0, 400, u64(3))]).build()
    image = SwsuspImage.open(BytesSource(data))
    assert image.pfns.pfn_limit is None and not image.rejected
    assert all(bytes(image.read_page(p)) == machine.pages[p] for p in facts.data_pfns)


@st.composite
def _flips(draw):
    name = draw(st.sampled_from(FLIP_VARIANTS))
    n = len(base(name).facts.pfn_entries)
    flips = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 62)), min_size=1, max_size=3,
                          unique_by=lambda t: t[0]))
    return name, flips


@settings(FUZZ, max_examples=examples(60))
@given(_flips())
def test_fuzz_pfn_bit_flips(made, flip):
    """Any 1-3 one-bit errors in the PFN list: a clean refusal, or only those entries' pages
    unknown and the layer no larger than the true memory."""
    name, flips = flip
    check_flipped(made, name, flips)


def _file_size_limit():
    """A regression must fail the test, not fill the disk with layerwriter's zeros."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (600 << 20, 600 << 20))


def test_layerwriter_output_is_bounded_by_the_described_memory(made, vol, tmp_path):
    """Stock layerwriter through the vol command line on an image whose last PFN has bit 39
    flipped: it writes the memory up to the last true PFN (pages read as the generator wrote
    them), not 2^39 pages of zeros."""
    machine, facts, _ = made("era-6.1-none")
    image = tmp_path / "flipped.img"
    image.write_bytes(_flipped("era-6.1-none", [(len(facts.pfn_entries) - 1, 39)]).build())
    out = tmp_path / "out"
    out.mkdir()
    cmd = [vol_command(), "-q", "-p", str(REPO / "plugins"), "-s", str(REPO / "symbols"),
           "-o", str(out), "-f", str(image), "layerwriter"]
    env = dict(os.environ, XDG_CACHE_HOME=str(vol.home()))
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, preexec_fn=_file_size_limit)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "PFN list entry #" in result.stderr and "beyond the machine's memory" in result.stderr
    (written,) = list(out.iterdir())
    true_pfns = sorted(facts.pfns)
    assert written.stat().st_size <= (true_pfns[-1] + 1) * PAGE
    lost = facts.pfns[-1]
    assert written.stat().st_size == (max(p for p in true_pfns if p != lost) + 1) * PAGE
    with open(written, "rb") as f:
        for pfn in true_pfns[:: max(1, len(true_pfns) // 64)]:
            if pfn != lost:
                f.seek(pfn * PAGE)
                assert f.read(PAGE) == machine.pages[pfn], f"PFN {pfn:#x}"


def _read_only_loop_device(path):
    """A read-only loop device over `path` (needs root and losetup), or a skip saying why."""
    losetup = shutil.which("losetup")
    if losetup is None or os.geteuid() != 0:
        pytest.skip("a read-only block device needs root and losetup (util-linux)")
    result = subprocess.run([losetup, "-f", "--show", "-r", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"losetup -r failed: {result.stderr.strip()}")
    return losetup, result.stdout.strip()


def test_swsusp_info_reads_a_read_only_block_device(made, vol, tmp_path):
    """A swap partition given as its (read-only) block device: linux.swsusp_info reads it as
    the stock plugins do, with the same rows as for the file (its size from the device's end,
    not st_size, which is 0 for a device)."""
    _machine, _facts, path = made("quickstart-lzo")
    copy = tmp_path / "swap.img"
    shutil.copyfile(path, copy)
    losetup, device = _read_only_loop_device(copy)
    try:
        source = FileSource(device)
        assert source.size == copy.stat().st_size
        from_device = vol("-f", device, "linux.swsusp_info", "--no-crc", timeout=300)
    finally:
        subprocess.run([losetup, "-d", device], check=True)
    from_file = vol("-f", str(copy), "linux.swsusp_info", "--no-crc", timeout=300)
    assert from_device.returncode == 0, from_device.stderr[-2000:]
    assert from_device.stdout == from_file.stdout and "S1SUSPEND" in from_device.stdout


def test_input_that_is_neither_file_nor_device_is_named(vol, tmp_path):
    result = vol("-f", str(tmp_path), "linux.swsusp_info", timeout=300)
    assert result.returncode == 1 and "Not a regular file or block device" in result.stderr


# -- size fields: a damaged pages/size or mkswap last_page loses no page the file holds ------

SIZE_VARIANTS = ("era-6.1-none", "quickstart-lzo", "medium-lzo", "era-6.6-zero", "gpt")


def _info_field(facts, field):
    info = facts.partition_offset + facts.stream_blocks[0] * PAGE  # stream page 0 is stored alone
    return info + {"pages": 424, "size": 432}[field]


def _size_damage(facts, kind):
    """(mutations, field named in the warning, its damaged value, its file offset)."""
    pages, size = facts.info["pages"], facts.info["pages"] * PAGE
    if kind == "pages-high-bit":
        high = pages ^ 1 << 40
        return [StreamPut(0, 424, u64(high))], "swsusp_info.pages", high, _info_field(facts, "pages")
    if kind == "pages-low-bit":
        return [StreamPut(0, 424, u64(pages ^ 1))], "swsusp_info.pages", pages ^ 1, _info_field(facts, "pages")
    if kind == "pages-below-image-pages":
        return [StreamPut(0, 424, u64(pages >> 2))], "swsusp_info.pages", pages >> 2, _info_field(facts, "pages")
    if kind == "size-bit":
        return [StreamPut(0, 432, u64(size ^ 1 << 20))], "swsusp_info.size", size ^ 1 << 20, _info_field(facts, "size")
    if kind == "pages-and-size":  # both, alike: only the PFN list tells the true M
        more = pages + 100
        return ([StreamPut(0, 424, u64(more) + u64(more * PAGE))], "swsusp_info.pages", more,
                _info_field(facts, "pages"))
    assert kind == "last-page"
    low = 15
    return [Put("header", 1028, struct.pack("<I", low))], "mkswap last_page", low, facts.header_file_offset + 1028


@pytest.mark.parametrize("name", SIZE_VARIANTS)
@pytest.mark.parametrize("kind", ["pages-high-bit", "pages-low-bit", "pages-below-image-pages", "size-bit",
                                  "pages-and-size", "last-page"])
def test_damaged_size_field_loses_no_page(made, name, kind):
    machine, facts, _ = made(name)
    mutations, field, value, offset = _size_damage(facts, kind)
    data = Case(name, mutations).build()
    check_contract(data, scans=("auto",))
    image = SwsuspImage.open(BytesSource(data))
    assert image.info.pages == facts.info["pages"] and image.info.meta_pages == facts.meta_pages
    (note,) = image.size_warnings
    assert f"{field} {value} (file offset {offset:#x})" in note, note
    assert not image.scan_damage() and not image.rejected
    for pfn, page in machine.pages.items():
        if pfn in facts.zero_pfns:
            assert image.is_zero_page(pfn)
        else:
            assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x}"
    if facts.crc32 is not None:
        assert image.compute_crc32() == facts.crc32


@pytest.mark.parametrize("name", ["uswsusp-none", "uswsusp-lzo"])
@pytest.mark.parametrize("field", ["s2disk pages", "swsusp_info.pages", "swsusp_info.size"])
def test_s2disk_size_field_damaged_loses_no_page(made, name, field):
    """s2disk states the stream's length three times (its header, swsusp_info.pages and size):
    one damaged field is outvoted."""
    machine, facts, _ = made(name)
    pages = facts.info["pages"]
    value = (pages * (PAGE if field.endswith("size") else 1)) ^ 1 << 41
    mutation = {"s2disk pages": Put("ushdr", 0, u64(value)), "swsusp_info.pages": StreamPut(0, 424, u64(value)),
                "swsusp_info.size": StreamPut(0, 432, u64(value))}[field]
    data = Case(name, [mutation]).build()
    check_contract(data, scans=("auto",))
    image = SwsuspImage.open(BytesSource(data))
    (note,) = image.size_warnings
    assert f"{field.replace('s2disk pages', 's2disk image_header_info.pages')} {value} " in note, note
    assert image.info.pages == pages and not image.scan_damage()
    for pfn, page in machine.pages.items():
        if pfn not in facts.zero_pfns:
            assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x}"
    if image.md5_valid and field == "s2disk pages":  # the MD5 covers the stream, swsusp_info included
        assert image.compute_md5() == image.uswsusp.checksum


def test_one_damaged_map_entry_beyond_last_page_is_lost_alone(made):
    """One block beyond last_page is a damaged entry, not a damaged last_page: that page only."""
    machine, facts, _ = made("era-6.1-none")
    k = facts.meta_pages + 1 + 5  # data page 5's map entry
    data = Case("era-6.1-none", [Put("map0", 8 * k, u64(facts.last_page + 2))]).build()
    image = SwsuspImage.open(BytesSource(data))
    assert not image.size_warnings
    (damage,) = image.scan_damage()
    assert "outside the swap area" in damage.error.message
    assert list(image.damaged_pfns(damage)) == [facts.data_pfns[5]]


@st.composite
def _size_flips(draw):
    name = draw(st.sampled_from(SIZE_VARIANTS))
    field = draw(st.sampled_from(["pages", "size", "last_page"]))
    bit = draw(st.integers(0, 31 if field == "last_page" else 63))
    return name, field, bit


@settings(FUZZ, max_examples=examples(60))
@given(_size_flips())
def test_fuzz_size_field_bit_flips(made, flip):
    """Any one-bit error in swsusp_info.pages, swsusp_info.size or mkswap last_page: every
    page still reads as the generator wrote it (a last_page just below the image's last
    block may cost that one block, named as outside the swap area)."""
    name, field, bit = flip
    machine, facts, _ = made(name)
    if field == "last_page":
        value = facts.last_page ^ 1 << bit
        mutation = Put("header", 1028, struct.pack("<I", value))
    else:
        value = (facts.info["pages"] * (PAGE if field == "size" else 1)) ^ 1 << bit
        mutation = StreamPut(0, 424 if field == "pages" else 432, u64(value))
    data = Case(name, [mutation]).build()
    check_contract(data, scans=("auto",))
    image = SwsuspImage.open(BytesSource(data))
    lost = set()
    for damage in image.scan_damage():
        assert field == "last_page" and "outside the swap area" in damage.error.message
        lost |= set(image.damaged_pfns(damage))
    assert len(lost) <= 1
    for pfn, page in machine.pages.items():
        if pfn not in lost and pfn not in facts.zero_pfns:
            assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x}"
    if field != "last_page":
        (note,) = image.size_warnings
        assert f"swsusp_info.{field} {value} " in note
