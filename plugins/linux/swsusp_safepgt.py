"""linux.swsusp_safepgt: the direct map of a hibernated kernel, what a resume does to it, and
safe page tables rebuilt offline (the 2005 x86-64 resume hang, docs/format.md §8)."""

import io
import json
import logging
import os

from volatility3.framework import exceptions, interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from volatility3.plugins.swsusp.analysis import (
    hung_resume,
    kernel_tables,
    report,
    safepgt,
)
from volatility3.plugins.swsusp.analysis.errors import NoRestoreRecord
from volatility3.plugins.swsusp.format.errors import NotAnImageError, SwsuspFormatError
from volatility3.plugins.swsusp.format.identify import identify
from volatility3.plugins.swsusp.paging.errors import PagingError
from volatility3.plugins.swsusp.vol import physical
from volatility3.plugins.swsusp.vol.inputs import SINGLE_LOCATION
from volatility3.plugins.swsusp.vol.layer import (
    LayerSource,
    SwsuspFormatException,
    SwsuspLayer,
    SwsuspStacker,
    open_image,
)
from volatility3.plugins.swsusp.vol.refusal import Refusal

vollog = logging.getLogger(__name__)


class SwsuspSafePgt(interfaces.plugins.PluginInterface):
    """Walks the kernel direct map of a hibernation image (or RAM dump), compares it with the
    resume-time kernel, replays the restore, and rebuilds safe page tables.

    One row per direct-map PUD/PMD slot; an entry that is a loop, has reserved bits set,
    points to an unreadable table (or, outside the direct map, any such entry of the kernel
    half) gets a row saying so in the Problem column.  --resume-dump pairs the slots with the boot kernel's
    (by physical region) and replays the copy loop on its live tables, as before the 2005 fix;
    --rebuild builds tables the restore cannot overwrite, verifies them, writes them to -o;
    --explain VADDR shows one page walk step by step.  Needs no symbols."""

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls):
        return [
            requirements.StringRequirement(
                name="resume_dump", optional=True,
                description="RAM dump of the resume-time (boot) kernel, in any format Volatility reads "
                            "(path or file URL)",
            ),
            requirements.IntRequirement(
                name="cr3", optional=True,
                description="Page-table root of a RAM dump given with -f (found by scanning if not given)",
            ),
            requirements.IntRequirement(
                name="resume_cr3", optional=True,
                description="Page-table root of the resume-time dump (found by scanning if not given)",
            ),
            requirements.BooleanRequirement(
                name="rebuild", optional=True, default=False,
                description="Rebuild safe page tables in frames the image does not contain, verify them, "
                            "write them to -o",
            ),
            requirements.IntRequirement(
                name="explain", optional=True, description="Show the page walk of this virtual address step by step",
            ),
            requirements.IntRequirement(
                name="copied", optional=True,
                description="With --resume-dump: the memory of a resume that hung after this many copies of the "
                            "final loop; what is broken then, and the kernel read through native and rebuilt tables",
            ),
            requirements.StringRequirement(
                name="plot", optional=True,
                description="Draw the direct map by physical address into this PNG file in -o (needs matplotlib)",
            ),
        ]

    # -- inputs ---------------------------------------------------------------------------

    def _physical(self, url: str, label: str) -> str:
        return physical.physical_layer(self.context, url, label, self._progress_callback)

    def _kernels(self):
        location = self.context.config.get(SINGLE_LOCATION, None)
        if not location:
            raise Refusal("No input: give the image or dump with -f FILE")
        try:
            name = self._physical(location, "safepgt_input")
        except SwsuspFormatError as exc:
            raise SwsuspFormatException(os.path.basename(location.rstrip("/")), exc) from None
        layer = self.context.layers[name]
        image = layer.image if isinstance(layer, SwsuspLayer) else None
        if image is None and not isinstance(layer, interfaces.layers.TranslationLayerInterface):
            self._refuse_broken_image(name, location)
        try:
            if image is not None and self.config.get("cr3", None) is None:
                main = kernel_tables.kernel_from_image(image)
            else:
                main = self._dump_kernel(name, "input dump", self.config.get("cr3", None))
            resume = None
            if self.config.get("resume_dump", None):
                url = physical.location_url(self.config["resume_dump"])
                resume = self._dump_kernel(self._physical(url, "safepgt_resume"), "resume-time dump",
                                           self.config.get("resume_cr3", None))
        except NoRestoreRecord as exc:
            raise Refusal(f"{exc}: give --cr3", exc) from None
        except PagingError as exc:
            raise Refusal(str(exc), exc) from None
        return image, main, resume

    def _refuse_broken_image(self, name: str, location: str) -> None:
        """A raw input that looks like a hibernation image (or is a LUKS/LVM volume, never a
        RAM dump) but did not stack: say why instead of analysing its bytes as a RAM dump."""
        volume = identify(LayerSource(self.context, name)) or ""
        luks_or_lvm = "LUKS" in volume or "LVM" in volume
        if not luks_or_lvm and not SwsuspStacker._worth_trying(self.context, name, warn=False):
            return
        try:
            open_image(self.context, name)
        except NotAnImageError as exc:
            if "LUKS" in volume or "LVM" in volume:
                raise SwsuspFormatException(os.path.basename(location.rstrip("/")), exc) from None
        except SwsuspFormatError as exc:
            raise SwsuspFormatException(os.path.basename(location.rstrip("/")), exc) from None

    def _dump_kernel(self, layer_name: str, label: str, cr3):
        layer = self.context.layers[layer_name]
        read = physical.reader(layer)
        # a RAM dump ends where memory ends; an image does not save its free pages
        memory_end = None if isinstance(layer, SwsuspLayer) else layer.maximum_address + 1
        return kernel_tables.kernel_from_dump(read, layer.maximum_address + 1, label, cr3, self._progress_callback,
                                              physical.ranges(self.context, layer_name), memory_end)

    # -- output: the report's plain rows as renderer values --------------------------------

    @staticmethod
    def _columns(columns):
        return [(name, format_hints.Hex if kind == report.HEX else kind) for name, kind in columns]

    @staticmethod
    def _value(value, is_hex: bool):
        if value is None:
            return renderers.NotApplicableValue()
        if value is report.UNREADABLE:
            return renderers.UnreadableValue()
        return format_hints.Hex(value) if is_hex else value

    @classmethod
    def _render(cls, columns, rows):
        """(0, row) with each value as the renderers want it; a PagingError while the rows are
        produced (a non-canonical --explain address) is one clean error."""
        hex_columns = [kind == report.HEX for _name, kind in columns]
        try:
            for row in rows:
                yield 0, tuple(cls._value(value, is_hex) for value, is_hex in zip(row, hex_columns))
        except PagingError as exc:
            raise exceptions.LayerException("safepgt", str(exc)) from None

    def _hung_rows(self, result, image, copied):
        if image is None or result.resume is None:
            raise exceptions.LayerException("safepgt", "--copied needs both a hibernation image and --resume-dump")
        yield from report.hung_rows(hung_resume.hung_resume(result, image, copied))

    # -- files ----------------------------------------------------------------------------

    def _write(self, name: str, data: bytes) -> str:
        """Write `data` as `name` into -o; returns the name it got (Volatility adds -1, -2 ...
        rather than overwrite a file already there)."""
        with self.open(name) as f:
            f.write(data)
        written = getattr(f, "preferred_filename", name)
        self._written.append(written)
        return written

    def _write_tables(self, result):
        bin_name = self._write("safepgt-tables.bin", report.tables_bytes(result.safe))
        description = report.tables_description(result.safe, result.verification,
                                                 result.image.direct_map.base, bin_name)
        self._write("safepgt-tables.json", json.dumps(description, indent=2).encode())

    def _plot(self, result, name: str):
        from volatility3.plugins.swsusp.vol import plot

        try:
            import matplotlib  # noqa: F401
        except ImportError as exc:
            vollog.error(f"--plot needs matplotlib ({exc}); install it with: pip install 'swsusp-safepgt[plot]'")
            return
        png = io.BytesIO()
        plot.draw(result, png)
        self._write(name, png.getvalue())

    def _plot_name(self):
        """--plot's file name, checked before any work: a name inside -o, never a path
        (Volatility would refuse it only after creating a temporary file in -o)."""
        name = self.config.get("plot", None)
        if name and (os.path.basename(name) != name or name in (".", "..")):
            raise exceptions.LayerException(
                "safepgt", f"--plot takes a file name, written into the -o folder, not a path: {name!r}")
        return name

    # -- run ------------------------------------------------------------------------------

    def run(self):
        self._written = []
        plot_name = self._plot_name()
        image, main, resume = self._kernels()
        is_image = image is not None
        self._progress_callback(50.0, "Comparing direct maps and replaying the restore")
        result = safepgt.analyse(main, image, resume, rebuild=self.config.get("rebuild", False))
        if result.safe is not None:
            self._write_tables(result)
        if plot_name:
            self._plot(result, plot_name)
        if self.config.get("explain", None) is not None:
            columns = report.EXPLAIN_COLUMNS
            rows = report.explain_rows(result, self.config["explain"], is_image)
            return renderers.TreeGrid(self._columns(columns), self._render(columns, rows))

        def slot_table():
            yield from report.slot_rows(result)
            yield from report.problem_rows(result)
            yield from report.summary_rows(result, is_image, self._written)
            if self.config.get("copied", None) is not None:
                yield from self._hung_rows(result, image, self.config["copied"])

        columns = report.SLOT_COLUMNS
        return renderers.TreeGrid(self._columns(columns), self._render(columns, slot_table()))
