"""Smoke test of the streamed large-image writer (samples/swsusp_gen.write_large_image) at a
small size, read back with the project's reader: CRC, every page == large_page(pfn), zero
pages, PFN runs, the restore record and the page tables it points into, and the task list
stock linux.pslist finds."""

import struct
import zlib

import pytest

from samples import swsusp_gen as G
from tests import realsamples
from volatility3.plugins.swsusp.format.image import SwsuspImage

PAGE = 4096
ADDR = 0x000FFFFFFFFFF000
GIB = 0.03  # 7,864 pages: three map pages, ~250 blocks

CASES = {  # name: (codec, era)
    "lzo": ("lzo", "6.1"),
    "lz4-zero": ("lz4", "6.9"),
    "none": ("none", "6.1"),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("large")
    cache = {}

    def get(name):
        if name not in cache:
            codec, era = CASES[name]
            path = tmp / f"{name}.img"
            facts = G.write_large_image(str(path), gib=GIB, codec=codec, era=era)
            cache[name] = facts, SwsuspImage.open(str(path))
        return cache[name]

    return get


def walk(read, cr3, va):
    """4-level x86-64 walk over read(pfn) -> page; PA or None."""
    table = cr3 & ADDR
    for shift in (39, 30, 21, 12):
        e = struct.unpack_from("<Q", read(table >> 12), 8 * ((va >> shift) & 511))[0]
        if not e & 1:
            return None
        if shift == 12 or e & 0x80:
            return (e & ADDR & ~((1 << shift) - 1)) | (va & ((1 << shift) - 1))
        table = e & ADDR
    return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_page_and_the_crc(written, name):
    facts, image = written(name)
    assert image.codec == facts.codec
    assert image.info.image_pages == facts.image_pages
    assert image.info.pages == facts.pages
    assert image.info.num_physpages == facts.num_physpages
    assert facts.saved_pages == round(GIB * (1 << 30) / PAGE) == facts.image_pages + facts.zero_pages
    crc = image.compute_crc32()
    assert crc == facts.stream_crc32
    if facts.codec == "none":
        assert image.header.flags == G.SF_NOCOMPRESS_MODE and facts.crc32 is None
    else:
        assert crc == facts.crc32 == image.header.crc32 and image.header.crc32_valid
        assert image.header.flags == G.SF_CRC32_MODE | (G.SF_LZ4 if facts.codec == "lz4" else 0)
    seen = 0
    prev = 0
    for pfn, page in image.iter_pages():
        assert bytes(page) == G.large_page(pfn), f"PFN {pfn:#x}"
        seen += 1
        prev = pfn
    assert seen == facts.saved_pages and prev
    assert [tuple(r) for r in facts.pfn_runs] == list(image.runs())
    assert image.zero_page_count == facts.zero_pages


def test_zero_pages_and_stamps(written):
    facts, image = written("lz4-zero")
    assert facts.era == "6.9" and facts.zero_pages > 0.1 * facts.saved_pages
    zero = list(image.pfns.zero_pfns)
    assert len(zero) == facts.zero_pages
    assert all(G.large_page(p) == bytes(PAGE) for p in zero[:500])
    assert all(image.is_zero_page(p) for p in zero[:50])
    special = set(facts.special_pfns)
    for pfn in image.present_pfns(0, 1 << 20):
        page = G.large_page(pfn)
        if pfn not in special and any(page):
            assert struct.unpack_from("<Q", page, G.LARGE_STAMP_OFFSET)[0] == pfn
    # the 6.1 images hold the same PFNs, zero pages stored as data pages
    lzo, lzo_image = written("lzo")
    assert lzo.pfn_runs == facts.pfn_runs and lzo.zero_pages == 0
    assert lzo.kind_counts["zero"] == facts.zero_pages


def test_machine_record_and_page_tables(written):
    facts, image = written("lzo")
    rec = image.info.record
    assert rec.magic == G.RESTORE_MAGIC["f02"]
    assert (rec.cr3, rec.jump_address, rec.jump_address_phys) == (
        facts.cr3, facts.jump_address, facts.jump_address_phys)
    e820 = G.e820_bytes(facts.e820)
    assert rec.e820_checksum == zlib.crc32(e820)

    def read(pfn):
        return bytes(image.read_page(pfn))

    assert walk(read, rec.cr3, rec.jump_address) == rec.jump_address_phys
    assert read(rec.jump_address_phys >> 12)[:4] == b"\x41\x0f\x22\xd9"   # mov %r9, %cr3
    banner = read(facts.banner_pa >> 12)[facts.banner_pa & 0xFFF:][:14]
    assert banner == b"Linux version "
    for pa in (0x1000, facts.kernel_text_pa, facts.jump_address_phys, facts.pfn_runs[-1][0] << 12):
        assert walk(read, rec.cr3, facts.page_offset + pa) == pa
    assert set(facts.page_table_pfns) <= set(image.present_pfns())
    # e820-like RAM: PFN 0 and the ISA hole are never saved; a hole below 4 GiB
    present = image.present_pfns(0, 0x100)
    assert min(present) == 1 and max(image.present_pfns(0, 0x100)) == 0x9E
    assert facts.num_physpages > 2 * facts.saved_pages


def test_chain_and_file_layout(written):
    facts, image = written("none")
    assert list(image.swap_map.entries[:3]) == [2, 3, 4]
    assert len(image.swap_map) == facts.num_entries == facts.pages
    assert facts.map_blocks == [1 + 512 * j for j in range(len(facts.map_blocks))]
    assert len(facts.map_blocks) == facts.num_entries // 511 + 1
    assert image.header.last_page == facts.last_page
    assert facts.file_size == (facts.last_page + 1) * PAGE


def test_deterministic_and_compressible(tmp_path):
    a, b = tmp_path / "a.img", tmp_path / "b.img"
    fa = G.write_large_image(str(a), gib=0.005, codec="lzo")
    fb = G.write_large_image(str(b), gib=0.005, codec="lzo")
    assert a.read_bytes() == b.read_bytes() and fa.crc32 == fb.crc32
    assert 2.0 <= fa.compression_ratio <= 3.0
    with pytest.raises(ValueError):
        G.write_large_image(str(a), gib=0.01, codec="lz4", era="6.1")


def test_stock_pslist_lists_the_tasks(written, vol):
    """The large machine carries synthkernel's task list: stock linux.pslist finds it."""
    facts, _image = written("lzo")
    pids = {pid for pid, _comm, _va in facts.tasks}
    assert facts.tasks[0][:2] == (0, "swapper/0") and len(pids) == len(facts.tasks)
    result = vol("-r", "csv", "-f", facts.path, "linux.pslist")
    assert result.returncode == 0, result.stderr[-3000:]
    listed = sorted((int(r["PID"]), r["COMM"]) for r in realsamples.parse_csv_output(result.stdout))
    assert listed == sorted((pid, comm[:15]) for pid, comm, _va in facts.tasks if pid)
