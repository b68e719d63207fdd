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

Pure Python, deterministic (``random.Random(seed)``); imports nothing from ``plugins/``.
The Volatility ISF describing this kernel is produced by :func:`isf_dict` / :func:`write_isf`.
"""
from __future__ import annotations

import base64
import json
import lzma
import random
import struct
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

PAGE = 4096
START_KERNEL_MAP = 0xFFFFFFFF80000000
LINK_TEXT_VA = 0xFFFFFFFF81000000          # _text at link time (CONFIG_PHYSICAL_START 16 MiB)
LINK_TEXT_PA = 0x1000000
ADDR_MASK = 0x000FFFFFFFFFF000

PAGE_OFFSET_L4 = 0xFFFF888000000000         # 4.20+ __PAGE_OFFSET_BASE_L4
PAGE_OFFSET_L5 = 0xFF11000000000000         # 4.20+ __PAGE_OFFSET_BASE_L5
PAGE_OFFSET_2_6_16 = 0xFFFF810000000000     # <= 2.6.26
PAGE_OFFSET_2_6_27 = 0xFFFF880000000000     # 2.6.27 .. 4.19
VMALLOC_L4, VMALLOC_L5 = 0xFFFFC90000000000, 0xFFA0000000000000
VMEMMAP_L4, VMEMMAP_L5 = 0xFFFFEA0000000000, 0xFFD4000000000000

RELEASE = "6.1.0-swsusp-synthetic"
BANNER = (b"Linux version 6.1.0-swsusp-synthetic (builder@swsusp-safepgt) (gcc (Debian 12.2.0-14) "
          b"12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC "
          b"Debian 6.1.0-synthetic (2025-01-01)\n\x00")

# x86 page-table entry bits (arch/x86/include/asm/pgtable_types.h)
P, RW, US, PWT, PCD, A, D, PS, G = 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x100
NX = 1 << 63
KERNPG_TABLE = P | RW | A | D                      # 0x63
USER_TABLE = P | RW | US | A | D                   # 0x67
DIRECT_4K = P | RW | A | D | G | NX                # 0x8000000000000163
DIRECT_4K_RO = P | A | D | G | NX                  # split "for attributes": read-only alias
DIRECT_LARGE = DIRECT_4K | PS                      # 0x80000000000001e3
TEXT_LARGE = P | RW | A | D | PS | G               # 0x1e3 (executable)

SHIFTS = {4: (39, 30, 21, 12), 5: (48, 39, 30, 21, 12)}
SZ_4K, SZ_2M, SZ_1G = 1 << 12, 1 << 21, 1 << 30

# ---- kernel image layout: offsets from _text (as in 6.1.0-56-amd64's System.map) ----------
KOFF = {
    "_text": 0x0,
    "_stext": 0x0,
    "restore_registers": 0x9D5000,
    "core_restore_code": 0x9D5120,
    "swsusp_arch_suspend": 0x9D4F00,
    "_etext": 0xE01D32,
    "__start_rodata": 0x1000000,
    "linux_banner": 0x1161900,
    "page_offset_base": 0x1415740,
    "vmalloc_base": 0x1415748,
    "__pgtable_l5_enabled": 0x1415750,
    "pgdir_shift": 0x1415754,
    "ptrs_per_p4d": 0x1415758,
    "vmemmap_base": 0x1415760,
    "_sdata": 0x1A00000,
    "init_top_pgt": 0x1A10000,
    "level4_kernel_pgt": 0x1A14000,
    "level3_kernel_pgt": 0x1A15000,
    "level2_kernel_pgt": 0x1A16000,
    "phys_base": 0x1A1A010,
    "init_task": 0x1A1AA40,
    "init_cred": 0x1A5BA00,
    "init_mm": 0x1B5C940,
    "init_files": 0x1B6F840,
    "max_pfn": 0x1B80010,
    "__bss_start": 0x1C00000,
    "_end": 0x1E00000,
}
KERNEL_IMAGE_SIZE = KOFF["_end"]          # 30 MiB = 15 x 2 MiB text-mapping leaves
SWAPPER_PG_DIR = "init_top_pgt"

# ---- struct layouts (ISF and memory agree; see isf_dict) -----------------------------------
TASK_SIZE = 0xA00
TASK = dict(__state=0x18, stack=0x20, flags=0x2C, tasks=0x4A0, mm=0x4F0, active_mm=0x4F8,
            exit_state=0x520, pid=0x5C0, tgid=0x5C4, real_parent=0x5D0, parent=0x5D8,
            children=0x5E0, sibling=0x5F0, group_leader=0x600, start_time=0x6E0,
            start_boottime=0x6E8, real_cred=0x740, cred=0x748, comm=0x758, files=0x770)
MM_SIZE = 0x400
MM = dict(pgd=0x50, map_count=0x60, start_code=0x100, end_code=0x108, start_data=0x110,
          end_data=0x118, start_brk=0x120, brk=0x128, start_stack=0x130)
FILES_SIZE = 0x80
CRED_SIZE = 0xB0
CRED = dict(usage=0x0, uid=0x4, gid=0x8, suid=0xC, sgid=0x10, euid=0x14, egid=0x18)
PF_KTHREAD = 0x00200000


def _u64(v: int) -> bytes:
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


class PhysMem:
    """Sparse physical memory: only pages that were written (or explicitly added) exist."""

    def __init__(self) -> None:
        self.pages: Dict[int, bytearray] = {}

    def page(self, pfn: int) -> bytearray:
        assert pfn > 0, "PFN 0 is never saveable"
        pg = self.pages.get(pfn)
        if pg is None:
            pg = self.pages[pfn] = bytearray(PAGE)
        return pg

    def write(self, pa: int, data: bytes) -> None:
        off = 0
        while off < len(data):
            pfn, po = divmod(pa + off, PAGE)
            n = min(PAGE - po, len(data) - off)
            self.page(pfn)[po:po + n] = data[off:off + n]
            off += n

    def write_u64(self, pa: int, v: int) -> None:
        if pa & 7 == 0:
            struct.pack_into("<Q", self.page(pa >> 12), pa & 0xFFF, v & 0xFFFFFFFFFFFFFFFF)
        else:
            self.write(pa, _u64(v))

    def read(self, pa: int, n: int) -> bytes:
        out = bytearray()
        while n:
            pfn, po = divmod(pa, PAGE)
            k = min(PAGE - po, n)
            pg = self.pages.get(pfn)
            out += pg[po:po + k] if pg is not None else bytes(k)
            pa += k
            n -= k
        return bytes(out)

    def read_u64(self, pa: int) -> int:
        if pa & 7 == 0:
            pg = self.pages.get(pa >> 12)
            return struct.unpack_from("<Q", pg, pa & 0xFFF)[0] if pg is not None else 0
        return struct.unpack("<Q", self.read(pa, 8))[0]


class PageTables:
    """Builds x86-64 tables in a PhysMem; one loop over levels for 4 and 5 levels."""

    def __init__(self, mem: PhysMem, levels: int, cbit: int = 0) -> None:
        self.mem, self.levels, self.cbit = mem, levels, cbit
        self.shifts = SHIFTS[levels]
        self.leaf_counts = {"1G": 0, "2M": 0, "4K": 0}
        self.tables: List[int] = []

    def map(self, root: int, va: int, pa: int, size: int, leaf_flags: int,
            alloc: Callable[[int, int], int], table_flags: int = KERNPG_TABLE,
            on_new: Optional[Callable[[int, int, int], None]] = None) -> None:
        """Map one leaf. ``alloc(child_shift, va)`` returns the PA of a new table page;
        ``on_new(child_shift, entry_pa, table_pa)`` is told about each new table."""
        leaf_shift = {SZ_4K: 12, SZ_2M: 21, SZ_1G: 30}[size]
        assert va % size == 0 and pa % size == 0
        table = root
        for i, sh in enumerate(self.shifts):
            epa = table + 8 * ((va >> sh) & 511)
            if sh == leaf_shift:
                assert self.mem.read_u64(epa) == 0, hex(va)
                flags = leaf_flags | (PS if sh > 12 else 0)
                self.mem.write_u64(epa, pa | flags | self.cbit)
                self.leaf_counts[{12: "4K", 21: "2M", 30: "1G"}[sh]] += 1
                return
            e = self.mem.read_u64(epa)
            if e & P:
                assert not e & PS
                table = e & ADDR_MASK & ~self.cbit
            else:
                child = self.shifts[i + 1]
                new = alloc(child, va)
                assert new % PAGE == 0
                self.mem.page(new >> 12)
                self.tables.append(new)
                self.mem.write_u64(epa, new | table_flags | self.cbit)
                if on_new:
                    on_new(child, epa, new)
                table = new

    def translate(self, root: int, va: int) -> Optional[int]:
        """Reference walk (used only as a self-check inside the generator)."""
        table = root & ADDR_MASK & ~self.cbit
        for sh in self.shifts:
            e = self.mem.read_u64(table + 8 * ((va >> sh) & 511))
            if not e & P:
                return None
            if sh == 12 or e & PS:
                frame = e & ADDR_MASK & ~self.cbit & ~((1 << sh) - 1)
                return frame | (va & ((1 << sh) - 1))
            table = e & ADDR_MASK & ~self.cbit
        return None


def read_pages(pages, pa: int, n: int) -> bytes:
    """n bytes at physical pa from a PFN -> 4096-byte page mapping (pages may straddle)."""
    out = bytearray()
    while n:
        pfn, po = divmod(pa, PAGE)
        k = min(PAGE - po, n)
        out += pages[pfn][po:po + k]
        pa += k
        n -= k
    return bytes(out)


@dataclass
class Machine:
    pages: Dict[int, bytes]
    ram_pfns: List[Tuple[int, int]]
    num_physpages: int
    max_pfn: int
    levels: int
    cr3: int                     # PA of the hibernating process's top-level table (kernel half)
    cr3_record: int              # value stored in the restore record (cr3 | SME C-bit)
    pti: bool
    sme_bit: Optional[int]
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
    symbols: Dict[str, int]      # unrelocated link-time VAs (as in the ISF)
    pmd_tables_far_above: List[Tuple[int, int]]
    e820: List[Tuple[int, int, int]]          # (addr, size, type) firmware map
    direct_map_ranges: List[Tuple[int, int]]  # PA ranges mapped at page_offset + pa
    leaf_counts: Dict[str, int]               # direct map leaves by size
    page_table_pfns: List[int]
    zero_pfns: List[int]                      # saved pages that are all zero
    tasks: List[Tuple[int, str, int]]         # (pid, comm, task_struct VA)
    cpus: int
    opts: Dict[str, object] = field(default_factory=dict)

    def sym_va(self, name: str) -> int:
        """Relocated (running) VA of a kernel symbol."""
        return (self.symbols[name] + self.virt_shift) & 0xFFFFFFFFFFFFFFFF

    def sym_pa(self, name: str) -> int:
        return self.symbols[name] - LINK_TEXT_VA + self.kernel_text_pa

    def read(self, pa: int, n: int) -> bytes:
        return read_pages(self.pages, pa, n)

    @property
    def saved_pfns(self) -> List[int]:
        return sorted(self.pages)


# ---------------------------------------------------------------------------------------------
# content generators
_WORDS = ("the kernel page table swap image resume hibernate memory direct map entry frame "
          "virtual physical address process task file buffer cache inode dentry socket "
          "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
          "systemd journal unit started stopped network interface eth0 link up down").split()


def text_page(rng: random.Random, pfn: int) -> bytes:
    words = rng.choices(_WORDS, k=900)
    out = [f"[{pfn:#x}] "]
    i = 0
    while i < len(words):
        k = rng.randint(4, 14)
        out.append(" ".join(words[i:i + k]) + ".\n")
        i += k
    return "".join(out).encode()[:PAGE].ljust(PAGE, b" ")


def marker_page(rng: random.Random, pfn: int) -> bytes:
    tag = f"SYNTH-MARKER-{pfn:#x}\0".encode()
    body = bytearray()
    i = 0
    while len(body) < PAGE:
        body += tag + struct.pack("<QI", pfn, i) + bytes(rng.randrange(0, 24))
        i += 1
    return bytes(body[:PAGE])


def struct_page(rng: random.Random, pfn: int) -> bytes:
    """Looks like a slab of kernel objects: pointers, small ints, zeros."""
    vals = [pfn]
    for r in rng.choices((0, 1, 2, 3), weights=(35, 25, 10, 30), k=511):
        if r == 0:
            vals.append(PAGE_OFFSET_L4 + (rng.getrandbits(28) << 3))
        elif r == 1:
            vals.append(rng.getrandbits(12))
        elif r == 2:
            vals.append(0xFFFFFFFF81000000 + (rng.getrandbits(22) << 4))
        else:
            vals.append(0)
    return struct.pack("<512Q", *vals)


_OPS = [b"\x55", b"\x48\x89\xe5", b"\x41\x54", b"\x53", b"\x48\x83\xec\x10", b"\xe8\x10\x32\x00\x00",
        b"\x48\x8b\x05", b"\x0f\x1f\x44\x00\x00", b"\xc3", b"\xcc", b"\x31\xc0", b"\x5d",
        b"\x48\x85\xc0", b"\x74\x0c", b"\x75\x21", b"\x0f\x84", b"\x66\x90", b"\x8b\x47\x08",
        b"\x48\x8b\x7f\x10", b"\x89\xc6"]


def code_page(rng: random.Random, pfn: int) -> bytes:
    ops = rng.choices(_OPS, k=1500)
    out = bytearray()
    for i in range(0, 1500, 25):
        out += b"".join(ops[i:i + 25]) + rng.randbytes(4)
    return bytes(out[:PAGE]).ljust(PAGE, b"\xcc")


def random_page(rng: random.Random, pfn: int) -> bytes:
    return rng.randbytes(PAGE)


# restore_registers: movq %r9,%cr3; movq %cr4,%rcx; ... (recognisable x86 code), and
# core_restore_code at +0x120 (arch/x86/power/hibernate_asm_64.S)
RESTORE_REGISTERS_CODE = (b"\x41\x0f\x22\xd9" b"\x0f\x20\xe1" b"\x48\x89\xc8"
                          b"\x48\x81\xe1\x7f\xff\xff\xff" b"\x0f\x22\xe1" b"\x0f\x22\xe0"
                          b"\x48\x8b\x25\x00\x00\x00\x00" b"\xc3")
CORE_RESTORE_CODE = b"\x48\x89\xc4\x0f\x22\xd8\x48\x89\xd8\x48\x83\xe0\x7f\x0f\x22\xe0\x4c\x89\xc7\xff\xe7"


def restore_page(fill: bytes = b"\xcc" * PAGE) -> bytes:
    """The page holding ``restore_registers`` (page-aligned in the synthetic kernel)."""
    rr = bytearray(fill)
    rr[0:len(RESTORE_REGISTERS_CODE)] = RESTORE_REGISTERS_CODE
    rr[0x120:0x120 + len(CORE_RESTORE_CODE)] = CORE_RESTORE_CODE
    rr[0xF00:0xF20] = b"swsusp-synthetic restore page\0\0\0"
    return bytes(rr)


# ---------------------------------------------------------------------------------------------
PROFILES = {
    # name: (marker, text, struct, random, zero, runs)
    "tiny": (8, 6, 6, 2, 4, 2),
    "small": (40, 30, 30, 8, 16, 6),
    "moderate": (80, 60, 60, 10, 20, 8),
    "medium": (200, 150, 150, 40, 60, 20),
}


# ---------------------------------------------------------------------------------------------
# the task list (init_task and friends), shared with the large images of swsusp_gen
TASK_SPECS: List[Tuple[int, str, bool]] = [  # (pid, comm, kernel thread), init_task first
    (0, "swapper/0", True), (1, "systemd", False), (2, "kthreadd", True),
    (3, "rcu_gp", True), (17, "kworker/0:1", True), (245, "systemd-journal", False),
    (512, "sshd", False), (1337, "swsusp-hibernat", False)]


def user_mm_struct(pgd_va: int) -> bytes:
    """A user process's mm_struct (MM_SIZE bytes) whose pgd is ``pgd_va``."""
    m = bytearray(MM_SIZE)
    m[MM["pgd"]:MM["pgd"] + 8] = _u64(pgd_va)
    m[MM["map_count"]:MM["map_count"] + 4] = struct.pack("<i", 5)
    m[MM["start_code"]:MM["start_code"] + 16] = struct.pack("<QQ", 0x400000, 0x402000)
    m[MM["start_stack"]:MM["start_stack"] + 8] = _u64(0x7FFC12345FF0)
    return bytes(m)


