"""Benchmarks (run on demand, not in CI): `python tests/bench_layer.py [--gib N]`.

Every figure is a ratio against a baseline measured in the same run:
  (a) `vol linux.pslist` on the real LZO image vs on its pre-hibernation ELF dump;
  (b) reading every page through the Volatility layer vs a bare loop decompressing the same
      blocks with the same codec;
  (c) index bytes per page and peak RSS when opening a synthetic image of >= 2 GiB of pages,
      vs a process that only imports the same modules;
  (d) `vol linux.swsusp_safepgt --resume-dump … --rebuild` on the real run-B pair vs stock
      `vol linux.pslist` on the same image;
  (e) time to first answer: `vol linux.pslist` (stacking + one plugin) on a 4 GiB-of-pages
      synthetic LZO image vs on a 100 MiB one;
  (f) export: `vol layerwriter` (the physical layer as a raw file) on a --gib image, in MB/s
      of image pages, vs the bare decompress loop of (b) over the same blocks;
  (g) random 4 KiB reads of present pages through the layer on that image vs through
      Volatility's FileLayer on the raw dump (f) wrote;
  (h) peak RSS (VmHWM) of a process opening and reading every page of a 4 GiB-of-pages
      image vs a 1 GiB one (and the anonymous part of it).

(c) and (e)-(h) use synthetic images (samples/swsusp_gen.write_large_image, which carry the
synthetic kernel's task list) written once into one temporary directory under /tmp.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import volatility3.plugins  # noqa: E402

volatility3.plugins.__path__.insert(0, str(REPO / "plugins"))

from tests import realsamples  # noqa: E402


def wall(cmd, env):
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def bench_pslist(real, cache):
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    base = [realsamples.vol_command(), "-q", "-p", str(REPO / "plugins"), "-s", f"{REPO / 'symbols'};{real.symbols}"]
    runs = {}
    for name, path in (("elf dump", real.path("prehib-lzo.elf")), ("image", real.image("lzo"))):
        cmd = base + ["-f", str(path), "linux.pslist"]
        wall(cmd, env)  # warm the symbol caches
        runs[name] = statistics.median(wall(cmd, env) for _ in range(3))
    return runs["image"], runs["elf dump"]


def bench_safepgt(real, cache):
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    base = [realsamples.vol_command(), "-q", "-p", str(REPO / "plugins"), "-s", f"{REPO / 'symbols'};{real.symbols}"]
    image = str(real.image("lzo-b"))
    with tempfile.TemporaryDirectory() as out:
        cmds = {
            "safepgt": base + ["-o", out, "-f", image, "linux.swsusp_safepgt", "--resume-dump",
                               str(real.path("resume-bootkernel-b.elf")), "--rebuild"],
            "pslist": base + ["-f", image, "linux.pslist"],
        }
        for cmd in cmds.values():
            wall(cmd, env)  # warm caches
        return {name: statistics.median(wall(cmd, env) for _ in range(3)) for name, cmd in cmds.items()}


def bare_decompress(path):
    """Bytes per second of a bare single-thread loop reading and decompressing every
    compressed block of the image (the baseline of (b) and (f))."""
    from volatility3.plugins.swsusp.format.compress import BlockDecompressor
    from volatility3.plugins.swsusp.format.image import SwsuspImage

    image = SwsuspImage.open(path)
    decompress = BlockDecompressor(image.codec)
    entries = image.swap_map.entries
    t = time.perf_counter()
    nbytes = 0
    for index in range(image.nr_blocks):
        first, end = image._block_start(index), image._block_start(index + 1)
        raw = b"".join(image.source.read(image.block_offset(b), 4096) for b in entries[first:end])
        n = int.from_bytes(raw[:8], "little")
        nbytes += len(decompress(raw[8 : 8 + n], image._block_pages(index) * 4096, 0, index))
    return nbytes / (time.perf_counter() - t)


def bench_read(real):
    from volatility3.framework import contexts
    from volatility3.framework.layers import physical
    from volatility3.plugins.swsusp.vol.layer import IMAGES, SwsuspLayer

    path = real.image("lzo")
    # baseline: the same blocks, read and decompressed in a bare loop
    bare = bare_decompress(path)

    IMAGES._images.clear()
    ctx = contexts.Context()
    ctx.config["file.location"] = path.as_uri()
    ctx.add_layer(physical.FileLayer(ctx, "file", "file"))
    ctx.config["swsusp.base_layer"] = "file"
    layer = SwsuspLayer(ctx, "swsusp", "swsusp")
    t = time.perf_counter()
    nbytes = 0
    for offset, length, *_ in layer.mapping(0, layer.maximum_address + 1, ignore_errors=True):
        for pos in range(offset, offset + length, 1 << 20):
            nbytes += len(layer.read(pos, min(1 << 20, offset + length - pos)))
    ours = nbytes / (time.perf_counter() - t)
    return ours, bare


OPEN_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import volatility3.plugins
volatility3.plugins.__path__.insert(0, sys.argv[1] + "/plugins")
from volatility3.plugins.swsusp.format.image import SwsuspImage
def hwm_kb():  # VmHWM restarts at exec, unlike ru_maxrss (inherited through vfork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
t = time.perf_counter()
image = SwsuspImage.open(sys.argv[2]) if sys.argv[2] != "-" else None
seconds = time.perf_counter() - t
out = {"rss_kb": hwm_kb(), "seconds": seconds}
if image:
    out.update(index=image.index_nbytes(), pages=image.info.image_pages + image.zero_page_count)
print(json.dumps(out))
"""


