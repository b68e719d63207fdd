"""The per-user store of ISFs built from BTF: one file per kernel banner, written atomically.

The store is a folder under one of Volatility's symbol roots (by default its per-user
`~/.cache/volatility3/symbols`, which every `vol` run searches), so a stored ISF is found
by the next run like any other.  The file name holds the kernel release and a digest of
the whole banner: two builds of one release never share a file.  A file is written under
a temporary name that no ISF search matches, flushed, and renamed: a run that stops
half-way leaves nothing a later run would trust.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator

from . import hints

FOLDER = os.path.join("linux", "swsusp-btf")  # under a symbol root: Volatility searches it recursively
SUFFIX = ".json.gz"  # one of Volatility's ISF extensions; gzip level 1 writes 15 MB of JSON in 0.1 s
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
BTF_NAME = re.compile(r"-btf-[0-9a-f]{16}\.json(\.gz|\.xz|\.bz2)?$")  # RELEASE-btf-DIGEST.json.gz


def built_from_btf(location: str) -> bool:
    """Whether an ISF's name is the one this package gives an ISF built from BTF (in the
    store, and as linux.swsusp_symbols writes it)."""
    return bool(BTF_NAME.search(location))


class IsfStore:
    def __init__(self, symbol_root: str) -> None:
        self.symbol_root = symbol_root
        self.folder = os.path.join(symbol_root, FOLDER)

    def path_for(self, banner: bytes) -> str:
        release = _UNSAFE.sub("_", hints.release_of(banner))[:80]
        digest = hashlib.sha256(banner.rstrip(b"\0")).hexdigest()[:16]
        return os.path.join(self.folder, f"{release}-btf-{digest}{SUFFIX}")

    def holds(self, path: str) -> bool:
        """Whether `path` (a path or file:// location) is a file of this store."""
        if path.startswith("file:"):
            import urllib.parse
            import urllib.request

            path = urllib.request.url2pathname(urllib.parse.urlparse(path).path)
        folder = os.path.realpath(self.folder)
        return os.path.realpath(path).startswith(folder + os.sep)

    def find(self, banner: bytes) -> str | None:
        path = self.path_for(banner)
        return path if os.path.isfile(path) else None

    def files(self) -> Iterator[str]:
        if os.path.isdir(self.folder):
            for name in sorted(os.listdir(self.folder)):
                if name.endswith(SUFFIX):
                    yield os.path.join(self.folder, name)

    def write(self, isf: dict, banner: bytes) -> str:
        """Store `isf` as the ISF of `banner`'s kernel; returns its path."""
        return write_isf(isf, self.path_for(banner))


def write_isf(isf: dict, path: str) -> str:
    """Write `isf` as gzip-compressed JSON to `path`, atomically (temporary name + rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".partial", dir=folder)  # matches no ISF extension
    try:
        with os.fdopen(fd, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
                gz.write(json.dumps(isf, separators=(",", ":")).encode())
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
