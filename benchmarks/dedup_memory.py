"""Does dedup memory grow with the corpus? Peak RSS per process of `curate dedup` at 1/4, 1/2, 1 and 2
times the benchmark corpus.

The corpus comes from `dedup_corpus.py` (8 JSONL shards). The smaller sizes take the first 2 and 4 shards;
the 2x size adds a second copy of all 8 shards with new ids (so every document gains an exact twin and the
candidate and verification phases get 110,000 more pairs). Every size runs `curate dedup` on a local
cluster of 2 workers, exactly as `dedup_scale.py` does, and reports the peak RSS of the driver (which runs
DuckDB for candidates, components and decisions, with its `memory_limit`) and of each worker process
(which reads, shingles, computes signatures and band keys, and re-shingles candidates for verification),
and the signature phase's own figure: the largest RSS a worker had at the end of a signature batch
(`signature_worker_rss_mb` in the run's metrics).

    python benchmarks/dedup_memory.py --corpus /work/benchdata/dedup100k --work /work/benchdata/memory
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from _measure import run_and_sample


def twin_shards(corpus: Path, folder: Path) -> list[Path]:
    """A copy of every shard with ids prefixed by `twin-`: twice the documents, the same text."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in sorted(corpus.glob("docs-*.jsonl")):
        target = folder / f"twin-{path.name}"
        if not target.exists():
            with path.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as dst:
                for line in src:
                    record = json.loads(line)
                    record["id"] = f"twin-{record['id']}"
                    dst.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.append(target)
    return out


def run(inputs: list[Path], ws: Path) -> dict:
    shutil.rmtree(ws, ignore_errors=True)
    cmd = [sys.executable, "-m", "curate.cli", "dedup", *map(str, inputs), "--output", str(ws)]
    cmd += ["--id-key", "id", "--no-exact", "--no-incremental", "--workers", "2", "--json", "-q"]
    measured = run_and_sample(cmd)
    status = json.loads(measured["stdout"])
    near = status["metrics"]["minhash_dedup"]
    return {
        "docs": near["docs"],
        "seconds": measured["seconds"],
        "driver_mb": measured["root_peak_mb"],
        "worker_mb": sorted(measured["child_peaks_mb"], reverse=True)[:2],
        "server_mb": max(measured["parent_peaks_mb"], default=0.0),  # the fork server the workers come from
        "total_mb": measured["peak_total_mb"],
        "signature_s": near["seconds"]["signatures"],
        "signature_rss": near["signature_worker_rss_mb"],
        "pairs": near["candidate_pairs"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    args = ap.parse_args()
    shards = sorted(args.corpus.glob("docs-*.jsonl"))
    if len(shards) != 8:
        raise SystemExit(f"expected the 8 shards of dedup_corpus.py in {args.corpus}, found {len(shards)}")
    sizes = {
        "1/4": shards[:2],
        "1/2": shards[:4],
        "1": shards,
        "2": shards + twin_shards(args.corpus, args.work / "twins"),
    }
    print(
        "| corpus | documents | seconds | signatures (s) | candidate pairs | signature phase: worker MiB | "
        "driver peak MiB | worker peaks MiB | fork server MiB | process tree peak MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, inputs in sizes.items():
        r = run(inputs, args.work / f"ws-{label.replace('/', '_')}")
        workers = " / ".join(f"{x:,.0f}" for x in r["worker_mb"])
        print(
            f"| {label}x | {r['docs']:,} | {r['seconds']:.1f} | {r['signature_s']:.1f} | {r['pairs']:,} | "
            f"{r['signature_rss']:,.0f} | {r['driver_mb']:,.0f} | {workers} | {r['server_mb']:,.0f} | "
            f"{r['total_mb']:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
