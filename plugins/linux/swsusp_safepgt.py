"""linux.swsusp_safepgt: the direct map of a hibernated kernel, what a resume does to it, and
safe page tables rebuilt offline (the 2005 x86-64 resume hang, docs/format.md §8)."""

import io
import json
import logging
import os
import urllib.parse
import urllib.request

from volatility3.framework import exceptions, interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from volatility3.plugins.swsusp.analysis import (
    hung_resume,
    kernel_tables,
    report,
    safepgt,
)
from volatility3.plugins.swsusp.analysis.errors import NoPageTableRoot, NoRestoreRecord
from volatility3.plugins.swsusp.format.errors import NotAnImageError, SwsuspFormatError
from volatility3.plugins.swsusp.format.identify import identify
from volatility3.plugins.swsusp.paging.errors import PagingError
from volatility3.plugins.swsusp.vol import physical, plot
from volatility3.plugins.swsusp.vol.inputs import SINGLE_LOCATION
from volatility3.plugins.swsusp.vol.layer import (
    LayerSource,
    SwsuspFormatException,
    SwsuspLayer,
    SwsuspStacker,
    open_image,
)
from volatility3.plugins.swsusp.vol.output import OutputFiles
from volatility3.plugins.swsusp.vol.refusal import Refusal

vollog = logging.getLogger(__name__)

TABLES_BIN, TABLES_JSON = "safepgt-tables.bin", "safepgt-tables.json"
VA_BITS = {4: 48, 5: 57}  # paging levels -> virtual address bits
CANONICAL = {levels: f"0-{(1 << bits - 1) - 1:#x} or {(1 << 64) - (1 << bits - 1):#x}-{(1 << 64) - 1:#x}"
             for levels, bits in VA_BITS.items()}


def _canonical(va: int, levels: int) -> bool:
    half = 1 << VA_BITS[levels] - 1
    return 0 <= va < half or (1 << 64) - half <= va < 1 << 64


