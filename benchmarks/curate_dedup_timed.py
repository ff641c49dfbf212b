"""`curate dedup ARGS...` timed the way the peer runners time themselves: the clock starts after imports.

The peer runners (`peers/*.py`) import their libraries, then start the clock, so interpreter start-up is
not counted (their worker processes' start-up is). This script does the same for curate: it imports the
modules a dedup run uses, starts the clock, runs the `curate dedup` command line in this process (the
local Dask cluster starts inside the clock), and prints one JSON line:
`{"seconds_after_imports": ..., "status": {...}}` (the status is what `curate dedup --json` prints).

    python benchmarks/curate_dedup_timed.py 'CORPUS/docs-*.jsonl' --output WS --id-key id ...
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time


def main() -> None:
    # Imported here, before the clock starts, as the peer runners import their libraries. Not at module
    # level: Dask's worker processes start by importing this file (multiprocessing spawn), and should
    # start as they do under the `curate` command.
    import curate.dedup.exact
    import curate.dedup.near
    import curate.pipeline.runner  # noqa: F401
    from curate.cli import main as curate_main

    args = [*sys.argv[1:], "--json"]
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = curate_main.main(["dedup", *args], standalone_mode=False)
    seconds = time.perf_counter() - t0
    if code:
        raise SystemExit(f"curate dedup failed with exit code {code}")
    print(json.dumps({"seconds_after_imports": seconds, "status": json.loads(out.getvalue())}))


if __name__ == "__main__":
    main()
