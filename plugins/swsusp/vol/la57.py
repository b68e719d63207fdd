"""5-level x86-64 paging (LA57) as a Volatility layer: Volatility 2.28 ships 4 levels only."""

from volatility3.framework.layers import intel


class LinuxIntel32eLA57(intel.LinuxIntel32e):
    """5-level paging (LA57), which Volatility 2.28 does not ship."""

    _maxvirtaddr = 57
    _maxphyaddr = 52
    _structure = [
        ("page map layer 5", 9, False),
        ("page map layer 4", 9, False),
        ("page directory pointer", 9, True),
        ("page directory", 9, True),
        ("page table", 9, False),
    ]
