"""The fast proxy language model: an interpolated Kneser-Ney n-gram model over bytes.

Bytes, not words: no tokenizer and no out-of-vocabulary mass, so the loss in nats per token *is* nats per
byte and bits/byte follows directly; every cell of a sweep is measured in the same unit. Counts are exact:
an n-gram of up to 8 bytes packs into one uint64 key, counted with `np.unique` (a sort), and looked up
with `np.searchsorted`. Training is a handful of sorts over the training bytes, evaluation a handful of
vectorized lookups: millions of bytes a second on one core.

Model (interpolated Kneser-Ney with one absolute discount per order, Chen & Goodman 1998):

    P_k(b | c) = max(n_k(c b) − D_k, 0) / n_k(c •)  +  D_k · N1+(c •) / n_k(c •) · P_{k−1}(b | c')

where n_k are raw counts for the highest order and continuation counts N1+(• c b) below it, c' drops the
oldest byte of c, a context never seen falls through to P_{k−1}, and P_0 is uniform over the 256 byte
values (byte 0, which never occurs in text, marks the end of a document). D_k = n1 / (n1 + 2 n2) from the
order's count-of-counts.

Repetition: a count model gains nothing from seeing the same text twice (multiplying every count by R
while keeping one pass's discounts only shrinks the smoothing and makes it memorize), so it is always
trained on one pass; `cells.py` says what a fixed-compute budget means for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EOD = 0  # end of document (NUL does not occur in text)
VOCAB = 256


def encode_documents(texts: list[str]) -> np.ndarray:
    """One uint8 stream: each document's UTF-8 bytes followed by EOD (NUL bytes inside text are dropped)."""
    data = b"".join(t.encode("utf-8", "replace").replace(b"\x00", b"") + b"\x00" for t in texts)
    return np.frombuffer(data, dtype=np.uint8)


def _keys(stream: np.ndarray, k: int) -> np.ndarray:
    """(len(stream),) uint64: the k-gram ending at each position, oldest byte highest (EOD-padded)."""
    s = stream.astype(np.uint64)
    keys = s.copy()
    for j in range(1, k):
        shifted = np.zeros_like(s)
        shifted[j:] = s[:-j]
        keys |= shifted << np.uint64(8 * j)
    return keys


