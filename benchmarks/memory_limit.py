"""A corpus several times the workers' total memory, deduplicated under a worker memory limit.

Builds a JSONL corpus of `--times` x (workers x limit) of web-like documents (40-120 paragraphs of the
standard library's documentation each, ~13 KB; one in 20 an exact copy of an earlier document, one in
20 a near copy with one paragraph replaced), then runs `curate run` with exact and near dedup on a local
cluster whose workers are each held to `--limit`, and reports the wall time and the peak RSS of every
process (sampled every 0.2 s: driver, workers, fork server), the batch size curate chose, the largest
RSS any unit saw between batches, and whether a worker was restarted.

    python benchmarks/memory_limit.py --work /work/benchdata/memory-limit --limit 400MiB --workers 2 --times 4

(The issue's case: a 400 MiB worker limit and a 1.64 GB corpus stalled at Dask's pause threshold.)
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
from pathlib import Path

from _measure import run_and_sample

MiB = 1 << 20


def build_corpus(folder: Path, total_bytes: int, files: int = 16, seed: int = 0) -> dict:
    from curate.demo import stdlib_documents

    rng = random.Random(seed)
    paragraphs = [
        p.strip() for d in stdlib_documents() for p in d["text"].split("\n\n") if len(p.split()) >= 8
    ]
    folder.mkdir(parents=True, exist_ok=True)
    per_file, n, exact, near, recent = total_bytes // files, 0, 0, 0, []
    for f in range(files):
        with open(folder / f"part-{f:02d}.jsonl", "w") as out:
            written = 0
            while written < per_file:
                if recent and n % 20 == 19:
                    text, exact = rng.choice(recent), exact + 1
                elif recent and n % 20 == 9:
                    parts = rng.choice(recent).split("\n\n")
                    parts[rng.randrange(len(parts))] = rng.choice(paragraphs)
                    text, near = "\n\n".join(parts), near + 1
                else:
                    text = f"Document {n}.\n\n" + "\n\n".join(rng.sample(paragraphs, rng.randint(40, 120)))
                    recent = [*recent[-99:], text]
                line = json.dumps({"id": f"d{n}", "text": text}) + "\n"
                out.write(line)
                written += len(line)
                n += 1
    return {"docs": n, "exact_copies": exact, "near_copies": near}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="Folder for the corpus and the workspace.")
    ap.add_argument("--limit", default="400MiB", help="engine.memory_limit per worker.")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--times", type=float, default=4.0, help="Corpus size over the workers' total limit.")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from curate.engine import parse_memory_limit

    limit = parse_memory_limit(args.limit, 1)
    total = int(args.times * args.workers * limit)
    corpus = args.work / f"corpus-{total // MiB}MiB"
    info_path = args.work / f"corpus-{total // MiB}MiB.json"  # beside the corpus: not an input
    if not info_path.is_file():
        shutil.rmtree(corpus, ignore_errors=True)
        info = build_corpus(corpus, total)
        info_path.write_text(json.dumps(info))
    info = json.loads(info_path.read_text())
    config = args.work / "memory_limit.yaml"
    config.write_text(
        f"name: memory-limit\ninput:\n  paths: [{corpus}]\n  id_key: id\nstages:\n"
        "  - stage: exact_dedup\n  - stage: minhash_dedup\n"
        f"engine:\n  workers: {args.workers}\n  memory_limit: {args.limit}\n"
    )
    ws = args.work / "ws"
    shutil.rmtree(ws, ignore_errors=True)
    cmd = [sys.executable, "-m", "curate.cli", "run", str(config), "-w", str(ws), "--json", "-q"]
    measured = run_and_sample(cmd)
    status = json.loads(measured["stdout"])
    units = [json.loads(p.read_text()) for p in sorted(ws.glob("runs/*/markers/*/*.json"))]
    unit_pids = {u["pid"] for u in units}  # the driver (while the cluster starts) and each worker
    workers = [x for x in measured["child_peaks_mb"] if x > 50]  # not the resource tracker (~13 MiB)
    batch = re.search(r"batches of at most ([\d.]+) MB", measured["stderr"])
    result = {
        "corpus_mb": round(sum(p.stat().st_size for p in corpus.glob("*.jsonl")) / MiB, 1),
        "workers_total_mb": round(args.workers * limit / MiB, 1),
        "limit": args.limit,
        **info,
        "state": status["state"],
        "seconds": round(measured["seconds"], 1),
        "batch_mb": float(batch.group(1)) if batch else None,
        "driver_peak_mb": round(measured["root_peak_mb"], 1),
        "worker_peaks_mb": sorted((round(x, 1) for x in workers), reverse=True),
        "worker_restarts": len(workers) - args.workers,
        "fork_server_peak_mb": round(max(measured["parent_peaks_mb"], default=0.0), 1),
        "unit_rss_max_mb": max((u["rss_mb"] for u in units), default=None),
        "processes_that_ran_units": len(unit_pids),
        "signature_worker_rss_mb": status["metrics"]["minhash_dedup"]["signature_worker_rss_mb"],
        "counts": status["counts"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
