"""The hibernation image on disk, read the way kernel/power/swap.c reads it.

Pure Python (no Volatility import) so it can be tested and reused on its own.
`image.SwsuspImage.open(path)` is the entry point.
"""
