"""linux.swsusp_safepgt on synthetic machines (the generator's known page tables) and on a
plain RAM dump (no image): slots, --explain, --rebuild, renderers (--plot and the options'
refusals: tests/test_safepgt_options.py)."""

import json

import pytest

from samples import swsusp_gen
from tests import realsamples


@pytest.fixture(scope="module")
def variant_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("safepgt-variants")


def run_json(vol, *args):
    result = vol("-r", "json", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["quickstart-lzo", "gib-pages", "la57", "pti", "nokaslr", "fragmented-lzo"])
def test_slots_are_the_generators_direct_map(variant_dir, vol, tmp_path, name):
    machine, _facts, path = swsusp_gen.make_variant(name, str(variant_dir))
    rows = run_json(vol, "-o", str(tmp_path), "-f", path, "linux.swsusp_safepgt", "--rebuild")
    slots = [r for r in rows if r["Level"] in ("PUD", "PMD")]
    summary = {r["Kind"]: r["Finding"] for r in rows if r["Level"] == "summary"}
    assert summary["image direct map"].startswith(f"direct map {machine.page_offset:#x}-")
    # every PMD entry the generator pointed at a PTE table far above it is reported as such
    by_entry = {r["Entry address"]: r for r in slots}
    for entry_pa, table_pa in machine.pmd_tables_far_above:
        assert by_entry[entry_pa]["Kind"] == f"PTE table at frame {table_pa:#x}"
    # leaves: the generator's own count of 1 GiB and 2 MiB direct-map pages
    assert sum(r["Kind"] == "1G" for r in slots) == machine.leaf_counts.get("1G", 0)
    assert sum(r["Kind"] == "2M" for r in slots) == machine.leaf_counts.get("2M", 0)
    assert summary["rebuilt tables verified"].endswith("direct-map pages translate identically")
    assert all(r["Safe tables"] == "maps correctly" for r in slots if r["Kind"] != "not present")
    meta = json.loads((tmp_path / "safepgt-tables.json").read_text())
    assert not set(p["physical_address"] >> 12 for p in meta["pages"]) & set(machine.pages)


def test_explain_walks_level_by_level(variant_dir, vol):
    machine, _facts, path = swsusp_gen.make_variant("la57", str(variant_dir))
    pa = machine.jump_address_phys
    va = machine.page_offset + pa
    rows = run_json(vol, "-f", path, "linux.swsusp_safepgt", "--explain", str(va))
    image = [r for r in rows if r["Tables"] == "image"]
    assert [r["Level"] for r in image][:2] == ["PGD/PML5", "P4D/PML4"]  # 5 levels
    assert image[0]["Table"] == machine.cr3
    assert image[-1]["Result"].endswith(f"physical address {pa:#x}")
    for step, nxt in zip(image, image[1:]):  # each entry points to the next table
        assert step["Result"] == f"next table at {nxt['Table']:#x}"


def test_csv_renders(variant_dir, vol):
    _m, _f, path = swsusp_gen.make_variant("quickstart-lzo", str(variant_dir))
    result = vol("-r", "csv", "-f", path, "linux.swsusp_safepgt")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = realsamples.parse_csv_output(result.stdout)
    assert rows and {"Level", "Kind", "Finding", "Restore hazard"} <= set(rows[0])


def test_ram_dump_input_finds_its_own_root(real, vol):
    """A RAM dump has no restore record: the root is found by scanning and the direct map is
    the one the image written seconds later has (same boot, run A)."""
    rows = run_json(vol, "-f", str(real.path("prehib-lzo.elf")), "linux.swsusp_safepgt")
    summary = {r["Kind"]: r["Finding"] for r in rows if r["Level"] == "summary"}
    assert summary["direct map"].startswith("direct map 0xffff8e1100000000-")
    assert "found by scanning" in summary["page-table root"]
    given = run_json(vol, "-f", str(real.path("prehib-lzo.elf")), "linux.swsusp_safepgt", "--cr3", "0x2a6c000")
    assert [r for r in given if r["Level"] != "summary"] == [r for r in rows if r["Level"] != "summary"]
