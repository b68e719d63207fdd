"""The Volatility layer and stackers on synthetic images: bytes equal the generator's
memory, holes are invalid, the layer rebuilds from config, stock plugins see the tasks."""

import json

import pytest
from volatility3.framework import contexts, exceptions
from volatility3.framework.layers import physical

from samples import swsusp_gen
from tests import realsamples
from volatility3.plugins.swsusp.vol import layer as swsusp_layer


@pytest.fixture(scope="module")
def variant_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("layer-variants")


def _layer(path):
    ctx = contexts.Context()
    ctx.config["file.location"] = f"file://{path}"
    ctx.add_layer(physical.FileLayer(ctx, "file", "file"))
    ctx.config["swsusp.base_layer"] = "file"
    ctx.add_layer(swsusp_layer.SwsuspLayer(ctx, "swsusp", "swsusp"))
    return ctx, ctx.layers["swsusp"]


@pytest.mark.parametrize("name", ["quickstart-lzo", "era-6.1-none", "era-6.9-lz4", "gpt", "swapfile", "era-6.6-zero"])
def test_layer_bytes_equal_memory(variant_dir, name):
    machine, _facts, path = swsusp_gen.make_variant(name, str(variant_dir))
    ctx, layer = _layer(path)
    for pfn, page in machine.pages.items():
        assert layer.read(pfn * 4096, 4096) == page
        assert layer.is_valid(pfn * 4096, 4096)
    saved = set(machine.pages)
    hole = next(p for p in range(1, machine.max_pfn) if p not in saved)
    assert not layer.is_valid(hole * 4096)
    with pytest.raises(exceptions.InvalidAddressException):
        layer.read(hole * 4096, 8)
    assert layer.read(hole * 4096, 8, pad=True) == bytes(8)
    # a read spanning a present page and a hole, padded
    if hole - 1 in saved:
        assert layer.read(hole * 4096 - 4, 8, pad=True) == machine.pages[hole - 1][-4:] + bytes(4)
    assert layer.maximum_address == (max(saved) + 1) * 4096 - 1


def test_mapping_skips_holes_exactly(variant_dir):
    machine, _facts, path = swsusp_gen.make_variant("quickstart-lzo", str(variant_dir))
    _ctx, layer = _layer(path)
    covered = set()
    for offset, length, _mo, _ml, _name in layer.mapping(0, layer.maximum_address + 1, ignore_errors=True):
        assert offset % 4096 == 0 and length % 4096 == 0
        covered.update(range(offset // 4096, (offset + length) // 4096))
    assert covered == set(machine.pages)
    with pytest.raises(exceptions.InvalidAddressException):
        list(layer.mapping(0, layer.maximum_address + 1))


def test_layer_rebuilds_from_config_without_reindexing(variant_dir):
    _machine, _facts, path = swsusp_gen.make_variant("swapfile", str(variant_dir))
    ctx, layer = _layer(path)
    config = layer.build_configuration()
    assert config["resume_offset"] == layer.image.location.resume_offset  # pinned: no rescan
    ctx2 = contexts.Context()
    ctx2.config["file.location"] = f"file://{path}"
    ctx2.add_layer(physical.FileLayer(ctx2, "file", "file"))
    for key, value in config.items():
        if not key.startswith("base_layer"):  # Volatility rebuilds the base layer itself
            ctx2.config[f"again.{key}"] = value
    ctx2.config["again.base_layer"] = "file"
    again = swsusp_layer.SwsuspLayer(ctx2, "again", "again")
    assert again.image is layer.image


def _tasks_from_csv(text):
    rows = realsamples.parse_csv_output(text)
    return sorted((int(r["PID"]), r["COMM"]) for r in rows)


PSLIST_VARIANTS = [
    "quickstart-lzo", "la57", "la57-nokaslr-zero", "pti", "sme", "gpt", "mbr", "swapfile", "swapfile-copy",
    "era-4.12", "era-6.9-lz4", "consumed", "uswsusp-lzo",
    "era-2.6.16",  # no restore record: the stock banner stacker runs on our layer
]


@pytest.mark.parametrize("name", PSLIST_VARIANTS)
def test_stock_pslist_lists_the_synthetic_tasks(variant_dir, vol, name):
    machine, _facts, path = swsusp_gen.make_variant(name, str(variant_dir))
    result = vol("-r", "csv", "-f", path, "linux.pslist")
    assert result.returncode == 0, result.stderr[-3000:]
    expected = sorted((pid, comm[:15]) for pid, comm, _va in machine.tasks if pid)
    assert _tasks_from_csv(result.stdout) == expected


@pytest.mark.parametrize("renderer", ["json", "csv"])
def test_swsusp_info_renders(vol, renderer):
    sample = realsamples.REPO / "samples" / "quickstart-lz4-zeropages.img"
    result = vol("-r", renderer, "-f", str(sample), "linux.swsusp_info")
    assert result.returncode == 0, result.stderr
    if renderer == "json":
        rows = {(r["Section"], r["Field"]): r["Value"] for r in json.loads(result.stdout)}
    else:
        rows = {(r["Section"], r["Field"]): r["Value"] for r in realsamples.parse_csv_output(result.stdout)}
    assert rows[("stream", "codec")] == "lz4"
    assert rows[("stream", "crc32 computed")].endswith("MATCH")
    assert int(rows[("memory", "zero pages (6.6+, not stored)")]) > 0


def test_resume_offset_given_with_extend(variant_dir, tmp_path, vol):
    """A swap file in a region we do not recognise as a filesystem is not scanned for; the
    kernel's resume_offset, given as `-e swsusp.resume_offset=N`, finds it."""
    machine, facts, path = swsusp_gen.make_variant("swapfile", str(variant_dir))
    data = bytearray(open(path, "rb").read())
    data[facts.partition_offset + 1080 : facts.partition_offset + 1082] = b"\0\0"  # no ext4 magic
    bare = tmp_path / "unknown-fs.img"
    bare.write_bytes(data)
    without = vol("-r", "csv", "-f", str(bare), "linux.pslist")
    assert without.returncode != 0
    given = vol("-r", "csv", "-e", f"swsusp.resume_offset={facts.resume_offset}", "-f", str(bare), "linux.pslist")
    assert given.returncode == 0, given.stderr[-2000:]
    assert _tasks_from_csv(given.stdout) == sorted((pid, comm[:15]) for pid, comm, _va in machine.tasks if pid)


@pytest.mark.parametrize("name", ["quickstart-lzo", "era-6.6-zero", "era-6.1-none"])
def test_padded_reads_across_holes(variant_dir, name):
    """A long padded read (what layerwriter does) equals memory with zeros in the holes."""
    machine, _facts, path = swsusp_gen.make_variant(name, str(variant_dir))
    _ctx, layer = _layer(path)
    first = min(machine.pages) - 3
    last = sorted(machine.pages)[min(len(machine.pages) - 1, 40)] + 5
    expected = b"".join(machine.pages.get(p, bytes(4096)) for p in range(first, last))
    assert layer.read(first * 4096 + 100, (last - first) * 4096 - 200, pad=True) == expected[100:-100]
