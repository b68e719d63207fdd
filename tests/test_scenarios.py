"""Self-checks of the resume scenarios (samples/resume_scenarios.py via swsusp_gen.make_scenario).

Truth compared against, all written here and independent of both the generator's plans and
plugins/:
* a deliberately simple page-table walk of the two memories (image_machine.pages,
  resume_machine.pages) -> per-slot kinds -> findings, which must equal `expected`;
* the restore-hazard rule applied to the walked tables, and a step-by-step simulation of the
  copy (docs/format.md §8.3 order, and the 2005 ascending order) that re-walks the boot kernel's direct
  map after every copied page: the regions whose translation breaks must be exactly the
  hazards' regions;
* the dump files read back through Volatility's own FileLayer/Elf64Layer, and a tiny ELF
  header parser here.
"""
import bisect
import json
import os
import struct
import subprocess
import sys

import pytest

from samples import swsusp_gen as G

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = 4096
ADDR = 0x000FFFFFFFFFF000
NAMES = list(G.SCENARIOS)
FINDINGS = {"same", "moved", "split", "merged", "only in image", "only in resume"}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("scenarios"))
    return {n: G.make_scenario(n, d) for n in NAMES}


# ---- an independent reference walk ----------------------------------------------------------
def _entry(pages, table, index):
    page = pages.get(table >> 12)
    return None if page is None else struct.unpack_from("<Q", page, 8 * index)[0]


def _upper(pages, cr3, levels, va):
    """(PUD table PA or None) reached from cr3 for va, and the frames read on the way."""
    table, path = cr3 & ADDR, [cr3 & ADDR]
    for shift in ((48, 39) if levels == 5 else (39,)):
        e = _entry(pages, table, (va >> shift) & 511)
        if not e or not e & 1:
            return None, path
        table = e & ADDR
        path.append(table)
    return table, path


def _kind(e, child):
    if not e or not e & 1:
        return "not present"
    if e & 0x80:
        return {"PMD": "1G", "PTE": "2M"}[child]
    return f"{child} table at frame {e & ADDR:#x}"


def slot_kinds(pages, cr3, levels, base, end_pa):
    """{("PUD", pa): kind} for every GiB below end_pa, {("PMD", pa): kind} under PMD tables."""
    out = {}
    for g in range(-(-end_pa >> 30)):
        va = base + (g << 30)
        pud, _ = _upper(pages, cr3, levels, va)
        e = _entry(pages, pud, (va >> 30) & 511) if pud is not None else None
        out[("PUD", g << 30)] = _kind(e, "PMD")
        if e and e & 1 and not e & 0x80:
            for i in range(512):
                out[("PMD", (g << 30) + (i << 21))] = _kind(_entry(pages, e & ADDR, i), "PTE")
    return out


def word(ik, rk):
    if ik == rk == "not present":
        return None
    if rk == "not present":
        return "only in image"
    if ik == "not present":
        return "only in resume"
    if ik == rk:
        return "same"
    return {(True, True): "moved", (False, True): "split", (True, False): "merged"}[
        ("table" in ik, "table" in rk)]


def reference_rows(sc):
    im, rm = sc.image_machine, sc.resume_machine
    end = rm.ram_pfns[-1][1] << 12
    a = slot_kinds(im.pages, im.cr3, im.levels, im.page_offset, end)
    b = slot_kinds(rm.pages, rm.cr3, rm.levels, rm.page_offset, end)
    rows = []
    for g in range(-(-end >> 30)):
        key = ("PUD", g << 30)
        f = word(a[key], b[key])
        if f is None:
            continue
        rows.append(dict(level="PUD", pa_start=g << 30, pa_end=(g + 1) << 30,
                         image_kind=a[key], resume_kind=b[key], finding=f))
        if "table" in a[key] and "table" in b[key]:             # PMD rows: both have a table
            for i in range(512):
                k = ("PMD", (g << 30) + (i << 21))
                f2 = word(a[k], b[k])
                if f2:
                    rows.append(dict(level="PMD", pa_start=k[1], pa_end=k[1] + (1 << 21),
                                     image_kind=a[k], resume_kind=b[k], finding=f2))
    return rows


