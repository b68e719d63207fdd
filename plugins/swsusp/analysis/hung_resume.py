"""A resume that hung: memory as it stood after copy #N of the final loop (docs/format.md §8.3), read
through the boot kernel's own (live) tables and through the rebuilt safe tables."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..memory import PAGE_SIZE
from ..paging import walk
from . import restore
from .errors import AnalysisError, NoResumeDump
from .image import HibernationImage
from .kernel_tables import KernelTables, read_frame
from .safepgt import Analysis

BANNER = b"Linux version "


@dataclass
class HungResume:
    """Memory as it stood after copy #copied of the final loop (docs/format.md §8.3), and what the boot
    kernel's own tables and the rebuilt safe tables make of it."""

    copied: int
    broken: List[restore.Hazard]
    checks: List[Tuple[str, str, str]]  # (what, through native tables, through rebuilt tables)


def _overlay(pages: Dict[int, bytearray], read: walk.ReadPhys) -> walk.ReadPhys:
    """`read`, with the rebuilt table pages in their (free) frames."""

    def overlay(pa: int, n: int) -> bytes:
        page = pages.get(pa // PAGE_SIZE)
        return bytes(page[pa % PAGE_SIZE : pa % PAGE_SIZE + n]) if page is not None else read(pa, n)

    return overlay


def _read_virtual(paging: walk.Paging, read: walk.ReadPhys, va: int, n: int) -> Tuple[Optional[bytes], str]:
    pa = paging.translate(va)
    if pa is None:
        steps = paging.walk(va)
        return None, f"no translation ({steps[-1].level.linux} entry {steps[-1].status})" if steps else "no translation"
    try:
        return read(pa, n), f"-> {pa:#x}"
    except KeyError:  # the ReadPhys contract
        return None, f"-> {pa:#x}, not in memory"


def hung_resume(result: Analysis, image: HibernationImage, copied: int) -> HungResume:
    """Replay the copy loop up to copy #copied on the boot kernel's live tables (needs the
    resume-time dump); report what is broken then, and read the kernel banner through the
    boot kernel's direct map and through the rebuilt tables (image kernel's direct map)."""
    boot, order = result.resume, result.order
    if boot is None or order is None:
        raise NoResumeDump("a hung resume needs both a hibernation image and the resume-time dump")
    if not 0 <= copied <= order.copies:  # never clamped: a hang after copy #N names one moment
        raise AnalysisError(f"copy #{copied} is not in the final loop: it makes {order.copies} copies (0 to "
                            f"{order.copies})")
    state = restore.StateAt(boot.read, image.read, order).reader(copied)
    broken = [h for h in result.hazards.values()
              if h.broken_at <= copied and (h.repaired_at is None or h.repaired_at > copied)]
    native = walk.Paging(state, boot.paging.root, boot.paging.n_levels, boot.paging.sme_mask)
    rebuilt = None
    if result.safe is not None:
        rebuilt = walk.Paging(_overlay(result.safe.pages, state), result.safe.root, result.safe.levels)
    image_map, boot_map = result.image.direct_map, boot.direct_map
    not_rebuilt = "not rebuilt (use --rebuild)"
    checks: List[Tuple[str, str, str]] = []
    for pa in _banner_addresses(state, boot):
        want = state(pa, len(BANNER))
        got_native, how_native = _read_virtual(native, state, boot_map.va(pa), len(BANNER))
        native_text = f"{'reads the banner' if got_native == want else 'fails'} at {boot_map.va(pa):#x} {how_native}"
        rebuilt_text = not_rebuilt
        if rebuilt is not None:
            got, how = _read_virtual(rebuilt, state, image_map.va(pa), len(BANNER))
            rebuilt_text = f"{'reads the banner' if got == want else 'WRONG BYTES'} at {image_map.va(pa):#x} {how}"
        checks.append((f"kernel banner at physical {pa:#x}", native_text, rebuilt_text))
    broken.sort(key=lambda h: h.pa_start)
    for h in broken[:4]:  # where the boot kernel's tables now lead
        native_text = f"{boot_map.va(h.pa_start):#x} -> " + _pa_text(native.translate(boot_map.va(h.pa_start)))
        rebuilt_text = not_rebuilt
        if rebuilt is not None:
            rebuilt_text = f"{image_map.va(h.pa_start):#x} -> " + _pa_text(rebuilt.translate(image_map.va(h.pa_start)))
        checks.append((f"direct map of physical {h.pa_start:#x}", native_text, rebuilt_text))
    return HungResume(copied, broken, checks)


def _pa_text(pa: Optional[int]) -> str:
    return f"{pa:#x}" if pa is not None else "no translation"


def _banner_addresses(read: walk.ReadPhys, boot: KernelTables, limit: int = 1) -> List[int]:
    """Where the kernel banner is in memory now: searched in the boot kernel's image range."""
    found = []
    for first, end in sorted(boot.text_frames()):
        for pfn in range(first, end):
            page = read_frame(read, pfn)
            if page is None:
                continue
            at = page.find(BANNER)
            if at >= 0:
                found.append(pfn * PAGE_SIZE + at)
                if len(found) >= limit:
                    return found
    return found
