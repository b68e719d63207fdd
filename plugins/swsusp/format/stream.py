"""The image's page stream: stream page i is what `swap_read_page()` hands the snapshot code
i-th (docs/format.md §4, §5).  Two shapes, one interface:

  PlainStream       one swap block per stream page (`load_image()`, SF_NOCOMPRESS_MODE and
                    images before 2.6.37); every page's readability is known from the map.
  CompressedStream  32 pages per LZO/LZ4 block behind an 8-byte length (`load_compressed_image()`,
                    formerly `load_image_lzo()`); block boundaries are found lazily from the
                    lengths, blocks are decompressed on demand into an LRU cache, and a damaged
                    block costs its own 32 pages (salvage: the next block is found again).

Both read device blocks through the image's `SwapArea`, record damage in a `DamageLog`, and
raise `PageDamaged` for a page that is listed but cannot be read.
"""

from array import array
from collections import OrderedDict
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from .compress import CMP_PAGES_MAX, CMP_SIZE_MAX, UNC_PAGES, BlockDecompressor
from .damage import Damage, DamageLog, error_kind
from .errors import PageDamaged, SwsuspFormatError
from .readahead import WORKERS, ReadAhead
from .structs import CMP_HEADER, PAGE_SIZE
from .swap_area import SwapArea
from .swap_map import SwapMap, first_bad_entry

Progress = Optional[Callable[[float, str], None]]
# Entries searched for the next block after one whose length is unusable: that block and the
# next may both be damaged (two adjacent blocks), each up to CMP_PAGES_MAX pages.
RESYNC_WINDOW = 2 * CMP_PAGES_MAX
# Blocks checked (decompressed) when blocks are placed by counting back from the map's end:
# those before are reported lost (bounds the cost of one re-location to ~1 s).
PLACE_BACK_MAX = 1024
Pages = Union[bytes, memoryview]  # a slice of a decompressed block, or bytes read from disk


