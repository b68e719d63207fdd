"""Test setup: the checkout's plugins/ and symbols/ come first (as `vol -p plugins -s symbols`),
and the real samples in ../shared are decompressed once into a cache outside the repo."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `from samples import swsusp_gen`, `from tests import realsamples`

import volatility3.plugins  # noqa: E402
import volatility3.symbols  # noqa: E402

for package, folder in ((volatility3.plugins, REPO / "plugins"), (volatility3.symbols, REPO / "symbols")):
    if str(folder) not in package.__path__:
        package.__path__.insert(0, str(folder))

from tests import realsamples  # noqa: E402


@pytest.fixture(scope="session")
def real():
    """The real 6.1 samples, decompressed; skipped (with the reason) when ../shared is absent."""
    samples = realsamples.RealSamples.find()
    if samples is None:
        pytest.skip(realsamples.MISSING_REASON)
    return samples


@pytest.fixture(scope="session")
def vol(tmp_path_factory):
    """Run the `vol` command line of this environment with the checkout's plugins."""
    return realsamples.VolRunner(tmp_path_factory.mktemp("volcache"))


@pytest.fixture(scope="session")
def made(tmp_path_factory):
    """Synthetic variants (samples/swsusp_gen.py), each written once per session:
    made(name) -> (machine, facts, path).  Tests copy before editing."""
    from samples import swsusp_gen

    folder = tmp_path_factory.mktemp("variants")
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = swsusp_gen.make_variant(name, str(folder))
        return cache[name]

    return get