@pytest.mark.parametrize("name", NAMES)
def test_expected_equals_reference_walk(made, name):
    sc = made[name]
    rows = reference_rows(sc)
    assert sc.expected == rows
    assert sc.expected_moved == [r for r in rows if r["finding"] == "moved"]
    assert {r["finding"] for r in rows} <= FINDINGS
    assert sc.counts == {f: sum(r["finding"] == f for r in rows) for f in sc.counts}
    with open(sc.json_path) as f:
        js = json.load(f)
    assert js["expected"] == rows and js["hazards"] == sc.hazards
    assert js["boot_free_pfns"] == [list(r) for r in sc.boot_free_pfns]


def test_counts_per_scenario(made):
    c = {n: {k: v for k, v in made[n].counts.items() if v} for n in NAMES}
    assert c["seed"] == {"same": 127, "moved": 2}
    assert c["kaslr"] == {"same": 125, "moved": 4}
    assert c["split-merged"] == {"same": 831, "moved": 1, "split": 1, "merged": 1,
                                 "only in image": 128, "only in resume": 64}
    assert c["gib-pages"] == {"same": 514, "split": 1, "merged": 1}
    assert c["la57"] == {"same": 1023, "moved": 3}
    assert c["pti"] == {"same": 126, "moved": 2, "split": 1}
    gib = {r["pa_start"] >> 30: (r["image_kind"], r["finding"]) for r in made["gib-pages"].expected
           if r["level"] == "PUD"}
    assert gib[1] == ("1G", "split") and gib[2][1] == "merged" and gib[4] == ("1G", "same")
    assert 3 not in gib                                   # the hole: in neither kernel


# ---- machines: designed translations, consistent dump ---------------------------------------
def _translate(pages, cr3, levels, va):
    table = cr3 & ADDR
    for shift in ((48, 39, 30, 21, 12) if levels == 5 else (39, 30, 21, 12)):
        e = _entry(pages, table, (va >> shift) & 511)
        if not e or not e & 1:
            return None
        if shift == 12 or (shift in (21, 30) and e & 0x80):
            return (e & ADDR & ~((1 << shift) - 1)) | (va & ((1 << shift) - 1))
        table = e & ADDR
    return None


@pytest.mark.parametrize("name", NAMES)
def test_machines_translate(made, name):
    sc = made[name]
    im, rm = sc.image_machine, sc.resume_machine
    assert _translate(im.pages, im.cr3, im.levels, im.jump_address) == im.jump_address_phys
    for m in (im, rm):
        assert _translate(m.pages, m.cr3, m.levels, m.page_offset) == 0
        assert _translate(m.pages, m.cr3, m.levels, m.page_offset + m.cr3) == m.cr3
        assert _translate(m.pages, m.cr3, m.levels, m.sym_va("linux_banner")) == m.banner_pa
        assert m.read(m.banner_pa, 14) == b"Linux version "
        assert m.pti == (name == "pti") and m.levels == (5 if name == "la57" else 4)
        if m.pti:
            assert m.cr3 % 8192 == 0 and (m.cr3 >> 12) + 1 in m.page_table_pfns
    assert (im.page_offset == rm.page_offset) == (name in ("seed", "split-merged", "gib-pages"))


