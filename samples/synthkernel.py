"""Synthetic x86-64 Linux machine: known physical memory for hibernation-image tests.

``build_machine(**opts)`` returns a :class:`Machine` whose ``pages`` dict (PFN -> 4096 bytes)
is exactly the set of pages a hibernation image of that machine stores.  The memory holds:

* a small "kernel image" at ``kernel_text_pa`` (text, rodata with ``linux_banner``, data with
  ``init_top_pgt``, ``init_task``, ``init_mm``, ``init_files``, ``page_offset_base`` ...), laid out
  like a real 6.1 kernel (offsets from ``_text`` follow Debian 6.1.0-56-amd64's System.map);
* x86-64 page tables (4- or 5-level): a direct map at ``page_offset`` covering all RAM with a mix
  of 1 GiB / 2 MiB / 4 KiB leaves (some PTE tables far above their PMD page), the kernel text
  mapping at ``__START_KERNEL_map`` + KASLR offset (2 MiB pages, top-level slot 511), a few
  vmalloc/vmemmap leaves, and a process PGD (``cr3``) whose kernel half copies ``init_top_pgt``;
* task_structs (``init_task`` list), data pages with markers, text, random bytes and zeros.

:func:`build_machine` runs one step per part (RAM layout, KASLR, kernel text mapping, direct
map, vmalloc/vmemmap, the hibernating process, kernel image contents, tasks, data pages); the
parts live in their own modules: :mod:`samples.synth_layout` (addresses, symbol offsets, struct
layouts), :mod:`samples.synth_memory` (PhysMem, PageTables), :mod:`samples.synth_pages` (page
contents), :mod:`samples.synth_tasks` (task_structs, mm_structs, PGDs) and
:mod:`samples.synth_isf` (the Volatility ISF: :func:`isf_dict` / :func:`write_isf`).  This module
re-exports their public names.

Pure Python, deterministic (``random.Random(seed)``); imports nothing from ``plugins/``.
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

from .synth_isf import isf_dict, isf_filename, write_isf
from .synth_layout import (
    ADDR_MASK,
    BANNER,
    CRED,
    CRED_SIZE,
    DIRECT_4K,
    DIRECT_4K_RO,
    DIRECT_LARGE,
    FILES_SIZE,
    KERNEL_IMAGE_SIZE,
    KERNPG_TABLE,
    KOFF,
    LINK_TEXT_PA,
    LINK_TEXT_VA,
    MM,
    MM_SIZE,
    NX,
    PAGE,
    PAGE_OFFSET_2_6_16,
    PAGE_OFFSET_2_6_27,
    PAGE_OFFSET_L4,
    PAGE_OFFSET_L5,
    PCD,
    PF_KTHREAD,
    PS,
    PWT,
    RELEASE,
    RW,
    SHIFTS,
    START_KERNEL_MAP,
    SWAPPER_PG_DIR,
    SZ_1G,
    SZ_2M,
    SZ_4K,
    TASK,
    TASK_SIZE,
    TEXT_LARGE,
    US,
    USER_TABLE,
    VMALLOC_L4,
    VMALLOC_L5,
    VMEMMAP_L4,
    VMEMMAP_L5,
    A,
    D,
    G,
    KernelLayout,
    P,
    u64,
)
from .synth_memory import PageTables, PhysMem, read_pages
from .synth_pages import (
    CORE_RESTORE_CODE,
    RESTORE_REGISTERS_CODE,
    code_page,
    marker_page,
    random_page,
    restore_page,
    struct_page,
    text_page,
)
from .synth_swap import SwapPlan, write_swap_state
from .synth_tasks import (
    HIBERNATING_PID,
    TASK_SPECS,
    pgd_alloc,
    user_mm_struct,
    user_task_indices,
    write_task_list,
)

__all__ = [
    "ADDR_MASK",
    "BANNER",
    "CORE_RESTORE_CODE",
    "CRED",
    "CRED_SIZE",
    "DIRECT_4K",
    "DIRECT_4K_RO",
    "DIRECT_LARGE",
    "FILES_SIZE",
    "HIBERNATING_PID",
    "KERNEL_IMAGE_SIZE",
    "KERNPG_TABLE",
    "KOFF",
    "LINK_TEXT_PA",
    "LINK_TEXT_VA",
    "MM",
    "MM_SIZE",
    "NX",
    "PAGE",
    "PAGE_OFFSET_2_6_16",
    "PAGE_OFFSET_2_6_27",
    "PAGE_OFFSET_L4",
    "PAGE_OFFSET_L5",
    "PCD",
    "PF_KTHREAD",
    # this module
    "PROFILES",
    "PS",
    "PWT",
    "RELEASE",
    "RESTORE_REGISTERS_CODE",
    "RW",
    "SHIFTS",
    "START_KERNEL_MAP",
    "SWAPPER_PG_DIR",
    "SZ_1G",
    "SZ_2M",
    "SZ_4K",
    "TASK",
    "TASK_SIZE",
    "TASK_SPECS",
    "TEXT_LARGE",
    "US",
    "USER_TABLE",
    "VMALLOC_L4",
    "VMALLOC_L5",
    "VMEMMAP_L4",
    "VMEMMAP_L5",
    # synth_layout
    "A",
    "D",
    "FrameAllocator",
    "G",
    "KernelLayout",
    "Machine",
    "P",
    # synth_memory, synth_pages, synth_tasks, synth_isf
    "PageTables",
    "PhysMem",
    "build_machine",
    "code_page",
    "isf_dict",
    "isf_filename",
    "marker_page",
    "pgd_alloc",
    "ram_layout",
    "random_page",
    "read_pages",
    "restore_page",
    "struct_page",
    "text_page",
    "user_mm_struct",
    "user_task_indices",
    "write_isf",
    "write_task_list",
]

_u64 = u64

PROFILES = {
    # name: (marker, text, struct, random, zero, runs)
    "tiny": (8, 6, 6, 2, 4, 2),
    "small": (40, 30, 30, 8, 16, 6),
    "moderate": (80, 60, 60, 10, 20, 8),
    "medium": (200, 150, 150, 40, 60, 20),
}

POOL = 0x8000000                  # page-table pool (128 MiB)


@dataclass
class Machine:
    pages: dict[int, bytes]
    ram_pfns: list[tuple[int, int]]
    num_physpages: int
    max_pfn: int
    levels: int
    cr3: int                     # PA of the hibernating process's top-level table (kernel half)
    cr3_record: int              # value stored in the restore record (cr3 | SME C-bit)
    pti: bool
    sme_bit: int | None
    page_offset: int
    vmalloc_base: int
    vmemmap_base: int
    phys_base: int               # mod 2**64
    phys_shift: int              # kernel_text_pa - LINK_TEXT_PA  (Volatility's "kaslr_shift")
    virt_shift: int              # kernel_text_va - LINK_TEXT_VA  (Volatility's "aslr_shift")
    kernel_text_va: int
    kernel_text_pa: int
    jump_address: int
    jump_address_phys: int
    init_top_pgt_pa: int
    banner: bytes
    banner_pa: int
    release: str
    symbols: dict[str, int]      # unrelocated link-time VAs (as in the ISF)
    pmd_tables_far_above: list[tuple[int, int]]
    e820: list[tuple[int, int, int]]          # (addr, size, type) firmware map
    direct_map_ranges: list[tuple[int, int]]  # PA ranges mapped at page_offset + pa
    leaf_counts: dict[str, int]               # direct map leaves by size
    page_table_pfns: list[int]
    zero_pfns: list[int]                      # saved pages that are all zero
    tasks: list[tuple[int, str, int]]         # (pid, comm, task_struct VA)
    cpus: int
    opts: dict[str, object] = field(default_factory=dict)

    def sym_va(self, name: str) -> int:
        """Relocated (running) VA of a kernel symbol."""
        return (self.symbols[name] + self.virt_shift) & 0xFFFFFFFFFFFFFFFF

    def sym_pa(self, name: str) -> int:
        return self.symbols[name] - LINK_TEXT_VA + self.kernel_text_pa

    def read(self, pa: int, n: int) -> bytes:
        return read_pages(self.pages, pa, n)

    @property
    def saved_pfns(self) -> list[int]:
        return sorted(self.pages)


# ---------------------------------------------------------------------------------------------
# RAM and KASLR
def ram_layout(ram_mib: int):
    """RAM ranges (pfn, exclusive) and a PC-like e820 table."""
    ram = ram_mib << 20
    low_end = min(ram, 3 << 30)
    e820 = [(0x0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0xF0000, 0x10000, 2),
            (0x100000, low_end - 0x100000, 1)]
    ram_pfns = [(0, 0x9F), (0x100, low_end >> 12)]
    if ram > low_end:
        high = ram - low_end
        e820.append((0xFEFFC000, 0x4000, 2))
        e820.append((0xFFFC0000, 0x40000, 2))
        e820.append((1 << 32, high, 1))
        ram_pfns.append((1 << 20, ((1 << 32) + high) >> 12))
    else:
        e820.append((0xFEFFC000, 0x4000, 2))
        e820.append((0xFFFC0000, 0x40000, 2))
    return ram_pfns, e820


_ram_layout = ram_layout          # the name tests and resume_scenarios use


def kaslr_layout(rng: random.Random, levels: int, kaslr: bool, ram_mib: int,
                 page_offset: int | None, page_offset_base: int | None) -> KernelLayout:
    """Text shifts (arch/x86/boot/compressed/kaslr.c) and the memory regions' bases
    (CONFIG_RANDOMIZE_MEMORY, arch/x86/mm/kaslr.c), or the fixed ones without KASLR."""
    if kaslr:
        phys_shift = rng.randrange(0, 40) * SZ_2M                 # text PA in [16, 96) MiB
        virt_shift = rng.randrange(0, 400) * SZ_2M                # text VA within the 1 GiB slot
    else:
        phys_shift = virt_shift = 0
    if page_offset is None:
        # CONFIG_RANDOMIZE_MEMORY: base + random multiple of 1 GiB (arch/x86/mm/kaslr.c)
        if page_offset_base is None:
            page_offset_base = PAGE_OFFSET_L4 if levels == 4 else PAGE_OFFSET_L5
        if levels == 4:
            page_offset = page_offset_base + (rng.randrange(0, 0x1800) << 30 if kaslr else 0)
        else:
            page_offset = page_offset_base + (rng.randrange(0, 1 << 16) << 30 if kaslr else 0)
    if levels == 4:
        # kaslr.c: the direct-map region spans RAM rounded up to 1 TiB + 10 TiB of padding;
        # vmalloc (32 TiB) and vmemmap follow, each at a random 1 GiB offset
        dm_tb = -(-ram_mib // (1 << 20)) + 10
        vmalloc_base = (VMALLOC_L4 if not kaslr else
                        page_offset + (dm_tb << 40) + (rng.randrange(1, 64) << 30))
        vmemmap_base = (VMEMMAP_L4 if not kaslr else
                        vmalloc_base + (32 << 40) + (rng.randrange(1, 64) << 30))
    else:
        vmalloc_base = (VMALLOC_L5 if not kaslr else
                        page_offset + (1 << 50) + (rng.randrange(1, 64) << 30))
        vmemmap_base = (VMEMMAP_L5 if not kaslr else
                        vmalloc_base + (1 << 50) + (rng.randrange(1, 64) << 30))
    assert vmemmap_base < (0xFFFFFE0000000000 if levels == 4 else 0xFFFE000000000000)
    return KernelLayout(levels, phys_shift, virt_shift, page_offset, vmalloc_base, vmemmap_base)


# ---------------------------------------------------------------------------------------------
# physical frames
class FrameAllocator:
    """Frames of a machine being built: page tables from the pool at 128 MiB, PTE tables of a
    few regions from the far pool (32 MiB below the end of low RAM, far above their PMD page),
    data frames anywhere else in RAM (:meth:`free_pfn`, from the machine's rng)."""

    def __init__(self, mem: PhysMem, rng: random.Random, ram_pfns, low_end: int,
                 text_pa: int) -> None:
        self.mem, self.rng, self.ram_pfns = mem, rng, ram_pfns
        self.far_base = low_end - 0x2000000
        self._pool = iter(range(POOL + 0x10000, POOL + 0x400000, PAGE))
        self._far = iter(range(self.far_base, self.far_base + 0x100000, PAGE))
        kernel_range = (text_pa >> 12, (text_pa + KERNEL_IMAGE_SIZE) >> 12)
        self.used_ranges = [kernel_range, (POOL >> 12, (POOL + 0x400000) >> 12),
                            (self.far_base >> 12, (self.far_base + 0x100000) >> 12),
                            (0, 1), (0x9F, 0x100)]
        self.far_pairs: list[tuple[int, int]] = []   # (PMD entry PA, PTE table PA) far above

    def pool_table(self, shift: int = 0, va: int = 0) -> int:
        return next(self._pool)

    def far_table(self, shift: int, va: int) -> int:
        return next(self._far) if shift == 12 else next(self._pool)

    def note_far(self, shift: int, epa: int, tpa: int) -> None:
        if shift == 12 and tpa >= self.far_base:
            self.far_pairs.append((epa, tpa))

    def reserved(self, pfn: int) -> bool:
        return any(a <= pfn < b for a, b in self.used_ranges)

    def free_pfn(self) -> int:
        """A random RAM frame above 1 MiB that holds nothing yet and is not reserved."""
        while True:
            r = self.rng.choice(self.ram_pfns[1:])
            pfn = self.rng.randrange(r[0], r[1])
            if pfn not in self.mem.pages and not self.reserved(pfn):
                return pfn


# ---------------------------------------------------------------------------------------------
# page tables
def map_kernel_text(mem: PhysMem, pt: PageTables, lay: KernelLayout) -> int:
    """init_top_pgt with the kernel text mapping (2 MiB leaves through level3/level2_kernel_pgt,
    level4_kernel_pgt too with 5 levels).  Returns init_top_pgt's PA."""
    pgd = lay.kpa("init_top_pgt")
    mem.page(pgd >> 12)
    ktables = [lay.kpa("level4_kernel_pgt")] if lay.levels == 5 else []
    ktables += [lay.kpa("level3_kernel_pgt"), lay.kpa("level2_kernel_pgt")]
    kt_iter = iter(ktables)
    for off in range(0, KERNEL_IMAGE_SIZE, SZ_2M):
        pt.map(pgd, lay.text_va + off, lay.text_pa + off, SZ_2M, TEXT_LARGE,
               alloc=lambda s, v: next(kt_iter))
    # level2_kernel_pgt entries beyond _end are cleared (cleanup_highmap); nothing to do.
    return pgd


def direct_map_ranges(ram_pfns, low_end: int) -> list[tuple[int, int]]:
    """PA ranges of the direct map: [0, end of low RAM) (the ISA range included), then RAM."""
    return [(0, low_end)] + [(s << 12, e << 12) for s, e in ram_pfns[2:]]


def map_direct(pt: PageTables, pgd: int, lay: KernelLayout, frames: FrameAllocator,
               dm_ranges, low_end: int, ram_mib: int, gib_pages: bool) -> dict[str, int]:
    """The direct map at page_offset: 1 GiB leaves (``gib_pages``), 2 MiB leaves, and 4 KiB
    leaves where a 2 MiB region is split "for attributes" (the kernel image alias read-only,
    a few others; some PTE tables from the far pool).  Returns the leaves by size."""
    text_pa = lay.text_pa
    split_ro = {text_pa + SZ_2M * i for i in (0, 1, 7)}
    split_other = {POOL + SZ_2M * 4, 0x6000000}
    if low_end > 0x20000000:
        split_other.add(0x20000000)
    if ram_mib > 2048:
        split_other.add(0x80600000)       # forces a PMD table inside an otherwise 1 GiB region
    # PTE tables of these regions come from the far pool (far above their PMD page)
    far_split = {text_pa + SZ_2M * 7, POOL + SZ_2M * 4, 0x20000000, 0x80600000}
    split = split_ro | split_other | {0}
    saved_counts = dict(pt.leaf_counts)
    for s, e in dm_ranges:
        pa = s
        while pa < e:
            gib = pa & ~(SZ_1G - 1)
            if (gib_pages and pa % SZ_1G == 0 and pa + SZ_1G <= e
                    and not any(gib <= x < gib + SZ_1G for x in split)):
                pt.map(pgd, lay.dva(pa), pa, SZ_1G, DIRECT_LARGE, frames.pool_table)
                pa += SZ_1G
            elif pa % SZ_2M == 0 and pa + SZ_2M <= e and pa not in split:
                pt.map(pgd, lay.dva(pa), pa, SZ_2M, DIRECT_LARGE, frames.pool_table)
                pa += SZ_2M
            else:
                region = pa & ~(SZ_2M - 1)
                flags = DIRECT_4K_RO if region in split_ro else DIRECT_4K
                if region == 0 and (0x9F000 <= pa < 0x100000):
                    flags |= PCD | PWT            # legacy ISA hole: uncached alias
                use_far = region in far_split
                pt.map(pgd, lay.dva(pa), pa, SZ_4K, flags,
                       frames.far_table if use_far else frames.pool_table,
                       on_new=frames.note_far)
                pa += SZ_4K
    return {k: pt.leaf_counts[k] - saved_counts[k] for k in pt.leaf_counts}


def map_vmalloc_vmemmap(mem: PhysMem, pt: PageTables, pgd: int, lay: KernelLayout,
                        frames: FrameAllocator) -> None:
    """A few vmalloc pages (4 KiB leaves, scattered frames, module text) and vmemmap's struct
    page arrays (2 MiB leaves high in low RAM)."""
    vmalloc_pfns = [frames.free_pfn() for _ in range(6)]
    for i, pfn in enumerate(vmalloc_pfns):
        pt.map(pgd, lay.vmalloc_base + 0x1000 * (i + 1), pfn << 12, SZ_4K, DIRECT_4K,
               frames.pool_table)
        mem.write(pfn << 12, f"vmalloc area page {i} of a module".encode().ljust(64, b"."))
    for i in range(3):                    # struct page arrays: frames high in low RAM
        pt.map(pgd, lay.vmemmap_base + SZ_2M * i, frames.far_base - SZ_2M * (4 + i), SZ_2M,
               DIRECT_LARGE, frames.pool_table)


# ---------------------------------------------------------------------------------------------
# the hibernating process
USER_PAGES = ((0x400000, "elf"), (0x401000, "code"), (0x7FFC12345000, "stack"),
              (0x55D0C0DE0000, "heap"))


def user_page(rng: random.Random, kind: str, upfn: int) -> tuple[int, bytes, int]:
    """(PTE flags, contents, offset in the page) of one page of the hibernating process."""
    flags = (P | US | A) if kind in ("elf", "code") else (P | RW | US | A | D | NX)
    if kind == "elf":
        return flags, (b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 3, 0x3E, 1)
                       + b"swsusp-hibernate-helper".ljust(64, b"\0")), 0
    if kind == "code":
        return flags, code_page(rng, upfn), 0
    if kind == "stack":
        return flags, (b"SWSUSP_TEST_ENV=stack-of-the-hibernating-task\0"
                       b"PATH=/usr/sbin:/usr/bin\0/usr/sbin/swsusp-hibernate-helper\0"), 0xE00
    return flags, text_page(rng, upfn), 0


