"""Physical memory of any input Volatility reads (our hibernation layer, ELF, LiME, QEMU,
raw ...), stacked with the format stackers only: no kernel stacker, no symbols needed."""

import logging
import os
import sys
import urllib.parse
import urllib.request
from typing import List, Tuple

from volatility3 import framework
from volatility3.framework import constants, exceptions, interfaces
from volatility3.framework.layers import physical

from volatility3.plugins.swsusp.paging.errors import MissingMemory
from volatility3.plugins.swsusp.paging.walk import ReadPhys
from volatility3.plugins.swsusp.vol.refusal import Refusal

vollog = logging.getLogger(__name__)
FORMAT_STACKERS_BELOW = 30  # kernel stackers (ours at 30, Linux at 34/35) are not wanted here


def location_url(path_or_url: str) -> str:
    """A path as users type it, or a file URL, as a URL Volatility can open."""
    parsed = urllib.parse.urlparse(path_or_url)
    if parsed.scheme and len(parsed.scheme) > 1:
        return path_or_url
    path = os.path.abspath(path_or_url)
    if not os.path.isfile(path):
        raise Refusal(f"No such file: {path_or_url}")
    return urllib.parse.urljoin("file:", urllib.request.pathname2url(path))


def physical_layer(context, url: str, name: str, progress_callback=None) -> str:
    """Stack format layers over the file at `url`; return the top (physical) layer's name."""
    framework.import_files(sys.modules["volatility3.framework.layers"], True)
    base = context.layers.free_layer_name(name)
    context.config[interfaces.configuration.path_join(base, "location")] = url
    context.add_layer(physical.FileLayer(context, base, base))
    stackers = sorted(
        (s for s in framework.class_subclasses(interfaces.automagic.StackerLayerInterface)
         if s.stack_order < FORMAT_STACKERS_BELOW),
        key=lambda s: s.stack_order,
    )
    top = base
    while True:
        for stacker in stackers:
            try:
                layer = stacker.stack(context, top, progress_callback)
            except Exception as exc:  # noqa: BLE001 - any plugin's stacker, as Volatility's LayerStacker does
                vollog.log(constants.LOGLEVEL_VVV, f"{stacker.__name__} does not stack on {top}: {exc}")
                layer = None
            if layer is not None:
                context.add_layer(layer)
                top = layer.name
                stackers.remove(stacker)
                break
        else:
            return top


def ranges(context, layer_name: str) -> List[Tuple[int, int]]:
    """Physical ranges the layer holds (merged runs of its mapping), for scans to skip holes."""
    layer = context.layers[layer_name]
    if not isinstance(layer, interfaces.layers.TranslationLayerInterface):
        return [(layer.minimum_address, layer.maximum_address + 1)]  # a raw file: all of it
    out: List[List[int]] = []
    for offset, length, *_rest in layer.mapping(0, layer.maximum_address + 1, ignore_errors=True):
        if out and out[-1][1] == offset:
            out[-1][1] = offset + length
        else:
            out.append([offset, offset + length])
    return [(a, b) for a, b in out]


def reader(layer) -> ReadPhys:
    """`layer.read` as the paging room's read function: an address the layer cannot map
    raises MissingMemory (a KeyError), as `walk.ReadPhys` says, not Volatility's exception."""

    def read(pa: int, n: int) -> bytes:
        try:
            return layer.read(pa, n)
        except exceptions.InvalidAddressException as exc:
            raise MissingMemory(pa, n, str(exc)) from None

    return read
