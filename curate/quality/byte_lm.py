"""A byte n-gram language model in a file, with its card: what `perplexity` scores documents with.

The model is the project's own interpolated Kneser-Ney byte n-gram (`curate.sweep.ngram`). Its highest
order's sorted keys and counts determine every lower order, so the file holds only those two arrays:

    NAME.npz    `key_steps` (uint64: the sorted keys as differences, which compress well), `counts`
                (uint32), `order`, `trained_bytes`
    NAME.json   the card: name, order, training data (files, documents, bytes), held-out bits per byte,
                the perplexity percentiles of a calibration set (the default head / tail cutoffs), date,
                curate version, the sha256 of NAME.npz

A document's perplexity is exp(mean nats per byte) over its UTF-8 bytes, each predicted from the bytes
before it in the same document (a document is scored alone, its start padded as the model's training
documents were). Lower is more like the training text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from curate import __version__
from curate.config import suggest
from curate.errors import UserError
from curate.sweep.ngram import VOCAB, ByteNgramLM

FORMAT = "curate-byte-ngram-lm-1"
_SHIPPED = Path(__file__).resolve().parents[1] / "_quality_models"  # links to the top-level quality_models/


def card_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def save(model: ByteNgramLM, path: str | Path, card: dict) -> dict:
    """Write the model and its card (the card gains format, order, sizes, sha256, date, version)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    top = model.orders[-1]
    steps = np.diff(top.keys, prepend=np.uint64(0))
    np.savez_compressed(
        path,
        key_steps=steps,
        counts=top.counts.astype(np.uint32),
        order=np.int64(model.order),
        trained_bytes=np.int64(model.trained_bytes),
    )
    data = path.read_bytes()
    card = {
        "format": FORMAT,
        **card,
        "lm_file": path.name,
        "order": model.order,
        "ngrams": len(top.keys),
        "file": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "curate_version": __version__,
    }
    card_path(path).write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    return card


def read(path: str | Path) -> ByteNgramLM:
    with np.load(path) as f:
        keys = np.cumsum(f["key_steps"], dtype=np.uint64)
        model = ByteNgramLM(int(f["order"]))
        return model.from_counts(keys, f["counts"].astype(np.float64), int(f["trained_bytes"]))


def shipped() -> dict[str, Path]:
    """The shipped language models by name (cards with an `lm_file`)."""
    found = {}
    for card_file in sorted(_SHIPPED.glob("*.json")) if _SHIPPED.is_dir() else []:
        card = json.loads(card_file.read_text())
        if card.get("format") == FORMAT:
            found[card["name"]] = card_file.parent / card["lm_file"]
    return found


def resolve(name_or_path: str) -> tuple[Path, dict]:
    """A shipped model by name, or a model file with its card; (file, card)."""
    models = shipped()
    path = models.get(name_or_path, Path(name_or_path))
    if name_or_path not in models and path.suffix != ".npz":
        known = ", ".join(models) or "none"
        raise UserError(
            f"unknown language model '{name_or_path}'.{suggest(name_or_path, models)} Shipped: {known}; "
            "or pass a .npz file written by `curate train-lm`."
        )
    if not path.is_file() or not card_path(path).is_file():
        raise UserError(
            f"language model '{path}' or its card {card_path(path).name} not found; train one with "
            "`curate train-lm`."
        )
    card = json.loads(card_path(path).read_text())
    if card.get("format") != FORMAT:
        raise UserError(f"'{path}' is not a model written by `curate train-lm` (its card says otherwise).")
    return path, card


DENSE_TABLE_BYTES = 32 << 20  # the largest table of one order that is kept dense ((k-1)-gram × byte)
CHUNK = 1 << 16  # bytes scored at once: a chunk's arrays (8 bytes per byte per order) stay in cache


