"""Two kernels' direct maps side by side, aligned by *physical region* (docs/format.md §8.1).

Each kernel has its own random direct-map base, so slot N of one is not slot N of the other;
what corresponds is the slot that maps the same physical range at the same level.  For each
such pair the finding is:

    same            both map it the same way (same leaf size, or tables at the same frame)
    moved           both point to a next-level table, at different frames (the seed's case)
    split           the image maps it with one large page, the resume kernel with a table
    merged          the image uses a table, the resume kernel one large page
    only in image   mapped (or pointing to a table) in the image only
    only in resume  ... in the resume-time kernel only
"""

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from ..paging.directmap import SlotRecord
from ..paging.entries import PageTableEntry

SAME, MOVED, SPLIT, MERGED, ONLY_IMAGE, ONLY_RESUME = (
    "same", "moved", "split", "merged", "only in image", "only in resume",
)
FINDINGS = (SAME, MOVED, SPLIT, MERGED, ONLY_IMAGE, ONLY_RESUME)


@dataclass(frozen=True)
class SlotPair:
    level: str  # "PUD" or "PMD"; "PGD"/"P4D" for an upper entry with a problem
    pa_start: int
    pa_end: int
    image: Optional[SlotRecord]
    resume: Optional[SlotRecord]
    finding: Optional[str]  # None when neither maps the region


def _present(slot: Optional[SlotRecord]) -> Optional[PageTableEntry]:
    """The slot's entry when it is present (it then points to `entry.frame`, the slot's target)."""
    return slot.entry if slot is not None and slot.entry is not None and slot.entry.present else None


def classify(image: Optional[SlotRecord], resume: Optional[SlotRecord]) -> Optional[str]:
    a, b = _present(image), _present(resume)
    if a is None and b is None:
        return None
    if b is None:
        return ONLY_IMAGE
    if a is None:
        return ONLY_RESUME
    if a.is_leaf and b.is_leaf:
        return SAME if a.frame == b.frame else MOVED
    if a.is_leaf:
        return SPLIT
    if b.is_leaf:
        return MERGED
    return SAME if a.frame == b.frame else MOVED


def _key(slot: SlotRecord) -> Tuple[str, int]:
    return slot.level.linux, slot.pa_start


def _listed(slot: SlotRecord) -> bool:
    """PUD and PMD slots, and upper entries that end the walk with a problem (a loop ...)."""
    return slot.level.linux in ("PUD", "PMD") or slot.problem is not None


def compare_slots(image_slots: Iterable[SlotRecord], resume_slots: Iterable[SlotRecord]) -> List[SlotPair]:
    """Pair slots by (level, physical start) and classify each pair, in physical order."""
    images: Dict[Tuple[str, int], SlotRecord] = {_key(s): s for s in image_slots if _listed(s)}
    resumes: Dict[Tuple[str, int], SlotRecord] = {_key(s): s for s in resume_slots if _listed(s)}
    pairs: List[SlotPair] = []
    large = set()  # GiBs that one kernel maps with a single 1 GiB page
    order = {"PGD": 0, "P4D": 1, "PUD": 2, "PMD": 3}
    for key in sorted(set(images) | set(resumes), key=lambda k: (k[1], order[k[0]])):
        image, resume = images.get(key), resumes.get(key)
        some = image or resumes[key]
        finding = classify(image, resume)
        if key[0] == "PUD" and finding in (SPLIT, MERGED):
            large.add(some.pa_start)
        elif key[0] == "PMD" and some.pa_start - some.pa_start % (1 << 30) in large:
            continue  # the 1 GiB page of the other kernel covers it: the PUD row says it all
        pairs.append(SlotPair(key[0], some.pa_start, some.pa_end, image, resume, finding))
    return pairs


def summary(pairs: Iterable[SlotPair]) -> Dict[str, int]:
    counts = {finding: 0 for finding in FINDINGS}
    for pair in pairs:
        if pair.finding:
            counts[pair.finding] += 1
    return counts
