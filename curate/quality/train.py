"""Train a fastText quality classifier from any corpora curate can read (a DCLM-style recipe).

Steps: read positives and negatives with curate's readers (bad records skipped and counted); optionally
keep only one language (lid.176) and documents of a minimum length; hold out a share of documents (by a
group key when given, so that two views of one web page never straddle the split); balance the classes by
down-sampling the larger one (seeded); fold each training document to one line (lower case, whitespace
folded) and cut it into windows of `chunk_words` words, one fastText example each; train with word
bigrams; quantize without retraining. Held-out documents are scored whole, as at inference, giving ROC
AUC, the threshold with the best balanced accuracy, and the accuracy there and at 0.5. The model card
records data, counts, hyper-parameters and these numbers, and names the fingerprints of the training
documents, written beside the model (`fingerprints.py`): a sweep uses them to refuse in-sample scores.

fastText runs in a spawned process: fasttext 0.9.3 can fail with "Encountered NaN" when a process trains
a second model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import multiprocessing
import random
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from curate import __version__
from curate.config import option
from curate.errors import UserError
from curate.io.discover import discover, plan_units
from curate.io.readers import ReadOptions, read_unit
from curate.quality import fasttext_util
from curate.quality import fingerprints as fp
from curate.quality.metrics import accuracy, balanced_accuracy_threshold, roc_auc
from curate.quality.registry import card_path

POSITIVE, NEGATIVE = "hq", "lq"


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
    chunk_words: int | None = option(
        128, help="Cut training documents into windows of this many words.", min=8
    )
    lowercase: bool = option(True, help="Lower-case text for training and scoring.")
    max_chars: int | None = option(None, help="Characters of each document scored (none: all).", min=1)
    language: str | None = option(
        None, help="Keep only documents lid.176 says are in this language (e.g. en)."
    )
    min_language_score: float = option(0.5, help="... with at least this probability.", min=0.0, max=1.0)
    min_chars: int = option(0, help="Drop documents shorter than this.", min=0)
    holdout: float = option(
        0.2, help="Share of documents (or groups) held out for evaluation.", min=0.01, max=0.5
    )
    group_key: str | None = option(None, help="Metadata field grouping documents for the held-out split.")
    max_docs_per_class: int | None = option(None, help="Cap on documents per class.", min=1)
    balance: bool = option(True, help="Down-sample the larger class to the size of the smaller.")
    seed: int = option(0, help="Seed for splitting, balancing and fastText.", min=0)
    threads: int = option(1, help="fastText threads (1 is reproducible).", min=1)


@dataclass
class Doc:
    label: str
    text: str
    group: str


def read_docs(paths: list[str], label: str, text_key: str, group_key: str | None) -> tuple[list[Doc], dict]:
    """Every readable document of the inputs, and counts of what was read and skipped."""
    files = discover(paths)
    docs, bad = [], 0
    for unit in plan_units(files, 64 << 20):
        for batch in read_unit(unit, ReadOptions(text_key=text_key)):
            bad += batch.quarantine.num_rows
            for doc_id, text, meta in zip(
                *(batch.docs.column(c).to_pylist() for c in ("id", "text", "meta"))
            ):
                group = json.loads(meta).get(group_key) if (group_key and meta) else None
                docs.append(Doc(label, text, f"{label}:{doc_id}" if group is None else str(group)))
    return docs, {"paths": paths, "files": len(files), "docs": len(docs), "skipped_bad_records": bad}


def language_filter(docs: list[Doc], p: TrainParams) -> list[Doc]:
    from curate.quality.stages import lid_model_path

    model = fasttext_util.load(lid_model_path())
    langs, scores = fasttext_util.predict_top(
        model, [fasttext_util.prepare(d.text, max_chars=2000) for d in docs]
    )
    return [d for d, lang, s in zip(docs, langs, scores) if lang == p.language and s >= p.min_language_score]


def in_holdout(group: str, share: float) -> bool:
    """A stable split by group: md5 of the group name below `share`."""
    return int(hashlib.md5(group.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def training_lines(docs: list[Doc], p: TrainParams) -> list[str]:
    """`__label__X words...` lines: each document folded, cut into windows (a short tail joins none)."""
    lines = []
    for d in docs:
        words = fasttext_util.prepare(d.text, p.lowercase, p.max_chars).split(" ")
        step = p.chunk_words or len(words)
        for i in range(0, len(words), step):
            if i == 0 or len(words) - i >= step // 4:
                lines.append(f"__label__{d.label} {' '.join(words[i : i + step])}")
    return lines


def _fit_in_child(train_file: str, output: str, p: dict) -> None:
    """Runs in a spawned process (see the module docstring)."""
    import fasttext

    model = fasttext.train_supervised(
        input=train_file, dim=p["dim"], epoch=p["epoch"], lr=p["lr"], wordNgrams=p["word_ngrams"],
        minCount=p["min_count"], bucket=p["bucket"], thread=p["threads"], seed=p["seed"], loss="softmax",
        minn=0, maxn=0, verbose=0,
    )  # fmt: skip
    if p["quantize"]:
        model.quantize(input=train_file, qnorm=True, retrain=False, cutoff=p["cutoff"], dsub=2)
    model.save_model(output)


def _fit(train_file: str, output: str, p: TrainParams) -> None:
    proc = multiprocessing.get_context("spawn").Process(
        target=_fit_in_child, args=(train_file, output, asdict(p))
    )
    proc.start()
    proc.join()
    if proc.exitcode != 0 or not Path(output).is_file():
        raise RuntimeError(f"fastText training failed (exit code {proc.exitcode})")


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
    pos, pos_info = read_docs(positive, POSITIVE, text_key, p.group_key)
    neg, neg_info = read_docs(negative, NEGATIVE, text_key, p.group_key)
    docs = [d for d in pos + neg if len(d.text) >= p.min_chars]
    if p.language:
        docs = language_filter(docs, p)
    train = [d for d in docs if not in_holdout(d.group, p.holdout)]
    held = [d for d in docs if in_holdout(d.group, p.holdout)]
    rng = random.Random(p.seed)
    by_label = {lab: [d for d in train if d.label == lab] for lab in (POSITIVE, NEGATIVE)}
    counts = {lab: len(v) for lab, v in by_label.items()}
    if min(counts.values()) < 10 or not held:
        raise UserError(
            f"too little data to train: {counts[POSITIVE]} positive and {counts[NEGATIVE]} negative "
            f"training documents and {len(held)} held out (after filters); give at least 10 of each "
            "class (thousands for a useful model)."
        )
    cap = min(counts.values()) if p.balance else None
    if p.max_docs_per_class:
        cap = min(cap or p.max_docs_per_class, p.max_docs_per_class)
    for lab, ds in by_label.items():
        rng.shuffle(ds)
        by_label[lab] = ds[:cap]
    train = by_label[POSITIVE] + by_label[NEGATIVE]
    rng.shuffle(train)
    lines = training_lines(train, p)
    output_path = Path(output)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    log(f"curate: training on {len(train):,} documents ({len(lines):,} examples); {len(held):,} held out")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _fit(str(train_file), str(output_path), p)
    seconds = time.perf_counter() - started
    model = fasttext_util.load(str(output_path.resolve()))
    labels = np.array([d.label == POSITIVE for d in held])
    scores = fasttext_util.predict_label_probability(
        model, [fasttext_util.prepare(d.text, p.lowercase, p.max_chars) for d in held], POSITIVE
    )
    threshold = balanced_accuracy_threshold(labels, scores)
    card = {
        "name": name or output_path.stem,
        "model_file": output_path.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "curate_version": __version__,
        "fasttext_version": importlib.metadata.version("fasttext"),
        "labels": {"positive": POSITIVE, "negative": NEGATIVE},
        "data": {
            "positive": pos_info, "negative": neg_info,
            "after_filters": dict(Counter(d.label for d in docs)),
            "train": {lab: len(v) for lab, v in by_label.items()}, "train_examples": len(lines),
            "holdout": dict(Counter(d.label for d in held)),
        },
        "hyperparameters": {k: v for k, v in asdict(p).items() if k not in ("lowercase", "max_chars")},
        "preprocess": {"lowercase": p.lowercase, "max_chars": p.max_chars, "fold_whitespace": True,
                       "train_chunk_words": p.chunk_words},
        "holdout": {
            "docs": len(held), "roc_auc": round(roc_auc(labels, scores), 4), "threshold": round(threshold, 4),
            "accuracy_at_threshold": round(accuracy(labels, scores, threshold), 4),
            "accuracy_at_0.5": round(accuracy(labels, scores), 4),
        },
        # Which texts the model saw: a sweep refuses to rank a pool by in-sample scores (fingerprints.py).
        "training_fingerprints": fp.save(output_path, fp.fingerprints(d.text for d in train)),
        "train_seconds": round(seconds, 2),
        "file": {"bytes": output_path.stat().st_size,
                 "sha256": hashlib.sha256(output_path.read_bytes()).hexdigest()},
    }  # fmt: skip
    card_path(output_path).write_text(json.dumps(card, indent=2) + "\n")
    return card
