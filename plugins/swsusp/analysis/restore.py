"""The restore, modelled as the kernel performs it (docs/format.md §8.2-8.3), to show why resumes hung.

Load: for each PFN in image-list order, the page is read straight into its frame when the
boot kernel has that frame free; otherwise into a safe page, with a PBE prepended to
restore_pblist.  Copy: the final loop walks restore_pblist, i.e. the copied pages in
*reverse* load order, writing each through the direct map.

Before 2005 that loop ran on the boot kernel's live page tables.  A table frame the image
also lists is overwritten mid-loop with the image's content; the boot kernel's direct map
then stays correct only if every table the new entries point to already holds its
suspend-time content.  `simulate_hazards` replays the loop event by event (only the moments
a frame on some translation path is restored matter) and reports, per direct-map region of
the boot kernel, when its translation breaks and the first copy that writes through it.
Modern kernels are immune: they copy on temporary tables in frames the image does not list.
"""

import bisect
import functools
from array import array
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from ..memory import PAGE_SIZE
from ..paging.directmap import SlotRecord
from ..paging.walk import Paging

IN_PLACE = 0  # restored while loading, before the copy loop
PAGINGS_KEPT = 256  # moments of the copy loop whose tables simulate_hazards keeps


class RestoreOrder:
    """When each image PFN receives its suspend-time content: 0 = loaded in place before the
    copy loop; k >= 1 = the k-th copy of the final loop; None = the image does not hold it."""

    def __init__(self, list_pfns: Iterable[int], in_use: Callable[[int], bool]) -> None:
        listed, copied = array("Q"), array("Q")
        for pfn in list_pfns:
            listed.append(pfn)
            if in_use(pfn):
                copied.append(pfn)  # load order; the loop runs it backwards
        self._listed = array("Q", sorted(listed))
        self._copied = copied
        self.copies = len(copied)
        ascending = all(a < b for a, b in zip(copied, copied[1:]))
        self._index: Optional[Dict[int, int]] = None if ascending else {p: i for i, p in enumerate(copied)}

    def _position(self, pfn: int) -> Optional[int]:
        if self._index is not None:
            return self._index.get(pfn)
        i = bisect.bisect_left(self._copied, pfn)
        return i if i < len(self._copied) and self._copied[i] == pfn else None

    def in_image(self, pfn: int) -> bool:
        i = bisect.bisect_left(self._listed, pfn)
        return i < len(self._listed) and self._listed[i] == pfn

    def time(self, pfn: int) -> Optional[int]:
        if not self.in_image(pfn):
            return None
        pos = self._position(pfn)
        return IN_PLACE if pos is None else self.copies - pos

    def copy_at(self, k: int) -> int:
        """PFN written by copy #k (1-based)."""
        return self._copied[self.copies - k]

    def first_copy_into(self, first: int, last: int, lo_pfn: int, hi_pfn: int) -> Optional[int]:
        """The first copy number in [first, last] whose frame is in [lo_pfn, hi_pfn)."""
        for k in range(max(1, first), min(last, self.copies) + 1):
            if lo_pfn <= self.copy_at(k) < hi_pfn:
                return k
        return None


