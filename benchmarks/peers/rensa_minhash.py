"""Peer runner (c): rensa (Rust MinHash) with its own LSH index, shingles from shingles.py.

Per shard, in `--workers` spawned processes (one shard per task): read the JSONL, build each
document's shingles with `benchmarks/shingles.py` in Python (part of the cost, timed), then sketch
the whole shard in one Rust call, `RMinHash.from_token_sets(shingle lists, num_perm, seed=1)`
(R-MinHash, full-set, 32-bit slots). Each worker runs rensa with `RAYON_NUM_THREADS=1`, so the
parallelism is exactly `--workers` processes; the sketches come back pickled.

The parent inserts every sketch into `RMinHashLSH(threshold, num_perm, num_bands=--bands)` (rows
per band = num_perm / bands; if bands x rows != --num-perm, the sketches use bands x rows
permutations), queries all of them with `query_all`, and unions every candidate pair (no
verification unless `--verify`, which keeps a pair only if its estimated Jaccard is >= threshold).
Union-find keeps the smallest id of each cluster and removes the rest. Documents without
shingles are skipped. rensa's faster "rho" sketches are not used: they sample tokens, so they
would not be the same MinHash-of-the-shingle-set the other tools compute.

    /work/benchenv/bin/python benchmarks/peers/rensa_minhash.py --input DIR --result OUT.json
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PeakRss,
    PhaseTimer,
    UnionFind,
    common_arguments,
    implied_threshold,
    iter_shard,
    removed_ids_path,
    shard_paths,
    write_removed,
    write_result,
)
from rensa import RMinHash, RMinHashLSH
from shingles import shingle_set

SEED = 1
"""MinHash seed (datasketch's default MinHash seed is 1 too)."""


def sketch_shard(task: tuple[str, int, int]) -> tuple[list[str], list[RMinHash], dict[str, float]]:
    """Read one shard, shingle it and sketch it; return (ids, sketches, seconds per step).

    Runs in a worker process; `task` is (shard path, ngram, num_perm).
    """
    path, ngram, num_perm = task
    t = time.perf_counter()
    docs = list(iter_shard(Path(path)))
    t_read = time.perf_counter()
    ids, token_sets = [], []
    for doc_id, text in docs:
        shingles = shingle_set(text, ngram)
        if shingles:
            ids.append(doc_id)
            token_sets.append(list(shingles))
    t_shingle = time.perf_counter()
    sketches = RMinHash.from_token_sets(token_sets, num_perm, SEED)
    t_sketch = time.perf_counter()
    seconds = {"read": t_read - t, "shingle": t_shingle - t_read, "sketch": t_sketch - t_shingle}
    return ids, sketches, seconds


def main(argv: list[str] | None = None) -> int:
    """Run the rensa peer and write its result and removed ids."""
    ap = common_arguments(__doc__.split("\n")[0])
    ap.add_argument("--verify", action="store_true", help="keep a candidate pair only if est. J >= threshold")
    args = ap.parse_args(argv)
    num_perm = args.bands * args.rows
    removed_file = removed_ids_path(args)
    timer = PhaseTimer()
    worker_seconds: dict[str, float] = {}
    tasks = [(str(p), args.ngram, num_perm) for p in shard_paths(args.input)]

    with PeakRss() as rss:
        t0 = time.perf_counter()
        ids: list[str] = []
        sketches: list[RMinHash] = []
        with timer.phase("read_shingle_sketch"):
            if args.workers > 1:
                previous = os.environ.get("RAYON_NUM_THREADS")
                os.environ["RAYON_NUM_THREADS"] = "1"  # inherited by the spawned workers only
                pool = multiprocessing.get_context("spawn").Pool(args.workers)
                if previous is None:
                    del os.environ["RAYON_NUM_THREADS"]
                else:
                    os.environ["RAYON_NUM_THREADS"] = previous
                with pool:
                    results = list(pool.imap(sketch_shard, tasks))
            else:
                results = [sketch_shard(task) for task in tasks]
            for shard_ids, shard_sketches, seconds in results:
                ids.extend(shard_ids)
                sketches.extend(shard_sketches)
                for k, v in seconds.items():
                    worker_seconds[k] = worker_seconds.get(k, 0.0) + v
            del results

        with timer.phase("index"):
            lsh = RMinHashLSH(args.threshold, num_perm, args.bands)
            lsh.insert_many(sketches, 0)

        uf = UnionFind()
        candidate_pairs = verified_pairs = 0
        with timer.phase("query"):
            for i, candidates in enumerate(lsh.query_all(sketches)):
                for j in candidates:
                    if j == i:
                        continue
                    candidate_pairs += 1
                    if args.verify and sketches[i].jaccard(sketches[j]) < args.threshold:
                        continue
                    verified_pairs += 1
                    uf.union(ids[i], ids[j])

        with timer.phase("cluster"):
            removed = uf.removed()
        with timer.phase("write"):
            write_removed(removed_file, removed)
        seconds_total = time.perf_counter() - t0

    result = write_result(
        args.result,
        tool=f"rensa-rminhash[{args.bands}x{args.rows}{',verify' if args.verify else ''}]",
        input_dir=args.input,
        seconds_total=seconds_total,
        phases=timer.rounded(),
        rss=rss,
        removed_file=removed_file,
        removed_count=len(removed),
        params={
            "threshold": args.threshold,
            "num_perm": args.num_perm,
            "num_perm_used": num_perm,
            "ngram": args.ngram,
            "bands": args.bands,
            "rows": args.rows,
            "implied_threshold": round(implied_threshold(args.bands, args.rows), 4),
            "workers": args.workers,
            "parallelism": (
                f"{args.workers} spawned processes, a shard per task, RAYON_NUM_THREADS=1 in each"
                if args.workers > 1
                else "1 process"
            ),
            "sketch": "RMinHash.from_token_sets (full-set R-MinHash, u32 slots), seed=1",
            "shingles": "benchmarks/shingles.py",
            "verification": "estimated Jaccard >= threshold" if args.verify else "none",
        },
        extra={
            "worker_cpu_seconds": {k: round(v, 3) for k, v in worker_seconds.items()},
            "candidate_pairs_directed": candidate_pairs,
            "accepted_pairs_directed": verified_pairs,
        },
    )
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
