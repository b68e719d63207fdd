"""The Volatility ISF (format 6.2.0) of the synthetic kernel, at link-time addresses.

One function per structure (:data:`STRUCTS`), the kernel symbols with their types
(:func:`symbol_types`) and :func:`isf_dict` assembling them.  Offsets and sizes come from
:mod:`samples.synth_layout`, the same tables the memory is written from.  To describe a new
structure, add its offsets to synth_layout, a function here and an entry in STRUCTS.
"""
from __future__ import annotations

import base64
import json
import lzma

from .synth_layout import (
    BANNER,
    CRED,
    CRED_SIZE,
    FILES_SIZE,
    KOFF,
    LINK_TEXT_VA,
    MM,
    MM_CONTEXT,
    MM_CONTEXT_SIZE,
    MM_SIZE,
    RB_NODE,
    RELEASE,
    SWAP_EXTENT,
    SWAP_EXTENT_SIZE,
    SWAP_INFO,
    SWAP_INFO_SIZE,
    TASK,
    TASK_SIZE,
    VMA,
    VMA_SIZE,
)


# ---------------------------------------------------------------------------------------------
# type references
def _bt(size, kind="int", signed=False):
    return {"size": size, "kind": kind, "signed": signed, "endian": "little"}


def base(n: str) -> dict:
    return {"kind": "base", "name": n}


def ptr(n: str, kind: str = "struct") -> dict:
    return {"kind": "pointer", "subtype": {"kind": kind, "name": n}}


def st(n: str) -> dict:
    return {"kind": "struct", "name": n}


def array(count: int, subtype: dict) -> dict:
    return {"kind": "array", "count": count, "subtype": subtype}


def struct_type(size: int, offsets: dict[str, int], types: dict[str, dict]) -> dict:
    """A struct of ``size`` bytes whose fields ``types`` sit at ``offsets``."""
    return {"kind": "struct", "size": size,
            "fields": {k: {"offset": offsets[k], "type": v} for k, v in types.items()}}


def base_types() -> dict:
    return {"char": _bt(1, "char", True), "unsigned char": _bt(1, "char"),
            "short int": _bt(2, signed=True), "short unsigned int": _bt(2),
            "int": _bt(4, signed=True), "unsigned int": _bt(4),
            "long int": _bt(8, signed=True), "long unsigned int": _bt(8),
            "long long int": _bt(8, signed=True), "long long unsigned int": _bt(8),
            "_Bool": _bt(1, "bool"), "pointer": _bt(8), "void": _bt(0, "void")}


# ---------------------------------------------------------------------------------------------
# structures
def list_head() -> dict:
    return struct_type(16, {"next": 0, "prev": 8},
                       {"next": ptr("list_head"), "prev": ptr("list_head")})


def task_struct() -> dict:
    lh = st("list_head")
    return struct_type(TASK_SIZE, TASK, {
        "__state": base("unsigned int"), "stack": {"kind": "pointer", "subtype": base("void")},
        "flags": base("unsigned int"), "tasks": lh, "mm": ptr("mm_struct"),
        "active_mm": ptr("mm_struct"), "exit_state": base("int"), "pid": base("int"),
        "tgid": base("int"), "real_parent": ptr("task_struct"), "parent": ptr("task_struct"),
        "children": lh, "sibling": lh, "group_leader": ptr("task_struct"),
        "start_time": base("long long unsigned int"),
        "start_boottime": base("long long unsigned int"),
        "real_cred": ptr("cred"), "cred": ptr("cred"),
        "comm": array(16, base("char")),
        "files": ptr("files_struct")})


def mm_struct() -> dict:
    fields = {"mmap": ptr("vm_area_struct"),
              "pgd": {"kind": "pointer", "subtype": base("long unsigned int")},
              "map_count": base("int"), "context": st("mm_context_t")}
    for k in ("start_code", "end_code", "start_data", "end_data", "start_brk", "brk",
              "start_stack"):
        fields[k] = base("long unsigned int")
    return struct_type(MM_SIZE, MM, fields)


def mm_context_t() -> dict:
    return struct_type(MM_CONTEXT_SIZE, MM_CONTEXT, {"vdso": {"kind": "pointer", "subtype": base("void")}})


def vm_area_struct() -> dict:
    ul = base("long unsigned int")
    return struct_type(VMA_SIZE, VMA, {
        "vm_start": ul, "vm_end": ul, "vm_next": ptr("vm_area_struct"), "vm_prev": ptr("vm_area_struct"),
        "vm_mm": ptr("mm_struct"), "vm_flags": ul, "vm_pgoff": ul, "vm_file": ptr("file")})


def file() -> dict:
    """struct file down to f_path: stock linux.proc.Maps follows vma->vm_file->f_path.dentry
    (the synthetic VMAs are anonymous: vm_file NULL)."""
    return struct_type(0x100, {"f_path": 0x10}, {"f_path": st("path")})


def path() -> dict:
    return struct_type(16, {"mnt": 0, "dentry": 8}, {"mnt": ptr("vfsmount"), "dentry": ptr("dentry")})


def rb_node() -> dict:
    return struct_type(24, RB_NODE, {"__rb_parent_color": base("long unsigned int"),
                                     "rb_right": ptr("rb_node"), "rb_left": ptr("rb_node")})


def rb_root() -> dict:
    return struct_type(8, {"rb_node": 0}, {"rb_node": ptr("rb_node")})


