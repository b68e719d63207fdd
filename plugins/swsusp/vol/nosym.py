"""No symbols at hand: when no ISF matches the kernel, build one from its BTF and kallsyms.

The Volatility side of `swsusp/isf/`: which plugins need a kernel symbol table (an
automagic that reads the requirement tree before the stackers run), the per-user store
under Volatility's cache symbol folder, registering a new ISF in the identifier cache of
this run (and its schema validation, which pakunoda already did, in Volatility's hash
cache), one deterministic choice when two ISFs match one banner, and the one build that
the stackers (vol/kernel.py, vol/ramdump.py) and linux.swsusp_symbols share: `build`.

Switch it off with `-e swsusp.btf=false`; `-e swsusp.btf_timeout=SECONDS` bounds a build.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import sqlite3
import urllib.parse
import urllib.request
from collections.abc import Callable

from volatility3.framework import constants, interfaces
from volatility3.framework.automagic import symbol_cache
from volatility3.framework.automagic.linux import LinuxSymbolFinder
from volatility3.framework.configuration import requirements
from volatility3.framework.layers import physical

from volatility3.plugins.swsusp.analysis.errors import AnalysisError
from volatility3.plugins.swsusp.isf import btf, core, engine, hints, report
from volatility3.plugins.swsusp.isf.store import IsfStore, built_from_btf
from volatility3.plugins.swsusp.memory import PAGE_SIZE
from volatility3.plugins.swsusp.paging.errors import PagingError
from volatility3.plugins.swsusp.vol import options
from volatility3.plugins.swsusp.vol.layer import SwsuspLayer, local_path
from volatility3.plugins.swsusp.vol.sparse import SparseFileLayer

vollog = logging.getLogger(__name__)

# set by KernelSymbolsNeeded for the stackers of this run (not a user option: its own namespace)
NEEDED = interfaces.configuration.path_join(options.RUN_NAMESPACE, "kernel_symbols_needed")
BANNER_CONFIG_KEY = LinuxSymbolFinder.banner_config_key  # "kernel_banner": a kernel layer's banner
SYMBOL_CLASS = "volatility3.framework.symbols.linux.LinuxKernelIntermedSymbols"


def btf_enabled(context) -> bool:
    """-e swsusp.btf=false: never build an ISF."""
    return options.flag(context, "btf")


def build_timeout(context) -> float:
    """-e swsusp.btf_timeout=SECONDS."""
    return float(options.get(context, "btf_timeout") or engine.DEFAULT_TIMEOUT)


def symbols_needed(context) -> bool:
    """Whether the running plugin needs a kernel symbol table (True when nobody said)."""
    return bool(context.config.get(NEEDED, True))


class KernelSymbolsNeeded(interfaces.automagic.AutomagicInterface):
    """Notes for the kernel stackers whether the plugin needs a kernel symbol table, so a
    missing ISF is built (or warned about) only for plugins that would use it: not for
    banners, yarascan, layerwriter or the swsusp plugins."""

    priority = 5  # after the identifier cache is refreshed (0), before the stackers (10)
    exclusion_list = ["mac", "windows"]

    def __call__(self, context, config_path, requirement, progress_callback=None):
        unsatisfied = self.find_requirements(context, config_path, requirement, requirements.SymbolTableRequirement)
        context.config[NEEDED] = bool(unsatisfied)


# -- the store and the identifier cache ----------------------------------------------------

def store() -> IsfStore:
    """The per-user store, under Volatility's cache symbol folder (on every run's symbol path)."""
    import volatility3.symbols

    root = os.path.abspath(os.path.join(constants.CACHE_PATH, "symbols"))
    if root not in (os.path.abspath(p) for p in volatility3.symbols.__path__):
        volatility3.symbols.__path__.append(root)  # --cache-path moved it: searched in this run
    return IsfStore(root)


def _linux_locations(cache) -> dict[bytes, list[str]]:
    """Identifier -> every location the identifier cache holds for it (the dictionary
    Volatility's stackers use keeps only one per identifier)."""
    rows: list[tuple[bytes, str]] = []
    database = getattr(cache, "_database", None)
    try:
        if database is None:
            raise sqlite3.Error("no database handle")
        rows = [(r[0], r[1]) for r in database.execute(
            "SELECT identifier, location FROM cache WHERE operating_system = 'linux'")]
    except sqlite3.Error:
        rows = [(cache.get_identifier(loc), loc) for loc in cache.get_local_locations()]
    out: dict[bytes, list[str]] = {}
    for identifier, location in rows:
        if identifier and location:
            out.setdefault(bytes(identifier), []).append(location)
    return out


def matching_isfs(banner: bytes, cache=None) -> list[str]:
    """Locations of every ISF whose identifier is the start of `banner` (as in memory)."""
    cache = cache or symbol_cache.load_cache_manager()
    out: list[str] = []
    for identifier, locations in _linux_locations(cache).items():
        if banner.startswith(identifier.rstrip(b"\0")):
            out.extend(locations)
    return out


def choose_isf(banner: bytes, cache=None, warn: bool = True) -> str | None:
    """The ISF to use for `banner` (report.choose), saying so when several different ones
    match (copies of one file, e.g. the checkout's and the installed package's, are one)."""
    locations = matching_isfs(banner, cache)
    chosen, others = report.choose(locations, built_from_btf)
    kept = {_content(chosen)} if chosen else set()
    different = []
    for other in others:
        if _content(other) not in kept:
            kept.add(_content(other))
            different.append(other)
    if different and warn:
        vollog.warning(f"{1 + len(different)} ISFs match kernel {hints.release_of(banner)}: using {chosen} "
                       f"(one built from DWARF before one built from BTF, then the first by name); "
                       f"not {', '.join(different)}")
    return chosen


def _content(location: str) -> str:
    """A local ISF file's digest (so copies count once); any other location is itself."""
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme != "file":
        return location
    try:
        with open(urllib.request.url2pathname(parsed.path), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return location


def _seed_validation(url: str, built: engine.Built, cache) -> bool:
    """Record pakunoda's schema check in Volatility's hash cache, so the first use does not
    validate again (~40 s): only when pakunoda checked it against the very schema
    Volatility would use."""
    from volatility3 import schemas

    fmt = built.isf.get("metadata", {}).get("format", "")
    schema_path = os.path.join(os.path.dirname(os.path.abspath(schemas.__file__)), f"schema-{fmt}.json")
    if not built.schema_checked or not os.path.exists(schema_path):
        return False
    with open(schema_path) as f:
        if json.load(f) != engine.library_schema():
            return False
    digest = cache.get_hash(url)
    if not digest:
        return False
    schemas.cached_validations.add(digest)
    schemas.record_cached_validations(schemas.cached_validations)
    return True


def register(path: str, built: engine.Built) -> str:
    """Make a stored ISF known to this run's identifier cache; returns its URL."""
    url = pathlib.Path(path).resolve().as_uri()
    cache = symbol_cache.load_cache_manager()
    cache.update()  # reads the new file once: its banner and its hash
    if not _seed_validation(url, built, cache):
        vollog.info("Volatility will validate the new ISF against its schema on first use")
    return url


# -- building --------------------------------------------------------------------------------

FORMATS_READ_BY_LIBRARY = ("Elf64Layer", "LimeLayer")  # over a file; a bare file is a raw dump
NO_RECORD = "an image without a restore record gives no page tables to find its kernel image and BTF"
NOT_A_FILE = ("an ISF is built from BTF only out of a hibernation image or a local raw, LiME or ELF dump: "
              "write one with `vol -f INPUT -o DIR layerwriter` and run on it")


class Unreadable(Exception):
    """The input gives the BTF reader nothing to read (NO_RECORD, NOT_A_FILE)."""


def progress_span(callback, start: float, span: float) -> Callable[[float, str], None]:
    def report_progress(pct: float, text: str) -> None:
        if callback is not None:
            callback(start + span * pct / 100.0, text)
    return report_progress


def dump_file(context, layer_name: str) -> str | None:
    """The local file pakunoda can read for this physical layer (raw, LiME, ELF), or None."""
    layer = context.layers[layer_name]
    if isinstance(layer, SparseFileLayer):  # the file's own bytes
        return dump_file(context, layer.dependencies[0])
    if isinstance(layer, physical.FileLayer):
        return local_path(context, layer_name)
    deps = getattr(layer, "dependencies", [])
    if (type(layer).__name__ in FORMATS_READ_BY_LIBRARY and len(deps) == 1
            and isinstance(context.layers[deps[0]], physical.FileLayer)):
        return local_path(context, deps[0])
    return None


def memory_of(context, layer_name: str):
    """What `build` reads for this physical layer: the hibernation image of a SwsuspLayer,
    the file of a raw, LiME or ELF dump, or None (an input the BTF reader cannot read)."""
    layer = context.layers[layer_name]
    if isinstance(layer, SwsuspLayer):
        return layer.image
    return dump_file(context, layer_name)


def export_kernel_core(image, f, progress_callback=None) -> tuple[int, tuple[int, int] | None]:
    """Write the kernel-image core of a hibernation image to `f`: (its size, the BTF header
    btf.py saw in it, if any)."""
    if progress_callback:
        progress_callback(0, "Finding the kernel image through the restore record's page tables")
    runs = core.kernel_image_runs(image)
    if progress_callback:
        progress_callback(2, f"Writing the kernel image ({sum(n for _, n in runs)} pages) for the BTF reader")
    found: list[tuple[int, int]] = []

    def look_for_btf(address: int, data: bytes) -> None:
        hit = btf.scan_chunk(address, data, lambda a, n: image.read(a, n, pad=True))
        if hit:
            found.append(hit)

    size = core.write_elf_core(f, runs, image.read, look_for_btf)
    return size, max(found, key=lambda hit: hit[1]) if found else None


def build(source, banner: bytes, progress_callback=None,
          timeout: float = engine.DEFAULT_TIMEOUT) -> tuple[engine.Built, str]:
    """The ISF of the kernel in `source` (memory_of): from a hibernation image, its kernel
    image's pages as an ELF core in an anonymous memory file; from a dump, the dump file
    itself.  `banner` names the kernel in messages (b"": the reader's).  (built, what was
    read).  Raises Unreadable, engine.NoSymbolsError, AnalysisError (the restore record's
    page tables do not reach the kernel) and OSError."""
    progress = progress_span(progress_callback, 5, 90)
    if isinstance(source, str):
        return engine.build_isf(source, banner=banner, timeout=timeout, progress=progress), source
    if source is None:
        raise Unreadable(NOT_A_FILE)
    if source.info.record is None:
        raise Unreadable(NO_RECORD)
    with core.scratch_file() as (f, path):
        size, btf_hint = export_kernel_core(source, f, progress_callback)
        built = engine.build_isf(path, banner=banner, timeout=timeout, btf_hint=btf_hint, progress=progress)
    return built, f"kernel image of the hibernation image ({size >> 20} MiB)"


def _built_line(built: engine.Built, path: str, source: str) -> str:
    return (f"No ISF matched kernel {hints.release_of(built.banner)}: built one from its BTF and kallsyms in "
            f"{source} ({built.seconds:.0f} s, {built.library}) and stored it as {path}; later runs use it "
            f"(-e swsusp.btf=false turns this off)")


def isf_for_kernel(context, source, banner: bytes, progress_callback=None) -> tuple[bytes, str] | None:
    """(identifier, URL) of an ISF for the kernel of `banner` in `source` (memory_of), built,
    stored and registered now; None (after one warning naming the kernel and the next step)
    when it cannot or should not be."""
    release = hints.release_of(banner)
    if not symbols_needed(context):
        vollog.info(f"No ISF matches kernel {release}; this plugin needs none")
        return None
    if not btf_enabled(context):
        vollog.warning(f"No ISF on the symbol path matches kernel {release}. "
                       f"{hints.next_step(banner, btf_switched_off=True)}")
        return None
    try:
        built, _read = build(source, banner, progress_callback, build_timeout(context))
        if progress_callback:
            progress_callback(96, "Storing the ISF built from BTF")
        path = store().write(built.isf, built.banner)
        url = register(path, built)
    except Unreadable as exc:
        vollog.warning(f"No ISF on the symbol path matches kernel {release}, and {exc}. {hints.next_step(banner)}")
        return None
    except engine.NoSymbolsError as exc:
        vollog.warning(exc.message)
        return None
    except (OSError, PagingError) as exc:
        vollog.warning(f"No ISF for kernel {release}: building one from BTF failed ({exc}). {hints.next_step(banner)}")
        return None
    vollog.warning(_built_line(built, path, source if isinstance(source, str) else "the hibernation image"))
    return built.banner, url


class KernelIsfChoice(interfaces.automagic.AutomagicInterface):
    """When several ISFs match the stacked kernel's banner, fill the kernel symbol table
    with the one `report.choose` picks, instead of whichever Volatility's identifier cache
    happens to list last."""

    priority = 39  # after the stackers (10), before LinuxSymbolFinder (40)
    exclusion_list = ["mac", "windows"]

    def __call__(self, context, config_path, requirement, progress_callback=None):
        found = self.find_requirements(context, config_path, requirement,
                                       (requirements.TranslationLayerRequirement, requirements.SymbolTableRequirement),
                                       shortcut=False)
        join, parent = interfaces.configuration.path_join, interfaces.configuration.parent_path
        for sub_path, req in found:
            if (not isinstance(req, requirements.SymbolTableRequirement)
                    or not req.unsatisfied(context, parent(sub_path))):
                continue
            layer_name = next((context.config.get(p) for p, r in found if isinstance(
                r, requirements.TranslationLayerRequirement) and parent(p) == parent(sub_path)), None)
            if not layer_name or layer_name not in context.layers:
                continue
            layer = context.layers[layer_name]
            banner = layer.config.get(BANNER_CONFIG_KEY, None)
            if not banner:
                continue
            banner_bytes = bytes(banner, "latin-1")
            if len(matching_isfs(banner_bytes)) < 2:
                continue  # the stock symbol finder picks the only one
            chosen = choose_isf(banner_bytes)
            context.config[join(parent(sub_path), req.name, "class")] = SYMBOL_CLASS
            context.config[join(parent(sub_path), req.name, "isf_url")] = chosen
            context.config[join(parent(sub_path), req.name, "symbol_mask")] = layer.address_mask
            req.construct(context, parent(sub_path))


def info_rows(context, image, banners, row):
    """swsusp_info's "symbols" section (report.symbol_rows) as the plugin's rows."""
    cache = symbol_cache.load_cache_manager()
    where, known = None, True
    try:
        runs = core.kernel_image_runs(image)
    except AnalysisError:  # no restore record, or its page tables do not reach the kernel
        known = False
    else:
        pages = ((first * PAGE_SIZE, image.read(first * PAGE_SIZE, count * PAGE_SIZE, pad=True))
                 for first, count in runs)
        where = btf.find_btf(pages, lambda a, n: image.read(a, n, pad=True))
    the_store = store()
    for field, value, address in report.symbol_rows(
            banners, lambda b: matching_isfs(b, cache), built_from_btf, where, known, the_store.folder,
            btf_enabled(context)):
        yield row("symbols", field, value, address)
