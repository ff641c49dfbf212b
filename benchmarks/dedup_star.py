"""Near dedup with `cluster: components` against `cluster: star` on the dedup benchmark corpus.

Runs `curate dedup` (near dedup only, as `dedup_scale.py` does: `--no-exact --no-incremental`, 16 x 8
bands, exact verification) once per mode and round, interleaved, on the corpus of `dedup_corpus.py`, and
compares what each removed:

- precision and recall of the removed set, cluster-aware, against the corpus's exact ground truth at
  J >= 0.8 (`peers/score_removed.py`: true clusters are connected components of the true pairs, so a
  chained removal counts as right there);
- *near its kept document*: the share of removed documents whose exact Jaccard with the document they are
  recorded a duplicate of (`duplicate_of`, the one their cluster kept) reaches 0.8; the rest went through
  a chain;
- near-duplicate pairs left: true pairs at J >= 0.8 whose two documents were both kept (what a removal
  "missed" by the components truth's count may not have missed: a chain's far end has no near copy left);
- decisions changed: documents removed by one mode and kept by the other, as a count and a share of the
  corpus and of the removals;
- the per-source books of each run (the corpus's `source` field, `--source-key source`): the largest loss;
- seconds per run, and the time of the components phase (star's extra rounds run there).

    python benchmarks/dedup_star.py --corpus /work/benchdata/dedup100k --work /work/benchdata/star --repeat 2

Prints one JSON document and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))
from score_removed import score  # noqa: E402  (a benchmark script beside this one)

MODES = ("components", "star")


def run_mode(corpus: Path, work: Path, mode: str, workers: int) -> dict:
    ws = work / mode
    shutil.rmtree(ws, ignore_errors=True)
    cmd = [sys.executable, str(HERE / "curate_dedup_timed.py"), str(corpus / "docs-*.jsonl")]
    cmd += ["--output", str(ws), "--id-key", "id", "--bands", "16", "--rows", "8"]
    cmd += ["--no-exact", "--no-incremental", "--cluster", mode, "--source-key", "source"]
    cmd += ["--workers", str(workers), "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    timed = json.loads(done.stdout.strip().splitlines()[-1])
    status = timed["status"]
    removed = {}
    for path in sorted((Path(status["run_dir"]) / "removed").glob("*.parquet")):
        t = pq.read_table(path, columns=["id", "duplicate_of"]).to_pydict()
        removed.update(zip(t["id"], t["duplicate_of"]))
    near = status["metrics"]["minhash_dedup"]
    losses = status["sources"]["counts"]
    worst = max(losses, key=lambda s: losses[s]["loss"])
    return {
        "seconds": round(timed["seconds_after_imports"], 2),
        "seconds_components_phase": near["seconds"]["components"],
        "removed": removed,
        "clusters": near["clusters"],
        "largest_cluster": near["largest_cluster"],
        "star": {k: near[k] for k in ("star_rounds", "removed_by_components", "kept_by_star") if k in near},
        "worst_source": {"source": worst, **losses[worst]},
    }


def truth_jaccard(corpus: Path) -> dict[tuple[str, str], float]:
    pairs = pq.read_table(corpus / "truth.parquet").to_pydict()
    return {(a, b): j for a, b, j in zip(pairs["id_a"], pairs["id_b"], pairs["jaccard"], strict=True)}


def near_kept(removed: dict[str, str], jac: dict[tuple[str, str], float], threshold: float) -> int:
    """How many removed documents reach the threshold with the document recorded as what they copy."""
    return sum(jac.get((min(d, k), max(d, k)), 0.0) >= threshold for d, k in removed.items())


def pairs_left(removed: dict[str, str], jac: dict[tuple[str, str], float], threshold: float) -> int:
    """True near-duplicate pairs (J >= threshold) with neither document removed."""
    return sum(j >= threshold and a not in removed and b not in removed for (a, b), j in jac.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="a folder written by dedup_corpus.py")
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the two workspaces")
    ap.add_argument("--repeat", type=int, default=1, help="rounds (each runs both modes, interleaved)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {m: [] for m in MODES}
    for _ in range(args.repeat):
        for mode in MODES:
            runs[mode].append(run_mode(args.corpus, args.work, mode, args.workers))
    jac = truth_jaccard(args.corpus)
    docs = json.loads((args.corpus / "summary.json").read_text())["docs"]
    out: dict = {"docs": docs, "modes": {}}
    for mode in MODES:
        last = runs[mode][-1]
        removed = last["removed"]
        scores = score(set(removed), args.corpus, 0.8)
        out["modes"][mode] = {
            "seconds_median": statistics.median(r["seconds"] for r in runs[mode]),
            "seconds": [r["seconds"] for r in runs[mode]],
            "seconds_components_phase": [r["seconds_components_phase"] for r in runs[mode]],
            "removed": len(removed),
            "clusters": last["clusters"],
            "largest_cluster": last["largest_cluster"],
            "precision": scores["cluster_aware"]["precision"],
            "recall": scores["cluster_aware"]["recall"],
            "near_kept_document": near_kept(removed, jac, 0.8),
            "near_duplicate_pairs_left": pairs_left(removed, jac, 0.8),
            "worst_source": last["worst_source"],
            **last["star"],
        }
        if any(set(r["removed"]) != set(removed) for r in runs[mode]):
            out["modes"][mode]["note"] = "removed sets differ between rounds"
    comp, star = (set(runs[m][-1]["removed"]) for m in MODES)
    changed = comp ^ star
    out["decisions_changed"] = {
        "documents": len(changed),
        "removed_by_components_only": len(comp - star),
        "removed_by_star_only": len(star - comp),
        "share_of_documents": round(len(changed) / docs, 6),
        "share_of_components_removals": round(len(changed) / len(comp), 6) if comp else None,
    }
    print(json.dumps(out, indent=2))
    print()
    print("| mode | removed | precision | recall | near their kept document | pairs left | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in MODES:
        m = out["modes"][mode]
        share = m["near_kept_document"] / m["removed"] if m["removed"] else 0.0
        print(
            f"| {mode} | {m['removed']:,} | {m['precision']:.4f} | {m['recall']:.4f} | "
            f"{m['near_kept_document']:,} ({share:.2%}) | {m['near_duplicate_pairs_left']:,} | "
            f"{m['seconds_median']:.1f} |"
        )


if __name__ == "__main__":
    main()
