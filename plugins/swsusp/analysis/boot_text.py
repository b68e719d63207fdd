"""The boot environment's facts from text a user copied from the running machine (`--boot-facts DIR`).

Where no RAM dump of the boot kernel (the one that tried to resume the image) exists, the
user copies what the resume checks compare into one folder, one file per source, each
recognised by its file name (case does not matter, a ".txt" suffix is allowed).  Run on the
machine whose resume is in question, booted as it was when it tried (same kernel, same
command line; the folder's name is free):

    mkdir facts && cd facts
    uname -a > uname
    cat /proc/cmdline > cmdline
    grep -r . /sys/firmware/memmap > memmap
    sudo cat /proc/iomem > iomem
    sudo dmesg > dmesg                # or: journalctl -k -b > dmesg
    cat /proc/zoneinfo > zoneinfo
    grep . /sys/power/resume /sys/power/resume_offset /sys/power/disk \\
        /sys/module/hibernate/parameters/* > power 2>/dev/null
    sudo cat /sys/firmware/acpi/tables/FACS > FACS
    cat /proc/crypto > crypto
    cp /boot/config-$(uname -r) config
    cat /sys/kernel/security/lockdown > lockdown

Any subset will do; a missing file leaves its facts unknown.  `grep -r . /sys/power
/sys/module/hibernate/parameters > power 2>/dev/null` is read as well (the list above skips
/sys/power/wakeup_count, whose read can wait for wakeup events).  `sudo cat ... > FACS`
rather than `sudo cp`: a copy keeps the table's mode 0400 owned by root, unreadable later.

What each file gives (every Fact.source names the file as "<folder>/<file>"):

- uname     release (3rd field of `uname -a`, or the one word of `uname -r`); banner (the
            `uname -a` line) when dmesg has no "Linux version" line.
- cmdline   cmdline (the kernel's saved_command_line).  resume=, resume_offset=, noresume
            are the check engine's to interpret; `kernel_param` and friends parse them as the
            kernel does.
- memmap    e820_firmware: /sys/firmware/memmap/N/{start,end,type} (end inclusive), the
            kernel's e820_table_firmware, ordered by N; or one "start end type" per line.
            Types are e820_type_to_string()'s strings; "Reserved" is read as type 2, and the
            source says it is ambiguous (kernels also write it for types they do not know);
            BIOS-e820 lines of dmesg with the same ranges settle the types.
- dmesg     e820_firmware from the "BIOS-e820: [mem A-B] type" lines, cmdline from "Kernel
            command line:" (or "Command line:"), release and banner from "Linux version";
            only the last boot of the log counts (the lines after its last "Linux version").
            dmesg and journalctl prefixes are allowed.
- zoneinfo  num_physpages = the sum of the zones' "present" (get_num_physpages() exactly);
            max_pfn = the largest start_pfn + spanned.
- iomem     ram_pfns from the top-level "System RAM" ranges; num_physpages from them only
            when nothing better is given (approximate).  Must be read as root.
- power     resume_device from /sys/power/resume ("MAJ:MIN"), resume_offset from
            /sys/power/resume_offset.
- FACS      hw_signature: the FACS hardware_signature (u32 at offset 8) when the command line
            has acpi_sleep=s4_hwsig (drivers/acpi/sleep.c, 5.17+), else 0.
- crypto    codecs: "lzo" / "lz4" among /proc/crypto's names (wins over config).
- config    codecs (=y) and codec_modules (=m): CONFIG_CRYPTO_LZO / CONFIG_CRYPTO_LZ4.
- lockdown  lockdown: the bracketed level of /sys/kernel/security/lockdown ("none",
            "integrity", "confidentiality"); integrity and above forbid hibernation (5.4+).

Derived when no file gives them: ram_pfns from the firmware map's RAM entries, num_physpages
from them (minus PFN 0, as setup_arch reserves it), max_pfn = the end of the last RAM range.

Each file is read up to 8 MiB (dmesg: its last 8 MiB, where the last boot is); undecodable
bytes are replaced.  Bad input raises `BootFactsError` with one line naming the file (and the
line); nothing else escapes.  Pure Python: no volatility3 here.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .boot_facts import (
    E820_ACPI,
    E820_NVS,
    E820_PMEM,
    E820_PRAM,
    E820_RAM,
    E820_RESERVED,
    E820_SOFT_RESERVED,
    E820_UNUSABLE,
    BootFacts,
    E820Entry,
    Fact,
    KernelRelease,
    present_pages,
    ram_pfn_ranges,
)
from .errors import AnalysisError

MAX_FILE_BYTES = 8 << 20
PAGE = 4096
U64 = 1 << 64

# file name -> what produces it (for the error that lists the expected files)
KNOWN_FILES: Dict[str, str] = {
    "uname": "uname -a",
    "cmdline": "cat /proc/cmdline",
    "memmap": "grep -r . /sys/firmware/memmap",
    "iomem": "sudo cat /proc/iomem",
    "dmesg": "sudo dmesg (or journalctl -k -b)",
    "zoneinfo": "cat /proc/zoneinfo",
    "power": "grep . /sys/power/resume /sys/power/resume_offset ...",
    "facs": "sudo cat /sys/firmware/acpi/tables/FACS",
    "crypto": "cat /proc/crypto",
    "config": "cp /boot/config-$(uname -r)",
    "lockdown": "cat /sys/kernel/security/lockdown",
}
_DISPLAY = {"facs": "FACS"}

CODECS = ("lzo", "lz4")


class BootFactsError(AnalysisError, ValueError):
    """A facts folder or file that cannot be read as asked; the message is one line naming it."""


# ---------------------------------------------------------------------------------------------
# kernel command line, parsed as init/main.c and kernel/params.c do


_SPACE = " \t\n\v\f\r"


def kernel_params(cmdline: str) -> List[Tuple[str, Optional[str]]]:
    """The (name, value) pairs of a command line as next_arg() splits it: quotes group spaces
    ("name=\"a b\"" or "\"name=a b\""), value None for a bare word; "--" ends the kernel's
    parameters (the rest is init's)."""
    out: List[Tuple[str, Optional[str]]] = []
    s = cmdline.lstrip(_SPACE)
    while s:
        quoted = s[0] == '"'
        if quoted:
            s = s[1:]
        in_quote = quoted
        equals = -1
        i = 0
        while i < len(s):
            c = s[i]
            if c in _SPACE and not in_quote:
                break
            if equals < 0 and c == "=":
                equals = i
            if c == '"':
                in_quote = not in_quote
            i += 1
        token = s[:i]
        if quoted and token.endswith('"'):
            token = token[:-1]
        if equals < 0:
            name, value = token, None
        else:
            name, value = token[:equals], token[equals + 1:]
            if value.startswith('"'):
                value = value[1:]
                if value.endswith('"'):
                    value = value[:-1]
        if value is None and name == "--":
            break
        out.append((name, value))
        s = s[i + 1:].lstrip(_SPACE)
    return out


def _same_name(a: str, b: str) -> bool:
    """parameq(): '-' and '_' are the same in parameter names."""
    return a.replace("-", "_") == b.replace("-", "_")


def kernel_param_values(cmdline: str, name: str) -> List[str]:
    """Every value given to `name=` in order (a __setup handler runs once for each)."""
    return [v for n, v in kernel_params(cmdline) if v is not None and _same_name(n, name)]


def kernel_param(cmdline: str, name: str) -> Optional[str]:
    """The value of `name=...` as a __setup handler that stores it leaves it: the last
    occurrence wins; quotes removed; "" for a bare `name` (a flag such as noresume); None
    when absent."""
    found = None
    for n, v in kernel_params(cmdline):
        if _same_name(n, name):
            found = "" if v is None else v
    return found


def kernel_flag(cmdline: str, name: str) -> bool:
    """Whether `name` (e.g. "noresume") is given, with or without a value."""
    return any(_same_name(n, name) for n, _ in kernel_params(cmdline))


def s4_hwsig_requested(cmdline: str) -> bool:
    """acpi_sleep_setup() (drivers/acpi/sleep.c): each acpi_sleep= value is a list split at
    commas; an item starting "s4_hwsig" asks for the FACS signature in the image header,
    "s4_nohwsig" undoes it; the last one wins."""
    state = False
    for value in kernel_param_values(cmdline, "acpi_sleep"):
        for item in re.split(r",[, \t]*", value):
            if item.startswith("s4_hwsig"):
                state = True
            elif item.startswith("s4_nohwsig"):
                state = False
    return state


# ---------------------------------------------------------------------------------------------
# e820 type strings

# e820_type_to_string() (arch/x86/kernel/e820.c): /sys/firmware/memmap/N/type and /proc/iomem
MEMMAP_TYPES: Dict[str, int] = {
    "system ram": E820_RAM,
    "acpi tables": E820_ACPI,
    "acpi non-volatile storage": E820_NVS,
    "unusable memory": E820_UNUSABLE,
    "persistent memory (legacy)": E820_PRAM,
    "persistent memory": E820_PMEM,
    "reserved": E820_RESERVED,  # ambiguous: older kernels' default for a type they do not know
    "soft reserved": E820_SOFT_RESERVED,
}
AMBIGUOUS_TYPES = ("reserved",)
UNKNOWN_TYPE = "unknown e820 type"  # newer kernels' default: the number is lost

# e820_print_type(): the "BIOS-e820:" lines of the boot log
DMESG_TYPES: Dict[str, int] = {
    "usable": E820_RAM,
    "reserved": E820_RESERVED,
    "soft reserved": E820_SOFT_RESERVED,
    "acpi data": E820_ACPI,
    "acpi nvs": E820_NVS,
    "unusable": E820_UNUSABLE,
}


def _err(name: str, lineno: Optional[int], message: str) -> BootFactsError:
    where = f"{name} line {lineno}" if lineno is not None else name
    return BootFactsError(f"{where}: {_clip(message)}")


def _clip(text: str, limit: int = 160) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def _lines(text: str) -> Iterable[Tuple[int, str]]:
    for lineno, line in enumerate(text.split("\n"), 1):
        yield lineno, line.rstrip("\r")


def _range_entry(name: str, lineno: int, start: int, end_incl: int, etype: int) -> E820Entry:
    if not (0 <= start <= end_incl < U64):
        raise _err(name, lineno, f"range {start:#x}-{end_incl:#x} is not a 64-bit range")
    return E820Entry(start, end_incl + 1 - start, etype)


# ---------------------------------------------------------------------------------------------
# one parser per file: text -> the facts it gives (name: what the sources call the file)


def parse_uname(text: str, name: str = "uname") -> BootFacts:
    """`uname -a` (release = 3rd field) or `uname -r` (one word)."""
    for lineno, line in _lines(text):
        words = line.split()
        if not words:
            continue
        if len(words) == 1:
            release, how = words[0], "uname -r"
        elif words[0] == "Linux" and len(words) >= 3:
            release, how = words[2], "uname -a"
        else:
            raise _err(name, lineno, f"expected the output of `uname -a` or `uname -r`, not {line!r}")
        if KernelRelease(release).version is None:
            raise _err(name, lineno, f"{release!r} is not a kernel release")
        facts = BootFacts(release=Fact(release, f"{name} ({how})"))
        if how == "uname -a":
            facts = replace(facts, banner=Fact(line.strip(), f"{name} (uname -a, not linux_banner)"))
        return facts
    raise _err(name, None, "empty: expected the output of `uname -a`")


def parse_cmdline(text: str, name: str = "cmdline") -> BootFacts:
    """/proc/cmdline: one line."""
    lines = [line for _, line in _lines(text) if line.strip()]
    if not lines:
        raise _err(name, None, "empty: expected the output of `cat /proc/cmdline`")
    if len(lines) > 1:
        raise _err(name, None, f"{len(lines)} lines: expected the one line of /proc/cmdline")
    return BootFacts(cmdline=Fact(lines[0].strip(), name))


@dataclass(frozen=True)
class _MapEntry:
    """One firmware map entry as text gives it: type None when the text does not say which."""

    addr: int
    size: int
    type: Optional[int]
    label: str  # the type string as written
    lineno: int

    @property
    def ambiguous(self) -> bool:
        return self.type is None or self.label.strip().lower() in AMBIGUOUS_TYPES


_SYS_MEMMAP = re.compile(r"^\s*(?:\S*/)?(\d+)/(start|end|type):(.*)$")
_MEMMAP_LINE = re.compile(r"^\s*(0x[0-9a-fA-F]+)\s*[-\s]\s*(0x[0-9a-fA-F]+)\s*:?\s+(\S.*?)\s*$")


def _int(word: str) -> int:
    word = word.strip()
    return int(word, 16) if word.lower().startswith("0x") else int(word, 10)


def _memmap_type(label: str) -> Optional[int]:
    key = label.strip().lower()
    if key in MEMMAP_TYPES:
        return MEMMAP_TYPES[key]
    if key == UNKNOWN_TYPE:
        return None
    raise KeyError(label)


def _memmap_entries(text: str, name: str) -> List[_MapEntry]:
    fields: Dict[int, Dict[str, Tuple[str, int]]] = {}
    plain: List[_MapEntry] = []
    for lineno, line in _lines(text):
        if not line.strip():
            continue
        m = _SYS_MEMMAP.match(line)
        if m:
            entry = fields.setdefault(int(m.group(1)), {})
            if m.group(2) in entry:
                raise _err(name, lineno, f"a second {m.group(2)} for entry {m.group(1)}")
            entry[m.group(2)] = (m.group(3), lineno)
            continue
        m = _MEMMAP_LINE.match(line)
        if m:
            try:
                etype = _memmap_type(m.group(3))
                e = _range_entry(name, lineno, _int(m.group(1)), _int(m.group(2)), 0)
            except (KeyError, ValueError) as exc:
                if isinstance(exc, BootFactsError):
                    raise
                raise _err(name, lineno, f"not a firmware map entry: {line!r}") from None
            plain.append(_MapEntry(e.addr, e.size, etype, m.group(3), lineno))
            continue
        raise _err(name, lineno, f"not a /sys/firmware/memmap line: {line!r}")
    if fields and plain:
        raise _err(name, plain[0].lineno, "mixes /sys/firmware/memmap/N/... lines and 'start end type' lines")
    out = list(plain)
    for n in sorted(fields):
        entry = fields[n]
        lineno = min(ln for _, ln in entry.values())
        missing = [k for k in ("start", "end", "type") if k not in entry]
        if missing:
            raise _err(name, lineno, f"entry {n} has no {' and no '.join(missing)}")
        label = entry["type"][0]
        try:
            start, end = _int(entry["start"][0]), _int(entry["end"][0])
        except ValueError:
            raise _err(name, entry["start"][1], f"entry {n}: start/end are not numbers") from None
        try:
            etype = _memmap_type(label)
        except KeyError:
            raise _err(name, entry["type"][1], f"entry {n}: unknown type {label!r}") from None
        e = _range_entry(name, lineno, start, end, 0)
        out.append(_MapEntry(e.addr, e.size, etype, label, lineno))
    if not out:
        raise _err(name, None, "no entries: expected the output of `grep -r . /sys/firmware/memmap`")
    return out


def _memmap_facts(entries: Sequence[_MapEntry], name: str) -> BootFacts:
    ambiguous = [e for e in entries if e.ambiguous]
    unknown = [e for e in entries if e.type is None]
    if unknown:
        ram = ram_pfn_ranges(tuple(E820Entry(e.addr, e.size, E820_RAM) for e in entries if e.type == E820_RAM))
        source = (f"{name} System RAM entries ({len(unknown)} entries of 'Unknown E820 type' hide their "
                  "type number: no firmware table from it)")
        return BootFacts(ram_pfns=Fact(ram, source), num_physpages=Fact(
            present_pages(ram), f"computed from the firmware map: {source}, less PFN 0"))
    table = tuple(E820Entry(e.addr, e.size, e.type) for e in entries if e.type is not None)
    source = name
    if ambiguous:
        source += (f" ({len(ambiguous)} 'Reserved' entries read as type 2; a kernel writes 'Reserved' "
                   "for a type it does not know too: ambiguous without the BIOS-e820 lines of dmesg)")
    return BootFacts(e820_firmware=Fact(table, source))


def parse_memmap(text: str, name: str = "memmap") -> BootFacts:
    """`grep -r . /sys/firmware/memmap` (or "start end type" lines): the firmware map."""
    return _memmap_facts(_memmap_entries(text, name), name)


_E820_LINE = re.compile(r"BIOS-e820: \[mem (0x[0-9a-fA-F]+)-(0x[0-9a-fA-F]+)\] ?(.*)$")
_BANNER = re.compile(r"(Linux version (\S+) \(.*)$")
_KCMD = re.compile(r"Kernel command line: ?(.*)$")
_CMD = re.compile(r"(?<![A-Za-z])Command line: ?(.*)$")


def _dmesg_type(label: str) -> Optional[int]:
    key = " ".join(label.split()).lower()
    if key in DMESG_TYPES:
        return DMESG_TYPES[key]
    m = re.fullmatch(r"(?:persistent \()?type (\d{1,10})\)?", key)
    if m and (key.startswith("persistent") == key.endswith(")")) and int(m.group(1)) < 1 << 32:
        return int(m.group(1))
    return None


@dataclass(frozen=True)
class _Dmesg:
    facts: BootFacts
    table: Optional[Tuple[E820Entry, ...]]
    notes: Tuple[str, ...]


def _parse_dmesg(text: str, name: str) -> _Dmesg:
    lines = list(_lines(text))
    boots = [i for i, (_, line) in enumerate(lines) if _BANNER.search(line)]
    first = boots[-1] if boots else 0
    notes: List[str] = []
    if len(boots) > 1:
        notes.append(f"{name}: {len(boots)} boots in the log; the last one (line {lines[first][0]}) is read")
    tables: List[List[E820Entry]] = []
    kcmd = cmd = None
    banner: Optional[Tuple[str, str]] = None
    for lineno, line in lines[first:]:
        m = _E820_LINE.search(line)
        if m:
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            etype = _dmesg_type(m.group(3))
            if etype is None:
                raise _err(name, lineno, f"unknown e820 type {m.group(3)!r} in {line.strip()!r}")
            e = _range_entry(name, lineno, start, end, etype)
            if not tables or (tables[-1] and e.addr < tables[-1][-1].end):
                tables.append([])
            tables[-1].append(e)
            continue
        if "BIOS-e820:" in line and "[mem" in line:
            raise _err(name, lineno, f"a BIOS-e820 line cut or garbled: {line.strip()!r}")
        m = _BANNER.search(line)
        if m and banner is None:
            banner = (m.group(2), m.group(1).rstrip())
            continue
        m = _KCMD.search(line)
        if m:
            kcmd = m.group(1).strip()
            continue
        m = _CMD.search(line)
        if m:
            cmd = m.group(1).strip()
    facts = BootFacts()
    table = None
    if tables:
        table = tuple(tables[-1])
        if len(tables) > 1:
            notes.append(f"{name}: {len(tables)} BIOS-e820 tables in the last boot; the last one is read")
        facts = replace(facts, e820_firmware=Fact(table, f"{name} BIOS-e820 lines"))
    if kcmd is not None:
        facts = replace(facts, cmdline=Fact(kcmd, f"{name} 'Kernel command line:'"))
    elif cmd is not None:
        facts = replace(facts, cmdline=Fact(cmd, f"{name} 'Command line:' (boot_command_line)"))
    if banner is not None:
        if KernelRelease(banner[0]).version is not None:
            facts = replace(facts, release=Fact(banner[0], f"{name} 'Linux version'"))
        facts = replace(facts, banner=Fact(banner[1], f"{name} 'Linux version' (linux_banner)"))
    if not facts.known():
        raise _err(name, None, "no BIOS-e820, 'Linux version' or 'Command line' line: expected the "
                               "output of `dmesg` or `journalctl -k -b`")
    return _Dmesg(facts, table, tuple(notes))


def parse_dmesg(text: str, name: str = "dmesg") -> BootFacts:
    """The kernel log of the boot (dmesg, journalctl -k, a serial console): the last boot's
    BIOS-e820 table, command line and banner."""
    return _parse_dmesg(text, name).facts


_ZONE = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)")
_ZFIELD = re.compile(r"^\s+(present|spanned)\s+(\d{1,20})\s*$")
_ZSTART = re.compile(r"^\s+start_pfn:\s+(\d{1,20})\s*$")