def hibernating_process(mem: PhysMem, pt: PageTables, rng: random.Random,
                        frames: FrameAllocator, pgd: int) -> int:
    """The PGD of the task that hibernates (cr3; order-1 and 8 KiB aligned for PTI) at the
    pool's start, with its ELF header, code, stack and heap pages.  Returns its PA."""
    proc_pgd = POOL
    mem.page(proc_pgd >> 12)
    pgd_alloc(mem, proc_pgd, pgd)
    for uva, kind in USER_PAGES:
        upfn = frames.free_pfn()
        flags, data, off = user_page(rng, kind, upfn)
        pt.map(proc_pgd, uva, upfn << 12, SZ_4K, flags, frames.pool_table,
               table_flags=USER_TABLE)
        mem.write((upfn << 12) + off, data)
    return proc_pgd


def pti_user_pgd(mem: PhysMem, proc_pgd: int, pgd: int) -> None:
    """PTI: the user PGD at proc_pgd + 4096 takes the user half and the entry text clone; the
    kernel PGD's user entries get NX."""
    for i in range(256):
        e = mem.read_u64(proc_pgd + 8 * i)
        if e:
            mem.write_u64(proc_pgd + PAGE + 8 * i, e)
            mem.write_u64(proc_pgd + 8 * i, e | NX)
    mem.write_u64(proc_pgd + PAGE + 511 * 8, mem.read_u64(pgd + 511 * 8))  # entry text clone


