"""Read-ahead for walks over compressed blocks in stream order (issue 5).

A whole-image walk (`vol layerwriter`, the CRC/MD5 of `iter_stream_chunks`) misses the block
cache on every block and waits for each decompression in turn.  lzallright's LZO, lz4.block
and os.pread all release the GIL (2 threads decompress the real LZO blocks ~1.9x as fast as
one on 2 idle cores; tests/bench_layer.py part (i)), so the next few blocks can be read and
decompressed on a small shared thread pool while the caller consumes this one.  Blocks go
to the pool BATCH at a time: hand-overs between threads are what costs here.

Sequential access is detected on cache misses only: after TRIGGER misses that each step to
the next block, the next blocks are queued (one batch at first, up to `depth`).  Any other
miss drops the queue, so random access pays a few comparisons per miss and nothing else
(on the linux.psaux trace, a looser rule -- any forward step within `depth` -- queued 7x
more blocks than it used).  Memory stays
bounded: at most `depth` decompressed blocks (128 KiB each; 32 with 2 workers) wait in
futures.  Only sources that can be read from several threads (pread) get workers.

Whether the workers pay depends on the machine's other load, so a walk is timed with them
and without (Pacer) and uses the faster, probing again every few hundred blocks.

Workers only call `fetch_ahead(index)` (no bookkeeping); everything that is not safe to run concurrently (finding
block boundaries, which appends to the lazily built index) runs in the caller's thread
through `prepare`.  A prefetch that failed is redone in the caller's thread, so errors
surface exactly as on the plain path.
"""

import os
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, wait
from typing import Callable, Container, Dict, List, Optional, Tuple

from .errors import PageNotInImage, SwsuspFormatError

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
WORKERS = min(4, CORES)  # decompression is CPU-bound: more threads than cores only queue
# Blocks per task: a hand-over between threads costs tens of microseconds here (1 block per
# task cost ~40% more CPU than the plain loop, 8 blocks ~2%); a block takes ~250 us.
BATCH = 8
DEPTH_PER_WORKER = 2 * BATCH  # one batch being decompressed and one ready, per worker
TRIGGER = 3  # steps to the next block before read-ahead starts: a structure may span two
# A walk is timed in windows of PROBE blocks with read-ahead on, then off, and the faster mode
# runs for KEEP windows: on a machine whose other cores are busy the workers only add
# hand-overs (a whole-image export ran ~25% slower with them there, and 1.3-1.9x faster on
# idle cores).  Windows time the caller's work too (holes, copies), so "off" must win by
# MARGIN: with an even choice a quiet export still ran a quarter of its windows without workers.
PROBE = 128
KEEP = 8
MARGIN = 1.1

_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()
_forks = 0  # a forked child has none of the pool's threads: its queued blocks would never come


