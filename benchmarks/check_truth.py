"""Independently check a benchmark corpus's truth.parquet for a random sample of documents.

For each sampled document, every other document sharing at least one shingle is found through
an inverted index, its exact Jaccard is computed from Python sets, and the pairs with J >= 0.5
are compared with truth.parquet (both directions, same Jaccard to 1e-9). This uses a different
method than dedup_corpus.py (no prefix filter, no integer ids), so agreement is evidence that
the truth is complete and exact. Shingles are hashed with Python's 64-bit `hash` for memory;
a collision could only add a false mismatch, never hide one. About 20 s and 1.5 GB for 110k docs.

    python benchmarks/check_truth.py --corpus /work/benchdata/dedup100k --random 300 --in-truth 100
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import random
import sys
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shingles import shingle_set

TRUTH_MIN_JACCARD = 0.5


def main(argv: list[str] | None = None) -> int:
    """Check the sample; print a summary; exit 1 on any mismatch."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True, type=Path, help="folder from dedup_corpus.py")
    ap.add_argument("--random", type=int, default=300, help="documents sampled uniformly")
    ap.add_argument("--in-truth", type=int, default=100, help="documents sampled among those in truth pairs")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    ids: list[str] = []
    sets: list[frozenset[int]] = []
    for path in sorted(glob.glob(str(args.corpus / "docs-*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                ids.append(rec["id"])
                sets.append(frozenset(hash(s) for s in shingle_set(rec["text"])))
    position = {doc: i for i, doc in enumerate(ids)}

    truth = pq.read_table(args.corpus / "truth.parquet").to_pydict()
    expected: dict[str, dict[str, float]] = collections.defaultdict(dict)
    for a, b, j in zip(truth["id_a"], truth["id_b"], truth["jaccard"], strict=True):
        expected[a][b] = j
        expected[b][a] = j

    rng = random.Random(args.seed)
    sample = rng.sample(range(len(ids)), min(args.random, len(ids)))
    in_truth = sorted(expected)
    sample += [position[d] for d in rng.sample(in_truth, min(args.in_truth, len(in_truth)))]

    postings: dict[int, set[int]] = collections.defaultdict(set)
    for i in sample:
        for h in sets[i]:
            postings[h].add(i)
    found: dict[str, dict[str, float]] = collections.defaultdict(dict)
    for k, s in enumerate(sets):
        shared: collections.Counter[int] = collections.Counter()
        for h in s:
            for i in postings.get(h, ()):
                shared[i] += 1
        for i, inter in shared.items():
            if i != k:
                j = inter / (len(sets[i]) + len(s) - inter)
                if j >= TRUTH_MIN_JACCARD:
                    found[ids[i]][ids[k]] = j

    mismatches = 0
    pairs = 0
    for i in sample:
        doc = ids[i]
        want, got = expected.get(doc, {}), found.get(doc, {})
        pairs += len(got)
        if set(want) != set(got) or any(abs(want[o] - got[o]) > 1e-9 for o in want):
            mismatches += 1
            print(f"MISMATCH {doc}: truth {sorted(want.items())[:5]} vs found {sorted(got.items())[:5]}")
    print(
        f"checked {len(sample)} documents, {pairs} pairs with J >= {TRUTH_MIN_JACCARD}: "
        f"{mismatches} mismatches"
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
