"""Evaluate a quality model on the DCLM human quality labels (evaluation only: never trained on) and
record the numbers in its model card under `evaluations`.

    python quality_models/evaluate.py quality_models/curate-web-quality-v2.ftz --data ../shared/data

For each label set: ROC AUC with a 95% bootstrap interval (documents resampled), the length-only
baseline (word count, in its better direction) with its interval, the paired difference,
the AUC within each length quartile (length-controlled) and the accuracy at the card's threshold and at 0.5.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from curate.quality import fasttext_util
from curate.quality.evaluation import assess
from curate.quality.metrics import accuracy
from curate.quality.registry import card_path, resolve


def label_sets(data: Path):
    """(name, texts, labels) of the DCLM human-label sets."""
    for name in ("majority", "agreement"):
        path = data / "eval" / "dclm_human_quality_labels" / f"{name}_data.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        yield name, [r["text"] for r in rows], np.array([int(r["label"]) == 1 for r in rows])


def evaluate(model_path: str, data: Path) -> dict:
    info = resolve(model_path)
    model = fasttext_util.load(str(Path(info.path).resolve()))
    threshold = info.card["holdout"]["threshold"]
    results = {}
    for name, texts, labels in label_sets(data):
        lines = [fasttext_util.prepare(t, info.lowercase, info.max_chars) for t in texts]
        scores = fasttext_util.predict_label_probability(model, lines, info.positive_label)
        lengths = [len(t.split()) for t in texts]
        results[f"dclm_human_{name}"] = {
            **assess(labels, scores, lengths, seed=0),
            "good": int(labels.sum()),
            "accuracy_at_threshold": round(accuracy(labels, scores, threshold), 4),
            "accuracy_at_0.5": round(accuracy(labels, scores), 4),
            "source": f"shared/data/eval/dclm_human_quality_labels/{name}_data.jsonl (mlfoundations/dclm)",
        }
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
    for name, r in results.items():
        lc = r["length_controlled"]["mean"]
        print(
            f"{name}: {r['docs']} docs, ROC AUC {r['roc_auc']:.3f} {r['roc_auc_interval']}, length alone "
            f"{r['length_baseline']['roc_auc']:.3f}, difference {r['auc_minus_length']:+.3f} "
            f"{r['auc_minus_length_interval']}, within length quartiles {lc:.3f}"
        )


if __name__ == "__main__":
    main()