def _number(value: int) -> str:
    """A number from the command line as the user will recognise it."""
    return str(value) if value < 0 else f"{value:#x}"


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

    # -- arguments: every problem found before any work or output, one line each ------------

    @staticmethod
    def _refuse(problems):
        if problems:
            raise Refusal("\n".join(problems))

    def _check_arguments(self) -> None:
        """What the options alone say is wrong (the rest once the input is read:
        `_check_against`)."""
        problems = []
        location = self.context.config.get(SINGLE_LOCATION, None)
        why = physical.unreadable_file(location, "a hibernation image or RAM dump") if location else None
        if why:
            problems.append(f"-f {urllib.request.url2pathname(urllib.parse.urlparse(location).path)}: {why}")
        plot_name = self.config.get("plot", None)
        if plot_name is not None and (not plot_name or os.path.basename(plot_name) != plot_name
                                      or plot_name in (".", "..")):
            # Volatility would refuse a path only after creating a temporary file in -o
            problems.append(f"--plot takes a file name, written into the -o folder, not a path: {plot_name!r}")
        explain = self.config.get("explain", None)
        if explain is not None and not _canonical(explain, 5):
            problems.append(f"--explain {_number(explain)}: not a canonical x86-64 virtual address "
                            f"({CANONICAL[4]} with 4-level paging, {CANONICAL[5]} with 5-level)")
        for name in ("cr3", "resume_cr3"):
            value = self.config.get(name, None)
            if value is not None and not 0 <= value < 1 << 52:
                problems.append(f"--{name.replace('_', '-')} {_number(value)}: not a physical address "
                                "(0 to 0xfffffffffffff, 52 bits)")
        resume_dump = self.config.get("resume_dump", None)
        if resume_dump is not None:
            why = physical.unreadable_file(resume_dump)
            if why:
                problems.append(f"--resume-dump {resume_dump}: {why}")
        elif self.config.get("resume_cr3", None) is not None:
            problems.append("--resume-cr3 needs --resume-dump (the dump it is the page-table root of)")
        copied = self.config.get("copied", None)
        if copied is not None:
            if resume_dump is None:
                problems.append("--copied needs --resume-dump (the resume-time kernel whose tables the copies break)")
            if copied < 0:
                problems.append(f"--copied {copied}: a number of copies, 0 or more")
        self._refuse(problems)
        if plot_name and not plot.available():
            raise exceptions.MissingModuleException(
                "matplotlib", "--plot needs matplotlib: install it with: pip install 'swsusp-safepgt[plot]'")

    def _check_against(self, result, image) -> None:
        """The options whose valid range the input decides, before any output."""
        problems = []
        explain = self.config.get("explain", None)
        levels = result.image.paging.n_levels
        if explain is not None and not result.image.paging.is_canonical(explain):
            problems.append(f"--explain {_number(explain)}: not canonical with the {levels}-level paging of "
                            f"this kernel ({CANONICAL[levels]})")
        copied = self.config.get("copied", None)
        if copied is not None:
            if image is None:
                problems.append("--copied needs a hibernation image as -f (the copies it replays), not a RAM dump")
            elif result.order is not None and copied > result.order.copies:
                problems.append(f"--copied {copied}: this image's final loop makes {result.order.copies} copies; "
                                f"give 0 to {result.order.copies}")
        self._refuse(problems)

    # -- inputs ---------------------------------------------------------------------------

    def _physical(self, url: str, label: str) -> str:
        return physical.physical_layer(self.context, url, label, self._progress_callback)

    def _kernels(self):
        location = self.context.config.get(SINGLE_LOCATION, None)
        if not location:
            raise Refusal("No input: give the image or dump with -f FILE")
        source = os.path.basename(location.rstrip("/"))
        try:
            name = self._physical(location, "safepgt_input")
        except SwsuspFormatError as exc:
            raise SwsuspFormatException(source, exc) from None
        layer = self.context.layers[name]
        image = layer.image if isinstance(layer, SwsuspLayer) else None
        raw = image is None and not isinstance(layer, interfaces.layers.TranslationLayerInterface)
        if raw:
            self._refuse_broken_image(name, source)
        try:
            if image is not None and self.config.get("cr3", None) is None:
                main = kernel_tables.kernel_from_image(image)
            else:
                main = self._dump_kernel(name, "input dump", self.config.get("cr3", None))
        except NoPageTableRoot as exc:
            if raw:  # neither a hibernation image nor a RAM dump: say both
                raise self._neither(name, source, exc) from None
            raise Refusal(str(exc)) from None
        except NoRestoreRecord as exc:
            raise Refusal(f"{exc}: give --cr3", exc) from None
        except PagingError as exc:
            raise Refusal(str(exc), exc) from None
        resume = None
        if self.config.get("resume_dump", None):
            resume = self._resume_kernel(self.config["resume_dump"])
        return image, main, resume

    def _resume_kernel(self, path: str):
        name = self._physical(physical.location_url(path), "safepgt_resume")
        layer = self.context.layers[name]
        try:
            return self._dump_kernel(name, "resume-time dump", self.config.get("resume_cr3", None))
        except NoPageTableRoot:
            what = "no kernel page-table root found in it"
            if not isinstance(layer, interfaces.layers.TranslationLayerInterface):
                what = ("not a RAM dump Volatility can read: no dump format recognised (ELF core, LiME, ...), and "
                        "no kernel page-table root found reading it as a raw dump")
            raise Refusal(f"--resume-dump {path}: {what} (give --resume-cr3 if it is a RAM dump)") from None
        except PagingError as exc:
            raise Refusal(f"--resume-dump {path}: {exc}") from None

    def _refuse_broken_image(self, name: str, source: str) -> None:
        """A raw input that looks like a hibernation image (or is a LUKS/LVM volume, never a
        RAM dump) but did not stack: say why instead of analysing its bytes as a RAM dump."""
        volume = identify(LayerSource(self.context, name)) or ""
        luks_or_lvm = "LUKS" in volume or "LVM" in volume
        try:
            worth_trying = luks_or_lvm or SwsuspStacker._worth_trying(self.context, name, warn=False)
        except NotAnImageError as exc:  # an empty file: neither an image nor a dump
            raise SwsuspFormatException(source, exc) from None
        if not worth_trying:
            return
        try:
            open_image(self.context, name)
        except NotAnImageError as exc:
            if luks_or_lvm:
                raise SwsuspFormatException(source, exc) from None
        except SwsuspFormatError as exc:
            raise SwsuspFormatException(source, exc) from None

    def _neither(self, name: str, source: str, no_root: NoPageTableRoot) -> Refusal:
        """A raw input in which no kernel page tables were found: why it is not a hibernation
        image either (as linux.swsusp_info says it)."""
        try:
            open_image(self.context, name)
        except SwsuspFormatError as exc:
            not_image = exc
        else:  # an image after all (the stacker declined it): keep the RAM-dump reason
            return Refusal(str(no_root))
        return SwsuspFormatException(
            source, f"{not_image.message}; nor a RAM dump: no kernel page-table root found in it (give --cr3 "
                    "if it is one)")

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
            raise Refusal(str(exc)) from None

    @staticmethod
    def _hung_rows(result, image, copied):
        yield from report.hung_rows(hung_resume.hung_resume(result, image, copied))

    # -- files: opened before any work, committed only when complete ------------------------

    def _open_files(self, files: OutputFiles):
        """The files this run will write, opened now: a -o that is a file or cannot be written
        to is refused before any work."""
        tables = files.open(TABLES_BIN) if self.config.get("rebuild", False) else None
        description = files.open(TABLES_JSON) if tables is not None else None
        plot_name = self.config.get("plot", None)
        png = files.open(plot_name) if plot_name else None
        return tables, description, png

    def _write_files(self, files: OutputFiles, result, tables, description, png) -> None:
        if tables is not None and result.safe is not None:
            bin_name = files.commit(tables, report.tables_bytes(result.safe))
            meta = report.tables_description(result.safe, result.verification, result.image.direct_map.base,
                                             bin_name)
            files.commit(description, json.dumps(meta, indent=2).encode())
        if png is not None:
            data = io.BytesIO()
            try:
                plot.draw(result, data)
            except ImportError as exc:
                raise exceptions.MissingModuleException(
                    "matplotlib", f"--plot needs matplotlib ({exc}): install it with: pip install "
                    "'swsusp-safepgt[plot]'") from None
            files.commit(png, data.getvalue())
        files.discard()  # --rebuild that could not build: its files are not left empty

    # -- run ------------------------------------------------------------------------------

    def run(self):
        self._check_arguments()
        files = OutputFiles(self.open)
        try:
            opened = self._open_files(files)
            image, main, resume = self._kernels()
            self._progress_callback(50.0, "Comparing direct maps and replaying the restore")
            result = safepgt.analyse(main, image, resume, rebuild=self.config.get("rebuild", False))
            self._check_against(result, image)
            self._write_files(files, result, *opened)
        finally:
            files.discard()
        is_image = image is not None
        if self.config.get("explain", None) is not None:
            columns = report.EXPLAIN_COLUMNS
            rows = report.explain_rows(result, self.config["explain"], is_image)
            return renderers.TreeGrid(self._columns(columns), self._render(columns, rows))

        def slot_table():
            yield from report.slot_rows(result)
            yield from report.problem_rows(result)
            yield from report.summary_rows(result, is_image, files.written, files.folder)
            if self.config.get("copied", None) is not None:
                yield from self._hung_rows(result, image, self.config["copied"])

        columns = report.SLOT_COLUMNS
        return renderers.TreeGrid(self._columns(columns), self._render(columns, slot_table()))
