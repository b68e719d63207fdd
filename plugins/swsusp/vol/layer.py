"""The hibernation image as a Volatility physical layer: page PFN at PFN*4096.

Pages the image does not hold (free, nosave, never RAM) are invalid, not zero; 6.6+ zero
pages read as zeros.  Everything the layer needs is in its config (base_layer and the
image's location), so Volatility can rebuild it; the opened image is cached per file so
the rebuild does not read the index twice.
"""

import logging
import os
import threading
import urllib.parse
import urllib.request
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Tuple

from volatility3.framework import constants, exceptions, interfaces
from volatility3.framework.configuration import requirements

from volatility3.plugins.swsusp.format import describe, locate
from volatility3.plugins.swsusp.format.errors import NotAnImageError, PageDamaged, PageNotInImage, SwsuspFormatError
from volatility3.plugins.swsusp.format.filefrag import read_filefrag
from volatility3.plugins.swsusp.format.header import ALL_SIGS
from volatility3.plugins.swsusp.format.identify import identify
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.format.source import ChunkedFind, FileSource, check_offset
from volatility3.plugins.swsusp.format.structs import PAGE_SIZE, SIG_LEN, SIG_OFFSET
from volatility3.plugins.swsusp.vol import options
from volatility3.plugins.swsusp.vol.refusal import Refusal, hook_command_line

vollog = logging.getLogger(__name__)

SINGLE_LOCATION = "automagic.LayerStacker.single_location"  # where Volatility keeps -f


class SwsuspFormatException(Refusal):
    """A damaged or unsupported input: "<input>: <what is wrong> (at file offset ...)", the
    one line `vol` prints before it exits 1 (vol/refusal.py says why this is not a
    LayerException).  `error` keeps the SwsuspFormatError (offset, block, PFN)."""

    def __init__(self, source: str, error) -> None:
        super().__init__(f"{source}: {error.message if isinstance(error, SwsuspFormatError) else error}",
                         error if isinstance(error, SwsuspFormatError) else None)


class DamagedPageException(exceptions.InvalidAddressException):
    """A page the image lists but cannot give (its block is damaged): an invalid address, which
    plugins catch as any other; one that ends the run is printed as its `refusal` line alone
    (refusal.hook_command_line), not with Volatility's "memory smear ... file a bug" causes."""

    def __init__(self, layer: "SwsuspLayer", address: int, why: str) -> None:
        super().__init__(layer.name, address, why)
        self.refusal = (f"{input_name(layer.context, layer.config['base_layer'])}: {why}; the plugin cannot go on "
                        "without this page (linux.swsusp_info lists every damaged part of the image)")


class LayerSource(ChunkedFind):
    """Read bytes through a Volatility layer (when the input is not a plain local file)."""

    def __init__(self, context, layer_name: str) -> None:
        self._layer = context.layers[layer_name]
        self.size = self._layer.maximum_address + 1

    def read(self, offset: int, length: int) -> bytes:
        check_offset(offset)
        length = max(0, min(length, self.size - offset))
        return self._layer.read(offset, length, pad=True) if length else b""


def local_path(context, layer_name: str) -> Optional[str]:
    """The file behind a FileLayer with a file:// location, else None."""
    location = context.layers[layer_name].config.get("location", None)
    if not isinstance(location, str):
        return None
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme != "file":
        return None
    path = urllib.request.url2pathname(parsed.path)
    return path if os.path.isfile(path) else None


def is_input(context, layer_name: str) -> bool:
    """Whether the layer is the file given with -f."""
    location = context.layers[layer_name].config.get("location", None)
    return location is not None and location == context.config.get(SINGLE_LOCATION, None)


def input_name(context, layer_name: str, given: Optional[Dict[str, int]] = None) -> str:
    """How a refusal names the input: its file name, and the -e options that placed the image."""
    location = context.layers[layer_name].config.get("location", None)
    path = urllib.parse.urlparse(location).path if isinstance(location, str) else ""
    name = os.path.basename(urllib.request.url2pathname(path).rstrip("/")) or layer_name
    placed = ", ".join(f"-e {options.NAMESPACE}.{key}={value}" for key, value in (given or {}).items())
    return f"{name} ({placed})" if placed else name


class _ImageCache:
    """Opened images by (file identity, location), so a rebuilt layer reuses the index."""

    def __init__(self, size: int = 8) -> None:
        self._images: "OrderedDict[tuple, SwsuspImage]" = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
            return image

    def put(self, key, image: SwsuspImage) -> None:
        with self._lock:
            self._images[key] = image
            while len(self._images) > self._size:
                self._images.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._images.clear()


IMAGES = _ImageCache()


def _file_key(path: str) -> tuple:
    st = os.stat(path)
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns)


