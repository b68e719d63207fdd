"""Swapped-out pages as Volatility sees memory: kernel layers whose non-present PTEs holding a
swap entry of *our* swap area resolve to that slot of the input (the way
`WindowsMixin._translate_swap` resolves pagefile entries).

On a hibernation input, `SwsuspIntelStacker` asks `resolving_kernel()` for the kernel layer:
it reads the hibernated kernel's `swap_info[]` through the ISF (vol/kernel_swap.py), finds
the area the input holds, decides the swap PTE layout from the kernel (swap/swp_entry.py),
and returns a `SwapLinuxIntel32e` (or LA57) layer, which puts the input's swap area by slot
(vol/swap_slot_layer.py) beside it.  Process layers are built from that layer's
configuration, so they resolve too, through the same slot layer.

Entries of another swap area, slots outside the area, slots the input does not hold, pages
zswap held and non-swap entries (migration, hwpoison, device, markers) stay invalid, as any
unmapped page; the slot layer counts them (logged once per kind).  `-e swsusp.swap=false`
turns resolution off (the RAM-only view), and so does a plugin that needs no kernel symbols
(layerwriter, banners, yarascan...): it gets the physical layers only.
"""

import logging
from typing import Container, Iterator, List, Optional, Tuple

from volatility3.framework import exceptions, interfaces
from volatility3.framework.configuration import requirements
from volatility3.framework.layers import intel

from volatility3.plugins.swsusp.memory import PAGE_SIZE
from volatility3.plugins.swsusp.swap import swp_entry
from volatility3.plugins.swsusp.swap.swp_entry import EntryKind, SwapSettings, SwpEntry
from volatility3.plugins.swsusp.vol import nosym, options
from volatility3.plugins.swsusp.vol.kernel_swap import discover
from volatility3.plugins.swsusp.vol.la57 import LinuxIntel32eLA57
from volatility3.plugins.swsusp.vol.layer import SwsuspLayer
from volatility3.plugins.swsusp.vol.swap_slot_layer import SwapSlotLayer, format_extents, slot_layer

vollog = logging.getLogger(__name__)
Chunk = Tuple[int, int, int, int, str]  # (offset, length, mapped offset, mapped length, layer), as mapping() yields


