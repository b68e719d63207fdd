"""linux.swsusp_swaparea: the swap area a hibernation image lives in, slot by slot and
process by process (swapped-out memory, issue 10)."""

import logging
from typing import Dict, List, Optional, Tuple

from volatility3.framework import exceptions, interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.plugins.linux import pslist

from volatility3.plugins.swsusp.swap import accounting
from volatility3.plugins.swsusp.swap.accounting import PAGE_SIZE, Row
from volatility3.plugins.swsusp.vol import swap_census
from volatility3.plugins.swsusp.vol.kernel_swap import FrontswapMap, KernelReader, discover
from volatility3.plugins.swsusp.vol.swap_layer import SwapLinuxIntel32e
from volatility3.plugins.swsusp.vol.swap_slot_layer import image_layer_below

vollog = logging.getLogger(__name__)


class SwsuspSwapArea(interfaces.plugins.PluginInterface):
    """Accounts for the swap area of a hibernation image: who owns each slot, and per process where its pages are.

    Slots: the swap header, the image (swap_map pages, data pages), pages named by process
    PTEs and by shmem/tmpfs page caches, slots the kernel's swap_map still counts (swap
    cache), and free slots - zero, or stale data from earlier use (worth carving; --dump
    writes them into -o).  Processes and shmem files: pages resident, swapped into this
    area and recovered, swapped to another swap area, swapped but unreadable here.
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

    # -- gathering ----------------------------------------------------------------------------

    def _discover(self, vmlinux, layer, image):
        """The kernel's swap areas and ours (read afresh: the same answer the kernel layer got
        when resolution is on), the area with its extents, and zswap's record of slots."""
        banner = layer.config.get("kernel_banner", None) or ""
        found = discover(self.context, vmlinux.symbol_table_name, layer.name, vmlinux.offset, image, banner)
        if found.settings is None:
            vollog.error(f"Swap area of the kernel not identified: {found.why if found.layout else found.layout_why}")
            return found, image.area, ()
        area = image.area.with_kernel_extents(found.ours.extents)
        frontswap = FrontswapMap(layer.read, found.ours.frontswap_map, found.ours.max)
        found.warn_zswap_untold()
        return found, area, frontswap

    def _processes(self, vmlinux, settings, area, frontswap):
        """Per process pages; and the slots their entries name (in the input, held by zswap)."""
        wanted = set(self.config.get("pid", None) or [])
        rows: List[accounting.ProcessPages] = []
        slots: List[int] = []
        zswap: List[int] = []
        tasks = [t for t in pslist.PsList.list_tasks(self.context, vmlinux.name) if t.mm]
        for n, task in enumerate(tasks):
            self._progress_callback(100.0 * n / max(1, len(tasks)), f"Walking page tables of PID {task.pid}")
            name = task.add_process_layer()
            if name is None:
                continue
            try:
                pages = swap_census.process_pages(task, self.context.layers[name], settings, area, frontswap)
            except exceptions.InvalidAddressException as exc:
                vollog.info(f"PID {task.pid}: memory map unreadable ({exc})")
                continue
            slots.extend(pages.slots)
            zswap.extend(pages.zswap_slots)
            if not wanted or pages.pid in wanted:
                rows.append(pages)
        return rows, slots, zswap

    def _shmem(self, vmlinux, k: KernelReader, settings, area, frontswap) -> List[accounting.ShmemFile]:
        paths: Optional[Dict[int, str]] = None

        def path_of(inode: int) -> str:
            nonlocal paths
            if paths is None:
                paths = swap_census.inode_paths(self.context, vmlinux.name)
            return paths.get(inode) or swap_census.dentry_name(k, inode)

        if not all(map(k.has_symbol, ("shmem_aops", "super_blocks"))):
            vollog.info("shmem/tmpfs page caches not walked: the ISF has no shmem_aops/super_blocks")
            return []
        try:
            files, how = swap_census.shmem_files(k, settings, area, path_of, self._progress_callback, frontswap)
        except (exceptions.InvalidAddressException, exceptions.SymbolError) as exc:
            vollog.warning(f"shmem/tmpfs page caches not walked: {exc}")
            return []
        vollog.info(f"shmem/tmpfs page caches: {how}")
        return files

    def _image_slots(self, image, area) -> Dict[int, int]:
        smap = image.swap_map
        return accounting.image_slots(swap_census.block_slots(area, smap.map_blocks),
                                      swap_census.block_slots(area, smap.entries))

    # -- output -------------------------------------------------------------------------------

    def _dump_stale(self, owners, area) -> Dict[Tuple[int, int], str]:
        out = {}
        for first, last in accounting.stale_runs(owners):
            name = f"swaparea-stale-slots-{first}-{last}.bin"
            with self.open(name) as f:
                for slot in range(first, last + 1):
                    f.write(area.read_slot(slot) or bytes(PAGE_SIZE))
            out[(first, last)] = getattr(f, "preferred_filename", name)
        return out

    def _rows(self):
        vmlinux = self.context.modules[self.config["kernel"]]
        layer = self.context.layers[vmlinux.layer_name]
        image_layer = image_layer_below(self.context, layer.name)
        if image_layer is None:
            vollog.error("linux.swsusp_swaparea needs a hibernation image as input (a swap partition, disk or file)")
            return
        image = image_layer.image
        found, area, frontswap = self._discover(vmlinux, layer, image)
        settings = found.settings
        mode = "resolution on" if isinstance(layer, SwapLinuxIntel32e) and layer.swap_settings else "resolution off"
        k = KernelReader(self.context, vmlinux.symbol_table_name, layer.name, vmlinux.offset)
        processes: List[accounting.ProcessPages] = []
        files: List[accounting.ShmemFile] = []
        process_slots: List[int] = []
        zswap: List[int] = []
        swap_map = None
        if settings is not None:
            yield Row(0, "area", f"swap type {settings.our_type} of {settings.nr_swapfiles}, "
                                 f"PTE layout {settings.pte_layout.name} ({mode})", slots=settings.nr_slots)
            processes, process_slots, zswap = self._processes(vmlinux, settings, area, frontswap)
            files = self._shmem(vmlinux, k, settings, area, frontswap)
            zswap += [slot for f in files for slot in f.zswap_slots]
            swap_map = swap_census.swap_map_reader(k, found.ours.swap_map, found.ours.max)
        nr_slots = settings.nr_slots if settings else (area.nr_slots or 0)
        self._progress_callback(0.0, "Classifying swap slots")
        owners = accounting.classify_slots(
            nr_slots, self._image_slots(image, area), process_slots,
            [slot for f in files for _index, slot in f.slots], swap_map, area.read_slots,
            self._progress_callback, zswap,
        )
        outputs = self._dump_stale(owners, area) if self.config.get("dump", False) else {}
        yield from accounting.slot_rows(owners, outputs)
        yield from accounting.process_rows(processes)
        yield from accounting.file_rows(files)

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

