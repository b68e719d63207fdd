"""What the hibernation analysis refuses.  Every error is a `PagingError` (paging/errors.py),
so an adapter catches one base; the message says what is missing and where, and leaves the
command-line advice (which option to give) to the adapter."""

from ..paging.errors import PagingError


class AnalysisError(PagingError):
    """The analysis cannot go on with what it was given."""


class NoRestoreRecord(AnalysisError):
    """The image has no x86-64 restore_data_record (a kernel before 2.6.24): no cr3 to start from."""


class RecordCr3Unusable(AnalysisError):
    """The restore record's cr3 does not translate its jump_address to jump_address_phys."""


class NoDirectMap(AnalysisError):
    """No direct map under the kernel's page tables (the message names the first problems)."""


class NoPageTableRoot(AnalysisError):
    """No kernel top-level table found by scanning a RAM dump."""


class NoResumeDump(AnalysisError):
    """A replay of a hung resume needs the image's restore order and the boot kernel's memory."""


class RebuildError(AnalysisError):
    """Safe tables cannot be rebuilt; the analysis reports it beside its other results."""


class NoSafeFrame(RebuildError):
    """Every frame of the allocation range is unsafe: the tables cannot be rebuilt there."""


class MappingConflict(RebuildError):
    """Two mappings asked of the rebuilt tables overlap (a page inside a large page)."""
