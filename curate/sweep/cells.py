"""One cell of a sweep, run on a worker: train a proxy model on one subset with one budget, evaluate it.

Budgets:
- fixed_data: one pass over the kept tokens (training tokens = kept tokens, 1 epoch);
- fixed_compute: the same number of training tokens T for every cell. A subset larger than T is cut to a
  random T-token prefix (its documents are stored in random order); a smaller one is repeated
  (epochs = T / kept tokens > 1) and the effective data under repetition is reported (Muennighoff et al.).

Every (cell, evaluation set) gives one results row; the cell writes its rows to its own Parquet file,
atomically, so a killed sweep redoes only the cells without one.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.sweep.dataset_quality import effective_tokens
from curate.sweep.ngram import ByteNgramLM, encode_documents


@dataclass(frozen=True)
class Cell:
    seed: int
    pool_size: float
    fraction: float
    model: str  # "ngram" | "transformer"
    budget: str  # "fixed_data" | "fixed_compute"

    @property
    def subset_key(self) -> str:
        return f"s{self.seed}-p{self.pool_size:g}-f{self.fraction:g}"

    @property
    def key(self) -> str:
        return f"{self.subset_key}-{self.model}-{self.budget}"


@dataclass(frozen=True)
class CellTask:
    cell: Cell
    subset_dir: str
    manifest: dict
    eval_sets: tuple[tuple[str, str], ...]  # (name, Parquet file with a text column)
    model_config: dict
    compute_tokens: int
    out: str


def read_texts(folder_or_file: str) -> list[str]:
    path = Path(folder_or_file)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    return [t for f in files for t in pq.read_table(f, columns=["text"]).column("text").to_pylist()]


def training_stream(stream, budget: str, compute_tokens: int):
    """(stream to train on, times to repeat it) for a budget."""
    kept = len(stream)
    if budget == "fixed_data" or kept == 0:
        return stream, 1.0
    if kept >= compute_tokens:
        return stream[:compute_tokens], 1.0
    return stream, compute_tokens / kept


def run_cell(task: CellTask) -> list[dict]:
    """Train, evaluate on every set, write the rows (Parquet, atomic) and return them."""
    cell, t0 = task.cell, time.perf_counter()
    stream = encode_documents(read_texts(task.subset_dir))
    train, repeats = training_stream(stream, cell.budget, task.compute_tokens)
    train_tokens = int(len(train) * repeats)
    if cell.model == "ngram":
        model = ByteNgramLM(task.model_config["order"]).fit(train, repeats)
    else:
        from curate.sweep.transformer import train_transformer

        if cell.budget == "fixed_data":  # one pass, capped: a CPU transformer cannot read a whole pool
            train_tokens = min(train_tokens, task.model_config["train_bytes"])
        model = train_transformer(train, train_tokens, task.model_config, seed=cell.seed)
    train_seconds = time.perf_counter() - t0
    rows = []
    for name, path in task.eval_sets:
        texts = read_texts(path)
        result = model.evaluate(encode_documents(texts), sum(len(t.encode()) for t in texts))
        m = task.manifest
        rows.append(
            {
                **asdict(cell),
                "eval_set": name,
                "pool_docs": m["pool_docs"],
                "threshold": m["threshold"],
                "kept_docs": m["docs"],
                "kept_tokens": m["tokens"],
                "kept_words": m["words"],
                "train_tokens": train_tokens,
                "epochs": train_tokens / max(len(stream), 1),
                "effective_tokens": effective_tokens(len(stream), train_tokens / max(len(stream), 1)),
                "q_corruption": m["q_corruption"],
                "q_deficiency": m["q_deficiency"],
                "deficiency": m["deficiency"],
                # A count model has no parameter count in the scaling-law sense: one size per configuration.
                "params": task.model_config["order"] if cell.model == "ngram" else model.n_params,
                "ngrams": model.n_params if cell.model == "ngram" else None,
                "loss_nats_per_token": result["nats_per_token"],
                "bits_per_byte": float(result["bits_per_byte"]),
                "eval_tokens": result["tokens"],
                "train_seconds": train_seconds,
            }
        )
    table = pa.Table.from_pylist(rows)
    tmp = f"{task.out}.tmp-{os.getpid()}"
    pq.write_table(table, tmp)
    os.replace(tmp, task.out)
    return rows
