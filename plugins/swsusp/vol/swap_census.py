"""What the hibernated kernel's own structures say about the swap area, read through
Volatility: every user PTE of every process (resident / swap entry of which kind), every
shmem/tmpfs page cache (value entries are swapped-out file pages), and the kernel's
`swap_map` use counts; then the owner of every slot.  `census()` gathers it all for
linux.swsusp_swaparea; swap/accounting.py decides owners and makes the rows.
"""

import logging
from dataclasses import dataclass, field
from typing import Callable, Collection, Container, Dict, Iterable, Iterator, List, Optional, Tuple

from volatility3.framework import exceptions
from volatility3.plugins.linux import pslist

from volatility3.plugins.swsusp.format.swap_area import SwapArea
from volatility3.plugins.swsusp.swap import accounting, page_cache, swp_entry
from volatility3.plugins.swsusp.swap.accounting import PAGE_SIZE, AreaReport, EntryCounts, ProcessPages, ShmemFile
from volatility3.plugins.swsusp.swap.swp_entry import EntryKind, SwapSettings, SwpEntry
from volatility3.plugins.swsusp.vol.kernel_swap import Discovery, FrontswapMap, KernelReader, discover
from volatility3.plugins.swsusp.vol.nosym import BANNER_CONFIG_KEY
from volatility3.plugins.swsusp.vol.swap_layer import SwapLinuxIntel32e
from volatility3.plugins.swsusp.vol.swap_slot_layer import image_layer_below

vollog = logging.getLogger(__name__)
MAX_INODES = 1 << 22  # a super_block's s_inodes list is walked at most this far
MAX_SUPER_BLOCKS = 1 << 16
Progress = Callable[[float, str], None]


def _no_progress(pct: float, message: str) -> None:
    pass


def _phase(progress: Progress, start: float, width: float) -> Progress:
    """Progress of one phase as its share [start, start + width] of the whole run."""
    return lambda pct, message: progress(start + width * min(max(pct, 0.0), 100.0) / 100.0, message)


class EntryJudge:
    """The kind of each swap entry met (swp_entry.classify, with this input's area and
    zswap's record), counted as it is judged."""

    def __init__(self, settings: SwapSettings, area: SwapArea, zswap: Container[int]) -> None:
        self.settings, self.area, self.zswap = settings, area, zswap
        self.counts = EntryCounts()

    def _readable(self, slot: int) -> bool:
        return self.area.slot_offset(slot) is not None

    def __call__(self, entry: SwpEntry) -> str:
        kind = swp_entry.classify(self.settings, entry, self.zswap, self._readable)
        self.counts.add(kind, entry)
        return kind


# -- processes ------------------------------------------------------------------------------


def pte_walk(layer, start: int, end: int) -> Iterator[Tuple[int, int, int]]:
    """(va, entry, page size) of each last-level entry of [start, end) through an Intel
    layer's own table walk; absent upper-level tables are skipped whole."""
    va = start
    while va < end:
        try:
            entry, position = layer._translate_entry(va)
        except exceptions.PagedInvalidAddressException as exc:
            span = 1 << max(exc.invalid_bits, 12)
            va = (va | (span - 1)) + 1
            continue
        except exceptions.InvalidAddressException:
            va += PAGE_SIZE
            continue
        size = 1 << (position + 1)
        yield va, entry, size
        va = (va | (size - 1)) + 1


def process_pages(task, layer, judge: EntryJudge) -> ProcessPages:
    """A process's user pages over its VMAs: resident, or swapped (by kind), or neither."""
    out = ProcessPages(int(task.pid), task.comm.cast("string", max_length=16, errors="replace"))
    for vma in task.mm.get_vma_iter():
        start, end = int(vma.vm_start), int(vma.vm_end)
        for va, entry, size in pte_walk(layer, start, end):
            if layer._page_is_valid(entry):
                out.resident += (min(end, va + size) - max(start, va)) // PAGE_SIZE
                continue
            found = judge.settings.pte_layout.swp_entry(entry) if size == PAGE_SIZE else None
            if found is None:
                continue
            kind = judge(found)
            accounting.tally(out, kind)
            if kind == EntryKind.OURS:
                out.slots.append(found.offset)
            elif kind == EntryKind.ZSWAP:
                out.zswap_slots.append(found.offset)
    return out


