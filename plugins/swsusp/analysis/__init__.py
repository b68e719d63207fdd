"""The hibernation analysis (spec §8, §10): what a resume does to the hibernated kernel's page
tables, on plain read functions.  No Volatility import; paging proper is in `paging/`.

  safepgt      the safepgt flow: the kernels' tables, findings, restore replay, safe tables
  compare      two kernels' direct maps paired by physical region
  restore      the copy loop of a resume replayed (the 2005 hang)
  safe_tables  set_up_temporary_mappings() offline: tables in frames the image does not list
"""