# ---------------------------------------------------------------------------------------------
# kernel image contents
def write_kernel_text(mem: PhysMem, rng: random.Random, lay: KernelLayout) -> None:
    """The head of .text and the pages around restore_registers (code), and its own page."""
    kpa = lay.kpa
    for i in range(24):                                   # head of .text
        mem.write(lay.text_pa + i * PAGE, code_page(rng, (lay.text_pa >> 12) + i))
    for i in (-2, -1, 1, 2):
        mem.write(kpa("restore_registers") + i * PAGE,
                  code_page(rng, (kpa("restore_registers") >> 12) + i))
    mem.write(kpa("restore_registers") & ~0xFFF, restore_page())


def write_kernel_rodata(mem: PhysMem, rng: random.Random, lay: KernelLayout,
                        banner: bytes) -> None:
    """linux_banner (and the release string before it) among pages of strings."""
    kpa = lay.kpa
    for i in range(-1, 3):
        mem.write((kpa("linux_banner") & ~0xFFF) + i * PAGE, text_page(rng, i))
    mem.write(kpa("linux_banner"), banner)
    mem.write(kpa("linux_banner") - 0x40, b"6.1.0-swsusp-synthetic\0".ljust(0x40, b"\0"))
    mem.write(kpa("__start_rodata"), b"rodata start\0" + struct_page(rng, 1)[:2000])


