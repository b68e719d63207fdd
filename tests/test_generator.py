"""Self-checks of the synthetic sample generator (samples/), independent of plugins/.

Truth compared against: the generator's known memory (Machine.pages), a bitwise CRC-32
written here, and a tiny page-table walk written here.  The decoder below is deliberately
minimal (it trusts the Facts for era/layout) and exists only to show the images are
self-consistent; the real reader is tested elsewhere against the same images.
"""
import hashlib
import json
import lzma
import os
import struct
import subprocess
import sys
from dataclasses import asdict

import pytest

from samples import swsusp_gen as G
from samples import synthkernel as K

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = 4096
ADDR = 0x000FFFFFFFFFF000


# ---- independent helpers ----------------------------------------------------------------
def _crc_table():
    t = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ (0xEDB88320 if c & 1 else 0)
        t.append(c)
    return t


CRC_T = _crc_table()


def crc32_le_table(crc, data):
    """Kernel crc32_le: reflected polynomial 0xEDB88320, no pre/post inversion."""
    for b in data:
        crc = CRC_T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def test_crc32_le_definition():
    data = bytes(range(256)) * 3
    assert crc32_le_table(0, data) == G.crc32_le(0, data)
    assert G.crc32_le(0, b"") == 0 and G.crc32_le(0, b"\0" * 16) == 0   # seed 0, no inversion


def walk(pages, cr3, va, levels, cbit=0):
    """Minimal x86-64 walk over a pfn->bytes dict; returns PA or None."""
    mask = ADDR & ~cbit
    table = cr3 & mask
    shifts = (48, 39, 30, 21, 12) if levels == 5 else (39, 30, 21, 12)
    for sh in shifts:
        pg = pages.get(table >> 12)
        if pg is None:
            return None
        e = struct.unpack_from("<Q", pg, ((va >> sh) & 511) * 8)[0]
        if not e & 1:
            return None
        if sh == 12 or (sh in (21, 30) and e & 0x80):
            return (e & mask & ~((1 << sh) - 1)) | (va & ((1 << sh) - 1))
        table = e & mask
    return None