class StateAt:
    """Physical memory during the restore, just after copy #t: image content for frames
    restored by then, the boot kernel's memory for the rest."""

    def __init__(self, boot_read, image_read, order: RestoreOrder) -> None:
        self._boot, self._image, self._order = boot_read, image_read, order

    def reader(self, t: int):
        order, boot, image = self._order, self._boot, self._image

        def read(pa: int, n: int) -> bytes:
            when = order.time(pa // PAGE_SIZE)
            return image(pa, n) if when is not None and when <= t else boot(pa, n)

        return read


@dataclass(frozen=True)
class Hazard:
    """A boot-kernel direct-map region whose translation breaks during a live-table restore."""

    pa_start: int
    pa_end: int
    va: int  # boot kernel VA of pa_start
    broken_at: int  # copy number after which it no longer translates right (0: before the loop)
    repaired_at: Optional[int]  # copy number that makes it right again; None = never
    cause: str
    fault_copy: Optional[int]  # first copy in the broken window that writes into the region
    fault_pfn: Optional[int]

    def describe(self) -> str:
        until = f"copy #{self.repaired_at}" if self.repaired_at is not None else "the end of the loop (never repaired)"
        text = f"broken from copy #{self.broken_at} until {until}: {self.cause}"
        if self.fault_copy is not None:
            text += f"; copy #{self.fault_copy} (PFN {self.fault_pfn:#x}) writes through it: fault"
        return text


def _path_frames(paging: Paging, va: int) -> List[int]:
    return [step.table_pa // PAGE_SIZE for step in paging.walk(va)]


def _probes(pristine: Paging, va: int, size: int) -> List[int]:
    """Offsets checked in a region: every 4 KiB page when the boot kernel maps it with a PTE
    table, else both ends (a large page is linear)."""
    steps = pristine.walk(va)
    if steps and steps[-1].level.linux == "PTE":
        return list(range(0, size, PAGE_SIZE))
    return [0, size - 1]


def simulate_hazards(
    boot_read,
    boot_root: int,
    levels: int,
    boot_base: int,
    regions: Iterable[Tuple[int, int]],
    image_read,
    order: RestoreOrder,
    sme_mask: int = 0,
) -> List[Hazard]:
    """Replay the copy loop on the boot kernel's live tables for each (pa_start, pa_end) region
    its direct map covers; report the regions whose translation stops being what the boot
    kernel itself had (checked at every moment a frame on the translation path is restored)."""
    state = StateAt(boot_read, image_read, order)
    pristine = Paging(boot_read, boot_root, levels, sme_mask)

    @functools.lru_cache(maxsize=PAGINGS_KEPT)
    def at(t: int) -> Paging:
        """The boot kernel's tables as memory stands after copy #t (their table pages cached)."""
        return Paging(state.reader(t), boot_root, levels, sme_mask)

    hazards = []
    for pa_start, pa_end in regions:
        va, size = boot_base + pa_start, pa_end - pa_start
        probes = _probes(pristine, va, size)
        expected = [pristine.translate(va + off) for off in probes]
        t, broken_at, cause = IN_PLACE, None, ""
        while True:
            paging = at(t)
            ok = [paging.translate(va + off) for off in probes] == expected
            if not ok and broken_at is None:
                broken_at, cause = t, _cause(pristine, paging, va, order)
            elif ok and broken_at is not None:
                hazards.append(_hazard(pa_start, pa_end, va, broken_at, t, cause, order))
                broken_at = None
            frames = set(_path_frames(paging, va)) | set(_path_frames(paging, va + size - 1))
            future = [w for w in (order.time(f) for f in frames) if w is not None and w > t]
            if not future:
                break
            t = min(future)
        if broken_at is not None:
            hazards.append(_hazard(pa_start, pa_end, va, broken_at, None, cause, order))
    return hazards


def _hazard(pa_start, pa_end, va, broken_at, repaired_at, cause, order: RestoreOrder) -> Hazard:
    last = order.copies if repaired_at is None else repaired_at
    fault = order.first_copy_into(broken_at + 1, last, pa_start // PAGE_SIZE, -(-pa_end // PAGE_SIZE))
    return Hazard(pa_start, pa_end, va, broken_at, repaired_at, cause, fault,
                  order.copy_at(fault) if fault is not None else None)


def _when(order: RestoreOrder, frame_pa: int, t: int) -> str:
    w = order.time(frame_pa // PAGE_SIZE)
    if w is None:
        return f"frame {frame_pa:#x}, which the image does not contain (it keeps boot-kernel data)"
    if w > t:
        return f"frame {frame_pa:#x}, whose suspend-time content arrives only at copy #{w}"
    return f"frame {frame_pa:#x} (already restored, but the image kept other content there)"


def _cause(pristine: Paging, now: Paging, va: int, order: RestoreOrder) -> str:
    """Where the walk first departs from the boot kernel's own walk, and why."""
    before, after = pristine.walk(va), now.walk(va)
    for old, new in zip(before, after):
        if old.table_pa != new.table_pa or (old.entry and new.entry and old.entry.value == new.entry.value):
            continue
        where = f"{new.level.linux} entry at {new.entry_pa:#x}"
        w = order.time(new.table_pa // PAGE_SIZE)
        overwritten = (f"table frame {new.table_pa:#x} overwritten at copy #{w}" if w
                       else f"table frame {new.table_pa:#x}")
        if new.entry is None:
            return f"{overwritten}: unreadable"
        was = old.entry.value if old.entry else 0
        text = f"{overwritten}; {where} {was:#x} -> {new.entry.value:#x}"
        if not new.entry.present:
            return text + " (not present)"
        if new.entry.is_leaf:
            return text + f" (maps {new.entry.frame:#x} instead)"
        return text + f", pointing to {_when(order, new.entry.frame, w or 0)}"
    last = after[-1] if after else None
    if last is not None and last.table_pa not in {s.table_pa for s in before}:
        return f"the walk reaches {_when(order, last.table_pa, 0)}"
    return "translation differs"


def order_exposure(image_slots: Iterable[SlotRecord],
                   order: RestoreOrder) -> List[Tuple[SlotRecord, int, Optional[int]]]:
    """Without the boot kernel's memory: image table entries whose target table is restored
    after the frame holding the entry (or never).  (slot, t(entry frame), t(target))."""
    out = []
    for slot in image_slots:
        entry = slot.entry
        if entry is None or not entry.present or entry.is_leaf:
            continue
        t_entry, t_target = order.time(slot.entry_pa // PAGE_SIZE), order.time(entry.frame // PAGE_SIZE)
        if t_entry is None:
            continue
        if t_target is None or t_target > t_entry:
            out.append((slot, t_entry, t_target))
    return out
