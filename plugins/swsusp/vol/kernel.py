"""Stack the Linux kernel's virtual layer on a hibernation image using what the image says.

The restore record carries the page-table root (cr3) and restore_registers' virtual and
physical address, so no full-memory scan is needed: the banner is looked for in the kernel
image around jump_address_phys, the KASLR shift is jump_address - &restore_registers, and
4- vs 5-level paging is whichever walk takes jump_address to jump_address_phys (docs/format.md §10).
"""

import logging
from typing import Optional, Tuple

from volatility3.framework import constants, interfaces
from volatility3.framework.automagic import symbol_cache
from volatility3.framework.automagic.linux import LinuxIntelStacker
from volatility3.framework.layers import intel
from volatility3.framework.symbols import linux

from volatility3.plugins.swsusp.analysis import kernel_tables
from volatility3.plugins.swsusp.analysis.errors import RecordCr3Unusable
from volatility3.plugins.swsusp.paging.errors import PagingError
from volatility3.plugins.swsusp.vol import nosym, options, swap_layer
from volatility3.plugins.swsusp.vol.la57 import LinuxIntel32eLA57
from volatility3.plugins.swsusp.vol.layer import SwsuspLayer
from volatility3.plugins.swsusp.vol.nosym import BANNER_CONFIG_KEY

vollog = logging.getLogger(__name__)


class SwsuspIntelStacker(interfaces.automagic.StackerLayerInterface):
    """Builds the kernel layer from the image's restore record (cr3, jump addresses)."""

    stack_order = 30  # before the VMCOREINFO and banner stackers, which scan all memory
    exclusion_list = ["mac", "windows"]

    @classmethod
    def stack(cls, context, layer_name: str, progress_callback: constants.ProgressCallback = None):
        layer = context.layers[layer_name]
        if not isinstance(layer, SwsuspLayer):
            return None
        image = layer.image
        record = image.info.record
        if record is None:
            vollog.info("Image has no x86-64 restore record (before 2.6.24): leaving the kernel to the banner stackers")
            return None
        banners = symbol_cache.load_cache_manager().get_identifier_dictionary(operating_system="linux")
        match = cls._find_banner(image, banners)
        if match is None:
            match = cls._isf_from_btf(context, image, progress_callback)
            if match is None:
                return None
        banner, isf_url = match
        table_name = context.symbol_space.free_table_name("SwsuspKernel")
        table = linux.LinuxKernelIntermedSymbols(context, "temporary." + table_name, name=table_name, isf_url=isf_url)
        context.symbol_space.append(table)

        try:  # docs/format.md §10 steps 1-2: SME bit, PTI kernel half, 4 or 5 levels by the jump walk
            paging = kernel_tables.record_paging(image)
        except RecordCr3Unusable as exc:
            vollog.warning(str(exc))
            return None
        dtb, levels = paging.root, paging.n_levels
        if options.flag(context, "safe_tables"):
            layer_name, dtb = cls._safe_tables(context, layer_name)
            if layer_name is None:
                return None
        shift = cls._virtual_shift(context, table, table_name, layer_name, record, progress_callback)

        new_name = context.layers.free_layer_name("IntelLayer")
        config_path = interfaces.configuration.path_join("SwsuspIntelHelper", new_name)
        join = interfaces.configuration.path_join
        context.config[join(config_path, "memory_layer")] = layer_name
        context.config[join(config_path, "page_map_offset")] = dtb
        context.config[join(config_path, BANNER_CONFIG_KEY)] = str(banner, "latin-1")
        layer_class = intel.LinuxIntel32e if levels == 4 else LinuxIntel32eLA57
        kernel = layer_class(context, config_path=config_path, name=new_name, metadata={"os": "Linux"})
        kernel.config["kernel_virtual_offset"] = shift
        kernel = swap_layer.resolving_kernel(context, kernel, table_name, layer.name, banner)
        vollog.debug(f"Hibernation image: cr3 {dtb:#x}, {levels}-level paging, KASLR virtual shift {shift:#x}")
        return kernel

    @staticmethod
    def _safe_tables(context, layer_name: str):
        """Put the rebuilt safe tables under the kernel layer: (physical layer, their root)."""
        from volatility3.plugins.swsusp.vol.safe_layer import SafeTablesLayer

        name = context.layers.free_layer_name("SafeTablesLayer")
        context.config[interfaces.configuration.path_join(name, "base_layer")] = layer_name
        try:
            safe = SafeTablesLayer(context, name, name)
        except PagingError as exc:  # no direct map, no safe frame left ...
            vollog.warning(f"Cannot rebuild safe page tables: {exc}")
            return None, None
        context.add_layer(safe)
        vollog.info(f"Decoding through rebuilt safe page tables at {safe.tables.root:#x} (frames {safe.tables.frames})")
        return name, safe.tables.root

    @staticmethod
    def _find_banner(image, banners) -> Optional[Tuple[bytes, str]]:
        """(identifier, ISF URL) for a banner of the kernel image (all memory when it has
        none); the same choice as the symbol finder's when several ISFs match."""
        if not banners:
            return None
        for _address, banner in image.find_banners():
            for known, url in banners.items():
                if known and banner.startswith(known.rstrip(b"\0")):
                    return known, nosym.choose_isf(banner, warn=False) or url
        return None

    @staticmethod
    def _isf_from_btf(context, image, progress_callback) -> Optional[Tuple[bytes, str]]:
        """No ISF matches: build one from the kernel's BTF and kallsyms (vol/nosym.py)."""
        found = image.find_banners(limit=1)
        if not found:
            vollog.warning("No kernel banner in this hibernation image: no ISF can be matched or built")
            return None
        return nosym.isf_for_kernel(context, image, found[0][1], progress_callback)

    @staticmethod
    def _virtual_shift(context, table, table_name, layer_name, record, progress_callback) -> int:
        if "restore_registers" in table.symbols:
            return (record.jump_address - table.get_symbol("restore_registers").address) % (1 << 64)
        _kaslr, aslr = LinuxIntelStacker.find_aslr(context, table_name, layer_name, progress_callback)
        return aslr
