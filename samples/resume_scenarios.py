"""Resume scenarios: a hibernation image *and* a RAM dump of the boot kernel during its resume.

A scenario is two synthetic kernels on one machine:

* the **image kernel** (suspend time): its saved pages become a hibernation image
  (:class:`samples.synthkernel.Machine`, written by ``swsusp_gen.write_image``);
* the **boot kernel** (resume time): its whole RAM, taken just before it reads the image,
  becomes a QEMU-style ELF core (or a raw dump): :class:`ResumeMachine`.

Each kernel has its own direct map (its own base) built from an explicit *plan*: per 1 GiB
slot a 1 GiB leaf or a PMD table at a chosen frame, per 2 MiB slot a 2 MiB leaf or a PTE table
at a chosen frame.  Comparing the plans by physical region gives the expected findings of
``linux.swsusp_safepgt``; the plans and the two page sets give the restore hazards (docs/format.md §8).
Nothing here walks page tables: the expected lists come from the plans, and the tests check
them with their own walker.  Imports nothing from ``plugins/``.

Definitions used by the expected lists (``Scenario.expected``)
-----------------------------------------------------------------
Rows are aligned by physical region.  One PUD row per 1 GiB slot that is present in at least
one kernel; PMD rows (one per 2 MiB slot present in at least one kernel) only under a PUD row
where *both* kernels have a PMD table (finding ``same`` or ``moved``).  Kinds: ``1G``, ``2M``,
``PMD table at frame 0x...``, ``PTE table at frame 0x...``, ``not present``.  Findings:

    same            equal kinds (leaf of the same size, or a table at the same frame)
    moved           both point to a next-level table, at different frames
    split           image: leaf (1G/2M), resume: table
    merged          image: table, resume: leaf
    only in image   resume: not present
    only in resume  image: not present

Restore hazards (``Scenario.hazards``): a restore that copies the image over the boot kernel
while still translating through the boot kernel's live tables (before the 2005 fix).  Copy
order of docs/format.md §8.3: every image page whose frame the boot kernel does not use is loaded in
place first; the others are copied in descending PFN order.  When the copy reaches a boot
direct-map table frame F that is in the image, F takes the image kernel's content.  Each
present non-leaf image entry of F then points to the image kernel's next table T_img; if that
differs from the boot kernel's own target and T_img does not yet hold its suspend-time content
(``copied later``: T_img is used by the boot kernel and lies below F, so it is copied after F;
``not in image``: T_img is not in the image), translations through the entry fail from then on
(until T_img is copied).  ``hazards_2005`` applies the same rule to the 2005 copy order (every
image page copied, ascending PFN; inferred from the 2.6.14 code, see the seed story).

Invariant of every scenario (checked when it is built): a boot direct-map table frame that is in
the image is, in the image too, a direct-map table of the same level covering the same physical
range -- so overwriting it never replaces a table by unrelated data.  (Real pairs break this
everywhere -- see the report on run B -- but that is a different failure class.)
"""
from __future__ import annotations

import json
import os
import random
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

if __package__ in (None, ""):
    from samples import synthkernel as K  # noqa: E402
else:
    from . import synthkernel as K

PAGE = 4096
SZ_2M, SZ_1G = 1 << 21, 1 << 30
U64 = (1 << 64) - 1
ZERO_PAGE = bytes(PAGE)
BRK_OFF = 0x1D00000          # the kernel's .brk (early page-table buffer), inside [__bss_start, _end)
FINDINGS = ("same", "moved", "split", "merged", "only in image", "only in resume")
NOT_PRESENT = "not present"

# QEMU dump-guest-memory: x86-64 control registers of a running 64-bit kernel
CR0 = 0x80050033
CR4 = 0x6F0
CR4_LA57 = 1 << 12


# ---------------------------------------------------------------------------------------------
# the boot kernel's RAM
class RamPages(Mapping):
    """PFN -> 4096 bytes for *every* RAM frame of a dump: the written pages, zeros elsewhere.

    Lazy (a 5 GiB machine has 1.3 M frames): ``used`` holds the non-zero pages, ``ram_pfns``
    the RAM ranges [first, end).  Iteration is ascending over all RAM frames."""

    def __init__(self, used: Dict[int, bytes], ram_pfns: Sequence[Tuple[int, int]]) -> None:
        self.used = used
        self.ram_pfns = [tuple(r) for r in ram_pfns]

    def _in_ram(self, pfn: int) -> bool:
        return any(a <= pfn < b for a, b in self.ram_pfns)

    def __getitem__(self, pfn: int) -> bytes:
        page = self.used.get(pfn)
        if page is not None:
            return page
        if self._in_ram(pfn):
            return ZERO_PAGE
        raise KeyError(pfn)

    def __contains__(self, pfn: object) -> bool:
        return isinstance(pfn, int) and self._in_ram(pfn)

    def __iter__(self) -> Iterator[int]:
        for a, b in self.ram_pfns:
            yield from range(a, b)

    def __len__(self) -> int:
        return sum(b - a for a, b in self.ram_pfns)

    def free_ranges(self) -> List[Tuple[int, int]]:
        """RAM frames holding zeros (= not used by the boot kernel), as [first, end) ranges."""
        out: List[Tuple[int, int]] = []
        used = sorted(self.used)
        i = 0
        for a, b in self.ram_pfns:
            pos = a
            while i < len(used) and used[i] < a:
                i += 1
            while i < len(used) and used[i] < b:
                if used[i] > pos:
                    out.append((pos, used[i]))
                pos = used[i] + 1
                i += 1
            if pos < b:
                out.append((pos, b))
        return out


@dataclass
class ResumeMachine:
    """The boot kernel during resume (Machine-like).  ``pages`` is the whole RAM of the dump."""
    pages: RamPages
    ram_pfns: List[Tuple[int, int]]          # RAM in the dump (the machine's e820 RAM)
    kernel_ram_pfns: List[Tuple[int, int]]   # RAM the boot kernel manages (differs with mem=)
    max_pfn: int
    levels: int
    cr3: int                                 # the CPU's cr3 in the dump (kernel half under PTI)
    pti: bool
    page_offset: int
    vmalloc_base: int
    vmemmap_base: int
    phys_base: int
    phys_shift: int
    virt_shift: int
    kernel_text_va: int
    kernel_text_pa: int
    init_top_pgt_pa: int
    banner: bytes
    banner_pa: int
    release: str
    symbols: Dict[str, int]
    e820: List[Tuple[int, int, int]]
    direct_map_ranges: List[Tuple[int, int]]
    leaf_counts: Dict[str, int]
    page_table_pfns: List[int]
    tasks: List[Tuple[int, str, int]]
    opts: Dict[str, object] = field(default_factory=dict)

    def sym_va(self, name: str) -> int:
        return (self.symbols[name] + self.virt_shift) & U64

    def sym_pa(self, name: str) -> int:
        return self.symbols[name] - K.LINK_TEXT_VA + self.kernel_text_pa

    def read(self, pa: int, n: int) -> bytes:
        return K.read_pages(self.pages, pa, n)

    @property
    def used_pfns(self) -> List[int]:
        return sorted(self.pages.used)

    @property
    def free_pfn_ranges(self) -> List[Tuple[int, int]]:
        return self.pages.free_ranges()


# ---------------------------------------------------------------------------------------------
# one kernel's memory, built from explicit frames
def _level_of_child(levels: int, child_shift: int) -> str:
    """Linux name of a table whose entries translate bits child_shift+8..child_shift."""
    return {48: "PGD", 39: "PGD" if levels == 4 else "P4D", 30: "PUD", 21: "PMD", 12: "PTE"}[child_shift]


