"""A small but valid vmlinux-style BTF blob, written from include/uapi/linux/btf.h: for the
no-symbols error paths (BTF present but no kallsyms, damaged BTF) without a real kernel.

The blob describes a few kernel structures (task_struct, mm_struct, list_head ...) with
their real kind encodings; filler structures bring it to a kernel-like size (a BTF reader
treats a blob under 256 KiB as a BPF program's, not the kernel's)."""

import struct

BTF_MAGIC = 0xEB9F
KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT = 1, 2, 3, 4
HEADER = struct.Struct("<HBBIIIII")
KERNEL_SIZED = 300 << 10  # bytes: above the 256 KiB a kernel's BTF has at the least


class BtfWriter:
    def __init__(self) -> None:
        self.strings = bytearray(b"\0")
        self.offsets: dict[str, int] = {"": 0}
        self.types: list[bytes] = []  # type id = index + 1

    def name(self, text: str) -> int:
        if text not in self.offsets:
            self.offsets[text] = len(self.strings)
            self.strings += text.encode() + b"\0"
        return self.offsets[text]

    def _add(self, record: bytes) -> int:
        self.types.append(record)
        return len(self.types)

    @staticmethod
    def _info(kind: int, vlen: int = 0) -> int:
        return (kind << 24) | vlen

    def int_type(self, name: str, size: int, signed: bool = False) -> int:
        encoding = (1 if signed else 0) << 24 | size * 8  # BTF_INT_SIGNED, bits
        return self._add(struct.pack("<IIII", self.name(name), self._info(KIND_INT), size, encoding))

    def pointer(self, target: int) -> int:
        return self._add(struct.pack("<III", 0, self._info(KIND_PTR), target))

    def array(self, element: int, index: int, count: int) -> int:
        return self._add(struct.pack("<III", 0, self._info(KIND_ARRAY), 0) + struct.pack("<III", element, index, count))

    def struct(self, name: str, size: int, members: list[tuple[str, int, int]]) -> int:
        """members: (name, type id, byte offset)."""
        body = b"".join(struct.pack("<III", self.name(m), t, off * 8) for m, t, off in members)
        return self._add(struct.pack("<III", self.name(name), self._info(KIND_STRUCT, len(members)), size) + body)

    def blob(self) -> bytes:
        types = b"".join(self.types)
        header = HEADER.pack(BTF_MAGIC, 1, 0, HEADER.size, 0, len(types), len(types), len(self.strings))
        return header + types + bytes(self.strings)


def kernel_btf(min_size: int = KERNEL_SIZED) -> bytes:
    """A BTF blob with kernel structure names, at least `min_size` bytes."""
    w = BtfWriter()
    u32 = w.int_type("unsigned int", 4)
    s32 = w.int_type("int", 4, signed=True)
    u64 = w.int_type("long unsigned int", 8)
    char = w.int_type("char", 1, signed=True)
    lh = w.struct("list_head", 16, [])
    lh_ptr = w.pointer(lh)
    w.types[lh - 1] = struct.pack("<III", w.name("list_head"), w._info(KIND_STRUCT, 2), 16) + \
        struct.pack("<III", w.name("next"), lh_ptr, 0) + struct.pack("<III", w.name("prev"), lh_ptr, 64)
    comm = w.array(char, u32, 16)
    mm = w.struct("mm_struct", 64, [("pgd", u64, 0), ("map_count", s32, 8)])
    mm_ptr = w.pointer(mm)
    files = w.struct("files_struct", 64, [("count", s32, 0)])
    task = w.struct("task_struct", 0xA00, [("__state", u32, 0x18), ("tasks", lh, 0x4A0), ("mm", mm_ptr, 0x4F0),
                                             ("active_mm", mm_ptr, 0x4F8), ("pid", s32, 0x5C0), ("tgid", s32, 0x5C4),
                                             ("comm", comm, 0x758), ("files", w.pointer(files), 0x770)])
    w.pointer(task)
    for name in ("file", "inode", "dentry", "socket", "sock", "net", "cred", "super_block", "vm_area_struct"):
        w.struct(name, 64, [("f_count", u64, 0)])
    i = 0
    while len(w.blob()) < min_size:  # filler: structures a kernel of this size would have
        w.struct(f"swsusp_filler_struct_{i:05d}", 16, [("first", u64, 0), ("second", u64, 8)])
        i += 1
    return w.blob()


def damaged(blob: bytes) -> bytes:
    """The same blob with its type section overwritten half-way (the header still valid)."""
    out = bytearray(blob)
    start = HEADER.size + len(blob) // 4
    out[start:start + 4096] = b"\xff" * 4096
    return bytes(out)
