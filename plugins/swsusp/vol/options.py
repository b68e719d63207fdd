"""The options any plugin takes on a hibernation image or a RAM dump, as `-e swsusp.NAME=VALUE`,
declared once: name, type, default, help.

Volatility reads each `-e` value as JSON: `-e swsusp.swap=false`, `-e swsusp.resume_offset=34816`.
A word must be quoted for JSON (`-e 'swsusp.swap="no"'`); an unquoted one (`=no`) fails in
Volatility's own command line before any plugin runs: `ExtendHook` turns that traceback into
one line saying how to write it (exit status 1).  The readers accept the forms users type
(true/false, yes/no, on/off, 1/0, as JSON values or strings).  `OptionsCheck` refuses the run,
before anything is stacked, when a `swsusp.*` name is unknown (a typo, or a misspelt `swsusp.`)
or a value is unusable: one line each, exit status 1.  Volatility itself keeps any `-e` path
without a word, so a typo would otherwise run the analysis with settings the user did not
choose.  (Library callers reading an unusable value get the option's default.)
"""

import difflib
import json
import math
import os
import sys
import weakref
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from volatility3.framework import interfaces

from volatility3.plugins.swsusp.vol.refusal import Refusal

NAMESPACE = "swsusp"
RUN_NAMESPACE = "swsusp_run"  # config this package writes for one run (not options: never checked)
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
        if not math.isfinite(value):
            raise ValueError(f"{raw!r} is not a finite number")
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


def _known() -> str:
    return ", ".join(sorted(OPTIONS))


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.lower().replace("-", "_"), OPTIONS, n=1, cutoff=0.6)
    return f"did you mean {NAMESPACE}.{close[0]}? " if close else ""


def _misspelt_namespace(head: str) -> bool:
    """A first config-path word meant as `swsusp` (other words are Volatility's or plugins',
    or RUN_NAMESPACE: what this package's automagic writes for the run itself)."""
    low = head.lower()
    return head not in (NAMESPACE, RUN_NAMESPACE) and (
        low == NAMESPACE or low.startswith((NAMESPACE + "_", NAMESPACE + "-"))
        or bool(difflib.get_close_matches(low, [NAMESPACE], cutoff=0.75)))


def problems(context) -> List[str]:
    """One line per unknown `swsusp.*` name (or `-e` path meant as one) and per unusable value."""
    lines = []
    for key in sorted(context.config):
        head, _, name = key.partition(".")
        if head == NAMESPACE and not name:
            lines.append(f"-e {key}: give an option's name, -e {NAMESPACE}.NAME=VALUE (known: {_known()})")
        elif _misspelt_namespace(head):
            guess = name or head[len(NAMESPACE) + 1:]
            lines.append(f"-e {key}: not an option: options are -e {NAMESPACE}.NAME=VALUE; "
                         f"{_did_you_mean(guess)}(known: {_known()})")
    given = context.config.branch(NAMESPACE)
    for name in sorted(given.keys()):
        option = OPTIONS.get(name)
        if option is None:
            lines.append(f"-e {NAMESPACE}.{name}: no such option; {_did_you_mean(name)}(known: {_known()})")
            continue
        try:
            option.parse(given[name])
        except ValueError as exc:
            lines.append(f"-e {NAMESPACE}.{name}: {exc}")
    return lines


class OptionsCheck(interfaces.automagic.AutomagicInterface):
    """Refuses unknown or unusable `-e swsusp.*` options, before the stackers use them."""

    priority = 1  # after the configuration is built, before everything that reads the options
    exclusion_list = ["mac", "windows"]  # where no stacker of ours runs, the options mean nothing

    _checked: "weakref.WeakSet" = weakref.WeakSet()  # a context is checked once: its -e are there from the start

    def __call__(self, context, config_path, requirement, progress_callback=None):
        if context in self._checked:  # a second plugin on one context (library use) sees the first's layers
            return
        self._checked.add(context)
        lines = problems(context)
        if lines:
            raise Refusal("\n".join(lines))


class ExtendHook:
    """sys.excepthook while Volatility's command line runs: a `-e NAME=VALUE` whose VALUE is not
    JSON (Volatility's own parse, before any plugin code can catch it) is one line saying how
    to write it; every other exception goes to the hook that was there."""

    _CLI = os.path.join("volatility3", "cli", "__init__.py")

    def __init__(self, previous) -> None:
        self.previous = previous

    def __call__(self, exc_type, exc, tb) -> None:
        line = self.explain(exc, tb)
        if line is None:
            self.previous(exc_type, exc, tb)
        else:
            sys.stderr.write(line + "\n")

    @classmethod
    def explain(cls, exc, tb) -> Optional[str]:
        """The line for a failed `-e` parse, or None for any other exception."""
        if not isinstance(exc, ValueError):  # json.JSONDecodeError, or "Invalid extension"
            return None
        extension = None
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_filename.endswith(cls._CLI) and isinstance(frame.f_locals.get("extension"), str):
                extension = frame.f_locals["extension"]
            tb = tb.tb_next
        if extension is None:
            return None
        return explain_extension(extension)


def explain_extension(extension: str) -> str:
    """How to write `-e extension` so that Volatility's JSON parse takes it."""
    name, sep, value = extension.partition("=")
    if not sep:
        return f"-e {extension}: give NAME=VALUE (e.g. -e {NAMESPACE}.safe_tables=true)"
    try:
        json.loads(value)
    except ValueError:
        pass
    else:  # not the value's fault
        return f"-e {extension}: Volatility could not read this option"
    quoted = json.dumps(value.strip())
    short = name[len(NAMESPACE) + 1:] if name.startswith(NAMESPACE + ".") else None
    option = OPTIONS.get(short) if short else None
    if option is not None and option.kind is bool:
        word = quoted if value.strip().lower() in _TRUE + _FALSE else '"yes"'
        form = f"true or false as they are, or a word in JSON quotes: -e '{name}={word}'"
    elif option is not None and option.kind is str:
        example = quoted if value.strip() else '"/path/to/file"'
        form = f"a file name in JSON quotes: -e '{name}={example}'"
    elif option is not None:
        example = quoted if value.strip() else '"0x8800"'
        form = f"a number as it is (-e {name}=34816), or in JSON quotes: -e '{name}={example}'"
    else:
        form = f"true/false or a number as they are, a word in JSON quotes (-e '{name}={quoted}')"
    return f"-e {extension}: Volatility reads -e values as JSON: give {form}"


if not isinstance(sys.excepthook, ExtendHook):
    sys.excepthook = ExtendHook(sys.excepthook)