def _shared_pool() -> ThreadPoolExecutor:
    """One pool for every open image, started on first use (most runs never walk in order)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="swsusp-readahead")
        return _pool


def _after_fork_in_child() -> None:
    global _pool, _pool_lock, _forks
    _pool, _pool_lock, _forks = None, threading.Lock(), _forks + 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ReadAhead:
    """Blocks by index, decompressed ahead of a caller that walks them in order.

    fetch(index) -> bytes     decompress one block in the caller's thread (with its bookkeeping)
    fetch_ahead(index)        the same for a worker: safe to call from another thread once
                              prepare(index + 1) has run in the caller's thread (default: fetch)
    prepare(index)            the non-thread-safe bookkeeping fetch(index - 1) relies on
    cached                    indices the caller already holds (not worth prefetching)
    workers                   0 turns read-ahead off (a source that cannot be read from
                              several threads at once)
    depth, batch              blocks queued ahead at most, and per task
    """

    def __init__(
        self,
        fetch: Callable[[int], bytes],
        prepare: Callable[[int], object],
        nr_blocks: int,
        cached: Container[int] = (),
        workers: int = WORKERS,
        depth: Optional[int] = None,
        batch: int = BATCH,
        fetch_ahead: Optional[Callable[[int], bytes]] = None,
    ) -> None:
        self._fetch, self._prepare, self._n, self._cached = fetch, prepare, nr_blocks, cached
        self._fetch_ahead = fetch_ahead or fetch
        self.enabled = workers > 1 or (workers == 1 and CORES > 1)
        self.depth = depth if depth is not None else DEPTH_PER_WORKER * max(1, workers)
        self.batch = max(1, min(batch, self.depth))
        self._pending: Dict[int, Tuple[Future, int]] = {}  # index -> (its batch's task, place in it)
        self._last = -1 << 62  # index of the previous miss
        self._streak = 0
        self._next = 0  # first index not queued yet in this walk
        self._pacer = Pacer(settle=min(self.depth, PROBE // 2))
        self._forks = _forks
        self._lock = threading.Lock()  # guards the fields above, not the caller's cache
        self.hits = self.misses = self.queued = 0  # prefetched blocks used / decompressed by the caller / queued

    def get(self, index: int) -> bytes:
        """Block `index` (a cache miss of the caller): prefetched if it was, else decompressed here."""
        queued = None
        if self._forks != _forks:  # forked since: queued blocks belong to the parent's threads
            self._pending, self._next, self._streak, self._forks = {}, 0, 0, _forks
            self._lock = threading.Lock()
        if self.enabled:
            with self._lock:
                queued = self._pending.pop(index, None)
                if self._note(index):
                    if self._streak == TRIGGER:
                        self._pacer.start()
                    if self._pacer.step():
                        self._queue_after(index)
        if queued is not None:
            future, k = queued
            try:
                data = future.result()[k]
                self.hits += 1
                return data
            # redo here: the error (or its salvage) is the plain path's; a batch cancelled as
            # stale for one of its blocks is cancelled for the others too
            except (SwsuspFormatError, PageNotInImage, CancelledError):
                pass
        self.misses += 1
        return self._fetch(index)

    def settle(self) -> None:
        """Wait until every queued block is decompressed (tests: the workers did them)."""
        wait([future for future, _k in list(self._pending.values())])

    def drop(self) -> None:
        """Forget every queued block: the caller re-located block boundaries, so what the
        workers read from the old ones must not be handed out (called in the caller's thread,
        possibly from `prepare` inside get(): no lock taken here)."""
        self._drop()

    def in_flight(self) -> int:
        """Blocks queued or decompressed and not yet taken (bounded by `depth`)."""
        return len(self._pending)

    def _note(self, index: int) -> bool:
        """Record a miss; True while the misses walk block by block (over cached blocks only)."""
        last, self._last = self._last, index
        skipped = range(last + 1, index) if last < index <= last + self.batch else None
        if index == last + 1 or (skipped and all(i in self._cached for i in skipped)):
            self._streak += 1
        else:
            self._streak = 0
            self._drop()
        return self._streak >= TRIGGER

    def _drop(self) -> None:
        """Forget queued blocks: the walk left them behind (results of running ones are discarded)."""
        for future, _k in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._next = 0

    def _queue_after(self, index: int) -> None:
        """Queue the blocks after `index`, `batch` to a task: one batch ahead when the walk is
        first seen, one more per block walked since, up to `depth` (a short run of in-order
        misses, e.g. one large structure, wastes at most one batch)."""
        for stale in [i for i in self._pending if i < index]:  # skipped over: cached meanwhile
            self._pending.pop(stale)[0].cancel()
        ahead = min(self.depth, self.batch * (self._streak - TRIGGER + 1))
        start = max(index + 1, self._next)
        while start < self._n and start + self.batch <= index + 1 + ahead:
            batch: List[int] = []
            for i in range(start, min(self._n, start + self.batch)):
                if i in self._cached or i in self._pending:
                    continue
                try:
                    self._prepare(i + 1)  # block boundaries up to i's end, in this thread
                except (SwsuspFormatError, PageNotInImage):  # a broken length: reported when the walk gets there
                    self._next = self._n
                    self._submit(batch)
                    return
                batch.append(i)
            self._next = start = min(self._n, start + self.batch)
            self._submit(batch)

    def _submit(self, batch: List[int]) -> None:
        if batch:
            future = _shared_pool().submit(self._fetch_all, batch)
            for k, i in enumerate(batch):
                self._pending[i] = (future, k)
            self.queued += len(batch)

    def _fetch_all(self, batch: List[int]) -> List[bytes]:
        return [self._fetch_ahead(i) for i in batch]


class Pacer:
    """Which mode a walk should use now: time windows of `probe` blocks with read-ahead on,
    then off, then keep the faster for `keep` windows, and so on.  A window's clock starts
    `settle` blocks in, so the blocks an earlier window queued (and the ramp-up) do not count."""

    def __init__(self, probe: int = PROBE, keep: int = KEEP, settle: int = 0, clock=time.perf_counter) -> None:
        self.probe, self.keep, self.settle, self._clock = probe, keep, min(settle, probe - 1), clock
        self.start()

    def start(self) -> None:
        """A new walk: probe again (the machine's load may have changed)."""
        self.ahead, self._walked, self._started = True, 0, 0.0
        self._seconds: Dict[bool, float] = {}

    def step(self) -> bool:
        """Count one block of the walk; True if read-ahead should run for it."""
        window, k = divmod(self._walked, self.probe)
        self._walked += 1
        mode = self.ahead
        if k == self.settle:
            self._started = self._clock()
        if k == self.probe - 1:  # the window ends: time it if it was a probe, choose the next mode
            if window % (2 + self.keep) < 2:
                self._seconds[mode] = self._clock() - self._started
            nxt = (window + 1) % (2 + self.keep)
            self.ahead = nxt == 0 or (nxt > 1 and self._seconds[True] <= self._seconds[False] * MARGIN)
        return mode
