"""Benchmarks (run on demand, not in CI): `python tests/bench_layer.py [--gib N]`.

Every figure is a ratio against a baseline measured in the same run:
  (a) `vol linux.pslist` on the real LZO image vs on its pre-hibernation ELF dump;
  (b) reading every page through the Volatility layer vs a bare loop decompressing the same
      blocks with the same codec;
  (c) index bytes per page and peak RSS when opening a synthetic image of >= 2 GiB of pages,
      vs a process that only imports the same modules;
  (d) `vol linux.swsusp_safepgt --resume-dump … --rebuild` on the real run-B pair vs stock
      `vol linux.pslist` on the same image.
"""

import argparse
import json
import os
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


def bench_read(real):
    from volatility3.framework import contexts
    from volatility3.framework.layers import physical
    from volatility3.plugins.swsusp.format.compress import BlockDecompressor
    from volatility3.plugins.swsusp.format.image import SwsuspImage
    from volatility3.plugins.swsusp.vol.layer import IMAGES, SwsuspLayer

    path = real.image("lzo")
    # baseline: the same blocks, read and decompressed in a bare loop
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
    bare = nbytes / (time.perf_counter() - t)

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


def bench_open(gib):
    from samples import swsusp_gen

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "large.img")
        t = time.perf_counter()
        swsusp_gen.write_large_image(path, gib=gib, codec="lzo")
        made = time.perf_counter() - t
        run = lambda arg: json.loads(
            subprocess.run([sys.executable, "-c", OPEN_CHILD, str(REPO), arg], capture_output=True, text=True, check=True).stdout
        )
        base, opened = run("-"), run(path)
        size = os.path.getsize(path)
    return opened, base, made, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="GiB of pages in the synthetic image for (c)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["pslist", "read", "open", "safepgt"])
    args = parser.parse_args()
    real = realsamples.RealSamples.find()
    rows = []
    if real is None:
        print(f"(a) and (b) skipped: {realsamples.MISSING_REASON}")
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
    if "open" not in args.skip:
        opened, base, made, size = bench_open(args.gib)
        pages = opened["pages"]
        rows.append((f"(c) open {pages * 4096 / 2**30:.2f} GiB-of-pages image ({size / 2**30:.2f} GiB file)",
                     f"{opened['seconds']:.2f} s", opened["index"] / pages, "index bytes/page"))
        rows.append(("(c) peak RSS: opened / imports only", f"{opened['rss_kb'] / 1024:.0f} / {base['rss_kb'] / 1024:.0f} MiB",
                     opened["rss_kb"] / base["rss_kb"], f"(+{(opened['rss_kb'] - base['rss_kb']) / 1024:.1f} MiB)"))
    width = max(len(r[0]) for r in rows) if rows else 0
    for name, raw, ratio, goal in rows:
        print(f"{name:<{width}}  {raw:>24}  ratio {ratio:6.3f}  {goal}")


if __name__ == "__main__":
    main()
