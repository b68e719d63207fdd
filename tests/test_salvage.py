"""Salvage: a damaged image decodes as much as can be trusted.  Only the pages of a damaged
block, beyond a broken map chain or beyond the end of a truncated file are lost; every other
page still equals the generator's memory, and the image says which pages are missing and why."""

import hashlib
import os
import struct

import pytest

from volatility3.plugins.swsusp.format.errors import PageDamaged, SwsuspFormatError
from volatility3.plugins.swsusp.format.image import SwsuspImage

PAGE = 4096
UNC = 32


def _damaged_copy(made, tmp_path, name, edit=None, cut=None):
    machine, facts, path = made(name)
    data = bytearray(open(path, "rb").read())
    for offset, value in (edit(facts) if edit else []):
        data[offset : offset + len(value)] = value
    if cut is not None:
        del data[cut(facts):]
    out = tmp_path / f"{name}-damaged.img"
    out.write_bytes(data)
    return machine, facts, SwsuspImage.open(out)


def _at(facts, block):
    return facts.partition_offset + block * PAGE


def _pfns_of_stream_pages(facts, first, end):
    """Independent truth: the PFNs whose data pages are stream pages [first, end)."""
    data0 = 1 + facts.meta_pages  # info page, PFN list, data
    return {facts.data_pfns[p - data0] for p in range(max(first, data0), end) if p - data0 < len(facts.data_pfns)}


def _pfns_of_blocks(facts, blocks):
    base = 0 if facts.kind == "uswsusp" else 1  # s2disk compresses the info page too
    lost = set()
    for j in blocks:
        first = base + UNC * j
        lost |= _pfns_of_stream_pages(facts, first, first + facts.blocks[j]["unc_pages"])
    return lost


def check_salvage(machine, image, lost):
    """Every saved page reads as the generator wrote it, except exactly `lost`, which are
    reported damaged, padded with zeros, and listed in `image.damage`."""
    image.scan_damage()
    listed = set()
    for damage in image.damage:
        listed |= set(image.damaged_pfns(damage))
    assert listed == lost and lost
    for pfn, page in machine.pages.items():
        if pfn in lost:
            with pytest.raises(PageDamaged) as info:
                image.read_page(pfn)
            assert info.value.pfn == pfn and info.value.error.offset is not None
            assert image.read(pfn * PAGE, PAGE, pad=True) == bytes(PAGE)
            assert image.is_damaged_pfn(pfn)
        else:
            assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x}"
            assert not image.is_damaged_pfn(pfn)
    # a checksum over part of the stream would be meaningless
    assert (image.compute_md5() if image.uswsusp else image.compute_crc32()) is None


@pytest.mark.parametrize("name", ["quickstart-lzo", "era-6.9-lz4", "uswsusp-lzo"])
def test_block_that_does_not_decompress_loses_only_its_pages(made, tmp_path, name):
    def garble(facts):
        first = facts.blocks[3]["first_entry"]
        return [(_at(facts, facts.stream_blocks[first]) + 8, bytes(64))]

    machine, facts, image = _damaged_copy(made, tmp_path, name, garble)
    check_salvage(machine, image, _pfns_of_blocks(facts, [3]))
    (damage,) = image.damage
    assert damage.block_index == 3 and "decompress" in damage.error.message
    assert damage.error.offset == _at(facts, facts.stream_blocks[facts.blocks[3]["first_entry"]])


@pytest.mark.parametrize("name", ["quickstart-lzo", "era-6.9-lz4"])
def test_block_with_a_damaged_length_is_skipped_and_the_next_found(made, tmp_path, name):
    """The lengths chain the blocks together: a bad one would lose the rest of the stream, so
    the next block is looked for in the following 35 pages."""
    def bad_length(facts):
        return [(_at(facts, facts.stream_blocks[facts.blocks[2]["first_entry"]]), struct.pack("<Q", 1 << 40))]

    machine, facts, image = _damaged_copy(made, tmp_path, name, bad_length)
    check_salvage(machine, image, _pfns_of_blocks(facts, [2]))
    (damage,) = image.damage
    assert damage.block_index == 2 and "compressed block length" in damage.error.message


