"""One kernel's page tables and direct map, found from what the analysis is given (docs/format.md §10):
a hibernation image's restore record, or a RAM dump with its cr3 given or found by scanning.
Every failure is an AnalysisError naming the first problem met."""

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from ..memory import PAGE_SIZE
from ..paging import directmap, scan, walk
from ..paging.errors import NonCanonicalAddress
from . import safe_tables
from .errors import NoDirectMap, NoPageTableRoot, NoRestoreRecord, RecordCr3Unusable
from .image import HibernationImage, RestoreRecord

PROBLEMS_NAMED = 3  # in an error message


def read_frame(read: walk.ReadPhys, pfn: int) -> Optional[bytes]:
    """Frame `pfn`'s 4096 bytes, or None where that memory has none (the ReadPhys contract)."""
    try:
        return read(pfn * PAGE_SIZE, PAGE_SIZE)
    except KeyError:
        return None


@dataclass
class KernelTables:
    """One kernel's page tables and direct map.  `problems` are the loops, unreadable tables
    and reserved entries met while enumerating the kernel half (each table once); `max_pa`
    is the end of physical memory when known (a RAM dump), to flag leaves beyond it."""

    label: str
    read: walk.ReadPhys
    paging: walk.Paging
    direct_map: directmap.DirectMap
    root_how: str
    slots: List[directmap.SlotRecord] = field(default_factory=list)
    max_pa: Optional[int] = None
    problems: List[walk.Problem] = field(default_factory=list)
    _frames: Optional[List[int]] = field(default=None, init=False, repr=False, compare=False)

    def table_frames(self) -> List[int]:
        """Frames of every table of the kernel half (root included), enumerated once."""
        if self._frames is None:
            problems: List[walk.Problem] = []
            tables = self.paging.tables(self.paging.kernel_half, problems=problems, shared=False)
            self._frames = sorted({t.pa // PAGE_SIZE for t in tables})
            self.problems = problems
        return self._frames

    def text_frames(self) -> List[Tuple[int, int]]:
        leaves = safe_tables.kernel_text_leaves(self.paging)
        return [(pa // PAGE_SIZE, -(-(pa + size) // PAGE_SIZE)) for _va, pa, size in leaves]


def with_slots(kt: KernelTables) -> KernelTables:
    """`kt` with its direct-map slots listed and the problems of its kernel half found."""
    kt.slots = list(directmap.direct_map_slots(kt.paging, kt.direct_map, max_pa=kt.max_pa))
    kt.table_frames()
    return kt


def _no_direct_map(paging: walk.Paging, what: str) -> NoDirectMap:
    """Why no direct map was found under `paging`: the root, or the first problems met."""
    if paging.table(paging.root) is None:
        return NoDirectMap(f"{what}: its top-level table at {paging.root:#x} cannot be read")
    problems: List[walk.Problem] = []
    for _ in paging.tables(paging.kernel_half, problems=problems, shared=False):
        pass
    if not problems:
        return NoDirectMap(f"{what}: no page in its kernel half maps at a 1 GiB-aligned offset "
                           "from its physical address")
    named = "; ".join(str(p) for p in problems[:PROBLEMS_NAMED])
    more = f" (and {len(problems) - PROBLEMS_NAMED} more)" if len(problems) > PROBLEMS_NAMED else ""
    return NoDirectMap(f"{what}; page-table problems: {named}{more}")


def _record(image: HibernationImage) -> RestoreRecord:
    record = image.info.record
    if record is None:
        raise NoRestoreRecord("the image has no x86-64 restore record (a kernel before 2.6.24)")
    return record


def record_paging(image: HibernationImage) -> walk.Paging:
    """The hibernated kernel's page tables from its restore record (docs/format.md §10 steps 1-2:
    SME bit, PTI kernel half, 4 or 5 levels by the walk of jump_address).  Raises
    NoRestoreRecord, or RecordCr3Unusable naming where the walk of jump_address ends."""
    record = _record(image)
    paging = walk.kernel_paging(image.read, record.cr3, record.jump_address, record.jump_address_phys,
                                (image.max_pfn + 1) * PAGE_SIZE)
    if paging is None:
        raise RecordCr3Unusable(f"restore record cr3 {record.cr3:#x} does not translate jump_address to "
                                "jump_address_phys" + _where_walk_ends(image.read, record.cr3, record.jump_address))
    return paging


def image_paging(image: HibernationImage) -> Tuple[walk.Paging, directmap.DirectMap]:
    """The hibernated kernel's tables (record_paging) and direct map."""
    record = _record(image)
    paging = record_paging(image)
    dm = directmap.find_direct_map(paging)
    if dm is None:
        raise _no_direct_map(paging, f"no direct map under the image's cr3 {record.cr3:#x}")
    return paging, dm


def _where_walk_ends(read: walk.ReadPhys, cr3: int, va: int) -> str:
    """'; the 4-level walk of VA ends at <its last step>' (what an analyst checks first)."""
    try:
        steps = walk.Paging(read, cr3).walk(va)
    except NonCanonicalAddress as exc:
        return f" ({exc})"
    return f"; the 4-level walk of {va:#x} ends at {steps[-1]}"


def kernel_from_image(image: HibernationImage) -> KernelTables:
    paging, dm = image_paging(image)
    return with_slots(KernelTables("image", image.read, paging, dm, f"restore record cr3 {_record(image).cr3:#x}"))


def kernel_from_dump(read: walk.ReadPhys, max_pa: int, label: str, cr3: Optional[int] = None,
                     progress: Optional[Callable[[float, str], None]] = None,
                     ranges: Optional[List[Tuple[int, int]]] = None, memory_end: Optional[int] = None) -> KernelTables:
    """A RAM dump's kernel tables, from `cr3` or found by scanning below `max_pa`.
    `memory_end` (a RAM dump's last address + 1; None for a hibernation image, whose free
    pages are not saved) flags direct-map leaves beyond it."""
    if cr3 is not None:
        sme = walk.detect_sme_bit(read, cr3, max_pa)
        root = walk.pti_kernel_root(read, cr3 & walk.CR3_ADDR_MASK & ~sme)
        for levels in (4, 5):
            paging = walk.Paging(read, root, levels, sme)
            dm = directmap.find_direct_map(paging)
            if dm is not None:
                return with_slots(KernelTables(label, read, paging, dm, f"given cr3 {cr3:#x}", max_pa=memory_end))
        raise _no_direct_map(walk.Paging(read, root, 4, sme), f"no direct map under cr3 {cr3:#x} in the {label}")
    if progress:
        progress(0.0, f"Scanning the {label} for page-table roots")
    found = scan.find_cr3(read, max_pa, ranges=ranges) or scan.find_cr3(read, max_pa, levels=5, ranges=ranges)
    if not found:
        raise NoPageTableRoot(f"no kernel page-table root found in the {label}: give its cr3")
    best = found[0]  # the kernel's own init_top_pgt comes first
    paging = walk.Paging(read, best.pa, best.levels)
    how = f"found by scanning ({len(found)} candidates; {'init_top_pgt' if best.in_kernel_image else 'a process PGD'})"
    return with_slots(KernelTables(label, read, paging, best.direct_map, f"cr3 {best.pa:#x} {how}", max_pa=memory_end))