def read_map_blocks(area: SwapArea, swap_map: SwapMap, blocks: Sequence[int],
                    first_entry: Optional[int] = None) -> bytes:
    """Read device blocks in order, one read per run of consecutive blocks.  With
    `first_entry` (the map index of blocks[0]) the blocks are checked against the area, and
    a read past the end of the input is named by the map entry pointing there."""
    if first_entry is not None:
        bad = first_bad_entry(swap_map, first_entry, first_entry + len(blocks), area.holds_block, area.where)
        if bad:
            raise bad
    out, i, n = [], 0, len(blocks)
    while i < n:
        j = i + 1
        while j < n and blocks[j] == blocks[j - 1] + 1 and (
                not area.copied or area.block_offset(blocks[j]) == area.block_offset(blocks[j - 1]) + PAGE_SIZE):
            j += 1  # (a copied swap file's extents may split a run of blocks)
        data = area.source.read(area.block_offset(blocks[i]), (j - i) * PAGE_SIZE)
        if len(data) != (j - i) * PAGE_SIZE:
            raise _beyond_end(area, swap_map, blocks, i, i + len(data) // PAGE_SIZE, first_entry)
        out.append(data)
        i = j
    return b"".join(out)


def _beyond_end(area: SwapArea, swap_map: SwapMap, blocks: Sequence[int], i: int, k: int,
                first_entry: Optional[int]) -> SwsuspFormatError:
    """The read of the run from blocks[i] ran past the end of the input at blocks[k]: named by
    the map entry pointing there, which lies inside the file (the offset read from does not)."""
    if first_entry is None or swap_map.entry_offset(first_entry + k) is None:
        return SwsuspFormatError("input ends inside the image data (truncated file)",
                                 area.block_offset(blocks[i]), block=blocks[i])
    return SwsuspFormatError(
        f"swap_map entry {first_entry + k} points to block {blocks[k]}, beyond the end of the input "
        "(truncated file)",
        swap_map.entry_offset(first_entry + k), block=blocks[k],
    )


class _Stream:
    """What both stream shapes share: the map, the area, the damage log."""

    codec = "none"

    def __init__(self, area: SwapArea, swap_map: SwapMap, pages: int, base: int) -> None:
        self.area = area
        self.swap_map = swap_map
        self.pages = pages  # swsusp_info.pages: stream pages, the info page included
        self.base = base  # first page this stream holds (1 in-kernel: page 0 is stored apart; 0 s2disk)
        self.damage = DamageLog(pages)

    def read_blocks(self, blocks: Sequence[int], first_entry: Optional[int] = None) -> bytes:
        return read_map_blocks(self.area, self.swap_map, blocks, first_entry)

    def _damaged(self, page: int) -> PageDamaged:
        damage = self.damage.at(page)
        assert damage is not None
        return PageDamaged(None, damage.error)

    def _map_short(self) -> SwsuspFormatError:
        """Why the map lists fewer stream pages than swsusp_info.pages."""
        if self.swap_map.broken:
            return self.swap_map.broken.copy()
        return SwsuspFormatError(
            f"map chain lists {len(self.swap_map)} stream pages but swsusp_info says {self.pages} "
            "(truncated image)",
            self.area.block_offset(self.swap_map.map_blocks[-1]),
        )

    # the interface both shapes implement

    def page(self, page: int) -> Pages:
        raise NotImplementedError

    def run(self, page: int, count: int) -> Tuple[Pages, int]:
        """Up to `count` pages from `page` that one read serves, and how many."""
        raise NotImplementedError

    def offset(self, page: int) -> int:
        """File offset of stream page `page` (of its compressed block's start)."""
        raise NotImplementedError

    def chunks(self, progress: Progress = None) -> Iterator[Tuple[int, bytes]]:
        raise NotImplementedError

    def read(self, first: int, count: int) -> bytes:
        """Stream pages first .. first+count-1, concatenated."""
        return b"".join(self.page(p) for p in range(first, first + count))


class PlainStream(_Stream):
    """Uncompressed: stream page i is device block swap_map.entries[i]."""

    def __init__(self, area: SwapArea, swap_map: SwapMap, pages: int, base: int = 1) -> None:
        super().__init__(area, swap_map, pages, base)
        self._find_damage()

    def _find_damage(self) -> None:
        """Every page's readability is known from the map alone (a block outside the area or
        beyond the end of the file, or past a broken chain)."""
        entries = self.swap_map.entries
        n = min(len(entries), self.pages)
        limit = self.area.last_block_in_file()
        lo, hi = (min(entries[:n]), max(entries[:n])) if n else (1, 1)
        if n and not (self.area.holds_block(lo) and self.area.holds_block(hi) and hi <= limit):
            run: Optional[Damage] = None  # damage only: one pass, consecutive pages lost alike form one run
            for p in range(n):
                error = self._page_error(p, limit)
                if error and run and run.end == p and error_kind(run.error) == error_kind(error):
                    run = Damage(run.first, p + 1, run.error)
                    continue
                if run:
                    self.damage.add(run)
                run = Damage(p, p + 1, error) if error else None
            if run:
                self.damage.add(run)
        if n < self.pages:
            self.damage.add(Damage(n, self.pages, self._map_short()))

    def _page_error(self, p: int, limit: int) -> Optional[SwsuspFormatError]:
        bad = first_bad_entry(self.swap_map, p, p + 1, self.area.holds_block, self.area.where)
        if bad:
            return bad
        block = self.swap_map.entries[p]
        if block > limit:
            return SwsuspFormatError(f"swap_map entry {p} points to block {block}, {self.area.where(block)}",
                                     self.swap_map.entry_offset(p), block=block)
        return None

    def run(self, page: int, count: int) -> Tuple[bytes, int]:
        """Stream pages page.. (fewer if damage follows); PageDamaged if `page` itself is."""
        stop = self.damage.next_from(page) if self.damage else self.pages
        if stop == page:
            raise self._damaged(page)
        count = min(count, stop - page)
        return self.read_blocks(self.swap_map.entries[page : page + count], page), count

    def page(self, page: int) -> bytes:
        return self.run(page, 1)[0]

    def read(self, first: int, count: int) -> bytes:
        data, got = self.run(first, count)
        if got < count:
            raise self._damaged(first + got)
        return data

    def offset(self, page: int) -> int:
        return self.area.block_offset(self.swap_map.entries[page])

    def chunks(self, progress: Progress = None) -> Iterator[Tuple[int, bytes]]:
        """(first stream page, bytes) in order from `base`; damaged parts are skipped."""
        page, total = self.base, self.pages
        while page < total:
            try:
                data, got = self.run(page, min(UNC_PAGES, total - page))
            except PageDamaged:
                damage = self.damage.at(page)
                assert damage is not None
                page = damage.end
                continue
            yield page, data
            if progress and (page - self.base) % (UNC_PAGES * 64) < got:
                progress(100.0 * page / total, "Reading image pages")
            page += got


class BlockCache:
    """Decompressed blocks by index, least recently used dropped first (the read-ahead asks
    `index in cache` before queueing a block)."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._blocks: "OrderedDict[int, bytes]" = OrderedDict()

    def __contains__(self, index: object) -> bool:
        return index in self._blocks

    def __len__(self) -> int:
        return len(self._blocks)

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._blocks))

    def get(self, index: int) -> Optional[bytes]:
        data = self._blocks.get(index)
        if data is not None:
            self._blocks.move_to_end(index)
        return data

    def put(self, index: int, data: bytes) -> None:
        self._blocks[index] = data
        if len(self._blocks) > self.size:
            self._blocks.popitem(last=False)

    def pop(self, index: int) -> bytes:
        return self._blocks.pop(index)

    def clear(self) -> None:
        self._blocks.clear()


class CompressedStream(_Stream):
    """LZO or LZ4 blocks of UNC_PAGES stream pages, each behind its 8-byte compressed length."""

    def __init__(self, area: SwapArea, swap_map: SwapMap, pages: int, base: int, codec: str,
                 cache_blocks: int = 64) -> None:
        super().__init__(area, swap_map, pages, base)
        self.codec = codec
        # An LZO length is checked against lzo1x's end marker where it is read (_block_end), so
        # a wrong one inside 1..CMP_SIZE_MAX is caught there.  An LZ4 length is checked only
        # by decompressing: a block before a resynchronisation, and blocks placed back from the
        # map's end, are decompressed first (slower, and more may be lost, never misplaced).
        self.lengths_checked = codec == "lzo"
        self.nr_blocks = -(-(pages - base) // UNC_PAGES)
        if len(swap_map) > 1 + self.nr_blocks * CMP_PAGES_MAX:
            raise SwsuspFormatError(
                f"map chain lists {len(swap_map)} pages, more than {self.nr_blocks} compressed blocks can use",
                area.block_offset(swap_map.map_blocks[0]),
            )
        self._decompress = BlockDecompressor(codec)
        self.cache = BlockCache(cache_blocks)
        self.starts = array("Q", [base])  # map entry of each located block's first page
        self.lost_from: Optional[int] = None  # block from which the stream cannot be located
        self._rechecked: set = set()  # damaged blocks already looked for after a damaged neighbour
        self._candidates: Dict[Tuple[int, int], bool] = {}  # (map entry, pages) -> a block starts there
        self._failed: Dict[Tuple[int, int, int], SwsuspFormatError] = {}  # (first, end, pages) -> why not
        workers = WORKERS if getattr(area.source, "thread_safe", False) else 0  # in-order walks: ahead
        self.readahead = ReadAhead(self.decompress_block, self.block_start, self.nr_blocks, self.cache, workers,
                                   fetch_ahead=self._decompress_ahead)

    # -- pages ---------------------------------------------------------------------------

    def _place(self, page: int) -> Tuple[int, int]:
        return divmod(page - self.base, UNC_PAGES)

    def page(self, page: int) -> memoryview:
        index, slot = self._place(page)
        return memoryview(self.block(index))[slot * PAGE_SIZE : (slot + 1) * PAGE_SIZE]

    def run(self, page: int, count: int) -> Tuple[memoryview, int]:
        index, slot = self._place(page)
        count = min(count, UNC_PAGES - slot)
        return memoryview(self.block(index))[slot * PAGE_SIZE : (slot + count) * PAGE_SIZE], count

    def offset(self, page: int) -> int:
        return self.area.block_offset(self.swap_map.entries[self.block_start(self._place(page)[0])])

    def block(self, index: int) -> bytes:
        """A decompressed block, through the LRU cache."""
        data = self.cache.get(index)
        if data is None:
            data = self.readahead.get(index)
            self.cache.put(index, data)
        return data

    def chunks(self, progress: Progress = None) -> Iterator[Tuple[int, bytes]]:
        """(first stream page, bytes) of every readable block in order, uncached."""
        for index in range(self.nr_blocks):
            if self.lost_from is not None and index > self.lost_from:
                break
            try:
                data = self.cache.get(index) or self.readahead.get(index)
            except PageDamaged:
                continue
            yield self.first_page(index), data
            if progress and index % 64 == 0:
                progress(100.0 * index / self.nr_blocks, "Decompressing image blocks")

    def first_page(self, index: int) -> int:
        return self.base + index * UNC_PAGES

    def block_pages(self, index: int) -> int:
        return min(UNC_PAGES, self.pages - self.base - index * UNC_PAGES)

    # -- locating blocks (docs/format.md §5.2) ---------------------------------------------

    def block_start(self, index: int) -> int:
        """Map entry of block `index`'s first page, found lazily from each block's length.
        A block whose length is damaged is skipped by finding the next block (salvage); if
        none is found, the stream is lost from there on."""
        starts = self.starts
        if self.lost_from is not None and index > self.lost_from:
            raise self._lost_error()
        while len(starts) <= index:  # starts[j + 1] is where block j ends
            j = len(starts) - 1
            try:
                starts.append(self._block_end(j, starts[j]))
            except SwsuspFormatError as found:
                exc = found
                if j > 0 and not self.lengths_checked and not self._starts_block(j - 1, starts[j - 1]):
                    # Block j-1 does not decompress either: the length that put block j here is
                    # suspect (a wrong one inside 1..CMP_SIZE_MAX makes a phantom block, whose
                    # count could cancel another resynchronisation's).  Resynchronise after j-1.
                    exc = self._block_error(j - 1, starts[j - 1])
                    j -= 1
                    self._forget_starts_from(j + 1)
                if not self._relocate(j + 1, starts[j] + 1):  # the rest of the stream cannot be located
                    self.lost_from = j
                    known = self.damage.at(self.first_page(j))  # block j may be recorded already
                    first = known.end if known is not None else self.first_page(j)
                    self.damage.add(Damage(first, self.pages, exc, j if known is None else j + 1))
                    raise exc from None
                self.damage.add(Damage(self.first_page(j), self.first_page(j + 1), exc, j))
        return starts[index]

    def _span(self, index: int) -> Tuple[int, int]:
        """Map entries [first, end) of block `index`.  The end is located first: locating it
        may re-locate the block itself (a phantom start found when the next length fails)."""
        end = self.block_start(index + 1)
        return self.block_start(index), end

    def _lost_error(self) -> SwsuspFormatError:
        assert self.lost_from is not None
        damage = self.damage.at(self.first_page(self.lost_from))
        assert damage is not None
        return damage.error

    def _block_end(self, j: int, first: int) -> int:
        """Map entry after compressed block j, which starts at entry `first`."""
        entries = self.swap_map.entries
        if first >= len(entries):
            raise self._broken() or SwsuspFormatError(
                f"stream ends before compressed block #{j} (map lists {len(entries)} pages)",
                self.area.block_offset(self.swap_map.map_blocks[-1]),
                block_index=j,
            )
        bad = first_bad_entry(self.swap_map, first, first + 1, self.area.holds_block, self.area.where)
        if bad:
            bad.block_index = j
            raise bad
        offset = self.area.block_offset(entries[first])
        head = self.area.source.read(offset, CMP_HEADER)
        if len(head) < CMP_HEADER:
            raise SwsuspFormatError(f"input ends inside compressed block #{j} (truncated file)", offset,
                                    block=entries[first], block_index=j)
        cmp_len = int.from_bytes(head, "little")
        if not 0 < cmp_len <= CMP_SIZE_MAX:
            raise SwsuspFormatError(
                f"compressed block length {cmp_len} is outside 1..{CMP_SIZE_MAX} "
                f"(more than {CMP_PAGES_MAX} pages)",
                offset,
                block=entries[first],
                block_index=j,
            )
        end = first + -(-(CMP_HEADER + cmp_len) // PAGE_SIZE)
        if end > len(entries):
            raise self._broken() or SwsuspFormatError(
                f"compressed block #{j} needs {end - first} pages but the map ends after {len(entries) - first}",
                offset,
                block_index=j,
            )
        if self.codec == "lzo" and not self._ends_lzo_stream(first, cmp_len):
            raise SwsuspFormatError(
                f"compressed block length {cmp_len} does not end on the LZO end-of-stream marker "
                "(a damaged length)", offset, block=entries[first], block_index=j)
        return end

    def _ends_lzo_stream(self, first: int, cmp_len: int) -> bool:
        """Whether the payload's last 3 bytes are lzo1x_1_compress's end marker (M4, distance 0:
        11 00 00).  A wrong length inside 1..CMP_SIZE_MAX is caught here, before it places the
        next block: one that lands exactly on a later block's start would skip that block
        unseen.  (LZ4 blocks have no end marker.)  Unreadable bytes are left to decompression."""
        entries = self.swap_map.entries
        start = CMP_HEADER + cmp_len - 3
        pieces = [(start, 3)] if start // PAGE_SIZE == (start + 2) // PAGE_SIZE else [(start + i, 1) for i in range(3)]
        tail = b""
        for pos, size in pieces:
            block = entries[first + pos // PAGE_SIZE]
            if not self.area.holds_block(block):
                return True
            tail += self.area.source.read(self.area.block_offset(block) + pos % PAGE_SIZE, size)
        return len(tail) < 3 or tail == b"\x11\x00\x00"

    def _broken(self) -> Optional[SwsuspFormatError]:
        """Why the map chain stopped early, as a new exception (the stored one stays frame-free)."""
        return self.swap_map.broken.copy() if self.swap_map.broken else None

    def _is_broken(self, exc: SwsuspFormatError) -> bool:
        broken = self.swap_map.broken
        return broken is not None and (exc.reason, exc.offset) == (broken.reason, broken.offset)

    def _relocate(self, k: int, lo: int, skip: Optional[int] = None, exact: bool = False) -> bool:
        """Block k-1 (at starts[k-1]) has an unusable length: find the next block among the
        RESYNC_WINDOW entries from `lo` and rebuild the index from it.  A candidate must
        decompress as a whole block; the lengths from it are then followed to the end of the
        map, finding the next block again after each other unusable length (_chain_from).

        Which block a found block is, is decided by counting: the blocks walked must be
        exactly the blocks left, then every block is placed (k independent damaged lengths
        cost k blocks).  Fewer blocks walked means some resynchronisation skipped more than
        its damaged block (two adjacent damaged lengths): the blocks after the last one are
        still placed, counted back from the map's end, but those between block k-1 and them
        are lost -- which of the resynchronisations skipped more cannot be told, and a block
        is never served under another block's pages.  With `exact` only the first outcome is
        accepted.  Bounded: 70 candidates, one pass over the remaining lengths for each that
        decompresses, and each entry decompressed at most once as a candidate."""
        entries = self.swap_map.entries
        if k >= self.nr_blocks or self.swap_map.broken:
            return False  # without the whole map, no identity check: lose the rest, guess nothing
        for candidate in range(lo, min(lo + RESYNC_WINDOW, len(entries))):
            if candidate == skip or not self._starts_block(k, candidate):
                continue
            segments = self._chain_from(k, candidate)
            if segments is None:
                continue
            walked = sum(len(seg) for seg in segments) - 1  # the last segment ends with the map's end
            short = (self.nr_blocks - k) - walked
            if short < 0 or (short and exact):
                continue  # more blocks than the image has: not block k
            if short == 0:
                self._forget_starts_from(k)
                label = k
                for seg in segments[:-1]:  # each ends with a block whose length is unusable
                    self.starts.extend(seg)
                    label += len(seg)
                    self._jumped(label - 1, seg[-1])
                self.starts.extend(segments[-1])
            else:
                # Counting back from the map's end places the blocks after the last skip; a
                # wrong length that lands on another block's start skips one inside a segment
                # too, so the placed blocks are checked from the end (each decompresses and its
                # length leads to the next) and placing stops at the first that does not.
                last = segments[-1]
                base = self.nr_blocks - (len(last) - 1)  # the last segment's first block, if no skip in it
                i = len(last) - 1
                while i > 0 and (self.lengths_checked or (len(last) - i <= PLACE_BACK_MAX
                                                          and self._starts_block(base + i - 1, last[i - 1]))):
                    i -= 1
                placed = base + i
                if placed >= self.nr_blocks:
                    continue  # not even the last block checks out
                self._forget_starts_from(k)
                self.starts.extend([last[i]] * (placed - k))  # unplaced: empty spans, never read
                self.starts.extend(last[i:])
                self.damage.add(Damage(self.first_page(k), self.first_page(placed), SwsuspFormatError(
                    f"compressed blocks #{k}-#{placed - 1} cannot be placed: after block #{k - 1}'s unusable "
                    f"length, {short} more block(s) than the damaged ones were skipped and where is ambiguous",
                    self.area.block_offset(entries[candidate]), block_index=k), k))
            return True
        return False

    def _jumped(self, j: int, start: int) -> None:
        """Record block j (at map entry `start`) as damaged: its length is unusable."""
        self.damage.add(Damage(self.first_page(j), self.first_page(j + 1), self._why_unusable(j, start), j))

    def _block_error(self, j: int, start: int) -> SwsuspFormatError:
        """Why block j does not read from map entry `start` (its length, or its data)."""
        try:
            self._decompress_span(j, start, self._block_end(j, start))
        except SwsuspFormatError as exc:
            exc.__traceback__ = None
            return exc
        return SwsuspFormatError(f"compressed block #{j} is suspect", None, block_index=j)

    def _why_unusable(self, j: int, start: int) -> SwsuspFormatError:
        try:
            self._block_end(j, start)
        except SwsuspFormatError as exc:
            exc.__traceback__ = None
            if exc.block_index is None:
                exc.block_index = j
            return exc
        return SwsuspFormatError(f"compressed block #{j}'s length leads to no block", None, block_index=j)

    def _starts_block(self, k: int, candidate: int) -> bool:
        """Whether block k's length and data read right from map entry `candidate` (memoised:
        relocation walks may ask again; nothing of the block is kept)."""
        key = (candidate, self.block_pages(k))
        known = self._candidates.get(key)
        if known is None:
            try:
                self._decompress_span(k, candidate, self._block_end(k, candidate))
                known = True
            except SwsuspFormatError:
                known = False
            self._candidates[key] = known
        return known

    def _chain_from(self, k: int, start: int) -> Optional[List[array]]:
        """The blocks from `start` (taken as block k) to the end of the map, following their
        lengths, as segments: each segment but the last ends with a block whose length is
        unusable, and the next one starts at the first entry of the following RESYNC_WINDOW
        where a block decompresses; the last ends with the map's end.  None if a
        resynchronisation finds no block or the walk does not end where the map does."""
        entries = self.swap_map.entries
        segments = [array("Q", [start])]
        j = k  # the walk's provisional number for the block at segments[-1][-1]
        while True:
            seg = segments[-1]
            here = seg[-1]
            if j >= self.nr_blocks:
                return None  # more blocks than the image has
            try:
                end = self._block_end(j, here)
            except SwsuspFormatError:
                # The length that led here must be right: a wrong one inside 1..CMP_SIZE_MAX
                # makes a phantom block whose count could cancel a wrongly chosen candidate's.
                if len(seg) < 2 or not (self.lengths_checked or self._starts_block(j - 1, seg[-2])):
                    return None
                if j + 1 == self.nr_blocks:  # the last block: it ends where the map does
                    if not 0 < len(entries) - here <= CMP_PAGES_MAX:
                        return None
                    seg.append(len(entries))
                    return segments
                nxt = next((c for c in range(here + 1, min(here + 1 + RESYNC_WINDOW, len(entries)))
                            if self._starts_block(j + 1, c)), None)
                if nxt is None:
                    return None
                segments.append(array("Q", [nxt]))
                j += 1
                continue
            seg.append(end)
            if end == len(entries):
                return segments
            j += 1

    # -- decompressing ---------------------------------------------------------------------

    def _decompress_span(self, index: int, first: int, end: int) -> bytes:
        """Block `index` from map entries [first, end).  A span that failed once fails again
        without being read (its error is remembered, frame-free): a block claiming a huge
        output costs one decompression, not one per pass, read-ahead or relocation walk."""
        key = (first, end, self.block_pages(index))
        failed = self._failed.get(key)
        if failed is not None:
            error = failed.copy()
            error.block_index = index if failed.block_index is not None else None
            raise error
        try:
            if not 0 < end - first <= CMP_PAGES_MAX:  # an unplaced block, or a damaged one's gap
                raise SwsuspFormatError(f"compressed block #{index} has no place in the map",
                                        self.area.block_offset(self.swap_map.entries[min(first, end - 1)])
                                        if end > 0 else None, block_index=index)
            raw = self.read_blocks(self.swap_map.entries[first:end], first)
            cmp_len = int.from_bytes(raw[:CMP_HEADER], "little")
            return self._decompress(
                raw[CMP_HEADER : CMP_HEADER + cmp_len],
                self.block_pages(index) * PAGE_SIZE,
                self.area.block_offset(self.swap_map.entries[first]),
                index,
            )
        except SwsuspFormatError as exc:
            self._failed[key] = exc.copy()
            raise

    def decompress_block(self, index: int) -> bytes:
        """Block `index` decompressed (uncached); PageDamaged if it cannot be, recorded.

        Damage found while locating the block (its length, read where a damaged neighbour's
        length put it) is checked once more against the neighbour: the order in which blocks
        were located (read-ahead locates early) must not change what is salvaged."""
        first = self.first_page(index)
        if self.damage.at(first) is None:
            try:
                return self._decompress_span(index, *self._span(index))
            except SwsuspFormatError as exc:
                if exc.block_index is None and not self._is_broken(exc):
                    exc.block_index = index
                if self.damage.at(first) is None:
                    self.damage.add(Damage(first, first + self.block_pages(index), exc, index))
        if index not in self._rechecked:
            self._rechecked.add(index)
            moved = self._restart_after_damaged(index)
            if moved is not None:
                return moved
        raise self._damaged(first)

    def _decompress_ahead(self, index: int) -> bytes:
        """Block `index` for a read-ahead worker: no bookkeeping (the caller's thread found the
        boundaries); any failure is redone by the caller on the salvage path."""
        try:
            first, end = self.starts[index], self.starts[index + 1]
        except IndexError:  # the caller is re-locating blocks (_forget_starts_from)
            raise SwsuspFormatError("block boundaries are being re-located", None, block_index=index) from None
        return self._decompress_span(index, first, end)

    def _forget_starts_from(self, k: int) -> None:
        """Blocks k.. are being re-located: drop their starts, and the blocks read ahead from
        the old ones (a worker's block could be another block's pages under this index)."""
        del self.starts[k:]
        self.readahead.drop()

    def _restart_after_damaged(self, index: int) -> Optional[bytes]:
        """Block `index` failed where the lengths put it.  If block index-1 is damaged too, its
        length (which placed this block) is suspect: look for this block in the 35 entries
        after index-1's start (with the identity check of _relocate)."""
        j = index - 1
        if j < 0 or len(self.starts) <= index or not self._is_damaged_block(j):
            return None
        if not self._relocate(index, self.starts[j] + 1, skip=self.starts[index], exact=True):
            return None
        self.lost_from = None if self.lost_from is None or self.lost_from >= index else self.lost_from
        self.damage.forget_blocks_from(index)
        self._rechecked = {i for i in self._rechecked if i <= index}
        return self._decompress_span(index, self.starts[index], self.starts[index + 1])

    def _is_damaged_block(self, j: int) -> bool:
        """Known damaged, or fails to decompress now (checked directly: no recursion)."""
        if self.damage.at(self.first_page(j)) is not None:
            return True
        if j in self.cache:
            return False
        try:
            self._decompress_span(j, *self._span(j))
        except SwsuspFormatError:
            return True
        return False
