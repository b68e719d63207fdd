"""The options any plugin takes on a hibernation image or a RAM dump, as `-e swsusp.NAME=VALUE`,
declared once: name, type, default, help.

Volatility reads each `-e` value as JSON: `-e swsusp.swap=false`, `-e swsusp.resume_offset=34816`.
A word must be quoted for JSON (`-e 'swsusp.swap="no"'`); an unquoted one (`=no`) is refused by
Volatility's own command line before any plugin runs.  The readers accept the forms users type
(true/false, yes/no, on/off, 1/0, as JSON values or strings).  `OptionsCheck` says, once per
run and before anything is stacked, which `swsusp.*` names are unknown and which values are
unusable (one line each; an unusable value then counts as not given).
"""

import logging
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from volatility3.framework import interfaces

vollog = logging.getLogger(__name__)

NAMESPACE = "swsusp"
Value = Union[bool, int, float, str, None]

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    name: str
    kind: type  # bool, int, float or str (a file name)
    default: Value
    help: str

    def parse(self, raw: object) -> Value:
        """The option's value from what Volatility's -e parse gave; ValueError says why not."""
        if self.kind is bool:
            text = str(raw).strip().lower()
            if isinstance(raw, bool) or text in _TRUE + _FALSE:
                return raw if isinstance(raw, bool) else text in _TRUE
            raise ValueError(f"{raw!r} is not true or false (yes/no, on/off, 1/0)")
        if self.kind is str:
            if not isinstance(raw, str) or not raw.strip():
                raise ValueError(f"{raw!r} is not a file name (quote it: -e '{NAMESPACE}.{self.name}=\"/path\"')")
            return raw.strip()
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not a number")
        try:
            value = self.kind(str(raw).strip(), 0) if self.kind is int and isinstance(raw, str) else self.kind(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{raw!r} is not {'a whole number' if self.kind is int else 'a number'}") from None
        if value < 0:
            raise ValueError(f"{raw!r} is negative")
        return value


OPTIONS: Dict[str, Option] = {o.name: o for o in (
    Option("resume_offset", int, None, "the kernel's resume_offset: 4 KiB block of the swap header in its partition"),
    Option("partition", int, None, "partition number (1-based) of a disk image to look in"),
    Option("safe_tables", bool, False, "decode through page tables rebuilt in frames the image does not hold"),
    Option("swap", bool, True, "resolve swapped-out process pages from the input's swap area (false: RAM only)"),
    Option("swap_type", int, None, "which of the kernel's swap areas is the input's, when several could be"),
    Option("btf", bool, True, "build a missing ISF from the kernel's own BTF and kallsyms"),
    Option("btf_timeout", float, 900.0, "seconds building an ISF from BTF may take"),
    Option("swapfile_extents", str, None,
           "a swap file copied out of its filesystem: a file holding `filefrag -v SWAPFILE`, to place its pages"),
)}


def _raw(context, name: str) -> object:
    return context.config.get(interfaces.configuration.path_join(NAMESPACE, name), None)


def get(context, name: str) -> Value:
    """The value of option `name` (its default when not given or unusable)."""
    option = OPTIONS[name]
    raw = _raw(context, name)
    if raw is None:
        return option.default
    try:
        return option.parse(raw)
    except ValueError:
        return option.default  # OptionsCheck has said so


def flag(context, name: str) -> bool:
    return bool(get(context, name))


def text(context, name: str) -> Optional[str]:
    value = get(context, name)
    return None if value is None else str(value)


def integer(context, name: str) -> Optional[int]:
    value = get(context, name)
    return None if value is None else int(value)


def problems(context) -> List[str]:
    """One line per unknown `swsusp.*` name and per unusable value."""
    given = context.config.branch(NAMESPACE)
    lines = []
    for name in sorted(given.keys()):
        option = OPTIONS.get(name)
        if option is None:
            known = ", ".join(sorted(OPTIONS))
            lines.append(f"-e {NAMESPACE}.{name}: no such option (known: {known}); ignored")
            continue
        try:
            option.parse(given[name])
        except ValueError as exc:
            default = "not given" if option.default is None else f"{option.default}"
            lines.append(f"-e {NAMESPACE}.{name}: {exc}; using its default ({default})")
    return lines


class OptionsCheck(interfaces.automagic.AutomagicInterface):
    """Says which `-e swsusp.*` options are unknown or unusable, before the stackers use them."""

    priority = 1  # after the configuration is built, before everything that reads the options
    exclusion_list = ["mac", "windows"]

    def __call__(self, context, config_path, requirement, progress_callback=None):
        for line in problems(context):
            vollog.error(line)