class EvalStream:
    """A stream to evaluate, with its distinct n-grams per order computed once and kept, so that several
    models (budgets, proxies) evaluated on it share the work."""

    def __init__(self, stream: np.ndarray):
        self.stream = stream
        self._orders: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.stream)

    def order(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(distinct k-grams, index of each position's k-gram in them, distinct contexts, index of each
        distinct k-gram's context in those); the unigram context is empty (0) for every byte."""
        if k not in self._orders:
            keys, key_at = np.unique(_keys(self.stream, k), return_inverse=True)
            ctx = keys >> np.uint64(8) if k > 1 else np.zeros_like(keys)
            ctxs, ctx_of_key = np.unique(ctx, return_inverse=True)
            self._orders[k] = (keys, key_at.ravel(), ctxs, ctx_of_key.ravel())
        return self._orders[k]


@dataclass
class _Order:
    """Counts of one order: sorted n-gram keys with their (raw or continuation) counts, and per context
    (the key without its last byte) the total count and the number of distinct continuations."""

    keys: np.ndarray
    counts: np.ndarray
    ctx_keys: np.ndarray
    ctx_totals: np.ndarray
    ctx_types: np.ndarray
    discount: float


def _discount(counts: np.ndarray) -> float:
    n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
    if n1 == 0:
        return 0.5
    return float(np.clip(n1 / (n1 + 2 * n2), 0.05, 0.95))


def _order(keys: np.ndarray, counts: np.ndarray, discount: float) -> _Order:
    ctx = keys >> np.uint64(8)  # sorted keys give sorted contexts
    ctx_keys, first, types = np.unique(ctx, return_index=True, return_counts=True)
    totals = np.add.reduceat(counts, first) if len(first) else np.empty(0)
    return _Order(keys, counts, ctx_keys, totals, types, discount)


class ByteNgramLM:
    def __init__(self, order: int = 5):
        if not 1 <= order <= 8:
            raise ValueError(f"the byte n-gram order must be between 1 and 8, got {order}.")
        self.order = order
        self.orders: list[_Order] = []
        self.trained_bytes = 0

    @property
    def n_params(self) -> int:
        """Stored n-grams over all orders: the model's size (N for a scaling fit)."""
        return int(sum(len(o.keys) for o in self.orders))

    def fit(self, stream: np.ndarray) -> ByteNgramLM:
        """Count `stream` (uint8, from `encode_documents`), one pass (see the module docstring)."""
        top_keys, top_counts = np.unique(_keys(stream, self.order), return_counts=True)
        return self.from_counts(top_keys, top_counts, len(stream))

    def from_counts(self, top_keys: np.ndarray, top_counts: np.ndarray, trained_bytes: int) -> ByteNgramLM:
        """The model from its highest order's sorted keys and counts alone: every lower order is derived
        from them (continuation counts), so these two arrays are all a saved model needs."""
        n = self.order
        self.trained_bytes = int(trained_bytes)
        levels = {n: (top_keys, top_counts.astype(np.float64))}
        unique = top_keys
        for k in range(n - 1, 0, -1):
            # continuation counts: distinct bytes seen before each k-gram = unique (k+1)-grams per k-gram
            mask = np.uint64((1 << (8 * k)) - 1)
            lower, cont = np.unique(unique & mask, return_counts=True)
            levels[k] = (lower, cont.astype(np.float64))
            unique = lower
        self.orders = []
        for k in range(1, n + 1):
            keys, counts = levels[k]
            self.orders.append(_order(keys, counts, _discount(counts)))
        return self

    def log_probs(self, stream: np.ndarray | EvalStream) -> np.ndarray:
        """ln P of every byte of `stream` given the bytes before it (the first sees an EOD-padded context).

        Lookups go through the stream's distinct n-grams and contexts (sorted, so the binary searches walk
        memory in order), then are spread back to every position."""
        ev = stream if isinstance(stream, EvalStream) else EvalStream(stream)
        p = np.full(len(ev.stream), 1.0 / VOCAB)
        for k, o in enumerate(self.orders, start=1):
            keys, key_at, ctxs, ctx_of_key = ev.order(k)
            ci = np.minimum(np.searchsorted(o.ctx_keys, ctxs), max(len(o.ctx_keys) - 1, 0))
            seen = (o.ctx_keys[ci] == ctxs) if len(o.ctx_keys) else np.zeros(len(ctxs), bool)
            ki = np.minimum(np.searchsorted(o.keys, keys), max(len(o.keys) - 1, 0))
            count = np.where((o.keys[ki] == keys) if len(o.keys) else False, o.counts[ki], 0.0)[key_at]
            ci, seen = ci[ctx_of_key][key_at], seen[ctx_of_key][key_at]
            total = np.where(seen, o.ctx_totals[ci] if len(o.ctx_keys) else 1.0, 1.0)
            types = np.where(seen, o.ctx_types[ci] if len(o.ctx_keys) else 0.0, 0.0)
            mixed = (np.maximum(count - o.discount, 0.0) + o.discount * types * p) / total
            p = np.where(seen, mixed, p)
        return np.log(p)

    def evaluate(self, stream: np.ndarray | EvalStream, text_bytes: int | None = None) -> dict[str, float]:
        """Mean loss on `stream`: nats per token (= per byte, EOD marks included) and bits per text byte."""
        ev = stream if isinstance(stream, EvalStream) else EvalStream(stream)
        nats = float(-self.log_probs(ev).sum())
        n_text = text_bytes if text_bytes is not None else int((ev.stream != EOD).sum())
        return {
            "nats_per_token": nats / len(ev.stream),
            "bits_per_byte": nats / np.log(2) / max(n_text, 1),
            "tokens": len(ev.stream),
        }
