"""Quality-classifier recipes against the DCLM human labels, and books against web text (issue 18).

    python quality_models/build_training_data.py --data ../shared/data --out build/quality-data --skip ''
    python benchmarks/quality_recipes.py recipes --data ../shared/data --train build/quality-data
    python benchmarks/quality_recipes.py books --data ../shared/data

`recipes` trains `curate train-classifier` on the shipped model's pages (all sources built, so `--skip ''`)
with each recipe below and scores the DCLM majority labels (evaluation only, never trained on) with
`assess`: ROC AUC with a bootstrap interval, the difference from document length alone, and the AUC within
length quartiles. Every recipe was scored on the evaluation set, so the best of them is optimistic.

`books` trains with defaults on five Gutenberg books against WebText and scores paragraphs (20+ words) of
the other books against the tiny C4 sample, for three choices of five books.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from curate.quality import fasttext_util
from curate.quality.evaluation import assess
from curate.quality.metrics import roc_auc
from curate.quality.train import TrainParams, train_classifier
from curate.quality.units import split_units

SHIPPED = {"language": "en", "min_chars": 200, "group_key": "page", "chunk_words": 128}
ORDINARY_WEB = ("tiny_c4", "cc_samples")  # negatives that are mostly ordinary web text
RECIPES = {  # name: (sources left out of the negatives, parameters over SHIPPED)
    "v1 data, lower case (v1's recipe)": ((), {}),
    "v1 data, cased": ((), {"lowercase": False}),
    "no C4/CC negatives, lower case": (ORDINARY_WEB, {}),
    "no C4/CC negatives, cased (v2)": (ORDINARY_WEB, {"lowercase": False}),
    "no C4/CC negatives, cased, seed 1": (ORDINARY_WEB, {"lowercase": False, "seed": 1}),
    "no C4/CC negatives, cased, seed 2": (ORDINARY_WEB, {"lowercase": False, "seed": 2}),
    "boilerplate negatives only, cased": ((*ORDINARY_WEB, "cc_warc_pages"), {"lowercase": False}),
    "no C4/CC negatives, cased, 100-word windows": (ORDINARY_WEB, {"lowercase": False, "chunk_words": 100}),
    "no C4/CC negatives, cased, 7 epochs": (ORDINARY_WEB, {"lowercase": False, "epoch": 7}),
    "no C4/CC negatives, cased, unigrams": (ORDINARY_WEB, {"lowercase": False, "word_ngrams": 1}),
}
BOOK_SETS = [
    ["austen-emma", "chesterton-brown", "melville-moby_dick", "milton-paradise", "whitman-leaves"],
    ["austen-sense", "chesterton-thursday", "shakespeare-hamlet", "blake-poems", "melville-moby_dick"],
    ["austen-persuasion", "austen-emma", "austen-sense", "chesterton-brown", "chesterton-thursday"],
]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def recipes(data: Path, train: Path) -> None:
    dclm = rows(data / "eval/dclm_human_quality_labels/majority_data.jsonl")
    labels = np.array([int(r["label"]) == 1 for r in dclm])
    words = [len(r["text"].split()) for r in dclm]
    print("| recipe | held-out AUC | DCLM majority AUC [95%] | − length [95%] | within length quartiles |")
    print("|---|---:|---:|---:|---:|")
    for name, (dropped, params) in RECIPES.items():
        with tempfile.TemporaryDirectory() as tmp:
            negatives = Path(tmp) / "negative.jsonl"
            negatives.write_text(
                "".join(
                    json.dumps(r) + "\n" for r in rows(train / "negative.jsonl") if r["source"] not in dropped
                )
            )
            p = TrainParams(**{**SHIPPED, **params})
            model = Path(tmp) / "m.ftz"
            card = train_classifier(
                [str(train / "positive.jsonl")],
                [str(negatives)],
                str(model),
                p,
                log=lambda m: None,
                allow_weak=True,
            )
            ft = fasttext_util.load(str(model))
            lines = [fasttext_util.prepare(r["text"], p.lowercase) for r in dclm]
            r = assess(labels, fasttext_util.predict_label_probability(ft, lines, "hq"), words)
            fasttext_util.load.cache_clear()
        print(
            f"| {name} | {card['holdout']['roc_auc']:.3f} | {r['roc_auc']:.3f} {r['roc_auc_interval']} | "
            f"{r['auc_minus_length']:+.3f} {r['auc_minus_length_interval']} | "
            f"{r['length_controlled']['mean']:.3f} |",
            flush=True,
        )


def books(data: Path) -> None:
    shelf = data / "reference/gutenberg_nltk"
    webtext = data / "web/webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl"
    c4 = [r["text"] for r in rows(data / "web/recdp_tiny_c4/tiny_c4_sample.jsonl")]
    for chosen in BOOK_SETS:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "books"
            folder.mkdir()
            for name in chosen:
                shutil.copy(shelf / f"{name}.txt", folder)
            model = Path(tmp) / "books.ftz"
            card = train_classifier(
                [str(folder)], [str(webtext)], str(model), TrainParams(), log=lambda m: None, allow_weak=True
            )
            others = [
                p
                for f in sorted(shelf.glob("*.txt"))
                if f.stem not in chosen
                for p in split_units(f.read_text(errors="replace"), "paragraph", 1)
                if len(p.split()) >= 20
            ]
            ft = fasttext_util.load(str(model))
            scores = fasttext_util.predict_label_probability(
                ft, [fasttext_util.prepare(t, True) for t in others + c4], "hq"
            )
            fasttext_util.load.cache_clear()
        auc = roc_auc(np.array([True] * len(others) + [False] * len(c4)), scores)
        h = card["holdout"]
        print(
            f"{', '.join(chosen)}: held-out AUC {h['roc_auc']:.3f} (length "
            f"{h['length_baseline']['roc_auc']:.3f}); {len(others):,} paragraphs of the other books against "
            f"{len(c4)} C4 documents: ROC AUC {auc:.3f}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["recipes", "books"])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--train", type=Path, default=Path("build/quality-data"))
    args = ap.parse_args()
    recipes(args.data, args.train) if args.what == "recipes" else books(args.data)


if __name__ == "__main__":
    main()
