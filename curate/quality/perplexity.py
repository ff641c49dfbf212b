"""`perplexity`: each document's perplexity under a byte n-gram language model of reference text, as CCNet
does with KenLM, then CCNet's buckets: `head` (perplexity up to the model's 30th percentile cutoff on its
calibration text), `middle`, `tail` (above the 60th). Score first: `perplexity` and `perplexity_bucket`
are columns; `keep:` removes the buckets not named (reason `perplexity_head|middle|tail`) and
`max_perplexity:` removes what is above it (`perplexity_above_max`). A document without text has no
perplexity and is in the tail."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from curate.config import option
from curate.errors import UserError
from curate.quality import byte_lm
from curate.stages.base import Stage, register
from curate.stages.context import PrepareContext

Bucket = Literal["head", "middle", "tail"]
BUCKETS = ("head", "middle", "tail")
SCORING_BYTES = 64 << 20  # a loaded model's memory when its card does not say (`scoring_bytes`)


@dataclass
class PerplexityParams:
    model: str = option(
        "curate-prose-lm-v1", help="A shipped language model (`curate models`) or a .npz path."
    )
    keep: list[Bucket] = option(
        default_factory=lambda: list(BUCKETS), help="Buckets to keep (all three: score only, remove nothing)."
    )
    head_max: float | None = option(
        None, help="Perplexity at most this is `head` (default: the model card's)."
    )
    tail_min: float | None = option(None, help="Perplexity above this is `tail` (default: the model card's).")
    max_perplexity: float | None = option(None, help="Also remove documents above this perplexity.", min=1.0)
    max_bytes: int | None = option(
        None, help="Score the first this many bytes of a document (none: all).", min=1
    )

    def __post_init__(self):
        if not self.keep:
            raise ValueError("keep: name at least one bucket (head, middle, tail); all three remove nothing.")
        if self.head_max is not None and self.tail_min is not None and self.head_max > self.tail_min:
            raise ValueError(f"head_max ({self.head_max}) is above tail_min ({self.tail_min}).")


@functools.lru_cache(maxsize=2)
def _scorer(path: str) -> byte_lm.Scorer:
    """The model, loaded and put in scoring form once per process (workers keep it between tasks)."""
    return byte_lm.Scorer(byte_lm.read(path))


@register
class Perplexity(Stage):
    """Perplexity under a reference-text byte n-gram model; head / middle / tail buckets or a threshold."""

    name = "perplexity"
    Params = PerplexityParams
    summary = "Byte n-gram LM perplexity (CCNet-style): perplexity, perplexity_bucket; keep buckets or a max."

    def __init__(self, params=None):
        super().__init__(params)
        path, card = byte_lm.resolve(self.params.model)  # an unknown name or a missing file stops the config
        self.path = str(path)
        self.model_name = card["name"]
        given = (self.params.head_max, self.params.tail_min)
        cut = card.get("cutoffs", {})
        self.head_max = given[0] if given[0] is not None else cut.get("head_max")
        self.tail_min = given[1] if given[1] is not None else cut.get("tail_min")
        if self.head_max is None or self.tail_min is None:
            raise UserError(
                f"model '{self.model_name}' has no cutoffs in its card; give head_max and tail_min."
            )
        if self.head_max > self.tail_min:
            raise UserError(f"perplexity: head_max ({self.head_max}) is above tail_min ({self.tail_min}).")
        self.worker_memory = int(card.get("scoring_bytes", SCORING_BYTES))  # its tables, in every worker

    def adds(self) -> dict[str, pa.DataType]:
        return {"perplexity": pa.float64(), "perplexity_bucket": pa.string()}

    def prepare(self, ctx: PrepareContext) -> dict[str, Any]:
        return {"model": self.model_name, "head_max": self.head_max, "tail_min": self.tail_min}

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        ppl = byte_lm.perplexities(_scorer(self.path), df["text"].tolist(), self.params.max_bytes)
        bucket = np.where(ppl <= self.head_max, "head", np.where(ppl <= self.tail_min, "middle", "tail"))
        df = df.copy()
        df["perplexity"] = ppl
        df["perplexity_bucket"] = pd.Series(bucket, index=df.index, dtype=object)  # NaN compares false: tail
        return df

    def counters(self, df: pd.DataFrame) -> dict[str, int]:
        counts = df["perplexity_bucket"].value_counts()
        return {f"bucket:{b}": int(counts.get(b, 0)) for b in BUCKETS}

    def removals(self, df: pd.DataFrame) -> pd.Series | None:
        p = self.params
        if set(p.keep) == set(BUCKETS) and p.max_perplexity is None:
            return None
        reason = np.full(len(df), None, dtype=object)
        if p.max_perplexity is not None:
            reason[~(df["perplexity"].to_numpy() <= p.max_perplexity)] = "perplexity_above_max"
        bucket = df["perplexity_bucket"].to_numpy()
        dropped = ~np.isin(bucket, p.keep)
        reason[dropped] = np.char.add("perplexity_", bucket[dropped].astype(str)).astype(object)
        return pd.Series(reason, index=df.index, dtype=object)

    def details(self, df: pd.DataFrame, removed: pd.Series) -> pd.Series:
        sub = df[removed.to_numpy()]
        return pd.Series([f"perplexity={v:.4g}" for v in sub["perplexity"]], index=sub.index, dtype=object)
