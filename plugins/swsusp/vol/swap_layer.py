"""Swapped-out pages as Volatility sees memory: a layer of the swap area by slot, and kernel
layers whose non-present PTEs holding a swap entry of *our* swap area resolve to that slot
(the way `WindowsMixin._translate_swap` resolves pagefile entries).

On a hibernation input, `SwsuspIntelStacker` asks `resolving_kernel()` for the kernel layer:
it reads the hibernated kernel's `swap_info[]` through the ISF, finds the area the input
holds (its size and first block match the mkswap header the image lives in), takes its swap
extents (a swap file's slots are not contiguous on the filesystem), decides the swap PTE
layout from the kernel (swap/swp_entry.py), and returns a `SwapLinuxIntel32e` (or LA57)
layer.  Process layers are built from that layer's configuration, so they resolve too.

Entries of another swap area, slots outside the area, slots the input does not hold and
non-swap entries (migration, hwpoison, device, markers) stay invalid, as any unmapped page:
each distinct entry is counted in `SwapCounters` (logged once per kind).
`-e swsusp.swap=false` turns resolution off (the RAM-only view).
"""

import logging
import threading
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Set, Tuple

from volatility3.framework import exceptions, interfaces
from volatility3.framework.configuration import requirements
from volatility3.framework.layers import intel

from volatility3.plugins.swsusp.format.errors import SwsuspFormatError
from volatility3.plugins.swsusp.format.swap_area import SwapArea, SwapExtent
from volatility3.plugins.swsusp.swap import swp_entry
from volatility3.plugins.swsusp.swap.swp_entry import EntryKind, SwapSettings, SwpEntry
from volatility3.plugins.swsusp.vol import options
from volatility3.plugins.swsusp.vol.kernel import LinuxIntel32eLA57
from volatility3.plugins.swsusp.vol.layer import (
    EvidencePhysicalLayer,
    SwsuspFormatException,
    SwsuspLayer,
    open_image,
)

vollog = logging.getLogger(__name__)
PAGE = 4096
SWP_USED = 0x1  # swap_info_struct.flags (include/linux/swap.h)
MAX_EXTENTS = 1 << 20  # a fragmented swap file has many extents, never this many


# -- the swap area by slot ------------------------------------------------------------------


def format_extents(extents) -> str:
    return ",".join(f"{e.start_page}:{e.nr_pages}:{e.start_block}" for e in extents)


def parse_extents(text: str) -> List[SwapExtent]:
    out = []
    for part in filter(None, (text or "").split(",")):
        start_page, nr_pages, start_block = (int(x) for x in part.split(":"))
        out.append(SwapExtent(start_page, nr_pages, start_block))
    return out


def _not_in_input(address: int) -> str:
    return f"Swap slot {address // PAGE} is not in the input"


