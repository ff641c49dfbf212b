"""Dataset quality Q ∈ (0, 1] of a kept subset, by both estimators of Subramanyam, Chen & Grossman (2025),
for the quality-aware law L(N, D, Q) = E + A/N^α + B/(D^β Q^γ).

(i) Corruption-rate proxy: Q = 1 − (low-quality tokens / all tokens). A document is low quality when its
    classifier score (`pool.low_quality_column`, default `quality_score`) is below `pool.low_quality_below`
    (default 0.5); all of its tokens (bytes, the proxy model's unit) count as low quality.

(ii) Deficiency: Q = exp(−Δ), Δ = max(0, H_ref(subset) − H_ref(reference)) in nats per byte, where
    H_ref(x) is the cross-entropy of text x under a byte 5-gram model (`ngram.py`) trained on 80% of the
    reference evaluation set, H_ref(reference) is measured on the other 20%, and H_ref(subset) on a sample
    of `SAMPLE_BYTES` bytes of the subset (in its random document order). Δ is how much more surprising the
    subset is to a model of the reference than reference text itself is (the idea behind CCNet's perplexity
    buckets): about 0 for text like the reference, large for random tokens, spam or markup. Every subset is
    measured on a sample of the same size, so Δ reflects what the text is like, not how much there is.
"""

from __future__ import annotations

import numpy as np

from curate.sweep.ngram import ByteNgramLM, encode_documents

SAMPLE_BYTES = 200_000
REFERENCE_ORDER = 5


def corruption_q(low_tokens: float, tokens: float) -> float:
    """Estimator (i): 1 − the share of tokens in low-quality documents (1.0 for an empty subset)."""
    return 1.0 - low_tokens / tokens if tokens > 0 else 1.0


class ReferenceModel:
    """A byte n-gram model of the reference set and its loss on held-out reference text."""

    def __init__(self, reference_texts: list[str], order: int = REFERENCE_ORDER):
        if len(reference_texts) < 2:
            raise ValueError("the reference set needs at least 2 documents (80% to train, 20% to measure).")
        cut = max(1, int(len(reference_texts) * 0.8))
        self.model = ByteNgramLM(order).fit(encode_documents(reference_texts[:cut]))
        self.baseline = self.model.evaluate(encode_documents(reference_texts[cut:]))["nats_per_token"]

    def deficiency(self, texts: list[str], sample_bytes: int = SAMPLE_BYTES) -> float:
        """Δ of a subset, on its first `sample_bytes` bytes (all of it if smaller)."""
        stream = encode_documents(texts)[:sample_bytes]
        if len(stream) == 0:
            return 0.0
        return max(0.0, self.model.evaluate(stream)["nats_per_token"] - self.baseline)

    def q(self, texts: list[str]) -> tuple[float, float]:
        """Estimator (ii): (Q = exp(−Δ), Δ)."""
        delta = self.deficiency(texts)
        return float(np.exp(-delta)), delta


def effective_tokens(unique: float, epochs: float, r_star: float = 15.4) -> float:
    """Effective data under repetition (Muennighoff et al. 2023): D' = U + U·R*·(1 − e^(−R/R*)), with R the
    repetitions beyond the first epoch; with less than one epoch it is simply the tokens seen."""
    if epochs <= 1.0:
        return unique * epochs
    repeats = epochs - 1.0
    return unique + unique * r_star * (1.0 - np.exp(-repeats / r_star))
