"""Swapped-out process pages on synthetic images (samples/synth_swap.py), read through stock
plugins.  Truth: the generator's known page contents and slot plan (``facts.swap``).

Two kernels, three containers: ``swapped-swapfile`` (6.1, L1TF-inverted swap PTEs, a scattered
swap file whose slots reach blocks through 58 swap extents), ``swapped-swapfile-copy`` (that
kind of swap file copied out of its filesystem: the image starts at slot 48 and names
filesystem blocks) and ``swapped-4.14`` (4.14 without L1TF: type in PTE bits 9..13; a swap
partition).  Each has entries of a second swap area the
input does not hold, a slot beyond the area, a migration entry and a page zswap kept in RAM
(its bit in frontswap_map), all pointing at slots that hold stale data in the input: a reader
that ignored the type, the bound or zswap would show it."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from samples import synth_isf, synth_swap
from tests.realsamples import REPO
from tests.test_swap_real import csv_rows

VARIANTS = ["swapped-swapfile", "swapped-swapfile-copy", "swapped-4.14"]
PIDS = ["512", "245"]


@pytest.fixture(scope="module")
def symbols(tmp_path_factory):
    """The 4.14 kernel's ISF (the 6.1 one is committed in symbols/)."""
    folder = tmp_path_factory.mktemp("sym414")
    (folder / "linux").mkdir()
    release, banner, l1tf = synth_swap.KERNELS["type-above-protnone"]
    synth_isf.write_isf(str(folder / "linux" / synth_isf.isf_filename(release)), release, banner, l1tf)
    return folder


def run(vol, symbols, *args):
    result = vol(*args, symbols=symbols)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module", params=VARIANTS)
def swapped(request, made, vol, symbols, tmp_path_factory):
    """(facts.swap, vmayarascan rows, Maps --dump pages, swaparea rows, its -o folder)."""
    _machine, facts, path = made(request.param)
    out = tmp_path_factory.mktemp(request.param)
    scan = run(vol, symbols, "-r", "csv", "-f", path, "linux.vmayarascan", "--pid", *PIDS,
               "--yara-string", "SWSUSP-SYNTH")
    maps = run(vol, symbols, "-r", "csv", "-o", str(out), "-f", path, "linux.proc.Maps", "--pid", *PIDS, "--dump")
    area = run(vol, symbols, "-r", "json", "-o", str(out), "-f", path, "linux.swsusp_swaparea", "--dump")
    pages = {}
    for row in csv_rows(maps):
        data = (out / row["File output"]).read_bytes()
        for i in range(0, len(data), 4096):
            pages[(int(row["PID"]), int(row["Start"], 16) + i)] = data[i : i + 4096]
    return facts, csv_rows(scan), pages, json.loads(area), out


def test_copied_swap_file_is_found_past_its_first_slots(made):
    """A swap file copied out of its filesystem, its first map page at slot 48 (swapped-out
    pages before it): the image is found, rebased by the file's first block."""
    from volatility3.plugins.swsusp.format.opener import find_image

    _machine, facts, path = made("swapped-swapfile-copy")
    assert facts.image_block - facts.resume_offset == synth_swap.FIRST_IMAGE_SLOT
    location = find_image(path).location
    assert (location.partition.offset, location.block_base, location.resume_offset) == (0, facts.resume_offset,
                                                                                        facts.resume_offset)


def marker_offsets(kinds):
    """Where "SWSUSP-SYNTH" is in the processes' pages of these kinds: 16 lines per page."""
    line = 4096 // synth_swap.MARKS_PER_PAGE
    return {(pid, va + line * k) for pid, va, kind in synth_swap.process_pages() if kind in kinds
            for k in range(synth_swap.MARKS_PER_PAGE)}


def test_vmayarascan_reads_swapped_pages_and_nothing_else(swapped):
    """Hits in resident and swapped pages only: none from the stale slots that the other
    area's entries, the migration entry and the out-of-area slot name."""
    _facts, scan, _pages, _area, _out = swapped
    got = {(int(r["PID"]), int(r["Offset"], 16)) for r in scan}
    assert len(scan) == len(got)
    assert got == marker_offsets({"resident", "swapped"})


