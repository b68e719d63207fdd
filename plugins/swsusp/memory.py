"""What every room agrees on about an x86-64 Linux machine's memory, declared once.

  * the page: 4 KiB, which is also a swap slot and a swap block;
  * the kernel's fixed virtual layout that the rooms need (arch/x86/include/asm/page_64_types.h,
    Documentation/arch/x86/x86_64/mm.rst);
  * the read contract: a `ReadPhys` function returns exactly the bytes asked for, or raises a
    KeyError when memory is not there (a page a hibernation image did not save, a hole in a RAM
    dump).  The project's readers raise `MissingPage`, of which the format's `PageNotInImage`
    and the paging room's `MissingMemory` are kinds; a dict of pages (the generator's machines)
    honours the contract by itself.

No Volatility import.
"""

from typing import Callable

PAGE_SIZE = 4096
PAGE_SHIFT = 12
U64 = (1 << 64) - 1

START_KERNEL_MAP = 0xFFFFFFFF80000000  # __START_KERNEL_map: the kernel image's mapping
MODULES_VADDR = 0xFFFFFFFFC0000000  # __START_KERNEL_map + KERNEL_IMAGE_SIZE (1 GiB): modules


class MissingPage(KeyError):
    """Physical memory a read function does not hold."""


ReadPhys = Callable[[int, int], bytes]  # read(pa, n) -> n bytes, or a KeyError (MissingPage)