def decode(path, facts):
    """Decode a kernel (S1SUSPEND) image written by the generator -> {pfn: page}."""
    data = open(path, "rb").read()
    base = facts.partition_offset

    def blk(b):
        off = base + b * PAGE
        assert 0 <= off and off + PAGE <= len(data), b
        return data[off:off + PAGE]

    hdr = blk(facts.resume_offset)
    assert hdr[4076:4086] == b"SWAPSPACE2"
    if facts.layout == "A":
        image, flags = struct.unpack_from("<QI", hdr, 4064)
    else:
        image, flags = struct.unpack_from("<Q", hdr, 4068)[0], 0
        if facts.layout == "C":
            image &= (1 << 59) - 1
    entries, b, seen = [], image, set()
    while b:
        assert b not in seen
        seen.add(b)
        m = blk(b)
        entries += struct.unpack_from("<511Q", m)
        b = struct.unpack_from("<Q", m, 4088)[0]
    entries = entries[:entries.index(0)] if 0 in entries else entries
    info = blk(entries[0])
    image_pages, pages, size = struct.unpack_from("<QQQ", info, 416)
    assert size == pages * PAGE
    compressed = facts.layout == "A" and not flags & 2 and len(entries) != pages
    if not compressed:
        U = b"".join(blk(e) for e in entries[1:pages])
    else:
        import lz4.block
        import lzallright
        lzo = lzallright.LZOCompressor()
        i, parts = 1, []
        while sum(map(len, parts)) < (pages - 1) * PAGE:
            n = struct.unpack_from("<Q", blk(entries[i]))[0]
            k = -(-(n + 8) // PAGE)
            raw = b"".join(blk(entries[i + j]) for j in range(k))[8:8 + n]
            d = (lz4.block.decompress(raw, uncompressed_size=131072) if flags & 16
                 else lzo.decompress(raw))
            assert d and len(d) % PAGE == 0 and len(d) <= 131072
            parts.append(d)
            i += k
        U = b"".join(parts)
    M = pages - image_pages - 1
    lst = struct.unpack(f"<{M * 512}Q", U[:M * PAGE])
    dpages = U[M * PAGE:]
    out, k = {}, 0
    for v in lst:
        if facts.layout == "C":
            if v == 0:
                break
            pfn = (v - 0xFFFF810000000000) >> 12
        else:
            if v == 0xFFFFFFFFFFFFFFFF:
                break
            if v >> 63:
                out[v & ~(1 << 63)] = bytes(PAGE)
                continue
            pfn = v
        out[pfn] = dpages[k * PAGE:(k + 1) * PAGE]
        k += 1
    assert k == image_pages
    return out, U, flags


def decode_uswsusp(path, facts):
    """Decode an s2disk (ULSUSPEND) image the way suspend-utils' load.c reads it."""
    import lzallright
    data = open(path, "rb").read()
    base = facts.partition_offset

    def at(off):                      # byte offset on the device
        return data[base + off:base + off + PAGE]

    hdr = at(facts.resume_offset * PAGE)
    image, orig, sig = struct.unpack_from("<q10s10s", hdr, 4068)
    assert orig == b"SWAPSPACE2"
    pages, flags, map_start, data_size, md5 = struct.unpack_from("<QI4xqq16s", at(image))
    extents, nxt = [], map_start
    out = []
    while nxt and len(out) * PAGE < data_size:
        pg = at(nxt)
        ex = [struct.unpack_from("<qq", pg, 16 * i) for i in range(256)]
        nxt = ex[255][0]
        for s_, e_ in ex[:255]:
            if s_ >= e_:
                break
            extents.append((s_, e_))
            for off in range(s_, e_, PAGE):
                out.append(at(off))
    stored = out[:data_size // PAGE]
    if flags & 2:
        lzo, parts, i = lzallright.LZOCompressor(), [], 0
        while sum(map(len, parts)) < pages * PAGE:
            n = struct.unpack_from("<Q", stored[i])[0]
            k = -(-(n + 8) // PAGE)
            parts.append(lzo.decompress(b"".join(stored[i:i + k])[8:8 + n]))
            i += k
        stream = b"".join(parts)
    else:
        stream = b"".join(stored[:pages])
    assert len(stream) == pages * PAGE
    if flags & 1:
        assert hashlib.md5(stream).digest() == md5
    return stream, flags, extents


# ---- machine -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return str(tmp_path_factory.mktemp("swgen"))


@pytest.mark.parametrize("opts", [dict(), dict(levels=5), dict(pti=True, sme_bit=47),
                                  dict(gib_pages=True, ram_mib=4096, kaslr=False)])
def test_machine_tables_translate_as_designed(opts):
    m = G.get_machine(**opts)
    cbit = (1 << m.sme_bit) if m.sme_bit else 0
    assert m.cr3_record == m.cr3 | cbit
    assert 0 not in m.pages and all(len(p) == PAGE for p in m.pages.values())
    for cr3 in (m.cr3, m.init_top_pgt_pa):
        assert walk(m.pages, cr3 | cbit, m.jump_address, m.levels, cbit) == m.jump_address_phys
        assert walk(m.pages, cr3, m.sym_va("linux_banner"), m.levels, cbit) == m.banner_pa
    assert m.read(m.banner_pa, len(m.banner)) == m.banner
    assert m.banner.startswith(b"Linux version ") and m.banner.endswith(b"\n\x00")
    assert m.banner_pa >> 12 != m.jump_address_phys >> 12
    # phys_base relation of docs/format.md §4.2
    assert (m.jump_address_phys - (m.jump_address - K.START_KERNEL_MAP)) % 2**64 == m.phys_base
    # direct map covers every saved page and the ISA range
    for pfn in list(m.pages)[::7] + [0, 0x9F, 0xA0]:
        assert walk(m.pages, m.cr3, m.page_offset + pfn * PAGE + 0x123, m.levels, cbit) == pfn * PAGE + 0x123
    # page_offset_base variable holds page_offset
    assert struct.unpack("<Q", m.read(m.sym_pa("page_offset_base"), 8))[0] == m.page_offset
    # all page-table pages are saved; far-above PTE tables exist
    assert set(m.page_table_pfns) <= set(m.pages)
    assert m.pmd_tables_far_above
    for epa, tpa in m.pmd_tables_far_above:
        assert tpa > epa + (64 << 20)
        e = struct.unpack("<Q", m.read(epa, 8))[0]
        assert e & ADDR & ~cbit == tpa and not e & 0x80
    assert m.zero_pfns and all(not any(m.pages[p]) for p in m.zero_pfns)
    if m.pti:
        assert m.cr3 % 8192 == 0 and (m.cr3 >> 12) + 1 in m.pages
    if opts.get("gib_pages"):
        assert m.leaf_counts["1G"] >= 1 and m.leaf_counts["2M"] and m.leaf_counts["4K"]
    # init_task list: walk tasks through the kernel text mapping and the direct map
    first = va = m.sym_va("init_task")
    comms = []
    for _ in range(20):
        pa = walk(m.pages, m.cr3, va, m.levels, cbit)
        comms.append(m.read(pa + K.TASK["comm"], 16).split(b"\0")[0])
        va = struct.unpack("<Q", m.read(pa + K.TASK["tasks"], 8))[0] - K.TASK["tasks"]
        if va == first:
            break
    assert comms[0] == b"swapper/0" and len(comms) == len(m.tasks)


def test_machine_deterministic():
    a = K.build_machine(seed=7, saved="tiny")
    b = K.build_machine(seed=7, saved="tiny")
    assert a.pages == b.pages and a.cr3 == b.cr3 and a.page_offset == b.page_offset


def test_isf_matches_machine():
    isf = K.isf_dict()
    import base64
    assert base64.b64decode(isf["symbols"]["linux_banner"]["constant_data"]) == K.BANNER
    m = G.get_machine()
    for name in ("init_task", "init_top_pgt", "init_mm", "init_files", "restore_registers",
                 "page_offset_base", "linux_banner"):
        assert isf["symbols"][name]["address"] == m.symbols[name]
    assert m.sym_va("restore_registers") == m.jump_address
    tf = isf["user_types"]["task_struct"]["fields"]
    assert tf["comm"]["offset"] == K.TASK["comm"]
    shipped = os.path.join(ROOT, "symbols", "linux", K.isf_filename())
    assert os.path.exists(shipped)
    assert json.loads(lzma.open(shipped).read()) == json.loads(json.dumps(isf))


# ---- images ------------------------------------------------------------------------------
KERNEL_VARIANTS = [n for n, v in G.VARIANTS.items() if not v.get("uswsusp")]
USWSUSP_VARIANTS = [n for n, v in G.VARIANTS.items() if v.get("uswsusp")]


@pytest.mark.parametrize("name", USWSUSP_VARIANTS)
def test_uswsusp_variant_decodes(name, tmp):
    m, f, path = G.make_variant(name, tmp)
    stream, flags, extents = decode_uswsusp(path, f)
    assert f.sig == ("SWAPSPACE2" if f.consumed else "ULSUSPEND\0")
    assert flags == f.uswsusp["header_flags"]
    # the payload is the kernel stream: swsusp_info page, PFN list, data pages
    assert hashlib.sha256(stream[PAGE:]).hexdigest() == f.uncompressed_stream_sha256
    info = stream[:PAGE]
    image_pages, pages = struct.unpack_from("<QQ", info, 416)
    assert pages * PAGE == len(stream) and image_pages == len(f.data_pfns)
    M = pages - image_pages - 1
    lst = struct.unpack(f"<{M * 512}Q", stream[PAGE:(M + 1) * PAGE])
    got, k = {}, 0
    for v in lst:
        if v == 0xFFFFFFFFFFFFFFFF:
            break
        if v >> 63:
            got[v & ~(1 << 63)] = bytes(PAGE)
            continue
        got[v] = stream[(M + 1 + k) * PAGE:(M + 2 + k) * PAGE]
        k += 1
    assert got == m.pages
    if name == "uswsusp-fragmented":
        assert len(f.map_blocks) >= 2 and len(extents) > 255


@pytest.mark.parametrize("name", KERNEL_VARIANTS)
def test_variant_decodes_to_machine(name, tmp):
    m, f, path = G.make_variant(name, tmp)
    assert os.path.getsize(path) == f.file_size < 8 << 20
    json.dumps(asdict(f))
    pages, U, flags = decode(path, f)
    assert pages == m.pages
    assert hashlib.sha256(U).hexdigest() == f.uncompressed_stream_sha256
    if f.crc32 is not None:
        assert G.crc32_le(0, U) == f.crc32 == f.crc32_field
    assert f.num_entries == len(f.stream_blocks)
    if f.codec != "none":
        assert f.num_entries < f.info["pages"] or f.max_block_stored_pages > 32
        assert all(0 < b["stored_pages"] <= 35 for b in f.blocks)
    else:
        assert f.num_entries == f.info["pages"]
    assert f.info["image_pages"] == len(f.data_pfns)
    assert f.info["pages"] == 1 + f.meta_pages + f.info["image_pages"]
    if f.era in ("6.6", "6.9"):
        assert f.zero_pfns and set(f.zero_pfns) == set(m.zero_pfns)
    else:
        assert not f.zero_pfns
    if f.consumed:
        assert f.sig == f.orig_sig == "SWAPSPACE2"
    else:
        assert f.sig == "S1SUSPEND\0"


def test_block_shapes(tmp):
    _, f, _ = G.make_variant("incompressible-lzo", tmp)
    assert f.max_block_stored_pages > 32
    _, f, _ = G.make_variant("era-6.9-lz4", tmp)
    assert f.flags == 4 | 16
    _, f, _ = G.make_variant("era-2.6.37-lzo", tmp)
    assert f.flags == 0 and f.crc32 is None
    _, f, _ = G.make_variant("era-5.17-hwsig", tmp)
    assert f.flags == 4 | 8 and f.hw_sig == f.hw_sig_field
    _, f, _ = G.make_variant("scatter", tmp)
    assert f.stream_blocks != sorted(f.stream_blocks)
    _, f, _ = G.make_variant("swapfile", tmp)
    assert f.resume_offset > 0 and f.stream_blocks != sorted(f.stream_blocks)
    _, f, _ = G.make_variant("medium-none", tmp)
    assert len(f.map_blocks) == 2 and f.num_entries > 511
    _, f, _ = G.make_variant("era-2.6.16", tmp)
    assert f.image_field >> 59 == f.swap_type != 0


def test_containers(tmp):
    _, f, p = G.make_variant("mbr", tmp)
    d = open(p, "rb").read()
    assert d[510:512] == b"\x55\xaa" and d[446 + 16 + 4] == 0x82
    assert struct.unpack_from("<I", d, 446 + 16 + 8)[0] * 512 == f.partition_offset
    _, f, p = G.make_variant("gpt", tmp)
    d = open(p, "rb").read()
    assert d[512:520] == b"EFI PART"
    import uuid
    ent = d[1024 + 128:1024 + 256]
    assert uuid.UUID(bytes_le=ent[:16]) == uuid.UUID(G.GPT_SWAP)
    assert struct.unpack_from("<Q", ent, 32)[0] * 512 == f.partition_offset
    _, f, p = G.make_variant("swapfile", tmp)
    d = open(p, "rb").read()
    assert struct.unpack_from("<H", d, 1080)[0] == 0xEF53
    assert d[f.resume_offset * PAGE + 4086:f.resume_offset * PAGE + 4096] == b"S1SUSPEND\0"
    _, f, p = G.make_variant("swapfile-copy", tmp)
    d = open(p, "rb").read()
    assert d[4086:4096] == b"S1SUSPEND\0" and f.header_file_offset == 0
    assert f.image_block == f.resume_offset + 1


def test_cli_deterministic(tmp):
    outs = []
    for i in range(2):
        p = os.path.join(tmp, f"det{i}.img")
        subprocess.run([sys.executable, os.path.join(ROOT, "samples", "swsusp_gen.py"),
                        "era-6.9-lz4", "-o", p], check=True, capture_output=True)
        outs.append(open(p, "rb").read())
    assert outs[0] == outs[1]


def test_committed_samples_regenerate(tmp):
    for name, variant in (("quickstart-lzo.img", "quickstart-lzo"),
                          ("quickstart-lz4-zeropages.img", "quickstart-lz4-zeropages"),
                          ("quickstart-consumed.img", "quickstart-consumed")):
        committed = os.path.join(ROOT, "samples", name)
        if not os.path.exists(committed):
            pytest.skip("samples not generated yet")
        _, f, p = G.make_variant(variant, tmp)
        assert open(p, "rb").read() == open(committed, "rb").read(), name
