"""Score a tool's removed ids against the benchmark's exact ground truth.

Inputs: `--removed` (text, one id a line; or Parquet with an `id` column) and `--truth DIR` (the
corpus folder with truth.parquet and truth_removed.parquet from dedup_corpus.py).

Definitions (threshold 0.8 unless `--threshold`; truth_removed.parquet is at 0.8, other values
rebuild the clusters from truth.parquet):

- True clusters: connected components of the graph whose edges are the pairs with exact Jaccard
  >= threshold. A cluster C of size |C| >= 2 should lose |C| - 1 documents; TR, the true removed
  set, is every member but the smallest id (string order), |TR| = sum(|C| - 1).
- Strict (brief's literal definition): precision = |R & TR| / |R|, recall = |R & TR| / |TR|.
  This punishes a tool that keeps a different representative than the smallest id, which is
  arbitrary, so it is reported but is not the headline.
- Cluster-aware (headline): a removal is correct when the removed document belongs to a true
  cluster, counting at most |C| - 1 removals per cluster (removing the whole cluster loses a
  document that should have been kept: one of its removals is wrong). correct = sum over C of
  min(|R & C|, |C| - 1); precision = correct / |R|; recall = correct / |TR|.
- False removals are broken down by the removed document's best true match (highest exact
  Jaccard with any other document): "no match >= 0.5", [0.5, 0.6) ... [0.7, threshold), or
  "whole cluster removed" (over-removal within a true cluster).
- Pair-level recall: for every true pair, "covered" if at least one of its two documents was
  removed (without the tool's clusters this is what can be checked); reported for J >= threshold
  and per J bin from 0.5 to 1.0, which traces the tool's S-curve.

Prints JSON; `--update-result FILE` also merges it into a runner's result JSON under "scores".
Needs pyarrow (either environment).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

J_BINS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)


def read_removed(path: Path) -> set[str]:
    """Read removed ids from a text file (one a line) or a Parquet file with an `id` column."""
    if path.suffix == ".parquet":
        return set(pq.read_table(path, columns=["id"]).column("id").to_pylist())
    return {line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()}


def true_clusters(pairs: dict[str, list], threshold: float) -> dict[str, list[str]]:
    """Connected components over pairs with J >= threshold: {smallest id: sorted members}."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent[x]
        return root

    for a, b, j in zip(pairs["id_a"], pairs["id_b"], pairs["jaccard"], strict=True):
        if j >= threshold:
            ra, rb = find(a), find(b)
            if ra != rb:
                lo, hi = min(ra, rb), max(ra, rb)
                parent[hi] = lo
                parent.setdefault(lo, lo)
    clusters: dict[str, list[str]] = collections.defaultdict(list)
    for x in list(parent):
        clusters[find(x)].append(x)
    return {root: sorted(members) for root, members in clusters.items()}


def _bin_label(j: float) -> str:
    for lo, hi in itertools.pairwise(J_BINS):
        if lo <= j < hi:
            return f"[{lo:.2f},{hi:.2f})"
    return "1.0" if j >= 1.0 else "<0.50"


def score(removed: set[str], truth_dir: Path, threshold: float = 0.8) -> dict:
    """Return the scores of the removed set `removed` (see the module docstring)."""
    pairs = pq.read_table(truth_dir / "truth.parquet").to_pydict()
    if abs(threshold - 0.8) < 1e-12 and (truth_dir / "truth_removed.parquet").exists():
        tr = pq.read_table(truth_dir / "truth_removed.parquet").to_pydict()
        clusters: dict[str, list[str]] = collections.defaultdict(list)
        for doc, root in zip(tr["id"], tr["cluster_root"], strict=True):
            clusters[root].append(doc)
        clusters = {root: sorted([root, *members]) for root, members in clusters.items()}
    else:
        clusters = true_clusters(pairs, threshold)
    cluster_of = {doc: root for root, members in clusters.items() for doc in members}
    true_removed = {doc for root, members in clusters.items() for doc in members if doc != root}

    strict_tp = len(removed & true_removed)
    removed_per_cluster = collections.Counter(cluster_of[d] for d in removed if d in cluster_of)
    correct = sum(min(n, len(clusters[root]) - 1) for root, n in removed_per_cluster.items())
    whole_cluster_removed = sum(1 for root, n in removed_per_cluster.items() if n >= len(clusters[root]))

    best_j: dict[str, float] = {}
    for a, b, j in zip(pairs["id_a"], pairs["id_b"], pairs["jaccard"], strict=True):
        if j > best_j.get(a, 0.0):
            best_j[a] = j
        if j > best_j.get(b, 0.0):
            best_j[b] = j
    false_removals: collections.Counter[str] = collections.Counter()
    for d in removed:
        if d not in cluster_of:
            j = best_j.get(d, 0.0)
            false_removals["no match >= 0.5" if j < 0.5 else f"best match J in {_bin_label(j)}"] += 1
    false_removals["whole cluster removed"] = whole_cluster_removed

    covered: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    covered_strong = total_strong = 0
    for a, b, j in zip(pairs["id_a"], pairs["id_b"], pairs["jaccard"], strict=True):
        hit = a in removed or b in removed
        label = _bin_label(j)
        total[label] += 1
        covered[label] += hit
        if j >= threshold:
            total_strong += 1
            covered_strong += hit

    def ratio(num: int, den: int) -> float | None:
        return round(num / den, 4) if den else None

    precision = ratio(correct, len(removed))
    recall = ratio(correct, len(true_removed))
    f1 = (
        round(2 * precision * recall / (precision + recall), 4)
        if precision is not None and recall is not None and precision + recall > 0
        else None
    )
    return {
        "threshold": threshold,
        "removed": len(removed),
        "true_removed": len(true_removed),
        "true_clusters": len(clusters),
        "cluster_aware": {"correct": correct, "precision": precision, "recall": recall, "f1": f1},
        "strict": {
            "tp": strict_tp,
            "precision": ratio(strict_tp, len(removed)),
            "recall": ratio(strict_tp, len(true_removed)),
        },
        "false_removals": dict(sorted(false_removals.items())),
        "pair_recall_at_threshold": ratio(covered_strong, total_strong),
        "pair_recall_by_j": {k: ratio(covered[k], total[k]) for k in sorted(total)},
        "pairs_by_j": dict(sorted(total.items())),
    }


def main(argv: list[str] | None = None) -> int:
    """Score one removed-ids file and print (and optionally merge) the JSON scores."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--removed", required=True, type=Path, help="removed ids: .txt (one a line) or .parquet")
    ap.add_argument("--truth", required=True, type=Path, help="corpus folder with truth*.parquet")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--update-result", type=Path, default=None, help="runner result JSON to add 'scores' to")
    args = ap.parse_args(argv)
    scores = score(read_removed(args.removed), args.truth, args.threshold)
    if args.update_result:
        result = json.loads(args.update_result.read_text("utf-8"))
        result["scores"] = scores
        args.update_result.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(scores, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