def write_kernel_variables(mem: PhysMem, lay: KernelLayout, max_pfn: int) -> None:
    """The layout variables a memory analyst reads: page_offset_base, vmalloc_base,
    vmemmap_base, __pgtable_l5_enabled, pgdir_shift, ptrs_per_p4d, phys_base, max_pfn."""
    kpa, levels = lay.kpa, lay.levels
    mem.write_u64(kpa("page_offset_base"), lay.page_offset)
    mem.write_u64(kpa("vmalloc_base"), lay.vmalloc_base)
    mem.write_u64(kpa("vmemmap_base"), lay.vmemmap_base)
    mem.write(kpa("__pgtable_l5_enabled"), struct.pack("<I", 1 if levels == 5 else 0))
    mem.write(kpa("pgdir_shift"), struct.pack("<I", 48 if levels == 5 else 39))
    mem.write(kpa("ptrs_per_p4d"), struct.pack("<I", 512 if levels == 5 else 1))
    mem.write_u64(kpa("phys_base"), lay.phys_base)
    mem.write_u64(kpa("max_pfn"), max_pfn)
    mem.write(kpa("_sdata"), b"data section start\0")


# ---------------------------------------------------------------------------------------------
# tasks
def user_pgd_alloc(mem: PhysMem, pt: PageTables, frames: FrameAllocator, pgd: int) -> int:
    """An 8 KiB-aligned PGD from the pool holding a copy of the kernel half."""
    other = frames.pool_table()
    other = frames.pool_table() if other % (2 * PAGE) else other
    pgd_alloc(mem, other, pgd)
    pt.tables.append(other)
    return other