class SwapSlotLayer(EvidencePhysicalLayer):
    """The swap area of the input addressed by slot: slot s at s * 4096, invalid where the
    input does not hold it (beyond the area, past a truncated file, outside known extents).
    It is the image's own SwapArea (format/swap_area.py), with the kernel's extents for a
    swap file inside a filesystem."""

    def __init__(self, context, config_path: str, name: str, metadata=None) -> None:
        super().__init__(context, config_path, name, metadata)
        cfg = self.config
        try:
            image = open_image(context, self._base_layer, cfg["partition_offset"], cfg["resume_offset"],
                               cfg.get("block_base", None), cfg["partition_size"])
        except SwsuspFormatError as exc:
            raise SwsuspFormatException(f"swap area layer {name}", exc) from None
        extents = cfg.get("extents", None)
        self.area: SwapArea = image.area.with_extents(parse_extents(extents)) if extents else image.area
        self._max = cfg["nr_slots"] * PAGE - 1

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [
            requirements.TranslationLayerRequirement(name="base_layer", optional=False,
                                                     description="The file holding the swap area"),
            requirements.IntRequirement(name="partition_offset", optional=False,
                                        description="Byte offset of the partition holding the swap area"),
            requirements.IntRequirement(name="partition_size", optional=False, description="Size of that partition"),
            requirements.IntRequirement(name="resume_offset", optional=False,
                                        description="Block of the swap header in the partition"),
            requirements.IntRequirement(name="block_base", optional=True,
                                        description="Block number of the partition's first block (copied swap file)"),
            requirements.IntRequirement(name="nr_slots", optional=False,
                                        description="Slots of the area (the kernel's swap_info_struct.max)"),
            requirements.StringRequirement(name="extents", optional=True,
                                           description="Swap extents start_page:nr_pages:start_block,... (swap file)"),
        ]

    def slot_offset(self, slot: int) -> Optional[int]:
        return self.area.slot_offset(slot)

    def _runs(self, offset: int, length: int) -> Iterator[Tuple[int, int, Optional[int]]]:
        """(address, length, file offset or None) of each slot piece in the range."""
        pos, end = offset, offset + length
        while pos < end:
            slot, within = divmod(pos, PAGE)
            n = min(end - pos, PAGE - within)
            file_offset = self.area.slot_offset(slot) if pos <= self._max else None
            yield pos, n, None if file_offset is None else file_offset + within
            pos += n

    def is_valid(self, offset: int, length: int = 1) -> bool:
        if offset < 0 or length <= 0:
            return False
        return all(f is not None for _a, _n, f in self._runs(offset, length))

    def read(self, offset: int, length: int, pad: bool = False) -> bytes:
        out = []
        for address, n, file_offset in self._runs(offset, length):
            data = self.area.source.read(file_offset, n) if file_offset is not None else b""
            if len(data) != n:
                if not pad:
                    raise exceptions.InvalidAddressException(self.name, address, _not_in_input(address))
                data = data + bytes(n - len(data))
            out.append(data)
        return b"".join(out)

    def mapping(self, offset: int, length: int, ignore_errors: bool = False):
        for address, n, file_offset in self._runs(offset, length):
            if file_offset is None:
                if not ignore_errors:
                    raise exceptions.InvalidAddressException(self.name, address, _not_in_input(address))
                continue
            yield address, n, file_offset, n, self._base_layer


# -- what the kernel says about its swap areas ------------------------------------------------


@dataclass
class KernelSwapArea:
    """One used entry of swap_info[]."""

    type: int
    address: int
    flags: int
    max: int
    pages: int
    inuse_pages: int
    swap_map: int
    extents: List[SwapExtent]
    frontswap_map: int = 0  # bitmap of slots frontswap (zswap) holds (3.5 .. 6.4), 0 if none


@dataclass
class Discovery:
    """The hibernated kernel's swap areas, which one the input holds, and how to decode."""

    areas: List[KernelSwapArea]
    nr_swapfiles: int
    ours: Optional[KernelSwapArea]
    layout: Optional[swp_entry.SwapPteLayout]
    why: str
    layout_why: str
    zswap_untold: bool = False  # zswap was on and the kernel keeps no frontswap_map (6.5+)

    @property
    def settings(self) -> Optional[SwapSettings]:
        if self.ours is None or self.layout is None:
            return None
        return SwapSettings(self.ours.type, self.nr_swapfiles, self.ours.max, self.layout)


class KernelReader:
    """Raw reads of kernel structures through the ISF's field offsets."""

    def __init__(self, context, table_name: str, layer_name: str, shift: int) -> None:
        self.table = context.symbol_space[table_name]
        self.layer = context.layers[layer_name]
        self.shift = shift

    def has_symbol(self, name: str) -> bool:
        return name in self.table.symbols

    def symbol(self, name: str) -> int:
        """The symbol's run-time address, canonical (as pointers in memory are)."""
        return self.layer.canonicalize((self.table.get_symbol(name).address + self.shift) & ((1 << 64) - 1))

    def has_type(self, name: str) -> bool:
        return name in self.table.types

    def has_field(self, struct_name: str, name: str) -> bool:
        return self.has_type(struct_name) and self.table.get_type(struct_name).has_member(name)

    def offset(self, struct_name: str, name: str) -> int:
        return self.table.get_type(struct_name).relative_child_offset(name)

    def u(self, address: int, size: int) -> int:
        return int.from_bytes(self.layer.read(address, size), "little")

    def member(self, address: int, struct_name: str, name: str) -> int:
        template = self.table.get_type(struct_name).vol.members[name][1]
        return self.u(address + self.offset(struct_name, name), template.size)

    def u64(self, address: int) -> int:
        return self.u(address, 8)


