"""The `-f` input of header-level plugins, opened without stacking (no full-memory scans)."""

import os
import stat
import urllib.parse
import urllib.request
from typing import Optional

from volatility3.plugins.swsusp.format.errors import SwsuspFormatError
from volatility3.plugins.swsusp.format.filefrag import read_filefrag
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.vol.layer import SINGLE_LOCATION, SwsuspFormatException
from volatility3.plugins.swsusp.vol.refusal import Refusal

__all__ = ["SINGLE_LOCATION", "input_path", "open_input"]


def input_path(context) -> str:
    """The local file given with -f (a path or a file:// URL)."""
    location = context.config.get(SINGLE_LOCATION, None)
    if not location:
        raise Refusal("No input: give the image with -f FILE")
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme not in ("file", ""):
        raise Refusal(f"Only local files are supported, not {location}")
    path = urllib.request.url2pathname(parsed.path)
    if not is_file_or_block_device(path):  # a swap partition is read as its block device
        what = "No such file" if not os.path.exists(path) else "Not a regular file or block device"
        raise Refusal(f"{what}: {path}")
    return path


def is_file_or_block_device(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISBLK(mode)


def open_input(context, resume_offset: Optional[int] = None, partition: Optional[int] = None,
               placed: str = "", extents_file: Optional[str] = None) -> SwsuspImage:
    """Open the -f image; a format problem is the run's one refusal line, naming the file
    and `placed` (how resume_offset / partition were given)."""
    path = input_path(context)
    try:
        extents = read_filefrag(extents_file) if extents_file else None
        return SwsuspImage.open(path, resume_offset=resume_offset, partition=partition, scan="all", extents=extents)
    except SwsuspFormatError as exc:
        name = os.path.basename(path)
        raise SwsuspFormatException(f"{name} ({placed})" if placed else name, exc) from None
