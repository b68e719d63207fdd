"""Where a kernel's BTF is, from its header alone (include/uapi/linux/btf.h).

`swsusp_info` reports whether the hibernated kernel carries BTF without building an ISF:
this reads the 24-byte (32 since 7.1) `struct btf_header` at each candidate and checks that
its sections are consistent and kernel-sized.  Parsing the types is the library's job
(engine.py); this is only the cheap "is it there, where, how big".
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

BTF_MAGIC_V1 = b"\x9f\xeb\x01\x00"  # magic 0xeB9F (little endian), version 1, flags 0
HEADER = struct.Struct("<HBBIIIII")  # magic, version, flags, hdr_len, type_off, type_len, str_off, str_len
HDR_LEN = (24, 32)  # without / with the 7.1 layout section
KERNEL_MIN, KERNEL_MAX = 256 << 10, 64 << 20  # vmlinux BTF: ~2-10 MiB; kernels refuse over 32 MiB of strings+types


def parse_header(data: bytes) -> tuple[int, int] | None:
    """(header length, total size) of a plausible vmlinux BTF header at data[0:], or None."""
    if len(data) < HEADER.size or not data.startswith(BTF_MAGIC_V1):
        return None
    _magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = HEADER.unpack_from(data)
    if hdr_len not in HDR_LEN or type_off != 0 or type_len == 0 or str_len == 0:
        return None
    if str_off < type_off + type_len:
        return None
    total = hdr_len + str_off + str_len
    if not KERNEL_MIN <= total <= KERNEL_MAX:
        return None
    return hdr_len, total


def find_btf(chunks: Iterable[tuple[int, bytes]], read: Callable[[int, int], bytes]) -> tuple[int, int] | None:
    """(physical address, size) of the largest vmlinux BTF header among `chunks` ((physical
    address, bytes) in any order and size); `read(address, length)` gives the bytes of a
    header cut by a chunk's end and the first string (a BTF string section starts with an
    empty string)."""
    best: tuple[int, int] | None = None
    for base, data in chunks:
        found = scan_chunk(base, data, read)
        if found and (best is None or found[1] > best[1]):
            best = found
    return best


def scan_chunk(base: int, data: bytes, read: Callable[[int, int], bytes]) -> tuple[int, int] | None:
    """The largest plausible vmlinux BTF header in `data` (at physical `base`)."""
    best: tuple[int, int] | None = None
    at = data.find(BTF_MAGIC_V1)
    while at >= 0:
        if at % 4 == 0:
            address = base + at
            head = bytes(data[at:at + HEADER.size])
            if len(head) < HEADER.size:
                head = read(address, HEADER.size)
            found = parse_header(head)
            if found and (best is None or found[1] > best[1]):
                hdr_len, total = found
                str_off = HEADER.unpack_from(head)[6]
                if read(address + hdr_len + str_off, 1) == b"\0":
                    best = (address, total)
        at = data.find(BTF_MAGIC_V1, at + 1)
    return best
