"""The bad-input corpus (samples/bad) through the real `vol` command line: every case ends
with its documented exit status and words, one clean message, never a traceback; inputs are
never written; the README table is the corpus."""

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from samples import bad

REPO = Path(__file__).resolve().parent.parent
CASES = {case.name: case for case in bad.CORPUS}


def fingerprint(path) -> tuple:
    """Size, mtime and a digest of the data (a sparse 1 TiB case: of its data runs only)."""
    digest, st = hashlib.sha256(), os.stat(path)
    with open(path, "rb") as f:
        pos = 0
        while pos < st.st_size:
            try:
                pos = os.lseek(f.fileno(), pos, os.SEEK_DATA)
                end = os.lseek(f.fileno(), pos, os.SEEK_HOLE)
            except OSError:  # no data left (ENXIO); or no SEEK_DATA: small cases only then
                if st.st_size > 1 << 30:
                    break
                end = st.st_size
            digest.update(os.pread(f.fileno(), end - pos, pos))
            pos = end
    return st.st_size, st.st_mtime_ns, digest.hexdigest()


@pytest.fixture(scope="module")
def results(tmp_path_factory, vol):
    """Build the corpus read-only and run every case, two `vol` processes at a time."""
    folder = tmp_path_factory.mktemp("corpus")
    out = tmp_path_factory.mktemp("corpus-out")  # -o: what layerwriter would write
    paths = bad.build(str(folder))
    digests = {}
    for path in paths.values():
        Path(path).chmod(0o444)
        digests[path] = fingerprint(path)

    def run(case):
        start = time.monotonic()
        result = vol("-o", str(out), "-f", paths[case.name], *case.command(), timeout=120)
        return case.name, (result, time.monotonic() - start)

    with ThreadPoolExecutor(max_workers=2) as pool:
        by_name = dict(pool.map(run, bad.CORPUS))
    unchanged = {p: fingerprint(p) == d for p, d in digests.items()}
    return by_name, unchanged


@pytest.mark.parametrize("name", sorted(CASES))
def test_vol_says_what_the_corpus_expects(results, name):
    case, (result, seconds) = CASES[name], results[0][name]
    assert result.returncode == case.exit_code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for words in case.stderr:
        assert words in result.stderr, f"{words!r} not in stderr:\n{result.stderr[-3000:]}"
    for words in case.stdout:
        assert words in result.stdout, f"{words!r} not in stdout:\n{result.stdout[-3000:]}"
    if case.exit_code:  # a refusal: the one line naming the cause, nothing of Volatility's bug-report text
        lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
        assert len(lines) == 1, result.stderr[-3000:]  # warnings before it may say what was not looked at
        for volatility_text in ("faulty layer", "file a bug", "Unable to validate", "unexpected situation"):
            assert volatility_text not in result.stderr
    if case.seconds:  # the time bound of the error contract, vol's start-up included
        assert seconds < case.seconds, f"{name} took {seconds:.1f} s (bound {case.seconds} s)"


def test_corpus_inputs_are_never_written(results):
    assert all(results[1].values())


def test_readme_lists_the_corpus():
    text = (REPO / "samples" / "bad" / "README.md").read_text()
    assert bad.readme_table() in text, (
        "regenerate the table: python -c 'from samples import bad; print(bad.readme_table())'")
