"""The boot kernel's facts (analysis/boot_facts.py) read from a RAM dump of the boot kernel.

linux.swsusp_resume replays the kernel's resume checks offline; the side of the kernel that
tried to resume comes from a dump of that kernel (raw, LiME, ELF core: whatever Volatility's
stackers and this package's stack).  With a kernel layer and a symbol table (an ISF on the
symbol path, or one vol/nosym.py builds from the dump's BTF and kallsyms) every fact is read
from the kernel's own variables; each one on its own, so a missing symbol or an unreadable
page leaves only that fact unknown.  Without a kernel layer, a bounded scan of the physical
memory still finds the banner and the command line (linux_banner, the printk ring and the
command line's NUL-terminated copies).
"""
from __future__ import annotations

import logging
import os
import re
import struct
import sys
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import List, Optional, Tuple

from volatility3 import framework
from volatility3.framework import constants, exceptions, interfaces
from volatility3.framework.automagic import stacker, symbol_cache
from volatility3.framework.layers import intel, physical, scanners
from volatility3.framework.symbols import linux as linux_symbols

# LinuxKernelIntermedSymbols needs extensions.network, which only a plugin's import loads: a
# library caller that loaded no plugin would see every Linux stacker fail (2.28.2)
from volatility3.framework.symbols.linux.extensions import network as _network  # noqa: F401

from volatility3.plugins.swsusp.analysis.boot_facts import BootFacts, E820Entry, Fact, ram_pfn_ranges
from volatility3.plugins.swsusp.format.info import MAGIC_V1, MAGIC_V2, MAGIC_V3, MAGIC_V4
from volatility3.plugins.swsusp.isf.store import built_from_btf
from volatility3.plugins.swsusp.vol import nosym
from volatility3.plugins.swsusp.vol import ramdump as _ramdump_stacker  # noqa: F401  (registers its stacker)
from volatility3.plugins.swsusp.vol.layer import EvidencePhysicalLayer
from volatility3.plugins.swsusp.vol.refusal import Refusal

vollog = logging.getLogger(__name__)

RESTORE_MAGICS = (MAGIC_V1, MAGIC_V2, MAGIC_V3, MAGIC_V4)
MAGIC_CODE_BYTES = 1024  # of arch_hibernation_header_restore searched for the RESTORE_MAGIC immediate
STRING_LIMIT = 4096  # COMMAND_LINE_SIZE is 2048 on x86-64; a banner is < 512 bytes
MAX_CRYPTO_ALGS = 4096  # entries of crypto_alg_list walked at most
SCAN_LIMIT = 1 << 40  # bytes of physical memory the no-symbols scan reads at most
TEXT_HITS = 32  # "Linux version" texts looked at, at most
COPY_HITS = 64  # NUL-terminated copies of the command line looked at, at most
CODECS = ("lzo", "lz4")
SKIPPED_STACKERS = ("SwsuspIntelStacker",)
TEXT_FACTS = ("release", "banner", "cmdline")  # what the physical memory alone shows
N_ONLINE = 1  # enum node_states (include/linux/nodemask.h), when the ISF has no enumeration

BANNER = b"Linux version "
LOG_CMDLINES = (b"Command line: ", b"Kernel command line: ")  # setup_arch(), start_kernel()


# -- opening and stacking ----------------------------------------------------------------------

def _url_and_path(location: str) -> Tuple[str, str]:
    """(file:// URL, absolute path) of a path or a file:// URL (a path may hold "#" or "%")."""
    if location[:5].lower() == "file:":
        path = urllib.request.url2pathname(urllib.parse.urlparse(location).path)
    elif re.match(r"[A-Za-z][A-Za-z0-9+.-]+://", location):
        raise Refusal(f"{location}: a boot kernel dump must be a local file (a path or a file:// URL)")
    else:
        path = location
    path = os.path.abspath(path)
    return "file://" + urllib.request.pathname2url(path), path


