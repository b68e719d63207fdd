"""Physical memory and x86-64 page tables of a synthetic machine: a sparse PFN -> page store
(:class:`PhysMem`) and a builder of 4- and 5-level tables in it (:class:`PageTables`).
"""
from __future__ import annotations

import struct
from typing import Callable

from .synth_layout import (
    ADDR_MASK,
    KERNPG_TABLE,
    PAGE,
    PS,
    SHIFTS,
    SZ_1G,
    SZ_2M,
    SZ_4K,
    P,
    u64,
)


class PhysMem:
    """Sparse physical memory: only pages that were written (or explicitly added) exist."""

    def __init__(self) -> None:
        self.pages: dict[int, bytearray] = {}

    def page(self, pfn: int) -> bytearray:
        assert pfn > 0, "PFN 0 is never saveable"
        pg = self.pages.get(pfn)
        if pg is None:
            pg = self.pages[pfn] = bytearray(PAGE)
        return pg

    def write(self, pa: int, data: bytes) -> None:
        off = 0
        while off < len(data):
            pfn, po = divmod(pa + off, PAGE)
            n = min(PAGE - po, len(data) - off)
            self.page(pfn)[po:po + n] = data[off:off + n]
            off += n

    def write_u64(self, pa: int, v: int) -> None:
        if pa & 7 == 0:
            struct.pack_into("<Q", self.page(pa >> 12), pa & 0xFFF, v & 0xFFFFFFFFFFFFFFFF)
        else:
            self.write(pa, u64(v))

    def read(self, pa: int, n: int) -> bytes:
        out = bytearray()
        while n:
            pfn, po = divmod(pa, PAGE)
            k = min(PAGE - po, n)
            pg = self.pages.get(pfn)
            out += pg[po:po + k] if pg is not None else bytes(k)
            pa += k
            n -= k
        return bytes(out)

    def read_u64(self, pa: int) -> int:
        if pa & 7 == 0:
            pg = self.pages.get(pa >> 12)
            return struct.unpack_from("<Q", pg, pa & 0xFFF)[0] if pg is not None else 0
        return struct.unpack("<Q", self.read(pa, 8))[0]


class PageTables:
    """Builds x86-64 tables in a PhysMem; one loop over levels for 4 and 5 levels."""

    def __init__(self, mem: PhysMem, levels: int, cbit: int = 0) -> None:
        self.mem, self.levels, self.cbit = mem, levels, cbit
        self.shifts = SHIFTS[levels]
        self.leaf_counts = {"1G": 0, "2M": 0, "4K": 0}
        self.tables: list[int] = []

    def map(self, root: int, va: int, pa: int, size: int, leaf_flags: int,
            alloc: Callable[[int, int], int], table_flags: int = KERNPG_TABLE,
            on_new: Callable[[int, int, int], None] | None = None) -> None:
        """Map one leaf. ``alloc(child_shift, va)`` returns the PA of a new table page;
        ``on_new(child_shift, entry_pa, table_pa)`` is told about each new table."""
        leaf_shift = {SZ_4K: 12, SZ_2M: 21, SZ_1G: 30}[size]
        assert va % size == 0 and pa % size == 0
        table = root
        for i, sh in enumerate(self.shifts):
            epa = table + 8 * ((va >> sh) & 511)
            if sh == leaf_shift:
                assert self.mem.read_u64(epa) == 0, hex(va)
                flags = leaf_flags | (PS if sh > 12 else 0)
                self.mem.write_u64(epa, pa | flags | self.cbit)
                self.leaf_counts[{12: "4K", 21: "2M", 30: "1G"}[sh]] += 1
                return
            e = self.mem.read_u64(epa)
            if e & P:
                assert not e & PS
                table = e & ADDR_MASK & ~self.cbit
            else:
                child = self.shifts[i + 1]
                new = alloc(child, va)
                assert new % PAGE == 0
                self.mem.page(new >> 12)
                self.tables.append(new)
                self.mem.write_u64(epa, new | table_flags | self.cbit)
                if on_new:
                    on_new(child, epa, new)
                table = new

    def set_pte(self, root: int, va: int, value: int, alloc: Callable[[int, int], int],
                table_flags: int = KERNPG_TABLE) -> None:
        """Write a raw last-level entry (a non-present swap PTE, say) for ``va``, building the
        tables above it as :meth:`map` does."""
        table = root
        for i, sh in enumerate(self.shifts):
            epa = table + 8 * ((va >> sh) & 511)
            if sh == 12:
                assert self.mem.read_u64(epa) == 0, hex(va)
                self.mem.write_u64(epa, value)
                return
            e = self.mem.read_u64(epa)
            if e & P:
                table = e & ADDR_MASK & ~self.cbit
            else:
                new = alloc(self.shifts[i + 1], va)
                self.mem.page(new >> 12)
                self.tables.append(new)
                self.mem.write_u64(epa, new | table_flags | self.cbit)
                table = new

    def translate(self, root: int, va: int) -> int | None:
        """Reference walk (used only as a self-check inside the generator)."""
        table = root & ADDR_MASK & ~self.cbit
        for sh in self.shifts:
            e = self.mem.read_u64(table + 8 * ((va >> sh) & 511))
            if not e & P:
                return None
            if sh == 12 or e & PS:
                frame = e & ADDR_MASK & ~self.cbit & ~((1 << sh) - 1)
                return frame | (va & ((1 << sh) - 1))
            table = e & ADDR_MASK & ~self.cbit
        return None


def read_pages(pages, pa: int, n: int) -> bytes:
    """n bytes at physical pa from a PFN -> 4096-byte page mapping (pages may straddle)."""
    out = bytearray()
    while n:
        pfn, po = divmod(pa, PAGE)
        k = min(PAGE - po, n)
        out += pages[pfn][po:po + k]
        pa += k
        n -= k
    return bytes(out)

