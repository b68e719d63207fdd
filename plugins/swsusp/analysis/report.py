"""What linux.swsusp_safepgt shows, as plain values: its tables' columns and rows, the texts in
them, and the description written beside the rebuilt tables.  No Volatility: the plugin turns
these rows into renderer values (`HEX` columns into hex, `None` into "not applicable",
`UNREADABLE` into "unreadable").

Slot table: one row per direct-map PUD/PMD slot (slot_rows), then the kernel-half entries the
enumeration refused to follow (problem_rows), the summary (summary_rows) and, with --copied,
the hung resume (hung_rows).  Explain table: one row per step of a page walk (explain_rows).
"""

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..memory import PAGE_SIZE
from ..paging import walk
from ..paging.entries import decode
from .compare import MERGED, SPLIT, SlotPair
from .hung_resume import HungResume
from .kernel_tables import KernelTables
from .safe_tables import SafeTables, Verification
from .safepgt import Analysis

HEX = "hex"  # a column of addresses and entries, shown in hex


class _Unreadable:
    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE = _Unreadable()  # a value that could not be read (an entry of an unreadable table)

Row = Tuple[Any, ...]

SLOT_COLUMNS = [
    ("Level", str), ("Virtual", HEX), ("Physical", HEX), ("Physical end", HEX), ("Entry address", HEX),
    ("Entry", HEX), ("Flags", str), ("Kind", str), ("Resume kind", str), ("Finding", str),
    ("Restore hazard", str), ("Safe tables", str), ("Problem", str),
]
EXPLAIN_COLUMNS = [
    ("Tables", str), ("Address", HEX), ("Step", int), ("Level", str), ("Index", int), ("Table", HEX),
    ("Entry address", HEX), ("Entry", HEX), ("Flags", str), ("Result", str),
]
HUNG_SHOWN = 16  # broken regions listed in the hung-resume rows

MODERN_KERNELS = ("immune: the copy runs on temporary tables built in frames the image does not contain "
                  "(set_up_temporary_mappings), which no copy overwrites")


# -- the slot table ------------------------------------------------------------------------

def slot_rows(result: Analysis) -> Iterator[Row]:
    """One row per slot that either kernel maps, or that has a problem."""
    safe_paging = None
    if result.safe is not None:
        safe_paging = walk.Paging(result.safe.read, result.safe.root, result.safe.levels)
    base = result.image.direct_map.base
    for pair in result.pairs:
        slot = pair.image
        if slot is None and pair.resume is None:
            continue
        problem = slot_problem(pair)
        if slot is not None and pair.finding is None and not (slot.entry and slot.entry.present) and not problem:
            continue  # neither kernel maps this region
        safe = "-"
        if safe_paging is not None and slot is not None and slot.entry and slot.entry.present:
            good = safe_paging.translate(base + pair.pa_start) == pair.pa_start
            safe = "maps correctly" if good else "NOT MAPPED"
        yield (
            pair.level,
            base + pair.pa_start,
            pair.pa_start,
            pair.pa_end,
            slot.entry_pa if slot else None,
            slot.value if slot else None,
            slot.entry.flags_text() if slot and slot.entry and slot.entry.present else "",
            slot.kind if slot else "not present",  # beyond that kernel's direct map
            pair.resume.kind if pair.resume else ("not present" if result.resume else "-"),
            pair.finding or "-",
            hazard_text(result, pair),
            safe,
            problem,
        )


def slot_problem(pair: SlotPair) -> str:
    texts = []
    if pair.image is not None and pair.image.problem:
        texts.append(pair.image.problem_text)
    if pair.resume is not None and pair.resume.problem:
        texts.append(f"resume-time kernel: {pair.resume.problem_text}")
    return "; ".join(texts)


