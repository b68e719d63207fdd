"""What the hibernated kernel's own structures say about the swap area, read through
Volatility: every user PTE of every process (resident / swap entry of which kind), every
shmem/tmpfs page cache (value entries are swapped-out file pages), and the kernel's
`swap_map` use counts.  The plugin linux.swsusp_swaparea turns these into rows
(swap/accounting.py); nothing here decides an owner.
"""

import logging
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from volatility3.framework import exceptions

from volatility3.plugins.swsusp.format.swap_area import SwapArea
from volatility3.plugins.swsusp.swap import page_cache, swp_entry
from volatility3.plugins.swsusp.swap.accounting import PAGE_SIZE, ProcessPages, ShmemFile
from volatility3.plugins.swsusp.swap.swp_entry import EntryKind, SwapSettings, SwpEntry
from volatility3.plugins.swsusp.vol.kernel_swap import KernelReader

vollog = logging.getLogger(__name__)
MAX_INODES = 1 << 22  # a super_block's s_inodes list is walked at most this far


def entry_kind(settings: SwapSettings, area: SwapArea, entry: SwpEntry, frontswap=()) -> str:
    return swp_entry.classify(settings, entry, frontswap, lambda slot: area.slot_offset(slot) is not None)


def count_entry(counts, kind: str) -> None:
    if kind == EntryKind.OURS:
        counts.recovered += 1
    elif kind in (EntryKind.BEYOND, EntryKind.UNREADABLE, EntryKind.ZSWAP):
        counts.unreadable += 1
    elif kind == EntryKind.ELSEWHERE:
        counts.elsewhere += 1
    elif hasattr(counts, "special"):
        counts.special += 1


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


def process_pages(task, layer, settings: Optional[SwapSettings], area: SwapArea, frontswap=()) -> ProcessPages:
    """A process's user pages over its VMAs: resident, or swapped (by kind), or neither."""
    out = ProcessPages(int(task.pid), task.comm.cast("string", max_length=16, errors="replace"))
    for vma in task.mm.get_vma_iter():
        start, end = int(vma.vm_start), int(vma.vm_end)
        for va, entry, size in pte_walk(layer, start, end):
            if layer._page_is_valid(entry):
                out.resident += (min(end, va + size) - max(start, va)) // PAGE_SIZE
                continue
            if settings is None or size != PAGE_SIZE:
                continue
            found = settings.pte_layout.swp_entry(entry)
            if found is None:
                continue
            kind = entry_kind(settings, area, found, frontswap)
            count_entry(out, kind)
            if kind == EntryKind.OURS:
                out.slots.append(found.offset)
            elif kind == EntryKind.ZSWAP:
                out.zswap_slots.append(found.offset)
    return out


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
    for sb in k.list_entries(k.symbol("super_blocks"), s_list, 1 << 16):
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


def shmem_files(k: KernelReader, settings: SwapSettings, area: SwapArea, paths: Callable[[int], str],
                progress: Callable[[float, str], None] = lambda p, m: None,
                frontswap=()) -> Tuple[List[ShmemFile], str]:
    """Each shmem inode with swapped pages: counts and (index, slot) of the pages in our area."""
    encoding, tree, how = value_encoding(k)
    if encoding is None or tree is None:
        return [], how
    node_type = "xa_node" if tree is page_cache.XARRAY else "radix_tree_node"
    shift_off, slots_off = k.offset(node_type, "shift"), k.offset(node_type, "slots")
    nr_slots = k.field(node_type, "slots")[1].count

    def load_node(address: int):
        try:
            raw = k.layer.read(address + slots_off, k.pointer_size * nr_slots)
            shift = k.u(address + shift_off, 1)
        except exceptions.InvalidAddressException:
            return None
        return shift, [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]

    i_mapping, i_pages = k.offset("inode", "i_mapping"), k.offset("address_space", "i_pages")
    head_off = k.offset("xarray", "xa_head") if tree is page_cache.XARRAY else k.offset("radix_tree_root", "rnode")
    out = []
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
            kind = entry_kind(settings, area, found, frontswap)
            count_entry(record, kind)
            if kind == EntryKind.OURS:
                record.slots.append((index, found.offset))
            elif kind == EntryKind.ZSWAP:
                record.zswap_slots.append(found.offset)
        if record.recovered or record.unreadable or record.elsewhere:
            record.path = paths(inode)
            out.append(record)
    return out, how


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