class SyntheticImages:
    """Synthetic LZO images, written on first use into one temporary directory and shared."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self._made = {}

    def get(self, gib):
        """(path, LargeFacts) of an image holding `gib` GiB of pages."""
        from samples import swsusp_gen

        if gib not in self._made:
            path = self.dir / f"large-{gib:g}gib.img"
            self._made[gib] = path, swsusp_gen.write_large_image(str(path), gib=gib, codec="lzo")
        return self._made[gib]


def bench_open(images, gib):
    path, facts = images.get(gib)
    run = lambda arg: json.loads(
        subprocess.run([sys.executable, "-c", OPEN_CHILD, str(REPO), arg], capture_output=True, text=True, check=True).stdout
    )
    base, opened = run("-"), run(str(path))
    return opened, base, facts.seconds_to_write, os.path.getsize(path)


def synthetic_vol(cache):
    """The `vol` command line for the synthetic images (plugins and the synthetic ISF)."""
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    return [realsamples.vol_command(), "-q", "-p", str(REPO / "plugins"), "-s", str(REPO / "symbols")], env


def bench_first_answer(images, cache, big_gib, small_gib=100 / 1024):
    """(e) median wall time of `vol linux.pslist` on the big and the small image."""
    base, env = synthetic_vol(cache)
    cmds = {}
    for gib in (big_gib, small_gib):
        path, facts = images.get(gib)
        cmds[gib] = base + ["-f", str(path), "linux.pslist"]
        out = subprocess.run(cmds[gib], env=env, check=True, capture_output=True, text=True).stdout  # warms caches
        missing = [comm for pid, comm, _va in facts.tasks if pid and comm[:15] not in out]
        if missing:
            raise SystemExit(f"(e) linux.pslist on {path} does not list {missing}:\n{out}")
    times = {gib: [] for gib in cmds}
    for _ in range(3):
        for gib, cmd in cmds.items():
            times[gib].append(wall(cmd, env))
    return statistics.median(times[big_gib]), statistics.median(times[small_gib])


def export(images, gib, cache, out_dir):
    """`vol layerwriter` on the image: (raw dump path, wall seconds)."""
    path, _facts = images.get(gib)
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    cmd = [realsamples.vol_command(), "-q", "-p", str(REPO / "plugins"), "-f", str(path), "-o", str(out_dir), "layerwriter"]
    seconds = wall(cmd, env)
    raws = list(Path(out_dir).glob("*.raw"))
    if len(raws) != 1:
        raise SystemExit(f"(f) layerwriter wrote {raws} into {out_dir}")
    return raws[0], seconds


def bench_export(images, gib, cache, out_dir):
    """(f) image-page bytes per second of `vol layerwriter`, and of the bare decompress loop."""
    path, facts = images.get(gib)
    raw, seconds = export(images, gib, cache, out_dir)
    bare = bare_decompress(path)
    page_bytes = facts.saved_pages * 4096
    return page_bytes / seconds, bare, os.path.getsize(raw), page_bytes


def bench_random(images, gib, raw, reads):
    """(g) seconds per random 4 KiB read of a present page: SwsuspLayer on the image vs
    FileLayer on the raw dump of the same memory (the same pages, in the same order)."""
    from volatility3.framework import contexts
    from volatility3.framework.layers import physical
    from volatility3.plugins.swsusp.vol.layer import IMAGES, SwsuspLayer

    path, _facts = images.get(gib)
    IMAGES._images.clear()
    ctx = contexts.Context()
    ctx.config["file.location"] = path.as_uri()
    ctx.add_layer(physical.FileLayer(ctx, "file", "file"))
    ctx.config["swsusp.base_layer"] = "file"
    ctx.add_layer(SwsuspLayer(ctx, "swsusp", "swsusp"))
    ctx.config["raw.location"] = Path(raw).as_uri()
    ctx.add_layer(physical.FileLayer(ctx, "raw", "raw"))
    ours, dump = ctx.layers["swsusp"], ctx.layers["raw"]
    rng = random.Random(f"bench-random-{gib}")
    runs = list(ours.image.runs())
    total = sum(count for _first, count in runs)
    picks = sorted(rng.randrange(total) for _ in range(reads))
    addresses, seen, r = [], 0, 0  # the k-th present page, for each pick
    for k in picks:
        while k >= seen + runs[r][1]:
            seen += runs[r][1]
            r += 1
        addresses.append((runs[r][0] + k - seen) * 4096)
    rng.shuffle(addresses)
    sample = addresses[: min(200, reads)]
    if any(ours.read(a, 4096) != dump.read(a, 4096) for a in sample):
        raise SystemExit(f"(g) the layer and the raw dump {raw} differ")
    IMAGES._images.clear()
    ours.image._cache.clear()

    def per_read(layer):
        t = time.perf_counter()
        for a in addresses:
            layer.read(a, 4096)
        return (time.perf_counter() - t) / len(addresses)

    times = {"ours": [], "dump": []}
    for _ in range(3):
        times["ours"].append(per_read(ours))
        times["dump"].append(per_read(dump))
    return statistics.median(times["ours"]), statistics.median(times["dump"])


READ_CHILD = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import volatility3.plugins
volatility3.plugins.__path__.insert(0, sys.argv[1] + "/plugins")
from volatility3.framework import contexts
from volatility3.framework.layers import physical
from volatility3.plugins.swsusp.vol.layer import SwsuspLayer
def status():  # VmHWM restarts at exec; RssAnon/RssFile split the current RSS
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])
    return out
ctx = contexts.Context()
ctx.config["file.location"] = Path(sys.argv[2]).as_uri()
ctx.add_layer(physical.FileLayer(ctx, "file", "file"))
ctx.config["swsusp.base_layer"] = "file"
layer = SwsuspLayer(ctx, "swsusp", "swsusp")
nbytes = 0
for offset, length, *_ in layer.mapping(0, layer.maximum_address + 1, ignore_errors=True):
    for pos in range(offset, offset + length, 1 << 20):
        nbytes += len(layer.read(pos, min(1 << 20, offset + length - pos)))
print(json.dumps(dict(status(), bytes=nbytes)))
"""


