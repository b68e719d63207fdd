"""The safepgt analysis, start to end, on plain read functions (no Volatility):

    the image kernel's tables (restore record cr3) or a dump's (cr3 given or found; kernel_tables.py)
    -> its direct map and PUD/PMD slots
    -> with the resume-time kernel's memory: slots paired by physical region (compare.py)
       and the live-table restore replayed (restore.py)
    -> safe tables rebuilt in frames the image does not contain, and verified (safe_tables.py).

A hung resume, replayed to one copy of the final loop, is in hung_resume.py.
"""

import bisect
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from ..memory import PAGE_SIZE
from . import compare, restore, safe_tables
from .errors import RebuildError
from .image import HibernationImage
from .kernel_tables import KernelTables, read_frame

NO_DUMP_ASSUMPTION = (
    "no resume-time dump: assumed the boot kernel is the same kernel at the same place, its page "
    "tables in the image kernel's table frames, its kernel image in the same frames; every other "
    "image frame free (loaded in place before the copy loop)"
)
DUMP_ASSUMPTION = (
    "frames free in the boot kernel: those all-zero in the resume-time dump and not among its page "
    "tables or kernel image (loaded in place); all others copied by the final loop, in reverse load order"
)


def list_order(image: HibernationImage) -> List[int]:
    """The image's PFN list in list order (zero pages merged in PFN order when ascending)."""
    data = list(image.pfn_of_data_page())
    zero = list(image.pfns.zero_pfns)
    return sorted(data + zero) if image.pfns.ascending else data + zero


def _in_ranges(ranges: List[Tuple[int, int]]) -> Callable[[int], bool]:
    ranges = sorted(ranges)
    starts = [r[0] for r in ranges]

    def inside(pfn: int) -> bool:
        i = bisect.bisect_right(starts, pfn) - 1
        return i >= 0 and pfn < ranges[i][1]

    return inside


def restore_order(image: HibernationImage, image_kt: KernelTables,
                  boot: Optional[KernelTables]) -> Tuple[restore.RestoreOrder, str]:
    """The copy order of docs/format.md §8.3 under the free-frame model said in the returned text."""
    model = boot or image_kt
    tables = set(model.table_frames())
    text = _in_ranges(model.text_frames())

    def in_use(pfn: int) -> bool:
        """The boot kernel holds the frame: the page goes to a safe page, then the final loop."""
        if pfn in tables or text(pfn):
            return True
        if boot is None:
            return False
        page = read_frame(boot.read, pfn)
        return page is not None and any(page)  # not RAM in the boot kernel: free

    return restore.RestoreOrder(list_order(image), in_use), NO_DUMP_ASSUMPTION if boot is None else DUMP_ASSUMPTION


def boot_regions(boot: KernelTables) -> List[Tuple[int, int]]:
    """The boot kernel's direct-map regions at the granularity its entries give."""
    regions = []
    for slot in boot.slots:
        entry = slot.entry
        if entry is None or not entry.present:
            continue
        if entry.is_leaf or slot.level.linux == "PMD":
            regions.append((slot.pa_start, slot.pa_end))
    return regions


@dataclass
class Analysis:
    image: KernelTables
    resume: Optional[KernelTables]
    pairs: List[compare.SlotPair]
    summary: Dict[str, int]
    hazards: Dict[Tuple[int, int], restore.Hazard]
    exposure: Dict[int, Tuple[int, Optional[int]]]  # entry_pa -> (t(entry frame), t(target))
    assumption: Optional[str]
    order: Optional[restore.RestoreOrder]
    safe: Optional[safe_tables.SafeTables] = None
    verification: Optional[safe_tables.Verification] = None
    rebuild_error: Optional[str] = None  # why --rebuild built nothing (no safe frame left ...)


def analyse(kt: KernelTables, image: Optional[HibernationImage] = None, resume: Optional[KernelTables] = None,
            rebuild: bool = False, alloc_range: Optional[Tuple[int, int]] = None) -> Analysis:
    """`kt` is the image's (or a dump's) kernel; `image` the hibernation image when there is one."""
    if resume is not None:
        pairs = compare.compare_slots(kt.slots, resume.slots)
    else:
        pairs = [compare.SlotPair(s.level.linux, s.pa_start, s.pa_end, s, None, None) for s in kt.slots]
    hazards: Dict[Tuple[int, int], restore.Hazard] = {}
    exposure: Dict[int, Tuple[int, Optional[int]]] = {}
    order: Optional[restore.RestoreOrder] = None
    assumption: Optional[str] = None
    if image is not None:
        order, assumption = restore_order(image, kt, resume)
        if resume is not None:
            for h in restore.simulate_hazards(resume.read, resume.paging.root, resume.paging.n_levels,
                                              resume.direct_map.base, boot_regions(resume), image.read, order,
                                              resume.paging.sme_mask):
                hazards.setdefault((h.pa_start, h.pa_end), h)
        else:
            for slot, t_entry, t_target in restore.order_exposure(kt.slots, order):
                exposure[slot.entry_pa] = (t_entry, t_target)
    result = Analysis(kt, resume, pairs, compare.summary(pairs), hazards, exposure, assumption, order)
    if rebuild:
        try:
            result.safe, result.verification = rebuild_safe(kt, image, resume, alloc_range)
        except RebuildError as exc:  # no safe frame left, mappings that overlap: said in the output
            result.rebuild_error = str(exc)
    return result


def rebuild_safe(kt: KernelTables, image: Optional[HibernationImage], resume: Optional[KernelTables],
                 alloc_range: Optional[Tuple[int, int]] = None
                 ) -> Tuple[safe_tables.SafeTables, safe_tables.Verification]:
    """Safe tables for `kt` in frames the image does not contain and, with a resume-time dump,
    that are RAM there, all-zero (free) and not among that kernel's own tables."""
    boot_tables = set(resume.table_frames()) if resume is not None else set()

    def unsafe(pfn: int) -> bool:
        if (image is not None and image.has_pfn(pfn)) or pfn in boot_tables:
            return True
        if resume is None:
            return False
        page = read_frame(resume.read, pfn)
        return page is None or any(page)  # not RAM in the resume-time kernel, or in use there

    if alloc_range is None:
        top = kt.direct_map.max_pa // PAGE_SIZE
        alloc_range = (0x100, top)  # above the first MiB (BIOS, real-mode trampoline)
    safe = safe_tables.rebuild(kt.paging, kt.direct_map, unsafe, alloc_range)
    return safe, safe_tables.verify(safe, kt.paging, kt.direct_map)
