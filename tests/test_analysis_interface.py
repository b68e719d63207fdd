"""The hibernation analysis (plugins/swsusp/analysis) reads an image only through its declared
interface, `analysis.image.HibernationImage`, and the pure rooms import no Volatility.

The image handed to the analysis here exposes exactly the Protocol's members and nothing else
(its restore record and PFN list too): if the analysis used anything more of an image, it
would fail on it.  Its results must equal those on the SwsuspImage itself, and the truth the
generator designed (the seed scenario: the direct-map base, the 2005 hazard)."""

import ast
from pathlib import Path
from types import SimpleNamespace

from samples import swsusp_gen
from volatility3.plugins.swsusp.analysis import hung_resume, kernel_tables, safepgt
from volatility3.plugins.swsusp.analysis.image import HibernationImage
from volatility3.plugins.swsusp.format.image import SwsuspImage

REPO = Path(__file__).resolve().parent.parent
PAGE = 4096


class OnlyTheInterface:
    """A SwsuspImage seen through HibernationImage's members alone."""

    def __init__(self, image: SwsuspImage) -> None:
        record = image.info.record
        self.info = SimpleNamespace(record=SimpleNamespace(
            cr3=record.cr3, jump_address=record.jump_address, jump_address_phys=record.jump_address_phys))
        self.pfns = SimpleNamespace(zero_pfns=image.pfns.zero_pfns, ascending=image.pfns.ascending)
        self.max_pfn = image.max_pfn
        self.has_pfn = image.has_pfn
        self.pfn_of_data_page = image.pfn_of_data_page
        self.read = lambda address, length: image.read(address, length)


def protocol_members(protocol) -> set:
    return {name for name in vars(protocol) if not name.startswith("_")}


def run(image, boot):
    kt = kernel_tables.kernel_from_image(image)
    max_pa = (max(boot.pages) + 1) * PAGE
    resume = kernel_tables.kernel_from_dump(boot.read, max_pa, "resume-time dump", boot.cr3, memory_end=max_pa)
    result = safepgt.analyse(kt, image, resume, rebuild=True)
    first_broken = min(h.broken_at for h in result.hazards.values())
    return result, hung_resume.hung_resume(result, image, first_broken)


def test_the_analysis_needs_nothing_of_an_image_beyond_hibernation_image(tmp_path):
    scenario = swsusp_gen.make_scenario("seed", str(tmp_path))
    image = SwsuspImage.open(scenario.image_path)
    narrow = OnlyTheInterface(image)
    assert isinstance(image, HibernationImage) and isinstance(narrow, HibernationImage)
    assert {n for n in vars(narrow)} == protocol_members(HibernationImage)

    boot = scenario.resume_machine
    result, hung = run(narrow, boot)
    assert result.image.direct_map.base == scenario.image_machine.page_offset
    assert result.resume.direct_map.base == boot.page_offset
    assert {h.pa_start for h in result.hazards.values()} == {h["pa_start"] for h in scenario.hazards}
    assert result.verification.ok and not any(image.has_pfn(pfn) for pfn in result.safe.pages)
    assert [h.pa_start for h in hung.broken] == [h["pa_start"] for h in scenario.hazards]

    full, full_hung = run(image, boot)
    assert result.image.slots == full.image.slots and result.pairs == full.pairs
    assert result.order.copies == full.order.copies and result.hazards == full.hazards
    assert result.safe.pages == full.safe.pages
    assert hung == full_hung


def test_pure_rooms_import_no_volatility():
    """format/, paging/ and analysis/ are plain Python (style: rooms): no volatility3 import."""
    for room in ("format", "paging", "analysis"):
        for path in sorted((REPO / "plugins" / "swsusp" / room).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                assert not any(n.split(".")[0] == "volatility3" for n in names), f"{path}: imports {names}"
