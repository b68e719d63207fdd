"""Read-ahead (format/readahead.py) returns the bytes the plain path returns, stays bounded,
and stays out of the way of random access.  Truth: the generator's known memory and CRC."""

import os
import random
import threading
import time

import pytest

from samples import swsusp_gen
from volatility3.plugins.swsusp.format.errors import SwsuspFormatError
from volatility3.plugins.swsusp.format.image import SwsuspImage
from volatility3.plugins.swsusp.format.readahead import TRIGGER, Pacer, ReadAhead

PAGE = 4096
DEPTH = 4
BATCH = 2


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readahead")
    return lambda name: swsusp_gen.make_variant(name, str(folder))


def open_with(path, *, ahead: bool, cache_blocks: int = 2) -> SwsuspImage:
    """An image whose block reads go through a 2-worker read-ahead (forced on, whatever the
    host's core count) or through the plain path (read-ahead off)."""
    image = SwsuspImage.open(path, cache_blocks=cache_blocks)
    image.stream.readahead = ReadAhead(
        image.stream.decompress_block, image.stream.block_start, image.nr_blocks, image.stream.cache,
        workers=2 if ahead else 0, depth=DEPTH, batch=BATCH,
    )
    return image


class Watched:
    """Wrap an image's read-ahead to record how many blocks were ever in flight at once."""

    def __init__(self, image):
        self.ra, self.peak = image.stream.readahead, 0
        get = self.ra.get

        def watched(index):
            data = get(index)
            self.peak = max(self.peak, self.ra.in_flight())
            return data

        self.ra.get = watched


