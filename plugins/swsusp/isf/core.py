"""An ELF core of the kernel image alone: what a BTF/kallsyms reader needs, not all of RAM.

BTF (`.BTF`), kallsyms and `linux_banner` live in the kernel image's read-only data, and
`init_task`, `init_top_pgt` and the other anchors in its data: all of it is mapped by the
kernel text mapping at `__START_KERNEL_map`.  The core holds the pages of that mapping plus
the kernel half's page-table pages (so a reader can check its paging root), at their own
physical addresses: a 6.1 kernel is ~12,000 pages (48 MiB) where the machine had 256 MiB.

The core is written into an anonymous memory file (`memfd_create`), or a private temporary
file where that does not exist: nothing is left on disk, and the evidence is never touched.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator

from ..analysis.kernel_tables import record_paging
from ..memory import MODULES_VADDR, PAGE_SIZE, START_KERNEL_MAP

MAX_SEGMENTS = 4096  # PT_LOAD headers; more runs are joined across their (zero-filled) gaps
CHUNK_PAGES = 256  # pages read and written at a time

ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")  # Elf64_Ehdr
PROGRAM_HEADER = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, memsz, align
ET_CORE, EM_X86_64, PT_LOAD, PF_RWX = 4, 62, 1, 7
ELF_IDENT = b"\x7fELF\x02\x01\x01" + bytes(9)  # 64-bit, little endian, version 1

Read = Callable[..., bytes]  # read(physical address, length, pad=True)


def kernel_image_pfns(paging, has_pfn: Callable[[int], bool]) -> list[int]:
    """PFNs of the kernel image (the leaves of the kernel text mapping) and of the kernel
    half's page tables, that the memory holds; ascending."""
    pfns: set[int] = set()
    for leaf in paging.leaves(START_KERNEL_MAP, MODULES_VADDR):
        first = leaf.pa >> 12
        pfns.update(p for p in range(first, first + leaf.size // PAGE_SIZE) if has_pfn(p))
    for table in paging.tables(paging.kernel_half, 1 << 64, shared=False):
        if table.readable and has_pfn(table.pa >> 12):
            pfns.add(table.pa >> 12)
    return sorted(pfns)


def kernel_image_runs(image) -> list[tuple[int, int]]:
    """The (first PFN, count) runs of a hibernation image's kernel image and kernel-half page
    tables (kernel_image_pfns), found through its restore record's page tables.  Raises
    NoRestoreRecord or RecordCr3Unusable (analysis/errors.py)."""
    return pfn_runs(kernel_image_pfns(record_paging(image), image.has_pfn))


def pfn_runs(pfns: Iterable[int], max_runs: int = MAX_SEGMENTS) -> list[tuple[int, int]]:
    """Ascending PFNs as (first PFN, count) runs; when there are more than `max_runs`, the
    runs with the smallest gaps between them are joined (the gap reads as zeros)."""
    runs: list[list[int]] = []
    for pfn in pfns:
        if runs and pfn == runs[-1][0] + runs[-1][1]:
            runs[-1][1] += 1
        else:
            runs.append([pfn, 1])
    if len(runs) > max_runs:
        gaps = sorted(range(1, len(runs)), key=lambda i: runs[i][0] - (runs[i - 1][0] + runs[i - 1][1]))
        join = set(gaps[: len(runs) - max_runs])
        merged: list[list[int]] = []
        for i, run in enumerate(runs):
            if i in join:
                merged[-1][1] = run[0] + run[1] - merged[-1][0]
            else:
                merged.append(list(run))
        runs = merged
    return [(first, count) for first, count in runs]


def write_elf_core(f, runs: list[tuple[int, int]], read: Read,
                   on_chunk: Callable[[int, bytes], None] | None = None) -> int:
    """Write an ELF64 core (one PT_LOAD per run, physical addresses in p_paddr) to the
    binary file `f`; returns its size.  `on_chunk(address, data)` sees the data written."""
    data_start = -(-(ELF_HEADER.size + PROGRAM_HEADER.size * len(runs)) // PAGE_SIZE) * PAGE_SIZE
    headers, offset = [], data_start
    for first, count in runs:
        size = count * PAGE_SIZE
        headers.append(PROGRAM_HEADER.pack(PT_LOAD, PF_RWX, offset, 0, first * PAGE_SIZE, size, size, PAGE_SIZE))
        offset += size
    f.write(ELF_HEADER.pack(ELF_IDENT, ET_CORE, EM_X86_64, 1, 0, ELF_HEADER.size, 0, 0, ELF_HEADER.size,
                            PROGRAM_HEADER.size, len(runs), 0, 0, 0))
    f.write(b"".join(headers))
    f.write(bytes(data_start - ELF_HEADER.size - PROGRAM_HEADER.size * len(runs)))
    for first, count in runs:
        for pfn in range(first, first + count, CHUNK_PAGES):
            n = min(CHUNK_PAGES, first + count - pfn)
            data = read(pfn * PAGE_SIZE, n * PAGE_SIZE, pad=True)
            f.write(data)
            if on_chunk is not None:
                on_chunk(pfn * PAGE_SIZE, data)
    f.flush()
    return offset


@contextlib.contextmanager
def scratch_file(name: str = "swsusp-kernel-core") -> Iterator[tuple[object, str]]:
    """(binary file, path another reader can open) of a file that vanishes on exit: an
    anonymous memory file on Linux, else a file in a private (0700) temporary folder."""
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None:
        try:
            fd = memfd(name, getattr(os, "MFD_CLOEXEC", 0))
        except OSError:
            fd = -1
        if fd >= 0:
            path = f"/proc/self/fd/{fd}"
            with open(fd, "w+b") as f:
                if os.path.exists(path):
                    yield f, path
                    return
    folder = tempfile.mkdtemp(prefix="swsusp-core-")
    try:
        path = os.path.join(folder, name + ".elf")
        with open(path, "w+b") as f:
            yield f, path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
