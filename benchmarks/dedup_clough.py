"""Near-dedup on real labelled rewrites: the Clough & Stevenson (2009) short-answer corpus.

Five Wikipedia source texts and 95 answers that copy them (`cut`), lightly or heavily rewrite them
(`light`, `heavy`), or were written independently (`non`). The corpus is read as it is (17 answers are
Windows-1252, decoded with `input.fallback_encoding: cp1252`), run through curate's near dedup at its
default setting (and, for context, at lower thresholds), and each answer is checked: was it put into the
same cluster as its source text? `non` answers must never be.

    python benchmarks/dedup_clough.py            # prints a table per label and threshold
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from curate.dedup.shingles import ShingleSpec, shingles
from curate.engine import Engine
from curate.pipeline.runner import Runner
from curate.pipeline.spec import pipeline_from_mapping
from curate.runs.workspace import Workspace

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "neardup" / "clough_stevenson_short_answers"
LABELS = ("cut", "light", "heavy", "non")


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def jaccard(a: str, b: str) -> float:
    sa, sb = set(shingles(a, ShingleSpec())), set(shingles(b, ShingleSpec()))
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def cluster_ids(threshold: float, work: Path) -> dict[str, str]:
    """Run curate's near dedup on the corpus; return file name -> dup_cluster_id."""
    pipeline = pipeline_from_mapping(
        {
            "name": f"clough-{threshold}",
            "input": {"paths": [str(DATA)], "format": "text", "fallback_encoding": "cp1252"},
            "stages": [{"stage": "minhash_dedup", "threshold": threshold}],
        }
    )
    ws = Workspace(work / f"ws-{threshold}")
    result = Runner(pipeline, ws, Engine(workers=0, progress=False), log=lambda m: None).run()
    frames = [
        pq.read_table(p, columns=["id", "dup_cluster_id"]).to_pandas()
        for sub in ("output", "removed")
        for p in sorted((result.run_dir / sub).glob("*.parquet"))
    ]
    df = pd.concat(frames, ignore_index=True)
    return dict(zip(df["id"], df["dup_cluster_id"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.8, 0.5, 0.3])
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"data not found: {DATA}")
    with open(DATA / "file_information.csv", newline="") as f:
        info = [row for row in csv.DictReader(f) if row["Category"] in LABELS]
    source = {t: read_text(DATA / f"orig_task{t}.txt") for t in "abcde"}
    similarity = {row["File"]: jaccard(read_text(DATA / row["File"]), source[row["Task"]]) for row in info}

    print("Jaccard of word 5-gram shingles between each answer and its source (min / median / max):")
    for label in LABELS:
        values = sorted(similarity[r["File"]] for r in info if r["Category"] == label)
        lo, mid, hi = values[0], values[len(values) // 2], values[-1]
        print(f"  {label:<6} n={len(values):>2}  {lo:.3f} / {mid:.3f} / {hi:.3f}")

    work = Path(tempfile.mkdtemp(prefix="clough-"))
    try:
        print("\nAnswers clustered with their source text, per label:")
        print(f"  {'threshold':>9}  " + "  ".join(f"{label:>12}" for label in LABELS))
        for threshold in args.thresholds:
            clusters = cluster_ids(threshold, work)
            merged = defaultdict(int)
            total = defaultdict(int)
            for row in info:
                total[row["Category"]] += 1
                if clusters[row["File"]] == clusters[f"orig_task{row['Task']}.txt"]:
                    merged[row["Category"]] += 1
            cells = "  ".join(f"{merged[label]:>5} of {total[label]:>3}" for label in LABELS)
            note = "  (default)" if threshold == 0.8 else ""
            print(f"  {threshold:>9.2f}  {cells}{note}")
            if merged["non"]:
                print(f"  !! {merged['non']} independent answers were merged with a source at {threshold}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