def hazard_text(result: Analysis, pair: SlotPair) -> str:
    """What the restore does to the slot: its hazard on live tables (with a resume-time dump),
    or whether the image restores its entry before the table it points to (without)."""
    if result.order is None:
        return "-"
    if result.resume is not None:
        hazard = result.hazards.get((pair.pa_start, pair.pa_end))
        if hazard:
            return hazard.describe()
        inside = sorted((h.pa_start, h) for h in result.hazards.values()
                        if pair.pa_start <= h.pa_start and h.pa_end <= pair.pa_end)
        if pair.level == "PUD" and pair.finding in (SPLIT, MERGED) and inside:
            return f"{len(inside)} of its 2 MiB regions break; first: {inside[0][1].describe()}"
        return "intact"
    slot = pair.image
    exposed = result.exposure.get(slot.entry_pa) if slot else None
    if not exposed:
        return "-"
    t_entry, t_target = exposed
    target = "a frame the image does not contain" if t_target is None else f"restored at copy #{t_target}"
    return f"entry restored at copy #{t_entry}, before its table ({target})"


def problem_rows(result: Analysis) -> Iterator[Row]:
    """Kernel-half entries that the enumeration refused to follow and that no slot row
    shows already (outside the direct map: vmalloc, vmemmap, kernel text ...)."""
    kernels = [(result.image, "", [p.image for p in result.pairs])]
    if result.resume is not None:
        kernels.append((result.resume, "resume-time kernel: ", [p.resume for p in result.pairs]))
    for kt, prefix, slots in kernels:
        shown = {s.entry_pa for s in slots if s is not None and s.problem}
        for problem in kt.problems:
            if problem.entry_pa in shown:
                continue
            value = problem.value
            flags = decode(value, problem.level, kt.paging.sme_mask).flags_text() if value is not None else ""
            yield (problem.level.linux, problem.va, None, None, problem.entry_pa, value, flags, problem.kind,
                   "-", "-", "-", "-", prefix + str(problem))


def problem_count(kt: KernelTables) -> str:
    """'none', or the count by kind and the first one (the rows say where the others are)."""
    slot_problems = [s for s in kt.slots if s.problem]
    shown = {s.entry_pa for s in slot_problems}
    others = [p for p in kt.problems if p.entry_pa not in shown]  # the same entry counts once
    if not others and not slot_problems:
        return "none"
    kinds: Dict[str, int] = {}
    for kind in [p.kind for p in others] + [s.problem for s in slot_problems if s.problem]:
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) + " (see the Problem column)"


def _summary(what: str, value: object) -> Row:
    return ("summary", None, None, None, None, None, "", what, "", str(value), "", "", "")


def summary_rows(result: Analysis, is_image: bool, written: Sequence[str],
                 folder: Optional[str] = None) -> Iterator[Row]:
    """The direct maps and how they were found, the findings counted, the restore model, the
    rebuilt tables and the files written (`written`, read when the rows are) into `folder`
    (-o, which is the current folder when not given; None when the file handler does not say)."""
    yield _summary("image direct map" if is_image else "direct map", result.image.direct_map)
    yield _summary("page-table root", result.image.root_how)
    yield _summary("page-table problems", problem_count(result.image))
    if result.resume is not None:
        yield _summary("resume-time direct map", result.resume.direct_map)
        yield _summary("resume-time page-table root", result.resume.root_how)
        yield _summary("resume-time page-table problems", problem_count(result.resume))
        for finding, count in result.summary.items():
            yield _summary(f"slots {finding}", count)
    if result.order is not None:
        yield _summary("restore model", result.assumption)
        yield _summary("pages copied by the final loop", result.order.copies)
        if result.resume is not None:
            faults = sorted((h.fault_copy, h) for h in result.hazards.values() if h.fault_copy is not None)
            yield _summary("regions broken on live tables (pre-2005 restore)", len(result.hazards))
            if faults:
                first = faults[0][1]
                yield _summary("first faulting copy",
                               f"#{first.fault_copy} (PFN {first.fault_pfn:#x}, region {first.pa_start:#x})")
        else:
            yield _summary("entries live before their table (if the boot kernel's tables differ)", len(result.exposure))
        yield _summary("modern kernels", MODERN_KERNELS)
    if result.rebuild_error is not None:
        yield _summary("rebuilt safe tables", f"not built: {result.rebuild_error}")
    if result.safe is not None:
        frames = ", ".join(f"{p << 12:#x}" for p in result.safe.frames)
        yield _summary("rebuilt safe tables",
                       f"root {result.safe.root:#x}; frames {frames}; leaves {result.safe.leaf_counts}")
        v = result.verification
        if v is not None:
            yield _summary("rebuilt tables verified", f"{v.pages} direct-map pages translate identically"
                           if v.ok else f"{len(v.mismatches)} MISMATCHES, first {v.mismatches[0]}")
    if written:
        yield _summary("files written", ", ".join(written))
        if folder is not None:
            yield _summary("output folder", f"{folder} (-o; without -o, the current folder)")