def _extents_rbtree(k: KernelReader, root: int) -> List[SwapExtent]:
    """In-order walk of swap_extent_root (5.4+): struct swap_extent embeds its rb_node."""
    node_off = k.offset("swap_extent", "rb_node")
    left, right = k.offset("rb_node", "rb_left"), k.offset("rb_node", "rb_right")
    out: List[SwapExtent] = []
    stack: List[int] = []
    seen = set()
    node = root
    while (stack or node) and len(out) < MAX_EXTENTS:
        while node and node not in seen:
            seen.add(node)
            stack.append(node)
            node = k.u64(node + left)
        if not stack:
            break
        node = stack.pop()
        out.append(_extent(k, node - node_off))
        node = k.u64(node + right)
    return out


def _extents_list(k: KernelReader, head: int, first_is_entry: bool) -> List[SwapExtent]:
    """first_swap_extent (2.6.33 .. 5.3: an embedded swap_extent whose list is circular) or
    extent_list (older: a list_head of swap_extents)."""
    list_off = k.offset("swap_extent", "list")
    out = [_extent(k, head)] if first_is_entry else []
    start = head + list_off if first_is_entry else head
    node, seen = k.u64(start), {start}
    while node not in seen and len(out) < MAX_EXTENTS:
        seen.add(node)
        out.append(_extent(k, node - list_off))
        node = k.u64(node)
    return out


def _extent(k: KernelReader, address: int) -> SwapExtent:
    return SwapExtent(k.member(address, "swap_extent", "start_page"), k.member(address, "swap_extent", "nr_pages"),
                      k.member(address, "swap_extent", "start_block"))


def read_swap_areas(k: KernelReader) -> Tuple[int, List[KernelSwapArea]]:
    """(nr_swapfiles, the used entries of swap_info[]); swap_info is an array of pointers
    (2.6.33+) or of structs (older)."""
    nr = k.u(k.symbol("nr_swapfiles"), 4)
    base = k.symbol("swap_info")
    template = k.table.get_symbol("swap_info").type
    subtype = getattr(template.vol, "subtype", None)
    of_pointers = subtype is None or "pointer" in subtype.vol.type_name
    size = k.table.get_type("swap_info_struct").size
    areas = []
    for i in range(min(nr, 64)):
        address = k.u64(base + 8 * i) if of_pointers else base + i * size
        if not address:
            continue
        try:
            area = _read_area(k, i, address)
        except exceptions.InvalidAddressException as exc:
            vollog.info(f"swap_info[{i}] at {address:#x} is unreadable ({exc})")
            continue
        if area.flags & SWP_USED:
            areas.append(area)
    return nr, areas


def _read_area(k: KernelReader, i: int, address: int) -> KernelSwapArea:
    s = "swap_info_struct"
    if k.has_field(s, "swap_extent_root"):
        extents = _extents_rbtree(k, k.u64(address + k.offset(s, "swap_extent_root")))
    elif k.has_field(s, "first_swap_extent"):
        extents = _extents_list(k, address + k.offset(s, "first_swap_extent"), True)
    else:
        extents = _extents_list(k, address + k.offset(s, "extent_list"), False)
    return KernelSwapArea(
        type=i, address=address, flags=k.member(address, s, "flags"), max=k.member(address, s, "max"),
        pages=k.member(address, s, "pages"),
        inuse_pages=k.member(address, s, "inuse_pages") if k.has_field(s, "inuse_pages") else 0,
        swap_map=k.member(address, s, "swap_map"), extents=sorted(extents, key=lambda e: e.start_page),
        frontswap_map=k.member(address, s, "frontswap_map") if k.has_field(s, "frontswap_map") else 0,
    )


def choose_area(areas: List[KernelSwapArea], image,
                forced: Optional[int] = None) -> Tuple[Optional[KernelSwapArea], str]:
    """The area the input holds: its first extent starts at the header's block and its size
    is the mkswap header's (the kernel takes max = last_page + 1)."""
    if forced is not None:
        match = [a for a in areas if a.type == forced]
        return (match[0], f"swap type {forced} as given by swsusp.swap_type") if match else \
            (None, f"swsusp.swap_type={forced} is not a used swap area of the kernel (types {[a.type for a in areas]})")
    header_block = image.location.resume_offset
    slots = image.area.nr_slots  # None when the swap header does not say

    def first_block(a):
        first = [e for e in a.extents if e.start_page == 0]
        return first[0].start_block if first else None

    at_header = [a for a in areas if first_block(a) == header_block]
    exact = [a for a in at_header if slots is None or a.max == slots]
    for found, how in ((exact, "first block and size"), (at_header, "first block")):
        if len(found) == 1:
            a = found[0]
            return a, f"swap type {a.type}: {how} match the input's swap header (block {header_block}, {a.max} slots)"
        if len(found) > 1:
            return None, (f"swap types {[a.type for a in found]} all match the input's swap header; "
                          "choose one with -e swsusp.swap_type=N")
    seen = ", ".join(f"type {a.type}: {a.max} slots from block {first_block(a)}" for a in areas) or "none"
    return None, f"no swap area of the kernel starts at block {header_block} (kernel areas: {seen})"


