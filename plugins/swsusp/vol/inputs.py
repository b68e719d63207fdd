"""The `-f` input of header-level plugins, opened without stacking (no full-memory scans)."""

import os
import stat
import urllib.parse
import urllib.request
from typing import List, Optional

from volatility3.framework import interfaces
from volatility3.framework.configuration import requirements

from volatility3.plugins.swsusp.format.errors import SwsuspFormatError
from volatility3.plugins.swsusp.format.filefrag import read_filefrag
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.vol import options
from volatility3.plugins.swsusp.vol.layer import SINGLE_LOCATION, SwsuspFormatException
from volatility3.plugins.swsusp.vol.refusal import Refusal

__all__ = ["SINGLE_LOCATION", "input_path", "open_configured", "open_input", "placement_requirements"]


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


def open_configured(context, config) -> SwsuspImage:
    """Open the -f image where a plugin's --resume-offset / --partition / --swapfile-extents
    put it, else where -e swsusp.resume_offset / partition / swapfile_extents do (as every
    other plugin reads them); a refusal says how the placement was given."""
    values, said = {}, []
    for name in ("resume_offset", "partition"):
        value = config.get(name, None)
        if value is not None:
            said.append(f"--{name.replace('_', '-')} {value}")
        else:
            value = options.integer(context, name)
            if value is not None:
                said.append(f"-e {options.NAMESPACE}.{name}={value}")
        values[name] = value
    extents = config.get("swapfile_extents", None) or options.text(context, "swapfile_extents")
    return open_input(context, values["resume_offset"], values["partition"], ", ".join(said), extents)


def placement_requirements() -> List[interfaces.configuration.RequirementInterface]:
    """--resume-offset, --partition and --swapfile-extents: where in -f the image is."""
    return [
        requirements.IntRequirement(
            name="resume_offset", optional=True,
            description="The kernel's resume_offset: 4 KiB block of the header in the partition "
                        "(found by scanning if not given)",
        ),
        requirements.IntRequirement(
            name="partition", optional=True,
            description="Partition number (1-based) of a whole-disk image to look in",
        ),
        requirements.StringRequirement(
            name="swapfile_extents", optional=True,
            description="A swap file copied out of its filesystem: a file holding `filefrag -v SWAPFILE` "
                        "(its extents place the image's blocks in the copy)",
        ),
    ]
