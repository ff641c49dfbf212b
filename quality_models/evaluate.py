"""Evaluate a quality model on the DCLM human quality labels (evaluation only: never trained on) and
record the numbers in its model card under `evaluations`.

    python quality_models/evaluate.py quality_models/curate-web-quality-v1.ftz --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from curate.quality import fasttext_util
from curate.quality.metrics import accuracy, roc_auc
from curate.quality.registry import card_path, resolve


def evaluate(model_path: str, data: Path) -> dict:
    info = resolve(model_path)
    model = fasttext_util.load(str(Path(info.path).resolve()))
    threshold = info.card["holdout"]["threshold"]
    results = {}
    for name in ("majority", "agreement"):
        path = data / "eval" / "dclm_human_quality_labels" / f"{name}_data.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        labels = np.array([int(r["label"]) == 1 for r in rows])
        lines = [fasttext_util.prepare(r["text"], info.lowercase, info.max_chars) for r in rows]
        scores = fasttext_util.predict_label_probability(model, lines, info.positive_label)
        results[f"dclm_human_{name}"] = {
            "docs": len(rows), "good": int(labels.sum()), "roc_auc": round(roc_auc(labels, scores), 4),
            "accuracy_at_threshold": round(accuracy(labels, scores, threshold), 4),
            "accuracy_at_0.5": round(accuracy(labels, scores), 4),
            "source": f"shared/data/eval/dclm_human_quality_labels/{name}_data.jsonl (mlfoundations/dclm)",
        }  # fmt: skip
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = ap.parse_args()
    results = evaluate(args.model, args.data)
    card_file = card_path(args.model)
    card = json.loads(card_file.read_text())
    card["evaluations"] = results
    card_file.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