def discover(context, table_name: str, layer_name: str, shift: int, image, banner) -> Discovery:
    k = KernelReader(context, table_name, layer_name, shift)
    layout, layout_why = swp_entry.pte_layout_for(swp_entry.banner_version(banner), k.has_symbol)
    if not (k.has_symbol("swap_info") and k.has_symbol("nr_swapfiles")):
        return Discovery([], 0, None, layout, "the ISF has no swap_info/nr_swapfiles (kernel without CONFIG_SWAP?)",
                         layout_why)
    nr, areas = read_swap_areas(k)
    forced = options.integer(context, "swap_type")
    ours, why = choose_area(areas, image, forced)
    untold = False
    if k.has_symbol("zswap_enabled") and not k.has_field("swap_info_struct", "frontswap_map"):
        try:
            untold = bool(k.u(k.symbol("zswap_enabled"), 1))
        except exceptions.InvalidAddressException:
            untold = True
    return Discovery(areas, nr, ours, layout, why, layout_why, untold)


class FrontswapMap:
    """si->frontswap_map: bit s set when frontswap (zswap) took the page of slot s and kept it,
    compressed, in RAM -- the slot itself was never written (3.5 .. 6.4).  Read once, lazily,
    through a kernel layer; None where its pages are not in the image."""

    def __init__(self, read, address: int, nr_slots: int) -> None:
        self._read, self._address, self._nbytes = read, address, (nr_slots + 7) // 8
        self._bits: Optional[bytes] = None

    def __contains__(self, slot: int) -> bool:
        if not self._address:
            return False
        if self._bits is None:
            try:
                self._bits = self._read(self._address, self._nbytes)
            except exceptions.InvalidAddressException:
                vollog.warning("The kernel's frontswap_map is not in the image: pages zswap held cannot be told "
                               "from pages in their slots")
                self._bits = b""
        byte = slot >> 3
        return byte < len(self._bits) and bool(self._bits[byte] >> (slot & 7) & 1)


FRONTSWAP: Dict[Tuple[str, int], FrontswapMap] = {}  # by (swap layer, bitmap address)


# -- counting what does not resolve -----------------------------------------------------------


@dataclass
class SwapCounters:
    """Distinct swap entries met while translating, by kind (EntryKind)."""

    seen: Dict[str, Set[SwpEntry]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, entry: SwpEntry) -> None:
        with self._lock:
            entries = self.seen.setdefault(kind, set())
            first = not entries
            entries.add(entry)
        if first and kind != EntryKind.OURS:
            vollog.info(f"Swap entry type {entry.type} slot {entry.offset}: {kind} "
                        "(entries of this kind read as unmapped)")

    def count(self, kind: str) -> int:
        return len(self.seen.get(kind, ()))


COUNTERS: Dict[str, SwapCounters] = {}  # by swap slot layer name, shared by the process layers


# -- kernel layers that resolve swap entries ----------------------------------------------------