def processes(context, kernel_module_name: str, judge: EntryJudge,
              progress: Progress = _no_progress) -> Iterator[ProcessPages]:
    """The pages of every user process (tasks with an mm)."""
    tasks = [t for t in pslist.PsList.list_tasks(context, kernel_module_name) if t.mm]
    for n, task in enumerate(tasks):
        progress(100.0 * n / max(1, len(tasks)), f"Walking page tables of PID {task.pid}")
        name = task.add_process_layer()
        if name is None:
            continue
        try:
            yield process_pages(task, context.layers[name], judge)
        except exceptions.InvalidAddressException as exc:
            vollog.info(f"PID {task.pid}: memory map unreadable ({exc})")


# -- shmem / tmpfs page caches --------------------------------------------------------------


def value_encoding(
        k: KernelReader) -> Tuple[Optional[swp_entry.ValueEntryEncoding], Optional[page_cache.TreeKind], str]:
    """How this kernel's page caches hold swap entries, decided from its types."""
    if k.has_type("xa_node"):
        return swp_entry.XA_VALUE, page_cache.XARRAY, "XArray value entries (4.20+)"
    if k.has_type("radix_tree_node") and k.has_field("radix_tree_node", "shift"):
        return swp_entry.RADIX_EXCEPTIONAL, page_cache.RADIX_SHIFT, "radix-tree exceptional entries (4.7 .. 4.19)"
    return None, None, "page cache trees of kernels before 4.7 are not walked"


def shmem_inodes(k: KernelReader) -> Iterator[int]:
    """Every inode whose mapping is shmem's (a_ops == &shmem_aops: tmpfs, SysV shm, memfd,
    shared anonymous memory), on every super_block."""
    aops = k.symbol("shmem_aops")
    s_list, s_inodes = k.offset("super_block", "s_list"), k.offset("super_block", "s_inodes")
    i_sb_list, i_mapping = k.offset("inode", "i_sb_list"), k.offset("inode", "i_mapping")
    a_ops = k.offset("address_space", "a_ops")
    for sb in k.list_entries(k.symbol("super_blocks"), s_list, MAX_SUPER_BLOCKS):
        try:
            inodes = list(k.list_entries(sb + s_inodes, i_sb_list, MAX_INODES))
        except exceptions.InvalidAddressException:
            continue
        for inode in inodes:
            try:
                mapping = k.pointer(inode + i_mapping)
                if mapping and k.pointer(mapping + a_ops) == aops:
                    yield inode
            except exceptions.InvalidAddressException:
                continue


@dataclass
class ShmemCensus:
    files: List[ShmemFile]  # the inodes with swapped pages
    how: str  # how the page caches hold swap entries (or why they were not walked)
    unreadable_nodes: int = 0  # tree nodes not in the image: their entries are not counted


def shmem_files(k: KernelReader, judge: EntryJudge, paths: Callable[[int], str],
                progress: Progress = _no_progress) -> ShmemCensus:
    """Each shmem inode with swapped pages: counts and (index, slot) of the pages in our area."""
    encoding, tree, how = value_encoding(k)
    if encoding is None or tree is None:
        return ShmemCensus([], how)
    node_type = "xa_node" if tree is page_cache.XARRAY else "radix_tree_node"
    shift_off = k.offset(node_type, "shift")
    slots_off, slots_template = k.field(node_type, "slots")
    nr_slots = slots_template.count

    def load_node(address: int):
        try:
            raw = k.layer.read(address + slots_off, k.pointer_size * nr_slots)
            shift = k.u(address + shift_off, 1)
        except exceptions.InvalidAddressException:
            return None
        size = k.pointer_size
        return shift, [int.from_bytes(raw[i : i + size], "little") for i in range(0, len(raw), size)]

    i_mapping, i_pages = k.offset("inode", "i_mapping"), k.offset("address_space", "i_pages")
    head_off = k.offset("xarray", "xa_head") if tree is page_cache.XARRAY else k.offset("radix_tree_root", "rnode")
    out = ShmemCensus([], how)
    for n, inode in enumerate(shmem_inodes(k)):
        if n % 256 == 0:
            progress(0.0, f"Walking shmem page caches ({n} inodes)")
        walk = page_cache.Walk(tree, load_node, slots_off, nr_slots)
        try:
            head = k.pointer(k.pointer(inode + i_mapping) + i_pages + head_off)
        except exceptions.InvalidAddressException:
            continue
        record = ShmemFile(inode, "")
        for index, entry in walk.entries(head):
            found = encoding.swp_entry(entry)
            if found is None:
                record.resident += 1
                continue
            kind = judge(found)
            accounting.tally(record, kind)
            if kind == EntryKind.OURS:
                record.slots.append((index, found.offset))
            elif kind == EntryKind.ZSWAP:
                record.zswap_slots.append(found.offset)
        out.unreadable_nodes += walk.unreadable_nodes
        if record.recovered or record.unreadable or record.elsewhere:
            record.path = paths(inode)
            out.files.append(record)
    return out