class Scorer:
    """The model as tables of final log-probabilities, for scoring documents fast and exactly.

    Interpolated Kneser-Ney equals a backoff model: P(b | c) is the stored P_k of the k-gram c b where it
    was seen in training, else γ_k(c) · P(b | c') with c' = c without its oldest byte, γ_k(c) = D_k ·
    N1+(c •) / n_k(c •) for a context seen in training and 1 for one never seen. So P(b | c) depends on c
    and b alone: for every (k-1)-byte context a lookup can meet (its id: 1, 2, ...; 0 for never seen)
    and every byte seen in training (its class: 105 values in the shipped model, 0 for the rest),
    `full[k - 1]` holds ln P(b | c) whole. The id of the (k-1)-gram ending at byte i - 1 comes from a
    dense table at [id of the (k-2)-gram ending at byte i - 2, class of byte i - 1], so a byte costs one
    array read per order and no hashing. A byte whose longest context was never seen reads the next
    order's table (faster than hash tables with backoff, the form used above them: benchmarks/RESULTS.md).

    A table that would pass DENSE_TABLE_BYTES (large models of order 5 and up) is not built: the orders
    from there up look their n-grams up in hash tables (pandas) and back off byte by byte.
    `tests/quality/test_perplexity.py` checks both against `ByteNgramLM.log_probs`."""

    def __init__(self, model: ByteNgramLM, dense_bytes: int = DENSE_TABLE_BYTES, chunk: int = CHUNK):
        n = self.order = model.order
        self.chunk = chunk
        orders = model.orders
        # ids per order: its n-grams and the contexts of the order above (the padded start's context
        # (0, 0, 0) of order 4 is not a 3-gram of the text, but a lookup meets it)
        self.id_keys = [
            np.union1d(o.keys, orders[k].ctx_keys) if k < n else o.keys for k, o in enumerate(orders, start=1)
        ]
        self.log_p: list[np.ndarray] = []  # per order, by id: ln P_k of its n-grams (NaN: not one)
        self.log_gamma: list = []  # per order k, by id of a (k-1)-byte context: ln γ_k (0: never a context)
        prev_keys = prev_logp = None
        for k, o in enumerate(orders, start=1):
            ctx = o.keys >> np.uint64(8) if k > 1 else np.zeros_like(o.keys)
            ci = np.searchsorted(o.ctx_keys, ctx)  # every key's context was seen
            if k == 1:
                lower = np.full(len(o.keys), 1.0 / VOCAB)
            else:  # every k-gram's (k-1)-byte suffix is a key of order k-1 (they were derived from them)
                suffix = o.keys & np.uint64((1 << (8 * (k - 1))) - 1)
                lower = np.exp(prev_logp[np.searchsorted(prev_keys, suffix)])
            p = (
                np.maximum(o.counts - o.discount, 0.0) + o.discount * o.ctx_types[ci] * lower
            ) / o.ctx_totals[ci]
            logp = np.log(p)
            by_id = np.full(len(self.id_keys[k - 1]) + 1, np.nan)
            by_id[np.searchsorted(self.id_keys[k - 1], o.keys) + 1] = logp
            self.log_p.append(by_id)
            gamma = np.log(o.discount * o.ctx_types / o.ctx_totals)
            if k == 1:  # the empty context
                self.log_gamma.append(float(gamma[0]) if len(gamma) else 0.0)
            else:
                by_ctx = np.zeros(len(self.id_keys[k - 2]) + 1)
                by_ctx[np.searchsorted(self.id_keys[k - 2], o.ctx_keys) + 1] = gamma
                self.log_gamma.append(by_ctx)
            prev_keys, prev_logp = o.keys, logp
        self._build_dense(dense_bytes)
        self.key_dtype = np.uint32 if n <= 4 else np.uint64  # 4 bytes fit: smaller, faster hash tables
        self.hashed = {}  # orders without a full table: hash indexes of their ids' keys
        for k in range(len(self.full) + 1, n + 1):
            index = pd.Index(self.id_keys[k - 1].astype(self.key_dtype))
            index.get_indexer(index[:1])  # builds the hash table now, not in the first batch
            self.hashed[k] = index

    def _ids_of(self, k: int, keys: np.ndarray) -> np.ndarray | None:
        """Ids in order k of `keys` (k-grams the order is known to hold), None if one is missing."""
        at = np.minimum(np.searchsorted(self.id_keys[k - 1], keys), len(self.id_keys[k - 1]) - 1)
        return at + 1 if np.array_equal(self.id_keys[k - 1][at], keys) else None

    @property
    def nbytes(self) -> int:
        """Memory of the tables, bytes (a hash index counted at ~32 bytes per key)."""
        arrays = [*self.full, *self.id_tables, *self.id_keys, *self.log_p, *self.log_gamma[1:]]
        return int(sum(a.nbytes for a in arrays) + sum(32 * len(i) for i in self.hashed.values()))

    def _build_dense(self, dense_bytes: int) -> None:
        """Byte classes; then per order, while they fit, the full table and the id table."""
        seen = self.id_keys[0].astype(np.intp)
        self.byte_class = np.zeros(VOCAB, dtype=np.intp)
        self.byte_class[seen] = np.arange(1, len(seen) + 1)  # a class is an id of order 1
        v = self.n_classes = len(seen) + 1
        unseen = self.log_gamma[0] + np.log(1.0 / VOCAB)  # P_0 is uniform over the byte values
        self.full = [np.where(np.isnan(self.log_p[0]), unseen, self.log_p[0])]  # order 1: by class
        self.id_tables: list[np.ndarray] = []  # orders 2..: (id of order k-1) * v + class -> id
        for k in range(2, self.order + 1):
            rows = len(self.id_keys[k - 2]) + 1
            if rows * v * 8 > dense_bytes:
                break
            contexts = self.id_keys[k - 2]  # row r: the context of id r
            if k == 2:
                lower = np.broadcast_to(self.full[0], (rows - 1, v))
            else:  # the context without its oldest byte: an id of order k-2 (ids hold their suffixes)
                suffix = self._ids_of(k - 2, contexts & np.uint64((1 << (8 * (k - 2))) - 1))
                if suffix is None:
                    break
                lower = self.full[k - 2].reshape(-1, v)[suffix]
            table = np.full((rows, v), np.nan)  # row 0: a context never seen (a lower order answers)
            table[1:] = self.log_gamma[k - 1][1:, None] + lower
            keys = self.id_keys[k - 1]
            prefix = self._ids_of(k - 1, keys >> np.uint64(8))
            if prefix is None:  # not from curate's counting
                break
            last = self.byte_class[(keys & np.uint64(0xFF)).astype(np.intp)]
            has_p = ~np.isnan(self.log_p[k - 1][1:])
            table[prefix[has_p], last[has_p]] = self.log_p[k - 1][1:][has_p]
            self.full.append(table.ravel())
            if k < self.order:  # the ids of order k, for the contexts of order k + 1 (as large)
                ids = np.zeros(rows * v, dtype=np.intp)
                ids[prefix * v + last] = np.arange(1, len(keys) + 1)
                self.id_tables.append(ids)

    def log_probs(self, stream: np.ndarray) -> np.ndarray:
        """ln P of every byte of `stream` given the order - 1 bytes before it (EOD-padded at the start)."""
        n = self.order
        padded = np.concatenate((np.zeros(n - 1, dtype=np.uint8), stream))
        out = np.empty(len(stream))
        size = min(self.chunk, len(stream)) + n - 1
        # per order with dense ids: the ids of a chunk's bytes (intp: numpy gathers fastest with it);
        # one more array for the table positions. Reused chunk after chunk, so they stay in cache.
        work = [np.empty(size, dtype=np.intp) for _ in range(len(self.id_tables) + 2)]
        for start in range(0, len(stream), self.chunk):  # a chunk with the n - 1 bytes before it
            part = padded[start : start + self.chunk + n - 1]
            self._chunk(part, work, out[start : start + len(part) - n + 1])
        return out

    def _chunk(self, s: np.ndarray, work: list[np.ndarray], out: np.ndarray) -> None:
        """ln P of the bytes s[n-1:] into `out` (the first n - 1 bytes of s are context only).

        ids[k-1][x] is the id of the k-gram ending at byte x + k - 1, so for the scored byte j + n - 1,
        the k-gram ending there is ids[k-1][j + n - k] and the k-gram before it ids[k-1][j + n - k - 1]."""
        n, v, dense, size = self.order, self.n_classes, len(self.full), len(s)
        cls = np.take(self.byte_class, s, out=work[0][:size])
        ids, slot = [cls], work[-1]
        for k, table in enumerate(self.id_tables, start=2):  # slot = id of the (k-1)-gram before · v + class
            at = slot[: size - k + 1]
            np.add(np.multiply(ids[-1][:-1], v, out=at), cls[k - 1 :], out=at)
            ids.append(np.take(table, at, out=work[k - 1][: size - k + 1]))

        def ids_at(k: int, j: np.ndarray) -> np.ndarray:  # ids of the k-grams ending at bytes j + n - 1
            if k <= len(ids):
                return ids[k - 1][j + n - k]
            keys = s[j + n - 1].astype(self.key_dtype)
            for back in range(1, k):
                keys |= s[j + n - 1 - back].astype(self.key_dtype) << self.key_dtype(8 * back)
            return self.hashed[k].get_indexer(keys) + 1

        m = size - n + 1
        todo, backoff = np.arange(m), np.zeros(m)
        for k in range(n, dense, -1):  # orders without dense tables: their n-gram, else back off
            logp = self.log_p[k - 1][ids_at(k, todo)]
            seen = ~np.isnan(logp)
            out[todo[seen]] = backoff[seen] + logp[seen]
            todo, backoff = todo[~seen], backoff[~seen]
            backoff += self.log_gamma[k - 1][ids_at(k - 1, todo - 1)]
        for k in range(dense, 1, -1):  # the longest context with an id has the whole answer
            if k == n:  # every byte (the common case: no index arrays)
                context, at = ids[k - 2][:m], slot[:m]
                np.take(
                    self.full[k - 1], np.add(np.multiply(context, v, out=at), cls[n - 1 :], out=at), out=out
                )
                todo = np.flatnonzero(context == 0)
                backoff = np.zeros(len(todo))
            else:
                context = ids_at(k - 1, todo - 1)
                has = context != 0
                out[todo[has]] = backoff[has] + self.full[k - 1][context[has] * v + cls[todo[has] + n - 1]]
                todo, backoff = todo[~has], backoff[~has]
            if not len(todo):
                return
        out[todo] = backoff + self.full[0][cls[todo + n - 1]]


