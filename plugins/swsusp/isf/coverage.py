"""Is an ISF enough for Volatility's Linux support and for the common plugins?

A structure is *complete* when the ISF defines it with a size and every member a plugin
reads (members of anonymous structs and unions count, as Volatility resolves them); a BTF
forward declaration is not complete.  A symbol a plugin reads as an object needs a type.
Members are listed as the 6.x kernels spell them; "a|b" accepts either spelling (a kernel
renamed or restructured it, and Volatility's extensions read both).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

# LinuxKernelIntermedSymbols sets a class on each of these: without one, no table loads
VOLATILITY_TYPES = ("file", "list_head", "hlist_head", "mm_struct", "super_block", "task_struct",
                    "vm_area_struct", "qstr", "dentry", "fs_struct", "files_struct", "kobject", "cred",
                    "inode", "idr", "address_space", "page", "vfsmount", "net", "socket", "sock",
                    "inet_sock", "unix_sock")
# what the kernel stackers read: the banner, init_task and its neighbours, the top page table
ESSENTIAL_SYMBOLS = ("linux_banner", "init_task", "init_files", "init_mm",
                     "init_top_pgt|init_level4_pgt|swapper_pg_dir")

Needs = tuple[Sequence[str], dict[str, Sequence[str]]]  # (typed symbols, {structure: members})

PLUGIN_NEEDS: dict[str, Needs] = {
    "linux.pslist": (("init_task",), {
        "task_struct": ("pid", "tgid", "comm", "tasks", "real_parent", "mm", "cred", "flags", "files"),
        "cred": ("uid", "gid", "euid"), "list_head": ("next", "prev")}),
    "linux.psaux": ((), {"mm_struct": ("arg_start", "arg_end")}),
    "linux.envars": ((), {"mm_struct": ("env_start", "env_end")}),
    "linux.lsmod": (("modules",), {"module": ("list", "name", "state", "core_layout|mem|module_core")}),
    "linux.proc.Maps": ((), {
        "mm_struct": ("mmap|mm_mt", "pgd"),
        "vm_area_struct": ("vm_start", "vm_end", "vm_flags", "vm_file", "vm_pgoff"),
        "file": ("f_path",), "path": ("dentry", "mnt"), "dentry": ("d_name", "d_parent"), "qstr": ("name",)}),
    "linux.sockstat": (("net_namespace_list", "socket_file_ops", "sockfs_dentry_operations"), {
        "files_struct": ("fdt",), "fdtable": ("fd", "max_fds"), "socket": ("sk", "state", "type"),
        "sock": ("__sk_common",), "sock_common": ("skc_family", "skc_state"), "net": ("list", "ns"),
        "inet_sock": ("inet_sport",), "unix_sock": ("addr", "path")}),
}


def _members(isf: dict, name: str, seen: set[str] | None = None) -> set[str] | None:
    """Member names of structure `name`, with those of its anonymous members; None when the
    ISF does not define it with a size (absent, or a forward declaration)."""
    types = isf.get("user_types", {})
    definition = types.get(name)
    if not isinstance(definition, dict) or not definition.get("size") or not definition.get("fields"):
        return None
    seen = (seen or set()) | {name}
    out: set[str] = set()
    for member, field in definition["fields"].items():
        out.add(member)
        inner = field.get("type", {}) if isinstance(field, dict) else {}
        if field.get("anonymous") and inner.get("name") not in seen:
            out |= _members(isf, inner.get("name", ""), seen) or set()
    return out


def _has_symbol(isf: dict, spelling: str, typed: bool = False) -> bool:
    symbols = isf.get("symbols", {})
    return any(name in symbols and (not typed or "type" in symbols[name]) for name in spelling.split("|"))


def missing_members(isf: dict, structure: str, members: Iterable[str]) -> list[str] | None:
    """Members of `structure` the ISF lacks ([] when complete), or None when the structure
    itself is missing or only declared."""
    have = _members(isf, structure)
    if have is None:
        return None
    return [m for m in members if not any(alt in have for alt in m.split("|"))]


def missing_essentials(isf: dict) -> list[str]:
    """What Volatility needs to load this ISF as a Linux kernel and stack on it."""
    lacking = [f"symbol {s}" for s in ESSENTIAL_SYMBOLS if not _has_symbol(isf, s)]
    lacking += [f"type {t}" for t in VOLATILITY_TYPES if t not in isf.get("user_types", {})]
    if missing_members(isf, "task_struct", ("pid", "comm", "tasks", "active_mm", "files")) != []:
        lacking.append("a complete task_struct")
    return lacking


def plugin_coverage(isf: dict) -> list[tuple[str, str, str]]:
    """(plugin, structure or symbol, "complete" or what is missing) for the common plugins."""
    rows = []
    for plugin, (symbols, structures) in PLUGIN_NEEDS.items():
        for symbol in symbols:
            state = "complete" if _has_symbol(isf, symbol, typed=True) else (
                "symbol without a type" if _has_symbol(isf, symbol) else "symbol missing")
            rows.append((plugin, f"symbol {symbol}", state))
        for structure, members in structures.items():
            lacking = missing_members(isf, structure, members)
            if lacking is None:
                state = "missing (not defined, or only declared)"
            elif lacking:
                state = "incomplete: no " + ", ".join(lacking)
            else:
                state = "complete"
            rows.append((plugin, f"struct {structure}", state))
    return rows
