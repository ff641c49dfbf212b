"""Content fingerprints of documents: which texts a quality model was trained on.

A model scored on its own training documents gives in-sample scores: a sweep that ranks a pool by such
scores measures how well the model remembers, not what its notion of quality buys. So `curate
train-classifier` writes the fingerprints of every document it trained on beside the model
(`MODEL.train-fingerprints.npy`, named in the card), and a sweep counts how many pool documents carry one.

A fingerprint is the first 8 bytes of BLAKE2b-128 of the text after the exact-dedup normalization (NFC,
whitespace runs collapsed, ends stripped), as an unsigned 64-bit integer: a verbatim copy, or one that
differs only in whitespace, matches; an edited copy or a document containing a training text does not
(near duplicates are what `minhash_dedup` is for). At 8 bytes a fingerprint, a million training documents
take 8 MB, and a false match between two different texts has probability about n·m / 2^64.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from curate.dedup.exact import ExactParams, normalize_exact

SCHEME = "blake2b-64 of the NFC, whitespace-collapsed text"
SUFFIX = ".train-fingerprints.npy"
_NORMALIZE = ExactParams()


def fingerprint(text: str) -> int:
    digest = hashlib.blake2b(normalize_exact(text, _NORMALIZE).encode("utf-8"), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little")


def fingerprints(texts: Iterable[str]) -> np.ndarray:
    """(n,) uint64, in the order of `texts`."""
    return np.fromiter((fingerprint(t) for t in texts), dtype=np.uint64)


def sidecar_path(model_path: str | Path) -> Path:
    path = Path(model_path)
    return path.with_name(path.stem + SUFFIX)


def save(model_path: str | Path, values: np.ndarray) -> dict:
    """Write the sorted, unique fingerprints beside the model; return what the card records of them."""
    unique = np.unique(np.asarray(values, dtype=np.uint64))
    path = sidecar_path(model_path)
    np.save(path, unique, allow_pickle=False)
    return {
        "file": path.name,
        "documents": int(unique.size),
        "scheme": SCHEME,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def load(model_path: str | Path, card: dict) -> np.ndarray | None:
    """The training fingerprints a card names (sorted uint64), or None when the card records none."""
    info = card.get("training_fingerprints")
    if not info:
        return None
    path = Path(model_path).with_name(info["file"])
    if not path.is_file():
        return None
    return np.load(path, allow_pickle=False)


def contained(values: np.ndarray, training: np.ndarray) -> np.ndarray:
    """(n,) bool: which of `values` are among the sorted `training` fingerprints."""
    values = np.asarray(values, dtype=np.uint64)
    if training.size == 0 or values.size == 0:
        return np.zeros(values.size, dtype=bool)
    at = np.minimum(np.searchsorted(training, values), training.size - 1)
    return training[at] == values
