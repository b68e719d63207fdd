"""Every synthetic variant (era, codec, container, header state, page-table shape) decodes to
exactly the generator's known memory, and the reader reports what the generator wrote."""

import pytest

from samples import swsusp_gen
from volatility3.plugins.swsusp.format.errors import PageNotInImage
from volatility3.plugins.swsusp.format.image import SwsuspImage

VARIANTS = sorted(swsusp_gen.VARIANTS)


@pytest.fixture(scope="module")
def variant_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("variants")


@pytest.fixture(scope="module")
def opened(variant_dir):
    cache = {}

    def get(name):
        if name not in cache:
            machine, facts, path = swsusp_gen.make_variant(name, str(variant_dir))
            cache[name] = machine, facts, SwsuspImage.open(path)
        return cache[name]

    return get


@pytest.mark.parametrize("name", VARIANTS)
def test_every_page_equals_generator_memory(opened, name):
    machine, facts, image = opened(name)
    assert sorted(image.present_pfns()) == machine.saved_pfns
    for pfn, page in machine.pages.items():
        assert bytes(image.read_page(pfn)) == page, f"PFN {pfn:#x}"
    missing = next(p for p in range(1, machine.max_pfn + 2) if p not in machine.pages)
    with pytest.raises(PageNotInImage):
        image.read_page(missing)


@pytest.mark.parametrize("name", VARIANTS)
def test_header_and_stream_facts(opened, name):
    _machine, facts, image = opened(name)
    loc = image.location
    assert loc.header_offset == facts.header_file_offset
    assert image.header.consumed == facts.consumed
    assert image.codec == facts.codec
    assert sorted(image.pfns.zero_pfns) == sorted(facts.zero_pfns)
    assert list(image.pfn_of_data_page()) == facts.data_pfns
    assert image.info.image_pages == facts.info["image_pages"]
    assert image.info.pages == facts.info["pages"]
    assert image.info.num_physpages == facts.info["num_physpages"]
    if facts.kind == "swsusp":
        assert image.header.layout.name == facts.layout
        assert len(image.swap_map) == facts.num_entries
        assert list(image.swap_map.entries) == facts.stream_blocks
    if facts.crc32 is not None:
        assert image.header.crc32_valid and image.header.crc32 == facts.crc32
        assert image.compute_crc32() == facts.crc32
    if facts.hw_sig is not None:
        assert image.header.hw_sig_valid and image.header.hw_sig == facts.hw_sig


@pytest.mark.parametrize("name", VARIANTS)
def test_restore_record(opened, name):
    machine, facts, image = opened(name)
    record = image.info.record
    if facts.record is None:
        assert record is None
        return
    assert record.magic == facts.record_magic
    assert record.jump_address == machine.jump_address
    assert record.cr3 == machine.cr3_record
    if facts.record != "cdef":
        assert record.jump_address_phys == machine.jump_address_phys


@pytest.mark.parametrize("name", ["quickstart-lzo", "la57", "pti", "gpt", "swapfile", "era-6.6-zero"])
def test_banner_found_where_generator_put_it(opened, name):
    machine, _facts, image = opened(name)
    assert (machine.banner_pa, machine.banner) in image.find_banners()


@pytest.mark.parametrize("name", [v for v in VARIANTS if v.startswith("uswsusp")])
def test_s2disk_container_and_md5(opened, name):
    _machine, facts, image = opened(name)
    assert image.kind.startswith("s2disk") and image.uswsusp is not None
    assert image.uswsusp.map_start == facts.uswsusp["map_start"]
    assert image.uswsusp.image_data_size == facts.uswsusp["image_data_size"]
    assert [b for b in image.swap_map.map_blocks] == facts.map_blocks
    if image.md5_valid:
        assert image.compute_md5().hex() == facts.uswsusp["checksum"]
