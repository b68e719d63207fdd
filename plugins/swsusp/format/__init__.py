"""The hibernation image on disk, read the way kernel/power/swap.c reads it.

Pure Python (no Volatility import) so it can be tested and reused on its own; the
structures are declared once in `structs.py`, and docs/format.md describes them.
`image.SwsuspImage.open(path)` is the entry point:

    source.py     byte sources (a read-only file, bytes)
    locate.py     where a swap area may be: partitions, filesystems, a copied swap file
    swap_area.py  the swap area: device blocks and slots -> file offsets (swap extents)
    opener.py     header -> swap_map chain -> swsusp_info -> PFN list, era by era
    stream.py     the page stream: plain, or LZO/LZ4 blocks with salvage (damage.py)
    image.py      the PFN index as physical memory
"""
