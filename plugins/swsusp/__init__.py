"""swsusp-safepgt: Linux x86-64 hibernation images as Volatility3 memory evidence.

Four rooms, one folder each:
  format/    the on-disk image (swsusp_header, swap_map_page chain, swsusp_info, PFN list,
             LZO/LZ4 blocks, CRC32).  Pure Python: no Volatility import.
  paging/    x86-64 page-table walks and the direct map (issue 3).  Pure Python.
  analysis/  the hibernation analysis on top of paging/: two kernels compared, the restore
             replayed, safe tables rebuilt.  Pure Python.
  vol/       thin Volatility adapters: the physical layer, its stackers.
"""
