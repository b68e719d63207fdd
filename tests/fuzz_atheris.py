"""Coverage-guided fuzzing of the image reader with atheris (libFuzzer), for long runs.

Not part of the pytest suite (tests/test_fuzz.py is its bounded, reproducible sibling, and
this harness reuses its variants, mutations and contract).  atheris is optional and not in
the test extra:

    pip install atheris
    python tests/fuzz_atheris.py -max_total_time=300 -print_final_stats=1 [corpus_dir]

The fuzz input does not replace the image: it is a small program of damage applied to one of
the synthetic variants (which variant, then mutations at the reader's structures: header
fields, map entries, info and PFN-list words, compressed-block lengths and payloads, splices,
chain loops, truncation).  Every input must satisfy test_fuzz.check_contract: only
SwsuspFormatError / PageNotInImage escape, one-line messages with offsets inside the input,
bounded time and memory.  A violation is a crash; libFuzzer saves the input as crash-<sha1>,
and `python tests/fuzz_atheris.py crash-<sha1>` replays it and prints the Case (paste that
into test_fuzz.py as a regression example).

--no-memory skips the tracemalloc check (about twice as many inputs per second).
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PAGE = 4096


def _load(instrument: bool):
    """Import the reader (instrumented for coverage) and the suite's building blocks."""
    sys.path.insert(0, REPO)
    import tests.conftest  # noqa: F401  (puts the checkout's plugins first)

    if instrument:
        import atheris

        with atheris.instrument_imports(include=["volatility3.plugins.swsusp"]):
            import volatility3.plugins.swsusp.format.image  # noqa: F401
            import volatility3.plugins.swsusp.format.locate  # noqa: F401
    from tests import test_fuzz

    return test_fuzz


def _case(tf, data: bytes):
    """Decode fuzz bytes into a test_fuzz.Case."""
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    name = tf.VARIANTS[fdp.ConsumeIntInRange(0, len(tf.VARIANTS) - 1)]
    b = tf.base(name)
    anchors = sorted(b.anchors)
    muts = []
    for _ in range(fdp.ConsumeIntInRange(1, 6)):
        if fdp.remaining_bytes() == 0:
            break
        op = fdp.ConsumeIntInRange(0, 7)
        anchor = anchors[fdp.ConsumeIntInRange(0, len(anchors) - 1)]
        delta = fdp.ConsumeIntInRange(0, PAGE - 1)
        if op == 0:
            muts.append(tf.Flip(anchor, delta, fdp.ConsumeIntInRange(0, 7)))
        elif op == 1:
            muts.append(tf.Put(anchor, delta, fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 16)) or b"\0"))
        elif op == 2:  # a word of the uncompressed stream: info page, PFN list
            page = fdp.ConsumeIntInRange(0, b.facts.meta_pages + 1)
            muts.append(tf.StreamPut(page, delta & ~7, tf.u64(fdp.ConsumeInt(8))))
        elif op == 3:  # a boundary or contextual value at a u64 slot
            values = tf.BOUNDARY + tuple(b.context)
            muts.append(tf.Put(anchor, delta & ~7, tf.u64(values[fdp.ConsumeIntInRange(0, len(values) - 1)])))
        elif op == 4:
            muts.append(tf.Splice(anchor, anchors[fdp.ConsumeIntInRange(0, len(anchors) - 1)]))
        elif op == 5 and any(a.startswith("map") for a in anchors):
            maps = [a for a in anchors if a.startswith("map")]
            muts.append(tf.Chain(maps[fdp.ConsumeIntInRange(0, len(maps) - 1)],
                                 fdp.ConsumeIntInRange(0, b.nblocks + 2), fdp.ConsumeIntInRange(0, b.nblocks + 2)))
        elif op == 6:
            muts.append(tf.Truncate(anchor, delta))
        else:  # swsusp_info fields that agree with each other
            pages = fdp.ConsumeIntInRange(0, 2**52 - 1)
            muts.append(tf.StreamPut(0, 416, tf.u64(fdp.ConsumeIntInRange(0, pages)) + tf.u64(pages)
                                     + tf.u64(pages * PAGE)))
    return tf.Case(name, muts)


def main(argv=None) -> int:
    argv = list(sys.argv if argv is None else argv)
    try:
        import atheris
    except ImportError:
        print("fuzz_atheris.py needs atheris (pip install atheris; Linux/macOS, CPython with a "
              "matching wheel or clang to build it).  The bounded suite runs without it: "
              "pytest tests/test_fuzz.py", file=sys.stderr)
        return 2
    memory = "--no-memory" not in argv
    argv = [a for a in argv if a != "--no-memory"]
    tf = _load(instrument=True)
    for name in tf.VARIANTS:  # generate the variants before fuzzing starts
        tf.base(name)
    limit = tf.MEMORY_LIMIT if memory else 1 << 62
    replay = [a for a in argv[1:] if not a.startswith("-") and os.path.isfile(a)]

    def one_input(data: bytes) -> None:
        case = _case(tf, data)
        if replay:
            print(case)
        try:
            tf.check_contract(case.build(), memory_limit=limit)
        except BaseException:
            print(f"\nviolating input: {case!r}", file=sys.stderr)
            raise

    tf.USE_WATCHDOG = False  # libFuzzer owns SIGALRM: its -timeout catches hangs
    if not any(a.startswith("-timeout=") for a in argv):
        argv.append("-timeout=20")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