class SwapResolvingMixin:
    """A Linux Intel layer whose non-present PTEs holding a swap entry of our area resolve
    to the swap slot layer."""

    _swap_settings: Optional[SwapSettings] = None

    def __init__(self, context, config_path: str, name: str, metadata=None) -> None:
        super().__init__(context, config_path, name, metadata)  # type: ignore[call-arg]
        cfg = self.config  # type: ignore[attr-defined]
        # "swap_layer" names the layer when built through requirements; a process layer is
        # built from the kernel layer's configuration, which only carries it as "swap_layer_name"
        self._swap_layer = cfg.get("swap_layer", None)
        if not isinstance(self._swap_layer, str):
            self._swap_layer = cfg.get("swap_layer_name", None)
        if self._swap_layer and cfg.get("swap_type", None) is not None:
            self._swap_settings = SwapSettings(cfg["swap_type"], cfg["nr_swapfiles"], cfg["swap_slots"],
                                               swp_entry.layout_named(cfg["swap_pte_layout"]))
            self.swap_counters = COUNTERS.setdefault(self._swap_layer, SwapCounters())
            bitmap = cfg.get("swap_frontswap_map", None) or 0
            self.frontswap = FRONTSWAP.setdefault((self._swap_layer, bitmap),
                                                  FrontswapMap(self.read, bitmap, cfg["swap_slots"]))  # type: ignore[attr-defined]

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return super().get_requirements() + [  # type: ignore[misc]
            requirements.TranslationLayerRequirement(name="swap_layer", optional=True,
                                                     description="The swap area by slot (swapped-out pages)"),
            requirements.StringRequirement(name="swap_layer_name", optional=True,
                                           description="Name of that layer (for process layers)"),
            requirements.IntRequirement(name="swap_type", optional=True, description="swap_info[] index of that area"),
            requirements.IntRequirement(name="nr_swapfiles", optional=True, description="The kernel's nr_swapfiles"),
            requirements.IntRequirement(name="swap_slots", optional=True, description="Slots of that area (its max)"),
            requirements.StringRequirement(name="swap_pte_layout", optional=True,
                                           description="How the kernel encodes swap PTEs (swap/swp_entry.py)"),
            requirements.IntRequirement(name="swap_frontswap_map", optional=True,
                                        description="Kernel address of that area's frontswap_map (zswap), 0 if none"),
        ]

    def build_configuration(self) -> interfaces.configuration.HierarchicalDict:
        """Keep the swap layer's *name* too (a constructable requirement's value is not kept):
        process layers are built from this configuration (`_add_process_layer`) and must
        read the same swap layer, not rebuild one."""
        config = super().build_configuration()  # type: ignore[misc]
        if self._swap_layer:
            config["swap_layer_name"] = self._swap_layer
        return config

    @property
    def dependencies(self) -> List[str]:
        deps = super().dependencies  # type: ignore[misc]
        return deps + [self._swap_layer] if self._swap_layer else deps

    @property
    def swap_settings(self) -> Optional[SwapSettings]:
        return self._swap_settings

    @property
    def swap_layer_name(self) -> Optional[str]:
        return self._swap_layer

    def swap_entry(self, pte: int) -> Optional[Tuple[str, SwpEntry]]:
        """(kind, entry) of a non-present PTE holding a swap entry, None otherwise."""
        settings = self._swap_settings
        entry = settings.pte_layout.swp_entry(pte) if settings else None
        if entry is None:
            return None
        kind = settings.kind(entry)  # type: ignore[union-attr]
        if kind == EntryKind.OURS:
            if entry.offset in self.frontswap:
                kind = EntryKind.ZSWAP
            elif self._context.layers[self._swap_layer].slot_offset(entry.offset) is None:  # type: ignore[attr-defined]
                kind = EntryKind.UNREADABLE
        return kind, entry

    def _translate(self, offset: int) -> Tuple[int, int, str]:
        try:
            return super()._translate(offset)  # type: ignore[misc]
        except exceptions.PagedInvalidAddressException as exc:
            # most misses are empty PTEs or absent tables: leave them at once
            if not exc.entry or exc.invalid_bits != 12 or self._swap_settings is None:
                raise
            found = self.swap_entry(exc.entry)
            if found is None:
                raise
            kind, entry = found
            self.swap_counters.add(kind, entry)
            if kind != EntryKind.OURS:
                raise exceptions.SwappedInvalidAddressException(
                    layer_name=exc.layer_name, invalid_address=exc.invalid_address, invalid_bits=exc.invalid_bits,
                    entry=exc.entry, swap_offset=entry.offset * PAGE,
                ) from None
            return entry.offset * PAGE + (offset & (PAGE - 1)), PAGE, self._swap_layer  # type: ignore[return-value]


    def mapping(self, offset: int, length: int,
                ignore_errors: bool = False) -> Iterator[Tuple[int, int, int, int, str]]:
        """Intel.mapping, except that each swapped page is a chunk of its own.

        Neighbouring pages are often in neighbouring slots; merged, a run of them is only
        yielded once the walk has passed its end.  Stock callers that want the first chunk
        of a range (the CLI's hex dump of a match calls mapping(start, end) with the end as
        a length) would then walk the whole run and the unmapped space after it, per row."""
        stash: Optional[List] = None
        for chunk in self._mapping(offset, length, ignore_errors):  # type: ignore[attr-defined]
            if chunk[4] == self._swap_layer:
                if stash is not None:
                    yield tuple(stash)  # type: ignore[misc]
                    stash = None
                yield chunk
            elif stash is not None and stash[0] + stash[1] == chunk[0] and stash[2] + stash[3] == chunk[2] \
                    and stash[4] == chunk[4]:
                stash[1] += chunk[1]
                stash[3] += chunk[3]
            else:
                if stash is not None:
                    yield tuple(stash)  # type: ignore[misc]
                stash = list(chunk)
        if stash is not None:
            yield tuple(stash)  # type: ignore[misc]


