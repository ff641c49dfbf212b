"""PII: precision and recall per kind on a labelled set built from real text, and throughput on real
documents; datatrove's PIIFormatter on the same set and documents, in the same run.

    python benchmarks/pii.py --data ../shared/data --work /work/benchdata/pii [--peer]

The labelled set is `tests/pii/labelled_set.py` (real prose with planted PII of every kind and look-alikes;
`--docs`, `--seed`). Throughput: the `pii` stage (redact) over 6,121 real documents, 47 MB (WebText pages,
whole trafilatura page texts, Python and Linux documentation), one process. Natural finds on those
documents (which nobody labelled) are counted per kind and sampled into results.json for reading.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.pii.labelled_set

from _corpora import real_documents

from curate.pii.detectors import KINDS, find
from curate.pii.stage import Pii, PiiParams
from tests.pii.labelled_set import build

PEER_PYTHON = "/work/benchenv/bin/python"


def score(examples: list[dict], predictions: list[list[list]], kinds) -> dict:
    tp, predicted, labelled = Counter(), Counter(), Counter()
    misses, false = [], []
    for ex, found in zip(examples, predictions):
        labels = {tuple(label) for label in ex["labels"]}
        labelled.update(k for k, _, _ in ex["labels"])
        for kind, start, end in found:
            predicted[kind] += 1
            hit = (kind, start, end) in labels
            tp[kind] += hit
            if not hit:
                false.append((kind, ex["text"][max(0, start - 20) : end + 5]))
        got = {tuple(f) for f in found}
        misses += [(k, ex["text"][max(0, s - 20) : e + 5]) for k, s, e in labels if (k, s, e) not in got]
    out = {
        kind: {
            "labelled": labelled[kind],
            "found": predicted[kind],
            "precision": tp[kind] / predicted[kind] if predicted[kind] else None,
            "recall": tp[kind] / labelled[kind] if labelled[kind] else None,
        }
        for kind in kinds
    }
    out["false_examples"], out["missed_examples"] = false[:20], misses[:20]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peer", action="store_true", help=f"also run datatrove in {PEER_PYTHON}")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    examples = [{"text": e.text, "labels": e.labels} for e in build(args.data, args.docs, args.seed)]
    (args.work / "labelled.jsonl").write_text("".join(json.dumps(e) + "\n" for e in examples))
    docs = real_documents(args.data)
    (args.work / "docs.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    result = {"labelled_docs": len(examples), "real_docs": len(docs), "real_mb": sum(map(len, docs)) / 1e6}

    predictions = [[(f.kind, f.start, f.end) for f in find(e["text"])] for e in examples]
    result["curate"] = score(examples, predictions, KINDS)
    stage = Pii(PiiParams())
    frame = pd.DataFrame({"id": [str(i) for i in range(len(docs))], "text": docs})
    t0 = time.perf_counter()
    out = stage.apply(frame)
    seconds = time.perf_counter() - t0
    result["curate"]["throughput"] = {
        "docs_per_second": len(docs) / seconds,
        "mb_per_second": result["real_mb"] / seconds,
    }
    result["curate"]["natural_finds"] = {k: v for k, v in out.counters.items() if k.startswith("found:")}
    rng, natural = random.Random(0), {}
    for text in docs:
        for f in find(text):
            natural.setdefault(f.kind, []).append(text[max(0, f.start - 30) : f.end + 10].replace("\n", " "))
    result["curate"]["natural_samples"] = {k: rng.sample(v, min(40, len(v))) for k, v in natural.items()}

    if args.peer:
        here = Path(__file__).resolve().parent
        subprocess.run([PEER_PYTHON, str(here / "peers/datatrove_pii.py"), "--work", str(args.work)],
                       check=True, stdout=sys.stderr)  # fmt: skip
        dt = json.loads((args.work / "datatrove.json").read_text())
        result["datatrove"] = score(examples, dt["predictions"], ("email", "ipv4"))
        result["datatrove"]["throughput"] = dt["throughput"]
        result["datatrove"]["tool"] = dt["tool"]
    (args.work / "results.json").write_text(json.dumps(result, indent=1))
    brief = {k: v for k, v in result.items() if k not in ("curate", "datatrove")}
    for tool in ("curate", "datatrove"):
        if tool in result:
            brief[tool] = {k: v for k, v in result[tool].items() if k != "natural_samples"}
    print(json.dumps(brief, indent=1))


if __name__ == "__main__":
    main()
