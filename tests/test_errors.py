"""Bad input: one clear message naming the problem and its offset; never a traceback or a
hang (inputs never written: tests/test_integrity.py)."""

import struct

import pytest

from volatility3.plugins.swsusp.format.errors import NotAnImageError, SwsuspFormatError
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.format.source import BytesSource

PAGE = 4096


def _mutate(made, tmp_path, name, edits):
    """A copy of variant `name` with (offset, bytes) edits applied."""
    _machine, facts, path = made(name)
    data = bytearray(open(path, "rb").read())
    for offset, value in edits(facts):
        data[offset : offset + len(value)] = value
    out = tmp_path / f"{name}-bad.img"
    out.write_bytes(data)
    return out, facts


def _block(facts, block):
    return facts.partition_offset + block * PAGE


def _error(path, **kwargs):
    with pytest.raises(SwsuspFormatError) as info:
        SwsuspImage.open(path, **kwargs)
    return info.value


def test_not_an_image(tmp_path):
    path = tmp_path / "random.bin"
    path.write_bytes(bytes(range(256)) * 256)
    err = _error(path)
    assert isinstance(err, NotAnImageError) and "not a hibernation image" in err.message


def test_plain_swap_area_is_named(made, tmp_path):
    def clear(facts):
        return [(facts.header_file_offset + 4056, bytes(20)), (facts.header_file_offset + 4086, b"SWAPSPACE2")]

    path, _ = _mutate(made, tmp_path, "quickstart-lzo", clear)
    err = _error(path)
    assert isinstance(err, NotAnImageError)
    assert "plain swap area" in err.message and err.offset == 4086


def test_truncated_inside_the_pfn_list(made, tmp_path):
    """Cut before the PFN list ends: no page can be placed, so no salvage (tests/test_salvage.py
    covers cuts in the data)."""
    _m, facts, path = made("era-6.1-none")
    cut = tmp_path / "cut.img"
    cut.write_bytes(open(path, "rb").read()[: _block(facts, facts.stream_blocks[1]) + 100])
    err = _error(cut)
    assert "beyond the end of the input (truncated file)" in err.message
    assert err.offset == _block(facts, facts.map_blocks[0]) + 8  # the map entry naming that block


def test_map_chain_loop():
    header = bytearray(PAGE)
    struct.pack_into("<I", header, 1024, 1)
    struct.pack_into("<I", header, 1028, 2047)
    struct.pack_into("<Q", header, 4064, 1)
    header[4076:4096] = b"SWAPSPACE2S1SUSPEND\0"
    map1 = struct.pack("<511QQ", *([3] * 511), 2)  # full map pages: 1 -> 2 -> 1 ...
    map2 = struct.pack("<511QQ", *([3] * 511), 1)
    image = BytesSource(bytes(header) + map1 + map2 + bytes(PAGE * 2045))
    err = _error(image)
    assert "loops back to block 1" in err.message and err.offset == 2 * PAGE + 4088


def test_pointer_beyond_file(made, tmp_path):
    path, facts = _mutate(made, tmp_path, "quickstart-lzo",
                          lambda f: [(f.header_file_offset + 4064, struct.pack("<Q", 10**6))])
    err = _error(path)
    assert "outside the swap area" in err.message


def test_block_length_over_35_pages(made, tmp_path):
    path, facts = _mutate(
        made, tmp_path, "quickstart-lzo", lambda f: [(_block(f, f.stream_blocks[1]), struct.pack("<Q", 36 * PAGE))]
    )
    err = _error(path)
    assert "compressed block length" in err.message and err.block_index == 0
    assert err.offset == _block(facts, facts.stream_blocks[1])


def _pfn_entry_edit(index, value):
    def edit(facts):
        page = facts.stream_blocks[1]  # first PFN-list page (uncompressed variant)
        return [(_block(facts, page) + 8 * index, struct.pack("<Q", value))]

    return edit


def test_pfn_repeated(made, tmp_path):
    _m, facts, _p = made("era-6.1-none")
    path, _ = _mutate(made, tmp_path, "era-6.1-none", _pfn_entry_edit(1, facts.pfn_entries[0]))
    err = _error(path)
    assert "listed twice" in err.message and err.pfn == facts.pfn_entries[0]
    assert err.offset == _block(facts, facts.stream_blocks[1]) + 8


def test_pfn_list_of_pfns_out_of_range_is_refused(made, tmp_path):
    """Many entries beyond the 52-bit physical address space are no bit error (one entry is
    salvaged: tests/test_plausibility.py)."""
    def garbage(facts):
        start = _block(facts, facts.stream_blocks[1])
        return [(start + 8 * i, struct.pack("<Q", (1 << 45) + i)) for i in range(40, 80)]

    path, facts = _mutate(made, tmp_path, "era-6.1-none", garbage)
    err = _error(path)
    assert "52-bit" in err.message and err.offset == _block(facts, facts.stream_blocks[1]) + 8 * 40


def test_restore_record_of_another_architecture(made, tmp_path):
    def x86_32(facts):
        info = _block(facts, facts.stream_blocks[0])
        return [(info, bytes(40)), (info + 12, struct.pack("<I", 0x12345679))]

    path, facts = _mutate(made, tmp_path, "quickstart-lzo", x86_32)
    err = _error(path)
    assert "32-bit x86" in err.message


def test_crc_mismatch_is_a_warning_not_a_refusal(made, tmp_path):
    """(`vol` on the same defect: samples/bad crc-mismatch, tests/test_bad_corpus.py)"""
    path, facts = _mutate(made, tmp_path, "quickstart-lzo",
                          lambda f: [(f.header_file_offset + 4060, b"\x01\x02\x03\x04")])
    image = SwsuspImage.open(path)
    assert image.compute_crc32() == facts.crc32 != image.header.crc32


NAMED_INPUTS = [
    ("luks", [(0, b"LUKS\xba\xbe")], "LUKS-encrypted volume", "cryptsetup open"),
    ("lvm", [(1024, b"LABELONE"), (1048, b"LVM2 001")], "LVM physical volume", "vgchange -ay"),
    ("ext4", [(1080, b"\x53\xef")], "ext2/3/4 filesystem in which no swap-file header was found", "resume_offset"),
    ("elf", [(0, b"\x7fELF\x02\x01\x01")], "ELF file", "with vol directly"),
    ("lime", [(0, b"EMiL")], "LiME RAM dump", "with vol directly"),
]


@pytest.mark.parametrize("label,edits,what,next_step", NAMED_INPUTS)
def test_inputs_analysts_try_are_named_with_the_next_step(tmp_path, label, edits, what, next_step):
    """(through `vol`: the same inputs in samples/bad, tests/test_bad_corpus.py)"""
    data = bytearray(1 << 20)
    for offset, value in edits:
        data[offset : offset + len(value)] = value
    path = tmp_path / f"{label}.img"
    path.write_bytes(data)
    err = _error(path)
    assert isinstance(err, NotAnImageError) and what in err.message and next_step in err.message


def test_disk_partitions_are_named(made, tmp_path):
    """A GPT disk whose swap partition is LUKS: the partition is named, not just "no image"."""
    _m, facts, path = made("gpt")
    data = bytearray(open(path, "rb").read())
    start = facts.partition_offset
    data[start : start + 4096] = b"LUKS\xba\xbe" + bytes(4090)  # the swap partition, encrypted
    out = tmp_path / "disk.img"
    out.write_bytes(data)
    err = _error(out)
    assert "GPT partition" in err.message and "LUKS" in err.message
