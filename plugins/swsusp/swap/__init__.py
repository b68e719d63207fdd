"""Swapped-out memory of the hibernated machine (issue 10).  Pure Python: no Volatility import.

  swp_entry   x86-64 swap PTE layouts (decided per kernel, not per entry) and the
              arch-independent swp_entry_t of page-cache value entries
  swap_info   the kernel's swap areas (swap_info[]) and which one the input holds
  page_cache  the XArray / radix tree of an address_space, with each entry's index
  accounting  who owns each slot of the swap area, per-process page counts, what was
              not read (by kind), and linux.swsusp_swaparea's rows
"""
