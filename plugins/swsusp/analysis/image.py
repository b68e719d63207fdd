"""What the analysis reads of a hibernation image, declared.  `format.image.SwsuspImage`
is one (structurally: nothing here imports the format); a test or another reader can supply
its own.  tests/test_analysis_interface.py holds SwsuspImage and the analysis to it."""

from typing import Optional, Protocol, Sequence, runtime_checkable


class RestoreRecord(Protocol):
    """struct restore_data_record (x86-64, 2.6.24+) as far as the analysis reads it (docs/format.md §10)."""

    @property
    def cr3(self) -> int: ...

    @property
    def jump_address(self) -> int: ...  # VA of the image kernel's restore_registers

    @property
    def jump_address_phys(self) -> Optional[int]: ...  # its PA (record v2+)


class ImageInfo(Protocol):
    """struct swsusp_info: only its restore record is read."""

    @property
    def record(self) -> Optional[RestoreRecord]: ...  # None before 2.6.24


class PfnList(Protocol):
    """The image's PFN list, beside its data pages (docs/format.md §4.3)."""

    @property
    def zero_pfns(self) -> Sequence[int]: ...  # 6.6+ zero pages (no data page), ascending

    @property
    def ascending(self) -> bool: ...  # the list was written in ascending PFN order


@runtime_checkable
class HibernationImage(Protocol):
    """A hibernation image: the pages it saved and the restore record of its kernel."""

    @property
    def info(self) -> ImageInfo: ...

    @property
    def pfns(self) -> PfnList: ...

    @property
    def max_pfn(self) -> int: ...  # the highest PFN the image holds

    def has_pfn(self, pfn: int) -> bool:
        """The image holds PFN `pfn` (a data page or a zero page)."""
        ...

    def pfn_of_data_page(self) -> Sequence[int]:
        """The PFN of each data page, in list (stream) order."""
        ...

    def read(self, address: int, length: int) -> bytes:
        """Physical memory as saved: a `walk.ReadPhys` (KeyError for a page not in the image)."""
        ...
