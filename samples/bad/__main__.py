"""python -m samples.bad [DIR]: write the bad-input corpus (default: samples/bad/)."""

import sys

from samples.bad import CORPUS, build

paths = build(sys.argv[1] if len(sys.argv) > 1 else None)
for case in CORPUS:
    print(f"{paths[case.name]}\t{case.plugin}\texit {case.exit_code}\t{case.defect}")