def test_truncated_compressed_image_keeps_the_blocks_before_the_cut(made, tmp_path):
    def cut(facts):
        return _at(facts, facts.stream_blocks[facts.blocks[4]["first_entry"]]) + 100

    machine, facts, image = _damaged_copy(made, tmp_path, "quickstart-lzo", cut=cut)
    check_salvage(machine, image, _pfns_of_blocks(facts, range(4, facts.num_blocks)))
    assert "truncated" in image.damage[-1].error.message


def test_truncated_uncompressed_image_keeps_the_pages_before_the_cut(made, tmp_path):
    def cut(facts):
        return _at(facts, facts.stream_blocks[40]) + 100

    machine, facts, image = _damaged_copy(made, tmp_path, "era-6.1-none", cut=cut)
    # stream page 40 and later lie at or beyond the cut (blocks are ascending in this variant)
    assert facts.stream_blocks == sorted(facts.stream_blocks)
    check_salvage(machine, image, _pfns_of_stream_pages(facts, 40, facts.num_entries))
    (damage,) = image.damage
    assert "truncated" in damage.error.message and damage.first == 40


def test_entry_outside_the_area_loses_one_page(made, tmp_path):
    def bad_entry(facts):
        return [(_at(facts, facts.map_blocks[0]) + 8 * 50, struct.pack("<Q", 10**7))]

    machine, facts, image = _damaged_copy(made, tmp_path, "era-6.1-none", bad_entry)
    check_salvage(machine, image, _pfns_of_stream_pages(facts, 50, 51))
    (damage,) = image.damage
    assert "outside the swap area" in damage.error.message
    assert damage.error.offset == _at(facts, facts.map_blocks[0]) + 8 * 50


def test_broken_map_chain_keeps_the_pages_before_the_break(made, tmp_path):
    """medium-none has two map pages; the first one's next_swap now loops back to itself."""
    def loop(facts):
        first = facts.map_blocks[0]
        return [(_at(facts, first) + 4088, struct.pack("<Q", first))]

    machine, facts, image = _damaged_copy(made, tmp_path, "medium-none", loop)
    assert len(facts.map_blocks) == 2
    check_salvage(machine, image, _pfns_of_stream_pages(facts, 511, facts.num_entries))
    assert "loops back" in image.swap_map.broken.message
    (damage,) = image.damage
    assert damage.first == 511 and damage.error.message == image.swap_map.broken.message


def test_map_ending_early_in_a_compressed_image_loses_the_blocks_after(made, tmp_path):
    """A zero entry ends the list: the blocks it no longer reaches are lost, the others kept."""
    def end_early(facts):
        return [(_at(facts, facts.map_blocks[0]) + 8 * (facts.blocks[10]["first_entry"] + 2), bytes(8))]

    machine, facts, image = _damaged_copy(made, tmp_path, "medium-lzo", end_early)
    check_salvage(machine, image, _pfns_of_blocks(facts, range(10, facts.num_blocks)))


def test_no_salvage_without_the_pfn_list(made, tmp_path):
    """Without the PFN list no page can be placed: that stays a refusal, naming the block."""
    def garble(facts):
        return [(_at(facts, facts.stream_blocks[1]) + 8, bytes(64))]

    _m, facts, path = made("quickstart-lzo")
    data = bytearray(open(path, "rb").read())
    for offset, value in garble(facts):
        data[offset : offset + len(value)] = value
    bad = tmp_path / "nolist.img"
    bad.write_bytes(data)
    with pytest.raises(SwsuspFormatError) as info:
        SwsuspImage.open(bad)
    assert info.value.block_index == 0 and "decompress" in info.value.message


# -- property: damage in one data block never changes what the others decode to -----------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SALVAGE = settings(max_examples=max(1, int(60 * float(os.environ.get("SWSUSP_FUZZ_SCALE", "1")))), deadline=None,
                    derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_SALVAGE