def write_task_list(mem: PhysMem, kpa: Callable[[str], int], kva: Callable[[str], int],
                    dva: Callable[[int], int], task_pa: List[int],
                    mm_of: Dict[int, int]) -> List[Tuple[int, str, int]]:
    """Write init_mm, init_files, init_cred and the TASK_SPECS task_structs (a circular
    ``tasks`` list from init_task) into ``mem``.  ``task_pa[0]`` is kpa("init_task"), the others
    are direct-map (slab) addresses; ``mm_of`` maps a TASK_SPECS index to its mm_struct VA
    (kernel threads have none).  Returns [(pid, comm, task_struct VA)]."""
    specs = TASK_SPECS
    assert len(task_pa) == len(specs) and task_pa[0] == kpa("init_task")
    task_va = [kva("init_task")] + [dva(pa) for pa in task_pa[1:]]
    init_mm = bytearray(MM_SIZE)
    init_mm[MM["pgd"]:MM["pgd"] + 8] = _u64(kva("init_top_pgt"))
    init_mm[MM["map_count"]:MM["map_count"] + 4] = struct.pack("<i", 1)
    mem.write(kpa("init_mm"), bytes(init_mm))
    files = bytearray(FILES_SIZE)
    files[0:4] = struct.pack("<i", 3)
    files[0x20:0x28] = b"filesst\0"
    mem.write(kpa("init_files"), bytes(files))
    cred = bytearray(CRED_SIZE)
    cred[0:4] = struct.pack("<i", 8)
    mem.write(kpa("init_cred"), bytes(cred))
    n = len(specs)
    tasks_out = []
    for i, (pid, comm, kthread) in enumerate(specs):
        t = bytearray(TASK_SIZE)

        def put(name: str, data: bytes) -> None:
            t[TASK[name]:TASK[name] + len(data)] = data

        put("__state", struct.pack("<I", 0 if pid in (0, 1337) else 1))
        put("stack", _u64(dva(0x4000 * (i + 1) + 0x10000000)))
        put("flags", struct.pack("<I", PF_KTHREAD if kthread else 0x400100))
        nxt, prv = task_va[(i + 1) % n], task_va[(i - 1) % n]
        put("tasks", _u64(nxt + TASK["tasks"]) + _u64(prv + TASK["tasks"]))
        mm = mm_of.get(i, 0)
        put("mm", _u64(mm))
        put("active_mm", _u64(mm or kva("init_mm")))
        put("pid", struct.pack("<ii", pid, pid))
        parent = task_va[0] if pid in (0, 1, 2) else (task_va[2] if kthread else task_va[1])
        put("real_parent", _u64(parent) + _u64(parent))
        put("children", _u64(task_va[i] + TASK["children"]) * 2)
        put("sibling", _u64(task_va[i] + TASK["sibling"]) * 2)
        put("group_leader", _u64(task_va[i]))
        put("start_time", _u64(pid * 1000003) + _u64(pid * 1000003))
        put("real_cred", _u64(kva("init_cred")) * 2)
        put("comm", comm.encode()[:15].ljust(16, b"\0"))
        put("files", _u64(kva("init_files")))
        mem.write(task_pa[i], bytes(t))
        tasks_out.append((pid, comm, task_va[i]))
    return tasks_out


