"""Sparse raw inputs: scans that skip the file's holes.

Volatility scans a plain file (a FileLayer) byte by byte, holes included, so on a 1 TiB
sparse file with a few MiB of data its banner scans (LinuxIntelStacker,
LinuxIntelVMCOREINFOStacker, ours in vol/ramdump.py) read a TiB of zeros: minutes for
nothing.  A TranslationLayer's scan walks its `mapping()` instead and skips what is not
mapped.  So, on a large local file whose holes are most of it, a `SparseFileLayer` goes over
the FileLayer once the format stackers (ELF, LiME, ours ...) have declined it: its
`mapping()` gives the data runs only, while its reads are the file's own bytes (a hole reads
as zeros, pad or not, as on disk).  Every plugin therefore sees the same memory as on the
file itself; only the scans are shorter.  Dense files keep the FileLayer as it is.
"""
from __future__ import annotations

import logging
from typing import Iterable, List, Optional, Tuple

from volatility3.framework import constants, interfaces
from volatility3.framework.configuration import requirements
from volatility3.framework.layers import physical

from volatility3.plugins.swsusp.format.source import Run, file_data_runs
from volatility3.plugins.swsusp.vol.layer import local_path

vollog = logging.getLogger(__name__)

MIN_SIZE = 1 << 30  # smaller files are scanned whole in a few seconds: left as they are
MIN_HOLE = 4 << 20  # smaller holes are scanned with their data (fewer, larger runs)
MARGIN = 64 << 10  # scanned zeros either side of a run: a match that runs into a hole (a
#                    banner's trailing NULs) is found as on the dense file (scanners'
#                    matches are at most their overlap, 4 KiB, long)
MAX_RUNS = 1 << 18  # SEEK_DATA/SEEK_HOLE pairs asked at most; past them the rest counts as data


def data_runs(path: str, size: int) -> List[Run]:
    """The file's data as runs, holes of less than MIN_HOLE merged into them, each widened
    by MARGIN (within the file); [(0, size)] when the filesystem cannot tell."""
    runs: List[List[int]] = []
    for count, (lo, hi) in enumerate(file_data_runs(path, size)):
        if count >= MAX_RUNS:  # a file fragmented past reason: the rest is scanned whole
            hi = size
        lo, hi = max(0, lo - MARGIN), min(size, hi + MARGIN)
        if runs and lo - runs[-1][1] < MIN_HOLE:
            runs[-1][1] = max(runs[-1][1], hi)
        else:
            runs.append([lo, hi])
        if hi == size:
            break
    return [(lo, hi) for lo, hi in runs]


def mostly_holes(runs: Iterable[Run], size: int) -> bool:
    """Whether the holes are at least half the file: a file really sparse."""
    return sum(hi - lo for lo, hi in runs) * 2 <= size


class SparseFileLayer(interfaces.layers.TranslationLayerInterface):
    """A sparse file's bytes as they are, with its holes left out of `mapping()` (what
    scans walk).  Reads, validity and the address range are the file's own; it is physical
    memory as the file is (no "mapped" metadata: layerwriter writes it as it wrote the file)."""

    def __init__(self, context, config_path: str, name: str, metadata=None) -> None:
        super().__init__(context, config_path, name, metadata)
        self._base_layer = self.config["base_layer"]
        base = self.context.layers[self._base_layer]
        self._size = base.maximum_address + 1
        path = local_path(context, self._base_layer)
        self._runs = data_runs(path, self._size) if path else [(0, self._size)]

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [requirements.TranslationLayerRequirement(
            name="base_layer", optional=False, description="The sparse file")]

    @property
    def dependencies(self) -> List[str]:
        return [self._base_layer]

    @property
    def minimum_address(self) -> int:
        return 0

    @property
    def maximum_address(self) -> int:
        return self._size - 1

    @property
    def runs(self) -> List[Run]:
        return list(self._runs)

    def is_valid(self, offset: int, length: int = 1) -> bool:
        return self.context.layers[self._base_layer].is_valid(offset, length)

    def read(self, offset: int, length: int, pad: bool = False) -> bytes:
        return self.context.layers.read(self._base_layer, offset, length, pad)

    def write(self, offset: int, data: bytes) -> None:
        self.context.layers.write(self._base_layer, offset, data)

    def mapping(self, offset: int, length: int, ignore_errors: bool = False
                ) -> Iterable[Tuple[int, int, int, int, str]]:
        """Identity pieces of [offset, offset + length): with `ignore_errors` (as scans ask)
        the data runs only; without it the whole range, holes included (they read as zeros:
        nothing in them is an error)."""
        end = offset + length
        if not ignore_errors:
            if length > 0:
                yield offset, length, offset, length, self._base_layer
            return
        for lo, hi in self._runs:
            lo, hi = max(lo, offset), min(hi, end)
            if lo < hi:
                yield lo, hi - lo, lo, hi - lo, self._base_layer


class SparseFileStacker(interfaces.automagic.StackerLayerInterface):
    """A SparseFileLayer over a large local file whose holes are most of it."""

    stack_order = 25  # after the format stackers (9..20: a format takes the file first), before
    #                   the kernel stackers (30..36), whose banner scans are what it shortens

    @classmethod
    def stack(cls, context, layer_name: str, progress_callback: constants.ProgressCallback = None
              ) -> Optional[SparseFileLayer]:
        layer = context.layers[layer_name]
        if type(layer) is not physical.FileLayer:
            return None  # a format's layer (or ours): its mapping is already its own
        size = layer.maximum_address + 1
        path = local_path(context, layer_name)
        if path is None or size < MIN_SIZE:
            return None
        runs = data_runs(path, size)
        if not mostly_holes(runs, size):
            return None
        name = context.layers.free_layer_name("SparseFileLayer")
        context.config[interfaces.configuration.path_join(name, "base_layer")] = layer_name
        vollog.info(f"Sparse file: scans read its {len(runs)} data run(s), "
                    f"{sum(hi - lo for lo, hi in runs) >> 20} MiB of {size >> 20} MiB")
        return SparseFileLayer(context, name, name)