class SwapLinuxIntel32e(SwapResolvingMixin, intel.LinuxIntel32e):
    """4-level x86-64 Linux paging, swapped pages read from the input's swap area."""


class SwapLinuxIntel32eLA57(SwapResolvingMixin, LinuxIntel32eLA57):
    """5-level x86-64 Linux paging, swapped pages read from the input's swap area."""


RESOLVING = {intel.LinuxIntel32e: SwapLinuxIntel32e, LinuxIntel32eLA57: SwapLinuxIntel32eLA57}


def swap_slot_layer(context, image_layer: SwsuspLayer, nr_slots: int, extents) -> str:
    """Add the swap area of the image's input as a SwapSlotLayer; its name."""
    image = image_layer.image
    loc = image.location
    name = context.layers.free_layer_name("SwapSlotLayer")
    join = interfaces.configuration.path_join
    values = {
        "base_layer": image_layer.config["base_layer"], "partition_offset": loc.partition.offset,
        "partition_size": loc.partition.size, "resume_offset": loc.resume_offset, "block_base": loc.block_base,
        "nr_slots": nr_slots,
    }
    # slot s is block s of a partition and of a copied-out swap file; a file inside a
    # filesystem needs the kernel's extents (never assumed contiguous)
    if not image.area.slots_are_blocks and extents:
        values["extents"] = format_extents(extents)
    for key, value in values.items():
        context.config[join(name, key)] = value
    context.add_layer(SwapSlotLayer(context, name, name))
    return name


def resolving_kernel(context, kernel, table_name: str, image_layer_name: str, banner):
    """The kernel layer, made to resolve swap entries of the input's swap area (or `kernel`
    itself when swap resolution is off or the area cannot be identified)."""
    if not options.flag(context, "swap"):
        vollog.info("Swap resolution off (swsusp.swap=false): swapped-out pages read as unmapped")
        return kernel
    image_layer = context.layers[image_layer_name]
    cls = RESOLVING.get(type(kernel))
    if cls is None or not isinstance(image_layer, SwsuspLayer):
        return kernel
    context.add_layer(kernel)  # read swap_info[] through it, then hand it back unregistered
    try:
        shift = kernel.config["kernel_virtual_offset"]
        found = discover(context, table_name, kernel.name, shift, image_layer.image, banner)
    except (exceptions.InvalidAddressException, exceptions.SymbolError, KeyError) as exc:
        vollog.warning(f"Swapped-out pages not resolved: the kernel's swap_info[] is unreadable ({exc})")
        return kernel
    finally:
        context.layers.del_layer(kernel.name)
    settings = found.settings
    if settings is None:
        # hibernation needs CONFIG_SWAP: an ISF without swap_info is a stripped one (info only)
        log = vollog.warning if found.areas else vollog.info
        log(f"Swapped-out pages not resolved: {found.why if found.layout else found.layout_why}")
        return kernel
    swap_layer = swap_slot_layer(context, image_layer, settings.nr_slots, found.ours.extents)  # type: ignore[union-attr]
    values = {"swap_layer": swap_layer, "swap_type": settings.our_type, "nr_swapfiles": settings.nr_swapfiles,
              "swap_slots": settings.nr_slots, "swap_pte_layout": settings.pte_layout.name,
              "swap_frontswap_map": found.ours.frontswap_map}  # type: ignore[union-attr]
    if found.zswap_untold:
        vollog.warning("zswap was enabled and this kernel (6.5+) keeps no per-slot record of what it held: a page "
                       "zswap kept in RAM reads as whatever its never-written slot holds")
    for key, value in values.items():
        context.config[interfaces.configuration.path_join(kernel.config_path, key)] = value
    vollog.info(f"Swapped-out pages resolved from the input: {found.why}; PTE layout {settings.pte_layout.name} "
                f"({found.layout_why})")
    return cls(context, config_path=kernel.config_path, name=kernel.name, metadata={"os": "Linux"})
