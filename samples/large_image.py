"""Large hibernation images (benchmarks, CI smoke test): GiB-sized, streamed, bounded memory.

Page contents are a pure function of (PFN, seed) -- :func:`large_page` -- built from a few
hundred precomputed template pages, so neither the memory nor the image is ever held whole.
LZO is far too slow to run over GiBs here, so every template page is compressed ONCE into a
self-contained LZO1X fragment and a block's stream is assembled from fragments
(:mod:`samples.lzo_encoder`).  The machine is the synthetic kernel of symbols/linux/ (banner,
page tables, KASLR, the task list of :mod:`samples.synth_tasks`), so stock
``vol -p plugins -s symbols -f IMG linux.pslist`` lists its tasks.

Layout as the kernel writes a swap partition: mkswap page with header layout A, a contiguous
map chain from block 1 (map pages at 1, 513, 1025, ...), entry 0 = info page with an F02
record, the PFN list, then 32-page compressed blocks or plain pages; CRC32 per docs/format.md §5.3.
"""
from __future__ import annotations

import functools
import math
import random
import struct
import sys
import time
from array import array
from dataclasses import dataclass

from .containers import mkswap_page
from .eras import (
    BM_END_OF_MAP,
    ENCODED_PFN_ZERO_FLAG,
    LZO_WORST,
    MAP_PAGE_ENTRIES,
    PAGE,
    UNC_PAGES,
    Era,
    era_of,
)
from .image_stream import build_info_page, crc32_le
from .lzo_encoder import lzo_assemble, lzo_fragment, lzo_raw
from .swap_writer import mark_swapfiles, swap_map_page, swsusp_header_flags
from .synth_layout import (
    BANNER,
    DIRECT_4K,
    DIRECT_LARGE,
    KERNEL_IMAGE_SIZE,
    MM_SIZE,
    PAGE_OFFSET_L4,
    PCD,
    PWT,
    RELEASE,
    SZ_1G,
    SZ_2M,
    SZ_4K,
    TEXT_LARGE,
    KernelLayout,
)
from .synth_memory import PageTables, PhysMem
from .synth_pages import code_page, random_page, restore_page, struct_page, text_page
from .synth_tasks import (
    TASK_SPECS,
    pgd_alloc,
    user_mm_struct,
    user_task_indices,
    write_task_list,
)
from .synthkernel import ram_layout

LARGE_STAMP_OFFSET = 16         # u64 PFN here in every ordinary non-zero page ("stamp")
LARGE_DIRECT_MAP_GIB = 64       # the direct map covers PA [0, 64 GiB) whatever the RAM size
LARGE_KINDS = ("zero", "text", "code", "struct", "random", "kernel")
LARGE_WEIGHTS = (22, 30, 16, 18, 14)   # share of ordinary pages per kind (per 100)
LARGE_TEMPLATES = 64            # templates per non-zero kind
_LARGE_GROUP_SHIFT = 2          # 4 consecutive PFNs share a kind (zero/text/... come in runs)
_LARGE_POOL = 0x8000000         # direct-map page tables at 128 MiB (as synthkernel's pool)
_M64 = (1 << 64) - 1
_HOLE = (LARGE_STAMP_OFFSET, LARGE_STAMP_OFFSET + 8)
_KERNEL = 5                     # LARGE_KINDS index of the kernel's own pages


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


# ---------------------------------------------------------------------------------------------
# page specs: ((uncompressed pieces), (head pieces, head length, body, tail), kind)
def _page_spec(page: bytes, kind: int) -> tuple:
    """A page stored as built: its LZO fragment, no stamp."""
    h, b, t = lzo_fragment(page)
    return (page,), ((h,), len(h), b, t), kind