def parse_zoneinfo(text: str, name: str = "zoneinfo") -> BootFacts:
    """/proc/zoneinfo: num_physpages = sum of every zone's present pages; max_pfn = the largest
    zone end (start_pfn + spanned, populated zones)."""
    zones: Dict[Tuple[int, str], Dict[str, int]] = {}
    current: Optional[Dict[str, int]] = None
    for lineno, line in _lines(text):
        m = _ZONE.match(line)
        if m:
            key = (int(m.group(1)), m.group(2))
            if key in zones:
                raise _err(name, lineno, f"node {key[0]} zone {key[1]} a second time")
            current = zones[key] = {}
            continue
        m = _ZFIELD.match(line) or _ZSTART.match(line)
        if m and current is not None:
            field = m.group(1) if m.re is _ZFIELD else "start_pfn"
            if field in current:
                raise _err(name, lineno, f"a second {field} in one zone")
            current[field] = int(m.group(m.lastindex or 1))
    if not zones:
        raise _err(name, None, "no 'Node N, zone X' section: expected the output of `cat /proc/zoneinfo`")
    missing = [f"{z[1]}" for z, f in zones.items() if "present" not in f]
    if missing:
        raise _err(name, None, f"zone {missing[0]} has no 'present' line")
    total = sum(f["present"] for f in zones.values())
    facts = BootFacts(num_physpages=Fact(total, f"{name} (sum of the zones' present pages)"))
    ends = [f["start_pfn"] + f.get("spanned", 0) for f in zones.values() if "start_pfn" in f and f.get("spanned")]
    if ends:
        facts = replace(facts, max_pfn=Fact(max(ends), f"{name} (end of the last zone)"))
    return facts