def bench_rss(images, small_gib, big_gib):
    """(h) /proc/self/status of a child that opened and read every page, per image size."""
    out = {}
    for gib in (small_gib, big_gib):
        path, facts = images.get(gib)
        run = subprocess.run([sys.executable, "-c", READ_CHILD, str(REPO), str(path)], capture_output=True, text=True, check=True)
        out[gib] = json.loads(run.stdout)
        if out[gib]["bytes"] != facts.saved_pages * 4096:
            raise SystemExit(f"(h) read {out[gib]['bytes']} bytes of {path}, expected {facts.saved_pages * 4096}")
    return out[big_gib], out[small_gib]


SKIPS = ["pslist", "read", "open", "safepgt", "first-answer", "export", "random", "rss"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="GiB of pages in the synthetic image for (c), (f), (g)")
    parser.add_argument("--big-gib", type=float, default=4.0, help="GiB of pages of the big image of (e) and (h)")
    parser.add_argument("--reads", type=int, default=10000, help="random 4 KiB reads per pass in (g)")
    parser.add_argument("--skip", nargs="*", default=[], choices=SKIPS)
    args = parser.parse_args()
    started = time.perf_counter()
    real = realsamples.RealSamples.find()
    rows = []
    if real is None:
        print(f"(a), (b) and (d) skipped: {realsamples.MISSING_REASON}")
    else:
        if "pslist" not in args.skip:
            with tempfile.TemporaryDirectory() as cache:
                image, elf = bench_pslist(real, Path(cache))
            rows.append(("(a) vol linux.pslist: image / ELF dump", f"{image:.2f} s / {elf:.2f} s", image / elf, "<= 1.5"))
        if "safepgt" not in args.skip:
            with tempfile.TemporaryDirectory() as cache:
                times = bench_safepgt(real, Path(cache))
            rows.append(("(d) safepgt --resume-dump --rebuild / pslist", f"{times['safepgt']:.2f} s / {times['pslist']:.2f} s",
                         times["safepgt"] / times["pslist"], "<= 1.0"))
        if "read" not in args.skip:
            ours, bare = bench_read(real)
            rows.append(("(b) read all pages: layer / bare decompress", f"{ours / 1e6:.0f} / {bare / 1e6:.0f} MB/s", ours / bare, ">= 0.6"))
    with tempfile.TemporaryDirectory(prefix="bench-layer-", dir="/tmp") as tmp:
        images = SyntheticImages(tmp)
        cache = Path(tmp, "cache")
        if "open" not in args.skip:
            opened, base, _made, size = bench_open(images, args.gib)
            pages = opened["pages"]
            rows.append((f"(c) open {pages * 4096 / 2**30:.2f} GiB-of-pages image ({size / 2**30:.2f} GiB file)",
                         f"{opened['seconds']:.2f} s", opened["index"] / pages, "index bytes/page"))
            rows.append(("(c) peak RSS: opened / imports only", f"{opened['rss_kb'] / 1024:.0f} / {base['rss_kb'] / 1024:.0f} MiB",
                         opened["rss_kb"] / base["rss_kb"], f"(+{(opened['rss_kb'] - base['rss_kb']) / 1024:.1f} MiB)"))
        if "first-answer" not in args.skip:
            big, small = bench_first_answer(images, cache, args.big_gib)
            rows.append((f"(e) first answer, vol linux.pslist: {args.big_gib:g} GiB / 100 MiB of pages",
                         f"{big:.2f} s / {small:.2f} s", big / small, "<= 2.0"))
        raw = None
        if "export" not in args.skip:
            ours, bare, raw_size, page_bytes = bench_export(images, args.gib, cache, Path(tmp, "export"))
            raw = next(Path(tmp, "export").glob("*.raw"))
            rows.append((f"(f) export {page_bytes / 2**30:.2f} GiB of pages ({raw_size / 2**30:.2f} GiB raw): layerwriter / bare",
                         f"{ours / 1e6:.0f} / {bare / 1e6:.0f} MB/s", ours / bare, ">= 0.7"))
        if "random" not in args.skip:
            if raw is None:
                raw, _seconds = export(images, args.gib, cache, Path(tmp, "export"))
            ours, dump = bench_random(images, args.gib, raw, args.reads)
            rows.append((f"(g) random 4 KiB read ({args.reads} pages): layer / FileLayer on raw",
                         f"{ours * 1e6:.1f} / {dump * 1e6:.1f} us", ours / dump, "<= 2.0"))
        if raw is not None:
            os.unlink(raw)
        if "rss" not in args.skip:
            big, small = bench_rss(images, 1.0, args.big_gib)
            rows.append((f"(h) peak RSS, open + read all: {args.big_gib:g} GiB / 1 GiB of pages",
                         f"{big['VmHWM'] / 1024:.0f} / {small['VmHWM'] / 1024:.0f} MiB", big["VmHWM"] / small["VmHWM"], "flat (~1.0)"))
            rows.append(("(h)   of which anonymous (RssAnon at the end)",
                         f"{big['RssAnon'] / 1024:.0f} / {small['RssAnon'] / 1024:.0f} MiB", big["RssAnon"] / small["RssAnon"],
                         f"(file-backed: {big['RssFile'] / 1024:.0f} / {small['RssFile'] / 1024:.0f} MiB)"))
    width = max(len(r[0]) for r in rows) if rows else 0
    for name, raw_figures, ratio, goal in rows:
        print(f"{name:<{width}}  {raw_figures:>24}  ratio {ratio:6.3f}  {goal}")
    print(f"(wall time of the run: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
