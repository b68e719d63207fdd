"""linux.swsusp_symbols: the ISF of the kernel in a hibernation image or RAM dump, built from
its own BTF and kallsyms, written into -o to reuse (-s) or share."""

import gzip
import json
import logging
import os

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from volatility3.plugins.swsusp.format.errors import SwsuspFormatError
from volatility3.plugins.swsusp.isf import engine, hints, report
from volatility3.plugins.swsusp.paging.errors import PagingError
from volatility3.plugins.swsusp.vol import nosym, physical
from volatility3.plugins.swsusp.vol.inputs import SINGLE_LOCATION
from volatility3.plugins.swsusp.vol.layer import SwsuspFormatException
from volatility3.plugins.swsusp.vol.output import OutputFile
from volatility3.plugins.swsusp.vol.refusal import Refusal

vollog = logging.getLogger(__name__)


class SwsuspSymbols(interfaces.plugins.PluginInterface):
    """Builds the kernel's ISF from its own BTF and kallsyms and writes it into -o.

    Works on a hibernation image (only the kernel image's pages are handed to the BTF
    reader) and on a raw, LiME or ELF RAM dump.  Rows say what was found: the banner, where
    the BTF is and its size, how many kallsyms, the KASLR shift, the paging, and whether the
    structures the common plugins read are complete.  Use the file with `vol -s DIR ...`.
    Any plugin that needs symbols does the same by itself when no ISF matches (and stores
    the ISF per user); this plugin is for keeping or sharing it.
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls):
        return [
            requirements.IntRequirement(
                name="timeout", optional=True, default=int(engine.DEFAULT_TIMEOUT),
                description="Seconds the BTF reader may take before it gives up",
            ),
        ]

    def _input(self) -> str:
        location = self.context.config.get(SINGLE_LOCATION, None)
        if not location:
            raise Refusal("No input: give the image or dump with -f FILE")
        try:
            return physical.physical_layer(self.context, location, "swsusp_symbols", self._progress_callback)
        except SwsuspFormatError as exc:
            raise SwsuspFormatException(os.path.basename(location.rstrip("/")), exc) from None

    def _build(self, layer_name: str):
        """(built, what was read) for the input's kernel (nosym.build)."""
        source = nosym.memory_of(self.context, layer_name)
        banner = b""  # a dump: the BTF reader names the kernel by the banner it finds
        if source is not None and not isinstance(source, str):  # a hibernation image
            found = source.find_banners(limit=1)
            if not found:
                raise Refusal("No kernel banner in this hibernation image: no ISF can be built")
            banner = found[0][1]
        timeout = float(self.config.get("timeout", engine.DEFAULT_TIMEOUT))
        try:
            return nosym.build(source, banner, self._progress_callback, timeout)
        except nosym.Unreadable as exc:
            kernel = f" for kernel {hints.release_of(banner)}" if banner else ""
            step = f" {hints.next_step(banner)}" if banner else ""
            raise Refusal(f"No ISF from BTF{kernel}: {exc}.{step}", exc) from None
        except engine.NoSymbolsError as exc:
            raise Refusal(str(exc), exc) from None  # one line: the kernel, what is missing, what to do
        except PagingError as exc:  # the restore record's page tables do not reach the kernel
            raise Refusal(str(exc), exc) from None

    def _write(self, built) -> str:
        name = os.path.basename(nosym.store().path_for(built.banner))
        data = gzip.compress(json.dumps(built.isf, separators=(",", ":")).encode(), compresslevel=6, mtime=0)
        return OutputFile(self.open, name).commit(data)  # complete, or nothing under its name (a full disk)

    @staticmethod
    def _generator(rows):
        na = renderers.NotApplicableValue()
        for section, field, value, address in rows:
            yield 0, (section, field, value, format_hints.Hex(address) if address is not None else na)

    def run(self):
        layer_name = self._input()
        built, source = self._build(layer_name)
        self._progress_callback(97, "Writing the ISF")
        written = self._write(built)
        existing = nosym.matching_isfs(built.banner) if built.banner else []
        return renderers.TreeGrid(
            [("Section", str), ("Field", str), ("Value", str), ("Address", format_hints.Hex)],
            self._generator(report.built_rows(built, source, written, existing)),
        )