def _check_readable(path: str) -> int:
    """The file's size; Refusal when it cannot be a dump at all."""
    if not os.path.exists(path):
        raise Refusal(f"{path}: no such file")
    if not os.path.isfile(path):
        raise Refusal(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            f.read(1)
            size = os.fstat(f.fileno()).st_size
    except OSError as exc:
        raise Refusal(f"{path}: cannot be read ({exc.strerror or exc})", exc) from None
    if size == 0:
        raise Refusal(f"{path}: empty file, not a memory dump")
    return size


def _stackers() -> list:
    """Every Linux stacker Volatility knows (the file formats', the stock Linux ones and this
    package's), in their order; not the kernel stacker of hibernation images (vol/kernel.py):
    an image is refused once recognised, its kernel is not the boot kernel."""
    framework.import_files(sys.modules["volatility3.framework.layers"], True)
    return [s for s in sorted(framework.class_subclasses(interfaces.automagic.StackerLayerInterface),
                              key=lambda s: s.stack_order)
            if "linux" not in getattr(s, "exclusion_list", []) and s.__name__ not in SKIPPED_STACKERS]


def _refresh_identifiers() -> None:
    """Make the ISFs on the symbol path known to the identifier cache (as the SymbolCacheMagic
    automagic does before a plugin's stackers run)."""
    try:
        symbol_cache.SqliteCache(os.path.join(constants.CACHE_PATH, constants.IDENTIFIERS_FILENAME)).update()
    except Exception as exc:  # noqa: BLE001  a broken cache only costs the ISF match; the BTF path remains
        vollog.debug(f"Could not update the identifier cache: {exc}")


def _stack(context, url: str, progress_callback) -> List[str]:
    join = interfaces.configuration.path_join
    name = context.layers.free_layer_name("BootDumpFile")
    context.config[join(name, "location")] = url
    context.add_layer(physical.FileLayer(context, name, name))
    _refresh_identifiers()
    context.config[nosym.NEEDED] = True  # a missing ISF is built from the dump's BTF (unless swsusp.btf=false)
    return stacker.LayerStacker.stack_layer(context, name, _stackers(), progress_callback)


def _kernel_layer(context, names: List[str]):
    for name in names:
        layer = context.layers[name]
        if isinstance(layer, intel.Intel) and layer.config.get(nosym.BANNER_CONFIG_KEY, None):
            return layer
    return None


def _isf_url(banner: bytes) -> Optional[str]:
    url = nosym.choose_isf(banner, warn=False)
    if url:
        return url
    try:
        return symbol_cache.load_cache_manager().get_identifier_dictionary(operating_system="linux").get(banner)
    except ValueError:  # no identifier cache
        return None


def isf_label(url: str) -> str:
    """How a source names the symbol table: "ISF <file name>" or "ISF built from BTF"."""
    if built_from_btf(url):
        return "ISF built from BTF"
    return f"ISF {os.path.basename(urllib.parse.urlparse(url).path) or url}"


def _symbol_table(context, url: str, address_mask: int) -> str:
    """The name of a table of `url` in the symbol space (the stacker's, or a new one)."""
    for name in context.symbol_space:
        table = context.symbol_space[name]
        if getattr(table, "config", {}).get("isf_url", None) == url:
            return name
    name = context.symbol_space.free_table_name("BootDumpKernel")
    config_path = interfaces.configuration.path_join("BootDump", name)
    table = linux_symbols.LinuxKernelIntermedSymbols(context, config_path, name=name, isf_url=url)
    table.config["symbol_mask"] = address_mask
    context.symbol_space.append(table)
    return name


# -- the facts, with symbols -----------------------------------------------------------------

READ_ERRORS = (exceptions.VolatilityException, ValueError, KeyError, AttributeError, TypeError, IndexError,
               OverflowError, struct.error)


class BootKernelReader:
    """The boot kernel's module; each fact read on its own (None when it cannot be)."""

    def __init__(self, context, module, label: str) -> None:
        self.context = context
        self.module = module
        self.layer = context.layers[module.layer_name]
        self.label = label

    def source(self, what: str) -> str:
        return f"boot dump: {what} ({self.label})"

    def fact(self, name: str, read: Callable[[], Optional[Fact]]) -> Optional[Fact]:
        try:
            return read()
        except READ_ERRORS as exc:
            vollog.debug(f"Boot dump: {name} not read: {exc.__class__.__name__}: {exc}")
            return None

    def has(self, symbol: str) -> bool:
        return bool(self.module.has_symbol(symbol))

    def need(self, symbol: str) -> None:
        if not self.has(symbol):
            raise exceptions.SymbolError(symbol, self.module.symbol_table_name, f"no symbol {symbol} in the ISF")

    def address(self, symbol: str) -> int:
        self.need(symbol)
        return self.module.get_absolute_symbol_address(symbol)

    def string(self, address: int, limit: int = STRING_LIMIT) -> str:
        """The NUL-terminated string at a kernel address (page by page: a string that ends
        before an unmapped page is read)."""
        out = b""
        while len(out) < limit:
            step = min(limit - len(out), 0x1000 - ((address + len(out)) & 0xFFF))
            chunk = self.layer.read(address + len(out), step)
            end = chunk.find(b"\0")
            if end >= 0:
                return (out + chunk[:end]).decode("latin-1")
            out += chunk
        raise ValueError(f"no NUL within {limit} bytes at {address:#x}")

    def unsigned(self, symbol: str, size: int) -> int:
        fmt = {4: "<I", 8: "<Q"}[size]
        return struct.unpack(fmt, self.layer.read(self.address(symbol), size))[0]

    def typed(self, type_name: str, address: int):
        """The object of an ISF type at a kernel address: an ISF built from BTF gives types,
        but most global variables come from kallsyms without one, so no symbol's type is used."""
        return self.module.object(object_type=type_name, offset=address, absolute=True)

    # the facts

    def release(self) -> Optional[Fact]:
        uts = self.typed("uts_namespace", self.address("init_uts_ns"))
        text = self.string(uts.name.release.vol.offset, 65)
        return Fact(text, self.source("symbol init_uts_ns.name.release")) if text else None

    def banner(self) -> Optional[Fact]:
        text = self.string(self.address("linux_banner"), 1024).rstrip("\n")
        return Fact(text, self.source("symbol linux_banner")) if text else None

    def cmdline(self) -> Optional[Fact]:
        return Fact(self.string(self.unsigned("saved_command_line", 8)), self.source("symbol saved_command_line"))

    def resume_device(self) -> Optional[Fact]:
        dev = self.unsigned("swsusp_resume_device", 4)
        return Fact(f"{dev >> 20}:{dev & 0xFFFFF}", self.source("symbol swsusp_resume_device"))

    def resume_offset(self) -> Optional[Fact]:
        return Fact(self.unsigned("swsusp_resume_block", 8), self.source("symbol swsusp_resume_block"))

    def e820(self, symbol: str) -> Tuple[E820Entry, ...]:
        """The entries of the struct e820_table a pointer variable points to."""
        table = self.typed("e820_table", self.unsigned(symbol, 8))
        count = int(table.nr_entries)
        if count > table.entries.vol.count:
            raise ValueError(f"{symbol}: nr_entries {count} > {table.entries.vol.count}")
        return tuple(E820Entry(int(e.addr), int(e.size), int(e.type)) for e in list(table.entries)[:count])

    def e820_firmware(self) -> Optional[Fact]:
        return Fact(self.e820("e820_table_firmware"), self.source("symbol e820_table_firmware"))

    def ram_pfns(self) -> Optional[Fact]:
        return Fact(ram_pfn_ranges(self.e820("e820_table")), self.source("E820_RAM entries of symbol e820_table"))

    def max_pfn(self) -> Optional[Fact]:
        return Fact(self.unsigned("max_pfn", 8), self.source("symbol max_pfn"))

    def hw_signature(self) -> Optional[Fact]:
        if not self.has("swsusp_hardware_signature"):
            vollog.debug("Boot dump: no swsusp_hardware_signature (a kernel before 5.17)")
            return None
        return Fact(self.unsigned("swsusp_hardware_signature", 4), self.source("symbol swsusp_hardware_signature"))

    def _online_nodes(self) -> Tuple[List[int], str]:
        """for_each_online_node(): the bits of node_states[N_ONLINE] (MAX_NUMNODES = the
        bits of a nodemask_t)."""
        size = self.module.get_type("nodemask_t").size
        if not self.has("node_states"):
            return list(range(8 * size)), "node_data"
        index = N_ONLINE
        try:
            index = self.module.get_enumeration("node_states").choices["N_ONLINE"]
        except READ_ERRORS:
            pass
        mask = int.from_bytes(self.layer.read(self.address("node_states") + index * size, size), "little")
        return [n for n in range(8 * size) if mask >> n & 1], "node_data, node_states"

    def num_physpages(self) -> Optional[Fact]:
        """get_num_physpages(): node_present_pages of every online node."""
        if self.has("node_data"):  # CONFIG_NUMA: struct pglist_data *node_data[MAX_NUMNODES]
            online, symbols = self._online_nodes()
            base, total = self.address("node_data"), 0
            for n in online:
                pointer = struct.unpack("<Q", self.layer.read(base + 8 * n, 8))[0]
                if pointer:
                    total += int(self.typed("pglist_data", pointer).node_present_pages)
            return Fact(total, self.source(f"node_present_pages of the online nodes (symbols {symbols})"))
        pgdat = self.typed("pglist_data", self.address("contig_page_data"))
        return Fact(int(pgdat.node_present_pages), self.source("symbol contig_page_data.node_present_pages"))

    def restore_magic(self) -> Optional[Fact]:
        code = self.layer.read(self.address("arch_hibernation_header_restore"), MAGIC_CODE_BYTES, pad=True)
        found = sorted((at, magic) for magic in RESTORE_MAGICS
                       if (at := code.find(struct.pack("<Q", magic))) >= 0)
        if not found:
            vollog.debug("Boot dump: no RESTORE_MAGIC in the code of arch_hibernation_header_restore")
            return None
        return Fact(found[0][1], self.source("RESTORE_MAGIC immediate in the code of arch_hibernation_header_restore"))

    def registered_compressors(self) -> Tuple[str, ...]:
        """Which of CODECS crypto_alg_list holds (struct crypto_alg .cra_list, .cra_name)."""
        head = self.typed("list_head", self.address("crypto_alg_list"))
        names = set()
        algs = head.to_list(self.module.symbol_table_name + constants.BANG + "crypto_alg", "cra_list")
        for n, alg in enumerate(algs):
            if n >= MAX_CRYPTO_ALGS:
                raise ValueError(f"crypto_alg_list longer than {MAX_CRYPTO_ALGS} entries")
            names.add(self.string(alg.cra_name.vol.offset, 128))
        return tuple(c for c in CODECS if c in names)

    def codecs(self) -> Optional[Fact]:
        if not self.has("hib_comp_algo"):
            return Fact(("lzo",), self.source(
                "no symbol hib_comp_algo: a kernel before 6.9, LZO built in (CONFIG_HIBERNATION selects it), "
                "no LZ4 images"))
        return Fact(self.registered_compressors(), self.source("crypto_alg_list"))

    def lockdown(self) -> Optional[Fact]:
        """The lockdown LSM's kernel_locked_down (enum lockdown_reason): at or above
        LOCKDOWN_HIBERNATION, hibernation_available() is false."""
        if not self.has("kernel_locked_down"):
            return None  # no lockdown LSM: nothing locks hibernation
        choices = self.module.get_enumeration("lockdown_reason").choices
        value = self.unsigned("kernel_locked_down", 4)
        level = ("confidentiality" if value >= choices["LOCKDOWN_CONFIDENTIALITY_MAX"] else
                 "integrity" if value >= choices["LOCKDOWN_HIBERNATION"] else "none")
        return Fact(level, self.source("symbol kernel_locked_down"))

    def facts(self) -> BootFacts:
        names = ("release", "banner", "cmdline", "resume_device", "resume_offset", "e820_firmware",
                 "num_physpages", "ram_pfns", "max_pfn", "hw_signature", "restore_magic", "codecs", "lockdown")
        return BootFacts(**{name: self.fact(name, getattr(self, name)) for name in names})


# -- the facts, without symbols --------------------------------------------------------------

def _printable(data: bytes) -> bytes:
    """The leading run of printable ASCII (a log record's text runs into what follows it)."""
    for i, b in enumerate(data):
        if not 0x20 <= b < 0x7F:
            return data[:i]
    return data


def _scan(context, layer, patterns: List[bytes], progress_callback):
    sections = [(layer.minimum_address, min(layer.maximum_address - layer.minimum_address + 1, SCAN_LIMIT))]
    scanner = (scanners.BytesScanner(patterns[0]) if len(patterns) == 1
               else scanners.MultiStringScanner(patterns))
    for hit in layer.scan(context, scanner, progress_callback, sections=sections):
        yield (hit, patterns[0]) if len(patterns) == 1 else hit


def _text_facts(context, layer, progress_callback) -> BootFacts:
    """Banner, release and command line from the physical memory alone."""
    banners: List[bytes] = []  # the printable text after each "Linux version "
    terminated: List[bytes] = []  # those that end in "\n\0", as linux_banner does
    logged: Optional[Tuple[bytes, bytes]] = None  # (record prefix, text)
    for offset, pattern in _scan(context, layer, [BANNER, *LOG_CMDLINES], progress_callback):
        data = layer.read(offset, STRING_LIMIT, pad=True)
        if pattern == BANNER and len(banners) < TEXT_HITS:
            text = _printable(data)
            if text[len(BANNER):len(BANNER) + 1].isdigit():  # a release, not a format string
                banners.append(text)
                if data[len(text):len(text) + 2] == b"\n\0":
                    terminated.append(text)
        elif pattern in LOG_CMDLINES and logged is None:
            text = _printable(data[len(pattern):])
            if text and b"%" not in text[:2]:  # a record, not the printk format string
                logged = (pattern, text)
        if len(banners) >= TEXT_HITS and logged is not None:
            break
    found = {}
    banner = _banner(banners, terminated)
    if banner is not None:
        source = "boot dump: linux_banner text (no symbols)"
        found["banner"] = Fact(banner.decode("latin-1"), source)
        found["release"] = Fact(banner[len(BANNER):].split(b" ", 1)[0].decode("latin-1"), source)
    if logged is not None:
        found["cmdline"] = _command_line(context, layer, logged[0], logged[1], progress_callback)
    return BootFacts(**found)


def _banner(texts: List[bytes], terminated: List[bytes]) -> Optional[bytes]:
    """linux_banner among the "Linux version" texts: a NUL-terminated one that the kernel
    log's record repeats (followed there by stale bytes of the printk ring); else the most
    common NUL-terminated one; else the first text."""
    confirmed = [t for t in terminated if any(o != t and o.startswith(t) for o in texts)]
    if confirmed:
        return Counter(confirmed).most_common(1)[0][0]
    if terminated:
        return Counter(terminated).most_common(1)[0][0]
    return texts[0] if texts else None


def _command_line(context, layer, prefix: bytes, logged: bytes, progress_callback) -> Fact:
    """The command line a kernel log record shows, cut where a NUL-terminated copy of it
    (saved_command_line, boot_command_line, the boot loader's) ends: the record's own text
    runs into stale bytes of the printk ring."""
    record = prefix.decode().rstrip(": ")
    copies: Counter = Counter()
    probe = logged[:64]
    for n, (offset, _pattern) in enumerate(_scan(context, layer, [probe], progress_callback)):
        if n >= COPY_HITS:
            break
        text, nul, _ = layer.read(offset, len(logged) + 1, pad=True).partition(b"\0")
        if nul and logged.startswith(text):
            copies[text] += 1
    if copies:
        text = max(copies, key=lambda t: (copies[t], len(t)))
        return Fact(text.decode("latin-1"),
                    f"boot dump: kernel log text \"{record}:\" cut by its NUL-terminated copies (no symbols)")
    return Fact(logged.decode("latin-1"),
                f"boot dump: kernel log text \"{record}:\" (no symbols; may end in stale log bytes)")


# -- the entry point -------------------------------------------------------------------------

def read_boot_dump(context: interfaces.context.ContextInterface, location: str,
                   progress_callback: constants.ProgressCallback = None) -> BootFacts:
    """The boot kernel's facts from a RAM dump of it (a path or a file:// URL).

    Raises Refusal when the file is unreadable, a hibernation image, or holds no Linux kernel
    at all.  The file is only read."""
    url, path = _url_and_path(location)
    size = _check_readable(path)
    try:
        names = _stack(context, url, progress_callback)
    except (exceptions.VolatilityException, OSError) as exc:
        raise Refusal(f"{path}: cannot be opened as memory ({exc})", exc) from None
    layers = [context.layers[name] for name in names]
    if any(isinstance(layer, EvidencePhysicalLayer) for layer in layers):
        raise Refusal(f"{path}: a hibernation image, not a RAM dump of the boot kernel")
    kernel = _kernel_layer(context, names)
    facts = _symbol_facts(context, kernel) if kernel is not None else None
    if facts is not None and all(getattr(facts, name) is not None for name in TEXT_FACTS):
        return facts
    if kernel is not None:
        physical_layer = context.layers[kernel.config["memory_layer"]]
    else:
        physical_layer = next((layer for layer in layers if not isinstance(layer, intel.Intel)), layers[-1])
    if facts is None:
        vollog.info(f"Boot dump {path}: no kernel symbols; reading the kernel's text from physical memory")
    text = _text_facts(context, physical_layer, progress_callback)
    if facts is not None:
        return facts.merge(text)  # the symbols' facts first; the text's where they have none
    if not text.known():
        raise Refusal(f"{path}: not a memory dump of a Linux kernel (no kernel page tables, no \"Linux version\" "
                      f"banner and no kernel command line in its {size} bytes)")
    return text


def kernel_reader(context, kernel) -> Optional[BootKernelReader]:
    """The reader of a stacked kernel layer's facts, with the ISF its banner matches; None
    when no ISF matches or it cannot be loaded."""
    banner = bytes(kernel.config[nosym.BANNER_CONFIG_KEY], "latin-1")
    url = _isf_url(banner)
    if url is None:
        vollog.info("Boot dump: the kernel layer's banner matches no ISF")
        return None
    try:
        table_name = _symbol_table(context, url, kernel.address_mask)
        module = context.module(table_name, kernel.name, offset=kernel.config.get("kernel_virtual_offset", 0) or 0)
    except READ_ERRORS + (OSError,) as exc:
        vollog.warning(f"Boot dump: cannot load the ISF {url}: {exc}")
        return None
    return BootKernelReader(context, module, isf_label(url))


def _symbol_facts(context, kernel) -> Optional[BootFacts]:
    reader = kernel_reader(context, kernel)
    return None if reader is None else reader.facts()


def kernel_layer(context):
    """The boot kernel's layer read_boot_dump stacked in `context` (the first one), or None."""
    return _kernel_layer(context, list(context.layers))


__all__ = ["BootKernelReader", "isf_label", "kernel_layer", "kernel_reader", "read_boot_dump"]