@given(name=st.sampled_from(["quickstart-lzo", "era-6.9-lz4"]), data=st.data())
def test_garbling_one_block_leaves_every_other_block_intact(made, tmp_path_factory, name, data):
    machine, facts, path = made(name)
    j = data.draw(st.integers(1, facts.num_blocks - 1), label="block")
    start = block_start = _at(facts, facts.stream_blocks[facts.blocks[j]["first_entry"]])
    payload = facts.blocks[j]["cmp_len"]
    if data.draw(st.booleans(), label="length too"):
        start -= 0  # the garbling may hit the 8-byte length: the next block is found again
    else:
        start += 8
    at = data.draw(st.integers(start, block_start + 8 + payload - 1), label="offset")
    garbage = data.draw(st.binary(min_size=1, max_size=24), label="bytes")
    image_bytes = bytearray(open(path, "rb").read())
    image_bytes[at : at + len(garbage)] = garbage
    out = tmp_path_factory.mktemp("garbled") / "g.img"
    out.write_bytes(image_bytes)
    own = _pfns_of_blocks(facts, [j])
    # the blocks are located in a different order when pages are read backwards first
    backwards = SwsuspImage.open(out)
    for pfn in sorted(set(machine.pages) - own, reverse=True):
        assert bytes(backwards.read_page(pfn)) == machine.pages[pfn], f"PFN {pfn:#x} outside garbled block #{j}"
    image = SwsuspImage.open(out)
    image.scan_damage()  # a walk in stream order (read-ahead may locate blocks early)
    for pfn, page in machine.pages.items():
        if pfn in own:
            continue  # may be lost, or decode to other bytes (the CRC says so), never crash
        assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x} outside garbled block #{j}"
    lost = {pfn for d in image.damage for pfn in image.damaged_pfns(d)}
    assert lost <= own
    if not lost and image.compute_crc32() == facts.crc32:  # garbled yet equal: the bytes were the same
        assert all(bytes(image.read_page(p)) == machine.pages[p] for p in own)


# -- a real image, damaged in two places -------------------------------------------------

class _Overlay:
    """A FileSource with some bytes replaced in memory: the evidence file is never touched."""

    def __init__(self, base, edits):
        self.base, self.size, self.edits = base, base.size, edits

    def read(self, offset, length):
        data = bytearray(self.base.read(offset, length))
        for at, value in self.edits:
            lo, hi = max(at, offset), min(at + len(value), offset + len(data))
            if lo < hi:
                data[lo - offset : hi - offset] = value[lo - at : hi - at]
        return bytes(data)

    def find(self, needle, start, end):
        return self.base.find(needle, start, end)


def test_real_image_with_two_damaged_blocks(real):
    """The real LZO image with one block's data garbled and another block's length out of
    range: exactly those 64 pages are lost; every other page equals the intact image's."""

    from volatility3.plugins.swsusp.format.source import FileSource

    intact = SwsuspImage.open(real.image("lzo"))
    garbled, bad_length = intact.nr_blocks // 2, intact.nr_blocks // 3
    block_at = lambda j: intact.stream_offset(1 + UNC * j)  # noqa: E731
    edits = [(block_at(garbled) + 8, bytes(64)), (block_at(bad_length), struct.pack("<Q", 1 << 40))]
    damaged = SwsuspImage.open(_Overlay(FileSource(str(real.image("lzo"))), edits))
    damaged.scan_damage()
    assert sorted(d.block_index for d in damaged.damage) == sorted([garbled, bad_length])

    _lost_exactly(intact, damaged, (garbled, bad_length))
    assert damaged.compute_crc32() is None and intact.compute_crc32() == intact.header.crc32


def test_swsusp_info_lists_every_lost_pfn(made, tmp_path, vol):
    """`vol -r json linux.swsusp_info`: the damage rows' children are exactly the lost PFNs."""
    import json

    def garble(facts):
        return [(_at(facts, facts.stream_blocks[facts.blocks[3]["first_entry"]]) + 8, bytes(64))]

    _machine, facts, _image = _damaged_copy(made, tmp_path, "medium-lzo", garble)
    result = vol("-r", "json", "-f", str(tmp_path / "medium-lzo-damaged.img"), "linux.swsusp_info")
    assert result.returncode == 0, result.stderr[-2000:]
    (part,) = [r for r in json.loads(result.stdout) if r["Section"] == "damage" and r["Field"].startswith("compressed")]
    listed = set()
    for child in part["__children"]:
        first, _sep, rest = child["Value"].partition(" ")
        lo, _dash, hi = first.partition("-")
        listed |= set(range(int(lo, 16), int(hi or lo, 16) + 1))
    assert listed == _pfns_of_blocks(facts, [3])


