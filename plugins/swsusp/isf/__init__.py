"""The kernel's ISF from its own BTF and kallsyms, when none is at hand.  No Volatility import.

  core      an ELF core of the kernel image alone (memfd), from any read(physical) function
  engine    pakunoda on a memory file -> ISF, or NoSymbolsError naming the kernel and the fix
  store     the per-user store: one file per banner, written atomically
  coverage  whether an ISF holds what Volatility and the common plugins need
  btf       where the BTF is (header only), for swsusp_info
  hints     the kernel release, its distribution's debug package, the dwarf2json command
  report    the rows of swsusp_info's "symbols" section and of linux.swsusp_symbols
"""
