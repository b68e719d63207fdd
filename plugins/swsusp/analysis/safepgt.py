"""The safepgt analysis, start to end, on plain read functions (no Volatility):

    the image kernel's tables (restore record cr3) or a dump's (cr3 given or found)
    -> its direct map and PUD/PMD slots
    -> with the resume-time kernel's memory: slots paired by physical region (compare.py)
       and the live-table restore replayed (restore.py)
    -> safe tables rebuilt in frames the image does not contain, and verified.
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ..paging import directmap, scan, walk
from ..paging.errors import NonCanonicalAddress
from . import compare, restore, safe_tables

PAGE = 4096
ReadPhys = Callable[[int, int], bytes]

NO_DUMP_ASSUMPTION = (
    "no resume-time dump: assumed the boot kernel is the same kernel at the same place, its page "
    "tables in the image kernel's table frames, its kernel image in the same frames; every other "
    "image frame free (loaded in place before the copy loop)"
)
DUMP_ASSUMPTION = (
    "frames free in the boot kernel: those all-zero in the resume-time dump and not among its page "
    "tables or kernel image (loaded in place); all others copied by the final loop, in reverse load order"
)


@dataclass
class KernelTables:
    """One kernel's page tables and direct map.  `problems` are the loops, unreadable tables
    and reserved entries met while enumerating the kernel half (each table once); `max_pa`
    is the end of physical memory when known (a RAM dump), to flag leaves beyond it."""

    label: str
    read: ReadPhys
    paging: walk.Paging
    direct_map: directmap.DirectMap
    root_how: str
    slots: List[directmap.SlotRecord] = field(default_factory=list)
    max_pa: Optional[int] = None
    problems: List[walk.Problem] = field(default_factory=list)
    _frames: Optional[List[int]] = None

    def table_frames(self) -> List[int]:
        """Frames of every table of the kernel half (root included)."""
        if self._frames is None:
            problems: List[walk.Problem] = []
            self._frames = sorted({t.pa // PAGE for t in self.paging.tables(self.paging.kernel_half, problems=problems,
                                                                           shared=False)})
            self.problems = problems
        return self._frames

    def text_frames(self) -> List[Tuple[int, int]]:
        return [(pa // PAGE, -(-(pa + size) // PAGE)) for _va, pa, size in safe_tables.kernel_text_leaves(self.paging)]


def _with_slots(kt: KernelTables) -> KernelTables:
    kt.slots = list(directmap.direct_map_slots(kt.paging, kt.direct_map, max_pa=kt.max_pa))
    kt.table_frames()  # and the problems of the kernel half
    return kt


PROBLEMS_NAMED = 3  # in an error message


def _no_direct_map(paging: walk.Paging, what: str) -> str:
    """Why no direct map was found under `paging`: the root, or the first problems met."""
    if paging.table(paging.root) is None:
        return f"{what}: its top-level table at {paging.root:#x} cannot be read"
    problems: List[walk.Problem] = []
    for _ in paging.tables(paging.kernel_half, problems=problems, shared=False):
        pass
    if not problems:
        return f"{what}: no page in its kernel half maps at a 1 GiB-aligned offset from its physical address"
    named = "; ".join(str(p) for p in problems[:PROBLEMS_NAMED])
    more = f" (and {len(problems) - PROBLEMS_NAMED} more)" if len(problems) > PROBLEMS_NAMED else ""
    return f"{what}; page-table problems: {named}{more}"


def image_paging(image) -> Tuple[walk.Paging, directmap.DirectMap]:
    """The hibernated kernel's tables (restore-record cr3; spec §10 steps 1-2) and direct map."""
    record = image.info.record
    if record is None:
        raise ValueError("the image has no x86-64 restore record (a kernel before 2.6.24): give --cr3")
    paging = walk.kernel_paging(image.read, record.cr3, record.jump_address, record.jump_address_phys,
                                (image.max_pfn + 1) * PAGE)
    if paging is None:
        raise ValueError(f"restore record cr3 {record.cr3:#x} does not translate jump_address to jump_address_phys"
                         + _where_walk_ends(image.read, record.cr3, record.jump_address))
    dm = directmap.find_direct_map(paging)
    if dm is None:
        raise ValueError(_no_direct_map(paging, f"no direct map under the image's cr3 {record.cr3:#x}"))
    return paging, dm


def _where_walk_ends(read: ReadPhys, cr3: int, va: int) -> str:
    """'; the 4-level walk of VA ends at <its last step>' (what an analyst checks first)."""
    try:
        steps = walk.Paging(read, cr3).walk(va)
    except NonCanonicalAddress as exc:
        return f" ({exc})"
    return f"; the 4-level walk of {va:#x} ends at {steps[-1]}"


