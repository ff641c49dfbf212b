"""One cell of a sweep, run on a worker: train a proxy model on one subset under every budget, evaluate it.

Budgets, and what repetition means for each proxy:

- fixed_data: one pass over the kept tokens (the transformer's pass is capped at `train_bytes`).
- fixed_compute@T: T training tokens for every subset, at several T (`compute_shares` of the largest
  pool's bytes for the n-gram model, `train_bytes` for the transformer). A subset larger than T is cut to
  a random T-token prefix (its documents are stored in random order).
  A subset smaller than T would be repeated T / kept times:
  * the transformer, trained by gradient steps, does repeat it (random windows, T tokens in all);
  * the n-gram model does not: repeating text adds nothing to a count model, so it is trained once on
    the whole subset (`one_pass_only`), and the epochs a gradient-trained model would need and the
    effective data under repetition, D′ = U + U·R*(1 − e^(−R/R*)) (Muennighoff et al. 2023), are
    reported beside it.

Learning curves: the n-gram model is also trained on prefixes of the subset (halving back from all of it,
`curve_points` of them: one-pass models on random samples of those sizes); the transformer records the
held-out loss at `curve_points` points of each training run (on the first `curve_bytes` of every set).
`curate worth` reads the compute multipliers off these curves.

Every (budget, evaluation set) gives one results row; the cell writes its curve and then its rows to their
own Parquet files, atomically, so a killed sweep redoes only the cells without rows.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.sweep.dataset_quality import effective_tokens
from curate.sweep.ngram import ByteNgramLM, EvalStream, encode_documents


@dataclass(frozen=True)
class Budget:
    name: str  # "fixed_data" or "fixed_compute@<T>"
    kind: str  # "fixed_data" | "fixed_compute"
    tokens: int | None = None  # T, for fixed_compute
    share: float | None = None  # T as a share of the largest pool's bytes

    @staticmethod
    def fixed_compute(tokens: int, share: float | None = None) -> Budget:
        return Budget(f"fixed_compute@{human_bytes(tokens)}", "fixed_compute", int(tokens), share)


FIXED_DATA = Budget("fixed_data", "fixed_data")

_STR, _INT, _FLOAT = pa.string(), pa.int64(), pa.float64()
RESULT_SCHEMA = pa.schema(
    [
        ("subset", _STR), ("seed", _INT), ("pool_size", _FLOAT), ("fraction", _FLOAT), ("selection", _STR),
        ("model", _STR), ("budget", _STR), ("budget_kind", _STR), ("compute_tokens", _INT),
        ("compute_share", _FLOAT), ("eval_set", _STR), ("pool_docs", _INT), ("threshold", _FLOAT),
        ("kept_docs", _INT), ("kept_tokens", _INT), ("kept_words", _INT), ("train_tokens", _INT),
        ("kept_tokenizer_tokens", _INT), ("train_tokenizer_tokens", _INT),
        ("epochs", _FLOAT), ("effective_tokens", _FLOAT), ("one_pass_only", pa.bool_()),
        ("q_corruption", _FLOAT), ("q_corruption_judge", _STR), ("q_deficiency", _FLOAT),
        ("deficiency", _FLOAT), ("lang_mix", _STR), ("source_mix", _STR), ("length_p10", _FLOAT),
        ("length_p50", _FLOAT), ("length_p90", _FLOAT),
        ("params", _INT), ("ngrams", _INT), ("loss_nats_per_token", _FLOAT), ("bits_per_byte", _FLOAT),
        ("eval_tokens", _INT), ("train_seconds", _FLOAT),
    ]
)  # fmt: skip


def human_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{int(n)}B"


@dataclass(frozen=True)
class CellTask:
    subset: dict  # the subset's manifest (seed, pool size, fraction, selection, counts, Q, composition)
    subset_dir: str
    model: str  # the label in the results: "ngram", "transformer" or "transformer-LxD" (a ladder size)
    kind: str  # "ngram" | "transformer"
    model_config: dict
    budgets: tuple[Budget, ...]
    eval_sets: tuple[tuple[str, str], ...]  # (name, Parquet file with a text column)
    out: str

    @property
    def key(self) -> str:
        return f"{self.subset['subset']}-{self.model}"

    @property
    def curve_out(self) -> str:
        return self.out.removesuffix(".parquet") + ".curve.parquet"


def read_texts(folder_or_file: str) -> list[str]:
    path = Path(folder_or_file)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    return [t for f in files for t in pq.read_table(f, columns=["text"]).column("text").to_pylist()]


@functools.lru_cache(maxsize=8)
def _eval_stream(path: str) -> tuple[EvalStream, int]:
    """An evaluation set as a stream and its text bytes, once per worker process: every cell evaluates on
    the same few sets, and the stream keeps its distinct n-grams between models."""
    texts = read_texts(path)
    return EvalStream(encode_documents(texts)), sum(len(t.encode()) for t in texts)


def curve_tokens(total: int, points: int, floor: int = 1000) -> list[int]:
    """Training tokens of the learning-curve points: halving back from `total`, at least `floor`."""
    return sorted({max(min(floor, total), total >> k) for k in range(points)}) if points else []


def _train(task: CellTask, stream, budget: Budget, cache: dict, curve: list):
    """(model, training tokens, seconds) for one budget; n-gram models trained on the same prefix are
    shared between budgets (the cache is keyed by training tokens). A transformer's learning-curve points
    are appended to `curve` as it trains."""
    kept = len(stream)
    if task.kind == "ngram":
        n = kept if budget.kind == "fixed_data" else min(kept, budget.tokens)
        return _ngram(task, stream, n, cache)
    from curate.sweep.transformer import train_transformer

    cap = task.model_config["train_bytes"]
    tokens = min(kept, cap) if budget.kind == "fixed_data" else budget.tokens

    def checkpoint(seen: int, model) -> None:
        for name, path in task.eval_sets:
            ev, _ = _eval_stream(path)
            loss = model.evaluate(ev.stream[: task.model_config["curve_bytes"]])["nats_per_token"]
            curve.append((budget.name, name, seen, loss))

    t0 = time.perf_counter()
    model = train_transformer(stream, tokens, task.model_config, task.subset["seed"], checkpoint)
    return model, tokens, time.perf_counter() - t0


def _ngram(task: CellTask, stream, n: int, cache: dict):
    if n not in cache:
        t0 = time.perf_counter()
        cache[n] = (ByteNgramLM(task.model_config["order"]).fit(stream[:n]), time.perf_counter() - t0)
    model, seconds = cache[n]
    return model, n, seconds


def _ngram_curve(task: CellTask, stream, cache: dict) -> list[tuple]:
    """One-pass models on prefixes of the subset (stored in random order, so a prefix is a random sample)."""
    points = []
    for n in curve_tokens(len(stream), task.model_config.get("curve_points", 0)):
        model, _, _ = _ngram(task, stream, n, cache)
        for name, path in task.eval_sets:
            ev, eval_bytes = _eval_stream(path)
            points.append(("fixed_data", name, n, model.evaluate(ev, eval_bytes)["nats_per_token"]))
    return points


def _share(tokenizer_tokens: int | None, train_tokens: int, kept: int) -> int | None:
    """The tokenizer's tokens in `train_tokens` of a subset of `kept` byte tokens (None: not counted)."""
    return None if tokenizer_tokens is None else round(tokenizer_tokens * train_tokens / max(kept, 1))


