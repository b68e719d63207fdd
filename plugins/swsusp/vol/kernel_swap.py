"""What the hibernated kernel's own structures say about swap, read through a kernel layer
and the ISF: `swap_info[]` (the areas, their extents, zswap's `frontswap_map`), and which
area the input holds (swap/swap_info.py decides) with the kernel's swap PTE layout
(swap/swp_entry.py decides).

Every read is bounded (lists and trees stop at a limit and at a node seen twice), and a
field the ISF lacks is a SymbolError, an unreadable page an InvalidAddressException: the
callers catch those two and nothing else.
"""

import logging
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from volatility3.framework import exceptions

from volatility3.plugins.swsusp.format.swap_area import SwapExtent
from volatility3.plugins.swsusp.memory import U64
from volatility3.plugins.swsusp.swap import swp_entry
from volatility3.plugins.swsusp.swap.swap_info import KernelSwapArea, choose_area
from volatility3.plugins.swsusp.swap.swp_entry import SwapSettings
from volatility3.plugins.swsusp.vol import options

vollog = logging.getLogger(__name__)

SWP_USED = 0x1  # swap_info_struct.flags (include/linux/swap.h)
# swap_info[MAX_SWAPFILES] (mm/swapfile.c): MAX_SWAPFILES is (1 << MAX_SWAPFILES_SHIFT) less the
# types that non-swap entries take (include/linux/swap.h), so never more than this
MAX_SWAPFILES = 1 << swp_entry.MAX_SWAPFILES_SHIFT
MAX_EXTENTS = 1 << 20  # a fragmented swap file has many extents, never this many


class KernelReader:
    """Raw reads of kernel structures through the ISF's field offsets."""

    def __init__(self, context, table_name: str, layer_name: str, shift: int) -> None:
        self.table = context.symbol_space[table_name]
        self.layer = context.layers[layer_name]
        self.shift = shift
        self.pointer_size = self.table.get_type("pointer").size

    def has_symbol(self, name: str) -> bool:
        return name in self.table.symbols

    def symbol(self, name: str) -> int:
        """The symbol's run-time address, canonical (as pointers in memory are)."""
        return self.layer.canonicalize((self.table.get_symbol(name).address + self.shift) & U64)

    def has_type(self, name: str) -> bool:
        return name in self.table.types

    def has_field(self, struct_name: str, name: str) -> bool:
        return self.has_type(struct_name) and self.table.get_type(struct_name).has_member(name)

    def field(self, struct_name: str, name: str):
        """(offset, template) of a member; SymbolError when the ISF does not have it."""
        if not self.has_field(struct_name, name):
            raise exceptions.SymbolError(f"{struct_name}.{name}", self.table.name,
                                         f"{struct_name}.{name} is not in the ISF")
        return self.table.get_type(struct_name).vol.members[name]

    def offset(self, struct_name: str, name: str) -> int:
        return self.field(struct_name, name)[0]

    def u(self, address: int, size: int) -> int:
        return int.from_bytes(self.layer.read(address, size), "little")

    def member(self, address: int, struct_name: str, name: str) -> int:
        offset, template = self.field(struct_name, name)
        return self.u(address + offset, template.size)

    def pointer(self, address: int) -> int:
        return self.u(address, self.pointer_size)

    def list_entries(self, head: int, link_offset: int, limit: int) -> Iterator[int]:
        """The structures on a circular list_head (addresses of the containing structures,
        their list_head at `link_offset`), at most `limit` of them."""
        node, seen = self.pointer(head), {head}
        while node not in seen and len(seen) <= limit:
            seen.add(node)
            yield node - link_offset
            node = self.pointer(node)


# -- swap_info[] --------------------------------------------------------------------------------


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
            node = k.pointer(node + left)
        if not stack:
            break
        node = stack.pop()
        out.append(_extent(k, node - node_off))
        node = k.pointer(node + right)
    return out


def _extents_list(k: KernelReader, head: int, first_is_entry: bool) -> List[SwapExtent]:
    """first_swap_extent (2.6.33 .. 5.3: an embedded swap_extent, first of a circular list)
    or extent_list (older: a list_head of swap_extents)."""
    list_off = k.offset("swap_extent", "list")
    if first_is_entry:
        rest = k.list_entries(head + list_off, list_off, MAX_EXTENTS)
        return [_extent(k, head)] + [_extent(k, e) for e in rest]
    return [_extent(k, e) for e in k.list_entries(head, list_off, MAX_EXTENTS)]


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
    size = k.pointer_size if of_pointers else k.table.get_type("swap_info_struct").size
    length = getattr(template.vol, "count", 0) or MAX_SWAPFILES  # an extern declaration has no length
    areas = []
    for i in range(min(nr, length, MAX_SWAPFILES)):
        address = k.pointer(base + i * size) if of_pointers else base + i * size
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
        extents = _extents_rbtree(k, k.pointer(address + k.offset(s, "swap_extent_root")))
    elif k.has_field(s, "first_swap_extent"):
        extents = _extents_list(k, address + k.offset(s, "first_swap_extent"), True)
    else:
        extents = _extents_list(k, address + k.offset(s, "extent_list"), False)
    return KernelSwapArea(
        type=i, address=address, flags=k.member(address, s, "flags"), max=k.member(address, s, "max"),
        swap_map=k.member(address, s, "swap_map"), extents=sorted(extents, key=lambda e: e.start_page),
        frontswap_map=k.member(address, s, "frontswap_map") if k.has_field(s, "frontswap_map") else 0,
    )


# -- the input's area ---------------------------------------------------------------------------


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

    @property
    def why_not(self) -> str:
        """Why there are no settings."""
        return self.why if self.layout else self.layout_why

    def warn_zswap_untold(self) -> None:
        if self.zswap_untold:
            vollog.warning("zswap was enabled and this kernel (6.5+) keeps no per-slot record of what it held: a "
                           "page zswap kept in RAM reads as whatever its never-written slot holds")


def discover(context, table_name: str, layer_name: str, shift: int, image, banner) -> Discovery:
    """Read swap_info[] through `layer_name` and find the input's area.  Raises
    InvalidAddressException or SymbolError when the kernel's swap state cannot be read."""
    k = KernelReader(context, table_name, layer_name, shift)
    layout, layout_why = swp_entry.pte_layout_for(swp_entry.banner_version(banner), k.has_symbol)
    if not (k.has_symbol("swap_info") and k.has_symbol("nr_swapfiles")):
        return Discovery([], 0, None, layout, "the ISF has no swap_info/nr_swapfiles (kernel without CONFIG_SWAP?)",
                         layout_why)
    nr, areas = read_swap_areas(k)
    ours, why = choose_area(areas, image.area, options.integer(context, "swap_type"))
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
    through a kernel layer; empty where its pages are not in the image."""

    def __init__(self, read, address: int, nr_slots: int) -> None:
        self._read, self._address, self._nbytes = read, address, (nr_slots + 7) // 8
        self._bits: Optional[bytes] = None

    def __contains__(self, slot: object) -> bool:
        if not self._address or not isinstance(slot, int):
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
