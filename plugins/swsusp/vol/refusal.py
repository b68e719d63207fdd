"""A refusal: the input or an option is at fault, not Volatility; the user sees one line.

Volatility's command line ends every LayerException with "A faulty layer implementation...
file a bug", every other VolatilityException with a fixed list of causes (none of which is
"the evidence is damaged"), and turns an Exception raised while stacking into "Unable to
validate the plugin requirements" without the reason.  A SystemExit passes all of them: the
interpreter prints its message alone on stderr and exits 1.  So a refusal is a SystemExit
that keeps its one-line message (and the format error behind it, for library callers, who
catch it by class: it is not an Exception).  Only the reasons a run cannot go on are
refusals; an unreadable page stays Volatility's InvalidAddressException, which plugins catch.
"""

from typing import Optional


class Refusal(SystemExit):
    """One line naming what is wrong (and where, for the input: the file offset); exit status 1."""

    def __init__(self, message: str, error: Optional[Exception] = None) -> None:
        super().__init__(message)
        self.message = message
        self.error = error  # the SwsuspFormatError, PagingError ... behind it, if any

    def __str__(self) -> str:
        return self.message
