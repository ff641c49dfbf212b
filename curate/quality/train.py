"""Train a fastText quality classifier from any corpora curate can read (DCLM-style recipe).

Positives and negatives are read with curate's readers (JSONL, Parquet, text; bad records are skipped and
counted), folded to one line each, balanced by down-sampling the larger class (seeded), split into train
and held-out parts, and given to fastText's supervised trainer with word bigrams. The held-out part gives
accuracy and ROC AUC; the model card records data, counts, hyper-parameters and those numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from curate import __version__
from curate.config import option
from curate.errors import UserError
from curate.io.discover import discover, plan_units
from curate.io.readers import ReadOptions, read_unit
from curate.quality import fasttext_util
from curate.quality.metrics import accuracy, roc_auc
from curate.quality.registry import card_path

POSITIVE, NEGATIVE = "hq", "lq"


@dataclass
class TrainParams:
    dim: int = option(64, help="Word vector size.", min=2)
    epoch: int = option(8, help="Passes over the training data.", min=1)
    lr: float = option(0.1, help="Learning rate.", min=1e-6)
    word_ngrams: int = option(2, help="Word n-grams as features (2: bigrams, as DCLM).", min=1)
    min_count: int = option(3, help="Ignore words seen fewer times.", min=1)
    bucket: int = option(
        200_000, help="Hash buckets for n-gram features (fastText's 2M makes ~0.5 GB).", min=1
    )
    quantize: bool = option(True, help="Quantize the model (.ftz, a few MB).")
    cutoff: int = option(50_000, help="Quantization keeps this many features.", min=0)
    lowercase: bool = option(True, help="Lower-case text for training and scoring.")
    max_chars: int | None = option(20_000, help="Characters of each document used.", min=1)
    holdout: float = option(0.1, help="Share of each class held out for evaluation.", min=0.01, max=0.5)
    max_docs_per_class: int | None = option(None, help="Cap on documents per class.", min=1)
    balance: bool = option(True, help="Down-sample the larger class to the size of the smaller.")
    seed: int = option(0, help="Seed for shuffling, splitting and fastText.", min=0)
    threads: int = option(1, help="fastText threads (1 is reproducible).", min=1)


def read_texts(paths: list[str], text_key: str) -> tuple[list[str], dict]:
    """Every readable document of the given inputs, and counts of what was read and skipped."""
    files = discover(paths)
    texts, bad = [], 0
    opts = ReadOptions(text_key=text_key)
    for unit in plan_units(files, 64 << 20):
        for batch in read_unit(unit, opts):
            texts += batch.docs.column("text").to_pylist()
            bad += batch.quarantine.num_rows
    return texts, {"paths": paths, "files": len(files), "docs": len(texts), "skipped_bad_records": bad}


def train_classifier(
    positive: list[str],
    negative: list[str],
    output: str,
    p: TrainParams,
    text_key: str = "text",
    name: str | None = None,
    log=print,
) -> dict:
    """Train, evaluate on the held-out split, save the model and its card; return the card."""
    import fasttext

    rng = random.Random(p.seed)
    pos, pos_info = read_texts(positive, text_key)
    neg, neg_info = read_texts(negative, text_key)
    if len(pos) < 10 or len(neg) < 10:
        raise UserError(
            f"too little data to train: {len(pos)} positive and {len(neg)} negative documents; "
            "give at least 10 of each (thousands for a useful model)."
        )
    for texts in (pos, neg):
        rng.shuffle(texts)
    cap = min(len(pos), len(neg)) if p.balance else None
    if p.max_docs_per_class:
        cap = min(cap or p.max_docs_per_class, p.max_docs_per_class)
    pos, neg = pos[:cap], neg[:cap]
    held = {label: max(1, round(len(t) * p.holdout)) for label, t in ((POSITIVE, pos), (NEGATIVE, neg))}
    train_rows = [(POSITIVE, t) for t in pos[held[POSITIVE] :]] + [
        (NEGATIVE, t) for t in neg[held[NEGATIVE] :]
    ]
    test_rows = [(POSITIVE, t) for t in pos[: held[POSITIVE]]] + [
        (NEGATIVE, t) for t in neg[: held[NEGATIVE]]
    ]
    rng.shuffle(train_rows)
    output_path = Path(output)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.txt"
        with open(train_file, "w", encoding="utf-8") as f:
            for label, text in train_rows:
                f.write(f"__label__{label} {fasttext_util.prepare(text, p.lowercase, p.max_chars)}\n")
        log(
            f"curate: training on {len(train_rows):,} documents "
            f"({len(pos):,} positive, {len(neg):,} negative in all)"
        )
        model = fasttext.train_supervised(
            input=str(train_file),
            dim=p.dim,
            epoch=p.epoch,
            lr=p.lr,
            wordNgrams=p.word_ngrams,
            minCount=p.min_count,
            bucket=p.bucket,
            thread=p.threads,
            seed=p.seed,
            verbose=0,
        )
        if p.quantize:
            model.quantize(input=str(train_file), qnorm=True, retrain=True, cutoff=p.cutoff, thread=p.threads)
        model.save_model(str(output_path))
    seconds = time.perf_counter() - started
    lines = [fasttext_util.prepare(t, p.lowercase, p.max_chars) for _, t in test_rows]
    labels = np.array([label == POSITIVE for label, _ in test_rows])
    scores = fasttext_util.predict_label_probability(model, lines, POSITIVE)
    card = {
        "name": name or output_path.stem,
        "model_file": output_path.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "curate_version": __version__,
        "fasttext_version": importlib.metadata.version("fasttext"),
        "labels": {"positive": POSITIVE, "negative": NEGATIVE},
        "data": {
            "positive": pos_info,
            "negative": neg_info,
            "train": {POSITIVE: len(pos) - held[POSITIVE], NEGATIVE: len(neg) - held[NEGATIVE]},
            "holdout": {POSITIVE: held[POSITIVE], NEGATIVE: held[NEGATIVE]},
        },
        "hyperparameters": {k: v for k, v in asdict(p).items() if k not in ("lowercase", "max_chars")},
        "preprocess": {"lowercase": p.lowercase, "max_chars": p.max_chars, "fold_whitespace": True},
        "holdout": {
            "docs": len(test_rows),
            "accuracy": round(accuracy(labels, scores), 4),
            "roc_auc": round(roc_auc(labels, scores), 4),
        },
        "train_seconds": round(seconds, 2),
        "file": {
            "bytes": output_path.stat().st_size,
            "sha256": hashlib.sha256(output_path.read_bytes()).hexdigest(),
        },
    }
    card_path(output_path).write_text(json.dumps(card, indent=2) + "\n")
    return card
