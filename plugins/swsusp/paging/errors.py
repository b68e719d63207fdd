"""What the paging room refuses, as one family.

An adapter (a plugin, a layer) catches `PagingError` and prints its message as one line; the
hibernation analysis's errors derive from it too (analysis/errors.py), so one base is enough.

`MissingMemory` is the other half of the contract of a `walk.ReadPhys` read function: memory
that is not there raises a KeyError, and this is the one the adapters raise (the format's
PageNotInImage is another).  The walks never let it escape: a table page that cannot be read
is "unreadable", a state they report, not an error.
"""

from ..memory import MissingPage


class PagingError(Exception):
    """Page tables that cannot be walked as asked; the message says which and where."""


class UnsupportedLevels(PagingError):
    """x86-64 paging has 4 or 5 levels."""


class NonCanonicalAddress(PagingError):
    """A virtual address whose top bits are not the sign extension of bit 47 (or 56)."""


class MissingMemory(PagingError, MissingPage):
    """Physical memory [pa, pa+length) that a read function does not hold: a page not saved
    in a hibernation image, a hole in a RAM dump, an address beyond its end.  A KeyError, as
    the format's PageNotInImage is, so a reader of either kind honours `walk.ReadPhys`."""

    def __init__(self, pa: int, length: int, why: str = "") -> None:
        super().__init__(pa)
        self.pa, self.length, self.why = pa, length, why

    def __str__(self) -> str:  # KeyError's own __str__ would print repr(pa)
        text = f"physical memory {self.pa:#x}-{self.pa + self.length:#x} cannot be read"
        return f"{text}: {self.why}" if self.why else text
