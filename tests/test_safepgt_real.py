"""linux.swsusp_safepgt on the real run-B pair: the hibernation image and the RAM dump of the
boot kernel taken during its resume.  Truth: a deliberately simple reference walk written
here, the kernels' own `page_offset_base` variables, QEMU's record of the CPUs' CR3, and
stock linux.pslist."""

import json
import struct

import pytest

from tests import realsamples
from volatility3.plugins.swsusp.format.image import SwsuspImage

MASK = 0x000FFFFFFFFFF000
TEXT = 0xFFFFFFFF81000000  # _text (System.map)
PAGE_OFFSET_BASE = 0xFFFFFFFF82415740  # page_offset_base (System.map)


def q(read, pa):
    return struct.unpack("<Q", read(pa, 8))[0]


def text_pa(read, root):
    """PA of _text: the first 2 MiB leaf under PML4[511] -> PUD[510] (the kernel text mapping)."""
    pud = q(read, root + 511 * 8) & MASK
    pmd = q(read, pud + 510 * 8) & MASK
    for i in range(512):
        e = q(read, pmd + 8 * i)
        if e & 1 and e & 0x80:
            return e & MASK & ~0x1FFFFF
    raise AssertionError("no kernel text mapping")


def reference_slots(read, root, base, gib=1):
    """(level, pa_start) -> kind, for the direct map's PUD and PMD slots: 4-level, by hand."""
    out = {}
    pud_table = q(read, root + 8 * ((base >> 39) & 511)) & MASK
    for g in range(gib):
        pude = q(read, pud_table + 8 * (((base >> 30) + g) & 511))
        if not pude & 1:
            continue
        if pude & 0x80:
            out[("PUD", g << 30)] = "1G"
            continue
        out[("PUD", g << 30)] = ("table", pude & MASK)
        for i in range(512):
            e = q(read, (pude & MASK) + 8 * i)
            if e & 1:
                out[("PMD", (g << 30) + (i << 21))] = "2M" if e & 0x80 else ("table", e & MASK)
    return out


def reference_findings(image_slots, boot_slots):
    findings = {}
    for key in set(image_slots) | set(boot_slots):
        a, b = image_slots.get(key), boot_slots.get(key)
        if a is None or b is None:
            findings[key] = "only in image" if b is None else "only in resume"
        elif isinstance(a, str) and isinstance(b, str):
            findings[key] = "same"
        elif isinstance(a, str):
            findings[key] = "split"
        elif isinstance(b, str):
            findings[key] = "merged"
        else:
            findings[key] = "same" if a == b else "moved"
    return findings


@pytest.fixture(scope="module")
def pair(real):
    image = SwsuspImage.open(real.image("lzo-b"))
    rec = image.info.record
    image_base = q(image.read, rec.jump_address_phys + PAGE_OFFSET_BASE - realsamples.RESTORE_REGISTERS)
    elf = realsamples.elf_layer(real.path("resume-bootkernel-b.elf"))
    boot_read = lambda pa, n: elf.read(pa, n)  # noqa: E731
    boot_root = realsamples.qemu_cr3s(real.path("resume-bootkernel-b.elf"))[0] & MASK
    boot_base = q(boot_read, text_pa(boot_read, boot_root) + PAGE_OFFSET_BASE - TEXT)
    return image, rec.cr3 & MASK, image_base, boot_read, boot_root, boot_base


@pytest.fixture(scope="module")
def plugin_rows(real, vol, tmp_path_factory):
    out = tmp_path_factory.mktemp("safepgt-b")
    result = vol("-r", "json", "-o", str(out), "-f", str(real.image("lzo-b")), "linux.swsusp_safepgt",
                 "--resume-dump", str(real.path("resume-bootkernel-b.elf")), "--rebuild")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), out


def test_bases_are_the_kernels_own_page_offset_base(pair, plugin_rows):
    image, _root, image_base, _br, _broot, boot_base = pair
    rows, _out = plugin_rows
    summary = {r["Kind"]: r["Finding"] for r in rows if r["Level"] == "summary"}
    assert summary["image direct map"].startswith(f"direct map {image_base:#x}-")
    assert summary["resume-time direct map"].startswith(f"direct map {boot_base:#x}-")
    assert image_base != boot_base  # two KASLR layouts: slots align by physical region, not by VA


def test_findings_equal_reference_walk(pair, plugin_rows):
    image, image_root, image_base, boot_read, boot_root, boot_base = pair
    rows, _out = plugin_rows
    expected = reference_findings(reference_slots(image.read, image_root, image_base),
                                  reference_slots(boot_read, boot_root, boot_base))
    found = {(r["Level"], r["Physical"]): r["Finding"]
             for r in rows if r["Level"] in ("PUD", "PMD") and r["Finding"] != "-"}
    assert found == expected
    moved = sorted(k for k, v in found.items() if v == "moved")
    print("moved slots:", [(lvl, hex(pa)) for lvl, pa in moved])
    assert 1 <= len(moved) <= 10  # a handful: the .brk tables that move with physical KASLR
    assert ("PMD", 0) in moved  # the PTE table of the first 2 MiB