def _ram_layout(ram_mib: int):
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


def build_machine(*, levels: int = 4, kaslr: bool = True, pti: bool = False,
                  sme_bit: Optional[int] = None, ram_mib: int = 512, gib_pages: bool = False,
                  page_offset: Optional[int] = None, page_offset_base: Optional[int] = None,
                  saved: str = "small",
                  incompressible: bool = False, seed: int = 1, cpus: int = 2,
                  release: str = RELEASE, banner: bytes = BANNER) -> Machine:
    """Build a synthetic machine.  All choices come from ``random.Random(seed)``."""
    assert levels in (4, 5) and ram_mib >= 256
    opts = dict(levels=levels, kaslr=kaslr, pti=pti, sme_bit=sme_bit, ram_mib=ram_mib,
                gib_pages=gib_pages, page_offset=page_offset,
                page_offset_base=page_offset_base, saved=saved,
                incompressible=incompressible, seed=seed, cpus=cpus)
    rng = random.Random(f"swsusp-synthetic-machine-{seed}-{levels}-{kaslr}-{ram_mib}")
    mem = PhysMem()
    cbit = (1 << sme_bit) if sme_bit else 0
    pt = PageTables(mem, levels, cbit)
    ram_pfns, e820 = _ram_layout(ram_mib)
    max_pfn = ram_pfns[-1][1]
    num_physpages = sum(e - s for s, e in ram_pfns)
    low_end = ram_pfns[1][1] << 12

    # ---- KASLR ------------------------------------------------------------------------------
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
        vmalloc_base = VMALLOC_L5 if not kaslr else page_offset + (1 << 50) + (rng.randrange(1, 64) << 30)
        vmemmap_base = VMEMMAP_L5 if not kaslr else vmalloc_base + (1 << 50) + (rng.randrange(1, 64) << 30)
    assert vmemmap_base < (0xFFFFFE0000000000 if levels == 4 else 0xFFFE000000000000)
    text_pa = LINK_TEXT_PA + phys_shift
    text_va = LINK_TEXT_VA + virt_shift
    phys_base = (phys_shift - virt_shift) & 0xFFFFFFFFFFFFFFFF
    symbols = {k: LINK_TEXT_VA + v for k, v in KOFF.items()}

    def kpa(name: str) -> int:
        return text_pa + KOFF[name]

    def kva(name: str) -> int:
        return text_va + KOFF[name]

    def dva(pa: int) -> int:
        return page_offset + pa

    # ---- physical regions ----------------------------------------------------------------
    POOL = 0x8000000                      # page-table pool (128 MiB)
    FAR = low_end - 0x2000000             # far pool: 32 MiB below the end of low RAM
    pool = iter(range(POOL + 0x10000, POOL + 0x400000, PAGE))
    far = iter(range(FAR, FAR + 0x100000, PAGE))
    kernel_range = (text_pa >> 12, (text_pa + KERNEL_IMAGE_SIZE) >> 12)
    used_ranges = [kernel_range, (POOL >> 12, (POOL + 0x400000) >> 12),
                   (FAR >> 12, (FAR + 0x100000) >> 12), (0, 1), (0x9F, 0x100)]

    def alloc_pool(shift: int, va: int) -> int:
        return next(pool)

    def alloc_far(shift: int, va: int) -> int:
        return next(far) if shift == 12 else next(pool)

    far_pairs: List[Tuple[int, int]] = []

    def note_far(shift: int, epa: int, tpa: int) -> None:
        if shift == 12 and tpa >= FAR:
            far_pairs.append((epa, tpa))

    # ---- kernel page tables: init_top_pgt + text mapping ---------------------------------
    pgd = kpa("init_top_pgt")
    mem.page(pgd >> 12)
    ktables = [kpa("level4_kernel_pgt")] if levels == 5 else []
    ktables += [kpa("level3_kernel_pgt"), kpa("level2_kernel_pgt")]
    kt_iter = iter(ktables)
    for off in range(0, KERNEL_IMAGE_SIZE, SZ_2M):
        pt.map(pgd, text_va + off, text_pa + off, SZ_2M, TEXT_LARGE,
               alloc=lambda s, v: next(kt_iter))
    # level2_kernel_pgt entries beyond _end are cleared (cleanup_highmap); nothing to do.

    # ---- direct map ------------------------------------------------------------------------
    # Mapped ranges: the ISA range [0, 1 MiB) is always mapped, then each RAM range.
    dm_ranges = [(0, low_end)] + [(s << 12, e << 12) for s, e in ram_pfns[2:]]
    # 2 MiB regions split to 4 KiB "for attributes": the kernel image alias (RO) and two others.
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
                pt.map(pgd, dva(pa), pa, SZ_1G, DIRECT_LARGE, alloc_pool)
                pa += SZ_1G
            elif pa % SZ_2M == 0 and pa + SZ_2M <= e and pa not in split:
                pt.map(pgd, dva(pa), pa, SZ_2M, DIRECT_LARGE, alloc_pool)
                pa += SZ_2M
            else:
                region = pa & ~(SZ_2M - 1)
                flags = DIRECT_4K_RO if region in split_ro else DIRECT_4K
                if region == 0 and (0x9F000 <= pa < 0x100000):
                    flags |= PCD | PWT            # legacy ISA hole: uncached alias
                use_far = region in far_split
                pt.map(pgd, dva(pa), pa, SZ_4K, flags,
                       alloc_far if use_far else alloc_pool, on_new=note_far)
                pa += SZ_4K
    dm_counts = {k: pt.leaf_counts[k] - saved_counts[k] for k in pt.leaf_counts}

    # ---- vmalloc (4K leaves, scattered frames) and vmemmap (2M leaves) ---------------------
    def free_pfn() -> int:
        while True:
            r = rng.choice(ram_pfns[1:])
            pfn = rng.randrange(r[0], r[1])
            if pfn not in mem.pages and not any(a <= pfn < b for a, b in used_ranges):
                return pfn

    vmalloc_pfns = [free_pfn() for _ in range(6)]
    for i, pfn in enumerate(vmalloc_pfns):
        pt.map(pgd, vmalloc_base + 0x1000 * (i + 1), pfn << 12, SZ_4K, DIRECT_4K, alloc_pool)
        mem.write(pfn << 12, f"vmalloc area page {i} of a module".encode().ljust(64, b"."))
    for i in range(3):                    # struct page arrays: frames high in low RAM
        pt.map(pgd, vmemmap_base + SZ_2M * i, FAR - SZ_2M * (4 + i), SZ_2M, DIRECT_LARGE, alloc_pool)

    # ---- process PGD (the hibernating task's mm->pgd) --------------------------------------
    proc_pgd = POOL                       # order-1, 8 KiB aligned (PTI pair)
    mem.page(proc_pgd >> 12)
    mem.write(proc_pgd + 256 * 8, mem.read(pgd + 256 * 8, 256 * 8))
    user_pages = []
    for uva, kind in ((0x400000, "elf"), (0x401000, "code"), (0x7FFC12345000, "stack"),
                      (0x55D0C0DE0000, "heap")):
        upfn = free_pfn()
        flags = (P | US | A) if kind in ("elf", "code") else (P | RW | US | A | D | NX)
        pt.map(proc_pgd, uva, upfn << 12, SZ_4K, flags, alloc_pool, table_flags=USER_TABLE)
        if kind == "elf":
            mem.write(upfn << 12, b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 3, 0x3E, 1)
                      + b"swsusp-hibernate-helper".ljust(64, b"\0"))
        elif kind == "code":
            mem.write(upfn << 12, code_page(rng, upfn))
        elif kind == "stack":
            mem.write((upfn << 12) + 0xE00, b"SWSUSP_TEST_ENV=stack-of-the-hibernating-task\0"
                      b"PATH=/usr/sbin:/usr/bin\0/usr/sbin/swsusp-hibernate-helper\0")
        else:
            mem.write(upfn << 12, text_page(rng, upfn))
        user_pages.append(upfn)
    if pti:
        # user PGD at +4096 holds the user half; the kernel PGD's user entries get NX
        for i in range(256):
            e = mem.read_u64(proc_pgd + 8 * i)
            if e:
                mem.write_u64(proc_pgd + PAGE + 8 * i, e)
                mem.write_u64(proc_pgd + 8 * i, e | NX)
        mem.write_u64(proc_pgd + PAGE + 511 * 8, mem.read_u64(pgd + 511 * 8))  # entry text clone

    # ---- kernel image contents ------------------------------------------------------------
    for i in range(24):                                   # head of .text
        mem.write(text_pa + i * PAGE, code_page(rng, (text_pa >> 12) + i))
    for i in (-2, -1, 1, 2):
        mem.write(kpa("restore_registers") + i * PAGE,
                  code_page(rng, (kpa("restore_registers") >> 12) + i))
    mem.write(kpa("restore_registers") & ~0xFFF, restore_page())
    # rodata: banner page and neighbours with strings
    for i in range(-1, 3):
        mem.write((kpa("linux_banner") & ~0xFFF) + i * PAGE, text_page(rng, i))
    mem.write(kpa("linux_banner"), banner)
    mem.write(kpa("linux_banner") - 0x40, b"6.1.0-swsusp-synthetic\0".ljust(0x40, b"\0"))
    mem.write(kpa("__start_rodata"), b"rodata start\0" + struct_page(rng, 1)[:2000])
    # variables
    mem.write_u64(kpa("page_offset_base"), page_offset)
    mem.write_u64(kpa("vmalloc_base"), vmalloc_base)
    mem.write_u64(kpa("vmemmap_base"), vmemmap_base)
    mem.write(kpa("__pgtable_l5_enabled"), struct.pack("<I", 1 if levels == 5 else 0))
    mem.write(kpa("pgdir_shift"), struct.pack("<I", 48 if levels == 5 else 39))
    mem.write(kpa("ptrs_per_p4d"), struct.pack("<I", 512 if levels == 5 else 1))
    mem.write_u64(kpa("phys_base"), phys_base)
    mem.write_u64(kpa("max_pfn"), max_pfn)
    mem.write(kpa("_sdata"), b"data section start\0")

    # ---- tasks ------------------------------------------------------------------------------
    task_pfns = [free_pfn() for _ in range(3)]
    mm_pfn = free_pfn()
    specs = TASK_SPECS
    # init_task lives in kernel data; the others in slab pages of the direct map (one per page)
    slab = task_pfns + [free_pfn() for _ in range(len(specs) - 1 - len(task_pfns))]
    task_pa = [kpa("init_task")] + [(slab[i] << 12) + 0x200 for i in range(len(specs) - 1)]
    # mm_structs: init_mm (kernel data) and one per user process in a slab page
    mm_pa_user = [(mm_pfn << 12) + j * MM_SIZE for j in range(4)]
    user_idx = [i for i, s in enumerate(specs) if not s[2]]
    mm_of = {}
    for j, i in enumerate(user_idx):
        pa = mm_pa_user[j]
        mm_of[i] = dva(pa)
        # the hibernating task (last) owns the cr3 PGD; others get a plain copy of the kernel half
        if specs[i][0] == 1337:
            pgd_va = dva(proc_pgd)
        else:
            other = next(pool)
            other = next(pool) if other % (2 * PAGE) else other
            mem.write(other + 256 * 8, mem.read(pgd + 256 * 8, 256 * 8))
            pt.tables.append(other)
            pgd_va = dva(other)
        mem.write(pa, user_mm_struct(pgd_va))
    tasks_out = write_task_list(mem, kpa, kva, dva, task_pa, mm_of)

    # ---- ordinary data pages ------------------------------------------------------------------
    n_marker, n_text, n_struct, n_random, n_zero, n_runs = PROFILES[saved]
    kinds = (["marker"] * n_marker + ["text"] * n_text + ["struct"] * n_struct
             + ["random"] * n_random)
    if incompressible:
        kinds = ["random"] * (len(kinds) + 300)
        n_zero = 2
    rng.shuffle(kinds)
    gens = {"marker": marker_page, "text": text_page, "struct": struct_page, "random": random_page}
    data_pfns: List[int] = [1, 2, 3, 0x9E]                  # low pages (min saved PFN is 1)
    run_len = (96, 128) if incompressible else (3, 12)     # long runs: whole random blocks
    for _ in range(3 if incompressible else n_runs):        # contiguous runs
        start = free_pfn()
        data_pfns += [p for p in range(start, start + rng.randint(*run_len))
                      if p < max_pfn and p not in mem.pages
                      and not any(a <= p < b for a, b in used_ranges)
                      and any(a <= p < b for a, b in ram_pfns[1:])]
    while len(data_pfns) < len(kinds) + n_zero:
        data_pfns.append(free_pfn())
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

    # ---- sanity checks: designed translations hold ---------------------------------------
    root = proc_pgd
    assert pt.translate(root, text_va + KOFF["restore_registers"]) == kpa("restore_registers")
    assert pt.translate(pgd, kva("linux_banner")) == kpa("linux_banner")
    for pa in (0, 0x1000, 0x9F000, text_pa, FAR, low_end - PAGE, (max_pfn - 1) << 12):
        assert pt.translate(root, dva(pa)) == pa, hex(pa)
    assert 0 not in mem.pages
    assert all(any(a <= p < b for a, b in ram_pfns) for p in mem.pages), "saved page outside RAM"

    pages = {pfn: bytes(pg) for pfn, pg in sorted(mem.pages.items())}
    return Machine(
        pages=pages, ram_pfns=ram_pfns, num_physpages=num_physpages, max_pfn=max_pfn,
        levels=levels, cr3=proc_pgd, cr3_record=proc_pgd | cbit, pti=pti, sme_bit=sme_bit,
        page_offset=page_offset, vmalloc_base=vmalloc_base, vmemmap_base=vmemmap_base,
        phys_base=phys_base, phys_shift=phys_shift, virt_shift=virt_shift,
        kernel_text_va=text_va, kernel_text_pa=text_pa,
        jump_address=kva("restore_registers"), jump_address_phys=kpa("restore_registers"),
        init_top_pgt_pa=pgd, banner=banner, banner_pa=kpa("linux_banner"), release=release,
        symbols=symbols, pmd_tables_far_above=far_pairs, e820=e820,
        direct_map_ranges=dm_ranges, leaf_counts=dm_counts,
        page_table_pfns=sorted({t >> 12 for t in pt.tables} | {pgd >> 12, proc_pgd >> 12}
                               | ({(proc_pgd >> 12) + 1} if pti else set())),
        zero_pfns=[p for p, pg in pages.items() if not any(pg)],
        tasks=tasks_out, cpus=cpus, opts=opts)


