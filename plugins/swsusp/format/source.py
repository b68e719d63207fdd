"""Byte sources the reader pulls from: a read-only file, bytes, or anything with this shape."""

import errno
import os
import stat
from typing import Iterator, Optional, Protocol, Tuple, Union

from .errors import NotAnImageError, SwsuspFormatError

Run = Tuple[int, int]  # [start, end) byte range


class Source(Protocol):
    """What the reader needs of its input: a size, reads (short at the end) and a search.
    A `thread_safe` attribute set true lets read-ahead workers read concurrently."""

    size: int

    def read(self, offset: int, length: int) -> bytes: ...

    def find(self, needle: bytes, start: int, end: int) -> int: ...


def data_runs(source, start: int, end: int) -> Iterator[Run]:
    """The parts of [start, end) that may hold data: a sparse file's holes (zeros the
    filesystem never stored) are left out, so scanning a 1 TiB sparse copy reads only its
    data.  Sources that cannot tell give the whole range."""
    runs = getattr(source, "data_runs", None)
    if runs is None:
        if start < end:
            yield start, end
        return
    yield from runs(start, end)


def check_offset(offset: int) -> None:
    """Offsets come from the image and from options: a negative one is refused here, at
    the source, whichever of them computed it (pread would raise a bare OSError)."""
    if offset < 0:
        raise SwsuspFormatError(f"read at negative file offset {offset} (a negative resume_offset or "
                                "partition offset?)")


class ChunkedFind:
    """`find` over `read`, a bounded chunk at a time (a scan never holds the whole input)."""

    FIND_CHUNK = 16 << 20
    size: int

    def read(self, offset: int, length: int) -> bytes:
        raise NotImplementedError

    def find(self, needle: bytes, start: int, end: int) -> int:
        pos = start
        while pos < end:
            stop = min(end, pos + self.FIND_CHUNK + len(needle) - 1)
            hit = self.read(pos, stop - pos).find(needle)
            if hit >= 0:
                return pos + hit
            pos += self.FIND_CHUNK
        return -1


def file_data_runs(path: str, end: int) -> Iterator[Run]:
    """A local file's data runs in [0, end) (FileSource.data_runs); the whole range when the
    file cannot be opened (the caller's own read then says why)."""
    try:
        source = FileSource(path)
    except (OSError, SwsuspFormatError):
        if end > 0:
            yield 0, end
        return
    try:
        yield from source.data_runs(0, end)
    finally:
        source.close()


class FileSource(ChunkedFind):
    """A file opened read-only (evidence is never written), read with pread.

    Not mmap: mapped pages count in the process's RSS, which would then grow with the image
    (a 4 GiB image read once showed ~1.8 GiB of peak RSS); pread leaves them to the page cache."""

    thread_safe = True  # pread has no shared file position: read-ahead workers may read too

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self.path = os.fspath(path)
        self._fd = os.open(self.path, os.O_RDONLY)
        st = os.fstat(self._fd)
        # a block device (a swap partition, read-only or not) has no st_size: its end is its size
        self.size = os.lseek(self._fd, 0, os.SEEK_END) if stat.S_ISBLK(st.st_mode) else st.st_size
        if self.size == 0:
            os.close(self._fd)
            self._fd = -1  # or __del__ closes it again (EBADF, or another file's descriptor)
            raise NotAnImageError(f"{self.path} is empty", 0)

    def read(self, offset: int, length: int) -> bytes:
        check_offset(offset)
        if offset >= self.size or length <= 0:
            return b""
        return os.pread(self._fd, min(length, self.size - offset), offset)

    def data_runs(self, start: int, end: int) -> Iterator[Run]:
        """[start, end) without the file's holes (SEEK_DATA/SEEK_HOLE where the OS and the
        filesystem support them; else the whole range)."""
        end = min(end, self.size)
        pos = max(0, start)
        while pos < end:
            data = self._seek(pos, getattr(os, "SEEK_DATA", None))
            if data is None:  # no support: everything may be data
                yield pos, end
                return
            if data < 0 or data >= end:  # only a hole is left
                return
            hole = self._seek(data, getattr(os, "SEEK_HOLE", None))
            stop = end if hole is None or hole < 0 else min(hole, end)
            if stop <= data:  # a filesystem that lies: do not loop
                yield data, end
                return
            yield data, stop
            pos = stop

    def _seek(self, offset: int, whence: Optional[int]) -> Optional[int]:
        """lseek with SEEK_DATA/SEEK_HOLE: the offset, -1 past the last data, None when
        unsupported.  Only the descriptor's position moves; reads use pread."""
        if whence is None:
            return None
        try:
            return os.lseek(self._fd, offset, whence)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                return -1
            return None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:  # a failed __init__ leaves no descriptor
            os.close(self._fd)


class BytesSource:
    """An in-memory image (tests, fuzzing)."""

    thread_safe = True

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self.size = len(self._data)

    def read(self, offset: int, length: int) -> bytes:
        check_offset(offset)  # a negative slice would read from the end
        return self._data[offset : offset + length]

    def find(self, needle: bytes, start: int, end: int) -> int:
        return self._data.find(needle, start, end)
