"""Byte sources the reader pulls from: a read-only file, bytes, or anything with this shape."""

import os
import stat
from typing import Protocol, Union

from .errors import NotAnImageError


class Source(Protocol):
    """What the reader needs of its input: a size, reads (short at the end) and a search.
    A `thread_safe` attribute set true lets read-ahead workers read concurrently."""

    size: int

    def read(self, offset: int, length: int) -> bytes: ...

    def find(self, needle: bytes, start: int, end: int) -> int: ...


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
        if offset >= self.size or length <= 0:
            return b""
        return os.pread(self._fd, min(length, self.size - offset), offset)

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
        return self._data[offset : offset + length]

    def find(self, needle: bytes, start: int, end: int) -> int:
        return self._data.find(needle, start, end)
