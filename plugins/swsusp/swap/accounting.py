"""Who owns each slot of the swap area, and what each process has where.

A slot is, in this order of precedence: the mkswap header (slot 0); a page of the
hibernation image (its swap_map pages, or data: swsusp_info and the stream); a page a
process PTE names; a shmem/tmpfs page a page cache names; marked bad or in use by the
kernel's swap_map (in use with no reference found: the swap cache); otherwise free, and then
either zero or stale data from earlier use (worth carving), or not in the input at all.

What was not read is counted too: swap entries by kind (of another area, beyond ours, slots
the input does not hold, pages zswap held) and page-cache tree nodes not in the image.
`report_rows` turns it all into linux.swsusp_swaparea's rows.
"""

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from ..memory import PAGE_SIZE
from .swp_entry import EntryKind, SwapSettings, SwpEntry

SWAP_MAP_BAD = 0x3F  # mm/swapfile.c: a bad slot (from the mkswap bad-page list)
READ_CHUNK = 256  # slots per read when looking at free slots

# owner codes, in the order rows are reported
(FREE_ZERO, HEADER, IMAGE_MAP, IMAGE_DATA, PROCESS, SHMEM, IN_USE, BAD, STALE, UNREFERENCED, UNREADABLE,
 ZSWAP) = range(12)
OWNER_NAMES = {
    HEADER: "swap header",
    IMAGE_MAP: "image: swap_map pages",
    IMAGE_DATA: "image: data pages",
    PROCESS: "process pages",
    SHMEM: "shmem/tmpfs pages",
    ZSWAP: "named by an entry, held by zswap (slot not written)",
    IN_USE: "in use, no reference found (swap cache)",
    BAD: "bad (mkswap list)",
    STALE: "free, stale data",
    UNREFERENCED: "unreferenced, non-zero (swap_map unreadable)",
    FREE_ZERO: "free, zero",
    UNREADABLE: "not in the input",
}
REPORT_ORDER = (HEADER, IMAGE_MAP, IMAGE_DATA, PROCESS, SHMEM, ZSWAP, IN_USE, BAD, STALE, UNREFERENCED, FREE_ZERO,
                UNREADABLE)

# read_slots(first, count) -> bytes of those slots, shorter where the input ends, None where
# the area has no file offset for them
ReadSlots = Callable[[int, int], Optional[bytes]]


@dataclass
class SlotOwners:
    """One owner code per slot."""

    codes: bytearray

    def runs(self) -> Iterator[Tuple[int, int, int]]:
        """(owner, first slot, last slot) of each run of equal owners."""
        codes, n = self.codes, len(self.codes)
        first = 0
        while first < n:
            code = codes[first]
            last = first
            while last + 1 < n and codes[last + 1] == code:
                last += 1
            yield code, first, last
            first = last + 1

    def count(self, owner: int) -> int:
        return self.codes.count(owner)

    def slots(self, owner: int) -> List[int]:
        return [s for s, c in enumerate(self.codes) if c == owner]


def classify_slots(
    nr_slots: int,
    image: Dict[int, int],
    process_slots: Iterable[int],
    shmem_slots: Iterable[int],
    swap_map: Optional[Callable[[int], Optional[int]]],
    read_slots: ReadSlots,
    progress: Callable[[float, str], None] = lambda pct, msg: None,
    zswap_slots: Iterable[int] = (),
) -> SlotOwners:
    """Owner of each slot 0 .. nr_slots-1.  `image` maps slots to IMAGE_MAP/IMAGE_DATA;
    `swap_map(slot)` is the kernel's use count (None when unreadable)."""
    codes = bytearray(nr_slots)  # FREE_ZERO until shown otherwise
    if nr_slots:
        codes[0] = HEADER
    for slot, owner in image.items():
        if 0 < slot < nr_slots:
            codes[slot] = owner
    for owner, slots in ((PROCESS, process_slots), (SHMEM, shmem_slots), (ZSWAP, zswap_slots)):
        for slot in slots:
            if 0 < slot < nr_slots and codes[slot] == FREE_ZERO:
                codes[slot] = owner
    if swap_map is not None:
        for slot in range(1, nr_slots):
            if codes[slot] == FREE_ZERO:
                use = swap_map(slot)
                if use is None:
                    codes[slot] = UNREFERENCED  # provisional: decided by content below
                elif use == SWAP_MAP_BAD:
                    codes[slot] = BAD
                elif use:
                    codes[slot] = IN_USE
    _look_at_free_slots(codes, read_slots, swap_map is not None, progress)
    return SlotOwners(codes)