# ---------------------------------------------------------------------------------------------
# ISF
def isf_dict(release: str = RELEASE, banner: bytes = BANNER) -> dict:
    """Volatility3 ISF (format 6.2.0) for the synthetic kernel (link-time addresses)."""
    def bt(size, kind="int", signed=False):
        return {"size": size, "kind": kind, "signed": signed, "endian": "little"}

    def base(n):
        return {"kind": "base", "name": n}

    def ptr(n, kind="struct"):
        return {"kind": "pointer", "subtype": {"kind": kind, "name": n}}

    def st(n):
        return {"kind": "struct", "name": n}

    base_types = {"char": bt(1, "char", True), "unsigned char": bt(1, "char"),
                  "short int": bt(2, signed=True), "short unsigned int": bt(2),
                  "int": bt(4, signed=True), "unsigned int": bt(4),
                  "long int": bt(8, signed=True), "long unsigned int": bt(8),
                  "long long int": bt(8, signed=True), "long long unsigned int": bt(8),
                  "_Bool": bt(1, "bool"), "pointer": bt(8), "void": bt(0, "void")}
    lh = st("list_head")
    tf = {"__state": base("unsigned int"), "stack": {"kind": "pointer", "subtype": base("void")},
          "flags": base("unsigned int"), "tasks": lh, "mm": ptr("mm_struct"),
          "active_mm": ptr("mm_struct"), "exit_state": base("int"), "pid": base("int"),
          "tgid": base("int"), "real_parent": ptr("task_struct"), "parent": ptr("task_struct"),
          "children": lh, "sibling": lh, "group_leader": ptr("task_struct"),
          "start_time": base("long long unsigned int"),
          "start_boottime": base("long long unsigned int"),
          "real_cred": ptr("cred"), "cred": ptr("cred"),
          "comm": {"kind": "array", "count": 16, "subtype": base("char")},
          "files": ptr("files_struct")}
    mmf = {"pgd": {"kind": "pointer", "subtype": base("long unsigned int")},
           "map_count": base("int")}
    for k in ("start_code", "end_code", "start_data", "end_data", "start_brk", "brk", "start_stack"):
        mmf[k] = base("long unsigned int")
    kuid = {"kind": "struct", "size": 4, "fields": {"val": {"offset": 0, "type": base("unsigned int")}}}
    cred_f = {"usage": {"offset": 0, "type": base("int")}}
    for k in ("uid", "suid", "euid"):
        cred_f[k] = {"offset": CRED[k], "type": st("kuid_t")}
    for k in ("gid", "sgid", "egid"):
        cred_f[k] = {"offset": CRED[k], "type": st("kgid_t")}
    user_types = {
        "list_head": {"kind": "struct", "size": 16, "fields": {
            "next": {"offset": 0, "type": ptr("list_head")},
            "prev": {"offset": 8, "type": ptr("list_head")}}},
        "task_struct": {"kind": "struct", "size": TASK_SIZE,
                        "fields": {k: {"offset": TASK[k], "type": v} for k, v in tf.items()}},
        "mm_struct": {"kind": "struct", "size": MM_SIZE,
                      "fields": {k: {"offset": MM[k], "type": v} for k, v in mmf.items()}},
        "files_struct": {"kind": "struct", "size": FILES_SIZE,
                         "fields": {"count": {"offset": 0, "type": base("int")}}},
        "kuid_t": kuid, "kgid_t": json.loads(json.dumps(kuid)),
        "cred": {"kind": "struct", "size": CRED_SIZE, "fields": cred_f},
    }
    for stub in ("file", "hlist_head", "super_block", "vm_area_struct", "qstr", "dentry",
                 "fs_struct", "kobject", "inode", "idr", "address_space", "page", "vfsmount",
                 "net", "socket", "sock", "inet_sock", "unix_sock"):
        user_types.setdefault(stub, {"kind": "struct", "size": 8, "fields": {}})
    types = {"init_task": st("task_struct"), "init_mm": st("mm_struct"),
             "init_files": st("files_struct"), "init_cred": st("cred"),
             "page_offset_base": base("long unsigned int"),
             "vmalloc_base": base("long unsigned int"), "vmemmap_base": base("long unsigned int"),
             "phys_base": base("long unsigned int"), "max_pfn": base("long unsigned int"),
             "__pgtable_l5_enabled": base("unsigned int"), "pgdir_shift": base("unsigned int"),
             "ptrs_per_p4d": base("unsigned int"),
             "linux_banner": {"kind": "array", "count": len(banner), "subtype": base("char")},
             "init_top_pgt": {"kind": "array", "count": 512, "subtype": base("long unsigned int")}}
    symbols = {}
    for name, off in KOFF.items():
        s = {"address": LINK_TEXT_VA + off}
        if name in types:
            s["type"] = types[name]
        symbols[name] = s
    symbols["swapper_pg_dir"] = dict(symbols["init_top_pgt"])
    symbols["linux_banner"]["constant_data"] = base64.b64encode(banner).decode()
    return {
        "metadata": {"format": "6.2.0",
                     "producer": {"name": "swsusp-safepgt-synthkernel", "version": "1.0.0"},
                     "linux": {"symbols": [], "types": []}},
        "base_types": base_types, "user_types": user_types, "enums": {}, "symbols": symbols,
    }


def isf_filename(release: str = RELEASE) -> str:
    return f"swsusp-synthetic-{release}.json.xz"


def write_isf(path: str, release: str = RELEASE, banner: bytes = BANNER) -> str:
    """Write the ISF as xz-compressed JSON (deterministic bytes)."""
    data = json.dumps(isf_dict(release, banner), indent=1, sort_keys=True).encode()
    with open(path, "wb") as f:
        f.write(lzma.compress(data, preset=6))
    return path
