"""Peak memory and throughput of reading a large JSONL file: memory must not grow with the file.

Builds (once) a JSONL file of about `--size-gb` GB from the real corpora in ../shared/data (web pages and
reference prose, cycled with a record counter), then measures, each in a fresh process:

1. `read`: one process reads the whole file as ONE unit (the worst case: a compressed file cannot be split)
   and counts records; peak RSS from getrusage.
2. `run-inprocess`: `curate run` with the in-process engine (read, normalize, length filter, write Parquet).
3. `run-cluster`: `curate run` on a local Dask cluster of 2 workers; peak RSS per process of the tree
   (driver, scheduler/nanny, workers), sampled every 0.2 s with psutil, and their sum.

    python benchmarks/io_memory.py --data /work/benchdata/io --size-gb 1
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _measure import run_and_sample

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = [
    "web/webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl",
    "web/recdp_tiny_c4/tiny_c4_sample.jsonl",
    "reference/docs_debian/python3.11-doc_rst_sources.jsonl.gz",
    "reference/docs_debian/linux-doc-6.1_rst.jsonl.gz",
]


def real_texts() -> list[str]:
    texts = []
    for rel in SOURCES:
        path = SHARED / rel
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    return [t for t in texts if t.strip()]


def make_corpus(path: Path, size_bytes: int) -> None:
    if path.exists() and path.stat().st_size >= size_bytes:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    texts = real_texts()
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        for i, text in enumerate(itertools.cycle(texts)):
            line = (
                json.dumps({"id": f"r{i}", "text": text, "copy": i // len(texts)}, ensure_ascii=False) + "\n"
            )
            f.write(line)
            written += len(line.encode())
            if written >= size_bytes:
                break


def measure_read(path: Path) -> dict:
    """Child process: read the whole file as one unit."""
    from curate.io.discover import InputUnit, discover
    from curate.io.readers import ReadOptions, read_unit

    (f,) = discover([str(path)])
    unit = InputUnit("u00000", (f,))
    t0 = time.perf_counter()
    docs = chars = 0
    for batch in read_unit(unit, ReadOptions()):
        docs += batch.docs.num_rows
        chars += sum(len(t) for t in batch.docs.column("text").to_pylist())
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"docs": docs, "seconds": seconds, "peak_rss_mb": peak, "mb_per_s": f.size / 1e6 / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/curate-bench-io"))
    ap.add_argument("--size-gb", type=float, default=1.0)
    ap.add_argument("--child-read", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_read:
        print(json.dumps(measure_read(args.child_read)))
        return
    corpus = args.data / "corpus.jsonl"
    make_corpus(corpus, int(args.size_gb * 1e9))
    size_mb = corpus.stat().st_size / 1e6
    print(f"corpus: {corpus} ({size_mb:,.0f} MB)")

    out = subprocess.run(
        [sys.executable, __file__, "--child-read", str(corpus)], capture_output=True, text=True, check=True
    )
    read = json.loads(out.stdout)
    print(
        f"read, one unit, one process: {read['docs']:,} docs in {read['seconds']:.1f} s "
        f"({read['mb_per_s']:.0f} MB/s), peak RSS {read['peak_rss_mb']:.0f} MB"
    )

    config = args.data / "pipeline.yaml"
    config.write_text(
        "name: io-memory\ninput:\n  paths: []\nstages:\n  - stage: unicode_normalize\n"
        "  - stage: length_filter\n    min_words: 20\n"
    )
    curate = [sys.executable, "-m", "curate.cli"]
    for label, workers in (("run-inprocess", "0"), ("run-cluster", "2")):
        ws = args.data / f"ws-{label}"
        subprocess.run(["rm", "-rf", str(ws)], check=True)
        result = run_and_sample(
            [*curate, "run", str(config), "-w", str(ws), "--input", str(corpus), "--workers", workers, "-q"]
        )
        print(
            f"{label}: {result['seconds']:.1f} s ({size_mb / result['seconds']:.1f} MB/s), "
            f"peak RSS of the process tree {result['peak_total_mb']:.0f} MB"
        )
        for rss, name in result["peaks_mb"]:
            print(f"    {rss:8.1f} MB  {name}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
