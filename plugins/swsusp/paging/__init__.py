"""x86-64 paging over any "read physical bytes" function (docs/format.md §9, §10).  No Volatility import.

  entries    Level descriptors and decoded entries (PageTableEntry, decode)
  walk       Paging: walk / translate / leaves / tables from a CR3; SME, PTI, 4/5 levels
  directmap  find_direct_map (fixed PAGE_OFFSET or KASLR base) and its PUD/PMD slot rows
  scan       find_cr3: kernel top-level tables in raw memory (dumps without a restore record)
  errors     PagingError and its kinds; MissingMemory, what a read function raises for no memory

A read function (walk.ReadPhys) returns the bytes asked for or raises KeyError: see walk.py.
"""
