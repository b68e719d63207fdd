"""Physical memory of any input Volatility reads (our hibernation layer, ELF, LiME, QEMU,
raw ...), stacked with the format stackers only: no kernel stacker, no symbols needed."""

import logging
import os
import stat
import sys
import urllib.parse
import urllib.request
from typing import List, Optional, Tuple

from volatility3 import framework
from volatility3.framework import constants, exceptions, interfaces
from volatility3.framework.layers import physical

from volatility3.plugins.swsusp.format.source import file_data_runs
from volatility3.plugins.swsusp.paging.errors import MissingMemory
from volatility3.plugins.swsusp.paging.walk import ReadPhys
from volatility3.plugins.swsusp.vol.refusal import Refusal
from volatility3.plugins.swsusp.vol.sparse import SparseFileStacker

vollog = logging.getLogger(__name__)
FORMAT_STACKERS_BELOW = 30  # kernel stackers (ours at 30, Linux at 34/35) are not wanted here
# nor the sparse-file layer (25), which serves the kernel stackers' scans: a raw file stays a
# FileLayer here, and `ranges` skips its holes itself (data_extents)


def _is_url(path_or_url: str) -> bool:
    parsed = urllib.parse.urlparse(path_or_url)
    return bool(parsed.scheme) and len(parsed.scheme) > 1  # not a Windows drive letter


def unreadable_file(path_or_url: str, what: str = "a RAM dump") -> Optional[str]:
    """Why a local path (or file URL) cannot be a memory dump Volatility reads (None if it may
    be one): missing, a folder, empty, or a character device, FIFO or socket (no size, no
    offsets).  Any other URL is left to Volatility."""
    if _is_url(path_or_url):
        parsed = urllib.parse.urlparse(path_or_url)
        if parsed.scheme != "file":
            return None
        path_or_url = urllib.request.url2pathname(parsed.path)
    try:
        st = os.stat(path_or_url)
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISDIR(st.st_mode):
        return "a folder, not a file"
    if stat.S_ISCHR(st.st_mode):
        return f"a character device, not {what} Volatility can read (it has no size and no offsets)"
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        return f"not a regular file or block device, so not {what} Volatility can read"
    if stat.S_ISREG(st.st_mode) and st.st_size == 0:
        return f"an empty file (0 bytes), not {what}"
    if not os.access(path_or_url, os.R_OK):
        return "not readable (permission denied)"
    return None


def location_url(path_or_url: str) -> str:
    """A path as users type it, or a file URL, as a URL Volatility can open."""
    if _is_url(path_or_url):
        return path_or_url
    why = unreadable_file(path_or_url)
    if why:
        raise Refusal(f"{path_or_url}: {why}")
    path = os.path.abspath(path_or_url)
    return urllib.parse.urljoin("file:", urllib.request.pathname2url(path))


def physical_layer(context, url: str, name: str, progress_callback=None) -> str:
    """Stack format layers over the file at `url`; return the top (physical) layer's name."""
    framework.import_files(sys.modules["volatility3.framework.layers"], True)
    base = context.layers.free_layer_name(name)
    context.config[interfaces.configuration.path_join(base, "location")] = url
    context.add_layer(physical.FileLayer(context, base, base))
    stackers = sorted(
        (s for s in framework.class_subclasses(interfaces.automagic.StackerLayerInterface)
         if s.stack_order < FORMAT_STACKERS_BELOW and s is not SparseFileStacker),
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
    if not isinstance(layer, interfaces.layers.TranslationLayerInterface):  # a raw file
        path = _local_file(layer)
        whole = [(layer.minimum_address, layer.maximum_address + 1)]
        return data_extents(path, layer.maximum_address + 1) if path else whole
    out: List[List[int]] = []
    for offset, length, *_rest in layer.mapping(0, layer.maximum_address + 1, ignore_errors=True):
        if out and out[-1][1] == offset:
            out[-1][1] = offset + length
        else:
            out.append([offset, offset + length])
    return [(a, b) for a, b in out]


def _local_file(layer) -> Optional[str]:
    location = layer.config.get("location", None)
    parsed = urllib.parse.urlparse(location) if isinstance(location, str) else None
    if parsed is None or parsed.scheme != "file":
        return None
    path = urllib.request.url2pathname(parsed.path)
    return path if os.path.isfile(path) else None


def data_extents(path: str, size: int) -> List[Tuple[int, int]]:
    """The parts of a (sparse) file that hold data: a hole reads as zeros, which hold no page
    table, so scans skip it (a 1 TiB sparse file with one page of data is one page of work).
    The whole file where the file system cannot say."""
    return list(file_data_runs(path, size))


def reader(layer) -> ReadPhys:
    """`layer.read` as the paging room's read function: an address the layer cannot map
    raises MissingMemory (a KeyError), as `walk.ReadPhys` says, not Volatility's exception."""

    def read(pa: int, n: int) -> bytes:
        try:
            return layer.read(pa, n)
        except exceptions.InvalidAddressException as exc:
            raise MissingMemory(pa, n, str(exc)) from None

    return read