def perplexities(scorer: Scorer, texts: list[str], max_bytes: int | None = None) -> np.ndarray:
    """(len(texts),) float64: each document's perplexity per byte (NaN for a document without bytes);
    with `max_bytes`, of its first max_bytes bytes. Each document is scored alone: it follows order - 1
    EOD bytes in the stream (as `ByteNgramLM.log_probs` pads a stream's start), never the bytes of the
    document before it."""
    pad = bytes(max(scorer.order - 1, 1))  # and one after the last document, so every end is in range
    encoded = [t.encode("utf-8", "replace").replace(b"\x00", b"")[:max_bytes] for t in texts]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    if not len(lengths):
        return np.zeros(0)
    bounds = np.empty(2 * len(lengths), dtype=np.int64)  # each document's first byte, then its end
    bounds[0::2] = np.arange(1, len(lengths) + 1) * len(pad)
    bounds[0::2] += np.concatenate(([0], np.cumsum(lengths[:-1])))
    bounds[1::2] = bounds[0::2] + lengths
    stream = np.frombuffer(b"".join(pad + b for b in encoded) + pad, dtype=np.uint8)
    nats = -np.add.reduceat(scorer.log_probs(stream), bounds)[0::2]  # (an empty document: a pad byte's)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.where(lengths > 0, np.exp(nats / np.maximum(lengths, 1)), np.nan)