def _look_at_free_slots(codes: bytearray, read_slots: ReadSlots, have_map: bool, progress) -> None:
    """Free (or unknown) slots: zero, stale, or not in the input."""
    zero = bytes(PAGE_SIZE * READ_CHUNK)
    n = len(codes)
    for first in range(1, n, READ_CHUNK):
        count = min(READ_CHUNK, n - first)
        todo = [s for s in range(first, first + count) if codes[s] in (FREE_ZERO, UNREFERENCED)]
        if not todo:
            continue
        if first % (READ_CHUNK * 64) == 1:
            progress(100.0 * first / n, "Reading free swap slots")
        data = read_slots(first, count)
        if data is not None and len(data) == count * PAGE_SIZE and data == zero[: len(data)]:
            for s in todo:
                codes[s] = FREE_ZERO
            continue
        for s in todo:
            page = None
            if data is not None:
                page = data[(s - first) * PAGE_SIZE : (s - first + 1) * PAGE_SIZE]
            if page is None or len(page) < PAGE_SIZE:
                page = read_slots(s, 1)
            if page is None or len(page) < PAGE_SIZE:
                codes[s] = UNREADABLE
            elif page.count(0) == PAGE_SIZE:
                codes[s] = FREE_ZERO
            else:
                codes[s] = STALE if codes[s] == FREE_ZERO or not have_map else UNREFERENCED


@dataclass
class ProcessPages:
    """One process's user pages by where they are (counted over its VMAs)."""

    pid: int
    comm: str
    resident: int = 0
    recovered: int = 0  # swapped into our area, slot read
    unreadable: int = 0  # swapped into our area, slot beyond the area or not in the input
    elsewhere: int = 0  # swapped into another swap area
    special: int = 0  # migration / hwpoison / device / marker entries
    slots: List[int] = field(default_factory=list)
    zswap_slots: List[int] = field(default_factory=list)  # entries whose page zswap held


@dataclass
class ShmemFile:
    """One shmem/tmpfs inode's page cache: resident pages and swapped ones."""

    inode: int
    path: str
    resident: int = 0
    recovered: int = 0
    unreadable: int = 0
    elsewhere: int = 0
    special: int = 0
    slots: List[Tuple[int, int]] = field(default_factory=list)  # (file page index, slot)
    zswap_slots: List[int] = field(default_factory=list)


def tally(pages, kind: str) -> None:
    """Count one swapped page of a process or shmem file (ProcessPages, ShmemFile) by kind:
    beyond the area, not in the input and held by zswap are all unreadable here."""
    if kind == EntryKind.OURS:
        pages.recovered += 1
    elif kind in (EntryKind.BEYOND, EntryKind.UNREADABLE, EntryKind.ZSWAP):
        pages.unreadable += 1
    elif kind == EntryKind.ELSEWHERE:
        pages.elsewhere += 1
    else:
        pages.special += 1


# swap entries whose page is not read from the input, in the order rows are reported
NOT_READ = (EntryKind.ELSEWHERE, EntryKind.BEYOND, EntryKind.UNREADABLE, EntryKind.ZSWAP)


class EntryCounts:
    """Swap entries met, by kind (EntryKind): references to them (PTEs, page-cache
    entries) and distinct entries.  Safe to share between threads."""

    def __init__(self) -> None:
        self._distinct: Dict[str, Set[SwpEntry]] = {}
        self._references: Counter = Counter()
        self._lock = threading.Lock()

    def add(self, kind: str, entry: SwpEntry) -> bool:
        """Count one reference; True when it is the first entry of its kind."""
        with self._lock:
            entries = self._distinct.setdefault(kind, set())
            first = not entries
            entries.add(entry)
            self._references[kind] += 1
        return first

    def count(self, kind: str) -> int:
        """Distinct entries of this kind."""
        return len(self._distinct.get(kind, ()))

    def references(self, kind: str) -> int:
        return self._references[kind]


def stale_runs(owners: SlotOwners) -> List[Tuple[int, int]]:
    """(first, last) slot of each run of stale slots, for carving."""
    return [(first, last) for code, first, last in owners.runs() if code == STALE]


def image_slots(map_slots: Sequence[int], data_slots: Sequence[int]) -> Dict[int, int]:
    out = {s: IMAGE_DATA for s in data_slots}
    out.update({s: IMAGE_MAP for s in map_slots})
    return out