def write_tasks(mem: PhysMem, pt: PageTables, lay: KernelLayout, frames: FrameAllocator,
                pgd: int, proc_pgd: int) -> list[tuple[int, str, int]]:
    """TASK_SPECS' task_structs (init_task in kernel data, the others one per slab page of the
    direct map), the user processes' mm_structs (one slab page) and their PGDs: the hibernating
    task owns ``proc_pgd`` (cr3), the others get a copy of the kernel half."""
    task_pfns = [frames.free_pfn() for _ in range(3)]
    mm_pfn = frames.free_pfn()
    slab = task_pfns + [frames.free_pfn() for _ in range(len(TASK_SPECS) - 1 - len(task_pfns))]
    task_pa = [lay.kpa("init_task")] + [(pfn << 12) + 0x200 for pfn in slab]
    mm_of = {}
    for j, i in enumerate(user_task_indices()):
        mm_pa = (mm_pfn << 12) + j * MM_SIZE
        mm_of[i] = lay.dva(mm_pa)
        if TASK_SPECS[i][0] == HIBERNATING_PID:
            mm_pgd = proc_pgd
        else:
            mm_pgd = user_pgd_alloc(mem, pt, frames, pgd)
        mem.write(mm_pa, user_mm_struct(lay.dva(mm_pgd)))
    return write_task_list(mem, lay.kpa, lay.kva, lay.dva, task_pa, mm_of)


