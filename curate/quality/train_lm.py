"""`curate train-lm`: a byte n-gram language model from any corpus curate reads, with its card.

The documents are read like any input (JSONL, Parquet, text: a book per text file, or a document per line
with `text_unit: line`). A share of them (`holdout`, by a seeded shuffle) is held out: the card reports
the model's bits per byte on them. The perplexity percentiles that make the `perplexity` stage's default
head / middle / tail cutoffs come from a calibration corpus (`--calibrate`: text like what will be
filtered, e.g. a sample of the crawl, as CCNet computes them on its shards), or else from the held-out
documents.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from curate.config import option
from curate.errors import UserError
from curate.quality import byte_lm
from curate.quality.units import read_docs
from curate.sweep.ngram import ByteNgramLM, encode_documents

PERCENTILES = (30, 60)  # CCNet's head / middle / tail split


@dataclass
class LmTrainParams:
    order: int = option(4, help="Bytes per n-gram (the context is order - 1 bytes).", min=1, max=8)
    holdout: float = option(
        0.05, help="Share of the documents held out for the card's bits per byte.", min=0.0, max=0.5
    )
    max_mb: float | None = option(
        None, help="Train on at most this many MB of text (documents in order).", min=0.001
    )
    seed: int = option(0, help="Seed of the held-out shuffle.")


def _texts(paths: list[str], fmt: str, text_key: str, text_unit: str) -> tuple[list[str], dict]:
    docs, info = read_docs(paths, "lm", text_key, None, fmt, text_unit, fallback_encoding="cp1252")
    texts = [d.text for d in docs if d.text.strip()]
    if not texts:
        raise UserError(f"no readable documents in {paths}; check the paths and --text-key.")
    return texts, {"paths": paths, "files": info["files"], "documents": len(texts),
                   "skipped_bad_records": info["skipped_bad_records"]}  # fmt: skip


def cutoffs(perplexities: np.ndarray) -> dict:
    p = np.nanpercentile(perplexities, PERCENTILES)
    return {"head_max": float(p[0]), "tail_min": float(p[1]), "percentiles": list(PERCENTILES)}


def train_lm(
    paths: list[str],
    output: str,
    params: LmTrainParams,
    name: str | None = None,
    calibrate: list[str] | None = None,
    text_key: str = "text",
    fmt: str = "auto",
    text_unit: str = "file",
    log: Callable[[str], None] = print,
) -> dict:
    """Train, evaluate, calibrate and save; return the card."""
    if not output.endswith(".npz"):
        raise UserError(
            f"the model file '{output}' must end in .npz (its card is written beside it as .json)."
        )
    texts, data = _texts(paths, fmt, text_key, text_unit)
    order = list(range(len(texts)))
    random.Random(params.seed).shuffle(order)
    n_held = round(params.holdout * len(texts)) if len(texts) > 1 else 0
    held = sorted(order[:n_held])
    train = sorted(order[n_held:])
    train_texts = [texts[i] for i in train]
    if params.max_mb is not None:
        budget, kept = int(params.max_mb * 1e6), []
        for t in train_texts:
            budget -= len(t.encode("utf-8", "replace"))
            if budget < 0 and kept:
                break
            kept.append(t)
        train_texts = kept
    stream = encode_documents(train_texts)
    log(f"curate: training a byte {params.order}-gram model on {len(train_texts):,} documents "
        f"({len(stream) / 1e6:.1f} MB); {len(held):,} held out")  # fmt: skip
    model = ByteNgramLM(params.order).fit(stream)
    scorer = byte_lm.Scorer(model)
    card = {
        "name": name or Path(output).stem,
        "params": asdict(params),
        "data": {**data, "trained_documents": len(train_texts), "trained_bytes": len(stream)},
        "unit": "perplexity per UTF-8 byte: exp(mean nats per byte), each document scored alone",
        "scoring_bytes": scorer.nbytes,  # memory of the loaded model (the stage's worker_memory)
    }
    if held:
        ppl = byte_lm.perplexities(scorer, [texts[i] for i in held])
        n = np.array([len(texts[i].encode("utf-8", "replace")) for i in held])
        bits = float(np.nansum(np.log2(ppl) * n) / n.sum())
        card["holdout"] = {
            "documents": len(held),
            "bits_per_byte": bits,
            "median_perplexity": float(np.nanmedian(ppl)),
        }
    if calibrate:
        cal_texts, cal_data = _texts(calibrate, "auto", text_key, "file")
        card["cutoffs"] = {**cutoffs(byte_lm.perplexities(scorer, cal_texts)), "calibration": cal_data}
    elif held:
        card["cutoffs"] = {**cutoffs(byte_lm.perplexities(scorer, [texts[i] for i in held])),
                           "calibration": "the held-out training documents"}  # fmt: skip
    return byte_lm.save(model, output, card)
