"""Byte sources the reader pulls from: a read-only file, or anything with read(offset, n)."""

import mmap
import os
from typing import Protocol


class Source(Protocol):
    size: int

    def read(self, offset: int, length: int) -> bytes: ...


class FileSource:
    """A file opened read-only and memory-mapped (evidence is never written)."""

    def __init__(self, path: str) -> None:
        self.path = os.fspath(path)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            self.size = os.fstat(fd).st_size
            if self.size == 0:
                raise ValueError(f"{self.path} is empty")
            self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)

    def read(self, offset: int, length: int) -> bytes:
        return self._map[offset : offset + length]

    def find(self, needle: bytes, start: int, end: int) -> int:
        return self._map.find(needle, start, end)

    def close(self) -> None:
        self._map.close()


class BytesSource:
    """An in-memory image (tests, fuzzing)."""

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self.size = len(self._data)

    def read(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]

    def find(self, needle: bytes, start: int, end: int) -> int:
        return self._data.find(needle, start, end)