# ---------------------------------------------------------------------------------------------
# ordinary data pages
def write_data_pages(mem: PhysMem, rng: random.Random, frames: FrameAllocator, ram_pfns,
                     max_pfn: int, saved: str, incompressible: bool) -> None:
    """The PROFILES[saved] mix of marker, text, struct-like, random and zero pages in runs and
    single frames (``incompressible``: random pages in long runs), and the last RAM page."""
    n_marker, n_text, n_struct, n_random, n_zero, n_runs = PROFILES[saved]
    kinds = (["marker"] * n_marker + ["text"] * n_text + ["struct"] * n_struct
             + ["random"] * n_random)
    if incompressible:
        kinds = ["random"] * (len(kinds) + 300)
        n_zero = 2
    rng.shuffle(kinds)
    gens = {"marker": marker_page, "text": text_page, "struct": struct_page, "random": random_page}
    data_pfns: list[int] = [1, 2, 3, 0x9E]                  # low pages (min saved PFN is 1)
    run_len = (96, 128) if incompressible else (3, 12)     # long runs: whole random blocks
    for _ in range(3 if incompressible else n_runs):        # contiguous runs
        start = frames.free_pfn()
        data_pfns += [p for p in range(start, start + rng.randint(*run_len))
                      if p < max_pfn and p not in mem.pages and not frames.reserved(p)
                      and any(a <= p < b for a, b in ram_pfns[1:])]
    while len(data_pfns) < len(kinds) + n_zero:
        data_pfns.append(frames.free_pfn())
    data_pfns = [p for p in dict.fromkeys(data_pfns) if p not in mem.pages]
    zero_set = set(rng.sample(data_pfns[4:], n_zero)) if n_zero else set()
    zero_set.add(max_pfn - 1)                               # the last RAM page, all zero
    k = 0
    for pfn in data_pfns:
        if pfn in zero_set:
            mem.page(pfn)
            continue
        kind = kinds[k % len(kinds)]
        k += 1
        mem.write(pfn << 12, gens[kind](rng, pfn))
    mem.page(max_pfn - 1)


