"""The swap area of the input addressed by slot, as a Volatility layer: what a swap entry of
the input's area reads (vol/swap_layer.py).

The layer reads the file the hibernation image layer reads (its `base_layer`, the same
FileLayer: no second one), and its slot -> block translation is the image's own SwapArea
(format/swap_area.py) with, for a swap file inside a filesystem, the kernel's extents.
It is made by the kernel layer that resolves swap entries, in the kernel layer's context
(never through a layer requirement, so Volatility does not rebuild it with a file layer of
its own), and found again by name by the process layers built from that kernel layer.

It also keeps what the resolving layers share for this area: the swap entries they met,
by kind (logged once per kind), and zswap's record of the slots it held.
"""

import logging
from typing import Iterator, List, Optional, Sequence, Tuple

from volatility3.framework import exceptions, interfaces
from volatility3.framework.configuration import requirements

from volatility3.plugins.swsusp.format.errors import SwsuspFormatError
from volatility3.plugins.swsusp.format.swap_area import SwapArea, SwapExtent
from volatility3.plugins.swsusp.memory import PAGE_SIZE
from volatility3.plugins.swsusp.swap.accounting import EntryCounts
from volatility3.plugins.swsusp.swap.swp_entry import EntryKind, SwpEntry
from volatility3.plugins.swsusp.vol.kernel_swap import FrontswapMap
from volatility3.plugins.swsusp.vol.layer import (
    EvidencePhysicalLayer,
    SwsuspFormatException,
    SwsuspLayer,
    open_image,
)

vollog = logging.getLogger(__name__)


def format_extents(extents: Sequence[SwapExtent]) -> str:
    return ",".join(f"{e.start_page}:{e.nr_pages}:{e.start_block}" for e in extents)


def parse_extents(text: Optional[str]) -> List[SwapExtent]:
    out = []
    for part in filter(None, (text or "").split(",")):
        start_page, nr_pages, start_block = (int(x) for x in part.split(":"))
        out.append(SwapExtent(start_page, nr_pages, start_block))
    return out


def image_layer_below(context, layer_name: str) -> Optional[SwsuspLayer]:
    """The hibernation image layer under a layer (a kernel layer, through the safe-tables
    layer when there is one)."""
    seen = set()
    todo = [layer_name]
    while todo:
        name = todo.pop()
        if name in seen or name not in context.layers:
            continue
        seen.add(name)
        layer = context.layers[name]
        if isinstance(layer, SwsuspLayer):
            return layer
        todo.extend(getattr(layer, "dependencies", []))
    return None


def _not_in_input(address: int) -> str:
    return f"Swap slot {address // PAGE_SIZE} is not in the input"


class SwapSlotLayer(EvidencePhysicalLayer):
    """The swap area of the input addressed by slot: slot s at s * 4096, invalid where the
    input does not hold it (beyond the area, past a truncated file, outside known extents)."""

    def __init__(self, context, config_path: str, name: str, metadata=None) -> None:
        super().__init__(context, config_path, name, metadata)
        cfg = self.config
        try:
            image = open_image(context, self._base_layer, cfg["partition_offset"], cfg["resume_offset"],
                               cfg.get("block_base", None), cfg["partition_size"])
        except SwsuspFormatError as exc:
            raise SwsuspFormatException(f"swap area layer {name}", exc) from None
        self.area: SwapArea = image.area.with_kernel_extents(parse_extents(cfg.get("extents", None)))
        self._max = cfg["nr_slots"] * PAGE_SIZE - 1
        self.entries = EntryCounts()  # swap entries the resolving layers met
        self._zswap: Optional[FrontswapMap] = None

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

    # -- what the resolving layers share ----------------------------------------------------

    def met(self, kind: str, entry: SwpEntry) -> None:
        """A resolving layer met `entry`: count it, and say so once per kind that does not resolve."""
        if self.entries.add(kind, entry) and kind != EntryKind.OURS:
            vollog.info(f"Swap entry type {entry.type} slot {entry.offset}: {kind} "
                        "(entries of this kind read as unmapped)")

    def zswap(self, read, address: int) -> FrontswapMap:
        """zswap's record of this area's slots, read once (through the first layer that asks)."""
        if self._zswap is None:
            self._zswap = FrontswapMap(read, address, self._max // PAGE_SIZE + 1)
        return self._zswap

    # -- the layer --------------------------------------------------------------------------

    def slot_offset(self, slot: int) -> Optional[int]:
        return self.area.slot_offset(slot) if 0 <= slot * PAGE_SIZE <= self._max else None

    def _runs(self, offset: int, length: int) -> Iterator[Tuple[int, int, Optional[int]]]:
        """(address, length, file offset or None) of each slot piece in the range."""
        pos, end = offset, offset + length
        while pos < end:
            slot, within = divmod(pos, PAGE_SIZE)
            n = min(end - pos, PAGE_SIZE - within)
            file_offset = self.slot_offset(slot)
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


def slot_layer(context, memory_layer: str, name: Optional[str], nr_slots: int, extents: Optional[str]) -> Optional[str]:
    """The name of the slot layer of the input under `memory_layer` (a kernel layer's): the
    layer `name` when it is that (a process layer's kernel made it), else a new one over
    the image layer's own file layer.  None when there is no hibernation image below."""
    image_layer = image_layer_below(context, memory_layer)
    if image_layer is None:
        return None
    existing = context.layers[name] if name and name in context.layers else None
    if isinstance(existing, SwapSlotLayer) and existing.config["base_layer"] == image_layer.config["base_layer"]:
        return name
    loc = image_layer.image.location
    new = context.layers.free_layer_name("swap_layer")
    values = {"base_layer": image_layer.config["base_layer"], "partition_offset": loc.partition.offset,
              "partition_size": loc.partition.size, "resume_offset": loc.resume_offset,
              "block_base": loc.block_base, "nr_slots": nr_slots, "extents": extents or ""}
    for key, value in values.items():
        context.config[interfaces.configuration.path_join(new, key)] = value
    context.add_layer(SwapSlotLayer(context, new, new))
    return new