class _Kernel:
    """A synthetic 6.1-like kernel in its own PhysMem: kernel image, text mapping, a planned
    direct map, a process PGD, tasks, data.  All frames are given by the scenario."""

    def __init__(self, role: str, *, levels: int, page_offset: int, text_pa: int, text_va: int,
                 ram_pfns, pti: bool, seed: str) -> None:
        self.role, self.levels, self.page_offset = role, levels, page_offset
        self.text_pa, self.text_va, self.pti = text_pa, text_va, pti
        self.ram_pfns = [tuple(r) for r in ram_pfns]
        self.rng = random.Random(f"swsusp-scenario:{seed}:{role}")
        self.mem = K.PhysMem()
        self.pt = K.PageTables(self.mem, levels)
        self.root = self.kpa("init_top_pgt")
        self.cr3 = self.root
        self.roles: Dict[int, Tuple[str, int]] = {}     # direct-map table pa -> (level, first pa)
        self.dm_gib: Dict[int, object] = {}             # GiB -> "1G" | PMD table pa
        self.dm_region: Dict[int, object] = {}          # 2 MiB region -> "2M" | PTE table pa
        self.dm_ranges: List[Tuple[int, int]] = []
        self.leaves = {"1G": 0, "2M": 0, "4K": 0}
        self.user_tables: List[int] = []
        self.tasks: List[Tuple[int, str, int]] = []

    # addresses
    def kpa(self, name: str) -> int:
        return self.text_pa + K.KOFF[name]

    def kva(self, name: str) -> int:
        return self.text_va + K.KOFF[name]

    def dva(self, pa: int) -> int:
        return (self.page_offset + pa) & U64

    def brk(self, i: int) -> int:
        return self.text_pa + BRK_OFF + i * PAGE

    # ---- kernel image and its text mapping ---------------------------------------------------
    def kernel_image(self, text_seed: str) -> None:
        mem, kpa = self.mem, self.kpa
        trng = random.Random(f"swsusp-scenario-text:{text_seed}")  # same build -> same text bytes
        for i in range(6):
            mem.write(self.text_pa + i * PAGE, K.code_page(trng, (self.text_pa >> 12) + i))
        mem.write(kpa("restore_registers") & ~0xFFF, K.restore_page())
        mem.write(kpa("restore_registers") - PAGE, K.code_page(trng, 7))
        mem.write(kpa("linux_banner") & ~0xFFF, K.text_page(trng, 0))
        mem.write(kpa("linux_banner"), K.BANNER)
        mem.write(kpa("linux_banner") - 0x40, K.RELEASE.encode().ljust(0x40, b"\0"))
        mem.write(kpa("__start_rodata"), b"rodata start\0")
        mem.write(kpa("_sdata"), b"data section start\0")
        mem.write(kpa("__bss_start"), b"bss start: " + self.role.encode() + b" kernel\0")
        # the text mapping: init_top_pgt -> (level4_kernel_pgt) -> level3 -> level2 (2 MiB pages)
        mem.page(self.root >> 12)
        kt = iter(([kpa("level4_kernel_pgt")] if self.levels == 5 else [])
                  + [kpa("level3_kernel_pgt"), kpa("level2_kernel_pgt")])
        for off in range(0, K.KERNEL_IMAGE_SIZE, SZ_2M):
            self.pt.map(self.root, self.text_va + off, self.text_pa + off, SZ_2M, K.TEXT_LARGE,
                        alloc=lambda s, v: next(kt))

    def variables(self, *, vmalloc_base: int, vmemmap_base: int, max_pfn: int) -> None:
        mem, kpa = self.mem, self.kpa
        self.vmalloc_base, self.vmemmap_base = vmalloc_base, vmemmap_base
        self.phys_base = ((self.text_pa - K.LINK_TEXT_PA) - (self.text_va - K.LINK_TEXT_VA)) & U64
        mem.write_u64(kpa("page_offset_base"), self.page_offset)
        mem.write_u64(kpa("vmalloc_base"), vmalloc_base)
        mem.write_u64(kpa("vmemmap_base"), vmemmap_base)
        mem.write(kpa("__pgtable_l5_enabled"), struct.pack("<I", 1 if self.levels == 5 else 0))
        mem.write(kpa("pgdir_shift"), struct.pack("<I", 48 if self.levels == 5 else 39))
        mem.write(kpa("ptrs_per_p4d"), struct.pack("<I", 512 if self.levels == 5 else 1))
        mem.write_u64(kpa("phys_base"), self.phys_base)
        mem.write_u64(kpa("max_pfn"), max_pfn)

    # ---- the direct map ----------------------------------------------------------------------
    def direct_map(self, gib_kind: Dict[int, str], region_kind: Dict[int, str],
                   frames: Dict[Tuple[str, int], int], upper: Sequence[int]) -> None:
        """gib_kind: GiB -> "1G" | "table"; region_kind (inside "table" GiBs): 2 MiB region ->
        "2M" | "4K"; frames: ("pmd", GiB) / ("pte", region) -> table PA; upper: P4D (LA57) and
        PUD table frames, in the order the walk creates them."""
        upper_it = iter(upper)
        base = self.page_offset

        def alloc(child_shift: int, va: int) -> int:
            pa = (va - base) & U64
            if child_shift == 12:
                t = frames[("pte", pa >> 21)]
            elif child_shift == 21:
                t = frames[("pmd", pa >> 30)]
            else:
                t = next(upper_it)
            span = 1 << (child_shift + 9)
            self.roles[t] = (_level_of_child(self.levels, child_shift),
                             ((va & ~(span - 1)) - base) & U64)
            return t

        for g in sorted(gib_kind):
            if gib_kind[g] == "1G":
                self.pt.map(self.root, self.dva(g << 30), g << 30, SZ_1G, K.DIRECT_LARGE, alloc)
                self.dm_gib[g] = "1G"
                self.leaves["1G"] += 1
                self._note_range(g << 30, (g + 1) << 30)
                continue
            regions = [r for r in range(g * 512, g * 512 + 512) if r in region_kind]
            assert regions, f"GiB {g}: a PMD table needs at least one entry"
            for r in regions:
                pa = r << 21
                if region_kind[r] == "2M":
                    self.pt.map(self.root, self.dva(pa), pa, SZ_2M, K.DIRECT_LARGE, alloc)
                    self.dm_region[r] = "2M"
                    self.leaves["2M"] += 1
                else:
                    for p in range(pa, pa + SZ_2M, PAGE):
                        flags = K.DIRECT_4K
                        if 0x9F000 <= p < 0x100000:
                            flags |= K.PCD | K.PWT            # legacy ISA hole: uncached alias
                        self.pt.map(self.root, self.dva(p), p, PAGE, flags, alloc)
                    self.dm_region[r] = frames[("pte", r)]
                    self.leaves["4K"] += 512
                self._note_range(pa, pa + SZ_2M)
            self.dm_gib[g] = frames[("pmd", g)]
        assert next(upper_it, None) is None, "unused upper-level frames"

    def _note_range(self, a: int, b: int) -> None:
        if self.dm_ranges and self.dm_ranges[-1][1] == a:
            self.dm_ranges[-1] = (self.dm_ranges[-1][0], b)
        else:
            self.dm_ranges.append((a, b))

    # ---- the current process's PGD -----------------------------------------------------------
    def process(self, pgd_pa: int, table_frames: Sequence[int], user_pfns: Sequence[int],
                comm: str) -> None:
        """A process PGD (kernel half = init_top_pgt's) mapping two user pages; under PTI an
        8 KiB pair (user PGD at +4096).  It becomes cr3."""
        mem = self.mem
        assert not self.pti or pgd_pa % (2 * PAGE) == 0
        mem.page(pgd_pa >> 12)
        mem.write(pgd_pa + 256 * 8, mem.read(self.root + 256 * 8, 256 * 8))
        tables = iter(table_frames)

        def alloc(shift: int, va: int) -> int:
            t = next(tables)
            self.user_tables.append(t)
            return t

        elf, stack = user_pfns
        self.pt.map(pgd_pa, 0x400000, elf << 12, PAGE, K.P | K.US | K.A, alloc, table_flags=K.USER_TABLE)
        mem.write(elf << 12, b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 3, 0x3E, 1)
                  + comm.encode().ljust(64, b"\0"))
        self.pt.map(pgd_pa, 0x7FFC12345000, stack << 12, PAGE, K.P | K.RW | K.US | K.A | K.D | K.NX,
                    alloc, table_flags=K.USER_TABLE)
        mem.write((stack << 12) + 0xE00, f"SWSUSP_SCENARIO={self.role}\0{comm}\0".encode())
        if self.pti:
            for i in range(256):
                e = mem.read_u64(pgd_pa + 8 * i)
                if e:
                    mem.write_u64(pgd_pa + PAGE + 8 * i, e)
                    mem.write_u64(pgd_pa + 8 * i, e | K.NX)
            mem.write_u64(pgd_pa + PAGE + 511 * 8, mem.read_u64(self.root + 511 * 8))
        self.cr3 = pgd_pa
        self.proc_pgd = pgd_pa

    # ---- tasks (init_task + slab task_structs; enough for linux.pslist) ------------------------
    def task_list(self, specs: Sequence[Tuple[int, str, bool]], slab_pfns: Sequence[int],
                  mm_pfn: int, main_pid: int) -> None:
        mem, T = self.mem, K.TASK
        task_pa = [self.kpa("init_task")] + [(p << 12) + 0x200 for p in slab_pfns]
        assert len(task_pa) >= len(specs)
        task_va = [self.kva("init_task")] + [self.dva(pa) for pa in task_pa[1:]]
        mm_of: Dict[int, int] = {}
        users = [i for i, s in enumerate(specs) if not s[2]]
        for j, i in enumerate(users):
            pa = (mm_pfn << 12) + j * K.MM_SIZE
            mm_of[i] = self.dva(pa)
            pgd = self.proc_pgd if specs[i][0] == main_pid else self.root
            m = bytearray(K.MM_SIZE)
            m[K.MM["pgd"]:K.MM["pgd"] + 8] = struct.pack("<Q", self.dva(pgd))
            m[K.MM["map_count"]:K.MM["map_count"] + 4] = struct.pack("<i", 2)
            m[K.MM["start_code"]:K.MM["start_code"] + 16] = struct.pack("<QQ", 0x400000, 0x401000)
            mem.write(pa, bytes(m))
        init_mm = bytearray(K.MM_SIZE)
        init_mm[K.MM["pgd"]:K.MM["pgd"] + 8] = struct.pack("<Q", self.kva("init_top_pgt"))
        mem.write(self.kpa("init_mm"), bytes(init_mm))
        mem.write(self.kpa("init_files"), struct.pack("<i", 3).ljust(K.FILES_SIZE, b"\0"))
        mem.write(self.kpa("init_cred"), struct.pack("<i", 4).ljust(K.CRED_SIZE, b"\0"))
        n = len(specs)
        for i, (pid, comm, kthread) in enumerate(specs):
            t = bytearray(K.TASK_SIZE)

            def put(name: str, data: bytes, t: bytearray = t) -> None:
                t[T[name]:T[name] + len(data)] = data

            put("__state", struct.pack("<I", 0 if pid in (0, main_pid) else 1))
            put("flags", struct.pack("<I", K.PF_KTHREAD if kthread else 0x400100))
            put("tasks", struct.pack("<QQ", task_va[(i + 1) % n] + T["tasks"],
                                     task_va[(i - 1) % n] + T["tasks"]))
            mm = mm_of.get(i, 0)
            put("mm", struct.pack("<Q", mm))
            put("active_mm", struct.pack("<Q", mm or self.kva("init_mm")))
            put("pid", struct.pack("<ii", pid, pid))
            parent = task_va[0] if pid in (0, 1, 2) else task_va[1]
            put("real_parent", struct.pack("<QQ", parent, parent))
            put("children", struct.pack("<QQ", task_va[i] + T["children"], task_va[i] + T["children"]))
            put("sibling", struct.pack("<QQ", task_va[i] + T["sibling"], task_va[i] + T["sibling"]))
            put("group_leader", struct.pack("<Q", task_va[i]))
            put("real_cred", struct.pack("<QQ", self.kva("init_cred"), self.kva("init_cred")))
            put("comm", comm.encode()[:15].ljust(16, b"\0"))
            put("files", struct.pack("<Q", self.kva("init_files")))
            mem.write(task_pa[i], bytes(t))
            self.tasks.append((pid, comm, task_va[i]))

    # ---- ordinary pages ----------------------------------------------------------------------
    _GENS = {"marker": K.marker_page, "text": K.text_page, "struct": K.struct_page,
             "random": K.random_page, "code": K.code_page}

    def data(self, pfns: Sequence[int], kinds: Sequence[str]) -> None:
        for pfn, kind in zip(pfns, kinds):
            assert pfn not in self.mem.pages, (self.role, hex(pfn))
            if kind == "zero":
                self.mem.page(pfn)
            else:
                self.mem.write(pfn << 12, self._GENS[kind](self.rng, pfn))

    def pick(self, n: int, ranges: Sequence[Tuple[int, int]], avoid: set) -> List[int]:
        """n distinct random frames inside ranges, not used yet, not in avoid."""
        out: List[int] = []
        while len(out) < n:
            a, b = self.rng.choice(ranges)
            pfn = self.rng.randrange(a, b)
            if pfn and pfn not in self.mem.pages and pfn not in avoid and pfn not in out:
                out.append(pfn)
        return sorted(out)

    @property
    def table_frames(self) -> List[int]:
        """Every page-table page of this kernel (direct map, text mapping, process)."""
        kt = [self.kpa("level3_kernel_pgt"), self.kpa("level2_kernel_pgt")]
        if self.levels == 5:
            kt.append(self.kpa("level4_kernel_pgt"))
        pgd = [self.root, self.cr3] + ([self.cr3 + PAGE] if self.pti else [])
        return sorted({t >> 12 for t in list(self.roles) + self.user_tables + kt + pgd})

    def path_tables(self) -> Dict[int, Tuple[str, int]]:
        """Tables on the direct-map translation path from cr3: cr3, then the direct map's."""
        out = {self.cr3: ("PGD", (-self.page_offset) & U64)}
        out.update(self.roles)
        return out

    def table_roles(self) -> Dict[int, Tuple[str, int]]:
        """Every table with a direct-map role: init_top_pgt, cr3 and the direct map's."""
        out = {self.root: ("PGD", (-self.page_offset) & U64)}
        out.update(self.path_tables())
        return out