def test_live_table_restore_breaks_where_the_boot_kernels_table_is_overwritten(pair, plugin_rows):
    """The boot kernel's PMD table for the first GiB sits in a frame the image also lists,
    holding other content there: a restore on live tables overwrites it, as in 2005."""
    image, _ir, _ib, boot_read, boot_root, boot_base = pair
    rows, _out = plugin_rows
    pud = next(r for r in rows if r["Level"] == "PUD")
    boot_pmd = int(pud["Resume kind"].rsplit(" ", 1)[1], 16)
    assert pud["Finding"] == "moved"
    assert image.has_pfn(boot_pmd >> 12)
    assert image.read(boot_pmd, 4096) != boot_read(boot_pmd, 4096)
    broken = [r for r in rows
              if r["Level"] == "PMD" and f"table frame {boot_pmd:#x} overwritten" in r["Restore hazard"]]
    assert len(broken) >= 64
    assert all(r["Safe tables"] == "maps correctly"
               for r in rows if r["Level"] in ("PUD", "PMD") and r["Kind"] != "not present")


@pytest.mark.parametrize("run", ["lzo", "lzo-b", "nocompress"])
def test_rebuilt_tables_translate_every_direct_map_page(real, vol, tmp_path, run):
    image = SwsuspImage.open(real.image(run))
    result = vol("-r", "json", "-o", str(tmp_path), "-f", str(real.image(run)), "linux.swsusp_safepgt", "--rebuild")
    assert result.returncode == 0, result.stderr[-3000:]
    meta = json.loads((tmp_path / "safepgt-tables.json").read_text())
    blob = (tmp_path / meta["file"]).read_bytes()
    pages = {p["physical_address"]: blob[p["file_offset"] : p["file_offset"] + 4096] for p in meta["pages"]}
    assert not any(image.has_pfn(pa >> 12) for pa in pages)  # only frames the image does not contain

    def rebuilt(pa, n):
        page = pages[pa & ~0xFFF]
        return page[pa & 0xFFF : (pa & 0xFFF) + n]

    def translate(read, root, va):
        table = root
        for shift in (39, 30, 21, 12):
            e = q(read, table + 8 * ((va >> shift) & 511))
            if not e & 1:
                return None
            if shift == 12 or (shift in (30, 21) and e & 0x80):
                return (e & MASK & ~((1 << shift) - 1)) | (va & ((1 << shift) - 1))
            table = e & MASK
        return None

    base = meta["direct_map_base"]
    root = image.info.record.cr3 & MASK
    checked = 0
    for pa in range(0, 0x10000000, 4096):
        native = translate(image.read, root, base + pa)
        if native is None:
            continue
        assert translate(rebuilt, meta["root"], base + pa) == native == pa
        checked += 1
    assert checked == meta["verified_pages"] > 60000


def test_pslist_through_rebuilt_tables(real, vol):
    args = ["-r", "csv", "-f", str(real.image("lzo-b")), "linux.pslist"]
    native = vol(*args, symbols=real.symbols)
    safe = vol("-e", "swsusp.safe_tables=true", *args, symbols=real.symbols)
    assert native.returncode == 0 and safe.returncode == 0, safe.stderr[-2000:]
    tasks = realsamples.tasks(realsamples.parse_csv_output(native.stdout))
    assert len(tasks) > 50
    assert realsamples.tasks(realsamples.parse_csv_output(safe.stdout)) == tasks


def test_hung_resume_native_tables_fail_rebuilt_tables_decode(real, vol, plugin_rows, tmp_path):
    """At the first copy that writes through a broken entry the boot kernel's own direct map
    no longer reaches its banner; the rebuilt safe tables still do."""
    rows, _out = plugin_rows
    summary = {r["Kind"]: r["Finding"] for r in rows if r["Level"] == "summary"}
    first = int(summary["first faulting copy"].split()[0].lstrip("#"))
    result = vol("-r", "json", "-o", str(tmp_path), "-f", str(real.image("lzo-b")), "linux.swsusp_safepgt",
                 "--resume-dump", str(real.path("resume-bootkernel-b.elf")), "--rebuild", "--copied", str(first))
    assert result.returncode == 0, result.stderr[-2000:]
    hung = [r for r in json.loads(result.stdout) if r["Level"] == "hung resume"]
    banner = next(r for r in hung if r["Kind"].startswith("kernel banner"))
    assert banner["Finding"].startswith("boot kernel's tables: fails")
    assert banner["Restore hazard"].startswith("rebuilt safe tables: reads the banner")
    early = vol("-r", "json", "-o", str(tmp_path), "-f", str(real.image("lzo-b")), "linux.swsusp_safepgt",
                "--resume-dump", str(real.path("resume-bootkernel-b.elf")), "--rebuild", "--copied", "1")
    banner = next(r for r in json.loads(early.stdout)
                  if r["Level"] == "hung resume" and r["Kind"].startswith("kernel banner"))
    assert banner["Finding"].startswith("boot kernel's tables: reads the banner")  # nothing broken yet
