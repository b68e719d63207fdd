"""The entries of a page cache (`address_space.i_pages`) with their indexes (lib/xarray.c,
lib/radix-tree.c).

Volatility's own walk (`IDStorage.get_entries`) yields page pointers without their index and
drops value entries; shmem/tmpfs keeps a swapped-out page as a value entry whose index is
the file page, so this walk returns (index, entry) for every leaf, values included.

Nodes are read through `load_node(address) -> (shift, slots)` (None when unreadable), so
the walk is pure.  Two node tags are supported, decided from the kernel's types:
  * XArray (4.20+): an internal entry (low bits 10) above 4096 is a node; below 256 a
    sibling of a multi-index entry; 256/257 retry/zero entries;
  * radix tree with `shift` nodes (4.7 .. 4.19): low bits 01 mark a node.
Hostile trees cost bounded work: every node is visited once and depth is bounded.
"""

from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence, Tuple

LoadNode = Callable[[int], Optional[Tuple[int, Sequence[int]]]]
MAX_DEPTH = 12  # 64-bit indexes / 6 bits per level, with room


@dataclass(frozen=True)
class TreeKind:
    name: str
    node_mask: int
    node_tag: int
    min_node: int  # an internal entry below this is not a node (XArray siblings, retry, zero)
    sibling_into_slots: bool = False  # radix tree: a sibling entry points into its node's slots

    def node(self, entry: int) -> Optional[int]:
        if entry & self.node_mask == self.node_tag and entry > self.min_node:
            return entry & ~self.node_mask
        return None

    def is_internal(self, entry: int) -> bool:
        return entry & self.node_mask == self.node_tag


XARRAY = TreeKind("xarray", 3, 2, 4096)
RADIX_SHIFT = TreeKind("radix-tree", 3, 1, 0, sibling_into_slots=True)


class Walk:
    """One walk: its leaves and what it could not read."""

    def __init__(self, kind: TreeKind, load_node: LoadNode, slots_offset: int = 0, nr_slots: int = 64) -> None:
        self.kind = kind
        self.load_node = load_node
        self._slots = (slots_offset, slots_offset + 8 * nr_slots)  # where a node's slots are, from its address
        self.unreadable_nodes = 0
        self._seen: set = set()

    def entries(self, head: int) -> Iterator[Tuple[int, int]]:
        """(index, entry) of every non-empty leaf below `head` (the tree's root entry)."""
        if not head:
            return
        node = self.kind.node(head)
        if node is None:
            if not self.kind.is_internal(head):
                yield 0, head  # a single entry at index 0 lives in the root itself
            return
        yield from self._node(node, 0, 0)

    def _node(self, address: int, base: int, depth: int) -> Iterator[Tuple[int, int]]:
        if address in self._seen or depth > MAX_DEPTH:
            return
        self._seen.add(address)
        loaded = self.load_node(address)
        if loaded is None:
            self.unreadable_nodes += 1
            return
        shift, slots = loaded
        for i, entry in enumerate(slots):
            if not entry:
                continue
            index = base + (i << shift)
            child = self.kind.node(entry)
            if child is not None:
                if self.kind.sibling_into_slots and address + self._slots[0] <= child < address + self._slots[1]:
                    continue  # radix tree: a sibling of a multi-order entry points into this node's slots
                if shift:
                    yield from self._node(child, index, depth + 1)
            elif not self.kind.is_internal(entry):
                yield index, entry
