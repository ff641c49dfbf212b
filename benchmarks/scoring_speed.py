"""Scoring throughput per core: curate (heuristic signals + language ID + quality classifier) against
datatrove's Gopher quality, Gopher repetition, C4 and FineWeb filters, on the same documents, in one run.

Documents: 4,003 real web documents from ../shared/data/web (WebText, C4, CCNet / RedPajama samples,
trafilatura pages whole and main content). curate runs its stages on pandas frames of 500 documents in
this process; datatrove runs in the peer environment (benchmarks/requirements-peers.txt) with its default
filters, every filter on every document. Both are timed in CPU seconds of one process (one core).

    python benchmarks/scoring_speed.py            # about 3 minutes, most of it datatrove
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from curate.quality.stages import HeuristicSignals, LangId, QualityClassifier

WEB = Path(__file__).resolve().parents[2] / "shared" / "data" / "web"
PEER_PYTHON = os.environ.get("PEER_PYTHON", "/work/benchenv/bin/python")

DATATROVE = r"""
import json, sys, time
from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter)
docs = json.load(open(sys.argv[1]))
filters = [GopherQualityFilter(), GopherRepetitionFilter(), C4QualityFilter(), FineWebQualityFilter()]
for f in filters:
    f.filter(Document(text="Warm up. This is a sentence.", id="0"))
start = time.process_time()
for i, text in enumerate(docs):
    for f in filters:
        try:
            f.filter(Document(text=text, id=str(i)))
        except ZeroDivisionError:
            pass
print(json.dumps({"cpu_seconds": time.process_time() - start}))
"""


def read_records(path: Path) -> list[dict]:
    """The JSON records of a JSONL file, plain or gzipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def load_web_docs() -> list[str]:
    docs = [
        r["text"] for r in read_records(WEB / "webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl")
    ]
    docs += [r["text"] for r in read_records(WEB / "recdp_tiny_c4/tiny_c4_sample.jsonl")]
    cc = WEB / "cc_small_samples"
    for path in [*sorted(cc.glob("*.jsonl")), *sorted(cc.glob("*.json.gz"))]:
        docs += [r["text"] for r in read_records(path)]
    for record in read_records(WEB / "trafilatura_eval_pages/trafilatura_pages_extracted.jsonl.gz"):
        docs += [record["text_full"], record["text_main"]]
    return docs


def curate_cpu_seconds(docs: list[str]) -> dict[str, float]:
    stages = {
        "heuristic_signals": HeuristicSignals(),
        "langid": LangId(),
        "quality_classifier": QualityClassifier(),
    }
    frames = [
        pd.DataFrame(
            {
                "id": [str(i) for i in range(s, min(s + 500, len(docs)))],
                "text": docs[s : s + 500],
                "source": "web",
                "meta": None,
            }
        )
        for s in range(0, len(docs), 500)
    ]
    for stage in stages.values():  # warm up: load the models
        stage.apply(frames[0].head(5))
    seconds = {}
    for name, stage in stages.items():
        start = time.process_time()
        for frame in frames:
            stage.apply(frame)
        seconds[name] = time.process_time() - start
    return seconds


def main() -> None:
    docs = load_web_docs()
    print(f"{len(docs):,} documents, {sum(map(len, docs)) / 1e6:.1f} M characters")
    ours = curate_cpu_seconds(docs)
    total = sum(ours.values())
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(docs, f)
    out = subprocess.run([PEER_PYTHON, "-c", DATATROVE, f.name], capture_output=True, text=True, check=True)
    os.unlink(f.name)
    theirs = json.loads(out.stdout.strip().splitlines()[-1])["cpu_seconds"]
    n = len(docs)
    print("| scorer (one core) | CPU seconds | docs/s per core |")
    print("|---|---:|---:|")
    for name, s in ours.items():
        print(f"| curate {name} | {s:.1f} | {n / s:,.0f} |")
    print(f"| **curate, all three** | {total:.1f} | **{n / total:,.0f}** |")
    print(
        f"| datatrove Gopher quality + Gopher repetition + C4 + FineWeb | {theirs:.1f} | {n / theirs:,.1f} |"
    )
    ratio = theirs / total
    print(f"\ncurate (heuristics + language ID + classifier) / datatrove (heuristics only): {ratio:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