# ---------------------------------------------------------------------------------------------
# kinds, findings, hazards (from the plans: no page-table walk)
def _kind_gib(k: _Kernel, g: int) -> str:
    v = k.dm_gib.get(g)
    return NOT_PRESENT if v is None else "1G" if v == "1G" else f"PMD table at frame {v:#x}"


def _kind_region(k: _Kernel, r: int) -> str:
    v = k.dm_region.get(r)
    return NOT_PRESENT if v is None else "2M" if v == "2M" else f"PTE table at frame {v:#x}"


def finding(image_kind: str, resume_kind: str) -> Optional[str]:
    """The comparison word for one slot (None when neither kernel maps it)."""
    ip, rp = image_kind != NOT_PRESENT, resume_kind != NOT_PRESENT
    if not ip and not rp:
        return None
    if not rp:
        return "only in image"
    if not ip:
        return "only in resume"
    it, rt = "table" in image_kind, "table" in resume_kind
    if image_kind == resume_kind:
        return "same"
    if it and rt:
        return "moved"
    if rt:
        return "split"
    if it:
        return "merged"
    raise AssertionError(f"leaves of different sizes at one level: {image_kind} / {resume_kind}")


def expected_slots(img: _Kernel, boot: _Kernel) -> List[dict]:
    rows: List[dict] = []
    for g in sorted(set(img.dm_gib) | set(boot.dm_gib)):
        ik, rk = _kind_gib(img, g), _kind_gib(boot, g)
        f = finding(ik, rk)
        rows.append(dict(level="PUD", pa_start=g << 30, pa_end=(g + 1) << 30, image_kind=ik,
                         resume_kind=rk, finding=f))
        if f not in ("same", "moved"):
            continue
        for r in range(g * 512, g * 512 + 512):
            ik, rk = _kind_region(img, r), _kind_region(boot, r)
            f = finding(ik, rk)
            if f is not None:
                rows.append(dict(level="PMD", pa_start=r << 21, pa_end=(r + 1) << 21,
                                 image_kind=ik, resume_kind=rk, finding=f))
    return rows


def _restored_before(t: int, f: int, S: set, U: set, order: str) -> bool:
    """Does frame t hold its image content when frame f is copied?"""
    tp, fp = t >> 12, f >> 12
    if tp not in S:
        return False
    if order == "2005":                     # every image page copied, ascending PFN
        return tp < fp
    return tp not in U or tp > fp           # loaded in place, or copied earlier (descending)


def restore_hazards(img: _Kernel, boot: _Kernel, S: set, U: set, order: str = "modern") -> List[dict]:
    """docs/format.md §8.3 (order "modern") or 2005 (order "2005") restore on the boot kernel's live
    tables; see the module docstring.  Also checks the scenario invariant."""
    out: List[dict] = []
    for f, role in sorted(boot.path_tables().items()):
        if f >> 12 not in S:
            continue
        img_role = img.table_roles().get(f)
        if img_role != role:
            raise AssertionError(f"boot {role[0]} table {f:#x} is overwritten by image content of "
                                 f"another role ({img_role})")
        level = role[0]
        if level == "PTE":
            continue
        if level == "PMD":
            g = role[1] >> 30
            entries = [(r, r & 511, boot.dm_region.get(r), img.dm_region.get(r), r << 21, SZ_2M)
                       for r in range(g * 512, g * 512 + 512)]
        elif level == "PUD":
            g0 = role[1] >> 30
            entries = [(g, ((boot.page_offset + (g << 30)) >> 30) & 511, boot.dm_gib.get(g),
                        img.dm_gib.get(g), g << 30, SZ_1G)
                       for g in range(g0, g0 + 512) if g in boot.dm_gib or g in img.dm_gib]
        else:                                # PGD / P4D shared: must lead to the same tables
            bt, it = boot.mem.pages[f >> 12], img.mem.pages[f >> 12]
            for i in range(512):
                be = struct.unpack_from("<Q", bt, 8 * i)[0]
                if be & K.P and (be & K.ADDR_MASK) in boot.roles:
                    ie = struct.unpack_from("<Q", it, 8 * i)[0]
                    assert ie & K.ADDR_MASK == be & K.ADDR_MASK, \
                        f"shared {level} table {f:#x} leads to different tables (slot {i})"
            continue
        for _key, index, b, i, pa, size in entries:
            if not isinstance(i, int) or i == b:
                continue                     # image entry absent / a leaf / the boot's own table
            if _restored_before(i, f, S, U, order):
                continue
            child = "PTE" if level == "PMD" else "PMD"
            boot_kind = (NOT_PRESENT if b is None else b if isinstance(b, str)
                         else f"{child} table at frame {b:#x}")
            out.append(dict(
                level=level, table_pa=f, entry_pa=f + 8 * index, pa_start=pa, pa_end=pa + size,
                image_kind=f"{child} table at frame {i:#x}", resume_kind=boot_kind,
                image_target=i, boot_target=b if isinstance(b, int) else None,
                reason="copied later" if i >> 12 in S else "not in image"))
    return out


