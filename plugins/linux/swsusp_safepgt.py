"""linux.swsusp_safepgt: the direct map of a hibernated kernel, what a resume does to it, and
safe page tables rebuilt offline (the 2005 x86-64 resume hang, spec §8)."""

import io
import json
import logging
import os

from volatility3.framework import exceptions, interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from volatility3.plugins.swsusp.format.errors import NotAnImageError, SwsuspFormatError
from volatility3.plugins.swsusp.analysis import hung_resume, kernel_tables, safepgt
from volatility3.plugins.swsusp.analysis.errors import NoRestoreRecord
from volatility3.plugins.swsusp.paging.errors import PagingError
from volatility3.plugins.swsusp.paging.entries import decode
from volatility3.plugins.swsusp.vol import physical
from volatility3.plugins.swsusp.vol.inputs import SINGLE_LOCATION
from volatility3.plugins.swsusp.format.identify import identify
from volatility3.plugins.swsusp.vol.layer import (
    LayerSource,
    SwsuspFormatException,
    SwsuspLayer,
    SwsuspStacker,
    open_image,
)

vollog = logging.getLogger(__name__)
PAGE = 4096


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
                description="RAM dump of the resume-time (boot) kernel, in any format Volatility reads (path or file URL)",
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
                description="Rebuild safe page tables in frames the image does not contain, verify them, write them to -o",
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
            raise exceptions.LayerException("input", "No input: give the image or dump with -f FILE")
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
            raise exceptions.LayerException("safepgt", f"{exc}: give --cr3") from None
        except PagingError as exc:
            raise exceptions.LayerException("safepgt", str(exc)) from None
        return image, main, resume

    def _refuse_broken_image(self, name: str, location: str) -> None:
        """A raw input that looks like a hibernation image (or is a LUKS/LVM volume, never a
        RAM dump) but did not stack: say why instead of analysing its bytes as a RAM dump."""
        volume = identify(LayerSource(self.context, name)) or ""
        if not ("LUKS" in volume or "LVM" in volume) and not SwsuspStacker._worth_trying(self.context, name, warn=False):
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

    # -- output ---------------------------------------------------------------------------

    def _slot_rows(self, result):
        na = renderers.NotApplicableValue()
        hex_or_na = lambda v: format_hints.Hex(v) if v is not None else na  # noqa: E731
        safe_paging = None
        if result.safe is not None:
            from volatility3.plugins.swsusp.paging.walk import Paging

            safe_paging = Paging(result.safe.read, result.safe.root, result.safe.levels)
        base = result.image.direct_map.base
        for pair in result.pairs:
            slot = pair.image
            if slot is None and pair.resume is None:
                continue
            problem = self._slot_problem(result, pair)
            if slot is not None and pair.finding is None and not (slot.entry and slot.entry.present) and not problem:
                continue  # neither kernel maps this region
            hazard = self._hazard_text(result, pair)
            safe = "-"
            if safe_paging is not None and slot is not None and slot.entry and slot.entry.present:
                good = safe_paging.translate(base + pair.pa_start) == pair.pa_start
                safe = "maps correctly" if good else "NOT MAPPED"
            yield 0, (
                pair.level,
                hex_or_na(base + pair.pa_start),
                format_hints.Hex(pair.pa_start),
                format_hints.Hex(pair.pa_end),
                hex_or_na(slot.entry_pa if slot else None),
                hex_or_na(slot.value if slot else None),
                slot.entry.flags_text() if slot and slot.entry and slot.entry.present else "",
                slot.kind if slot else "not present",  # beyond that kernel's direct map
                pair.resume.kind if pair.resume else ("not present" if result.resume else "-"),
                pair.finding or "-",
                hazard,
                safe,
                problem,
            )

    @staticmethod
    def _slot_problem(result, pair) -> str:
        texts = []
        if pair.image is not None and pair.image.problem:
            texts.append(pair.image.problem_text)
        if pair.resume is not None and pair.resume.problem:
            texts.append(f"resume-time kernel: {pair.resume.problem_text}")
        return "; ".join(texts)

    def _problem_rows(self, result):
        """Kernel-half entries that the enumeration refused to follow and that no slot row
        shows already (outside the direct map: vmalloc, vmemmap, kernel text ...)."""
        na = renderers.NotApplicableValue()
        kernels = [(result.image, "", [p.image for p in result.pairs])]
        if result.resume is not None:
            kernels.append((result.resume, "resume-time kernel: ", [p.resume for p in result.pairs]))
        for kt, prefix, slots in kernels:
            shown = {s.entry_pa for s in slots if s is not None and s.problem}
            for problem in kt.problems:
                if problem.entry_pa in shown:
                    continue
                value = problem.value
                flags = decode(value, problem.level, kt.paging.sme_mask).flags_text() if value is not None else ""
                yield 0, (
                    problem.level.linux, format_hints.Hex(problem.va), na, na,
                    format_hints.Hex(problem.entry_pa) if problem.entry_pa is not None else na,
                    format_hints.Hex(value) if value is not None else na, flags, problem.kind,
                    "-", "-", "-", "-", prefix + str(problem),
                )

    @staticmethod
    def _hazard_text(result, pair) -> str:
        if result.order is None:
            return "-"
        if result.resume is not None:
            hazard = result.hazards.get((pair.pa_start, pair.pa_end))
            if hazard:
                return hazard.describe()
            inside = sorted((h.pa_start, h) for h in result.hazards.values()
                            if pair.pa_start <= h.pa_start and h.pa_end <= pair.pa_end)
            if pair.level == "PUD" and pair.finding in ("split", "merged") and inside:
                return f"{len(inside)} of its 2 MiB regions break; first: {inside[0][1].describe()}"
            return "intact"
        slot = pair.image
        exposed = result.exposure.get(slot.entry_pa) if slot else None
        if not exposed:
            return "-"
        t_entry, t_target = exposed
        target = "a frame the image does not contain" if t_target is None else f"restored at copy #{t_target}"
        return f"entry restored at copy #{t_entry}, before its table ({target})"

    def _summary_rows(self, result):
        na = renderers.NotApplicableValue()

        def row(what, value):
            return 0, ("summary", na, na, na, na, na, "", what, "", str(value), "", "", "")

        yield row("image direct map" if self._image else "direct map", result.image.direct_map)
        yield row("page-table root", result.image.root_how)
        yield row("page-table problems", self._problem_count(result.image))
        if result.resume is not None:
            yield row("resume-time direct map", result.resume.direct_map)
            yield row("resume-time page-table root", result.resume.root_how)
            yield row("resume-time page-table problems", self._problem_count(result.resume))
            for finding, count in result.summary.items():
                yield row(f"slots {finding}", count)
        if result.order is not None:
            yield row("restore model", result.assumption)
            yield row("pages copied by the final loop", result.order.copies)
            if result.resume is not None:
                faults = sorted((h.fault_copy, h) for h in result.hazards.values() if h.fault_copy is not None)
                yield row("regions broken on live tables (pre-2005 restore)", len(result.hazards))
                if faults:
                    first = faults[0][1]
                    yield row("first faulting copy", f"#{first.fault_copy} (PFN {first.fault_pfn:#x}, region {first.pa_start:#x})")
            else:
                yield row("entries live before their table (if the boot kernel's tables differ)", len(result.exposure))
            yield row("modern kernels", "immune: the copy runs on temporary tables built in frames the image does "
                                        "not contain (set_up_temporary_mappings), which no copy overwrites")
        if result.rebuild_error is not None:
            yield row("rebuilt safe tables", f"not built: {result.rebuild_error}")
        if result.safe is not None:
            frames = ", ".join(f"{p << 12:#x}" for p in result.safe.frames)
            yield row("rebuilt safe tables", f"root {result.safe.root:#x}; frames {frames}; "
                                             f"leaves {result.safe.leaf_counts}")
            v = result.verification
            yield row("rebuilt tables verified", f"{v.pages} direct-map pages translate identically"
                      if v.ok else f"{len(v.mismatches)} MISMATCHES, first {v.mismatches[0]}")
        if self._written:
            yield row("files written to -o", ", ".join(self._written))

    def _hung_rows(self, result, image, copied):
        na = renderers.NotApplicableValue()
        if image is None or result.resume is None:
            raise exceptions.LayerException("safepgt", "--copied needs both a hibernation image and --resume-dump")
        hung = hung_resume.hung_resume(result, image, copied)

        def row(what, value, extra=""):
            return 0, ("hung resume", na, na, na, na, na, "", what, "", str(value), extra, "", "")

        yield row(f"after copy #{hung.copied}", f"{len(hung.broken)} direct-map regions broken on the boot kernel's tables")
        for h in hung.broken[:16]:
            yield 0, ("hung resume", format_hints.Hex(h.va), format_hints.Hex(h.pa_start), format_hints.Hex(h.pa_end),
                      na, na, "", "broken region", "", "", h.describe(), "", "")
        for what, native, rebuilt in hung.checks:
            yield row(what, f"boot kernel's tables: {native}", f"rebuilt safe tables: {rebuilt}")

    def _explain_rows(self, result, va):
        from volatility3.plugins.swsusp.paging.errors import NonCanonicalAddress
        from volatility3.plugins.swsusp.paging.walk import Paging

        walks = [("image" if self._image else "dump", result.image.paging, va)]
        if result.safe is not None:
            walks.append(("rebuilt", Paging(result.safe.read, result.safe.root, result.safe.levels), va))
        if result.resume is not None:
            pa = result.image.direct_map.pa(va)
            if pa is not None:
                walks.append(("resume-time", result.resume.paging, result.resume.direct_map.va(pa)))
        for label, paging, addr in walks:
            try:
                steps = paging.walk(addr)
            except NonCanonicalAddress as exc:
                raise exceptions.LayerException("safepgt", str(exc)) from None
            for number, step in enumerate(steps, 1):
                entry = step.entry
                yield 0, (
                    label, format_hints.Hex(addr), number, step.level.name, step.index, format_hints.Hex(step.table_pa),
                    format_hints.Hex(step.entry_pa), format_hints.Hex(entry.value) if entry else renderers.UnreadableValue(),
                    entry.flags_text() if entry else "", self._step_result(step),
                )

    @staticmethod
    def _problem_count(kt) -> str:
        """'none', or the count by kind and the first one (the rows say where the others are)."""
        slot_problems = [s for s in kt.slots if s.problem]
        shown = {s.entry_pa for s in slot_problems}
        others = [p for p in kt.problems if p.entry_pa not in shown]  # the same entry counts once
        if not others and not slot_problems:
            return "none"
        kinds = {}
        for kind in [p.kind for p in others] + [s.problem for s in slot_problems]:
            kinds[kind] = kinds.get(kind, 0) + 1
        return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) + " (see the Problem column)"

    @staticmethod
    def _step_result(step) -> str:
        if step.status == "leaf":
            return f"{step.entry.kind} page at {step.entry.frame:#x}: physical address {step.pa:#x}"
        if step.status == "table":
            loop = " (a table already on this walk: a loop)" if step.revisit else ""
            return f"next table at {step.entry.frame:#x}{loop}"
        if step.status == "reserved":
            return f"reserved bits {step.entry.reserved:#x} set: the MMU faults here"
        if step.status == "unreadable":
            return f"unreadable: the table at {step.table_pa:#x} cannot be read"
        return step.status

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
        safe = result.safe
        bin_name = self._write("safepgt-tables.bin", b"".join(bytes(safe.pages[pfn]) for pfn in safe.frames))
        description = {
            "description": "Safe page tables rebuilt offline as set_up_temporary_mappings() builds them; "
                           "each 4096-byte page of the .bin file belongs at the physical address listed",
            "file": bin_name,
            "root": safe.root,
            "levels": safe.levels,
            "pages": [{"physical_address": pfn << 12, "file_offset": i * PAGE} for i, pfn in enumerate(safe.frames)],
            "mappings": [{"virtual": va, "physical": pa, "size": size, "what": what} for va, pa, size, what in safe.mappings],
            "leaf_counts": safe.leaf_counts,
            "verified_pages": result.verification.pages,
            "mismatches": [list(m) for m in result.verification.mismatches],
            "direct_map_base": result.image.direct_map.base,
        }
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
        self._image = image is not None
        self._progress_callback(50.0, "Comparing direct maps and replaying the restore")
        result = safepgt.analyse(main, image, resume, rebuild=self.config.get("rebuild", False))
        if result.safe is not None:
            self._write_tables(result)
        if plot_name:
            self._plot(result, plot_name)
        if self.config.get("explain", None) is not None:
            return renderers.TreeGrid(
                [("Tables", str), ("Address", format_hints.Hex), ("Step", int), ("Level", str), ("Index", int),
                 ("Table", format_hints.Hex), ("Entry address", format_hints.Hex), ("Entry", format_hints.Hex),
                 ("Flags", str), ("Result", str)],
                self._explain_rows(result, self.config["explain"]),
            )

        def rows():
            yield from self._slot_rows(result)
            yield from self._problem_rows(result)
            yield from self._summary_rows(result)
            if self.config.get("copied", None) is not None:
                yield from self._hung_rows(result, image, self.config["copied"])

        return renderers.TreeGrid(
            [("Level", str), ("Virtual", format_hints.Hex), ("Physical", format_hints.Hex),
             ("Physical end", format_hints.Hex), ("Entry address", format_hints.Hex), ("Entry", format_hints.Hex),
             ("Flags", str), ("Kind", str), ("Resume kind", str), ("Finding", str), ("Restore hazard", str),
             ("Safe tables", str), ("Problem", str)],
            rows(),
        )
