"""Page contents of the synthetic machines: text, markers, slab-like structs, x86 code, random
bytes, and the page holding ``restore_registers``.  Each is a function of (rng, pfn).
"""
from __future__ import annotations

import random
import struct

from .synth_layout import PAGE, PAGE_OFFSET_L4

_WORDS = ("the", "kernel", "page", "table", "swap", "image", "resume", "hibernate", "memory",
          "direct", "map", "entry", "frame", "virtual", "physical", "address", "process", "task",
          "file", "buffer", "cache", "inode", "dentry", "socket", "lorem", "ipsum", "dolor",
          "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod", "tempor",
          "systemd", "journal", "unit", "started", "stopped", "network", "interface", "eth0",
          "link", "up", "down")


def text_page(rng: random.Random, pfn: int) -> bytes:
    words = rng.choices(_WORDS, k=900)
    out = [f"[{pfn:#x}] "]
    i = 0
    while i < len(words):
        k = rng.randint(4, 14)
        out.append(" ".join(words[i:i + k]) + ".\n")
        i += k
    return "".join(out).encode()[:PAGE].ljust(PAGE, b" ")


def marker_page(rng: random.Random, pfn: int) -> bytes:
    tag = f"SYNTH-MARKER-{pfn:#x}\0".encode()
    body = bytearray()
    i = 0
    while len(body) < PAGE:
        body += tag + struct.pack("<QI", pfn, i) + bytes(rng.randrange(0, 24))
        i += 1
    return bytes(body[:PAGE])


def struct_page(rng: random.Random, pfn: int) -> bytes:
    """Looks like a slab of kernel objects: pointers, small ints, zeros."""
    vals = [pfn]
    for r in rng.choices((0, 1, 2, 3), weights=(35, 25, 10, 30), k=511):
        if r == 0:
            vals.append(PAGE_OFFSET_L4 + (rng.getrandbits(28) << 3))
        elif r == 1:
            vals.append(rng.getrandbits(12))
        elif r == 2:
            vals.append(0xFFFFFFFF81000000 + (rng.getrandbits(22) << 4))
        else:
            vals.append(0)
    return struct.pack("<512Q", *vals)


_OPS = [b"\x55", b"\x48\x89\xe5", b"\x41\x54", b"\x53", b"\x48\x83\xec\x10", b"\xe8\x10\x32\x00\x00",
        b"\x48\x8b\x05", b"\x0f\x1f\x44\x00\x00", b"\xc3", b"\xcc", b"\x31\xc0", b"\x5d",
        b"\x48\x85\xc0", b"\x74\x0c", b"\x75\x21", b"\x0f\x84", b"\x66\x90", b"\x8b\x47\x08",
        b"\x48\x8b\x7f\x10", b"\x89\xc6"]


def code_page(rng: random.Random, pfn: int) -> bytes:
    ops = rng.choices(_OPS, k=1500)
    out = bytearray()
    for i in range(0, 1500, 25):
        out += b"".join(ops[i:i + 25]) + rng.randbytes(4)
    return bytes(out[:PAGE]).ljust(PAGE, b"\xcc")


def random_page(rng: random.Random, pfn: int) -> bytes:
    return rng.randbytes(PAGE)


# restore_registers: movq %r9,%cr3; movq %cr4,%rcx; ... (recognisable x86 code), and
# core_restore_code at +0x120 (arch/x86/power/hibernate_asm_64.S)
RESTORE_REGISTERS_CODE = (b"\x41\x0f\x22\xd9" b"\x0f\x20\xe1" b"\x48\x89\xc8"
                          b"\x48\x81\xe1\x7f\xff\xff\xff" b"\x0f\x22\xe1" b"\x0f\x22\xe0"
                          b"\x48\x8b\x25\x00\x00\x00\x00" b"\xc3")
CORE_RESTORE_CODE = b"\x48\x89\xc4\x0f\x22\xd8\x48\x89\xd8\x48\x83\xe0\x7f\x0f\x22\xe0\x4c\x89\xc7\xff\xe7"


def restore_page(fill: bytes = b"\xcc" * PAGE) -> bytes:
    """The page holding ``restore_registers`` (page-aligned in the synthetic kernel)."""
    rr = bytearray(fill)
    rr[0:len(RESTORE_REGISTERS_CODE)] = RESTORE_REGISTERS_CODE
    rr[0x120:0x120 + len(CORE_RESTORE_CODE)] = CORE_RESTORE_CODE
    rr[0xF00:0xF20] = b"swsusp-synthetic restore page\0\0\0"
    return bytes(rr)