def hung_rows(hung: HungResume) -> Iterator[Row]:
    def row(what: str, value: object, extra: str = "") -> Row:
        return ("hung resume", None, None, None, None, None, "", what, "", str(value), extra, "", "")

    yield row(f"after copy #{hung.copied}", f"{len(hung.broken)} direct-map regions broken on the boot kernel's tables")
    for h in hung.broken[:HUNG_SHOWN]:
        yield ("hung resume", h.va, h.pa_start, h.pa_end, None, None, "", "broken region", "", "", h.describe(), "", "")
    for what, native, rebuilt in hung.checks:
        yield row(what, f"boot kernel's tables: {native}", f"rebuilt safe tables: {rebuilt}")


# -- the explain table ---------------------------------------------------------------------

def explain_rows(result: Analysis, va: int, is_image: bool) -> Iterator[Row]:
    """The walk of `va` step by step under the image's (or dump's) tables, the rebuilt tables,
    and the resume-time kernel's tables at the same physical address.  NonCanonicalAddress
    when `va` is not canonical."""
    walks: List[Tuple[str, walk.Paging, int]] = [("image" if is_image else "dump", result.image.paging, va)]
    if result.safe is not None:
        walks.append(("rebuilt", walk.Paging(result.safe.read, result.safe.root, result.safe.levels), va))
    if result.resume is not None:
        pa = result.image.direct_map.pa(va)
        if pa is not None:
            walks.append(("resume-time", result.resume.paging, result.resume.direct_map.va(pa)))
    for label, paging, addr in walks:
        for number, step in enumerate(paging.walk(addr), 1):
            entry = step.entry
            yield (label, addr, number, step.level.name, step.index, step.table_pa, step.entry_pa,
                   entry.value if entry else UNREADABLE, entry.flags_text() if entry else "", step_result(step))


def step_result(step: walk.Step) -> str:
    entry = step.entry
    if step.status == walk.UNREADABLE or entry is None:
        return f"unreadable: the table at {step.table_pa:#x} cannot be read"
    if step.status == walk.LEAF:
        return f"{entry.kind} page at {entry.frame:#x}: physical address {step.pa:#x}"
    if step.status == walk.TABLE:
        loop = " (a table already on this walk: a loop)" if step.revisit else ""
        return f"next table at {entry.frame:#x}{loop}"
    if step.status == walk.RESERVED:
        return f"reserved bits {entry.reserved:#x} set: the MMU faults here"
    return step.status


# -- the files written with --rebuild --------------------------------------------------------

def tables_bytes(safe: SafeTables) -> bytes:
    """The rebuilt table pages, in frame order, 4096 bytes each."""
    return b"".join(bytes(safe.pages[pfn]) for pfn in safe.frames)


def tables_description(safe: SafeTables, verification: Verification, direct_map_base: int,
                       bin_name: str) -> Dict[str, object]:
    """Where each page of `bin_name` (tables_bytes) belongs, what the tables map, and how they
    were verified (written as JSON beside it)."""
    return {
        "description": "Safe page tables rebuilt offline as set_up_temporary_mappings() builds them; "
                       "each 4096-byte page of the .bin file belongs at the physical address listed",
        "file": bin_name,
        "root": safe.root,
        "levels": safe.levels,
        "pages": [{"physical_address": pfn << 12, "file_offset": i * PAGE_SIZE} for i, pfn in enumerate(safe.frames)],
        "mappings": [{"virtual": va, "physical": pa, "size": size, "what": what}
                     for va, pa, size, what in safe.mappings],
        "leaf_counts": safe.leaf_counts,
        "verified_pages": verification.pages,
        "mismatches": [list(m) for m in verification.mismatches],
        "direct_map_base": direct_map_base,
    }