def overwritten_tables(img: _Kernel, boot: _Kernel, S: set, U: set) -> List[dict]:
    """Boot direct-map tables (cr3 path) that the restore overwrites, with their copy rank."""
    copied = sorted(S & U, reverse=True)
    rank = {p: i for i, p in enumerate(copied)}
    out = []
    for f, (level, first) in sorted(boot.path_tables().items()):
        if f >> 12 in S:
            span = {"PTE": SZ_2M, "PMD": SZ_1G, "PUD": 512 * SZ_1G}.get(level)
            out.append(dict(table_pa=f, level=level, pa_start=first,
                            pa_end=first + span if span else None,
                            same_role_in_image=img.table_roles().get(f) == (level, first),
                            copy_rank=rank[f >> 12]))
    return out


# ---------------------------------------------------------------------------------------------
# dump writers
_PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD, PT_NOTE = 1, 4


def _note(name: bytes, ntype: int, desc: bytes) -> bytes:
    name0 = name + b"\0"
    return (struct.pack("<III", len(name0), len(desc), ntype) + name0 + bytes(-len(name0) % 4)
            + desc + bytes(-len(desc) % 4))


def qemu_notes(cr3: int, rip: int, levels: int) -> bytes:
    """One CPU's notes as QEMU's dump-guest-memory writes them: NT_PRSTATUS ("CORE") and a
    QEMUCPUState ("QEMU", version 1, 440 bytes) whose cr[3] is the page-table root."""
    prstatus = bytearray(336)
    struct.pack_into("<i", prstatus, 32, 1)                  # pr_pid
    struct.pack_into("<Q", prstatus, 112 + 16 * 8, rip)      # pr_reg.rip
    state = bytearray(440)
    struct.pack_into("<II", state, 0, 1, 440)
    struct.pack_into("<QQ", state, 8 + 16 * 8, rip, 0x246)   # rip, rflags
    struct.pack_into("<5Q", state, 8 + 18 * 8 + 10 * 24,
                     CR0, 0, 0, cr3, CR4 | (CR4_LA57 if levels == 5 else 0))
    return _note(b"CORE", 1, bytes(prstatus)) + _note(b"QEMU", 0, bytes(state))


def _segments(ram_pfns, used: Dict[int, bytes], compact: bool, zero_chunk: int, min_gap: int):
    """(paddr, length, kind) pieces of every RAM range: kind "data" (bytes in the file) or
    "zero" (compact only: served from one shared block of zeros)."""
    for a, b in ram_pfns:
        if not compact:
            yield a << 12, (b - a) << 12, "data"
            continue
        runs: List[List[int]] = []            # used pages, gaps < min_gap written as data
        for p in sorted(p for p in used if a <= p < b):
            if runs and p - runs[-1][1] < min_gap:
                runs[-1][1] = p + 1
            else:
                runs.append([p, p + 1])
        pos = a
        for s, e in runs + [[b, b]]:
            for c in range(pos, s, zero_chunk):
                yield c << 12, (min(s, c + zero_chunk) - c) << 12, "zero"
            if e > s:
                yield s << 12, (e - s) << 12, "data"
            pos = e


def write_elf_core(path: str, ram_pfns, used: Dict[int, bytes], *, cr3: int, rip: int,
                   levels: int, compact: bool = False, zero_chunk: int = 32,
                   min_gap: int = 8) -> dict:
    """ELF64 ET_CORE EM_X86_64 like QEMU's dump-guest-memory: a PT_NOTE (NT_PRSTATUS + QEMU
    CPU state with cr3), then PT_LOADs with p_paddr = physical address, p_vaddr = p_paddr,
    p_filesz == p_memsz.  Default: one PT_LOAD per RAM range, the file written sparsely.
    ``compact``: long all-zero runs become PT_LOADs of at most ``zero_chunk`` pages that all
    point at one shared block of zeros in the file (still every RAM byte readable)."""
    segs = list(_segments(ram_pfns, used, compact, zero_chunk, min_gap))
    notes = qemu_notes(cr3, rip, levels)
    phnum = 1 + len(segs)
    assert phnum < 0xFFFF
    hdr_end = 64 + phnum * 56
    note_off = hdr_end
    off = -(-(note_off + len(notes)) // PAGE) * PAGE
    zero_off = None
    if compact:
        zero_off, off = off, off + zero_chunk * PAGE
    phdrs = [_PHDR.pack(PT_NOTE, 0, note_off, 0, 0, len(notes), len(notes), 0)]
    placed = []
    for paddr, length, kind in segs:
        if kind == "zero":
            phdrs.append(_PHDR.pack(PT_LOAD, 0, zero_off, paddr, paddr, length, length, 0))
        else:
            phdrs.append(_PHDR.pack(PT_LOAD, 0, off, paddr, paddr, length, length, 0))
            placed.append((paddr, length, off))
            off += length
    ehdr = (b"\x7fELF\x02\x01\x01" + bytes(9)
            + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0))
    with open(path, "wb") as f:
        f.write(ehdr + b"".join(phdrs) + notes)
        for paddr, length, foff in placed:
            first, end = paddr >> 12, (paddr + length) >> 12
            for pfn in sorted(p for p in used if first <= p < end):
                f.seek(foff + ((pfn << 12) - paddr))
                f.write(used[pfn])
        f.truncate(off)
    return dict(format="elf", compact=compact, file_size=off, pt_load=len(segs),
                zero_segments=sum(1 for s in segs if s[2] == "zero"))


def write_raw(path: str, ram_pfns, used: Dict[int, bytes]) -> dict:
    """Flat physical memory: file offset = physical address, holes as zeros (sparse file)."""
    end = ram_pfns[-1][1] << 12
    with open(path, "wb") as f:
        for pfn in sorted(used):
            f.seek(pfn << 12)
            f.write(used[pfn])
        f.truncate(end)
    return dict(format="raw", compact=False, file_size=end, pt_load=0, zero_segments=0)


# ---------------------------------------------------------------------------------------------
# scenarios
@dataclass
class Design:
    """What a scenario function builds (before files are written)."""
    name: str
    story: str
    img: _Kernel
    boot: _Kernel
    image_ram_pfns: List[Tuple[int, int]]
    ram_pfns: List[Tuple[int, int]]
    e820: list
    resume_format: str = "elf"
    designed_hazards: List[int] = field(default_factory=list)       # entry PAs
    designed_hazards_2005: List[int] = field(default_factory=list)


def _kaslr_base(rng: random.Random, levels: int, ram_gib: int) -> int:
    """A CONFIG_RANDOMIZE_MEMORY direct-map base (1 GiB steps) not crossing a 512 GiB slot."""
    base0 = K.PAGE_OFFSET_L4 if levels == 4 else K.PAGE_OFFSET_L5
    span = 0x1800 if levels == 4 else 1 << 16
    while True:
        g = rng.randrange(0, span)
        if ((base0 >> 30) + g) % 512 + ram_gib <= 512:
            return base0 + (g << 30)