def test_maps_dump_is_the_generators_memory(swapped):
    _facts, _scan, pages, _area, _out = swapped
    expect = {(pid, va): synth_swap.page_bytes(pid, va, kind) if kind in ("resident", "swapped") else bytes(4096)
              for pid, va, kind in synth_swap.process_pages()}
    assert pages.keys() == expect.keys()
    wrong = [f"{pid}:{va:#x}" for key in expect if pages[key] != expect[key] for pid, va in [key]]
    assert wrong == []


def test_swaparea_per_process(swapped):
    facts, _scan, _pages, area, _out = swapped
    rows = {r["PID"]: r for r in area if r["Part"] == "process"}
    for pid, want in facts.swap["processes"].items():
        row = rows[pid]
        assert (row["Resident"], row["Recovered"], row["Elsewhere"], row["Unreadable"]) == (
            want["resident"], want["recovered"], want["elsewhere"], want["unreadable"]), pid
        slots = [s for key, s in facts.swap["slot_of"].items() if key.startswith(f"{pid}:")]
        assert (row["First slot"], row["Last slot"]) == (min(slots), max(slots))


def test_swaparea_slots_and_stale_dump(swapped):
    facts, _scan, _pages, area, out = swapped
    plan = facts.swap
    top = {r["Owner"]: r for r in area if r["Part"] == "slots"}
    assert top["swap header"]["Slots"] == 1
    assert top["image: swap_map pages"]["Slots"] == len(facts.map_blocks)
    assert top["image: data pages"]["Slots"] == len(facts.stream_blocks)
    assert top["image: swap_map pages"]["First slot"] == plan["first_image_slot"]
    assert top["process pages"]["Slots"] == len(plan["slot_of"])
    zswap = top["named by an entry, held by zswap (slot not written)"]
    assert (zswap["Slots"], zswap["First slot"]) == (1, *plan["zswap"].values())
    swap_cache = top["in use, no reference found (swap cache)"]
    assert (swap_cache["Slots"], swap_cache["First slot"]) == (1, plan["swap_cache"][0])
    stale = top["free, stale data"]
    assert (stale["Slots"], stale["First slot"], stale["Last slot"]) == (len(plan["stale"]), min(plan["stale"]),
                                                                         max(plan["stale"]))
    assert sum(r["Slots"] for r in top.values()) == plan["nr_slots"]
    runs = [r for r in area if r["Part"] == "slots" and r["Owner"] == "free, stale data"][0]["__children"]
    dumped = {}
    for run_row in runs:
        data = Path(out, run_row["File output"]).read_bytes()
        for i, slot in enumerate(range(run_row["First slot"], run_row["Last slot"] + 1)):
            dumped[slot] = data[4096 * i : 4096 * (i + 1)]
    assert dumped == {s: synth_swap.slot_bytes(synth_swap.MARK_STALE, s) for s in plan["stale"]}


def test_switch_off(made, vol, symbols):
    """-e swsusp.swap=false: the RAM-only view finds the resident pages' markers only."""
    _machine, _facts, path = made("swapped-4.14")
    scan = csv_rows(run(vol, symbols, "-e", "swsusp.swap=false", "-r", "csv", "-f", path, "linux.vmayarascan",
                        "--pid", *PIDS, "--yara-string", "SWSUSP-SYNTH"))
    assert {(int(r["PID"]), int(r["Offset"], 16)) for r in scan} == marker_offsets({"resident"})


def test_swaparea_counts_what_is_not_read(swapped):
    """The entries the kernel's tables name and the input does not give, by kind, over every
    process: the plan's entries of the other area, beyond the area and held by zswap."""
    facts, _scan, _pages, area, _out = swapped
    plan = facts.swap
    foreign = [tuple(e) for e in plan["foreign"].values()]
    other = [e for e in foreign if e[0] == synth_swap.OTHER_TYPE]
    beyond = [e for e in foreign if e[0] == synth_swap.OUR_TYPE]
    rows = {r["Owner"]: r for r in area if r["Part"] == "entries"}
    assert (rows["swapped to another swap area"]["Slots"], rows["swapped to another swap area"]["Elsewhere"]) == (
        len(set(other)), len(other))
    assert (rows["swapped, slot beyond the area"]["Slots"], rows["swapped, slot beyond the area"]["Unreadable"]) == (
        len(set(beyond)), len(beyond))
    zswap = rows["swapped, held by zswap in RAM (its slot was never written)"]
    assert (zswap["Slots"], zswap["Unreadable"]) == (len(plan["zswap"]), len(plan["zswap"]))
    assert rows["swapped, slot not in the input"]["Unreadable"] == 0
    # the per-process columns are the same pages
    processes = [r for r in area if r["Part"] == "process"]
    assert sum(r["Elsewhere"] for r in processes) == len(other)
    assert sum(r["Unreadable"] for r in processes) == len(beyond) + len(plan["zswap"])
    nodes = [r for r in area if r["Part"] == "page caches"]
    assert [r["Unreadable"] for r in nodes] == [0]


