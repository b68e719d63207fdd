"""Files a plugin writes into -o, through its `open()` (Volatility's FileHandlerInterface), so
that a file is committed under its final name only when it is complete.

Volatility's command-line handler writes to a temporary file in -o and renames it on close();
but it also closes (and so renames) when the `with` block fails, and IOBase's finaliser closes
a handler that was never closed: a write that fails half-way (a full disk) would leave a
truncated file under the final name.  `OutputFile` opens the handler up front (a -o that is a
file or cannot be written to is refused before any work), and on failure discards it: the
temporary file is removed and close() never commits.
"""

import errno
import os
from typing import Callable, List, Optional

from volatility3.framework import interfaces

from volatility3.plugins.swsusp.vol.refusal import Refusal


class OutputError(Refusal):
    """A file cannot be written into -o: a refusal of the run, one line saying why."""


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EFBIG:
        return "file too large for the file system or the file-size limit (ulimit -f)"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if exc.errno == errno.ENOTDIR:
        return "-o is not a folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "-o is not writable (permission denied)"
    if exc.errno == errno.EROFS:
        return "-o is on a read-only file system"
    if exc.errno == errno.ENOENT:
        return "-o does not exist or takes no new files"
    return exc.strerror or str(exc)


class OutputFile:
    """One file for -o, opened now, written and committed later (or discarded)."""

    def __init__(self, opener: Callable[[str], interfaces.plugins.FileHandlerInterface], name: str) -> None:
        self.name = name
        try:
            self._handle: Optional[interfaces.plugins.FileHandlerInterface] = opener(name)
        except OSError as exc:
            where = f" ({os.path.dirname(exc.filename)})" if isinstance(exc.filename, str) else ""
            raise OutputError(f"cannot write {name} into -o{where}: {_reason(exc)}") from None
        temp = getattr(self._handle, "_name", None)  # Volatility's CLI: a temporary file in -o
        self.folder: Optional[str] = os.path.dirname(os.path.abspath(temp)) if isinstance(temp, str) else None

    def commit(self, data: bytes) -> str:
        """Write `data` and commit the file; the name it got (Volatility adds -1, -2 ... rather
        than overwrite a file already there).  On any failure nothing is left under that name."""
        self.write(data)
        return self.close()

    def write(self, data: bytes) -> None:
        """Write a part of the file (discarded, and OutputError, if that fails)."""
        self._do(lambda handle: handle.write(data))

    def close(self) -> str:
        """Commit what was written; the name the file got."""
        handle = self._handle

        def close(handle) -> None:
            handle.flush()  # a full disk fails here, not in close() after the rename is decided
            handle.close()

        self._do(close)
        self._handle = None
        return getattr(handle, "preferred_filename", self.name)

    def _do(self, step: Callable[[interfaces.plugins.FileHandlerInterface], None]) -> None:
        if self._handle is None:
            raise OutputError(f"{self.name} was already written or discarded")
        try:
            step(self._handle)
        except OSError as exc:
            self.discard()
            where = f" ({self.folder})" if self.folder else ""
            raise OutputError(f"cannot write {self.name} into -o{where}: {_reason(exc)}; nothing was left "
                              "under that name") from None

    def discard(self) -> None:
        """Drop the file: close() will never commit it, its temporary file is removed."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        handle.close = lambda: None  # type: ignore[method-assign]  # IOBase.__del__ would commit it
        inner = getattr(handle, "_file", None)  # Volatility's CLIDirectFileHandler: a temporary file
        temp = getattr(handle, "_name", None)
        if inner is not None:
            try:
                inner.close()
            except OSError:
                pass  # its unflushed bytes go with it
        if isinstance(temp, str) and os.path.basename(temp).startswith("tmp_"):
            try:
                os.unlink(temp)
            except OSError:
                pass


class OutputFiles:
    """The files of one run, opened before any work: all committed, or none left behind."""

    def __init__(self, opener: Callable[[str], interfaces.plugins.FileHandlerInterface]) -> None:
        self._opener = opener
        self._pending: List[OutputFile] = []
        self.written: List[str] = []
        self.folder: Optional[str] = None  # where they go, when the file handler tells

    def open(self, name: str) -> OutputFile:
        try:
            out = OutputFile(self._opener, name)
        except OutputError:
            self.discard()
            raise
        self._pending.append(out)
        self.folder = self.folder or out.folder
        return out

    def commit(self, out: OutputFile, data: bytes) -> str:
        try:
            written = out.commit(data)
        except OutputError as exc:
            self.discard()
            done = f" (complete, already written: {', '.join(self.written)})" if self.written else ""
            raise OutputError(f"{exc}{done}") from None
        self._pending.remove(out)
        self.written.append(written)
        return written

    def discard(self) -> None:
        """Drop every file not committed yet (the run failed, or had nothing to write)."""
        for out in self._pending:
            out.discard()
        self._pending = []
