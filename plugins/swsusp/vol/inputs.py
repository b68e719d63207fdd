"""The `-f` input of header-level plugins, opened without stacking (no full-memory scans)."""

import os
import urllib.parse
import urllib.request
from typing import Optional

from volatility3.framework import exceptions

from volatility3.plugins.swsusp.format.errors import SwsuspFormatError
from volatility3.plugins.swsusp.format.filefrag import read_filefrag
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.vol.layer import SwsuspFormatException

SINGLE_LOCATION = "automagic.LayerStacker.single_location"


def input_path(context) -> str:
    """The local file given with -f (a path or a file:// URL)."""
    location = context.config.get(SINGLE_LOCATION, None)
    if not location:
        raise exceptions.LayerException("hibernation image", "No input: give the image with -f FILE")
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme not in ("file", ""):
        raise exceptions.LayerException("hibernation image", f"Only local files are supported, not {location}")
    path = urllib.request.url2pathname(parsed.path)
    if not os.path.isfile(path):
        raise exceptions.LayerException("hibernation image", f"Not a file: {path}")
    return path


def open_input(context, resume_offset: Optional[int] = None, partition: Optional[int] = None,
               extents_file: Optional[str] = None) -> SwsuspImage:
    """Open the -f image; a format problem becomes one clean Volatility error line."""
    path = input_path(context)
    try:
        extents = read_filefrag(extents_file) if extents_file else None
        return SwsuspImage.open(path, resume_offset=resume_offset, partition=partition, scan="all", extents=extents)
    except SwsuspFormatError as exc:
        raise SwsuspFormatException(os.path.basename(path), exc) from None
