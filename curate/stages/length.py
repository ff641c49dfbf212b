"""Length filter: documents too short or too long to be useful training text."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from curate.config import option
from curate.stages.base import Stage, register


@dataclass
class LengthParams:
    min_words: int = option(0, help="Remove documents with fewer whitespace-separated words.", min=0)
    max_words: int | None = option(None, help="Remove documents with more words (none: no limit).", min=1)
    min_chars: int = option(0, help="Remove documents with fewer characters.", min=0)
    max_chars: int | None = option(
        None, help="Remove documents with more characters (none: no limit).", min=1
    )

    def __post_init__(self):
        if self.max_words is not None and self.max_words < self.min_words:
            raise ValueError(f"max_words ({self.max_words}) is below min_words ({self.min_words}).")
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError(f"max_chars ({self.max_chars}) is below min_chars ({self.min_chars}).")


@register
class LengthFilter(Stage):
    """Count words and characters (`n_words`, `n_chars`) and remove documents outside the bounds."""

    name = "length_filter"
    Params = LengthParams
    summary = "Add n_words / n_chars and remove documents outside word and character bounds."

    def adds(self) -> dict[str, pa.DataType]:
        return {"n_words": pa.int64(), "n_chars": pa.int64()}

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        texts = df["text"].tolist()
        df["n_words"] = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts))
        df["n_chars"] = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        return df

    def removals(self, df: pd.DataFrame) -> pd.Series:
        p = self.params
        words, chars = df["n_words"].to_numpy(), df["n_chars"].to_numpy()
        reason = np.full(len(df), None, dtype=object)
        checks = [
            (words < p.min_words, "too_few_words"),
            (words > p.max_words if p.max_words is not None else None, "too_many_words"),
            (chars < p.min_chars, "too_few_chars"),
            (chars > p.max_chars if p.max_chars is not None else None, "too_many_chars"),
        ]
        for mask, name in reversed(checks):  # the first failing check names the reason
            if mask is not None:
                reason[mask] = name
        return pd.Series(reason, index=df.index, dtype=object)

    def details(self, df: pd.DataFrame, removed: pd.Series) -> pd.Series:
        sub = df[removed.to_numpy()]
        return pd.Series(
            [f"n_words={w} n_chars={c}" for w, c in zip(sub["n_words"], sub["n_chars"])], index=sub.index
        )
