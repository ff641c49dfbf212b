"""Train a fastText quality classifier from any corpora curate can read (a DCLM-style recipe).

Steps: read positives and negatives with curate's readers (bad records skipped and counted); optionally
keep only one language (lid.176) and documents of a minimum length; hold out a stratified share of the
documents (by group: a source document, or a metadata field shared by two views of one web page); cut
documents into training units (whole, paragraphs or lines) and units into windows of `chunk_words` words;
balance the classes on those windows, which are what fastText trains on; train with word bigrams;
quantize without retraining (see `units.py`). Held-out units are scored whole, as at inference: ROC AUC
with a bootstrap interval, a length-only baseline beside it, the AUC within length quartiles
(`evaluation.py`), the threshold with the best balanced accuracy and the accuracy there and at 0.5.

A weak model (not clearly above chance, or not clearly above document length) is refused, nothing
written, unless `allow_weak`. The model card records data, counts, hyper-parameters and these numbers,
and names the fingerprints of the source documents whose units were trained on, written beside the model
(`fingerprints.py`): a sweep uses them to refuse in-sample scores.

fastText trains in a spawned process that imports nothing but fastText (`fasttext_fit.py` says why).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from curate import __version__
from curate.config import option
from curate.errors import UserError, WeakClassifier
from curate.quality import fasttext_fit, fasttext_util
from curate.quality import fingerprints as fp
from curate.quality.evaluation import assess
from curate.quality.metrics import accuracy, balanced_accuracy_threshold
from curate.quality.registry import card_path
from curate.quality.units import (
    NEGATIVE,
    POSITIVE,
    Doc,
    Unit,
    balanced_examples,
    discover_inputs,
    held_out_groups,
    read_docs,
    units_of,
    word_count,
)

MIN_EXAMPLES = 10  # per class: fewer trains nothing worth a card


@dataclass
class TrainParams:
    dim: int = option(16, help="Word vector size.", min=2)
    epoch: int = option(10, help="Passes over the training data.", min=1)
    lr: float = option(0.1, help="Learning rate.", min=1e-6)
    word_ngrams: int = option(2, help="Word n-grams as features (2: bigrams, as DCLM).", min=1)
    min_count: int = option(2, help="Ignore words seen fewer times.", min=1)
    bucket: int = option(
        200_000, help="Hash buckets for n-gram features (fastText's 2M makes ~0.5 GB).", min=1
    )
    quantize: bool = option(True, help="Quantize the model (.ftz, about 1 MB), without retraining.")
    cutoff: int = option(50_000, help="Quantization keeps this many features.", min=0)
    text_unit: Literal["auto", "file", "paragraph", "line"] = option(
        "auto",
        help="Training units: file (whole documents), paragraph, line; auto: paragraphs of text files, "
        "whole JSONL/Parquet records.",
    )
    fallback_encoding: str | None = option(
        None, help="Decode text that is not UTF-8 with this (e.g. cp1252) instead of skipping it."
    )
    min_unit_words: int = option(20, help="A shorter paragraph or line joins the next one.", min=1)
    chunk_words: int | None = option(
        128, help="Cut training units into windows of this many words (one example each).", min=8
    )
    lowercase: bool = option(True, help="Lower-case text for training and scoring.")
    max_chars: int | None = option(None, help="Characters of each document scored (none: all).", min=1)
    language: str | None = option(
        None, help="Keep only documents lid.176 says are in this language (e.g. en)."
    )
    min_language_score: float = option(0.5, help="... with at least this probability.", min=0.0, max=1.0)
    min_chars: int = option(0, help="Drop documents shorter than this.", min=0)
    holdout: float = option(
        0.2, help="Share of each class's documents (or groups) held out for evaluation.", min=0.01, max=0.5
    )
    group_key: str | None = option(None, help="Metadata field grouping documents for the held-out split.")
    max_docs_per_class: int | None = option(None, help="Cap on documents per class (sampled).", min=1)
    balance: bool = option(True, help="Down-sample the larger class's training examples to the smaller's.")
    seed: int = option(0, help="Seed for splitting, balancing and fastText.", min=0)
    threads: int = option(1, help="fastText threads (1 is reproducible).", min=1)


def language_filter(docs: list[Doc], p: TrainParams) -> list[Doc]:
    from curate.quality.stages import lid_model_path

    model = fasttext_util.load(lid_model_path())
    langs, scores = fasttext_util.predict_top(
        model, [fasttext_util.prepare(d.text, max_chars=2000) for d in docs]
    )
    return [d for d, lang, s in zip(docs, langs, scores) if lang == p.language and s >= p.min_language_score]


def _cap_per_class(docs: list[Doc], cap: int | None, seed: int) -> list[Doc]:
    if not cap:
        return docs
    rng = random.Random(seed)
    out = []
    for lab in (POSITIVE, NEGATIVE):
        mine = [d for d in docs if d.label == lab]
        out += rng.sample(mine, cap) if len(mine) > cap else mine
    return out


def resolve_text_unit(paths: list[str], fmt: str, text_unit: str) -> str:
    """`auto`: paragraphs when any input is a plain-text file (a book, an article: one long text), so that
    both classes are cut alike and do not differ by unit length; else whole records."""
    if text_unit != "auto":
        return text_unit
    return "paragraph" if any(f.format == "text" for f in discover_inputs(paths, fmt)) else "file"


def _warn_skipped(info: dict, name: str, log) -> None:
    if not info["skipped_bad_records"]:
        return
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(info["skipped_reasons"].items()))
    hint = (
        " (--set fallback_encoding=cp1252 reads text that is not UTF-8)" if "invalid_utf8" in reasons else ""
    )
    log(f"curate: warning: {info['skipped_bad_records']:,} {name} records skipped: {reasons}{hint}")


def train_classifier(
    positive: list[str],
    negative: list[str],
    output: str,
    p: TrainParams,
    text_key: str = "text",
    name: str | None = None,
    log=print,
    fmt: str = "auto",
    allow_weak: bool = False,
) -> dict:
    """Train, evaluate on the held-out split, save the model and its card; return the card.

    Raises `WeakClassifier` (nothing written) when the model is weak and `allow_weak` is false."""
    unit = resolve_text_unit(positive + negative, fmt, p.text_unit)
    pos, pos_info = read_docs(positive, POSITIVE, text_key, p.group_key, fmt, unit, p.fallback_encoding)
    neg, neg_info = read_docs(negative, NEGATIVE, text_key, p.group_key, fmt, unit, p.fallback_encoding)
    _warn_skipped(pos_info, "positive", log)
    _warn_skipped(neg_info, "negative", log)
    docs = [d for d in pos + neg if len(d.text) >= p.min_chars]
    if p.language:
        docs = language_filter(docs, p)
    docs = _cap_per_class(docs, p.max_docs_per_class, p.seed)
    held_groups = held_out_groups(docs, p.holdout, p.seed)
    train_docs = [d for d in docs if d.group not in held_groups]
    held_docs = [d for d in docs if d.group in held_groups]
    train_units = units_of(train_docs, p.min_unit_words)
    held_units = units_of(held_docs, p.min_unit_words)
    examples, available = balanced_examples(
        train_units, p.chunk_words, p.lowercase, p.max_chars, p.balance, p.seed
    )
    trained = Counter(e.label for e in examples)
    if min(trained[POSITIVE], trained[NEGATIVE]) < MIN_EXAMPLES:
        raise UserError(
            f"too little data to train: {trained[POSITIVE]} positive and {trained[NEGATIVE]} negative "
            f"training examples (after filters and balancing); give at least {MIN_EXAMPLES} of each class "
            "(thousands for a useful model), or cut long documents with --text-unit paragraph."
        )
    trained_docs = sorted({e.doc for e in examples})
    log(
        f"curate: training on {len(examples):,} examples ({trained[POSITIVE]:,} + {trained[NEGATIVE]:,}) "
        f"from {len(trained_docs):,} documents; {len(held_units):,} units of {len(held_docs):,} documents "
        "held out"
    )
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / Path(output).name
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("".join(f"__label__{e.label} {e.text}\n" for e in examples), encoding="utf-8")
        started = time.perf_counter()
        fasttext_fit.fit(str(train_file), str(model_file), asdict(p))
        seconds = time.perf_counter() - started
        holdout = evaluate_holdout(str(model_file), held_units, p, unit)
        if holdout["weak"] and not allow_weak:
            raise WeakClassifier(
                f"the trained classifier is weak: {holdout['weak']}, so nothing was written; check that the "
                "positives and negatives differ in more than length (and that there are enough of each), "
                "or pass --allow-weak to keep it."
            )
        fingerprints = fp.fingerprints(train_docs[i].text for i in trained_docs)
        output_path = _install(model_file, Path(output))
    card = {
        "name": name or output_path.stem,
        "model_file": output_path.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "curate_version": __version__,
        "fasttext_version": importlib.metadata.version("fasttext"),
        "labels": {"positive": POSITIVE, "negative": NEGATIVE},
        "data": {
            "positive": pos_info, "negative": neg_info, "format": fmt,
            "after_filters": dict(Counter(d.label for d in docs)),
            # Documents with at least one trained example, the units cut from the training documents, the
            # windows those gave and the windows trained on (balanced).
            "train": dict(Counter(train_docs[i].label for i in trained_docs)),
            "train_units": dict(Counter(u.label for u in train_units)),
            "train_windows_available": available,
            "train_examples": len(examples), "train_examples_by_class": dict(trained),
            "holdout": dict(Counter(d.label for d in held_docs)),
            "holdout_units": dict(Counter(u.label for u in held_units)),
        },
        "hyperparameters": {k: v for k, v in asdict(p).items() if k not in ("lowercase", "max_chars")},
        "preprocess": {"lowercase": p.lowercase, "max_chars": p.max_chars, "fold_whitespace": True,
                       "train_chunk_words": p.chunk_words},
        "holdout": holdout,
        # Which texts the model saw: a sweep refuses to rank a pool by in-sample scores (fingerprints.py).
        "training_fingerprints": fp.save(output_path, fingerprints),
        "train_seconds": round(seconds, 2),
        "file": {"bytes": output_path.stat().st_size,
                 "sha256": hashlib.sha256(output_path.read_bytes()).hexdigest()},
    }  # fmt: skip
    card_path(output_path).write_text(json.dumps(card, indent=2) + "\n")
    return card


def evaluate_holdout(model_file: str, held: list[Unit], p: TrainParams, unit: str) -> dict:
    """Held-out units scored whole (as at inference): AUC with its interval, the length baseline, the
    length-controlled AUC and the verdict (`evaluation.assess`), threshold and accuracies."""
    model = fasttext_util.load(model_file)
    labels = np.array([u.label == POSITIVE for u in held])
    scores = fasttext_util.predict_label_probability(
        model, [fasttext_util.prepare(u.text, p.lowercase, p.max_chars) for u in held], POSITIVE
    )
    fasttext_util.load.cache_clear()  # the file is moved next: a cached handle must not outlive its path
    lengths = [word_count(u.text) for u in held]
    result = assess(labels, scores, lengths, [u.group for u in held], p.seed)
    threshold = balanced_accuracy_threshold(labels, scores)
    return {
        "unit": unit, **result, "threshold": round(threshold, 4),
        "accuracy_at_threshold": round(accuracy(labels, scores, threshold), 4),
        "accuracy_at_0.5": round(accuracy(labels, scores), 4),
    }  # fmt: skip


def _install(model_file: Path, output: Path) -> Path:
    """Move the accepted model to `output` (its folder created), replacing an older one."""
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(model_file), str(output))
    return output
