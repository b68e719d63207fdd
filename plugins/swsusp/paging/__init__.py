"""x86-64 paging over any "read physical bytes" function (spec §9, §10).  No Volatility import."""