@dataclass(frozen=True)
class Row:
    """One row of linux.swsusp_swaparea (None: not applicable)."""

    depth: int
    part: str  # "area", "slots", "process", "shmem file"
    owner: str
    pid: Optional[int] = None
    slots: Optional[int] = None
    first: Optional[int] = None
    last: Optional[int] = None
    resident: Optional[int] = None
    recovered: Optional[int] = None
    elsewhere: Optional[int] = None
    unreadable: Optional[int] = None
    output: Optional[str] = None


def slot_rows(owners: SlotOwners, outputs: Dict[Tuple[int, int], str]) -> Iterator[Row]:
    """One row per owner present (stale data always), with a child row per stale run."""
    spans: Dict[int, List[int]] = {}
    for code, first, last in owners.runs():
        span = spans.setdefault(code, [0, first, last])
        span[0] += last - first + 1
        span[2] = last
    for code in REPORT_ORDER:
        if code not in spans and code != STALE:
            continue
        if code in spans:
            count, first, last = spans[code]
            yield Row(0, "slots", OWNER_NAMES[code], slots=count, first=first, last=last)
        else:
            yield Row(0, "slots", OWNER_NAMES[code], slots=0)
        if code == STALE:
            for run in stale_runs(owners):
                yield Row(1, "slots", "stale run", slots=run[1] - run[0] + 1, first=run[0], last=run[1],
                          output=outputs.get(run))


def _span(slots: Sequence[int]) -> Tuple[Optional[int], Optional[int]]:
    return (min(slots), max(slots)) if slots else (None, None)


def process_rows(processes: Iterable[ProcessPages]) -> Iterator[Row]:
    for p in sorted(processes, key=lambda p: p.pid):
        first, last = _span(p.slots)
        yield Row(0, "process", p.comm, p.pid, len(p.slots), first, last, p.resident, p.recovered, p.elsewhere,
                  p.unreadable)


def file_rows(files: Iterable[ShmemFile]) -> Iterator[Row]:
    for f in sorted(files, key=lambda f: (f.path, f.inode)):
        first, last = _span([slot for _index, slot in f.slots])
        yield Row(0, "shmem file", f.path, None, len(f.slots), first, last, f.resident, f.recovered, f.elsewhere,
                  f.unreadable)


def not_read_rows(entries: EntryCounts, unreadable_nodes: int) -> Iterator[Row]:
    """What the kernel's tables name and the input does not give, over every process and
    shmem file: per kind of swap entry, its distinct entries (Slots) and the pages naming
    them (Elsewhere or Unreadable, as in the process rows); then page-cache tree nodes not
    in the image, whose entries are uncounted."""
    for kind in NOT_READ:
        pages = entries.references(kind)
        elsewhere = kind == EntryKind.ELSEWHERE
        yield Row(0, "entries", kind, slots=entries.count(kind), elsewhere=pages if elsewhere else None,
                  unreadable=None if elsewhere else pages)
    yield Row(0, "page caches", "tree nodes not in the image (entries below uncounted)", unreadable=unreadable_nodes)


@dataclass
class AreaReport:
    """Everything linux.swsusp_swaparea reports about the input's swap area."""

    settings: Optional[SwapSettings]  # None: the kernel's area not identified (slots only)
    resolving: bool  # the kernel layer resolves swap entries (-e swsusp.swap)
    owners: SlotOwners
    processes: List[ProcessPages] = field(default_factory=list)  # the rows asked for (--pid)
    files: List[ShmemFile] = field(default_factory=list)
    entries: EntryCounts = field(default_factory=EntryCounts)  # every process and file
    unreadable_nodes: int = 0


def report_rows(report: AreaReport, outputs: Dict[Tuple[int, int], str]) -> Iterator[Row]:
    """The plugin's rows: the area, its slots by owner (`outputs`: files of dumped stale runs),
    what was not read, processes, shmem files."""
    settings = report.settings
    if settings is not None:
        mode = "resolution on" if report.resolving else "resolution off"
        yield Row(0, "area", f"swap type {settings.our_type} of {settings.nr_swapfiles}, "
                             f"PTE layout {settings.pte_layout.name} ({mode})", slots=settings.nr_slots)
    yield from slot_rows(report.owners, outputs)
    if settings is not None:
        yield from not_read_rows(report.entries, report.unreadable_nodes)
    yield from process_rows(report.processes)
    yield from file_rows(report.files)