def _bases_for(k: _Kernel, rng: random.Random, ram_mib: int) -> Tuple[int, int]:
    if k.levels == 4:
        vmalloc = k.page_offset + ((-(-ram_mib // (1 << 20)) + 10) << 40) + (rng.randrange(1, 64) << 30)
        return vmalloc, vmalloc + (32 << 40) + (rng.randrange(1, 64) << 30)
    vmalloc = k.page_offset + (1 << 50) + (rng.randrange(1, 64) << 30)
    return vmalloc, vmalloc + (1 << 50) + (rng.randrange(1, 64) << 30)


def _standard_kernel(role: str, name: str, *, levels: int, page_offset: int, text_pa: int,
                     text_va: int, ram_pfns, pti: bool = False) -> _Kernel:
    k = _Kernel(role, levels=levels, page_offset=page_offset, text_pa=text_pa, text_va=text_va,
                ram_pfns=ram_pfns, pti=pti, seed=name)
    k.kernel_image(text_seed="one-build")
    return k


def _kaslr_pair(name: str, *, levels: int, ram_gib: int, image_text: Tuple[int, int],
                boot_text: Tuple[int, int], ram_pfns, pti: bool = False) -> Tuple[_Kernel, _Kernel]:
    """Image and boot kernels of one build at two different KASLR bases (seeded by `name`);
    *_text = (text PA, text VA offset from LINK_TEXT_VA)."""
    rng = random.Random(f"swsusp-scenario:{name}:bases")
    ib, bb = _kaslr_base(rng, levels, ram_gib), _kaslr_base(rng, levels, ram_gib)
    assert ib != bb
    img = _standard_kernel("image", name, levels=levels, page_offset=ib, text_pa=image_text[0],
                           text_va=K.LINK_TEXT_VA + image_text[1], ram_pfns=ram_pfns, pti=pti)
    boot = _standard_kernel("boot", name, levels=levels, page_offset=bb, text_pa=boot_text[0],
                            text_va=K.LINK_TEXT_VA + boot_text[1], ram_pfns=ram_pfns, pti=pti)
    return img, boot


def _low_gib_plan(ram_end: int, splits: Sequence[int], gib_leaf: Sequence[int] = (),
                  holes: Sequence[Tuple[int, int]] = ()):
    """gib_kind / region_kind for RAM [0, ram_end) (plus the 4..5 GiB range when ram_end >
    4 GiB); region 0 and `splits` as 4 KiB, GiBs in gib_leaf as 1 GiB pages, holes unmapped."""
    gib_kind, region_kind = {}, {}
    ends = [(0, min(ram_end, 3 << 30))] + ([(4 << 30, ram_end)] if ram_end > (4 << 30) else [])
    for a, b in ends:
        for pa in range(a, b, SZ_2M):
            if any(h0 <= pa < h1 for h0, h1 in holes):
                continue
            g = pa >> 30
            if g in gib_leaf:
                gib_kind[g] = "1G"
                continue
            gib_kind[g] = "table"
            region_kind[pa >> 21] = "4K" if (pa >> 21) in splits or pa == 0 else "2M"
    return gib_kind, region_kind


def _finish_kernel(k: _Kernel, *, pool: int, n_data: int, data_ranges, avoid: set, specs,
                   main_pid: int, comm: str, ram_mib: int, max_pfn: int,
                   extra_data: Sequence[Tuple[int, str]] = ()) -> None:
    """Process PGD + tasks from `pool` (consecutive frames), data pages at random frames."""
    pgd = -(-pool // (2 * PAGE)) * (2 * PAGE)              # 8 KiB aligned (a PTI pair)
    tables = [pgd + (2 + i) * PAGE for i in range(8)]       # two user paths, up to 4 tables each
    frames = [(pgd >> 12) + 10 + i for i in range(2 + 4 + 1)]
    k.process(pgd, tables, frames[:2], comm)
    k.task_list(specs, frames[2:6], frames[6], main_pid)
    rng = random.Random(f"swsusp-scenario-bases:{k.role}:{k.page_offset}")
    vm, vmm = _bases_for(k, rng, ram_mib)
    k.variables(vmalloc_base=vm, vmemmap_base=vmm, max_pfn=max_pfn)
    for pfn, kind in extra_data:
        k.data([pfn], [kind])
    kinds = (["marker", "text", "struct", "random", "code", "zero"] * (n_data // 6 + 1))[:n_data]
    if k.role == "boot":
        kinds = [x if x != "zero" else "text" for x in kinds]   # boot: used = non-zero
    k.rng.shuffle(kinds)
    k.data(k.pick(n_data, data_ranges, avoid), kinds)


IMAGE_SPECS = [(0, "swapper/0", True), (1, "systemd", False), (2, "kthreadd", True),
               (245, "systemd-journal", False), (1337, "swsusp-hibernat", False)]
BOOT_SPECS = [(0, "swapper/0", True), (1, "init", False), (2, "kthreadd", True),
              (17, "kworker/0:1", True), (98, "resume-helper", False)]


POOL_PAGES = 17           # process PGD pair, 8 user tables, 2 user pages, 4 slab pages, 1 mm page


def _pair_avoid(img: _Kernel, boot: _Kernel, boot_pool: int = 0x7800000) -> Tuple[set, set]:
    """(frames image pages must avoid, frames boot pages must avoid) so that the invariant
    holds and no hazard appears by accident: the image never saves a boot table frame, the boot
    kernel's process pool or (random pages) its kernel image range (shared tables and kernel
    pages are written explicitly), the boot kernel never uses an image table frame."""
    boot_tables = set(boot.table_frames) | {p >> 12 for p in boot.path_tables()}
    boot_tables |= set(range(boot_pool >> 12, (boot_pool >> 12) + POOL_PAGES))
    # the boot kernel's image range counts as in use even where it holds zeros: no image page
    # there, so the copy order does not depend on that choice
    boot_tables |= set(range(boot.text_pa >> 12, (boot.text_pa + K.KERNEL_IMAGE_SIZE) >> 12))
    img_tables = set(img.table_frames)
    return boot_tables, img_tables


# ---- seed ----------------------------------------------------------------------------------
def _seed() -> Design:
    name = "seed"
    ram_mib = 256
    ram_pfns, e820 = K._ram_layout(ram_mib)
    base = K.PAGE_OFFSET_2_6_16
    img = _standard_kernel("image", name, levels=4, page_offset=base, text_pa=K.LINK_TEXT_PA,
                           text_va=K.LINK_TEXT_VA, ram_pfns=ram_pfns)
    boot = _standard_kernel("boot", name, levels=4, page_offset=base, text_pa=K.LINK_TEXT_PA,
                            text_va=K.LINK_TEXT_VA, ram_pfns=ram_pfns)
    P, F, PTE0 = img.brk(0), img.brk(1), img.brk(2)          # static early tables: same frames
    RX, RY = 0x6000000 >> 21, 0xA000000 >> 21                # the two split 2 MiB regions
    T_img_X = 0xC2D0000                                      # image: far above F (+~150 MiB)
    T_img_Y = 0x0E3C000                                      # image: below F (low memory)
    T_boot_X, T_boot_Y = F + 200 * (1 << 20), F + 200 * (1 << 20) + PAGE   # boot: +200 MiB
    gk, rk = _low_gib_plan(ram_mib << 20, splits=(RX, RY))
    img.direct_map(gk, rk, {("pmd", 0): F, ("pte", 0): PTE0, ("pte", RX): T_img_X,
                            ("pte", RY): T_img_Y}, [P])
    boot.direct_map(gk, rk, {("pmd", 0): F, ("pte", 0): PTE0, ("pte", RX): T_boot_X,
                             ("pte", RY): T_boot_Y}, [P])
    low = [(0x100, (ram_mib << 20) >> 12)]
    boot_avoid, img_avoid = _pair_avoid(img, boot)
    boot_avoid |= {p >> 12 for p in (T_boot_X, T_boot_Y)}
    _finish_kernel(img, pool=0x7000000, n_data=36, data_ranges=low, avoid=boot_avoid,
                   specs=IMAGE_SPECS, main_pid=1337, comm="swsusp-hibernate", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1])
    _finish_kernel(boot, pool=0x7800000, n_data=30, data_ranges=low,
                   avoid=img_avoid,
                   specs=BOOT_SPECS, main_pid=98, comm="resume-helper", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1],
                   extra_data=[(T_img_X >> 12, "text"), (T_img_Y >> 12, "marker")])
    boot.cr3 = boot.root          # 2005: resume runs in a kernel thread on init_level4_pgt
    story = f"""\
The 2005 seed: commit 3dd08325 "x86_64: Set up safe page tables during resume".  One kernel
build, no KASLR (physical or virtual): both kernels load at {K.LINK_TEXT_PA:#x} and map RAM at
{base:#x}, so their static early tables are at the same frames: PUD {P:#x}, the PMD table of the
first GiB F = {F:#x}, the PTE table of the first 2 MiB {PTE0:#x} (all in .brk).  Two 2 MiB
regions of that PMD table are split into 4 KiB pages in both kernels, with PTE tables at
different frames:
  X = [{RX << 21:#x}, +2 MiB): image {T_img_X:#x} (far above F), boot {T_boot_X:#x} (F + 200 MiB);
  Y = [{RY << 21:#x}, +2 MiB): image {T_img_Y:#x} (below F),     boot {T_boot_Y:#x} (F + 200 MiB + 4 KiB).
The boot kernel runs on its live tables (cr3 = init_top_pgt {boot.root:#x}).  F, {T_img_X:#x} and
{T_img_Y:#x} are in the image and in use by the boot kernel (F as its PMD table, the other two hold
boot-kernel data), so the restore copies them in descending PFN order (docs/format.md §8.3): {T_img_X:#x},
then F, ..., then {T_img_Y:#x}.  From the copy of F until that of {T_img_Y:#x}, the PMD entry of Y
points at the image's PTE table frame while it still holds boot data: translations of Y fail -- the
seed's hang.  That is the hazard ("copied later").  X is safe under today's order: its image table
lies above F and is already restored when F is overwritten.

Why not "T_img far above F and the hazard" together: under the descending order a table above F is
always copied first (or loaded in place), so a far-above image table never dangles; the alternative,
an image table that is not in the image at all, would be a permanent corruption and an
inconsistent image, while the commit speaks of a temporary corruption of tables stored in the
image.  The commit's "page table ... much greater than the PMD entry itself" is read as the boot
kernel's live table (both boot tables here are F + 200 MiB).  In 2005 (2.6.14) the image was
copied in list order, ascending PFN, with no in-place loading [inferred from the 2.6.14 swsusp code]:
under that order X is the entry that hangs (its image table is copied after F) and Y is safe --
see hazards_2005.
"""
    return Design(name, story, img, boot, ram_pfns, ram_pfns, e820,
                  designed_hazards=[F + 8 * (RY & 511)], designed_hazards_2005=[F + 8 * (RX & 511)])


# ---- kaslr ---------------------------------------------------------------------------------
def _kaslr() -> Design:
    name = "kaslr"
    ram_mib = 256
    ram_pfns, e820 = K._ram_layout(ram_mib)
    img, boot = _kaslr_pair(name, levels=4, ram_gib=1, image_text=(0x9600000, 0x28600000),
                            boot_text=(0x3000000, 0x0E400000), ram_pfns=ram_pfns)
    SAME1, SAME2, MOVED = 0x2800000 >> 21, 0x6000000 >> 21, 0x2A00000 >> 21
    LAST = ((ram_mib << 20) - SZ_2M) >> 21
    gk, rk = _low_gib_plan(ram_mib << 20, splits=(SAME1, SAME2, MOVED, LAST))
    shared = {("pte", SAME1): 0xFFD0000, ("pte", SAME2): 0xFFD1000}     # memblock, top-down
    img.direct_map(gk, rk, {**shared, ("pmd", 0): img.brk(1), ("pte", 0): img.brk(2),
                            ("pte", LAST): img.brk(4), ("pte", MOVED): 0xFFC2000}, [img.brk(0)])
    boot.direct_map(gk, rk, {**shared, ("pmd", 0): boot.brk(1), ("pte", 0): boot.brk(2),
                             ("pte", LAST): boot.brk(4), ("pte", MOVED): 0xFFC5000}, [boot.brk(0)])
    low = [(0x100, (ram_mib << 20) >> 12)]
    boot_avoid, img_avoid = _pair_avoid(img, boot)
    _finish_kernel(img, pool=0x7000000, n_data=36, data_ranges=low, avoid=boot_avoid,
                   specs=IMAGE_SPECS, main_pid=1337, comm="swsusp-hibernate", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1])
    _finish_kernel(boot, pool=0x7800000, n_data=30, data_ranges=low, avoid=img_avoid,
                   specs=BOOT_SPECS, main_pid=98, comm="resume-helper", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1])
    story = f"""\
Modern KASLR, like the real run B: the same kernel build booted twice with different random
layouts.  Direct map at {img.page_offset:#x} (image) and {boot.page_offset:#x} (boot); kernel loaded at {img.text_pa:#x}
and {boot.text_pa:#x}.  Each kernel's early tables live in its own .brk and move with the
physical KASLR offset: the PUD, the PMD table of the first GiB (PUD row: moved), the PTE tables
of the first and the last 2 MiB (moved).  One more PTE table ([{MOVED << 21:#x}, +2 MiB)) came
from the page allocator at different frames (moved); two split regions ([{SAME1 << 21:#x}] and
[{SAME2 << 21:#x}]) have their PTE tables at the same frames in both kernels (memblock top-down
gives the same frames), the rest are 2 MiB pages (same).  Rows align by physical address even
though the bases differ.  Hazards: none -- no boot direct-map table frame is in the image (the
boot kernel's .brk, init_top_pgt and process PGD lie in frames the image kernel did not use),
so nothing on its translation path is overwritten; the two shared PTE tables are overwritten
with equivalent content.
"""
    return Design(name, story, img, boot, ram_pfns, ram_pfns, e820)


# ---- split-merged --------------------------------------------------------------------------
def _split_merged() -> Design:
    name = "split-merged"
    ram_mib = 2048
    ram_pfns, e820 = K._ram_layout(ram_mib)
    base = K.PAGE_OFFSET_L4
    HOT = (0x50000000, 0x58000000)          # hot-removed by the image kernel (one 128 MiB block)
    MEM = 0x70000000                        # boot kernel: mem=1792M
    img_ram = [(0, 0x9F), (0x100, HOT[0] >> 12), (HOT[1] >> 12, (ram_mib << 20) >> 12)]
    boot_ram = [(0, 0x9F), (0x100, MEM >> 12)]
    img = _standard_kernel("image", name, levels=4, page_offset=base, text_pa=K.LINK_TEXT_PA,
                           text_va=K.LINK_TEXT_VA, ram_pfns=img_ram)
    boot = _standard_kernel("boot", name, levels=4, page_offset=base, text_pa=0x3000000,
                            text_va=K.LINK_TEXT_VA, ram_pfns=boot_ram)
    F, PTE0 = 0xEFF000, 0xEFE000            # GiB 0's PMD table, first PTE table: same frames
    A, B = 0x6000000 >> 21, 0x10000000 >> 21
    F1_img, F1_boot = MEM - 0x100000 - PAGE, MEM - PAGE     # GiB 1's PMD tables
    T_boot_A, T_img_B = MEM - 2 * PAGE, 0x0D82000
    gi, ri = _low_gib_plan(ram_mib << 20, splits=(B,), holes=[HOT])
    gb, rb = _low_gib_plan(MEM, splits=(A,))
    img.direct_map(gi, ri, {("pmd", 0): F, ("pte", 0): PTE0, ("pte", B): T_img_B,
                            ("pmd", 1): F1_img}, [img.brk(0)])
    boot.direct_map(gb, rb, {("pmd", 0): F, ("pte", 0): PTE0, ("pte", A): T_boot_A,
                             ("pmd", 1): F1_boot}, [boot.brk(0)])
    boot_avoid, img_avoid = _pair_avoid(img, boot)
    _finish_kernel(img, pool=0x7000000, n_data=36, data_ranges=[(0x100, 0x40000)],
                   avoid=boot_avoid, specs=IMAGE_SPECS, main_pid=1337, comm="swsusp-hibernate",
                   ram_mib=ram_mib, max_pfn=ram_pfns[-1][1])
    _finish_kernel(boot, pool=0x7800000, n_data=30, data_ranges=[(0x100, 0x40000)],
                   avoid=img_avoid, specs=BOOT_SPECS, main_pid=98, comm="resume-helper",
                   ram_mib=ram_mib, max_pfn=MEM >> 12, extra_data=[(T_img_B >> 12, "struct")])
    story = f"""\
Leaf/table disagreements and regions mapped by one kernel only.  No memory KASLR (direct map
at {base:#x} in both), 2 GiB of RAM; the kernels load at {img.text_pa:#x} (image) and
{boot.text_pa:#x} (boot: relocated), so their .brk tables, PUD tables and init_top_pgt differ.
The PMD table of GiB 0, F = {F:#x}, and the first PTE table {PTE0:#x} are the same frames in both
(early memblock allocations below the kernel).
  split:  [{A << 21:#x}, +2 MiB) is a 2 MiB page in the image, a PTE table at {T_boot_A:#x} in the
          boot kernel (e.g. set_memory_ro() on a module there);
  merged: [{B << 21:#x}, +2 MiB) is a PTE table at {T_img_B:#x} in the image, a 2 MiB page in the
          boot kernel;
  only in resume: [{HOT[0]:#x}, {HOT[1]:#x}) -- the image kernel had this 128 MiB memory block
          hot-removed (offline), the boot kernel maps it;
  only in image:  [{MEM:#x}, 2 GiB) -- the boot kernel was started with mem=1792M (the dump still
          holds the whole RAM; that part is zeros).
The PMD tables of GiB 1 differ (PUD row: moved): image {F1_img:#x}, boot {F1_boot:#x} (the top of
its memory under mem=).  Every image page lies below the boot kernel's mem= limit (else no
resume), and no boot table above the one-kernel-only regions is overwritten, whichever root
(init_top_pgt or the resuming process's PGD) the copy runs on.
Hazard: F is in the image and in use by the boot kernel; the merged entry's image table
{T_img_B:#x} lies below F and holds boot-kernel data, so it is copied after F ("copied later"):
a hazard on a merged entry.  The split entry is no hazard: the image entry is a 2 MiB leaf.
(Had the hot-removed block been under an overwritten table, the overwrite would unmap it in the
boot kernel: a failure outside this hazard definition, kept out of the scenarios.)
"""
    return Design(name, story, img, boot, img_ram, ram_pfns, e820,
                  designed_hazards=[F + 8 * (B & 511)], designed_hazards_2005=[])


# ---- gib-pages -----------------------------------------------------------------------------
def _gib_pages() -> Design:
    name = "gib-pages"
    ram_mib = 4096
    ram_pfns, e820 = K._ram_layout(ram_mib)     # [0, 3 GiB) + [4 GiB, 5 GiB)
    ram_end = ram_pfns[-1][1] << 12
    base = K.PAGE_OFFSET_L4
    img = _standard_kernel("image", name, levels=4, page_offset=base, text_pa=K.LINK_TEXT_PA,
                           text_va=K.LINK_TEXT_VA, ram_pfns=ram_pfns)
    boot = _standard_kernel("boot", name, levels=4, page_offset=base, text_pa=K.LINK_TEXT_PA,
                            text_va=K.LINK_TEXT_VA, ram_pfns=ram_pfns)
    P, F, PTE0 = img.brk(0), img.brk(1), img.brk(2)
    T_boot_1 = (3 << 30) - PAGE                 # boot: PMD table of GiB 1, top of low memory
    T_img_2 = 0x0E41000                         # image: PMD table of GiB 2, low
    gi, ri = _low_gib_plan(ram_end, splits=(), gib_leaf=(1, 4))
    gb, rb = _low_gib_plan(ram_end, splits=(), gib_leaf=(2, 4))
    img.direct_map(gi, ri, {("pmd", 0): F, ("pte", 0): PTE0, ("pmd", 2): T_img_2}, [P])
    boot.direct_map(gb, rb, {("pmd", 0): F, ("pte", 0): PTE0, ("pmd", 1): T_boot_1}, [P])
    low = [(0x100, 0x8000)]
    boot_avoid, img_avoid = _pair_avoid(img, boot)
    _finish_kernel(img, pool=0x7000000, n_data=24, data_ranges=low, avoid=boot_avoid,
                   specs=IMAGE_SPECS, main_pid=1337, comm="swsusp-hibernate", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1], extra_data=[(0x100000, "marker"), (0x13FFFF, "zero")])
    _finish_kernel(boot, pool=0x7800000, n_data=20, data_ranges=low, avoid=img_avoid,
                   specs=BOOT_SPECS, main_pid=98, comm="resume-helper", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1], extra_data=[(T_img_2 >> 12, "text"),
                                                        (0x100001, "text")])
    story = f"""\
1 GiB pages against PMD tables on a 5 GiB-address machine (4 GiB of RAM: [0, 3 GiB) and
[4 GiB, 5 GiB)).  One build, no KASLR, shared PUD table {P:#x} and PMD table F = {F:#x}.
  GiB 0: both PMD tables at F (same; 512 PMD rows, all same);
  GiB 1: image 1 GiB page, boot PMD table at {T_boot_1:#x} -- split;
  GiB 2: image PMD table at {T_img_2:#x}, boot 1 GiB page -- merged;
  GiB 3: hole (no RAM) in both: no row;  GiB 4: 1 GiB pages in both -- same.
Hazard at the PUD level: the PUD table {P:#x} is shared and in the image; its GiB 2 entry then
points to the image's PMD table {T_img_2:#x}, which holds boot data and lies below the PUD
table, so it is copied later ("copied later").  Mapping only: few saved pages.
"""
    return Design(name, story, img, boot, ram_pfns, ram_pfns, e820,
                  designed_hazards=[P + 8 * 2], designed_hazards_2005=[])


