"""The synthetic kernel's build: where things are and how they are laid out.

Link-time addresses, the x86-64 address-space constants of each era, page-table entry bits,
the kernel image's symbol offsets from ``_text`` (as in Debian 6.1.0-56-amd64's System.map)
and the struct layouts that the memory (:mod:`samples.synth_tasks`) and the ISF
(:mod:`samples.synth_isf`) share.  Pure data.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

PAGE = 4096
START_KERNEL_MAP = 0xFFFFFFFF80000000
LINK_TEXT_VA = 0xFFFFFFFF81000000          # _text at link time (CONFIG_PHYSICAL_START 16 MiB)
LINK_TEXT_PA = 0x1000000
ADDR_MASK = 0x000FFFFFFFFFF000

PAGE_OFFSET_L4 = 0xFFFF888000000000         # 4.20+ __PAGE_OFFSET_BASE_L4
PAGE_OFFSET_L5 = 0xFF11000000000000         # 4.20+ __PAGE_OFFSET_BASE_L5
PAGE_OFFSET_2_6_16 = 0xFFFF810000000000     # <= 2.6.26
PAGE_OFFSET_2_6_27 = 0xFFFF880000000000     # 2.6.27 .. 4.19
VMALLOC_L4, VMALLOC_L5 = 0xFFFFC90000000000, 0xFFA0000000000000
VMEMMAP_L4, VMEMMAP_L5 = 0xFFFFEA0000000000, 0xFFD4000000000000

RELEASE = "6.1.0-swsusp-synthetic"
BANNER = (b"Linux version 6.1.0-swsusp-synthetic (builder@swsusp-safepgt) (gcc (Debian 12.2.0-14) "
          b"12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC "
          b"Debian 6.1.0-synthetic (2025-01-01)\n\x00")

# x86 page-table entry bits (arch/x86/include/asm/pgtable_types.h)
P, RW, US, PWT, PCD, A, D, PS, G = 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x100
NX = 1 << 63
KERNPG_TABLE = P | RW | A | D                      # 0x63
USER_TABLE = P | RW | US | A | D                   # 0x67
DIRECT_4K = P | RW | A | D | G | NX                # 0x8000000000000163
DIRECT_4K_RO = P | A | D | G | NX                  # split "for attributes": read-only alias
DIRECT_LARGE = DIRECT_4K | PS                      # 0x80000000000001e3
TEXT_LARGE = P | RW | A | D | PS | G               # 0x1e3 (executable)

SHIFTS = {4: (39, 30, 21, 12), 5: (48, 39, 30, 21, 12)}
SZ_4K, SZ_2M, SZ_1G = 1 << 12, 1 << 21, 1 << 30

# ---- kernel image layout: offsets from _text (as in 6.1.0-56-amd64's System.map) ----------
KOFF = {
    "_text": 0x0,
    "_stext": 0x0,
    "restore_registers": 0x9D5000,
    "core_restore_code": 0x9D5120,
    "swsusp_arch_suspend": 0x9D4F00,
    "_etext": 0xE01D32,
    "__start_rodata": 0x1000000,
    "linux_banner": 0x1161900,
    "page_offset_base": 0x1415740,
    "vmalloc_base": 0x1415748,
    "__pgtable_l5_enabled": 0x1415750,
    "pgdir_shift": 0x1415754,
    "ptrs_per_p4d": 0x1415758,
    "vmemmap_base": 0x1415760,
    # swap (issue 10): not System.map's places but the saved page of the variables above, so a
    # machine without swap reads nr_swapfiles = 0 and its image stays byte for byte the same
    "nr_swapfiles": 0x1415780,
    "l1tf_mitigation": 0x1415784,
    "swap_info": 0x14157A0,                # struct swap_info_struct *swap_info[MAX_SWAPFILES]
    "_sdata": 0x1A00000,
    "init_top_pgt": 0x1A10000,
    "level4_kernel_pgt": 0x1A14000,
    "level3_kernel_pgt": 0x1A15000,
    "level2_kernel_pgt": 0x1A16000,
    "phys_base": 0x1A1A010,
    "init_task": 0x1A1AA40,
    "init_cred": 0x1A5BA00,
    "init_mm": 0x1B5C940,
    "init_files": 0x1B6F840,
    "max_pfn": 0x1B80010,
    "__bss_start": 0x1C00000,
    "_end": 0x1E00000,
}
KERNEL_IMAGE_SIZE = KOFF["_end"]          # 30 MiB = 15 x 2 MiB text-mapping leaves
SWAPPER_PG_DIR = "init_top_pgt"

# ---- struct layouts (ISF and memory agree; see isf_dict) -----------------------------------
TASK_SIZE = 0xA00
TASK = {"__state": 0x18, "stack": 0x20, "flags": 0x2C, "tasks": 0x4A0, "mm": 0x4F0,
        "active_mm": 0x4F8, "exit_state": 0x520, "pid": 0x5C0, "tgid": 0x5C4,
        "real_parent": 0x5D0, "parent": 0x5D8, "children": 0x5E0, "sibling": 0x5F0,
        "group_leader": 0x600, "start_time": 0x6E0, "start_boottime": 0x6E8, "real_cred": 0x740,
        "cred": 0x748, "comm": 0x758, "files": 0x770}
MM_SIZE = 0x400
MM = {"mmap": 0x0, "pgd": 0x50, "map_count": 0x60, "start_code": 0x100, "end_code": 0x108,
      "start_data": 0x110, "end_data": 0x118, "start_brk": 0x120, "brk": 0x128,
      "start_stack": 0x130, "context": 0x300}
MM_CONTEXT_SIZE = 0x40
MM_CONTEXT = {"vdso": 0x28}
# vm_area_struct as before 6.1's maple tree: the mm's VMAs in a list from mm->mmap
VMA_SIZE = 0xB8
VMA = {"vm_start": 0x0, "vm_end": 0x8, "vm_next": 0x10, "vm_prev": 0x18, "vm_mm": 0x40,
       "vm_flags": 0x50, "vm_pgoff": 0x98, "vm_file": 0xA0}
VM_READ, VM_WRITE, VM_EXEC = 0x1, 0x2, 0x4
# mm/swapfile.c structures, at 6.1's offsets
SWAP_INFO_SIZE = 0x120
SWAP_INFO = {"flags": 0x10, "prio": 0x18, "type": 0x48, "max": 0x4C, "swap_map": 0x50,
             "pages": 0x78, "inuse_pages": 0x7C, "swap_extent_root": 0x98, "bdev": 0xA0,
             "swap_file": 0xA8, "frontswap_map": 0xD8}
SWP_USED, SWP_WRITEOK, SWP_BLKDEV = 0x1, 0x2, 0x40
RB_NODE = {"__rb_parent_color": 0x0, "rb_right": 0x8, "rb_left": 0x10}
SWAP_EXTENT_SIZE = 0x30
SWAP_EXTENT = {"rb_node": 0x0, "start_page": 0x18, "nr_pages": 0x20, "start_block": 0x28}
FILES_SIZE = 0x80
CRED_SIZE = 0xB0
CRED = {"usage": 0x0, "uid": 0x4, "gid": 0x8, "suid": 0xC, "sgid": 0x10, "euid": 0x14, "egid": 0x18}
PF_KTHREAD = 0x00200000


def u64(v: int) -> bytes:
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


@dataclass
class KernelLayout:
    """Where the kernel runs: KASLR shifts and the bases of the direct map, vmalloc, vmemmap."""
    levels: int
    phys_shift: int
    virt_shift: int
    page_offset: int
    vmalloc_base: int
    vmemmap_base: int

    @property
    def text_pa(self) -> int:
        return LINK_TEXT_PA + self.phys_shift

    @property
    def text_va(self) -> int:
        return LINK_TEXT_VA + self.virt_shift

    @property
    def phys_base(self) -> int:
        return (self.phys_shift - self.virt_shift) & 0xFFFFFFFFFFFFFFFF

    def kpa(self, name: str) -> int:
        """Physical address of a kernel symbol."""
        return self.text_pa + KOFF[name]

    def kva(self, name: str) -> int:
        """Running virtual address of a kernel symbol."""
        return self.text_va + KOFF[name]

    def dva(self, pa: int) -> int:
        """Direct-map address of a physical address."""
        return self.page_offset + pa