# -- several independent damaged lengths / map entries: each costs only its own block ------

def _spread(n_blocks, k):
    """k block indices spread over the data blocks (block 0 holds the PFN list)."""
    return [max(1, n_blocks * (i + 1) // (k + 1)) for i in range(k)]


@pytest.mark.parametrize("name", ["medium-lzo", "incompressible-lz4"])
@pytest.mark.parametrize("what", ["length", "entry"])
@pytest.mark.parametrize("k", [2, 3])
def test_independent_damaged_lengths_each_cost_one_block(made, tmp_path, name, what, k):
    """Issue 11: one damaged length (or map entry of a block's first page) cost 32 pages, two
    lost ~85% of the image.  Salvage now finds the next block again after each one."""
    def damage(facts):
        edits = []
        for j in _spread(facts.num_blocks, k):
            first = facts.blocks[j]["first_entry"]
            if what == "length":
                edits.append((_at(facts, facts.stream_blocks[first]), struct.pack("<Q", (1 << 40) + j)))
            else:  # the map entry naming the block's first page points outside the area
                edits.append((_at(facts, facts.map_blocks[first // 511]) + 8 * (first % 511),
                              struct.pack("<Q", 10**7 + j)))
        return edits

    machine, facts, image = _damaged_copy(made, tmp_path, name, damage)
    blocks = _spread(facts.num_blocks, k)
    assert len(set(blocks)) == k and min(b2 - b1 for b1, b2 in zip(blocks, blocks[1:])) > 1
    check_salvage(machine, image, _pfns_of_blocks(facts, blocks))
    assert [d.block_index for d in image.damage] == blocks
    words = "compressed block length" if what == "length" else "outside the swap area"
    assert all(words in d.error.message for d in image.damage)
    # pages read backwards first (blocks located in another order) decode the same
    again = SwsuspImage.open(tmp_path / f"{name}-damaged.img")
    lost = _pfns_of_blocks(facts, blocks)
    for pfn in sorted(set(machine.pages) - lost, reverse=True):
        assert bytes(again.read_page(pfn)) == machine.pages[pfn], f"PFN {pfn:#x}"


# -- a flipped compression bit in the header's flags ---------------------------------------

FLAGS_AT = 4072  # swsusp_header.flags (layout A) in the header page


@pytest.mark.parametrize("name, flip, named, decoded", [
    ("quickstart-lzo", 16, "LZ4 (SF_COMPRESSION_ALG_LZ4)", "LZO"),  # SF_COMPRESSION_ALG_LZ4 set
    ("era-6.9-lz4", 16, "LZO (no SF_COMPRESSION_ALG_LZ4)", "LZ4"),  # and cleared
    ("quickstart-lzo", 2, "uncompressed (SF_NOCOMPRESS_MODE)", "LZO"),  # SF_NOCOMPRESS_MODE set
    ("era-6.9-lz4", 2, "uncompressed (SF_NOCOMPRESS_MODE)", "LZ4"),
])
def test_flipped_codec_flag_reads_the_image_with_the_codec_that_decodes(made, tmp_path, name, flip, named, decoded):
    """Issue 11: the flagged codec fails on block #0, the other one decodes the whole image;
    one line says which codec the flags named and which one decoded."""
    def flip_flag(facts):
        at = facts.header_file_offset + FLAGS_AT
        assert struct.unpack("<I", open(path, "rb").read()[at : at + 4])[0] == facts.flags
        return [(at, struct.pack("<I", facts.flags ^ flip))]

    _m, _f, path = made(name)
    machine, facts, image = _damaged_copy(made, tmp_path, name, flip_flag)
    assert image.codec == decoded.lower()
    (note,) = image.codec_notes
    assert named in note and f"read as {decoded}" in note
    assert f"{facts.header_file_offset + FLAGS_AT:#x}" in note
    assert image.compute_crc32() == facts.crc32 and not image.damage
    for pfn, page in machine.pages.items():
        assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x}"


def test_damaged_block_0_is_still_refused_with_the_flagged_codecs_reason(made, tmp_path):
    """The other codec is tried, and fails too: the message is the flagged codec's."""
    _m, facts, path = made("quickstart-lzo")
    data = bytearray(open(path, "rb").read())
    at = _at(facts, facts.stream_blocks[1]) + 8
    data[at : at + 64] = bytes(64)
    bad = tmp_path / "block0.img"
    bad.write_bytes(data)
    with pytest.raises(SwsuspFormatError, match=r"^LZO .*compressed block #0\)$"):
        SwsuspImage.open(bad)


def test_real_image_with_five_independent_damaged_block_starts(real):
    """The real LZO image with three block lengths out of range and two map entries (of a
    block's first page) outside the area: 5 x 32 pages lost, every other page equal to the
    intact image's (issue 11: two such defects used to lose ~85% of the image)."""

    from volatility3.plugins.swsusp.format.source import FileSource

    intact = SwsuspImage.open(real.image("lzo"))
    n, stream = intact.nr_blocks, intact.stream
    lengths, entries = [n // 6, n // 3, n // 2], [2 * n // 3, 5 * n // 6]
    edits = [(intact.stream_offset(1 + UNC * j), struct.pack("<Q", 1 << 40)) for j in lengths]
    for j in entries:
        e = stream.block_start(j)
        edits.append((stream.area.block_offset(intact.swap_map.map_blocks[e // 511]) + 8 * (e % 511),
                      struct.pack("<Q", 10**9)))
    damaged = SwsuspImage.open(_Overlay(FileSource(str(real.image("lzo"))), edits))
    damaged.scan_damage()
    assert [d.block_index for d in damaged.damage] == sorted(lengths + entries)

    _lost_exactly(intact, damaged, lengths + entries)


@_SALVAGE
@given(name=st.sampled_from(["medium-lzo", "incompressible-lz4"]), data=st.data())
def test_any_independent_damaged_block_starts_cost_only_their_blocks(made, tmp_path_factory, name, data):
    """Fuzz: 1-4 blocks, no two adjacent, each with its length replaced by any value outside
    1..CMP_SIZE_MAX or its first page's map entry by any block outside the area: exactly
    those blocks are lost, every other page equals the generator's memory."""
    from volatility3.plugins.swsusp.format.compress import CMP_SIZE_MAX

    machine, facts, path = made(name)
    n = facts.num_blocks
    picked = data.draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=4, unique=True), label="blocks")
    blocks = sorted(picked)
    blocks = [j for i, j in enumerate(blocks) if i == 0 or j - blocks[i - 1] > 1]
    image_bytes = bytearray(open(path, "rb").read())
    for j in blocks:
        first = facts.blocks[j]["first_entry"]
        if data.draw(st.booleans(), label=f"length of #{j}"):
            value = data.draw(st.one_of(st.just(0), st.integers(CMP_SIZE_MAX + 1, 2**64 - 1)), label="length")
            at = _at(facts, facts.stream_blocks[first])
        else:
            value = data.draw(st.integers(facts.partition_blocks, 2**64 - 1), label="entry")
            at = _at(facts, facts.map_blocks[first // 511]) + 8 * (first % 511)
        image_bytes[at : at + 8] = struct.pack("<Q", value)
    out = tmp_path_factory.mktemp("starts") / "s.img"
    out.write_bytes(image_bytes)
    image = SwsuspImage.open(out)
    image.scan_damage()
    assert [d.block_index for d in image.damage] == blocks
    lost = _pfns_of_blocks(facts, blocks)
    for pfn, page in machine.pages.items():
        if pfn not in lost:
            assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x}"
    assert {p for d in image.damage for p in image.damaged_pfns(d)} == lost


@pytest.mark.parametrize("name", ["medium-lzo", "incompressible-lz4"])
def test_two_adjacent_damaged_lengths_lose_both_blocks_only(made, tmp_path, name):
    """Blocks j and j+1 with unusable lengths: block j+2 is the first found again; counting
    back from the map's end places it and every block after it."""
    def damage(facts):
        return [(_at(facts, facts.stream_blocks[facts.blocks[j]["first_entry"]]), struct.pack("<Q", 1 << 40))
                for j in (5, 6)]

    machine, facts, image = _damaged_copy(made, tmp_path, name, damage)
    check_salvage(machine, image, _pfns_of_blocks(facts, [5, 6]))
    assert [d.block_index for d in image.damage] == [5, 6]
    assert "cannot be placed" in image.damage[1].error.message


def test_ambiguous_resynchronisations_lose_the_blocks_between_never_misplace_them(made, tmp_path):
    """Block 3's length, and blocks 9 and 10's: one resynchronisation skipped two blocks, but
    counting cannot tell whether after block 3 or after block 9, so blocks 4-8 cannot be
    placed and are reported lost (never served as other blocks' pages); blocks 11.. are
    placed from the map's end, blocks 0-2 from its start."""
    def damage(facts):
        return [(_at(facts, facts.stream_blocks[facts.blocks[j]["first_entry"]]), struct.pack("<Q", 1 << 40))
                for j in (3, 9, 10)]

    machine, facts, image = _damaged_copy(made, tmp_path, "medium-lzo", damage)
    check_salvage(machine, image, _pfns_of_blocks(facts, range(3, 11)))
    assert [d.block_index for d in image.damage] == [3, 4]
    assert "compressed blocks #4-#10 cannot be placed" in image.damage[1].error.message


@_SALVAGE
@given(name=st.sampled_from(["medium-lzo", "incompressible-lz4"]), data=st.data())
def test_any_damaged_lengths_never_misplace_a_block(made, tmp_path_factory, name, data):
    """Fuzz: 1-5 blocks, adjacent or not, each with its length replaced by any value (LZO: its
    end marker tells a wrong one; LZ4: an unusable one) or its payload garbled: whatever is
    lost, every page that reads (outside a garbled payload, which may decode to other bytes)
    equals the generator's memory (a block is never served under another block's pages), and
    nothing before the first damaged block is lost."""
    from volatility3.plugins.swsusp.format.compress import CMP_SIZE_MAX

    machine, facts, path = made(name)
    n = facts.num_blocks
    blocks = sorted(data.draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=5, unique=True), label="blocks"))
    image_bytes = bytearray(open(path, "rb").read())
    garbled = set()  # LZO/LZ4 carry no checksum: a garbled payload may decode to other bytes
    for j in blocks:
        at = _at(facts, facts.stream_blocks[facts.blocks[j]["first_entry"]])
        if data.draw(st.booleans(), label=f"length of #{j}"):
            # LZ4 has no end marker: there, a wrong length inside 1..CMP_SIZE_MAX that lands
            # exactly on a later block's start skips that block unseen (a known limit)
            unusable = st.one_of(st.just(0), st.integers(CMP_SIZE_MAX + 1, 2**64 - 1))
            value = struct.pack("<Q", data.draw(st.integers(0, 2**64 - 1) if facts.codec == "lzo" else unusable,
                                                label="length"))
        else:
            at += 8 + data.draw(st.integers(0, facts.blocks[j]["cmp_len"] - 1), label="offset")
            value = data.draw(st.binary(min_size=1, max_size=16), label="bytes")
            garbled |= _pfns_of_blocks(facts, [j])
        image_bytes[at : at + len(value)] = value
    out = tmp_path_factory.mktemp("lengths") / "l.img"
    out.write_bytes(image_bytes)
    image = SwsuspImage.open(out)
    image.scan_damage()
    lost = {pfn for d in image.damage for pfn in image.damaged_pfns(d)}
    assert lost <= _pfns_of_blocks(facts, range(blocks[0], n))
    for pfn, page in machine.pages.items():
        if pfn not in lost and pfn not in garbled:
            assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x}"


def _lost_exactly(intact, damaged, blocks) -> None:
    """The damaged image loses exactly the pages of compressed `blocks`; every other page
    equals the intact image's."""
    pfn_of = intact.pfn_of_data_page()
    expect_lost = set()
    for j in blocks:
        first = 1 + UNC * j - intact.data_page_first
        expect_lost |= set(pfn_of[first : first + UNC])
    assert {p for d in damaged.damage for p in damaged.damaged_pfns(d)} == expect_lost

    digest = lambda page: hashlib.blake2b(page, digest_size=16).digest()  # noqa: E731
    kept = {pfn: digest(page) for pfn, page in damaged.iter_pages()}
    truth = {pfn: digest(page) for pfn, page in intact.iter_pages()}
    assert kept.keys() == truth.keys() - expect_lost
    assert all(kept[p] == truth[p] for p in kept)
