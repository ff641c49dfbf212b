"""Peer runner (a): datasketch MinHash-LSH used plainly, in one process.

Per document: shingles from `benchmarks/shingles.py` (curate's definition), a
`MinHash(num_perm, seed=1)` updated with `shingle.encode("utf-8")` one shingle at a time (the
default SHA-1 based hash function), inserted into `MinHashLSH(threshold, num_perm)`; when
`--bands/--rows` are given, `MinHashLSH(num_perm=..., params=(bands, rows))` instead (datasketch
then ignores the threshold). Every document is then queried; every candidate it returns is a
duplicate (datasketch's LSH does not verify candidates). Union-find over those pairs keeps the
smallest id of each cluster and removes the rest.

This is how most people use datasketch; it is single-threaded by design (`--workers` is accepted
for a uniform command line and ignored). Documents without shingles are skipped (never removed).

    /work/benchenv/bin/python benchmarks/peers/datasketch_plain.py --input DIR --result OUT.json
"""

from __future__ import annotations

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
from datasketch import MinHash, MinHashLSH
from shingles import shingle_set


def main(argv: list[str] | None = None) -> int:
    """Run the datasketch peer and write its result and removed ids."""
    ap = common_arguments(__doc__.split("\n")[0], lsh_defaults=(None, None))
    args = ap.parse_args(argv)
    if (args.bands is None) != (args.rows is None):
        ap.error("give both --bands and --rows, or neither (datasketch then picks them from --threshold)")
    removed_file = removed_ids_path(args)
    timer = PhaseTimer()

    with PeakRss() as rss:
        t0 = time.perf_counter()
        with timer.phase("read"):
            docs = [rec for path in shard_paths(args.input) for rec in iter_shard(path)]

        sketches: list[tuple[str, MinHash]] = []
        shingle_s = minhash_s = 0.0
        for doc_id, text in docs:
            t = time.perf_counter()
            shingles = shingle_set(text, args.ngram)
            t1 = time.perf_counter()
            if shingles:
                m = MinHash(num_perm=args.num_perm, seed=1)
                for s in shingles:
                    m.update(s.encode("utf-8"))
                sketches.append((doc_id, m))
            t2 = time.perf_counter()
            shingle_s += t1 - t
            minhash_s += t2 - t1
        timer.add("shingle", shingle_s)
        timer.add("minhash", minhash_s)
        del docs

        with timer.phase("index"):
            if args.bands is None:
                lsh = MinHashLSH(threshold=args.threshold, num_perm=args.num_perm)
            else:
                lsh = MinHashLSH(num_perm=args.num_perm, params=(args.bands, args.rows))
            for doc_id, m in sketches:
                lsh.insert(doc_id, m, check_duplication=False)

        uf = UnionFind()
        candidate_pairs = 0
        with timer.phase("query"):
            for doc_id, m in sketches:
                for other in lsh.query(m):
                    if other != doc_id:
                        candidate_pairs += 1
                        uf.union(doc_id, other)

        with timer.phase("cluster"):
            removed = uf.removed()
        with timer.phase("write"):
            write_removed(removed_file, removed)
        seconds_total = time.perf_counter() - t0

    bands, rows = lsh.b, lsh.r
    result = write_result(
        args.result,
        tool=f"datasketch-plain[{bands}x{rows}]",
        input_dir=args.input,
        seconds_total=seconds_total,
        phases=timer.rounded(),
        rss=rss,
        removed_file=removed_file,
        removed_count=len(removed),
        params={
            "threshold": args.threshold,
            "num_perm": args.num_perm,
            "num_perm_used_by_lsh": bands * rows,
            "ngram": args.ngram,
            "bands": bands,
            "rows": rows,
            "bands_rows_chosen_by": "datasketch (from threshold)" if args.bands is None else "user",
            "implied_threshold": round(implied_threshold(bands, rows), 4),
            "workers": 1,
            "hash": "sha1 (datasketch default), MinHash seed=1",
            "shingles": "benchmarks/shingles.py",
            "verification": "none (every LSH candidate is a duplicate)",
        },
        extra={"candidate_pairs_directed": candidate_pairs},
    )
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
