"""Swapped-out memory of a synthetic machine (issue 10): process pages that reclaim wrote into
the swap area before hibernation, in the same area the image is then written to.

Before the machine is built the swap area is planned (:func:`plan_swap`): slots
1..FIRST_IMAGE_SLOT-1 are used before hibernation (process pages, a swap-cache copy, stale
data of freed slots, zeros), the image takes the slots after them.  The machine then gets
(:func:`write_swap_state`, a step of ``build_machine(swap=...)``):

* user processes (``SWAP_TASKS``) with VMAs (``mm->mmap`` list) whose PTEs are present,
  none, or swap entries as the kernel writes them (``swp_pte``: the L1TF-inverted layout of
  4.18+ or the 4.8..4.17 layout, decided by the kernel: ``KERNELS``): entries of our area,
  of a second swap area the input does not hold, with a slot beyond our area, a non-swap
  (migration) entry, and one for a page zswap kept in RAM (its slot's bit is set in
  ``frontswap_map``; the slot still holds stale data);
* the kernel's swap state: ``nr_swapfiles``, ``swap_info[]`` (our area, type 0, with its
  ``swap_map`` counts and its swap extents -- several for a scattered swap file -- and the
  second area, type 1), as mm/swapfile.c keeps them.

Every page's bytes are a function of (pid, address) (:func:`page_bytes`), so a test knows
what each process page must read as.  Imports nothing from ``plugins/``.
"""
from __future__ import annotations

import hashlib
import random
import struct
from dataclasses import dataclass

from .containers import SwapArea, SwapLayout, plan_swap_area
from .synth_layout import (
    BANNER,
    MM,
    MM_CONTEXT,
    NX,
    PAGE,
    RELEASE,
    RW,
    SWAP_EXTENT,
    SWAP_EXTENT_SIZE,
    SWAP_INFO,
    SWAP_INFO_SIZE,
    SWP_BLKDEV,
    SWP_USED,
    SWP_WRITEOK,
    SZ_4K,
    TASK,
    US,
    USER_TABLE,
    VM_EXEC,
    VM_READ,
    VM_WRITE,
    VMA,
    VMA_SIZE,
    A,
    D,
    P,
)

U64 = (1 << 64) - 1
FIRST_IMAGE_SLOT = 48      # the image's first swap_map page; slots 1..47 were used before
IMAGE_SLOTS = 300          # the small machine's stream and map pages, even uncompressed
SLACK_SLOTS = 24
OUR_TYPE, OTHER_TYPE = 0, 1
OTHER_AREA_SLOTS = 2048    # the second swap area (another device, not in the input)
MIGRATION_TYPE = 29        # >= nr_swapfiles: a non-swap entry (SWP_MIGRATION_* in 6.1)
SWAP_CACHE_SLOTS = 1       # in use by swap_map, referenced by no PTE (the swap cache)
STALE_SLOTS = 10           # freed slots still holding old data
SWP_EXCLUSIVE, SWP_SOFT_DIRTY_4X = 0x2, 0x80   # _PAGE_SWP_EXCLUSIVE (6.1), _PAGE_SWP_SOFT_DIRTY (4.x)

RELEASE_4_14 = "4.14.0-swsusp-synthetic"
BANNER_4_14 = BANNER.replace(b"6.1.0-swsusp-synthetic", RELEASE_4_14.encode()).replace(
    b"Debian 6.1.0-synthetic", b"Debian 4.14.0-synthetic")
# swap PTE layout -> (release, banner, kernel has l1tf_mitigation); the layout is the kernel's
KERNELS = {"l1tf": (RELEASE, BANNER, True), "type-above-protnone": (RELEASE_4_14, BANNER_4_14, False)}

MARK_SWAPPED = b"SWSUSP-SYNTH-SWAPPED"    # in every page swapped into our area (16 times)
MARK_RESIDENT = b"SWSUSP-SYNTH-RESIDENT"
MARK_ELSEWHERE = b"SWSUSP-SYNTH-ELSEWHERE"  # pages swapped to the other area: in no input byte
MARK_STALE = b"SWSUSP-SYNTH-STALE"        # freed slots (an entry of another type points at them)
MARK_CACHE = b"SWSUSP-SYNTH-SWAPCACHE"
MARKS_PER_PAGE = 16