# ---- la57 ----------------------------------------------------------------------------------
def _la57() -> Design:
    name = "la57"
    ram_mib = 2048
    ram_pfns, e820 = K._ram_layout(ram_mib)
    img, boot = _kaslr_pair(name, levels=5, ram_gib=2, image_text=(0x5200000, 0x1C000000),
                            boot_text=(0x1400000, 0x2F200000), ram_pfns=ram_pfns)
    F1 = (2 << 30) - PAGE                       # PMD table of GiB 1: memblock top-down, shared
    SAME, MOVED = (0x40000000 + 0x8000000) >> 21, (0x40000000 + 0x10000000) >> 21
    T_same, T_img_m, T_boot_m = F1 - PAGE, 0x3F00000, F1 - 2 * PAGE
    gk, rk = _low_gib_plan(ram_mib << 20, splits=(SAME, MOVED))
    img.direct_map(gk, rk, {("pmd", 0): img.brk(2), ("pte", 0): img.brk(3), ("pmd", 1): F1,
                            ("pte", SAME): T_same, ("pte", MOVED): T_img_m},
                   [img.brk(0), img.brk(1)])
    boot.direct_map(gk, rk, {("pmd", 0): boot.brk(2), ("pte", 0): boot.brk(3), ("pmd", 1): F1,
                             ("pte", SAME): T_same, ("pte", MOVED): T_boot_m},
                    [boot.brk(0), boot.brk(1)])
    low = [(0x100, 0x10000)]
    boot_avoid, img_avoid = _pair_avoid(img, boot)
    _finish_kernel(img, pool=0x7000000, n_data=30, data_ranges=low, avoid=boot_avoid,
                   specs=IMAGE_SPECS, main_pid=1337, comm="swsusp-hibernate", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1])
    _finish_kernel(boot, pool=0x7800000, n_data=24, data_ranges=low, avoid=img_avoid,
                   specs=BOOT_SPECS, main_pid=98, comm="resume-helper", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1], extra_data=[(T_img_m >> 12, "code")])
    story = f"""\
5-level paging (LA57) in both kernels, KASLR: direct map at {img.page_offset:#x} (image) and \
{boot.page_offset:#x} (boot),
kernels at {img.text_pa:#x} and {boot.text_pa:#x}, 2 GiB of RAM.  Each kernel's P4D, PUD, the PMD
table of GiB 0 and the first PTE table are in its .brk (PUD row of GiB 0: moved; PMD row 0:
moved).  The PMD table of GiB 1 came from memblock top-down and is the same frame F1 = {F1:#x}
in both (PUD row: same), so the restore overwrites it with the image's copy.  In GiB 1 one PTE
table is shared ({T_same:#x}, same) and one moved: [{MOVED << 21:#x}, +2 MiB) image {T_img_m:#x},
boot {T_boot_m:#x}.  The image's table lies far below F1 and holds boot data: copied after F1 --
hazard ("copied later") in a 5-level walk.
"""
    return Design(name, story, img, boot, ram_pfns, ram_pfns, e820,
                  designed_hazards=[F1 + 8 * (MOVED & 511)], designed_hazards_2005=[])