def _kind_table(rng: random.Random) -> list[int]:
    """1024 slots of non-kernel kinds in LARGE_WEIGHTS proportions, shuffled."""
    table: list[int] = []
    for kind, w in enumerate(LARGE_WEIGHTS):
        table += [kind] * (w * 1024 // 100)
    table += [1] * (1024 - len(table))
    rng.shuffle(table)
    return table


def _templates(rng: random.Random) -> dict[int, list[tuple]]:
    """LARGE_TEMPLATES pages per non-zero kind, zeros in the stamp's hole, each with its LZO
    fragment: (page before hole, page after hole, head before hole, head after hole, head
    length, body, tail)."""
    gens = {1: text_page, 2: code_page, 3: struct_page, 4: random_page}
    templates: dict[int, list[tuple]] = {}
    for kind, gen in gens.items():
        tpls = []
        for i in range(LARGE_TEMPLATES):
            raw = bytearray(gen(rng, 0x1000 * kind + i))
            raw[_HOLE[0]:_HOLE[1]] = bytes(8)
            page = bytes(raw)
            head, body, tail = lzo_fragment(page, hole=_HOLE)
            tpls.append((page[:_HOLE[0]], page[_HOLE[1]:], head[:_HOLE[0]], head[_HOLE[1]:],
                         len(head), body, tail))
        templates[kind] = tpls
    return templates


# ---------------------------------------------------------------------------------------------
class _LargeKit:
    """Everything of a large machine that depends on the seed only: templates (with their LZO
    fragments), the kernel/page-table/task-list pages and the restore record's addresses."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.key = _splitmix64(seed ^ 0x5357_5355_5350_4C47)
        rng = random.Random(f"swsusp-large-templates:{seed}")
        self.kind_table = _kind_table(rng)
        self.templates = _templates(rng)
        self.zero_spec = _page_spec(bytes(PAGE), 0)
        mrng = random.Random(f"swsusp-large-machine:{seed}")
        self._choose_layout(mrng)
        mem = PhysMem()
        proc_pgds = self._map(mem)
        self._write_kernel_pages(mem)
        self._write_tasks(mem, mrng, proc_pgds)
        self.special: dict[int, tuple] = {pfn: _page_spec(bytes(pg), _KERNEL)
                                          for pfn, pg in sorted(mem.pages.items())}

    # ---- the machine -------------------------------------------------------------------------
    def _choose_layout(self, mrng: random.Random) -> None:
        """KASLR: text shifts and the direct map, vmalloc and vmemmap bases (4 levels)."""
        phys_shift = mrng.randrange(0, 40) * SZ_2M
        virt_shift = mrng.randrange(0, 400) * SZ_2M
        page_offset = PAGE_OFFSET_L4 + (mrng.randrange(0, 0x1800) << 30)
        vmalloc_base = page_offset + (74 << 40) + (mrng.randrange(1, 64) << 30)
        vmemmap_base = vmalloc_base + (32 << 40) + (mrng.randrange(1, 64) << 30)
        layout = KernelLayout(4, phys_shift, virt_shift, page_offset, vmalloc_base, vmemmap_base)
        self.page_offset, self.vmalloc_base, self.vmemmap_base = page_offset, vmalloc_base, vmemmap_base
        self.kernel_text_pa, self.kernel_text_va, self.phys_base = layout.text_pa, layout.text_va, layout.phys_base
        self.kpa, self.kva, self.dva = layout.kpa, layout.kva, layout.dva

    def _map(self, mem: PhysMem) -> list[int]:
        """init_top_pgt with the kernel text mapping and a direct map of [0, 64 GiB) (4 KiB
        pages in the first 2 MiB, 2 MiB pages to 1 GiB, then 1 GiB pages), one PGD per user
        process (pgd_alloc).  Returns those PGDs."""
        pt = PageTables(mem, 4)
        pgd = self.kpa("init_top_pgt")
        mem.page(pgd >> 12)
        ktables = iter([self.kpa("level3_kernel_pgt"), self.kpa("level2_kernel_pgt")])
        text_va, text_pa = self.kernel_text_va, self.kernel_text_pa
        for off in range(0, KERNEL_IMAGE_SIZE, SZ_2M):
            pt.map(pgd, text_va + off, text_pa + off, SZ_2M, TEXT_LARGE,
                   alloc=lambda s, v: next(ktables))
        pool = iter(range(_LARGE_POOL + 0x10000, _LARGE_POOL + 0x100000, PAGE))

        def alloc(shift: int, va: int) -> int:
            return next(pool)

        po = self.page_offset
        for pa in range(0, SZ_2M, PAGE):                   # first 2 MiB in 4 KiB pages
            flags = DIRECT_4K | (PCD | PWT if 0x9F000 <= pa < 0x100000 else 0)
            pt.map(pgd, po + pa, pa, SZ_4K, flags, alloc)
        for pa in range(SZ_2M, SZ_1G, SZ_2M):             # rest of the first GiB: 2 MiB
            pt.map(pgd, po + pa, pa, SZ_2M, DIRECT_LARGE, alloc)
        for pa in range(SZ_1G, LARGE_DIRECT_MAP_GIB << 30, SZ_1G):
            pt.map(pgd, po + pa, pa, SZ_1G, DIRECT_LARGE, alloc)
        # one PGD per user process (mm->pgd): a copy of the kernel half, as pgd_alloc() makes
        proc_pgds = [next(pool) for _ in user_task_indices()]
        for p in proc_pgds:
            pgd_alloc(mem, p, pgd)
        self.cr3 = pgd
        self.page_table_pfns = sorted(mem.pages)
        self.jump_address = self.kva("restore_registers")
        self.jump_address_phys = self.kpa("restore_registers")
        assert pt.translate(pgd, self.jump_address) == self.jump_address_phys
        for pa in (0, 0x9F000, 0x1FF000, 0x200000, 0x3FFFF000, 0x40000000, (63 << 30) + 0x1234):
            assert pt.translate(pgd, po + pa) == pa, hex(pa)
        return proc_pgds

    def _write_kernel_pages(self, mem: PhysMem) -> None:
        """restore_registers, linux_banner, the layout variables, phys_base."""
        kpa, tpl = self.kpa, self.templates
        mem.write(kpa("restore_registers") & ~0xFFF,
                  restore_page(tpl[2][0][0] + bytes(8) + tpl[2][0][1]))
        bpa = kpa("linux_banner")
        mem.write(bpa & ~0xFFF, tpl[1][1][0] + bytes(8) + tpl[1][1][1])
        mem.write(bpa, BANNER)
        mem.write(bpa - 0x40, (RELEASE.encode() + b"\0").ljust(0x40, b"\0"))
        mem.write_u64(kpa("page_offset_base"), self.page_offset)
        mem.write_u64(kpa("vmalloc_base"), self.vmalloc_base)
        mem.write_u64(kpa("vmemmap_base"), self.vmemmap_base)
        mem.write(kpa("pgdir_shift"), struct.pack("<I", 39))
        mem.write(kpa("ptrs_per_p4d"), struct.pack("<I", 1))
        mem.write_u64(kpa("phys_base"), self.phys_base)
        self.banner_pa = bpa

    def _write_tasks(self, mem: PhysMem, mrng: random.Random, proc_pgds: list[int]) -> None:
        """The task list (init_task, init_mm, ...; the other task_structs and the user
        mm_structs in slab pages of the direct map between 130 and 240 MiB), as synthkernel's
        machines have it, so that stock linux.pslist lists TASK_SPECS."""
        slab = mrng.sample(range(0x8200, 0xF000), len(TASK_SPECS))
        task_pa = [self.kpa("init_task")] + [(pfn << 12) + 0x200 for pfn in slab[1:]]
        mm_of = {}
        for j, (i, p) in enumerate(zip(user_task_indices(), proc_pgds)):
            mm_pa = (slab[0] << 12) + j * MM_SIZE
            mem.write(mm_pa, user_mm_struct(self.dva(p)))
            mm_of[i] = self.dva(mm_pa)
        self.tasks = write_task_list(mem, self.kpa, self.kva, self.dva, task_pa, mm_of)

    # ---- page contents -----------------------------------------------------------------------
    def classify(self, pfn: int) -> tuple[int, int]:
        """(kind, template index) of an ordinary (non-kernel) PFN."""
        h = _splitmix64((pfn >> _LARGE_GROUP_SHIFT) ^ self.key)
        return self.kind_table[h & 1023], ((h >> 10) + (pfn & 3) * 11) % LARGE_TEMPLATES

    def spec(self, pfn: int) -> tuple:
        """((uncompressed pieces), (head pieces, head length, body, tail), kind) of a page."""
        sp = self.special.get(pfn)
        if sp is not None:
            return sp
        kind, t = self.classify(pfn)
        if kind == 0:
            return self.zero_spec
        t16, trest, h16, hrest, hl, body, tail = self.templates[kind][t]
        st = pfn.to_bytes(8, "little")
        return (t16, st, trest), ((h16, st, hrest), hl, body, tail), kind

    def is_zero(self, pfn: int) -> bool:
        return pfn not in self.special and self.classify(pfn)[0] == 0


@functools.lru_cache(maxsize=4)
def _large_kit(seed: int) -> _LargeKit:
    return _LargeKit(seed)


def large_page(pfn: int, seed: int = 0) -> bytes:
    """Contents of PFN ``pfn`` in every large image written with ``seed`` (whether or not the
    image saves that PFN).  Ordinary pages are a template chosen by a hash of the PFN -- zero,
    text, code, struct-like or random -- with the PFN as u64 at LARGE_STAMP_OFFSET (zero pages
    have no stamp); the kernel's page tables, a few kernel pages and the task list's pages
    (LargeFacts.special_pfns) are stored as built."""
    unc = _large_kit(seed).spec(pfn)[0]
    return unc[0] if len(unc) == 1 else b"".join(unc)


# ---------------------------------------------------------------------------------------------
# which PFNs are saved
def _large_runs(n: int, ram_pfns, forced: list[int], rng: random.Random) -> list[tuple[int, int]]:
    """Saved PFNs as ascending (first, count) runs: ``forced`` plus runs of log-uniform length
    (1..2048 pages) spread over all RAM (PFN 0 never saved), n PFNs in all."""
    fset = set(forced)
    segs = []
    for a, b in ram_pfns:
        cur = max(a, 1)
        for f in forced:
            if cur <= f < b:
                if f > cur:
                    segs.append((cur, f))
                cur = f + 1
        if cur < b:
            segs.append((cur, b))
    assert all(any(a <= f < b for a, b in ram_pfns) and f > 0 for f in fset)
    need = n - len(fset)
    avail = sum(b - a for a, b in segs)
    if need < 0 or need > avail:
        raise ValueError(f"{n} saved pages do not fit this RAM ({avail + len(fset)} saveable)")
    runs: list[tuple[int, int]] = [(f, 1) for f in sorted(fset)]
    si, pos = 0, segs[0][0] if segs else 0
    log_max = math.log(2048)

    def advance(k: int, record: bool) -> None:
        nonlocal si, pos, avail
        while k:
            _, b = segs[si]
            step = min(k, b - pos)
            if record:
                runs.append((pos, step))
            pos += step
            k -= step
            avail -= step
            if pos == b and si + 1 < len(segs):
                si += 1
                pos = segs[si][0]

    while need:
        d = need / avail
        length = min(int(math.exp(rng.uniform(0, log_max))), need)
        gap = min(int(length * (1 - d) / d * rng.uniform(0.5, 1.5)), avail - need)
        advance(gap, False)
        advance(length, True)
        need -= length
    runs.sort()
    out: list[tuple[int, int]] = []
    for first, count in runs:
        if out and out[-1][0] + out[-1][1] == first:
            out[-1] = (out[-1][0], out[-1][1] + count)
        else:
            out.append((first, count))
    assert sum(c for _, c in out) == n
    return out


def _pfn_entries(runs, kit: _LargeKit, zero_pages: bool) -> tuple[array, int]:
    """The PFN list (the only per-page state held: 8 bytes a page) and its zero-page count;
    with ``zero_pages`` (6.6+) all-zero pages are PFN | 1 << 63 entries."""
    entries = array("Q")
    zero = 0
    for first, count in runs:
        if zero_pages:
            for pfn in range(first, first + count):
                if kit.is_zero(pfn):
                    entries.append(pfn | ENCODED_PFN_ZERO_FLAG)
                    zero += 1
                else:
                    entries.append(pfn)
        else:
            entries.extend(range(first, first + count))
    return entries, zero


def _pfn_list_bytes(entries: array) -> bytes:
    """The PFN list pages: little-endian entries, ~0 if the last page is not full, zeros."""
    if sys.byteorder != "little":
        entries.byteswap()
    meta = entries.tobytes()
    if len(entries) % (PAGE // 8):
        meta += struct.pack("<Q", BM_END_OF_MAP)
    meta += bytes(-len(meta) % PAGE)
    if sys.byteorder != "little":
        entries.byteswap()
    return meta


# ---------------------------------------------------------------------------------------------
# writing the stream
def _full_map_page(j: int) -> bytes:
    """Map page j of a contiguous chain starting at block 1: entries 2+512j.., next 513+512j."""
    return swap_map_page(list(range(2 + 512 * j, 513 + 512 * j)), 513 + 512 * j)


class _MapChain:
    """swap_write_page() for a contiguous map chain from block 1: block 0 is the header
    (written last), block 1 the first map page, block 2 entry 0 (the info page); stream pages
    follow, a full map page before every 511 entries."""

    def __init__(self, f, info: bytes) -> None:
        self.f = f
        f.write(bytes(PAGE))                      # block 0: header, written last
        f.write(_full_map_page(0))                # block 1: first map page
        f.write(info)                             # block 2: entry 0
        self.written = 1                          # map entries so far
        self.room = MAP_PAGE_ENTRIES - 1          # entries before the next map page

    def put(self, data) -> None:
        """Whole pages, as swap_write_page() writes them."""
        mv = memoryview(data)
        off, k = 0, len(data) // PAGE
        while k:
            if self.room == 0:
                self.f.write(_full_map_page(self.written // MAP_PAGE_ENTRIES))
                self.room = MAP_PAGE_ENTRIES
            take = min(self.room, k)
            self.f.write(mv[off:off + take * PAGE])
            off += take * PAGE
            k -= take
            self.room -= take
            self.written += take

    def finish(self) -> list[int]:
        """Write the last (partial) map page; return the map blocks."""
        e = self.written
        j = e // MAP_PAGE_ENTRIES
        cnt = e - j * MAP_PAGE_ENTRIES
        self.f.seek((1 + 512 * j) * PAGE)
        self.f.write(swap_map_page(list(range(2 + 512 * j, 2 + 512 * j + cnt))))
        return [1 + 512 * k for k in range(j + 1)]


class _BlockWriter:
    """The stream U (PFN list pages + data pages) in 32-page blocks: CRC32 over U, each block
    compressed (u64 length + data + stale padding to a page) or written plain."""

    def __init__(self, chain: _MapChain, codec: str, verify: bool, seed: int) -> None:
        self.chain, self.codec, self.verify = chain, codec, verify
        self.pad_rng = random.Random(f"swsusp-large-pad:{seed}")
        self.kinds = [0] * len(LARGE_KINDS)
        self.crc = self.stored = self.nblocks = 0
        self.block: list[tuple] = []

    def add(self, spec: tuple) -> None:
        self.block.append(spec)
        if len(self.block) == UNC_PAGES:
            self.flush()

    def flush(self) -> None:
        block, self.block = self.block, []
        if not block:
            return
        unc = b"".join([p for s in block for p in s[0]])
        self.crc = crc32_le(self.crc, unc)
        for s in block:
            if s[2] >= 0:
                self.kinds[s[2]] += 1
        if self.codec == "none":
            self.chain.put(unc)
            self.stored += len(unc) // PAGE
            return
        c = self._compress(block, unc)
        assert 0 < len(c) <= LZO_WORST, len(c)
        if self.verify and (self.nblocks < 2 or self.nblocks % 61 == 0):
            assert _decompress(self.codec, c, len(unc)) == unc, \
                f"block {self.nblocks} does not decompress to its pages"
        rec = struct.pack("<Q", len(c)) + c
        rec += self.pad_rng.randbytes(-len(rec) % PAGE)
        self.chain.put(rec)
        self.stored += len(rec) // PAGE
        self.nblocks += 1

    def _compress(self, block: list[tuple], unc: bytes) -> bytes:
        if self.codec == "lz4":
            import lz4.block
            return lz4.block.compress(unc, store_size=False)
        if all(s[1] is None for s in block):
            return lzo_raw(unc)                    # PFN list only: lzallright on the block
        return lzo_assemble([s[1] if s[1] is not None else _page_spec(s[0][0], -1)[1]
                             for s in block])


def _decompress(codec: str, c: bytes, size: int) -> bytes:
    if codec == "lz4":
        import lz4.block
        return lz4.block.decompress(c, uncompressed_size=size)
    import lzallright
    return lzallright.LZOCompressor.decompress(c, output_size_hint=size)


def _stream_specs(meta: bytes, entries: array, kit: _LargeKit):
    """U page by page: PFN list pages (no fragment, kind -1), then every stored data page."""
    for i in range(len(meta) // PAGE):
        yield (meta[i * PAGE:(i + 1) * PAGE],), None, -1
    spec = kit.spec
    for v in entries:
        if not v >> 63:
            yield spec(v)


def _header_page(era: Era, last_page: int, seed: int, codec: str,
                 crc: int) -> tuple[bytearray, int, int | None]:
    """mkswap page + swsusp_header (layout A, image = block 1) -> (page, flags, crc32 field)."""
    hdr = mkswap_page(last_page, random.Random(f"swsusp-large-header:{seed}"), b"synthswap")
    flags, hcrc, _ = swsusp_header_flags(era, codec, None, None, crc)
    assert flags is not None                      # layout A
    mark_swapfiles(hdr, era, 1, 0, flags, hcrc, None, False)
    return hdr, flags, hcrc


# ---------------------------------------------------------------------------------------------
@dataclass
class _SavedMachine:
    """What the info page says about the large machine (image_stream.SavedMachine)."""
    jump_address: int
    jump_address_phys: int
    cr3_record: int
    e820: list[tuple[int, int, int]]
    num_physpages: int
    release: str = RELEASE
    cpus: int = 2


@dataclass
class LargeFacts:
    """What write_large_image wrote.  ``asdict(facts)`` is JSON-serialisable."""
    path: str
    file_size: int
    codec: str
    era: str
    seed: int
    flags: int                     # header flags (SF_CRC32_MODE | SF_LZ4 | SF_NOCOMPRESS_MODE)
    image_pages: int               # info.image_pages: data pages stored in the stream
    zero_pages: int                # bit-63 PFN entries (6.6+), else 0
    pages: int                     # info.pages = 1 + meta_pages + image_pages
    saved_pages: int               # PFN-list entries = image_pages + zero_pages (gib * 262144)
    meta_pages: int
    num_physpages: int
    ram_gib: float
    crc32: int | None              # header crc32 = crc32_le(0, U) (compressed images), else None
    stream_crc32: int              # crc32_le(0, U) whatever the codec
    pfn_runs: list[tuple[int, int]]  # saved PFNs (zero pages included) as (first, count), ascending
    cr3: int
    jump_address: int
    jump_address_phys: int
    page_offset: int
    kernel_text_va: int
    kernel_text_pa: int
    banner_pa: int
    tasks: list[tuple[int, str, int]]  # (pid, comm, task_struct VA): init_task's list
    special_pfns: list[int]        # kernel, task and page-table pages: stored as built, no stamp
    page_table_pfns: list[int]
    num_entries: int               # swap-map entries: info page + stored stream pages
    num_blocks: int                # compressed blocks (0 for codec none)
    map_blocks: list[int]
    last_page: int                 # mkswap last_page; the file is (last_page + 1) * 4096 bytes
    compression_ratio: float       # uncompressed stream pages / stored stream pages
    kind_counts: dict[str, int]    # saved pages by content kind
    e820: list[tuple[int, int, int]]
    ram_pfns: list[tuple[int, int]]
    seconds_to_write: float


def _large_era(era: str | None, codec: str) -> tuple[str, Era]:
    """The era to write (6.1, 6.9 for LZ4), checked against what large images support."""
    if era is None:
        era = "6.9" if codec == "lz4" else "6.1"
    e = era_of(era)
    if e.layout != "A" or e.record != "f02":
        raise ValueError(f"era {era}: large images need header layout A and an F02 record (5.12+)")
    if codec not in ("none", "lzo", "lz4"):
        raise ValueError(f"codec {codec!r}")
    if codec == "lz4" and not e.has_lz4:
        raise ValueError("LZ4 exists only in 6.9+ kernel images")
    return era, e


def write_large_image(path: str, *, gib: float = 2.0, codec: str = "lzo",
                      era: str | None = None, seed: int = 0, ram_gib: float | None = None,
                      verify: bool = True) -> LargeFacts:
    """Stream a swap-partition hibernation image holding ``gib`` GiB of saved pages to ``path``.

    codec    "lzo" | "lz4" | "none".
    era      "6.1" (default; "6.9" for lz4) or any 5.12+ era; "6.6"/"6.9" store all-zero pages
             as bit-63 PFN entries without a data page.
    seed     selects templates, KASLR and the PFN layout; page contents = large_page(pfn, seed).
    ram_gib  RAM of the machine (default 2.5 * gib, at least 0.25); hibernation saves ~2/5.
    verify   decompress a sample of the written blocks and compare.

    Layout as the kernel writes a swap partition: mkswap page with header layout A, map chain
    from block 1 (map pages at 1, 513, 1025, ...), entry 0 = info page with an F02 record,
    PFN list, then 32-page compressed blocks (u64 length + data + stale padding to a page) or
    plain pages; CRC32 per docs/format.md §5.3.  Memory stays bounded: one block at a time plus the PFN
    list (8 bytes per page).

    The machine is the synthetic kernel of symbols/linux/ (banner, page tables, KASLR shift
    from the restore record) with synthkernel's task list from init_task (LargeFacts.tasks),
    so stock ``vol -p plugins -s symbols -f IMG linux.pslist`` lists those tasks."""
    t0 = time.perf_counter()
    era, e = _large_era(era, codec)
    n = round(gib * (1 << 30) / PAGE)
    if ram_gib is None:
        ram_gib = max(0.25, 2.5 * gib)
    ram_mib = round(ram_gib * 1024)
    if ram_mib < 256:
        raise ValueError("ram_gib >= 0.25 (the kernel and its page tables live below 256 MiB)")
    ram_pfns, e820 = ram_layout(ram_mib)
    if ram_pfns[-1][1] > LARGE_DIRECT_MAP_GIB << 18:
        raise ValueError(f"RAM above {LARGE_DIRECT_MAP_GIB} GiB is not direct-mapped")
    num_physpages = sum(b - a for a, b in ram_pfns)
    kit = _large_kit(seed)
    forced = sorted(set(range(1, 0x9F)) | set(kit.special))
    if n < len(forced) + 1:
        raise ValueError(f"gib too small: at least {len(forced) + 1} pages")
    runs = _large_runs(n, ram_pfns, forced, random.Random(f"swsusp-large:{seed}:{n}:{ram_mib}"))

    entries, zero = _pfn_entries(runs, kit, e.zero_pages)
    meta = _pfn_list_bytes(entries)
    meta_pages = len(meta) // PAGE
    image_pages = n - zero
    pages = 1 + meta_pages + image_pages
    saved = _SavedMachine(kit.jump_address, kit.jump_address_phys, kit.cr3, e820, num_physpages)
    info, _, _ = build_info_page(saved, e, "f02", image_pages, pages)

    with open(path, "wb") as f:
        chain = _MapChain(f, info)
        blocks = _BlockWriter(chain, codec, verify, seed)
        for s in _stream_specs(meta, entries, kit):
            blocks.add(s)
        blocks.flush()
        map_blocks = chain.finish()
        num_entries = chain.written
        last_page = 1 + (num_entries + num_entries // MAP_PAGE_ENTRIES + 2) + 24
        assert map_blocks[-1] <= last_page
        hdr, flags, hcrc = _header_page(e, last_page, seed, codec, blocks.crc)
        f.seek(0)
        f.write(hdr)
        f.truncate((last_page + 1) * PAGE)
    return LargeFacts(
        path=str(path), file_size=(last_page + 1) * PAGE, codec=codec, era=era, seed=seed,
        flags=flags, image_pages=image_pages, zero_pages=zero, pages=pages, saved_pages=n,
        meta_pages=meta_pages, num_physpages=num_physpages, ram_gib=ram_gib, crc32=hcrc,
        stream_crc32=blocks.crc, pfn_runs=runs, cr3=kit.cr3, jump_address=kit.jump_address,
        jump_address_phys=kit.jump_address_phys, page_offset=kit.page_offset,
        kernel_text_va=kit.kernel_text_va, kernel_text_pa=kit.kernel_text_pa,
        banner_pa=kit.banner_pa, tasks=list(kit.tasks), special_pfns=sorted(kit.special),
        page_table_pfns=kit.page_table_pfns, num_entries=num_entries,
        num_blocks=blocks.nblocks, map_blocks=map_blocks, last_page=last_page,
        compression_ratio=(pages - 1) / blocks.stored,
        kind_counts=dict(zip(LARGE_KINDS, blocks.kinds)),
        e820=e820, ram_pfns=ram_pfns, seconds_to_write=time.perf_counter() - t0)