def swp_pte(layout: str, swp_type: int, offset: int, flags: int = 0) -> int:
    """__swp_entry_to_pte() of arch/x86/include/asm/pgtable_64.h."""
    if layout == "l1tf":        # 4.18+: ~offset in bits 9..58, type in 59..63
        return (((~offset << 14) & U64) >> 5) | swp_type << 59 | flags
    if layout == "type-above-protnone":   # 4.8 .. 4.17: type 9..13, offset 14..63
        return swp_type << 9 | offset << 14 | flags
    raise ValueError(f"swap PTE layout {layout!r}")


# ---------------------------------------------------------------------------------------------
# the processes: VMAs and what each page is
@dataclass(frozen=True)
class Vma:
    start: int
    pages: tuple[str, ...]   # per page: resident | swapped | none | elsewhere | beyond | special | zswap
    prot: int
    name: str                # heap | stack | anon (what Volatility will call it)

    @property
    def end(self) -> int:
        return self.start + PAGE * len(self.pages)


SWAP_TASKS: dict[int, tuple[Vma, ...]] = {
    512: (Vma(0x400000, ("resident", "swapped", "swapped", "none"), VM_READ | VM_EXEC, "anon"),
          Vma(0x55D0C0A00000, ("swapped",) * 6 + ("resident", "elsewhere", "beyond", "special", "none",
                                                  "swapped"), VM_READ | VM_WRITE, "heap"),
          Vma(0x7FFC12340000, ("none", "none", "swapped", "swapped", "resident", "swapped"),
              VM_READ | VM_WRITE, "stack")),
    245: (Vma(0x7F0000000000, ("swapped",) * 5 + ("elsewhere", "resident", "swapped", "zswap"),
              VM_READ | VM_WRITE, "anon"),),
}
START_STACK = 0x7FFC12345FF0   # user_mm_struct's start_stack: inside the stack VMA above
VDSO = 0x7FFC12400000          # mm->context.vdso: no VMA starts there