def open_image(context, base_layer: str, partition_offset=None, resume_offset=None, block_base=None,
               partition_size=None, partition=None) -> SwsuspImage:
    """Open (or fetch from the cache) the image under `base_layer`."""
    path = local_path(context, base_layer)
    extents_file = options.text(context, "swapfile_extents")
    key = None
    if path:
        key = (_file_key(path), partition_offset, resume_offset, block_base, partition, extents_file)
        image = IMAGES.get(key)
        if image is not None:
            return image
    source = FileSource(path) if path else LayerSource(context, base_layer)
    if extents_file:  # a copied swap file: its extents place every block, wherever configured
        image = SwsuspImage.open(source, extents=read_filefrag(extents_file))
    elif partition_offset is None:
        image = SwsuspImage.open(source, resume_offset=resume_offset, partition=partition)
    else:
        size = partition_size if partition_size else source.size - partition_offset
        part = locate.Partition(partition_offset, size, "configured partition")
        location = locate.Location(part, resume_offset or 0, block_base or 0, "from configuration")
        image = SwsuspImage.at(source, location)
    if key:
        IMAGES.put(key, image)
        loc = image.location
        IMAGES.put((key[0], loc.partition.offset, loc.resume_offset, loc.block_base, None, extents_file), image)
    return image


class EvidencePhysicalLayer(interfaces.layers.TranslationLayerInterface):
    """What the physical layers of a hibernated machine share: addresses from 0 to `_max`
    (set by the subclass), one base layer, and no writes."""

    _direct_metadata = {"architecture": "Intel64", "os": "Linux"}

    def __init__(self, context, config_path: str, name: str, metadata=None) -> None:
        super().__init__(context, config_path, name, metadata)
        self._base_layer = self.config["base_layer"]

    @property
    def minimum_address(self) -> int:
        return 0

    @property
    def maximum_address(self) -> int:
        return self._max

    @property
    def dependencies(self) -> List[str]:
        return [self._base_layer]

    def write(self, offset: int, value: bytes) -> None:
        raise exceptions.LayerException(self.name, "Hibernation images are evidence: the layer is read-only")


