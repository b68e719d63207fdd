"""The rows of the no-symbols plugins, as plain values; the Volatility facts (symbol path,
store) come in.  `symbol_rows`: the "symbols" section of `linux.swsusp_info` (which ISF
serves the kernel, and if none, exactly what to do); `built_rows`: what
`linux.swsusp_symbols` found and built."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from . import coverage, hints
from .engine import Built

Row = tuple[str, str, int | None]  # (field, value, physical address or None)
BuiltRow = tuple[str, str, str, int | None]  # (section, field, value, physical address or None)


def choose(locations: Sequence[str], generated: Callable[[str], bool]) -> tuple[str | None, list[str]]:
    """The ISF to use among several that match one banner, and the others.  One not built
    from BTF (`generated`: by dwarf2json from the kernel's DWARF, the reference) comes before
    one built from BTF; among equals, the first by location.  Deterministic, whatever order
    Volatility's identifier cache lists them in."""
    ordered = sorted(dict.fromkeys(locations), key=lambda loc: (generated(loc), loc))
    return (ordered[0] if ordered else None), ordered[1:]


def symbol_rows(banners: Sequence[tuple[int, bytes]], isfs_for: Callable[[bytes], Sequence[str]],
                generated: Callable[[str], bool], btf: tuple[int, int] | None, btf_known: bool,
                store_folder: str, btf_enabled: bool) -> Iterator[Row]:
    """For every banner the ISF that matches it (or none), the ISF a plugin would use (that
    of the first banner with one, as the stacker looks: the kernel image first), the
    kernel's BTF and, when no ISF matches, the next step."""
    if not banners:
        yield "kernel banner", "not found: the kernel cannot be named, no ISF can be matched", None
        return
    used = None
    for address, banner in banners:  # the plugin's "kernel" rows show each banner at its address
        chosen, others = choose(isfs_for(banner), generated)
        if chosen is None:
            yield "ISF matching the banner", "none", address
            continue
        yield "ISF matching the banner", f"{chosen}{' (built from BTF)' if generated(chosen) else ''}", address
        for other in others:
            yield "  also matching (not used)", other, address
        used = used or chosen
    yield "ISF used by plugins", used or "none: no ISF on the symbol path matches a banner", None
    kernel = banners[0][1]
    if not btf_known:
        yield "BTF", "unknown (the image has no restore record to find the kernel image)", None
    elif btf:
        yield "BTF", f"present: {btf[1]} bytes", btf[0]
    else:
        yield "BTF", "not found in the kernel image (a kernel built without CONFIG_DEBUG_INFO_BTF)", None
    if used is not None:
        return
    if btf and btf_enabled:
        step = (f"none needed: any plugin that needs symbols builds the ISF from this BTF and kallsyms and stores "
                f"it in {store_folder}; or write it with linux.swsusp_symbols -o DIR")
        yield "next step", step, None
        return
    package, _vmlinux = hints.debug_package(kernel)
    if package:
        yield "debug package", package, None
    yield "next step", hints.next_step(kernel, btf_switched_off=bool(btf) and not btf_enabled), None


def built_rows(built: Built, read: str, written: str, existing: Sequence[str]) -> Iterator[BuiltRow]:
    """The kernel, what was `read`, where the BTF is, kallsyms, the KASLR shift, the paging,
    the ISF (`written` as that file, `existing` ISFs of the same banner on the symbol path),
    and how complete it is for each common plugin."""
    isf = built.isf
    yield "kernel", "banner", hints.short_banner(built.banner), built.banner_address
    yield "kernel", "release", hints.release_of(built.banner), None
    yield "input", "read", read, None
    if built.btf_address is not None:
        yield "BTF", "location (physical)", f"{built.btf_address:#x}", built.btf_address
        yield "BTF", "size", f"{built.btf_size} bytes", None
    yield "kallsyms", "symbols", str(built.kallsyms_count) if built.kallsyms_count is not None else "unknown", None
    yield "KASLR", "virtual shift", f"{built.kaslr_shift:#x}" if built.kaslr_shift is not None else "unknown", None
    if built.paging_levels:
        yield "paging", "levels", str(built.paging_levels), None
    if built.paging_root is not None:
        yield "paging", "top-level table (physical)", f"{built.paging_root:#x}", built.paging_root
    yield ("ISF", "user types / enums / symbols",
           f"{len(isf.get('user_types', {}))} / {len(isf.get('enums', {}))} / {len(isf.get('symbols', {}))}", None)
    yield "ISF", "built by", f"{built.library} in {built.seconds:.1f} s", None
    yield "ISF", "written", written, None
    for location in existing:
        yield "ISF", "already on the symbol path", location, None
    for plugin, what, state in coverage.plugin_coverage(isf):
        yield plugin, what, state, None