@pytest.mark.parametrize("name", NAMES)
def test_boot_free_pfns_consistent(made, name):
    sc = made[name]
    rm = sc.resume_machine
    used = set(rm.pages.used)
    starts = [a for a, _ in sc.boot_free_pfns]
    assert starts == sorted(starts) and all(a < b for a, b in sc.boot_free_pfns)
    for p in used:                                                  # disjoint from free
        i = bisect.bisect_right(starts, p) - 1
        assert i < 0 or p >= sc.boot_free_pfns[i][1], hex(p)
    assert all(any(pg) for pg in rm.pages.used.values())           # used frames hold data
    ram = sum(b - a for a, b in rm.ram_pfns)
    assert sum(b - a for a, b in sc.boot_free_pfns) + len(used) == ram == len(rm.pages)
    assert set(rm.page_table_pfns) <= used
    for a, b in sc.boot_free_pfns:                                  # free frames hold zeros
        for p in (a, (a + b) // 2, b - 1):
            assert rm.pages[p] == bytes(PAGE)


# ---- hazards: the rule, and a simulated copy ------------------------------------------------
def boot_tables(sc):
    """{table PA: (level, first PA covered)} on the boot kernel's direct-map path from cr3,
    found by walking, plus {(level, first pa): (table PA, entries)} for the image."""
    def tables(m):
        end = sc.resume_machine.ram_pfns[-1][1] << 12
        out = {m.cr3 & ADDR: ("PGD", None)}
        for g in range(-(-end >> 30)):
            va = m.page_offset + (g << 30)
            pud, path = _upper(m.pages, m.cr3, m.levels, va)
            if pud is None:
                continue
            for t in path[1:]:
                out.setdefault(t, ("P4D" if m.levels == 5 and t == path[1] else "PUD", None))
            out[pud] = ("PUD", ((va & ~((1 << 39) - 1)) - m.page_offset) % (1 << 64))
            e = _entry(m.pages, pud, (va >> 30) & 511)
            if e and e & 1 and not e & 0x80:
                out[e & ADDR] = ("PMD", g << 30)
                for i in range(512):
                    e2 = _entry(m.pages, e & ADDR, i)
                    if e2 and e2 & 1 and not e2 & 0x80:
                        out[e2 & ADDR] = ("PTE", (g << 30) + (i << 21))
        return out
    return tables(sc.resume_machine), tables(sc.image_machine)


def rule_hazards(sc, order):
    im, rm = sc.image_machine, sc.resume_machine
    S, U = set(im.pages), set(rm.pages.used)
    btab, itab = boot_tables(sc)
    out = []
    for f, (level, first) in sorted(btab.items()):
        if f >> 12 not in S or level not in ("PUD", "PMD"):
            continue
        assert itab.get(f) == (level, first), "boot table overwritten by a different role"
        span = 1 << (30 if level == "PUD" else 21)
        for i in range(512):
            ie, be = _entry(im.pages, f, i), _entry(rm.pages, f, i)
            if not ie or not ie & 1 or ie & 0x80:
                continue
            t = ie & ADDR
            if be and be & 1 and not be & 0x80 and be & ADDR == t:
                continue
            if order == "modern":
                ok = t >> 12 in S and (t >> 12 not in U or t > f)
            else:
                ok = t >> 12 in S and t < f
            if ok:
                continue
            va = rm.page_offset + first + i * span
            if level == "PUD":   # the PUD table's first entry is not slot 0 unless aligned
                va = (rm.page_offset & ~((1 << 39) - 1)) + i * span
            out.append((level, f + 8 * i, (va - rm.page_offset) % (1 << 64), t,
                        "copied later" if t >> 12 in S else "not in image"))
    return out


def simulate(sc, order):
    """Copy the image page by page over the boot kernel's memory and re-walk the boot direct map
    (through its live tables, from its cr3) after each page: the 2 MiB regions that ever fail to
    translate to themselves."""
    im, rm = sc.image_machine, sc.resume_machine
    S, U = set(im.pages), set(rm.pages.used)
    cur = dict(rm.pages.used)
    if order == "modern":
        for p in S - U:
            cur[p] = im.pages[p]
        steps = sorted(S & U, reverse=True)
    else:
        steps = sorted(S)

    class Mem:
        def get(self, pfn):
            return cur.get(pfn, bytes(PAGE))

    mem, levels, base, root = Mem(), rm.levels, rm.page_offset, rm.cr3

    def check(pa):
        """(ok, frames read) for the 2 MiB region at pa, sampling three pages."""
        frames, ok = set(), True
        for off in (0, 0x101000, 0x1FF000):
            va, table = base + pa + off, root & ADDR
            for shift in ((48, 39, 30, 21, 12) if levels == 5 else (39, 30, 21, 12)):
                frames.add(table >> 12)
                e = _entry(mem, table, (va >> shift) & 511)
                if not e & 1:
                    ok = False
                    break
                if shift == 12 or (shift in (21, 30) and e & 0x80):
                    ok &= (e & ADDR & ~((1 << shift) - 1)) | (va & ((1 << shift) - 1)) == pa + off
                    break
                table = e & ADDR
        return ok, frames

    regions = []
    for a, b in rm.direct_map_ranges:
        regions += range(a, b, 1 << 21)
    by_frame, broken = {}, set()
    for pa in regions:
        ok, frames = check(pa)
        assert ok, f"boot direct map does not translate {pa:#x} before the copy"
        for fr in frames:
            by_frame.setdefault(fr, set()).add(pa)
    for p in steps:
        cur[p] = im.pages[p]
        for pa in list(by_frame.get(p, ())):
            ok, frames = check(pa)
            if not ok:
                broken.add(pa)
            for fr in frames:
                by_frame.setdefault(fr, set()).add(pa)
    return broken


def _regions(hazards, sc):
    """The 2 MiB regions the boot kernel maps inside the hazards' ranges."""
    mapped = [(a, b) for a, b in sc.resume_machine.direct_map_ranges]
    return {pa for h in hazards for pa in range(h["pa_start"], h["pa_end"], 1 << 21)
            if any(a <= pa < b for a, b in mapped)}


@pytest.mark.parametrize("name", NAMES)
def test_hazards_as_designed(made, name):
    sc = made[name]
    for order, listed in (("modern", sc.hazards), ("2005", sc.hazards_2005)):
        mine = rule_hazards(sc, order)
        assert [(h["level"], h["entry_pa"], h["pa_start"], h["image_target"], h["reason"])
                for h in listed] == mine, order
        assert simulate(sc, order) == _regions(listed, sc), order
    designed = {"seed": 1, "kaslr": 0, "split-merged": 1, "gib-pages": 1, "la57": 1, "pti": 0}
    assert len(sc.hazards) == designed[name]
    for h in sc.hazards:
        assert h["reason"] == "copied later" and h["image_target"] != h["boot_target"]
        assert h["image_target"] < h["table_pa"] and not sc.boot_free(h["image_target"] >> 12)
        row = next(r for r in sc.expected if (r["level"], r["pa_start"]) == (h["level"], h["pa_start"]))
        assert row["image_kind"] == h["image_kind"] and row["finding"] in ("moved", "merged")
    assert all(t["same_role_in_image"] for t in sc.overwritten_tables)


def test_seed_is_the_2005_story(made):
    sc = made["seed"]
    im, rm = sc.image_machine, sc.resume_machine
    assert im.page_offset == rm.page_offset and im.kernel_text_pa == rm.kernel_text_pa
    assert rm.cr3 == rm.init_top_pgt_pa                       # a kernel thread on init_level4_pgt
    (pud,) = [r for r in sc.expected if r["level"] == "PUD"]
    assert pud["finding"] == "same"
    F = int(pud["image_kind"].rsplit(" ", 1)[1], 16)
    moved = sc.expected_moved
    assert len(moved) == 2
    for r in moved:
        t_boot = int(r["resume_kind"].rsplit(" ", 1)[1], 16)
        assert t_boot - F >= 200 << 20                        # the boot tables: far above F
    (h,) = sc.hazards
    (h05,) = sc.hazards_2005
    assert h["table_pa"] == h05["table_pa"] == F and h["entry_pa"] != h05["entry_pa"]
    assert h["image_target"] < F < h05["image_target"]        # below F: today; above F: 2005
    order = sc.copy_order()
    assert order.index(F >> 12) < order.index(h["image_target"] >> 12)
    assert order.index(h05["image_target"] >> 12) < order.index(F >> 12)
    assert "3dd08325" in sc.story


# ---- the dump files ---------------------------------------------------------------------------
def _vol_layer(path, fmt):
    from volatility3.framework import contexts
    from volatility3.framework.layers import elf, physical

    ctx = contexts.Context()
    ctx.config["file.location"] = "file://" + os.path.abspath(path)
    ctx.add_layer(physical.FileLayer(ctx, "file", "file"))
    if fmt == "raw":
        return ctx.layers["file"]
    ctx.config["elf.base_layer"] = "file"
    ctx.add_layer(elf.Elf64Layer(ctx, "elf", "elf"))
    return ctx.layers["elf"]


def _elf_headers(path):
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    ident, etype, machine = head[:16], *struct.unpack_from("<HH", head, 16)
    phoff, = struct.unpack_from("<Q", head, 32)
    phnum, = struct.unpack_from("<H", head, 56)
    ph = [struct.unpack_from("<IIQQQQQQ", head, phoff + 56 * i) for i in range(phnum)]
    return ident, etype, machine, ph, head


def _qemu_cr3(head, ph):
    (note,) = [p for p in ph if p[0] == 4]
    off, end = note[2], note[2] + note[5]
    while off < end:
        nsz, dsz, typ = struct.unpack_from("<III", head, off)
        name = head[off + 12:off + 12 + nsz]
        desc = off + 12 + (-(-nsz // 4) * 4)
        if name == b"QEMU\0":
            return struct.unpack_from("<5Q", head, desc + 8 + 18 * 8 + 10 * 24)[3]
        off = desc + (-(-dsz // 4) * 4)


@pytest.mark.parametrize("name", NAMES)
def test_resume_dump_reads_through_volatility(made, name):
    sc = made[name]
    rm = sc.resume_machine
    layer = _vol_layer(sc.resume_path, sc.resume_format)
    for pfn, page in rm.pages.used.items():
        assert layer.read(pfn << 12, PAGE) == page, hex(pfn)
    for a, b in sc.boot_free_pfns:
        for p in (a, b - 1):
            assert layer.read(p << 12, PAGE) == bytes(PAGE)
    if sc.resume_format == "raw":
        assert sc.resume_path.endswith(".raw")
        assert os.path.getsize(sc.resume_path) == rm.ram_pfns[-1][1] << 12
        return
    ident, etype, machine, ph, head = _elf_headers(sc.resume_path)
    assert ident[:5] == b"\x7fELF\x02" and (etype, machine) == (4, 62)      # ET_CORE, EM_X86_64
    loads = [p for p in ph if p[0] == 1]
    assert [(p[4] >> 12, (p[4] + p[5]) >> 12) for p in loads] == [tuple(r) for r in rm.ram_pfns]
    assert all(p[5] == p[6] and p[3] == p[4] for p in loads)                 # filesz == memsz
    assert _qemu_cr3(head, ph) == rm.cr3


def test_compact_seed_pair(tmp_path, made):
    """The bundled pair: byte-identical to samples/ (when committed), the compact ELF serves
    every RAM page like the QEMU-style one, and the pair stays small."""
    sc = G.write_seed_pair(str(tmp_path))
    ref = made["seed"]
    assert [os.path.basename(p) for p in (sc.image_path, sc.resume_path)] == list(G.SEED_PAIR)
    assert open(sc.image_path, "rb").read() == open(ref.image_path, "rb").read()
    assert os.path.getsize(sc.image_path) + os.path.getsize(sc.resume_path) < 1_500_000
    layer = _vol_layer(sc.resume_path, "elf")
    rm = sc.resume_machine
    for pfn, page in rm.pages.used.items():
        assert layer.read(pfn << 12, PAGE) == page
    for a, b in sc.boot_free_pfns:
        n = min(b - a, 64)
        assert layer.read(a << 12, n << 12) == bytes(n << 12)
    _, _, _, ph, head = _elf_headers(sc.resume_path)
    assert _qemu_cr3(head, ph) == rm.cr3
    for name in G.SEED_PAIR:
        committed = os.path.join(ROOT, "samples", name)
        if os.path.exists(committed):
            assert open(committed, "rb").read() == open(tmp_path / name, "rb").read(), name


def test_cli_scenario(tmp_path, made):
    subprocess.run([sys.executable, os.path.join(ROOT, "samples", "swsusp_gen.py"),
                    "--scenario", "pti", "-o", str(tmp_path)], check=True, capture_output=True)
    assert sorted(os.listdir(tmp_path)) == ["pti-resume.raw", "pti.img", "pti.json"]
    with open(tmp_path / "pti.json") as f:
        js = json.load(f)
    assert js["expected"] == made["pti"].expected and js["resume_cr3"] == made["pti"].resume_machine.cr3
    assert open(tmp_path / "pti.img", "rb").read() == open(made["pti"].image_path, "rb").read()