def inode_paths(context, kernel_module_name: str) -> Dict[int, str]:
    """inode address -> path, as stock linux.pagecache.Files sees the mounted files."""
    from volatility3.plugins.linux import pagecache

    layer = context.layers[context.modules[kernel_module_name].layer_name]
    out: Dict[int, str] = {}
    try:
        for found in pagecache.Files.get_inodes(context=context, vmlinux_module_name=kernel_module_name):
            out.setdefault(layer.canonicalize(int(found.inode.vol.offset)), found.path)  # as pointers in memory
    except exceptions.VolatilityException as exc:
        vollog.info(f"Paths of shmem files unavailable: {exc}")
    return out


def dentry_name(k: KernelReader, inode: int) -> str:
    """Name of an unmounted shmem inode (SysV shm, memfd, shared anonymous memory) from its
    first dentry; `inode 0x...` when it has none."""
    try:
        first = k.pointer(inode + k.offset("inode", "i_dentry"))
        if first:
            dentry = first - k.offset("dentry", "d_u")
            name_ptr = k.pointer(dentry + k.offset("dentry", "d_name") + k.offset("qstr", "name"))
            raw = k.layer.read(name_ptr, 64, pad=True)
            name = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
            if name:
                return name
    except (exceptions.InvalidAddressException, exceptions.SymbolError):
        pass
    return f"inode {inode:#x}"


def shmem(context, kernel_module_name: str, k: KernelReader, judge: EntryJudge,
          progress: Progress = _no_progress) -> ShmemCensus:
    """The shmem/tmpfs page caches, named by path (mounted) or dentry (SysV shm, memfd...)."""
    paths: Optional[Dict[int, str]] = None

    def path_of(inode: int) -> str:
        nonlocal paths
        if paths is None:
            paths = inode_paths(context, kernel_module_name)
        return paths.get(inode) or dentry_name(k, inode)

    if not all(map(k.has_symbol, ("shmem_aops", "super_blocks"))):
        return ShmemCensus([], "not walked: the ISF has no shmem_aops/super_blocks")
    try:
        return shmem_files(k, judge, path_of, progress)
    except (exceptions.InvalidAddressException, exceptions.SymbolError) as exc:
        vollog.warning(f"shmem/tmpfs page caches not walked: {exc}")
        return ShmemCensus([], f"not walked: {exc}")


# -- the kernel's swap_map --------------------------------------------------------------------


def swap_map_reader(k: KernelReader, address: int, nr_slots: int) -> Callable[[int], Optional[int]]:
    """swap_map[slot] (one byte per slot, vmalloc'd), read a page at a time; None where the
    page is not in the image."""
    pages: Dict[int, Optional[bytes]] = {}

    def use(slot: int) -> Optional[int]:
        if not 0 <= slot < nr_slots:
            return None
        page = (address + slot) & ~(PAGE_SIZE - 1)
        if page not in pages:
            try:
                pages[page] = k.layer.read(page, PAGE_SIZE)
            except exceptions.InvalidAddressException:
                pages[page] = None
        data = pages[page]
        return None if data is None else data[(address + slot) - page]

    return use


def block_slots(area: SwapArea, blocks: Iterable[int]) -> List[int]:
    """Slots of device blocks (the image's map and data blocks) the area can place."""
    return [slot for slot in map(area.block_slot, blocks) if slot is not None]


