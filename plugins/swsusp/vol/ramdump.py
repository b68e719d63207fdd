"""The kernel layer of RAM dumps (ELF, LiME, raw ...): 5-level paging, and no symbols at hand.

Volatility 2.28's Linux stackers build a 4-level layer whatever the kernel uses, so on a
5-level (LA57) dump every plugin reads through the wrong walk and finds nothing.  This
stacker runs after them and checks the layer they built: when `init_top_pgt`'s own address
translates to the DTB only under a 5-level walk, a `LinuxIntel32eLA57` layer with the same
configuration goes on top (the plugin takes the top layer; it reads the physical layer, not
the stock one).  A 4-level kernel keeps exactly the stock layer, at the cost of one walk.

When the stock stackers found no kernel and the plugin needs symbols, the ISF is built from
the dump file itself (pakunoda reads raw, LiME and ELF cores; vol/nosym.py), stored, and the
stock stackers run again.
"""
from __future__ import annotations

import logging

from volatility3.framework import constants, exceptions, interfaces
from volatility3.framework.automagic import symbol_cache
from volatility3.framework.automagic.linux import (
    LinuxIntelStacker,
    LinuxIntelVMCOREINFOStacker,
)
from volatility3.framework.layers import intel, scanners

from volatility3.plugins.swsusp.paging import walk
from volatility3.plugins.swsusp.vol import nosym
from volatility3.plugins.swsusp.vol.la57 import LinuxIntel32eLA57
from volatility3.plugins.swsusp.vol.layer import EvidencePhysicalLayer
from volatility3.plugins.swsusp.vol.nosym import BANNER_CONFIG_KEY
from volatility3.plugins.swsusp.vol.physical import reader

vollog = logging.getLogger(__name__)

TOP_TABLES = ("init_top_pgt", "swapper_pg_dir")  # the kernel's top-level table (PML4 or PML5)
BANNER_PREFIX = b"Linux version "  # linux_banner's start; the release follows


class LinuxRamDumpStacker(interfaces.automagic.StackerLayerInterface):
    """Kernel layers on RAM dumps that are not hibernation images: 4 or 5 levels as the
    kernel's own page tables say; an ISF from BTF when none matches."""

    stack_order = 36  # after the stock Linux stackers (34, 35): their layer is checked, not rebuilt
    exclusion_list = ["mac", "windows"]

    @classmethod
    def stack(cls, context, layer_name: str, progress_callback: constants.ProgressCallback = None):
        layer = context.layers[layer_name]
        if isinstance(layer, intel.Intel):
            return cls._five_levels(context, layer)  # None: the stock layer stays as it is
        if isinstance(layer, EvidencePhysicalLayer):
            return None  # a hibernation image: vol/kernel.py's stacker
        # the stock stackers (34, 35) found no kernel with an ISF in this memory
        if not cls._isf_from_btf(context, layer_name, progress_callback):
            return None
        kernel = cls._stock(context, layer_name, progress_callback)
        if kernel is None:
            vollog.warning("The ISF built from BTF did not let Volatility's Linux stackers find the kernel")
            return None
        return cls._five_levels(context, kernel) or kernel

    @staticmethod
    def _stock(context, layer_name: str, progress_callback) -> interfaces.layers.DataLayerInterface | None:
        """What Volatility's own Linux stackers build, in their order."""
        for stacker in (LinuxIntelVMCOREINFOStacker, LinuxIntelStacker):
            try:
                kernel = stacker.stack(context, layer_name, progress_callback)
            # what they raise on a memory that is not theirs: InvalidAddressException (a VMCOREINFO
            # note or an init_task candidate read past the dump's end or in a hole), SymbolError
            # (a symbol the stacker reads missing from the ISF), ValueError (a VMCOREINFO line that
            # is not KEY=VALUE, or a value that is not a number)
            except (exceptions.VolatilityException, ValueError) as exc:
                vollog.debug(f"{stacker.__name__} failed: {exc}")
                kernel = None
            if kernel is not None:
                return kernel
        return None

    @staticmethod
    def _kernel_table(context, kernel):
        """The symbol table the stock stacker loaded for this layer's banner (by its ISF)."""
        banner = kernel.config.get(BANNER_CONFIG_KEY, None)
        if not banner:
            return None
        url = symbol_cache.load_cache_manager().get_identifier_dictionary(operating_system="linux").get(
            bytes(banner, "latin-1"))
        for name in context.symbol_space:
            table = context.symbol_space[name]
            if url and getattr(table, "config", {}).get("isf_url", None) == url:
                return table
        return None

    @classmethod
    def _paging_levels(cls, context, kernel) -> int | None:
        """4 or 5: the walk under which init_top_pgt's running address is the DTB itself."""
        dtb = kernel.config.get("page_map_offset", None)
        table = cls._kernel_table(context, kernel)
        if dtb is None or table is None:
            return None
        memory = context.layers[kernel.config["memory_layer"]]
        shift = kernel.config.get("kernel_virtual_offset", 0) or 0
        for name in TOP_TABLES:
            if name in table.symbols:
                va = (table.get_symbol(name).address + shift) & 0xFFFFFFFFFFFFFFFF
                return walk.detect_levels(reader(memory), dtb, va, dtb)  # a table outside the dump: unreadable
        return None

    @classmethod
    def _five_levels(cls, context, kernel):
        """A 5-level layer with the configuration of the 4-level `kernel` the stock stackers
        built, when the kernel uses 5 levels; else None."""
        if isinstance(kernel, LinuxIntel32eLA57) or not isinstance(kernel, intel.Intel32e):
            return None
        if isinstance(context.layers[kernel.config["memory_layer"]], EvidencePhysicalLayer):
            return None  # a hibernation image: its stacker chose the depth from the record
        if cls._paging_levels(context, kernel) != 5:
            return None
        join = interfaces.configuration.path_join
        name = context.layers.free_layer_name("IntelLayer")
        config_path = join("SwsuspRamDumpHelper", name)
        for key in ("memory_layer", "page_map_offset", BANNER_CONFIG_KEY):
            if kernel.config.get(key, None) is not None:
                context.config[join(config_path, key)] = kernel.config[key]
        la57 = LinuxIntel32eLA57(context, config_path=config_path, name=name, metadata={"os": "Linux"})
        la57.config["kernel_virtual_offset"] = kernel.config.get("kernel_virtual_offset", 0)
        vollog.info(f"Kernel uses 5-level paging (LA57): DTB {la57.config['page_map_offset']:#x}")
        return la57

    @staticmethod
    def _first_banner(context, layer_name: str, progress_callback) -> bytes | None:
        layer = context.layers[layer_name]
        for offset in layer.scan(context, scanners.BytesScanner(BANNER_PREFIX), progress_callback):
            text = layer.read(offset, 512, pad=True).split(b"\0", 1)[0]
            if text[len(BANNER_PREFIX):len(BANNER_PREFIX) + 1].isdigit():  # a release, not a format string
                return text + b"\0"
        return None

    @classmethod
    def _isf_from_btf(cls, context, layer_name: str, progress_callback) -> bool:
        """Build, store and register the ISF of the dump's kernel (nosym.isf_for_kernel); False
        (after one warning when the plugin needs symbols) when it cannot or should not."""
        if not nosym.symbols_needed(context):
            return False  # asked first: the banner scan reads all memory
        banner = cls._first_banner(context, layer_name, progress_callback)
        if banner is None:
            vollog.info("No Linux kernel banner in this memory: no ISF to build")
            return False
        source = nosym.memory_of(context, layer_name)
        return nosym.isf_for_kernel(context, source, banner, progress_callback) is not None
