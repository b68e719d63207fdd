"""The hibernation analysis (docs/format.md §8, §10, §17): what a resume does to the hibernated
kernel's page tables, and the checks a boot kernel makes before it resumes an image.  Plain
read functions (`paging.walk.ReadPhys`) and a declared image interface; no Volatility import.
Paging proper is in `paging/`.

  image          HibernationImage: what the analysis reads of an image (a Protocol)
  errors         AnalysisError and its kinds (PagingErrors: an adapter catches one base)
  kernel_tables  one kernel's tables and direct map, from an image's restore record or a dump
  safepgt        the safepgt flow: findings, restore replay, safe tables rebuilt and verified
  hung_resume    a resume that hung after copy #N, read through native and rebuilt tables
  compare        two kernels' direct maps paired by physical region
  restore        the copy loop of a resume replayed (the 2005 hang)
  safe_tables    set_up_temporary_mappings() offline: tables in frames the image does not list
  report         linux.swsusp_safepgt's columns, rows and texts, as plain values
  boot_facts     BootFacts: what the boot kernel knew (each fact with its source), e820 digests
  boot_text      BootFacts from files a user copied off the booted machine (--boot-facts)
  resume_checks  the boot kernel's resume checks replayed in its order (linux.swsusp_resume)
"""