# ---- pti -----------------------------------------------------------------------------------
def _pti() -> Design:
    name = "pti"
    ram_mib = 256
    ram_pfns, e820 = K._ram_layout(ram_mib)
    img, boot = _kaslr_pair(name, levels=4, ram_gib=1, image_text=(0x4C00000, 0x12400000),
                            boot_text=(0x8A00000, 0x03200000), ram_pfns=ram_pfns, pti=True)
    SAME, SPLIT = 0x2800000 >> 21, 0x4000000 >> 21
    gi, ri = _low_gib_plan(ram_mib << 20, splits=(SAME,))
    gb, rb = _low_gib_plan(ram_mib << 20, splits=(SAME, SPLIT))
    img.direct_map(gi, ri, {("pmd", 0): img.brk(1), ("pte", 0): img.brk(2),
                            ("pte", SAME): 0xFFE0000}, [img.brk(0)])
    boot.direct_map(gb, rb, {("pmd", 0): boot.brk(1), ("pte", 0): boot.brk(2),
                             ("pte", SAME): 0xFFE0000, ("pte", SPLIT): 0xFFE3000}, [boot.brk(0)])
    low = [(0x100, (ram_mib << 20) >> 12)]
    boot_avoid, img_avoid = _pair_avoid(img, boot)
    _finish_kernel(img, pool=0x7000000, n_data=36, data_ranges=low, avoid=boot_avoid,
                   specs=IMAGE_SPECS, main_pid=1337, comm="swsusp-hibernate", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1])
    _finish_kernel(boot, pool=0x7800000, n_data=30, data_ranges=low, avoid=img_avoid,
                   specs=BOOT_SPECS, main_pid=98, comm="resume-helper", ram_mib=ram_mib,
                   max_pfn=ram_pfns[-1][1])
    story = f"""\
Page-table isolation in both kernels: every PGD is an 8 KiB pair, kernel half first, user half
at +4096 (bit 12).  The image record's cr3 ({img.cr3:#x}) and the boot CPU's cr3
({boot.cr3:#x}) are kernel halves; the user halves hold the user mappings, an NX-less copy of
the kernel's slot 511 (entry text) and nothing of the direct map.  KASLR: direct map at
{img.page_offset:#x} / {boot.page_offset:#x}, kernels at {img.text_pa:#x} / {boot.text_pa:#x}; PUD row and the first PTE
table moved (.brk), [{SAME << 21:#x}, +2 MiB) same PTE table, [{SPLIT << 21:#x}, +2 MiB) split.
The resume dump is raw (file offset = physical address, no headers, no cr3 note).  Hazards:
none.
"""
    return Design(name, story, img, boot, ram_pfns, ram_pfns, e820, resume_format="raw")


SCENARIOS: Dict[str, Callable[[], Design]] = {
    "seed": _seed, "kaslr": _kaslr, "split-merged": _split_merged, "gib-pages": _gib_pages,
    "la57": _la57, "pti": _pti,
}


