"""linux.swsusp_swaparea: the swap area a hibernation image lives in, slot by slot and
process by process (swapped-out memory, issue 10)."""

import logging
from typing import Dict, Iterator, Tuple

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.plugins.linux import pslist

from volatility3.plugins.swsusp.format.swap_area import SwapArea
from volatility3.plugins.swsusp.swap import accounting
from volatility3.plugins.swsusp.swap.accounting import PAGE_SIZE
from volatility3.plugins.swsusp.vol import swap_census
from volatility3.plugins.swsusp.vol.output import OutputFile
from volatility3.plugins.swsusp.vol.refusal import Refusal

vollog = logging.getLogger(__name__)


class SwsuspSwapArea(interfaces.plugins.PluginInterface):
    """Accounts for the swap area of a hibernation image: who owns each slot, and per process where its pages are.

    Slots: the swap header, the image (swap_map pages, data pages), pages named by process
    PTEs and by shmem/tmpfs page caches, slots the kernel's swap_map still counts (swap
    cache), and free slots - zero, or stale data from earlier use (worth carving; --dump
    writes them into -o).  Processes and shmem files: pages resident, swapped into this
    area and recovered, swapped to another swap area, swapped but unreadable here.  What
    was not read, over every process and file: swap entries of another area, beyond the
    area, in slots the input does not hold, held by zswap; page-cache nodes not in the image.
    Works with swap resolution on or off (-e swsusp.swap=false): the accounting reads the
    kernel's own tables either way.
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls):
        return [
            requirements.ModuleRequirement(name="kernel", description="Linux kernel", architectures=["Intel64"]),
            requirements.VersionRequirement(name="pslist", component=pslist.PsList, version=(4, 0, 0)),
            requirements.ListRequirement(
                name="pid", element_type=int, optional=True,
                description="Process rows for these PIDs only (slot rows count every process)"),
            requirements.BooleanRequirement(
                name="dump", optional=True, default=False,
                description="Write each run of stale slots into -o (raw pages, for carving)"),
        ]

    def _dump_stale(self, owners: accounting.SlotOwners, area: SwapArea) -> Dict[Tuple[int, int], str]:
        """Each run of stale slots into -o, raw pages."""
        out = {}
        for first, last in accounting.stale_runs(owners):
            name = f"swaparea-stale-slots-{first}-{last}.bin"
            dump = OutputFile(self.open, name)  # complete, or nothing under its name (a full disk)
            try:
                for slot in range(first, last + 1):
                    dump.write(area.read_slot(slot) or bytes(PAGE_SIZE))
                out[(first, last)] = dump.close()
            finally:
                dump.discard()  # a failed read: no partial file either
        return out

    def _rows(self) -> Iterator[accounting.Row]:
        found = swap_census.census(self.context, self.config["kernel"], self.config.get("pid", None) or (),
                                   self._progress_callback)
        if found is None:  # a RAM dump: there is no swap area to account for
            raise Refusal("linux.swsusp_swaparea needs a hibernation image as input (a swap partition, disk or file)")
        outputs = self._dump_stale(found.report.owners, found.area) if self.config.get("dump", False) else {}
        yield from accounting.report_rows(found.report, outputs)

    def _generator(self):
        na = renderers.NotApplicableValue()

        def value(v):
            return na if v is None else v

        for row in self._rows():
            yield row.depth, (
                row.part, row.owner, value(row.pid), value(row.slots), value(row.first), value(row.last),
                value(row.resident), value(row.recovered), value(row.elsewhere), value(row.unreadable),
                row.output or na,
            )

    def run(self):
        return renderers.TreeGrid(
            [("Part", str), ("Owner", str), ("PID", int), ("Slots", int), ("First slot", int), ("Last slot", int),
             ("Resident", int), ("Recovered", int), ("Elsewhere", int), ("Unreadable", int), ("File output", str)],
            self._generator(),
        )

