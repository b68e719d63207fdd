"""The options any plugin takes on a hibernation image or a RAM dump, as `-e swsusp.NAME=VALUE`,
declared once: name, type, default, help.

Volatility reads each `-e` value as JSON: `-e swsusp.swap=false`, `-e swsusp.resume_offset=34816`.
A word must be quoted for JSON (`-e 'swsusp.swap="no"'`); an unquoted one (`=no`) is refused by
Volatility's own command line before any plugin runs.  The readers accept the forms users type
(true/false, yes/no, on/off, 1/0, as JSON values or strings).  `OptionsCheck` refuses the run,
before anything is stacked, when a `swsusp.*` name is unknown (a typo, or a misspelt `swsusp.`)
or a value is unusable: one line each, exit status 1.  Volatility itself keeps any `-e` path
without a word, so a typo would otherwise run the analysis with settings the user did not
choose.  (Library callers reading an unusable value get the option's default.)
"""

import difflib
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from volatility3.framework import interfaces

from volatility3.plugins.swsusp.vol.refusal import Refusal

NAMESPACE = "swsusp"
Value = Union[bool, int, float, None]

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    name: str
    kind: type  # bool, int or float
    default: Value
    help: str

    def parse(self, raw: object) -> Value:
        """The option's value from what Volatility's -e parse gave; ValueError says why not."""
        if self.kind is bool:
            text = str(raw).strip().lower()
            if isinstance(raw, bool) or text in _TRUE + _FALSE:
                return raw if isinstance(raw, bool) else text in _TRUE
            raise ValueError(f"{raw!r} is not true or false (yes/no, on/off, 1/0)")
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


def integer(context, name: str) -> Optional[int]:
    value = get(context, name)
    return None if value is None else int(value)


def _known() -> str:
    return ", ".join(sorted(OPTIONS))


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.lower().replace("-", "_"), OPTIONS, n=1, cutoff=0.6)
    return f"did you mean {NAMESPACE}.{close[0]}? " if close else ""


def _misspelt_namespace(head: str) -> bool:
    """A first config-path word meant as `swsusp` (other words are Volatility's or plugins')."""
    low = head.lower()
    return head != NAMESPACE and (
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

    def __call__(self, context, config_path, requirement, progress_callback=None):
        lines = problems(context)
        if lines:
            raise Refusal("\n".join(lines))
