"""One file under `partition_mb` on two workers: one unit (before) against units for every worker (after).

Before issue 19 the planner cut inputs by `input.partition_mb` (64 MB) alone, so a single 58 MB JSONL file was
one unit and one task per pass: one of the two workers idled. Now it is cut into about three units per worker.
This runs `curate dedup FILE -o WS` with both versions of curate, alternately, on the same file and machine:
`--before` is a checkout of the commit before the change (`git worktree add --detach DIR 9cc5f2b`), imported
through PYTHONPATH; the after side is the curate installed here. Every run starts from an empty workspace.

    python benchmarks/dedup_corpus.py --out /work/benchdata/dedup-1file --seed 0 --n-docs 100000 \
        --dup-fraction 0.1 --shards 1
    python benchmarks/single_file_units.py --make-file /work/benchdata/dedup-1file/docs-00000.jsonl \
        --file /work/benchdata/crawl-58mb.jsonl --before /work/wt/before --repeat 3

Prints wall seconds (process start to exit, imports and the local cluster's start included), the units
planned, the signature pass's seconds, and checks that both versions remove the same documents.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq


def make_file(source: Path, out: Path, size: int) -> None:
    """The first whole lines of `source` up to `size` bytes."""
    written = 0
    with source.open("rb") as src, out.open("wb") as dst:
        for line in src:
            if written + len(line) > size:
                break
            dst.write(line)
            written += len(line)


def one_run(file: Path, pythonpath: str | None, work: Path) -> dict:
    ws = work / "ws"
    shutil.rmtree(ws, ignore_errors=True)
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [
        sys.executable,
        "-c",
        "from curate.cli import main; main()",
        "dedup",
        str(file),
        "-o",
        str(ws),
        "--json",
    ]
    start = time.perf_counter()
    # cwd outside any checkout: `python -c` puts the working folder first on sys.path
    done = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    status = json.loads(done.stdout[done.stdout.index("{") :])
    log = done.stderr
    units = re.search(r"planning minhash_dedup over (\d+) shards", log)
    signatures = re.search(r"seconds signatures ([\d.]+)", log)
    run_dir = Path(status["run_dir"])
    removed = sorted(
        tuple(r)
        for p in sorted((run_dir / "removed").glob("*.parquet"))
        for r in pq.read_table(p, columns=["id", "reason"]).to_pylist()
        for r in [(r["id"], r["reason"])]
    )
    return {
        "seconds": seconds,
        "units": int(units.group(1)) if units else None,
        "signatures": float(signatures.group(1)) if signatures else None,
        "counts": status["counts"],
        "removed": removed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", type=Path, required=True, help="one JSONL file under 64 MB")
    ap.add_argument("--before", type=Path, required=True, help="a checkout of curate before the change")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--make-file", type=Path, help="first cut --file from this larger JSONL file")
    ap.add_argument("--size", type=int, default=58_000_000, help="bytes of --make-file to keep")
    args = ap.parse_args()
    if args.make_file:
        make_file(args.make_file, args.file, args.size)
    print(f"file {args.file} ({args.file.stat().st_size / 1e6:.1f} MB), {os.cpu_count()} cores")
    results: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for name, path in (("before", str(args.before)), ("after", None)):
                r = one_run(args.file, path, Path(tmp))
                results[name].append(r)
                print(
                    f"  repeat {i + 1} {name:6s} {r['seconds']:6.2f} s wall, {r['units']} units, "
                    f"signatures {r['signatures']} s",
                    flush=True,
                )
    b, a = results["before"], results["after"]
    same = all(r["removed"] == b[0]["removed"] for r in b + a)
    print(f"\ncounts: {a[0]['counts']}; same removed ids and reasons in every run: {same}")
    print(f"{'median of ' + str(args.repeat):22s}{'before':>10s}{'after':>10s}{'after/before':>14s}")
    for key, label in (("seconds", "wall seconds"), ("signatures", "signature pass, s")):
        mb = statistics.median(r[key] for r in b)
        ma = statistics.median(r[key] for r in a)
        print(f"{label:22s}{mb:10.2f}{ma:10.2f}{ma / mb:14.2f}")
    print(f"{'units':22s}{b[0]['units']:10d}{a[0]['units']:10d}")


if __name__ == "__main__":
    main()