@pytest.mark.parametrize("variant", ["swapped", "swapped-swapfile"])
def test_layerwriter_writes_physical_memory(made, vol, variant, tmp_path):
    """layerwriter needs no kernel symbols, so the run gets no swap slot layer (stock
    layerwriter writes the last physical layer added) and one file layer: it writes the
    hibernated machine's physical memory."""
    machine, _facts, path = made(variant)
    listed = {r["Layer name"]: r["Layer type"] for r in csv_rows(run(vol, None, "-r", "csv", "-f", path, "layerwriter",
                                                                     "--list"))}
    assert sorted(listed.values()) == ["FileLayer", "LinuxIntel32e", "SwsuspLayer"]
    printed = run(vol, None, "-o", str(tmp_path), "-f", path, "layerwriter")
    assert "memory_layer.raw" in printed
    written = [p.name for p in tmp_path.iterdir()]
    assert written == ["memory_layer.raw"]
    data = (tmp_path / "memory_layer.raw").read_bytes()
    saved = sorted(machine.pages)
    assert len(data) == (saved[-1] + 1) * 4096  # up to the highest PFN the image holds
    for pfn in saved[:: max(1, len(saved) // 16)] + saved[-1:]:
        assert data[pfn * 4096 : (pfn + 1) * 4096] == machine.pages[pfn], pfn
    hole = next(p for p in range(1, saved[-1]) if p not in machine.pages)
    assert data[hole * 4096 : (hole + 1) * 4096] == bytes(4096)  # layerwriter pads what the image does not hold


def test_images_in_one_process_keep_their_own_swap_state(made, vol, tmp_path):
    """Two swapped images read one after the other in one process, each in its own context:
    each reads its own processes' pages (its own zswap record: the page zswap held reads as
    unmapped, never as its slot's stale data), and its swap slot layer reads through the
    image's own file layer (no second file layer) and counts the entries of that image."""
    images = [made(name) for name in ("swapped", "swapped-swapfile")]
    env = dict(os.environ, XDG_CACHE_HOME=str(vol.home()))
    result = subprocess.run([sys.executable, "-m", "tests.swap_contexts", str(tmp_path)] + [p for _m, _f, p in images],
                            capture_output=True, text=True, timeout=600, env=env, cwd=str(REPO))
    assert result.returncode == 0, result.stderr[-2000:]
    expect = {f"{pid}:{va:#x}": hashlib.sha256(synth_swap.page_bytes(pid, va, kind)).hexdigest()
              if kind in ("resident", "swapped") else None for pid, va, kind in synth_swap.process_pages()}
    for (_machine, facts, _path), got in zip(images, json.loads(result.stdout)):
        assert got["pages"] == expect
        files = [name for name, kind in got["layers"].items() if kind == "FileLayer"]
        assert files == ["base_layer"] and got["slot_bases"] == files
        foreign = [tuple(e) for e in facts.swap["foreign"].values()]
        assert got["met"] == {
            "swapped, recovered": len(facts.swap["slot_of"]),
            "swapped to another swap area": len({e for e in foreign if e[0] == synth_swap.OTHER_TYPE}),
            "swapped, slot beyond the area": len({e for e in foreign if e[0] == synth_swap.OUR_TYPE}),
            "swapped, held by zswap in RAM (its slot was never written)": len(facts.swap["zswap"]),
            "not swap (migration, hwpoison, device, marker)": len({e for e in foreign
                                                                   if e[0] == synth_swap.MIGRATION_TYPE}),
        }