class SwsuspLayer(EvidencePhysicalLayer):
    """Physical memory of a hibernated Linux x86-64 machine, from its hibernation image."""

    def __init__(self, context, config_path: str, name: str, metadata=None) -> None:
        super().__init__(context, config_path, name, metadata)
        try:
            self.image = open_image(
                context,
                self._base_layer,
                self.config.get("partition_offset", None),
                self.config.get("resume_offset", None),
                self.config.get("block_base", None),
                self.config.get("partition_size", None),
            )
        except SwsuspFormatError as exc:
            raise SwsuspFormatException(input_name(context, self._base_layer), exc) from None
        # Pin the location so a rebuild from config opens it directly, without a scan.
        loc = self.image.location
        self.config["partition_offset"] = loc.partition.offset
        self.config["partition_size"] = loc.partition.size
        self.config["resume_offset"] = loc.resume_offset
        self.config["block_base"] = loc.block_base
        self._max = (self.image.max_pfn + 1) * PAGE_SIZE - 1
        self._warn_once()

    def _warn_once(self) -> None:
        """What is wrong with the image but known at opening (damaged size fields, implausible
        PFN-list entries, a flipped codec flag, a broken chain, a truncated file): said once
        per opened image (Volatility rebuilds layers)."""
        if getattr(self.image, "damage_reported", False):
            return
        self.image.damage_reported = True
        for note in self.image.size_warnings:
            vollog.warning(f"Hibernation image size field damaged: {note}")
        if self.image.rejected:
            vollog.warning(describe.rejected_warning(self.image))
        for note in self.image.codec_notes:
            vollog.warning(f"Hibernation image header: {note}")
        for damage in list(self.image.damage):  # a snapshot: reading on may record more
            vollog.warning(f"Hibernation image damaged: {len(self.image.damaged_pfns(damage))} pages of "
                           f"{damage.where} unreadable: {damage.error.message}")

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [
            requirements.TranslationLayerRequirement(
                name="base_layer", optional=False, description="The swap partition, filesystem or disk image"
            ),
            requirements.IntRequirement(
                name="partition_offset", optional=True,
                description="Byte offset of the partition holding the swap area (found automatically)",
            ),
            requirements.IntRequirement(
                name="partition_size", optional=True, description="Size in bytes of that partition"
            ),
            requirements.IntRequirement(
                name="resume_offset", optional=True,
                description="The kernel's resume_offset: 4 KiB block of the header page in the partition",
            ),
            requirements.IntRequirement(
                name="block_base", optional=True,
                description="Block number of the partition's first block (a swap file copied out of its filesystem)",
            ),
        ]

    # -- DataLayerInterface ----------------------------------------------------------------

    def is_valid(self, offset: int, length: int = 1) -> bool:
        if length <= 0 or offset < 0:
            return False
        first, last = offset // PAGE_SIZE, (offset + length - 1) // PAGE_SIZE
        if self.image.count_present(first, last + 1) != last - first + 1:
            return False
        return not self.image.damage or not any(map(self.image.is_damaged_pfn, range(first, last + 1)))

    def read(self, offset: int, length: int, pad: bool = False) -> bytes:
        try:
            return self.image.read(offset, length, pad)
        except PageDamaged as exc:
            raise DamagedPageException(self, exc.pfn * PAGE_SIZE if exc.pfn >= 0 else offset, str(exc)) from None
        except PageNotInImage as exc:
            raise exceptions.InvalidAddressException(self.name, exc.pfn * PAGE_SIZE, str(exc)) from None
        except SwsuspFormatError as exc:
            raise DamagedPageException(self, offset, exc.message) from None

    def mapping(self, offset: int, length: int,
                ignore_errors: bool = False) -> Iterable[Tuple[int, int, int, int, str]]:
        """Runs of present pages, each mapped onto itself in this layer: the pages are
        decompressed by `read`, so there is no lower layer a mapped offset could point into."""
        if length <= 0:
            return
        end = offset + length
        pos = offset
        for first, count in self.image.runs(offset // PAGE_SIZE, (end - 1) // PAGE_SIZE + 1):
            start = max(offset, first * PAGE_SIZE)
            stop = min(end, (first + count) * PAGE_SIZE)
            if start > pos and not ignore_errors:
                raise exceptions.InvalidAddressException(
                    self.name, pos, f"Page {pos // PAGE_SIZE:#x} is not in the hibernation image")
            yield start, stop - start, start, stop - start, self.name
            pos = stop
        if pos < end and not ignore_errors:
            raise exceptions.InvalidAddressException(
                self.name, pos, f"Page {pos // PAGE_SIZE:#x} is not in the hibernation image")


class SwsuspStacker(interfaces.automagic.StackerLayerInterface):
    """Recognises hibernation images (swap partition, swap file in a filesystem, disk)."""

    stack_order = 9
    exclusion_list = ["mac", "windows"]

    @classmethod
    def stack(cls, context, layer_name: str, progress_callback: constants.ProgressCallback = None):
        layer = context.layers[layer_name]
        if isinstance(layer, interfaces.layers.TranslationLayerInterface):
            return None  # only plain files/devices hold swap areas
        given = {name: options.integer(context, name) for name in ("resume_offset", "partition")}
        given = {name: value for name, value in given.items() if value is not None}
        # The -f input's problem ends the run with its one line (it could be nothing else);
        # another file (safepgt's --resume-dump) is left to the other stackers.
        refuse = is_input(context, layer_name)
        if (not given and not options.text(context, "swapfile_extents")
                and not cls._worth_trying(context, layer_name, refuse=refuse)):
            return None
        try:
            image = open_image(context, layer_name, **given)
        except SwsuspFormatError as exc:
            unusable = not isinstance(exc, NotAnImageError)  # recognised but broken
            if refuse and (unusable or given):
                raise SwsuspFormatException(input_name(context, layer_name, given), exc) from None
            if unusable:
                vollog.warning(f"Hibernation image not usable: {exc.message}")
            return None
        except ImportError as exc:  # a codec's package is missing: its message says which
            if refuse:
                raise Refusal(f"{input_name(context, layer_name)}: {exc}", exc) from None
            vollog.warning(str(exc))
            return None
        new_name = context.layers.free_layer_name("SwsuspLayer")
        join = interfaces.configuration.path_join
        context.config[join(new_name, "base_layer")] = layer_name
        loc = image.location  # pinned, so the layer reopens the cached image directly
        context.config[join(new_name, "partition_offset")] = loc.partition.offset
        context.config[join(new_name, "partition_size")] = loc.partition.size
        context.config[join(new_name, "resume_offset")] = loc.resume_offset
        context.config[join(new_name, "block_base")] = loc.block_base
        return SwsuspLayer(context, new_name, new_name)

    @staticmethod
    def _worth_trying(context, layer_name: str, warn: bool = True, refuse: bool = False) -> bool:
        """Cheap checks first: a signature at a header page, a partition table or a filesystem.
        Raw RAM dumps are never scanned.  A LUKS or LVM volume (swap meant, but not readable
        as it is) is said with the next step: the refusal of the -f input, else a warning."""
        path = local_path(context, layer_name)
        source = FileSource(path) if path else LayerSource(context, layer_name)
        if source.size < PAGE_SIZE:
            return False
        if source.read(SIG_OFFSET, SIG_LEN) in ALL_SIGS:
            return True
        if locate.partitions(source) or locate.looks_like_filesystem(source, 0):
            return True
        what = identify(source)
        if what and ("LUKS" in what or "LVM" in what):  # inputs meant as swap: say what to do
            if refuse:
                raise Refusal(f"{input_name(context, layer_name)}: not a hibernation image: the input is {what}")
            if warn:
                vollog.warning(f"No hibernation image: the input is {what}")
        return False


hook_command_line()  # loaded by `vol`: a damaged page that ends a run is printed as its cause alone