def run_cell(task: CellTask) -> list[dict]:
    """Train under every budget, evaluate on every set, write the learning curve and then the rows
    (Parquet, atomic: the rows file marks the cell done), return the rows."""
    m = task.subset
    stream = encode_documents(read_texts(task.subset_dir))
    kept = len(stream)
    comp = m["composition"]
    rows, cache, scores, curve = [], {}, {}, []
    params = None
    tokenizer_tokens = m.get("tokenizer_tokens")  # the pool's n_tokens summed (token_count), or None
    for budget in task.budgets:
        model, train_tokens, seconds = _train(task, stream, budget, cache, curve)
        params = task.model_config["order"] if task.kind == "ngram" else model.n_params
        planned = train_tokens if budget.kind == "fixed_data" else budget.tokens
        epochs = planned / max(kept, 1)
        for name, path in task.eval_sets:
            ev, eval_bytes = _eval_stream(path)
            # budgets that share an n-gram model (the same training prefix) share its scores
            score_key = (train_tokens if task.kind == "ngram" else budget.name, name)
            if score_key not in scores:
                scores[score_key] = model.evaluate(ev if task.kind == "ngram" else ev.stream, eval_bytes)
            result = scores[score_key]
            rows.append(
                {
                    "subset": m["subset"],
                    "seed": m["seed"],
                    "pool_size": m["pool_size"],
                    "fraction": m["fraction"],
                    "selection": m["selection"],
                    "model": task.model,
                    "budget": budget.name,
                    "budget_kind": budget.kind,
                    "compute_tokens": budget.tokens,
                    "compute_share": budget.share,
                    "eval_set": name,
                    "pool_docs": m["pool_docs"],
                    "threshold": m["threshold"],
                    "kept_docs": m["docs"],
                    "kept_tokens": m["tokens"],
                    "kept_words": m["words"],
                    "train_tokens": int(train_tokens),
                    # the same in the tokenizer's tokens: a training prefix of the (shuffled) subset
                    # holds its share of them
                    "kept_tokenizer_tokens": tokenizer_tokens,
                    "train_tokenizer_tokens": _share(tokenizer_tokens, train_tokens, kept),
                    # epochs the budget asks for: above 1 a gradient-trained proxy repeats the subset
                    "epochs": epochs,
                    "effective_tokens": effective_tokens(kept, epochs),
                    "one_pass_only": task.kind == "ngram" and epochs > 1.0,
                    "q_corruption": m["q_corruption"],
                    "q_corruption_judge": m["q_corruption_judge"],  # what "low quality" meant for Q (i)
                    "q_deficiency": m["q_deficiency"],
                    "deficiency": m["deficiency"],
                    "lang_mix": json.dumps(comp["lang_mix"], sort_keys=True),
                    "source_mix": json.dumps(comp["source_mix"], sort_keys=True),
                    "length_p10": comp["length_p10"],
                    "length_p50": comp["length_p50"],
                    "length_p90": comp["length_p90"],
                    # A count model has no parameter count in the scaling-law sense: one size per order;
                    # a transformer's is its non-embedding parameters.
                    "params": params,
                    "ngrams": model.n_params if task.kind == "ngram" else None,
                    "loss_nats_per_token": result["nats_per_token"],
                    "bits_per_byte": float(result["bits_per_byte"]),
                    "eval_tokens": result["tokens"],
                    "train_seconds": seconds,
                }
            )
    if task.kind == "ngram":
        curve = _ngram_curve(task, stream, cache)
    _write(_curve_table(task, params, curve), task.curve_out)
    _write(pa.Table.from_pylist(rows, schema=RESULT_SCHEMA), task.out)
    return rows


CURVE_SCHEMA = pa.schema(
    [
        ("subset", _STR), ("seed", _INT), ("pool_size", _FLOAT), ("fraction", _FLOAT), ("selection", _STR),
        ("model", _STR), ("params", _INT), ("budget", _STR), ("eval_set", _STR), ("train_tokens", _INT),
        ("loss_nats_per_token", _FLOAT),
    ]
)  # fmt: skip


def _curve_table(task: CellTask, params, curve: list[tuple]) -> pa.Table:
    m = task.subset
    same = {k: m[k] for k in ("subset", "seed", "pool_size", "fraction", "selection")}
    rows = [
        {**same, "model": task.model, "params": params, "budget": budget, "eval_set": name,
         "train_tokens": int(tokens), "loss_nats_per_token": loss}
        for budget, name, tokens, loss in curve
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=CURVE_SCHEMA)


def _write(table: pa.Table, out: str) -> None:
    tmp = f"{out}.tmp-{os.getpid()}"
    pq.write_table(table, tmp)
    os.replace(tmp, out)