def page_bytes(pid: int, va: int, kind: str) -> bytes:
    """The bytes of a process page (what it holds in RAM, in its slot, or on the other area)."""
    mark = {"swapped": MARK_SWAPPED, "resident": MARK_RESIDENT}.get(kind, MARK_ELSEWHERE)
    line = mark + f" pid={pid} va={va:#x} ".encode()
    line = line.ljust(PAGE // MARKS_PER_PAGE - 32, b".")
    tail = hashlib.sha256(line).digest()   # 32 bytes that make every page unique
    return (line + tail) * MARKS_PER_PAGE


def slot_bytes(mark: bytes, slot: int) -> bytes:
    return (mark + f" slot={slot} ".encode()).ljust(PAGE, b"#")


def process_pages() -> list[tuple[int, int, str]]:
    """(pid, va, kind) of every page of SWAP_TASKS, in a fixed order."""
    return [(pid, vma.start + PAGE * i, kind) for pid, vmas in sorted(SWAP_TASKS.items())
            for vma in vmas for i, kind in enumerate(vma.pages)]


# ---------------------------------------------------------------------------------------------
# the swap area, planned before the machine
@dataclass
class SwapPlan:
    pte_layout: str
    layout: SwapLayout
    area: SwapArea
    slot_of: dict[tuple[int, int], int]        # (pid, va) of a page swapped into our area -> slot
    foreign: dict[tuple[int, int], tuple[int, int]]  # (pid, va) -> (type, offset) not of our area
    swap_cache: list[int]
    stale: list[int]
    zswap: dict[tuple[int, int], int]          # (pid, va) of a page zswap held -> its (unwritten) slot

    @property
    def nr_slots(self) -> int:
        return self.layout.last_page + 1

    def extents(self) -> list[tuple[int, int, int]]:
        """struct swap_extent runs (start_page, nr_pages, start_block) of our area: one for a
        partition, one per run of consecutive blocks of a swap file (setup_swap_extents)."""
        if self.layout.file_map is None:
            return [(0, self.nr_slots, 0)]
        out: list[list[int]] = []
        for slot, block in enumerate(self.layout.file_map):
            if out and out[-1][2] + out[-1][1] == block:
                out[-1][1] += 1
            else:
                out.append([slot, 1, block])
        return [tuple(e) for e in out]  # type: ignore[misc]

    def swap_map(self) -> bytes:
        """swap_info[0]->swap_map at hibernation time: 1 for each slot in use (the image's
        slots are taken after the snapshot)."""
        m = bytearray(self.nr_slots)
        for slot in list(self.slot_of.values()) + self.swap_cache + list(self.zswap.values()):
            m[slot] = 1
        return bytes(m)

    def facts(self) -> dict[str, object]:
        procs: dict[int, dict[str, int]] = {}
        for pid, _va, kind in process_pages():
            p = procs.setdefault(pid, {"resident": 0, "recovered": 0, "elsewhere": 0, "unreadable": 0,
                                       "special": 0, "none": 0})
            key = {"swapped": "recovered", "beyond": "unreadable", "zswap": "unreadable"}.get(kind, kind)
            p[key] += 1
        return {"pte_layout": self.pte_layout, "our_type": OUR_TYPE, "nr_swapfiles": 2,
                "nr_slots": self.nr_slots, "extents": self.extents(), "processes": procs,
                "slot_of": {f"{pid}:{va:#x}": s for (pid, va), s in self.slot_of.items()},
                "foreign": {f"{pid}:{va:#x}": list(e) for (pid, va), e in self.foreign.items()},
                "swap_cache": self.swap_cache, "stale": self.stale,
                "zswap": {f"{pid}:{va:#x}": s for (pid, va), s in self.zswap.items()},
                "first_image_slot": FIRST_IMAGE_SLOT}


def plan_swap(pte_layout: str, container: str, rng: random.Random) -> SwapPlan:
    """Our swap area and what slots 1..FIRST_IMAGE_SLOT-1 hold before the image is written."""
    if pte_layout not in KERNELS:
        raise ValueError(f"swap PTE layout {pte_layout!r} (known: {', '.join(KERNELS)})")
    layout, area, _others = plan_swap_area(container, FIRST_IMAGE_SLOT, IMAGE_SLOTS, SLACK_SLOTS, 1, False, rng)
    before = list(range(1, FIRST_IMAGE_SLOT))
    rng.shuffle(before)
    pages = process_pages()
    swapped = [(pid, va) for pid, va, kind in pages if kind == "swapped"]
    slot_of = dict(zip(swapped, before))
    rest = before[len(swapped):]
    swap_cache, stale = rest[:SWAP_CACHE_SLOTS], sorted(rest[SWAP_CACHE_SLOTS:SWAP_CACHE_SLOTS + STALE_SLOTS])
    held = [(pid, va) for pid, va, kind in pages if kind == "zswap"]
    zswap = dict(zip(held, rest[SWAP_CACHE_SLOTS + STALE_SLOTS:]))
    foreign = {}
    for i, (pid, va, kind) in enumerate(p for p in pages if p[2] in ("elsewhere", "beyond", "special")):
        # entries of another type name slots that hold stale data in *our* area: a reader that
        # ignored the type would show it
        if kind == "elsewhere":
            foreign[(pid, va)] = (OTHER_TYPE, stale[i % len(stale)])
        elif kind == "special":
            foreign[(pid, va)] = (MIGRATION_TYPE, stale[(i + 1) % len(stale)])
        else:
            foreign[(pid, va)] = (OUR_TYPE, layout.last_page + 1 + 7)
    for (pid, va), slot in slot_of.items():
        area.put(layout.block(slot), page_bytes(pid, va, "swapped"))
    for slot in swap_cache:
        area.put(layout.block(slot), slot_bytes(MARK_CACHE, slot))
    for slot in stale + list(zswap.values()):   # zswap never wrote its slots: old data stays
        area.put(layout.block(slot), slot_bytes(MARK_STALE, slot))
    return SwapPlan(pte_layout, layout, area, slot_of, foreign, swap_cache, stale, zswap)


# ---------------------------------------------------------------------------------------------
# the machine's side (a step of synthkernel.build_machine)
def write_swap_state(mem, pt, lay, frames, tasks: list[tuple[int, str, int]], plan: SwapPlan) -> None:
    """The processes' VMAs and PTEs, and the kernel's swap_info[] / extents / swap_map."""
    pa_of = lambda va: va - lay.page_offset  # noqa: E731 (slab objects are direct-map addresses)
    task_va = {pid: va for pid, _comm, va in tasks}
    vma_pfn = frames.free_pfn()
    vma_slots = iter(range(vma_pfn << 12, (vma_pfn + 1) << 12, VMA_SIZE))
    mem.page(vma_pfn)
    for pid, vmas in sorted(SWAP_TASKS.items()):
        mm_va = mem.read_u64(pa_of(task_va[pid]) + TASK["mm"])
        mm_pa = pa_of(mm_va)
        pgd_pa = pa_of(mem.read_u64(mm_pa + MM["pgd"]))
        vma_pas = [next(vma_slots) for _ in vmas]
        for i, (vma, vpa) in enumerate(zip(vmas, vma_pas)):
            nxt = lay.dva(vma_pas[i + 1]) if i + 1 < len(vmas) else 0
            prv = lay.dva(vma_pas[i - 1]) if i else 0
            for name, value in (("vm_start", vma.start), ("vm_end", vma.end), ("vm_next", nxt),
                                ("vm_prev", prv), ("vm_mm", mm_va), ("vm_flags", vma.prot)):
                mem.write_u64(vpa + VMA[name], value)
            for j, kind in enumerate(vma.pages):
                _write_page(mem, pt, frames, plan, pgd_pa, pid, vma, vma.start + PAGE * j, kind)
            if vma.name == "heap":
                mem.write_u64(mm_pa + MM["start_brk"], vma.start)
                mem.write_u64(mm_pa + MM["brk"], vma.end)
        mem.write_u64(mm_pa + MM["mmap"], lay.dva(vma_pas[0]))
        mem.write(mm_pa + MM["map_count"], struct.pack("<i", len(vmas)))
        mem.write_u64(mm_pa + MM["context"] + MM_CONTEXT["vdso"], VDSO)
    _write_swap_info(mem, lay, frames, plan)


def _write_page(mem, pt, frames, plan: SwapPlan, pgd_pa: int, pid: int, vma: Vma, va: int, kind: str) -> None:
    if kind == "none":
        return
    if kind == "resident":
        pfn = frames.free_pfn()
        mem.write(pfn << 12, page_bytes(pid, va, kind))
        flags = P | US | A | (RW | D | NX if vma.prot & VM_WRITE else 0)
        pt.map(pgd_pa, va, pfn << 12, SZ_4K, flags, frames.pool_table, table_flags=USER_TABLE)
        return
    if kind == "swapped":
        swp_type, offset = OUR_TYPE, plan.slot_of[(pid, va)]
    elif kind == "zswap":
        swp_type, offset = OUR_TYPE, plan.zswap[(pid, va)]
    else:
        swp_type, offset = plan.foreign[(pid, va)]
    # the exclusive / soft-dirty bits the kernel sets on some entries are not part of the entry
    flag = (SWP_EXCLUSIVE if plan.pte_layout == "l1tf" else SWP_SOFT_DIRTY_4X) if offset % 2 else 0
    pt.set_pte(pgd_pa, va, swp_pte(plan.pte_layout, swp_type, offset, flag), frames.pool_table,
               table_flags=USER_TABLE)


def _write_swap_info(mem, lay, frames, plan: SwapPlan) -> None:
    """nr_swapfiles = 2; swap_info[0] our area (its extents in an rb-tree, its swap_map),
    swap_info[1] another device's area."""
    pfn = frames.free_pfn()
    base = pfn << 12
    mem.page(pfn)
    ours, other = base, base + SWAP_INFO_SIZE
    extents = plan.extents()
    ext_pas = [base + 2 * SWAP_INFO_SIZE + SWAP_EXTENT_SIZE * i for i in range(len(extents))]
    other_ext = base + 2 * SWAP_INFO_SIZE + SWAP_EXTENT_SIZE * len(extents)
    assert other_ext + SWAP_EXTENT_SIZE <= base + PAGE, "extents do not fit one page"
    assert plan.nr_slots <= PAGE, "swap_map is one page here"
    map_pfn = frames.free_pfn()                  # vmalloc'd in the kernel; the direct map will do
    mem.write(map_pfn << 12, plan.swap_map().ljust(PAGE, b"\0"))
    for i, (start_page, nr_pages, start_block) in enumerate(extents):
        mem.write_u64(ext_pas[i] + SWAP_EXTENT["start_page"], start_page)
        mem.write_u64(ext_pas[i] + SWAP_EXTENT["nr_pages"], nr_pages)
        mem.write_u64(ext_pas[i] + SWAP_EXTENT["start_block"], start_block)
    root = _rb_tree(mem, lay, ext_pas, 0, len(ext_pas))
    in_use = len(plan.slot_of) + len(plan.swap_cache) + len(plan.zswap)
    _swap_info_struct(mem, ours, OUR_TYPE, plan.nr_slots, in_use, lay.dva(map_pfn << 12), lay.dva(root))
    bitmap = bytearray(PAGE)                     # frontswap_map: the slots zswap holds in RAM
    for slot in plan.zswap.values():
        bitmap[slot >> 3] |= 1 << (slot & 7)
    bitmap_pfn = frames.free_pfn()
    mem.write(bitmap_pfn << 12, bytes(bitmap))
    mem.write_u64(ours + SWAP_INFO["frontswap_map"], lay.dva(bitmap_pfn << 12))
    mem.write_u64(other_ext + SWAP_EXTENT["nr_pages"], OTHER_AREA_SLOTS)   # (0, max, 0): a partition
    _swap_info_struct(mem, other, OTHER_TYPE, OTHER_AREA_SLOTS, 3, 0, lay.dva(other_ext))
    mem.write(lay.kpa("nr_swapfiles"), struct.pack("<I", 2))
    mem.write_u64(lay.kpa("swap_info"), lay.dva(ours))
    mem.write_u64(lay.kpa("swap_info") + 8, lay.dva(other))


def _rb_tree(mem, lay, nodes: list[int], lo: int, hi: int) -> int:
    """A balanced binary search tree over nodes[lo:hi] (sorted by start_page): the middle one
    is the root; returns its PA (struct swap_extent begins with its rb_node)."""
    mid = (lo + hi) // 2
    left = _rb_tree(mem, lay, nodes, lo, mid) if lo < mid else None
    right = _rb_tree(mem, lay, nodes, mid + 1, hi) if mid + 1 < hi else None
    if left is not None:
        mem.write_u64(nodes[mid] + SWAP_EXTENT["rb_node"] + 0x10, lay.dva(left))   # rb_left
    if right is not None:
        mem.write_u64(nodes[mid] + SWAP_EXTENT["rb_node"] + 0x8, lay.dva(right))   # rb_right
    return nodes[mid]


def _swap_info_struct(mem, pa: int, swp_type: int, max_slots: int, inuse: int, swap_map_va: int,
                      root_va: int) -> None:
    mem.write_u64(pa + SWAP_INFO["flags"], SWP_USED | SWP_WRITEOK | SWP_BLKDEV)
    mem.write(pa + SWAP_INFO["type"], bytes([swp_type]))
    mem.write(pa + SWAP_INFO["max"], struct.pack("<I", max_slots))
    mem.write(pa + SWAP_INFO["pages"], struct.pack("<I", max_slots - 1))
    mem.write(pa + SWAP_INFO["inuse_pages"], struct.pack("<I", inuse))
    mem.write_u64(pa + SWAP_INFO["swap_map"], swap_map_va)
    mem.write_u64(pa + SWAP_INFO["swap_extent_root"], root_va)

