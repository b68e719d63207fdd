"""One exception family for everything wrong with an image on disk.

Every error names *where*: the byte offset in the input file and, where it applies, the
swap block, PFN or compressed-block index, so an analyst can look with a hex editor.
"""

from typing import Optional

from ..memory import MissingPage


class SwsuspFormatError(Exception):
    """The input is not a readable hibernation image (or this part of it is damaged)."""

    def __init__(
        self,
        reason: str,
        offset: Optional[int] = None,
        *,
        block: Optional[int] = None,
        pfn: Optional[int] = None,
        block_index: Optional[int] = None,
    ) -> None:
        self.reason = reason
        self.offset = offset
        self.block = block
        self.pfn = pfn
        self.block_index = block_index
        super().__init__(self.message)

    def copy(self) -> "SwsuspFormatError":
        """The same error as a new exception: an error stored and raised again would carry
        (and keep alive) the frames of every place it was raised from."""
        return type(self)(self.reason, self.offset, block=self.block, pfn=self.pfn, block_index=self.block_index)

    def __str__(self) -> str:  # block_index may be filled in after creation
        return self.message

    @property
    def message(self) -> str:
        where = []
        if self.offset is not None:
            where.append(f"file offset {self.offset:#x}")
        if self.block is not None:
            where.append(f"swap block {self.block}")
        if self.block_index is not None:
            where.append(f"compressed block #{self.block_index}")
        if self.pfn is not None:
            where.append(f"PFN {self.pfn:#x}")
        return self.reason + (f" (at {', '.join(where)})" if where else "")


class NotAnImageError(SwsuspFormatError):
    """No hibernation image here at all (as opposed to a damaged one)."""


class PageNotInImage(MissingPage):
    """The PFN was not saved in the image (free, nosave, or never RAM): absent, not zero."""

    def __init__(self, pfn: int) -> None:
        super().__init__(pfn)
        self.pfn = pfn

    def __str__(self) -> str:
        return f"PFN {self.pfn:#x} is not in the hibernation image"


class PageDamaged(PageNotInImage):
    """The image lists the PFN but its data cannot be trusted or read (salvage: only the
    pages of a damaged block or beyond a broken map chain are lost, never the whole image)."""

    def __init__(self, pfn: Optional[int], error: SwsuspFormatError) -> None:
        super().__init__(pfn if pfn is not None else -1)
        self.error = error

    def __str__(self) -> str:
        page = f"PFN {self.pfn:#x}" if self.pfn >= 0 else "this page"
        return f"{page} is in the hibernation image but damaged: {self.error.message}"