_IOMEM = re.compile(r"^([0-9a-fA-F]{1,16})-([0-9a-fA-F]{1,16}) : (.*)$")


def parse_iomem(text: str, name: str = "iomem") -> BootFacts:
    """/proc/iomem as root: the top-level "System RAM" ranges as [start, end) PFN ranges."""
    ram: List[Tuple[int, int]] = []
    seen = 0
    for lineno, line in _lines(text):
        if not line.strip():
            continue
        indented = line[0] in " \t"
        m = _IOMEM.match(line.strip())
        if not m:
            continue  # not a resource line: ignored
        seen += 1
        start, end = int(m.group(1), 16), int(m.group(2), 16)
        if start == 0 and end == 0:
            raise _err(name, lineno, "addresses are all 0: /proc/iomem was read without root; "
                                     "read it with `sudo cat /proc/iomem > iomem`")
        if end < start:
            raise _err(name, lineno, f"range {start:#x}-{end:#x} ends before it starts")
        if not indented and m.group(3).strip() == "System RAM":
            first, stop = -(-start // PAGE), (end + 1) // PAGE
            if stop > first:
                ram.append((first, stop))
    if not seen:
        raise _err(name, None, "no 'start-end : name' line: expected the output of `sudo cat /proc/iomem`")
    if not ram:
        raise _err(name, None, "no top-level 'System RAM' range")
    return BootFacts(ram_pfns=Fact(tuple(ram), f"{name} (top-level System RAM)"))


_POWER = re.compile(r"^\s*([^:]*):(.*)$")


def parse_power(text: str, name: str = "power") -> BootFacts:
    """`grep . /sys/power/... /sys/module/hibernate/parameters/*`: resume device and offset."""
    facts = BootFacts()
    recognised = False
    for lineno, line in _lines(text):
        m = _POWER.match(line)
        if not m:
            continue
        path, value = m.group(1).strip(), m.group(2).strip()
        base = path.rsplit("/", 1)[-1]
        if base == "resume" and "/module/" not in path:
            if not re.fullmatch(r"\d{1,10}:\d{1,10}", value):
                raise _err(name, lineno, f"/sys/power/resume is {value!r}, not MAJOR:MINOR")
            facts = replace(facts, resume_device=Fact(value, f"{name} (/sys/power/resume)"))
        elif base == "resume_offset":
            if not re.fullmatch(r"\d{1,20}", value):
                raise _err(name, lineno, f"/sys/power/resume_offset is {value!r}, not a number")
            facts = replace(facts, resume_offset=Fact(int(value), f"{name} (/sys/power/resume_offset)"))
        elif base not in ("disk", "image_size", "state", "compressor", "reserved_size", "mem_sleep"):
            continue
        recognised = True
    if not recognised:
        raise _err(name, None, "no /sys/power/... line: expected the output of `grep . /sys/power/resume ...`")
    return facts


def power_compressor(text: str) -> Optional[str]:
    """hibernate.compressor (6.9+) from the power file: what the machine writes images with."""
    for _, line in _lines(text):
        m = _POWER.match(line)
        if m and m.group(1).strip().endswith("parameters/compressor"):
            return m.group(2).strip() or None
    return None


def parse_facs(data: bytes, cmdline: Optional[Fact[str]] = None, release: Optional[Fact[str]] = None,
               name: str = "FACS") -> Tuple[BootFacts, Optional[str]]:
    """The binary FACS table and what acpi_sleep_hibernate_setup() does with it:
    swsusp_hardware_signature = hardware_signature only with acpi_sleep=s4_hwsig (5.17+).
    Returns the facts and, when the signature cannot be decided, a note why."""
    value = facs_signature(data, name)
    facts, note = hw_signature(value, name, cmdline, release)
    return facts, note


def facs_signature(data: bytes, name: str = "FACS") -> int:
    """hardware_signature of an ACPI FACS table (signature "FACS", u32 length, u32 signature)."""
    if len(data) < 12:
        raise _err(name, None, f"{len(data)} bytes: an ACPI FACS table has at least 12 (64)")
    if data[:4] != b"FACS":
        raise _err(name, None, f"signature {data[:4]!r}, not b'FACS': not the ACPI FACS table")
    length, signature = struct.unpack_from("<II", data, 4)
    if length < 12:
        raise _err(name, None, f"table length {length}: too short for a hardware_signature")
    return int(signature)


def hw_signature(facs_value: Optional[int], facs_name: Optional[str], cmdline: Optional[Fact[str]],
                 release: Optional[Fact[str]]) -> Tuple[BootFacts, Optional[str]]:
    """swsusp_hardware_signature of the boot kernel from what is known (None: undecided)."""
    version = KernelRelease(release.value).version if release else None
    if version is not None and version < (5, 17):
        return BootFacts(hw_signature=Fact(0, (
            f"{release.source if release else ''}: kernels before 5.17 have no swsusp_hardware_signature"))), None
    if cmdline is None:
        if facs_value is None:
            return BootFacts(), None
        return BootFacts(), (f"{facs_name}: hardware_signature {facs_value:#x}, but no command line is known: "
                             "only acpi_sleep=s4_hwsig puts it in the image header (give cmdline)")
    if kernel_param(cmdline.value, "acpi") == "off":
        return BootFacts(hw_signature=Fact(0, f"{cmdline.source}: acpi=off (no FACS read)")), None
    if not s4_hwsig_requested(cmdline.value):
        why = f"{cmdline.source} has no acpi_sleep=s4_hwsig: swsusp_hardware_signature stays 0"
        if facs_value is not None:
            why += f" (the FACS hardware_signature {facs_value:#x} of {facs_name} is not used)"
        return BootFacts(hw_signature=Fact(0, why)), None
    if facs_value is None:
        return BootFacts(), (f"{cmdline.source} has acpi_sleep=s4_hwsig but no FACS file was given: "
                             "the hardware signature is unknown")
    return BootFacts(hw_signature=Fact(facs_value, (
        f"{facs_name} hardware_signature ({cmdline.source} has acpi_sleep=s4_hwsig)"))), None


_CRYPTO_NAME = re.compile(r"^name\s*:\s*(\S+)\s*$")


def parse_crypto(text: str, name: str = "crypto") -> BootFacts:
    """/proc/crypto: which of the compressors are registered."""
    names = set()
    for _, line in _lines(text):
        m = _CRYPTO_NAME.match(line)
        if m:
            names.add(m.group(1))
    if not names:
        raise _err(name, None, "no 'name : ...' line: expected the output of `cat /proc/crypto`")
    found = tuple(c for c in CODECS if c in names)
    return BootFacts(codecs=Fact(found, f"{name} (registered algorithms)"))


_CONFIG = re.compile(r"^CONFIG_CRYPTO_(LZO|LZ4)=(\S*)\s*$")


def parse_config(text: str, name: str = "config") -> BootFacts:
    """The kernel's .config: CONFIG_CRYPTO_LZO / CONFIG_CRYPTO_LZ4 =y (built in) or =m (module)."""
    state: Dict[str, str] = {}
    any_config = False
    for _, line in _lines(text):
        if line.startswith("CONFIG_") or line.startswith("# CONFIG_"):
            any_config = True
        m = _CONFIG.match(line)
        if m:
            state[m.group(1).lower()] = m.group(2)
    if not any_config:
        raise _err(name, None, "no CONFIG_ line: expected the kernel's config (/boot/config-$(uname -r))")
    built = tuple(c for c in CODECS if state.get(c) == "y")
    modules = tuple(c for c in CODECS if state.get(c) == "m")
    how = ", ".join(f"CONFIG_CRYPTO_{c.upper()}={state[c]}" for c in CODECS if c in state) or \
        "neither CONFIG_CRYPTO_LZO nor _LZ4"
    return BootFacts(codecs=Fact(built, f"{name} ({how})"),
                     codec_modules=Fact(modules, f"{name} ({how}: a module is found only if it can be loaded "
                                                 "when the resume runs)"))


_LOCKDOWN = re.compile(r"\[(none|integrity|confidentiality)\]")


def parse_lockdown(text: str, name: str = "lockdown") -> BootFacts:
    """/sys/kernel/security/lockdown: the current level is the bracketed one."""
    m = _LOCKDOWN.search(text)
    if not m:
        raise _err(name, None, "no [none], [integrity] or [confidentiality]: expected the output of "
                               "`cat /sys/kernel/security/lockdown`")
    return BootFacts(lockdown=Fact(m.group(1), f"{name} (/sys/kernel/security/lockdown)"))


# ---------------------------------------------------------------------------------------------
# the folder


def _canonical(filename: str) -> Optional[str]:
    key = filename.lower()
    if key.endswith(".txt"):
        key = key[:-4]
    return key if key in KNOWN_FILES else None


def _expected() -> str:
    return ", ".join(_DISPLAY.get(k, k) for k in KNOWN_FILES)


def _read(path: Path, name: str, tail: bool, notes: List[str]) -> bytes:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size > MAX_FILE_BYTES:
                if tail:
                    f.seek(size - MAX_FILE_BYTES)
                    data = f.read(MAX_FILE_BYTES)
                    data = data[data.find(b"\n") + 1:]
                    notes.append(f"{name}: {size} bytes; only the last 8 MiB are read")
                else:
                    f.seek(0)
                    data = f.read(MAX_FILE_BYTES)
                    notes.append(f"{name}: {size} bytes; only the first 8 MiB are read")
                return data
            f.seek(0)
            data = f.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:  # a file that grows (or lies about its size)
                notes.append(f"{name}: cut at 8 MiB")
                data = data[:MAX_FILE_BYTES]
            return data
    except OSError as exc:
        raise _err(name, None, f"cannot be read ({exc.strerror or exc})") from None


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").replace("\x00", "")


def _e820_from(memmap: Optional[List[_MapEntry]], mm_name: str, dmesg: Optional[_Dmesg], dm_name: str,
               notes: List[str]) -> BootFacts:
    """The firmware map from memmap and dmesg: memmap first; the BIOS-e820 lines settle its
    ambiguous types when they list the same ranges."""
    dm_fact = dmesg.facts.e820_firmware if dmesg else None
    if memmap is None:
        return BootFacts(e820_firmware=dm_fact)
    mm = _memmap_facts(memmap, mm_name)
    if dm_fact is None:
        return mm
    table = dm_fact.value
    same_ranges = [(e.addr, e.size) for e in memmap] == [(e.addr, e.size) for e in table]
    conflict = [e for e, d in zip(memmap, table) if not e.ambiguous and e.type != d.type]
    if same_ranges and not conflict:
        if any(e.ambiguous for e in memmap):
            return BootFacts(e820_firmware=Fact(table, f"{mm_name} with the types of {dm_fact.source}"))
        return BootFacts(e820_firmware=Fact(table, f"{mm_name} (the same as {dm_fact.source})"))
    notes.append(f"{mm_name} and {dm_fact.source} differ (another boot's log?): {mm_name} is taken")
    return mm


def read_boot_facts(folder: Union[str, Path]) -> Tuple[BootFacts, List[str]]:
    """The facts of a `--boot-facts` folder, and notes for the log (files ignored or cut,
    disagreements, what could not be decided)."""
    path = Path(folder)
    label = path.name or str(path)
    try:
        if not path.is_dir():
            what = "does not exist" if not path.exists() else "is not a directory"
            raise BootFactsError(f"boot facts folder {str(path)!r} {what}: expected a folder holding "
                                 f"some of the files {_expected()}")
        children = sorted(path.iterdir())
    except OSError as exc:
        raise BootFactsError(f"boot facts folder {str(path)!r} cannot be read ({exc.strerror or exc})") from None
    notes: List[str] = []
    files: Dict[str, Path] = {}
    for child in children:
        key = _canonical(child.name)
        if key is None:
            notes.append(f"{label}/{child.name}: not a known facts file, ignored")
            continue
        if key in files:
            raise BootFactsError(f"{label}: both {files[key].name} and {child.name} are the {_DISPLAY.get(key, key)} "
                                 "file; keep one")
        try:
            regular = child.is_file()
        except OSError:
            regular = False
        if not regular:
            notes.append(f"{label}/{child.name}: not a regular file, ignored")
            continue
        files[key] = child
    if not files:
        raise BootFactsError(f"boot facts folder {str(path)!r} holds none of the files {_expected()}")

    names = {k: f"{label}/{p.name}" for k, p in files.items()}
    texts: Dict[str, str] = {}
    raw_facs = b""
    for key, p in files.items():
        data = _read(p, names[key], tail=key == "dmesg", notes=notes)
        if key == "facs":
            raw_facs = data
        else:
            texts[key] = _decode(data)

    direct = BootFacts()
    if "uname" in texts:
        direct = direct.merge(parse_uname(texts["uname"], names["uname"]))
    if "cmdline" in texts:
        direct = direct.merge(parse_cmdline(texts["cmdline"], names["cmdline"]))
    dmesg = _parse_dmesg(texts["dmesg"], names["dmesg"]) if "dmesg" in texts else None
    memmap = _memmap_entries(texts["memmap"], names["memmap"]) if "memmap" in texts else None
    if dmesg is not None:
        notes.extend(dmesg.notes)
        if dmesg.facts.banner is not None:  # linux_banner itself beats the uname -a line
            direct = replace(direct, banner=dmesg.facts.banner)
        if direct.release and dmesg.facts.release and direct.release.value != dmesg.facts.release.value:
            notes.append(f"{direct.release.source} says {direct.release.value}, {dmesg.facts.release.source} "
                         f"says {dmesg.facts.release.value}: the log is of another kernel")
        direct = direct.merge(replace(dmesg.facts, e820_firmware=None))
    direct = direct.merge(_e820_from(memmap, names.get("memmap", ""), dmesg, names.get("dmesg", ""), notes))
    for key, parse in (("zoneinfo", parse_zoneinfo), ("power", parse_power), ("crypto", parse_crypto),
                       ("config", parse_config), ("lockdown", parse_lockdown)):
        if key in texts:
            direct = direct.merge(parse(texts[key], names[key]))
    if "power" in texts:
        compressor = power_compressor(texts["power"])
        if compressor:
            notes.append(f"{names['power']}: hibernate.compressor={compressor} (what this kernel writes images with)")
    iomem = parse_iomem(texts["iomem"], names["iomem"]) if "iomem" in texts else BootFacts()
    if iomem.ram_pfns is not None:  # the RAM the kernel kept (e820_table), over the firmware's
        direct = replace(direct, ram_pfns=iomem.ram_pfns)

    facs_value = facs_signature(raw_facs, names["facs"]) if "facs" in files else None
    sig, note = hw_signature(facs_value, names.get("facs"), direct.cmdline, direct.release)
    direct = direct.merge(sig)
    if note:
        notes.append(note)
    return derive(direct, iomem), notes


def derive(facts: BootFacts, iomem: Optional[BootFacts] = None) -> BootFacts:
    """ram_pfns, num_physpages and max_pfn computed from the firmware map (or, for
    num_physpages, from /proc/iomem's facts) when no file gives them directly."""
    iomem = iomem or BootFacts()
    e820 = facts.e820_firmware
    if facts.ram_pfns is None and e820 is not None:
        facts = replace(facts, ram_pfns=Fact(ram_pfn_ranges(e820.value),
                                             f"computed from the firmware map: {e820.source}"))
    if facts.num_physpages is None:
        if e820 is not None:
            facts = replace(facts, num_physpages=Fact(present_pages(ram_pfn_ranges(e820.value)), (
                f"computed from the firmware map: {e820.source} (whole pages of RAM entries, less PFN 0)")))
        elif iomem.ram_pfns is not None:
            facts = replace(facts, num_physpages=Fact(present_pages(iomem.ram_pfns.value), (
                f"approximate: from /proc/iomem ({iomem.ram_pfns.source}); memblock may differ")))
    if facts.max_pfn is None and facts.ram_pfns is not None and facts.ram_pfns.value:
        facts = replace(facts, max_pfn=Fact(max(end for _, end in facts.ram_pfns.value),
                                            f"end of the last RAM range ({facts.ram_pfns.source})"))
    return facts