def check_translations(mem: PhysMem, pt: PageTables, lay: KernelLayout, pgd: int, root: int,
                       frames: FrameAllocator, ram_pfns, low_end: int, max_pfn: int) -> None:
    """Sanity checks: the designed translations hold and every saved page is in RAM."""
    assert pt.translate(root, lay.kva("restore_registers")) == lay.kpa("restore_registers")
    assert pt.translate(pgd, lay.kva("linux_banner")) == lay.kpa("linux_banner")
    for pa in (0, 0x1000, 0x9F000, lay.text_pa, frames.far_base, low_end - PAGE,
               (max_pfn - 1) << 12):
        assert pt.translate(root, lay.dva(pa)) == pa, hex(pa)
    assert 0 not in mem.pages
    assert all(any(a <= p < b for a, b in ram_pfns) for p in mem.pages), "saved page outside RAM"


# ---------------------------------------------------------------------------------------------
def build_machine(*, levels: int = 4, kaslr: bool = True, pti: bool = False,
                  sme_bit: int | None = None, ram_mib: int = 512, gib_pages: bool = False,
                  page_offset: int | None = None, page_offset_base: int | None = None,
                  saved: str = "small",
                  incompressible: bool = False, seed: int = 1, cpus: int = 2,
                  release: str = RELEASE, banner: bytes = BANNER,
                  swap: SwapPlan | None = None) -> Machine:
    """Build a synthetic machine.  All choices come from ``random.Random(seed)``.  ``swap``
    (:func:`samples.synth_swap.plan_swap`): processes with swapped-out pages and the kernel's
    swap state, as planned for the swap area the image will be written to."""
    assert levels in (4, 5) and ram_mib >= 256
    opts: dict[str, object] = {"levels": levels, "kaslr": kaslr, "pti": pti, "sme_bit": sme_bit, "ram_mib": ram_mib,
            "gib_pages": gib_pages, "page_offset": page_offset,
            "page_offset_base": page_offset_base, "saved": saved,
            "incompressible": incompressible, "seed": seed, "cpus": cpus}
    rng = random.Random(f"swsusp-synthetic-machine-{seed}-{levels}-{kaslr}-{ram_mib}")
    mem = PhysMem()
    cbit = (1 << sme_bit) if sme_bit else 0
    pt = PageTables(mem, levels, cbit)
    ram_pfns, e820 = ram_layout(ram_mib)
    max_pfn = ram_pfns[-1][1]
    low_end = ram_pfns[1][1] << 12
    lay = kaslr_layout(rng, levels, kaslr, ram_mib, page_offset, page_offset_base)
    frames = FrameAllocator(mem, rng, ram_pfns, low_end, lay.text_pa)

    pgd = map_kernel_text(mem, pt, lay)
    dm_ranges = direct_map_ranges(ram_pfns, low_end)
    dm_counts = map_direct(pt, pgd, lay, frames, dm_ranges, low_end, ram_mib, gib_pages)
    map_vmalloc_vmemmap(mem, pt, pgd, lay, frames)
    proc_pgd = hibernating_process(mem, pt, rng, frames, pgd)
    if pti:
        pti_user_pgd(mem, proc_pgd, pgd)
    write_kernel_text(mem, rng, lay)
    write_kernel_rodata(mem, rng, lay, banner)
    write_kernel_variables(mem, lay, max_pfn)
    tasks = write_tasks(mem, pt, lay, frames, pgd, proc_pgd)
    write_data_pages(mem, rng, frames, ram_pfns, max_pfn, saved, incompressible)
    if swap is not None:
        opts["swap"] = swap.pte_layout
        write_swap_state(mem, pt, lay, frames, tasks, swap)
    check_translations(mem, pt, lay, pgd, proc_pgd, frames, ram_pfns, low_end, max_pfn)

    pages = {pfn: bytes(pg) for pfn, pg in sorted(mem.pages.items())}
    return Machine(
        pages=pages, ram_pfns=ram_pfns, num_physpages=sum(e - s for s, e in ram_pfns),
        max_pfn=max_pfn, levels=levels, cr3=proc_pgd, cr3_record=proc_pgd | cbit, pti=pti,
        sme_bit=sme_bit, page_offset=lay.page_offset, vmalloc_base=lay.vmalloc_base,
        vmemmap_base=lay.vmemmap_base, phys_base=lay.phys_base, phys_shift=lay.phys_shift,
        virt_shift=lay.virt_shift, kernel_text_va=lay.text_va, kernel_text_pa=lay.text_pa,
        jump_address=lay.kva("restore_registers"),
        jump_address_phys=lay.kpa("restore_registers"),
        init_top_pgt_pa=pgd, banner=banner, banner_pa=lay.kpa("linux_banner"), release=release,
        symbols={k: LINK_TEXT_VA + v for k, v in KOFF.items()},
        pmd_tables_far_above=frames.far_pairs, e820=e820,
        direct_map_ranges=dm_ranges, leaf_counts=dm_counts,
        page_table_pfns=sorted({t >> 12 for t in pt.tables} | {pgd >> 12, proc_pgd >> 12}
                               | ({(proc_pgd >> 12) + 1} if pti else set())),
        zero_pfns=[p for p, pg in pages.items() if not any(pg)],
        tasks=tasks, cpus=cpus, opts=opts)