# ---------------------------------------------------------------------------------------------
# machines and the assembled scenario
def image_machine(d: Design) -> K.Machine:
    k = d.img
    pages = {pfn: bytes(pg) for pfn, pg in sorted(k.mem.pages.items())}
    assert all(any(a <= p < b for a, b in d.image_ram_pfns) for p in pages), "image page outside RAM"
    symbols = {n: K.LINK_TEXT_VA + v for n, v in K.KOFF.items()}
    return K.Machine(
        pages=pages, ram_pfns=list(d.image_ram_pfns),
        num_physpages=sum(b - a for a, b in d.image_ram_pfns), max_pfn=d.ram_pfns[-1][1],
        levels=k.levels, cr3=k.cr3, cr3_record=k.cr3, pti=k.pti, sme_bit=None,
        page_offset=k.page_offset, vmalloc_base=k.vmalloc_base, vmemmap_base=k.vmemmap_base,
        phys_base=k.phys_base, phys_shift=k.text_pa - K.LINK_TEXT_PA,
        virt_shift=k.text_va - K.LINK_TEXT_VA, kernel_text_va=k.text_va, kernel_text_pa=k.text_pa,
        jump_address=k.kva("restore_registers"), jump_address_phys=k.kpa("restore_registers"),
        init_top_pgt_pa=k.root, banner=K.BANNER, banner_pa=k.kpa("linux_banner"),
        release=K.RELEASE, symbols=symbols,
        pmd_tables_far_above=[(k.dm_gib[r >> 9] + 8 * (r & 511), t) for r, t in
                              sorted(k.dm_region.items()) if isinstance(t, int)
                              and t > k.dm_gib[r >> 9] + (64 << 20)],
        e820=list(d.e820), direct_map_ranges=list(k.dm_ranges), leaf_counts=dict(k.leaves),
        page_table_pfns=k.table_frames, zero_pfns=[p for p, pg in pages.items() if not any(pg)],
        tasks=list(k.tasks), cpus=2, opts=dict(scenario=d.name, kernel="image",
                                                seed=f"scenario-{d.name}"))


def resume_machine(d: Design) -> ResumeMachine:
    k = d.boot
    used = {pfn: bytes(pg) for pfn, pg in sorted(k.mem.pages.items()) if any(pg)}
    assert all(any(a <= p < b for a, b in k.ram_pfns) for p in used), "boot page outside its RAM"
    return ResumeMachine(
        pages=RamPages(used, d.ram_pfns), ram_pfns=list(d.ram_pfns),
        kernel_ram_pfns=list(k.ram_pfns), max_pfn=d.ram_pfns[-1][1], levels=k.levels, cr3=k.cr3,
        pti=k.pti, page_offset=k.page_offset, vmalloc_base=k.vmalloc_base,
        vmemmap_base=k.vmemmap_base, phys_base=k.phys_base, phys_shift=k.text_pa - K.LINK_TEXT_PA,
        virt_shift=k.text_va - K.LINK_TEXT_VA, kernel_text_va=k.text_va, kernel_text_pa=k.text_pa,
        init_top_pgt_pa=k.root, banner=K.BANNER, banner_pa=k.kpa("linux_banner"),
        release=K.RELEASE, symbols={n: K.LINK_TEXT_VA + v for n, v in K.KOFF.items()},
        e820=list(d.e820), direct_map_ranges=list(k.dm_ranges), leaf_counts=dict(k.leaves),
        page_table_pfns=k.table_frames, tasks=list(k.tasks),
        opts=dict(scenario=d.name, kernel="boot"))


def analyse(d: Design, image_pfns: Sequence[int], boot_used: Sequence[int]) -> dict:
    """Expected findings and hazards of a design (plans + page sets; no walk)."""
    S, U = set(image_pfns), set(boot_used)
    assert all(any(a <= p < b for a, b in d.boot.ram_pfns) for p in S), "image page outside boot RAM"
    rows = expected_slots(d.img, d.boot)
    haz = restore_hazards(d.img, d.boot, S, U, "modern")
    haz05 = restore_hazards(d.img, d.boot, S, U, "2005")
    assert [h["entry_pa"] for h in haz] == sorted(d.designed_hazards), (d.name, haz)
    assert [h["entry_pa"] for h in haz05] == sorted(d.designed_hazards_2005), (d.name, haz05)
    counts = {f: sum(1 for r in rows if r["finding"] == f) for f in FINDINGS}
    copied = S & U
    return dict(expected=rows, expected_moved=[r for r in rows if r["finding"] == "moved"],
                hazards=haz, hazards_2005=haz05, counts=counts,
                overwritten_tables=overwritten_tables(d.img, d.boot, S, U),
                copy=dict(image_pages=len(S), loaded_in_place=len(S - U), copied=len(copied),
                          first_copied_pfn=max(copied) if copied else None,
                          last_copied_pfn=min(copied) if copied else None))


@dataclass
class Scenario:
    """A written resume scenario (see the module docstring for every definition).

    ``expected``: slot rows ``{level, pa_start, pa_end, image_kind, resume_kind, finding}``;
    ``expected_moved``: the ``moved`` rows; ``hazards`` / ``hazards_2005``: ``{level,
    table_pa, entry_pa, pa_start, pa_end, image_kind, resume_kind, image_target, boot_target,
    reason}``; ``boot_free_pfns``: [first, end) PFN ranges of RAM the boot kernel does not use
    (zeros in the dump); ``overwritten_tables``: boot tables on the direct-map path that the
    restore overwrites (always with same-role content here) and their rank in the copy order."""
    name: str
    story: str
    image_path: str
    image_machine: K.Machine
    image_facts: object
    resume_path: str
    resume_format: str               # "elf" | "raw"
    resume_machine: ResumeMachine
    expected: List[dict]
    expected_moved: List[dict]
    hazards: List[dict]
    hazards_2005: List[dict]
    boot_free_pfns: List[Tuple[int, int]]
    overwritten_tables: List[dict]
    counts: Dict[str, int]
    copy: Dict[str, object]
    dump: Dict[str, object]
    json_path: Optional[str] = None

    def boot_free(self, pfn: int) -> bool:
        return any(a <= pfn < b for a, b in self.boot_free_pfns)

    def copy_order(self) -> List[int]:
        """PFNs copied by the final loop (docs/format.md §8.3): image PFNs the boot kernel uses, descending."""
        used = set(self.resume_machine.pages.used)
        return sorted((p for p in self.image_machine.pages if p in used), reverse=True)

    def to_json(self) -> dict:
        im, rm = self.image_machine, self.resume_machine
        return dict(
            name=self.name, story=self.story, image=os.path.basename(self.image_path),
            resume=os.path.basename(self.resume_path), resume_format=self.resume_format,
            image_cr3=im.cr3, resume_cr3=rm.cr3, levels=im.levels, pti=im.pti,
            image_page_offset=im.page_offset, resume_page_offset=rm.page_offset,
            image_kernel_text_pa=im.kernel_text_pa, resume_kernel_text_pa=rm.kernel_text_pa,
            ram_pfns=[list(r) for r in rm.ram_pfns],
            boot_free_pfns=[list(r) for r in self.boot_free_pfns],
            counts=self.counts, copy=self.copy, dump=self.dump, expected=self.expected,
            expected_moved=self.expected_moved, hazards=self.hazards,
            hazards_2005=self.hazards_2005, overwritten_tables=self.overwritten_tables)


def build_scenario(name: str, directory: str, write_image: Callable, *, compact_elf: bool = False,
                   image_name: Optional[str] = None, resume_name: Optional[str] = None,
                   json_name: Optional[str] = None) -> Scenario:
    """Build scenario `name` and write its image, resume dump and JSON into `directory`."""
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    d = SCENARIOS[name]()
    im, rm = image_machine(d), resume_machine(d)
    a = analyse(d, list(im.pages), list(rm.pages.used))
    os.makedirs(directory, exist_ok=True)
    image_path = os.path.join(directory, image_name or f"{name}.img")
    facts = write_image(im, image_path, era="6.1", codec="lzo", variant=f"scenario-{name}")
    ext = "raw" if d.resume_format == "raw" else "elf"
    resume_path = os.path.join(directory, resume_name or f"{name}-resume.{ext}")
    if d.resume_format == "raw":
        dump = write_raw(resume_path, rm.ram_pfns, rm.pages.used)
    else:
        dump = write_elf_core(resume_path, rm.ram_pfns, rm.pages.used, cr3=rm.cr3,
                              rip=d.boot.kva("swsusp_arch_suspend"), levels=rm.levels,
                              compact=compact_elf)
    sc = Scenario(name=name, story=d.story, image_path=image_path, image_machine=im,
                  image_facts=facts, resume_path=resume_path, resume_format=d.resume_format,
                  resume_machine=rm, expected=a["expected"], expected_moved=a["expected_moved"],
                  hazards=a["hazards"], hazards_2005=a["hazards_2005"],
                  boot_free_pfns=rm.free_pfn_ranges, overwritten_tables=a["overwritten_tables"],
                  counts=a["counts"], copy=a["copy"], dump=dump)
    if json_name != "":
        sc.json_path = os.path.join(directory, json_name or f"{name}.json")
        with open(sc.json_path, "w") as f:
            json.dump(sc.to_json(), f, indent=1, sort_keys=True)
            f.write("\n")
    return sc
