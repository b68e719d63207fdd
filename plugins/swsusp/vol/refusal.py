"""A refusal: the input or an option is at fault, not Volatility; the user sees one line.

Volatility's command line ends every LayerException with "A faulty layer implementation...
file a bug", every other VolatilityException with a fixed list of causes (none of which is
"the evidence is damaged"), and turns an Exception raised while stacking into "Unable to
validate the plugin requirements" without the reason.  A SystemExit passes all of them: the
interpreter prints its message alone on stderr and exits 1.  So a refusal is a SystemExit
that keeps its one-line message (and the format error behind it, for library callers, who
catch it by class: it is not an Exception).  Only the reasons a run cannot go on are
refusals; an unreadable page stays Volatility's InvalidAddressException, which plugins catch;
when a damaged one ends a stock plugin's run, `hook_command_line` prints its cause alone.
"""

import logging
import sys
import traceback
from typing import Optional

vollog = logging.getLogger(__name__)


class Refusal(SystemExit):
    """One line naming what is wrong (and where, for the input: the file offset); exit status 1."""

    def __init__(self, message: str, error: Optional[Exception] = None) -> None:
        super().__init__(message)
        self.message = message
        self.error = error  # the SwsuspFormatError, PagingError ... behind it, if any

    def __str__(self) -> str:
        return self.message


def refusal_in(excp: Optional[BaseException]) -> Optional[str]:
    """The `refusal` line an exception (or one it was raised from) carries, if any."""
    seen = set()
    while excp is not None and id(excp) not in seen:
        seen.add(id(excp))
        line = getattr(excp, "refusal", None)
        if isinstance(line, str):
            return line
        excp = excp.__cause__ or excp.__context__
    return None


def hook_command_line() -> None:
    """Let `vol` print a Volatility exception that carries a `refusal` line as that line alone.

    A stock plugin that meets a damaged page of the image and does not catch the invalid
    address ends the run; the command line would list "memory smear", "a bug in the plugin ...
    file a bug" as causes where the evidence says what it is.  Only exceptions carrying a
    refusal are handled here; every other one goes to Volatility's own printer unchanged.
    Installed when the plugins are loaded by `vol` (or volshell), never in library use."""
    command_line = getattr(sys.modules.get("volatility3.cli"), "CommandLine", None)
    original = getattr(command_line, "process_exceptions", None)
    if command_line is None or original is None or getattr(original, "swsusp_hook", False):
        return

    def process_exceptions(self, excp):
        line = refusal_in(excp)
        if line is None:
            return original(self, excp)
        vollog.debug("".join(traceback.TracebackException.from_exception(excp).format(chain=True)))
        sys.stdout.write("\n")  # end a row the renderer left open
        sys.stdout.flush()
        raise Refusal(line, excp)

    process_exceptions.swsusp_hook = True  # type: ignore[attr-defined]
    command_line.process_exceptions = process_exceptions