def swap_extent() -> dict:
    return struct_type(SWAP_EXTENT_SIZE, SWAP_EXTENT, {
        "rb_node": st("rb_node"), "start_page": base("long unsigned int"),
        "nr_pages": base("long unsigned int"), "start_block": base("long long unsigned int")})


def swap_info_struct() -> dict:
    return struct_type(SWAP_INFO_SIZE, SWAP_INFO, {
        "flags": base("long unsigned int"), "prio": base("short int"), "type": base("char"),
        "max": base("unsigned int"), "swap_map": ptr("unsigned char", "base"),
        "pages": base("unsigned int"), "inuse_pages": base("unsigned int"),
        "swap_extent_root": st("rb_root"), "bdev": ptr("block_device"), "swap_file": ptr("file"),
        "frontswap_map": ptr("long unsigned int", "base")})


def files_struct() -> dict:
    return struct_type(FILES_SIZE, {"count": 0}, {"count": base("int")})


def kuid_t() -> dict:
    return struct_type(4, {"val": 0}, {"val": base("unsigned int")})


def cred() -> dict:
    fields = {"usage": base("int")}
    for k in ("uid", "suid", "euid"):
        fields[k] = st("kuid_t")
    for k in ("gid", "sgid", "egid"):
        fields[k] = st("kgid_t")
    return struct_type(CRED_SIZE, CRED, fields)


STRUCTS = {"list_head": list_head, "task_struct": task_struct, "mm_struct": mm_struct,
           "files_struct": files_struct, "kuid_t": kuid_t, "kgid_t": kuid_t, "cred": cred,
           "mm_context_t": mm_context_t, "vm_area_struct": vm_area_struct, "rb_node": rb_node,
           "rb_root": rb_root, "swap_extent": swap_extent, "swap_info_struct": swap_info_struct,
           "file": file, "path": path}
# types Volatility's linux plugins name but the synthetic kernel does not fill: empty stubs
STUBS = ("hlist_head", "super_block", "qstr", "dentry",
         "fs_struct", "kobject", "inode", "idr", "address_space", "page", "vfsmount",
         "net", "socket", "sock", "inet_sock", "unix_sock", "block_device")


def user_types() -> dict:
    types = {name: make() for name, make in STRUCTS.items()}
    for stub in STUBS:
        types.setdefault(stub, {"kind": "struct", "size": 8, "fields": {}})
    return types


# ---------------------------------------------------------------------------------------------
# symbols
def symbol_types(banner: bytes) -> dict[str, dict]:
    """The type of each typed kernel symbol (the others are bare addresses)."""
    return {"init_task": st("task_struct"), "init_mm": st("mm_struct"),
            "init_files": st("files_struct"), "init_cred": st("cred"),
            "page_offset_base": base("long unsigned int"),
            "vmalloc_base": base("long unsigned int"), "vmemmap_base": base("long unsigned int"),
            "phys_base": base("long unsigned int"), "max_pfn": base("long unsigned int"),
            "__pgtable_l5_enabled": base("unsigned int"), "pgdir_shift": base("unsigned int"),
            "ptrs_per_p4d": base("unsigned int"),
            "linux_banner": array(len(banner), base("char")),
            "init_top_pgt": array(512, base("long unsigned int")),
            "nr_swapfiles": base("unsigned int"), "l1tf_mitigation": base("unsigned int"),
            "swap_info": array(32, ptr("swap_info_struct"))}


def symbols(banner: bytes, l1tf: bool = True) -> dict[str, dict]:
    """Every KOFF symbol at its link-time address, swapper_pg_dir = init_top_pgt, and the
    banner's bytes as constant_data (Volatility's banner check).  ``l1tf``: the kernel has the
    L1TF mitigation (l1tf_mitigation; with it the inverted swap PTE layout)."""
    types = symbol_types(banner)
    out: dict[str, dict] = {}
    for name, off in KOFF.items():
        if name == "l1tf_mitigation" and not l1tf:
            continue
        s: dict[str, object] = {"address": LINK_TEXT_VA + off}
        if name in types:
            s["type"] = types[name]
        out[name] = s
    out["swapper_pg_dir"] = dict(out["init_top_pgt"])
    out["linux_banner"]["constant_data"] = base64.b64encode(banner).decode()
    return out


def isf_dict(release: str = RELEASE, banner: bytes = BANNER, l1tf: bool = True) -> dict:
    """Volatility3 ISF (format 6.2.0) for the synthetic kernel (link-time addresses)."""
    return {
        "metadata": {"format": "6.2.0",
                     "producer": {"name": "swsusp-safepgt-synthkernel", "version": "1.0.0"},
                     "linux": {"symbols": [], "types": []}},
        "base_types": base_types(), "user_types": user_types(), "enums": {},
        "symbols": symbols(banner, l1tf),
    }


def isf_filename(release: str = RELEASE) -> str:
    return f"swsusp-synthetic-{release}.json.xz"


def write_isf(path: str, release: str = RELEASE, banner: bytes = BANNER, l1tf: bool = True) -> str:
    """Write the ISF as xz-compressed JSON (deterministic bytes)."""
    data = json.dumps(isf_dict(release, banner, l1tf), indent=1, sort_keys=True).encode()
    with open(path, "wb") as f:
        f.write(lzma.compress(data, preset=6))
    return path