# -- everything -------------------------------------------------------------------------------


@dataclass
class Census:
    report: AreaReport
    area: SwapArea  # as the kernel addressed it (its extents for a swap file): read slots here


def _discover(context, vmlinux, layer, image) -> Optional[Discovery]:
    """The kernel's swap areas and ours, read afresh (the answer the kernel layer got when
    resolution is on); None when its swap state is unreadable."""
    banner = layer.config.get(BANNER_CONFIG_KEY, None) or ""
    try:
        return discover(context, vmlinux.symbol_table_name, layer.name, vmlinux.offset, image, banner)
    except (exceptions.InvalidAddressException, exceptions.SymbolError) as exc:
        vollog.error(f"The kernel's swap_info[] is unreadable ({exc}): slots are accounted by content only")
        return None


@dataclass
class Named:
    """The slots the kernel's tables name, and its swap_map use counts (None: not read)."""

    process: List[int] = field(default_factory=list)
    shmem: List[int] = field(default_factory=list)
    zswap: List[int] = field(default_factory=list)  # named, but zswap held the page
    swap_map: Optional[Callable[[int], Optional[int]]] = None


def _walk_tables(context, vmlinux, layer, found: Discovery, area: SwapArea, report: AreaReport,
                 pids: Collection[int], progress: Progress) -> Named:
    """Every process's page tables and every shmem page cache: the report's process, file
    and entry counts, and the slots they name."""
    ours, settings = found.ours, found.settings
    assert ours is not None and settings is not None  # the caller checked: the area is identified
    if not report.resolving:
        found.warn_zswap_untold()  # else the stacker has said so
    judge = EntryJudge(settings, area, FrontswapMap(layer.read, ours.frontswap_map, ours.max))
    named = Named()
    for pages in processes(context, vmlinux.name, judge, _phase(progress, 0, 40)):
        named.process += pages.slots
        named.zswap += pages.zswap_slots
        if not pids or pages.pid in pids:
            report.processes.append(pages)
    k = KernelReader(context, vmlinux.symbol_table_name, layer.name, vmlinux.offset)
    shmem_census = shmem(context, vmlinux.name, k, judge, _phase(progress, 40, 20))
    vollog.info(f"shmem/tmpfs page caches: {shmem_census.how}")
    report.files, report.unreadable_nodes = shmem_census.files, shmem_census.unreadable_nodes
    named.shmem = [slot for f in report.files for _index, slot in f.slots]
    named.zswap += [slot for f in report.files for slot in f.zswap_slots]
    report.entries = judge.counts
    named.swap_map = swap_map_reader(k, ours.swap_map, ours.max)
    return named


def census(context, kernel_module_name: str, pids: Collection[int] = (),
           progress: Progress = _no_progress) -> Optional[Census]:
    """The input's swap area slot by slot, and per process (`pids`, all when empty) and
    shmem file where its pages are; None when the kernel is not on a hibernation image."""
    vmlinux = context.modules[kernel_module_name]
    layer = context.layers[vmlinux.layer_name]
    image_layer = image_layer_below(context, layer.name)
    if image_layer is None:
        return None
    image = image_layer.image
    found = _discover(context, vmlinux, layer, image)
    settings = found.settings if found else None
    resolving = isinstance(layer, SwapLinuxIntel32e) and layer.swap_settings is not None
    report = AreaReport(settings, resolving, accounting.SlotOwners(bytearray()))
    area, named = image.area, Named()
    if found is not None and found.ours is not None and settings is not None:
        area = area.with_kernel_extents(found.ours.extents)
        named = _walk_tables(context, vmlinux, layer, found, area, report, pids, progress)
    elif found is not None:
        vollog.error(f"Swap area of the kernel not identified: {found.why_not}")
    slots_progress = _phase(progress, 60, 40)
    slots_progress(0.0, "Classifying swap slots")
    smap = image.swap_map
    report.owners = accounting.classify_slots(
        settings.nr_slots if settings else (area.nr_slots or 0),
        accounting.image_slots(block_slots(area, smap.map_blocks), block_slots(area, smap.entries)),
        named.process, named.shmem, named.swap_map, area.read_slots, slots_progress, named.zswap,
    )
    return Census(report, area)
