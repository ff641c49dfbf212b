"""The sweep config: which pool, which evaluation sets, which fractions, pools, seeds, budgets and models.

name: web-sweep
pool:
  paths: [scored/latest/output]   # documents with a score column (e.g. the output of `curate score`)
  score: quality_score            # the per-document quality q to rank by
eval:
  holdout_fraction: 0.05          # a random slice of the unfiltered pool, never trained on
  sets:
    - {name: reference_prose, paths: ["prose/*.txt"], format: text}
fractions: [1.0, 0.7, 0.5, 0.3, 0.2, 0.1]
pool_sizes: [1.0, 0.5, 0.25]
seeds: [0, 1, 2]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from curate.config import option
from curate.pipeline.spec import EngineConfig
from curate.quality.stages import Group

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass
class PoolConfig:
    paths: list[str] = option(
        default_factory=list, help="The pool: any input curate reads (scored Parquet, JSONL, text)."
    )
    format: Literal["auto", "jsonl", "parquet", "text"] = option("auto", help="Input format.")
    text_key: str = option("text", help="Field or column holding the text.")
    id_key: str | None = option(
        None,
        help="Field holding unique ids (default: Parquet's `id` column, else derived from file and offset).",
    )
    text_unit: Literal["file", "line"] = option("file", help="Text inputs: a document per file or per line.")
    score: str = option("quality_score", help="Column with the per-document quality q (higher is better).")
    where: str | None = option(
        None, help="A DuckDB predicate over the pool's columns, applied before ranking, e.g. \"lang = 'en'\"."
    )
    max_docs: int | None = option(None, help="Use at most this many documents of the pool.", min=1)
    low_quality_rules: list[Group] = option(
        default_factory=lambda: ["gopher_quality", "gopher_repetition"],
        help="Q (i): a document is low quality when it fails a published rule of these groups (a judgment "
        "independent of the ranking score; signals are computed where the pool lacks them) ...",
    )
    low_quality_column: str | None = option(
        None, help="... or, when set, when this column is below `low_quality_below` instead."
    )
    low_quality_below: float = option(0.5, help="Threshold for `low_quality_column`.")
    ranking_models: list[str] = option(
        default_factory=list,
        help="Quality models (names or paths) whose training documents must not be ranked; default: the "
        "models named in the pool's `quality_model` column.",
    )
    max_in_sample: float = option(
        0.01,
        help="Refuse a pool whose share of the ranking model's training documents exceeds this.",
        min=0.0,
        max=1.0,
    )
    allow_in_sample: bool = option(
        False, help="Sweep anyway when the share is exceeded (`--allow-in-sample`); it is still reported."
    )


@dataclass
class ControlsConfig:
    matched: bool = option(
        True, help="Also draw a composition-matched random control (random within strata)."
    )
    strata: list[str] = option(
        default_factory=lambda: ["lang", "source"],
        help="Columns whose combinations are the strata of the matched control (absent default columns "
        "are skipped).",
    )
    source_parts: int = option(
        1,
        help="The `source` stratum is the first this many parts of the path (1: top file or folder).",
        min=1,
    )
    confidence: float = option(0.95, help="Confidence of the gain intervals.", min=0.5, max=0.9999)
    simultaneous: bool = option(
        True,
        help="Bonferroni-adjust the intervals over the (pool size, f) cells of each table, so a sweep of "
        "many fractions makes no false discoveries by chance.",
    )


@dataclass
class EvalSetConfig:
    name: str = option(help="Name of the evaluation set in the results table.")
    paths: list[str] = option(default_factory=list, help="Files, folders or globs.")
    format: Literal["auto", "jsonl", "parquet", "text"] = option("auto", help="Input format.")
    text_key: str = option("text", help="Field holding the text.")
    text_unit: Literal["file", "line"] = option("file", help="Text inputs: a document per file or per line.")


@dataclass
class EvalConfig:
    holdout_fraction: float = option(
        0.05, help="Random slice of the pool held out per seed as the 'pool_holdout' set.", min=0.001, max=0.5
    )
    max_bytes: int = option(2_000_000, help="Evaluate on at most this many bytes of each set.", min=1000)
    sets: list[EvalSetConfig] = option(
        default_factory=list, help="More evaluation sets, e.g. reference prose."
    )
    reference: str | None = option(
        None,
        help="Evaluation set Q (ii) compares each subset with (default: the first of `sets`, else "
        "pool_holdout).",
    )


@dataclass
class NgramConfig:
    order: int = option(5, help="Bytes of the n-gram (context + 1).", min=1, max=8)
    curve_points: int = option(
        5,
        help="Learning curve: the loss of models trained on this many prefixes of each subset (halving back "
        "from the whole subset); `curate worth` reads the multipliers off these curves.",
        min=0,
    )


@dataclass
class TransformerConfig:
    cells: list[list[float]] | None = option(
        default_factory=lambda: [[1.0, 1.0], [0.3, 1.0]],
        help="[fraction, pool_size] cells to train the transformer on (with their controls, every seed and "
        "budget); null: every cell.",
    )
    layers: int = option(2, help="Transformer layers.", min=1)
    d_model: int = option(128, help="Model width.", min=8)
    heads: int = option(4, help="Attention heads.", min=1)
    sizes: list[list[int]] = option(
        default_factory=list,
        help="A model-size ladder: [[layers, d_model, heads], ...], each a model `transformer-LxD` with "
        "`params` = its non-embedding parameters; empty: the one size above.",
    )
    curve_points: int = option(
        5,
        help="Learning curve: held-out loss at this many points of training (halving back from the end).",
        min=0,
    )
    curve_bytes: int = option(
        200_000, help="Bytes of each evaluation set a learning-curve point is measured on.", min=1000
    )
    context: int = option(128, help="Context length in bytes.", min=8)
    batch: int = option(32, help="Sequences per step.", min=1)
    lr: float = option(3e-3, help="AdamW learning rate.", min=1e-6)
    train_bytes: int = option(
        1_000_000,
        help="Training bytes (random windows) of the fixed-compute budget, and the cap of the fixed-data "
        "budget's one pass.",
        min=1000,
    )


@dataclass
class ModelsConfig:
    ngram: NgramConfig | None = option(
        default_factory=NgramConfig, help="The fast n-gram proxy (every cell)."
    )
    transformer: TransformerConfig | None = option(
        None, help="A tiny transformer on a few cells (needs torch)."
    )


@dataclass
class SweepConfig:
    name: str = option(help="Name of the sweep.")
    description: str = option("", help="What the sweep is for.")
    pool: PoolConfig = option(default_factory=PoolConfig, help="The scored pool.")
    eval: EvalConfig = option(default_factory=EvalConfig, help="Evaluation sets.")
    fractions: list[float] = option(
        default_factory=lambda: [1.0, 0.7, 0.5, 0.3, 0.2, 0.1],
        help="Keep the top f by score.",
        min=0.001,
        max=1.0,
    )
    pool_sizes: list[float] = option(
        default_factory=lambda: [1.0, 0.5, 0.25],
        help="Random pools, as fractions of the pool.",
        min=0.001,
        max=1.0,
    )
    seeds: list[int] = option(
        default_factory=lambda: [0, 1, 2], help="Seeds (pool draws, held-out slice).", min=0
    )
    budgets: list[Literal["fixed_data", "fixed_compute"]] = option(
        default_factory=lambda: ["fixed_data", "fixed_compute"],
        help="Training budgets: one pass over the kept data, and/or a fixed number T of training bytes.",
    )
    compute_shares: list[float] = option(
        default_factory=lambda: [0.25, 0.5, 1.0],
        help="The n-gram's fixed-compute budgets T, as shares of the largest pool's tokens.",
        min=0.001,
        max=1.0,
    )
    compute_bytes: list[int] = option(
        default_factory=list, help="Absolute n-gram budgets T in bytes (replace compute_shares).", min=1000
    )
    controls: ControlsConfig = option(
        default_factory=ControlsConfig,
        help="Random controls at equal kept bytes (always) and composition-matched ones.",
    )
    models: ModelsConfig = option(default_factory=ModelsConfig, help="Proxy models.")
    plots: bool = option(True, help="Draw the plots (PNG and SVG) into the sweep's plots/ folder.")
    engine: EngineConfig = option(default_factory=EngineConfig, help="Where the cells run.")

    def __post_init__(self):
        if not NAME.fullmatch(self.name):
            raise ValueError(
                f"name {self.name!r} is not a plain name; use letters, digits, '.', '_' and '-' (it names a "
                "folder under WORKSPACE/sweeps/)."
            )
        for name, values in (
            ("fractions", self.fractions),
            ("pool_sizes", self.pool_sizes),
            ("seeds", self.seeds),
        ):
            if not values:
                raise ValueError(f"{name} is empty; give at least one value.")
            if len(set(values)) != len(values):
                raise ValueError(f"{name} has repeated values: {values}.")
        if self.models.ngram is None and self.models.transformer is None:
            raise ValueError("models: give at least one proxy model (ngram, transformer).")
        for size in self.models.transformer.sizes if self.models.transformer else []:
            if len(size) != 3 or min(size) < 1 or size[1] % size[2]:
                raise ValueError(
                    f"models.transformer.sizes: {size} is not [layers, d_model, heads] with d_model a "
                    "multiple of heads."
                )
