"""The fault-injection harness at a larger size: N random driver kills and M worker kills.

Builds a corpus (`--files` JSONL files of `--docs` documents: exact and near copies, short documents,
text needing NFC, broken records), runs the pipeline of tests/runs/faults.py (normalize, length filter,
exact and near dedup) once cleanly, then kills `curate run` processes (SIGKILL, SIGTERM or SIGINT to the
process group, at random moments; chained `--kills-per-chain` at a time, each attempt resuming the
last), resumes each chain to the end and compares kept, removed and quarantined records and the
ledger's counts with the clean run. Then `--worker-kills` runs on a local cluster of 2 workers each
lose a worker to SIGKILL at a random moment and must finish by themselves with the same results.
Prints a JSON summary: kill points by signal and by where they landed, and every problem found.

    python benchmarks/fault_injection.py --kills 200 --worker-kills 10 --work /tmp/faults
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness lives with the tests

from tests.runs import faults


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=100, help="Driver kills (at least).")
    ap.add_argument("--worker-kills", type=int, default=5)
    ap.add_argument("--kills-per-chain", type=int, default=5)
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--docs", type=int, default=400, help="Documents per file.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, required=True)
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    rng = random.Random(args.seed)
    data = args.work / "data"
    faults.build_corpus(data, files=args.files, docs=args.docs, seed=args.seed)
    config = faults.pipeline_config(args.work, data)
    t0 = time.monotonic()
    clean, seconds, markers = faults.clean_run(config, args.work / "clean")
    kills, problems, chain = [], [], 0
    while len(kills) < args.kills:
        ws = args.work / f"chain-{chain:04d}"
        done = faults.driver_chain(config, ws, rng, args.kills_per_chain, markers)
        kills += done
        problems += [f"chain {chain}, {k.signal} at {k.delay} s: {p}" for k in done for p in k.problems]
        problems += [f"chain {chain}: {p}" for p in faults.compare(faults.outcome(ws), clean)]
        shutil.rmtree(ws)
        chain += 1
    worker_kills = []
    for i in range(args.worker_kills):
        ws = args.work / f"worker-{i:03d}"
        killed = faults.kill_a_worker(config, ws, rng, markers)
        worker_kills.append(killed)
        problems += [f"worker kill {i}: {p}" for p in killed["problems"]]
        if killed["returncode"] == 0:
            problems += [f"worker kill {i}: {p}" for p in faults.compare(faults.outcome(ws), clean)]
        shutil.rmtree(ws)
    summary = {
        "corpus": {"files": args.files, "docs_per_file": args.docs, "clean_run_seconds": round(seconds, 1)},
        "clean": {
            "kept": len(clean.kept),
            "removed": len(clean.removed),
            "quarantined": len(clean.quarantined),
        },
        "driver_kills": len(kills),
        "chains": chain,
        "by_signal": dict(Counter(k.signal for k in kills)),
        "landed": dict(Counter(k.landed for k in kills)),
        "worker_kills": len(worker_kills),
        "workers_actually_killed": sum(w["killed_worker"] is not None for w in worker_kills),
        "problems": problems,
        "seconds": round(time.monotonic() - t0, 1),
    }
    print(json.dumps(summary, indent=2))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