@pytest.mark.parametrize("name", ["medium-lzo", "era-6.9-lz4", "uswsusp-lzo"])
def test_in_order_walk_equals_generator_memory(variant, name):
    machine, _facts, path = variant(name)
    plain, ahead = open_with(path, ahead=False), open_with(path, ahead=True)
    watched = Watched(ahead)
    chunk = 5 * 32 * PAGE  # layerwriter-like reads spanning several blocks
    for first, count in ahead.runs():
        for pos in range(first * PAGE, (first + count) * PAGE, chunk):
            length = min(chunk, (first + count) * PAGE - pos)
            got = ahead.read(pos, length)
            assert got == plain.read(pos, length)
            for k in range(0, length, PAGE):
                assert got[k : k + PAGE] == machine.pages[(pos + k) // PAGE], f"PFN {(pos + k) // PAGE:#x}"
    assert ahead.stream.readahead.hits > 0, "the walk never used a prefetched block"
    assert watched.peak <= DEPTH and len(ahead.stream.cache) <= 2


@pytest.mark.parametrize("name", ["medium-lzo", "era-6.9-lz4"])
def test_stream_walk_crc(variant, name):
    _machine, facts, path = variant(name)
    image = open_with(path, ahead=True)
    watched = Watched(image)
    assert image.compute_crc32() == facts.crc32
    assert image.stream.readahead.hits > 0 and watched.peak <= DEPTH


def test_random_access_queues_nothing(variant):
    machine, _facts, path = variant("medium-lzo")
    image = open_with(path, ahead=True, cache_blocks=1)
    n = image.nr_blocks
    jumps = [i for pair in zip(range(n // 2), range(n // 2 + DEPTH + 1, n)) for i in pair]  # +big, -big, ...
    spans = [i for first in range(0, n - 1, 3) for i in (first, first + 1)]  # structures over two blocks
    for index in jumps + spans:
        image.stream.block(index)
    assert image.stream.readahead.queued == 0 and image.stream.readahead.in_flight() == 0
    pfns = sorted(machine.pages)
    for pfn in random.Random(5).sample(pfns, 100):
        assert image.read(pfn * PAGE, PAGE) == machine.pages[pfn]


def test_walk_that_turns_back_drops_its_queue(variant):
    machine, _facts, path = variant("medium-lzo")
    image = open_with(path, ahead=True, cache_blocks=1)
    for index in range(8):
        image.stream.block(index)
    assert image.stream.readahead.in_flight() > 0
    image.stream.block(1)  # backwards: no longer a forward walk
    assert image.stream.readahead.in_flight() == 0
    pfns = sorted(machine.pages)
    assert b"".join(bytes(image.read_page(p)) for p in pfns) == b"".join(machine.pages[p] for p in pfns)


def fake_blocks(fail_in_worker=(), bad_boundary_from=None):
    """fetch/prepare over 40 blocks of known bytes; fetch fails for some indices off the caller's thread."""
    main = threading.get_ident()
    failed = []

    def fetch(i):
        if i in fail_in_worker and threading.get_ident() != main:
            failed.append(i)
            raise SwsuspFormatError(f"worker failure {i}")
        return bytes([i]) * 8

    def prepare(i):
        if bad_boundary_from is not None and i >= bad_boundary_from:
            raise SwsuspFormatError("bad block length")

    fetch.failed = failed
    return fetch, prepare


def settled_get(ra, i):
    """get(i) once every queued block has been decompressed (so workers, not the caller, did them)."""
    ra.settle()
    return ra.get(i)


def test_failed_prefetch_is_redone_in_the_callers_thread():
    fetch, prepare = fake_blocks(fail_in_worker={5})
    ra = ReadAhead(fetch, prepare, 40, workers=2, depth=DEPTH, batch=BATCH)
    assert [settled_get(ra, i) for i in range(40)] == [bytes([i]) * 8 for i in range(40)]
    # blocks 0..TRIGGER come before the walk is recognised; 5 failed in a worker, so its
    # batch (5 and 6: batches start at TRIGGER + 1 = 3) is redone in this thread
    assert fetch.failed == [5] and ra.hits == 40 - (TRIGGER + 1) - BATCH


def test_bad_boundary_stops_the_queue_without_raising():
    fetch, prepare = fake_blocks(bad_boundary_from=10)
    ra = ReadAhead(fetch, prepare, 40, workers=2, depth=DEPTH, batch=BATCH)
    assert [ra.get(i) for i in range(20)] == [bytes([i]) * 8 for i in range(20)]
    assert ra.in_flight() == 0  # nothing queued past the bad boundary, and all taken before it


def test_unsafe_source_gets_no_readahead():
    fetch, prepare = fake_blocks()
    ra = ReadAhead(fetch, prepare, 40, workers=0)
    assert [ra.get(i) for i in range(40)] == [bytes([i]) * 8 for i in range(40)]
    assert ra.hits == 0 and ra.in_flight() == 0


def test_pacer_keeps_the_faster_mode_and_probes_again():
    """A scripted clock: a block costs `cost[mode]`; windows of 4 blocks, 2 kept, none settling."""
    for cost, winner in (({True: 1, False: 3}, True), ({True: 3, False: 1}, False)):
        now = [0.0]
        pacer = Pacer(probe=4, keep=2, clock=lambda now=now: now[0])
        modes = []
        for _ in range(4 * 9):
            mode = pacer.step()
            modes.append(mode)
            now[0] += cost[mode]
        windows = [modes[i : i + 4] for i in range(0, len(modes), 4)]
        assert all(len(set(w)) == 1 for w in windows), "a mode holds for a whole window"
        # on-probe, off-probe, the winner twice; again
        assert [w[0] for w in windows] == [True, False, winner, winner] * 2 + [True]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_wait_for_the_parents_workers():
    """A child forked mid-walk has none of the pool's threads: it must decompress by itself."""
    fetch, prepare = fake_blocks()
    ra = ReadAhead(fetch, prepare, 40, workers=2, depth=DEPTH, batch=BATCH)
    assert [ra.get(i) for i in range(10)] == [bytes([i]) * 8 for i in range(10)]
    pid = os.fork()
    if pid == 0:  # child: any hang is caught by the parent's timeout below
        ok = [ra.get(i) for i in range(10, 40)] == [bytes([i]) * 8 for i in range(10, 40)]
        os._exit(0 if ok else 1)
    for _ in range(200):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung waiting for blocks queued in the parent")
    assert os.waitstatus_to_exitcode(status) == 0