def kernel_from_image(image) -> KernelTables:
    paging, dm = image_paging(image)
    return _with_slots(KernelTables("image", image.read, paging, dm, f"restore record cr3 {image.info.record.cr3:#x}"))


def kernel_from_dump(read: ReadPhys, max_pa: int, label: str, cr3: Optional[int] = None,
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
                return _with_slots(KernelTables(label, read, paging, dm, f"given cr3 {cr3:#x}", max_pa=memory_end))
        raise ValueError(_no_direct_map(walk.Paging(read, root, 4, sme), f"no direct map under cr3 {cr3:#x} in the {label}"))
    if progress:
        progress(0.0, f"Scanning the {label} for page-table roots")
    found = scan.find_cr3(read, max_pa, ranges=ranges) or scan.find_cr3(read, max_pa, levels=5, ranges=ranges)
    if not found:
        raise ValueError(f"no kernel page-table root found in the {label}: give its cr3")
    best = found[0]  # the kernel's own init_top_pgt comes first
    paging = walk.Paging(read, best.pa, best.levels)
    how = f"found by scanning ({len(found)} candidates; {'init_top_pgt' if best.in_kernel_image else 'a process PGD'})"
    return _with_slots(KernelTables(label, read, paging, best.direct_map, f"cr3 {best.pa:#x} {how}", max_pa=memory_end))


def list_order(image) -> List[int]:
    """The image's PFN list in list order (zero pages merged in PFN order when ascending)."""
    data = list(image.pfn_of_data_page())
    zero = list(image.pfns.zero_pfns)
    return sorted(data + zero) if image.pfns.ascending else data + zero


def _in_ranges(ranges: List[Tuple[int, int]]):
    ranges = sorted(ranges)
    import bisect

    starts = [r[0] for r in ranges]

    def inside(pfn: int) -> bool:
        i = bisect.bisect_right(starts, pfn) - 1
        return i >= 0 and pfn < ranges[i][1]

    return inside


def restore_order(image, image_kt: KernelTables, boot: Optional[KernelTables]) -> Tuple[restore.RestoreOrder, str]:
    """The copy order of spec §8.3 under the free-frame model said in the returned text."""
    model = boot or image_kt
    tables = set(model.table_frames())
    text = _in_ranges(model.text_frames())
    if boot is None:
        in_use = lambda pfn: pfn in tables or text(pfn)  # noqa: E731
        return restore.RestoreOrder(list_order(image), in_use), NO_DUMP_ASSUMPTION

    def in_use(pfn: int) -> bool:
        if pfn in tables or text(pfn):
            return True
        try:
            return any(boot.read(pfn * PAGE, PAGE))
        except KeyError:  # the ReadPhys contract: not RAM in the boot kernel
            return False

    return restore.RestoreOrder(list_order(image), in_use), DUMP_ASSUMPTION


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


def analyse(kt: KernelTables, image=None, resume: Optional[KernelTables] = None, rebuild: bool = False,
            alloc_range: Optional[Tuple[int, int]] = None) -> Analysis:
    """`kt` is the image's (or a dump's) kernel; `image` the SwsuspImage when there is one."""
    if resume is not None:
        pairs = compare.compare_slots(kt.slots, resume.slots)
    else:
        pairs = [compare.SlotPair(s.level.linux, s.pa_start, s.pa_end, s, None, None) for s in kt.slots]
    hazards: Dict[Tuple[int, int], restore.Hazard] = {}
    exposure: Dict[int, Tuple[int, Optional[int]]] = {}
    order = assumption = None
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
        except ValueError as exc:  # NoSafeFrame, or mappings that overlap: said in the output
            result.rebuild_error = str(exc)
    return result


def rebuild_safe(kt: KernelTables, image, resume: Optional[KernelTables], alloc_range=None):
    """Safe tables for `kt` in frames the image does not contain and, with a resume-time dump,
    that are RAM there, all-zero (free) and not among that kernel's own tables."""
    listed = image.has_pfn if image is not None else (lambda pfn: False)
    boot_tables = set(resume.table_frames()) if resume is not None else set()

    def unsafe(pfn: int) -> bool:
        if listed(pfn) or pfn in boot_tables:
            return True
        if resume is None:
            return False
        try:
            return any(resume.read(pfn * PAGE, PAGE))
        except KeyError:  # the ReadPhys contract: not RAM in the resume-time kernel
            return True

    if alloc_range is None:
        top = kt.direct_map.max_pa // PAGE
        alloc_range = (0x100, top)  # above the first MiB (BIOS, real-mode trampoline)
    safe = safe_tables.rebuild(kt.paging, kt.direct_map, unsafe, alloc_range)
    return safe, safe_tables.verify(safe, kt.paging, kt.direct_map)


# -- a resume that hung ----------------------------------------------------------------------

BANNER = b"Linux version "


@dataclass
class HungResume:
    """Memory as it stood after copy #copied of the final loop (spec §8.3), and what the boot
    kernel's own tables and the rebuilt safe tables make of it."""

    copied: int
    broken: List[restore.Hazard]
    checks: List[Tuple[str, str, str]]  # (what, through native tables, through rebuilt tables)


def _overlay(pages: Dict[int, bytearray], read: ReadPhys) -> ReadPhys:
    def overlay(pa: int, n: int) -> bytes:
        page = pages.get(pa // PAGE)
        return bytes(page[pa % PAGE : pa % PAGE + n]) if page is not None else read(pa, n)

    return overlay


def _read_virtual(paging: walk.Paging, read: ReadPhys, va: int, n: int) -> Tuple[Optional[bytes], str]:
    pa = paging.translate(va)
    if pa is None:
        steps = paging.walk(va)
        return None, f"no translation ({steps[-1].level.linux} entry {steps[-1].status})" if steps else "no translation"
    try:
        return read(pa, n), f"-> {pa:#x}"
    except KeyError:  # the ReadPhys contract
        return None, f"-> {pa:#x}, not in memory"


def hung_resume(result: Analysis, image, copied: int) -> HungResume:
    """Replay the copy loop up to copy #copied on the boot kernel's live tables (needs the
    resume-time dump); report what is broken then, and read the kernel banner through the
    boot kernel's direct map and through the rebuilt tables (image kernel's direct map)."""
    boot, order = result.resume, result.order
    if boot is None or order is None:
        raise ValueError("--copied needs both a hibernation image and --resume-dump")
    copied = max(0, min(copied, order.copies))
    state = restore.StateAt(boot.read, image.read, order).reader(copied)
    broken = [h for h in result.hazards.values()
              if h.broken_at <= copied and (h.repaired_at is None or h.repaired_at > copied)]
    native = walk.Paging(state, boot.paging.root, boot.paging.n_levels, boot.paging.sme_mask)
    checks = []
    for pa in _banner_addresses(state, boot):
        want = state(pa, len(BANNER))
        got_native, how_native = _read_virtual(native, state, boot.direct_map.va(pa), len(BANNER))
        rebuilt_text = "not rebuilt (use --rebuild)"
        if result.safe is not None:
            safe = walk.Paging(_overlay(result.safe.pages, state), result.safe.root, result.safe.levels)
            got, how = _read_virtual(safe, state, result.image.direct_map.va(pa), len(BANNER))
            rebuilt_text = f"{'reads the banner' if got == want else 'WRONG BYTES'} at {result.image.direct_map.va(pa):#x} {how}"
        native_text = f"{'reads the banner' if got_native == want else 'fails'} at {boot.direct_map.va(pa):#x} {how_native}"
        checks.append((f"kernel banner at physical {pa:#x}", native_text, rebuilt_text))
    safe = None
    if result.safe is not None:
        safe = walk.Paging(_overlay(result.safe.pages, state), result.safe.root, result.safe.levels)
    for h in sorted(broken, key=lambda h: h.pa_start)[:4]:  # where the boot kernel's tables now lead
        now = native.translate(boot.direct_map.va(h.pa_start))
        native_text = f"{boot.direct_map.va(h.pa_start):#x} -> " + (f"{now:#x}" if now is not None else "no translation")
        rebuilt_text = "not rebuilt (use --rebuild)"
        if safe is not None:
            got = safe.translate(result.image.direct_map.va(h.pa_start))
            rebuilt_text = f"{result.image.direct_map.va(h.pa_start):#x} -> " + (f"{got:#x}" if got is not None else "no translation")
        checks.append((f"direct map of physical {h.pa_start:#x}", native_text, rebuilt_text))
    return HungResume(copied, sorted(broken, key=lambda h: h.pa_start), checks)


def _banner_addresses(read: ReadPhys, boot: KernelTables, limit: int = 1) -> List[int]:
    """Where the kernel banner is in memory now: searched in the boot kernel's image range."""
    found = []
    for first, end in sorted(boot.text_frames()):
        for pfn in range(first, end):
            try:
                page = read(pfn * PAGE, PAGE)
            except KeyError:  # the ReadPhys contract: not in memory
                continue
            at = page.find(BANNER)
            if at >= 0:
                found.append(pfn * PAGE + at)
                if len(found) >= limit:
                    return found
    return found
