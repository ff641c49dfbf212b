"""Near-dedup at scale: curate against plain datasketch, datatrove and rensa, in one run, as ratios.

The corpus comes from `dedup_corpus.py` (≥ 100,000 real documents from ../shared/data plus seeded,
labelled near-duplicate copies, with exact-Jaccard ground truth). Every tool gets the same shingles (word
5-grams after NFKC, lower case and punctuation removal; see `shingles.py`) and the same threshold; the
peers run in their own environment (`requirements-peers.txt`) through `peers/run_peers.sh`.

curate runs end to end, as a user would: `curate dedup CORPUS --output WS` reads the JSONL, writes
Parquet, deduplicates (MinHash near dedup only, `--no-exact`, as the peers do only that) and writes the
kept documents, the removed ones and the ledger. The peers only report which ids they removed (datatrove
also writes its output). Every tool's clock starts after its imports (`curate_dedup_timed.py` does that for
curate; the local Dask cluster starts inside the clock); curate's whole-command time is printed too. With
`--repeat N` every tool runs N times, interleaved, and the table shows the median run.

    python benchmarks/dedup_scale.py --corpus /work/benchdata/dedup100k --results /work/benchdata/results \\
        --bands 16 --rows 8 --peers all --repeat 3

Prints one table: seconds, docs/s, MB/s, peak RSS of the whole process tree, precision and recall of
the removed set (cluster-aware, J ≥ 0.8), and curate's throughput as a multiple of each peer's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from _measure import run_and_sample

HERE = Path(__file__).resolve().parent
PEER_PYTHON = os.environ.get("PEER_PYTHON", "/work/benchenv/bin/python")


def run_curate(corpus: Path, results: Path, args) -> dict:
    ws = results / "curate-ws"
    shutil.rmtree(ws, ignore_errors=True)
    cmd = [sys.executable, str(HERE / "curate_dedup_timed.py"), str(corpus / "docs-*.jsonl")]
    cmd += ["--output", str(ws), "--id-key", "id", "--threshold", str(args.threshold)]
    cmd += ["--num-perm", str(args.num_perm), "--no-exact", "--no-incremental"]
    cmd += ["--workers", str(args.workers), "-q"]
    if args.bands:
        cmd += ["--bands", str(args.bands), "--rows", str(args.rows)]
    measured = run_and_sample(cmd)
    timed = json.loads(measured["stdout"].strip().splitlines()[-1])
    status = timed["status"]
    removed_ids = []
    for path in sorted((Path(status["run_dir"]) / "removed").glob("*.parquet")):
        t = pq.read_table(path, columns=["id", "reason"])
        removed_ids += t.filter(pc.equal(t["reason"], "near_duplicate")).column("id").to_pylist()
    removed_file = results / "curate.removed.txt"
    removed_file.write_text("\n".join(removed_ids) + "\n")
    summary = json.loads((corpus / "summary.json").read_text())
    near = status["metrics"]["minhash_dedup"]
    seconds = timed["seconds_after_imports"]
    result = {
        "tool": f"curate[{near['lsh_bands']}x{near['lsh_rows']}, verify]",
        "docs": summary["docs"],
        "mb": summary["mb_text"],
        "seconds_total": seconds,
        "seconds_whole_command": measured["seconds"],
        "cpu_seconds_total": measured["cpu_seconds"],
        "docs_per_s": summary["docs"] / seconds,
        "mb_per_s": summary["mb_text"] / seconds,
        "peak_rss_mb": measured["peak_total_mb"],
        "removed": len(removed_ids),
        "seconds_per_phase": {
            **{f"near:{k}": v for k, v in near["seconds"].items()},
            **{s["stage"]: round(s["seconds"], 2) for s in status["stages"]},
        },
        "candidate_pairs": near["candidate_pairs"],
        "verified_pairs": near["verified_pairs"],
    }
    out = results / "curate.json"
    out.write_text(json.dumps(result, indent=2))
    subprocess.run(
        [
            sys.executable,
            str(HERE / "peers" / "score_removed.py"),
            "--removed",
            str(removed_file),
            "--truth",
            str(corpus),
            "--update-result",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return json.loads(out.read_text())


def run_peers(corpus: Path, results: Path, args) -> None:
    env = dict(os.environ, PEER_PYTHON=PEER_PYTHON)
    if args.peers != "all":
        env["PEERS"] = args.peers
    extra = ["--threshold", str(args.threshold), "--num-perm", str(args.num_perm)]
    if args.bands:
        extra += ["--bands", str(args.bands), "--rows", str(args.rows)]
    subprocess.run(
        ["bash", str(HERE / "peers" / "run_peers.sh"), str(corpus), str(results), *extra], check=True, env=env
    )


def median_runs(runs: list[dict]) -> dict:
    """One row per tool: the run with the median time, with every repetition's seconds beside it."""
    ordered = sorted(runs, key=lambda r: r["seconds_total"])
    row = dict(ordered[len(ordered) // 2])
    row["all_seconds"] = [round(r["seconds_total"], 1) for r in runs]
    return row


def table(results: list[dict]) -> str:
    curate = next(r for r in results if r["tool"].startswith("curate"))
    head = (
        "| tool | seconds (median) | runs (s) | docs/s | MB/s | peak RSS (MiB) | removed | precision | "
        "recall | curate docs/s ÷ tool docs/s |"
    )
    lines = [head, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s = r["scores"]["cluster_aware"]
        ratio = curate["docs_per_s"] / r["docs_per_s"]
        runs = ", ".join(f"{x:.1f}" for x in r["all_seconds"])
        lines.append(
            f"| {r['tool']} | {r['seconds_total']:.1f} | {runs} | {r['docs_per_s']:,.0f} | "
            f"{r['mb_per_s']:.2f} | {r['peak_rss_mb']:,.0f} | {r['removed']:,} | {s['precision']:.4f} | "
            f"{s['recall']:.4f} | {ratio:.2f}× |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--bands", type=int)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--peers", default="", help="'all', or names for run_peers.sh (space separated); '' none")
    ap.add_argument(
        "--repeat", type=int, default=1, help="Runs of every tool, interleaved; medians reported."
    )
    args = ap.parse_args()
    runs: dict[str, list[dict]] = {}
    for k in range(args.repeat):
        folder = args.results / f"run{k}"
        folder.mkdir(parents=True, exist_ok=True)
        if args.peers:
            run_peers(args.corpus, folder, args)
        curate = run_curate(args.corpus, folder, args)
        print(
            f"curate run {k}: {curate['seconds_total']:.2f} s after imports "
            f"({curate['seconds_whole_command']:.2f} s whole command); phases (s): "
            f"{json.dumps(curate['seconds_per_phase'])}",
            flush=True,
        )
        for path in sorted(folder.glob("*.json")):
            result = json.loads(path.read_text())
            if "scores" in result:
                runs.setdefault(path.stem, []).append(result)
    curate = median_runs(runs.pop("curate"))
    print(f"curate pairs: {curate['candidate_pairs']:,} candidates, {curate['verified_pairs']:,} verified")
    print(
        f"curate whole command (interpreter start-up and imports included): "
        f"{curate['seconds_whole_command']:.1f} s"
    )
    print(table([curate] + [median_runs(r) for r in runs.values()]))


if __name__ == "__main__":
    main()