class SwapLinuxIntel32e(intel.LinuxIntel32e):
    """4-level x86-64 Linux paging, swapped pages read from the input's swap area."""

    _swap_settings: Optional[SwapSettings] = None
    _swap_layer: Optional[str] = None  # the SwapSlotLayer's name
    _zswap: Container[int] = frozenset()  # slots whose page zswap held

    def __init__(self, context, config_path: str, name: str, metadata=None) -> None:
        super().__init__(context, config_path, name, metadata)
        cfg = self.config
        if cfg.get("swap_type", None) is None:
            return
        # a process layer's configuration is this one's, with the slot layer's name in it
        self._swap_layer = slot_layer(context, cfg["memory_layer"], cfg.get("swap_layer_name", None),
                                      cfg["swap_slots"], cfg.get("swap_extents", None))
        if self._swap_layer is None:
            vollog.warning(f"Swapped-out pages not resolved by {name}: no hibernation image under it")
            return
        self._swap_settings = SwapSettings(cfg["swap_type"], cfg["nr_swapfiles"], cfg["swap_slots"],
                                           swp_entry.layout_named(cfg["swap_pte_layout"]))
        self._zswap = self._slots.zswap(self.read, cfg.get("swap_frontswap_map", None) or 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return super().get_requirements() + [
            requirements.StringRequirement(name="swap_layer_name", optional=True,
                                           description="Name of the swap area layer (kept for process layers)"),
            requirements.IntRequirement(name="swap_type", optional=True, description="swap_info[] index of that area"),
            requirements.IntRequirement(name="nr_swapfiles", optional=True, description="The kernel's nr_swapfiles"),
            requirements.IntRequirement(name="swap_slots", optional=True, description="Slots of that area (its max)"),
            requirements.StringRequirement(name="swap_pte_layout", optional=True,
                                           description="How the kernel encodes swap PTEs (swap/swp_entry.py)"),
            requirements.IntRequirement(name="swap_frontswap_map", optional=True,
                                        description="Kernel address of that area's frontswap_map (zswap), 0 if none"),
            requirements.StringRequirement(name="swap_extents", optional=True,
                                           description="That area's swap extents start_page:nr_pages:start_block,..."),
        ]

    def build_configuration(self) -> interfaces.configuration.HierarchicalDict:
        """Keep the slot layer's name: process layers are built from this configuration
        (`_add_process_layer`) and read the same slot layer, not a new one."""
        config = super().build_configuration()
        if self._swap_layer:
            config["swap_layer_name"] = self._swap_layer
        return config

    @property
    def dependencies(self) -> List[str]:
        deps = super().dependencies
        return deps + [self._swap_layer] if self._swap_layer else deps

    @property
    def swap_settings(self) -> Optional[SwapSettings]:
        return self._swap_settings

    @property
    def _slots(self) -> SwapSlotLayer:
        return self._context.layers[self._swap_layer]

    def swap_entry(self, pte: int) -> Optional[Tuple[str, SwpEntry]]:
        """(kind, entry) of a non-present PTE holding a swap entry, None otherwise."""
        settings = self._swap_settings
        entry = settings.pte_layout.swp_entry(pte) if settings else None
        if settings is None or entry is None:
            return None
        slots = self._slots
        return swp_entry.classify(settings, entry, self._zswap, lambda s: slots.slot_offset(s) is not None), entry

    def _translate(self, offset: int) -> Tuple[int, int, str]:
        try:
            return super()._translate(offset)
        except exceptions.PagedInvalidAddressException as exc:
            # most misses are empty PTEs or absent tables: leave them at once
            if not exc.entry or exc.invalid_bits != 12 or self._swap_settings is None:
                raise
            found = self.swap_entry(exc.entry)
            if found is None:
                raise
            kind, entry = found
            self._slots.met(kind, entry)
            if kind != EntryKind.OURS:
                raise exceptions.SwappedInvalidAddressException(
                    layer_name=exc.layer_name, invalid_address=exc.invalid_address, invalid_bits=exc.invalid_bits,
                    entry=exc.entry, swap_offset=entry.offset * PAGE_SIZE,
                ) from None
            return entry.offset * PAGE_SIZE + (offset & (PAGE_SIZE - 1)), PAGE_SIZE, self._slots.name

    def mapping(self, offset: int, length: int,
                ignore_errors: bool = False) -> Iterator[Chunk]:
        """Intel.mapping, except that each swapped page is a chunk of its own.

        Neighbouring pages are often in neighbouring slots; merged, a run of them is only
        yielded once the walk has passed its end.  Stock callers that want the first chunk
        of a range (the CLI's hex dump of a match calls mapping(start, end) with the end as
        a length) would then walk the whole run and the unmapped space after it, per row."""
        stash: Optional[Chunk] = None  # a run of merged chunks not yet yielded
        for chunk in self._mapping(offset, length, ignore_errors):
            if chunk[4] == self._swap_layer:
                if stash is not None:
                    yield stash
                    stash = None
                yield chunk
            elif stash is not None and stash[0] + stash[1] == chunk[0] and stash[2] + stash[3] == chunk[2] \
                    and stash[4] == chunk[4]:
                stash = (stash[0], stash[1] + chunk[1], stash[2], stash[3] + chunk[3], stash[4])
            else:
                if stash is not None:
                    yield stash
                stash = chunk
        if stash is not None:
            yield stash

class SwapLinuxIntel32eLA57(SwapLinuxIntel32e, LinuxIntel32eLA57):
    """5-level x86-64 Linux paging (LA57's levels and widths), swapped pages read from the
    input's swap area."""


RESOLVING = {intel.LinuxIntel32e: SwapLinuxIntel32e, LinuxIntel32eLA57: SwapLinuxIntel32eLA57}


def resolving_kernel(context, kernel, table_name: str, image_layer_name: str, banner):
    """The kernel layer, made to resolve swap entries of the input's swap area (or `kernel`
    itself when swap resolution is off, the plugin needs no symbols, or the area cannot be
    identified)."""
    if not options.flag(context, "swap"):
        vollog.info("Swap resolution off (swsusp.swap=false): swapped-out pages read as unmapped")
        return kernel
    if not nosym.symbols_needed(context):
        vollog.debug("The plugin needs no kernel symbols: swapped-out pages are not resolved")
        return kernel
    image_layer = context.layers[image_layer_name]
    cls = RESOLVING.get(type(kernel))
    if cls is None or not isinstance(image_layer, SwsuspLayer):
        return kernel
    context.add_layer(kernel)  # read swap_info[] through it, then hand it back unregistered
    try:
        found = discover(context, table_name, kernel.name, kernel.config["kernel_virtual_offset"], image_layer.image,
                         banner)
    except (exceptions.InvalidAddressException, exceptions.SymbolError) as exc:
        vollog.warning(f"Swapped-out pages not resolved: the kernel's swap_info[] is unreadable ({exc})")
        return kernel
    finally:
        context.layers.del_layer(kernel.name)
    settings = found.settings
    if settings is None or found.ours is None:
        # hibernation needs CONFIG_SWAP: an ISF without swap_info is a stripped one (info only)
        log = vollog.warning if found.areas else vollog.info
        log(f"Swapped-out pages not resolved: {found.why_not}")
        return kernel
    found.warn_zswap_untold()
    values = {"swap_type": settings.our_type, "nr_swapfiles": settings.nr_swapfiles, "swap_slots": settings.nr_slots,
              "swap_pte_layout": settings.pte_layout.name, "swap_frontswap_map": found.ours.frontswap_map,
              "swap_extents": format_extents(found.ours.extents)}
    for key, value in values.items():
        context.config[interfaces.configuration.path_join(kernel.config_path, key)] = value
    vollog.info(f"Swapped-out pages resolved from the input: {found.why}; PTE layout {settings.pte_layout.name} "
                f"({found.layout_why})")
    return cls(context, config_path=kernel.config_path, name=kernel.name, metadata={"os": "Linux"})
