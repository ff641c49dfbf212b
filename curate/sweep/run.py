"""Run a sweep: plan subsets, write them with their manifests, train and evaluate every cell, report.

Everything lives in WORKSPACE/sweeps/NAME-HASH/ (HASH names the resolved config, so a changed config never
reuses stale cells):

    config.yaml             the resolved sweep config
    eval/NAME.parquet       evaluation sets (pool_holdout-sSEED for each seed)
    subsets/KEY/            Parquet shards of each kept subset, and KEY/manifest.json
    cells/KEY.parquet       the results rows of one cell (written last: a killed sweep resumes from here)
    results.parquet         every row (one per fraction, pool size, seed, model, budget, eval set)
    summary.parquet         means and spread over seeds, the Pareto front marked
    plots/*.png|svg
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from curate.config import to_dict
from curate.dedup.db import sql_list
from curate.engine import Engine
from curate.errors import UserError
from curate.io.writers import write_json_atomic
from curate.pipeline.spec import dump_yaml
from curate.sweep import dataset_quality as dq
from curate.sweep.cells import Cell, CellTask, read_texts, run_cell
from curate.sweep.config import SweepConfig
from curate.sweep.plan import Subset, load_pool, plan_subsets, read_eval_set, write_holdout, write_subset
from curate.sweep.report import pareto, plot, summarize, with_fit_columns


@dataclass
class SweepResult:
    folder: Path
    results: pd.DataFrame
    summary: pd.DataFrame
    plots: list[Path]
    seconds: float
    cells_run: int
    cells_reused: int


def sweep_folder(workspace: Path, cfg: SweepConfig) -> Path:
    digest = hashlib.blake2b(json.dumps(to_dict(cfg), sort_keys=True, default=str).encode(), digest_size=4)
    return workspace / "sweeps" / f"{cfg.name}-{digest.hexdigest()}"


@functools.lru_cache(maxsize=2)
def _reference_model(path: str) -> dq.ReferenceModel:
    """Trained once per worker process from the reference set's Parquet file."""
    return dq.ReferenceModel(read_texts(path))


def subset_stats(args: tuple) -> dict:
    """Engine task: words and Q (ii) of one subset."""
    subset_dir, reference = args
    texts = read_texts(subset_dir)
    q, delta = _reference_model(reference).q(texts)
    return {"words": sum(len(t.split()) for t in texts), "q_deficiency": q, "deficiency": delta}


class SweepRunner:
    def __init__(self, cfg: SweepConfig, workspace: Path, engine: Engine, log: Callable[[str], None]):
        self.cfg, self.engine, self.log = cfg, engine, log
        self.folder = sweep_folder(Path(workspace).resolve(), cfg)

    def run(self) -> SweepResult:
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "config.yaml").write_text(dump_yaml(to_dict(self.cfg)))
        plan_db = self.folder / "plan.duckdb"
        plan_db.unlink(missing_ok=True)  # the plan is cheap and deterministic: made afresh every run
        con = duckdb.connect(str(plan_db))
        try:
            load_pool(con, self.cfg)
            subsets = plan_subsets(con, self.cfg)
            eval_sets = self._eval_sets(con)
            with self.engine:
                manifests = self._subsets(con, subsets, eval_sets)
                cells = self._cells(subsets)
                compute = self._compute_tokens(manifests)
                ran, reused = self._run_cells(cells, manifests, eval_sets, compute)
        finally:
            con.close()
        return self._report(started, ran, reused)

    # --- evaluation sets ------------------------------------------------------------------------------
    def _eval_sets(self, con) -> dict[str, str]:
        """{name: Parquet file}; pool_holdout-sSEED per seed, then the declared sets."""
        folder = self.folder / "eval"
        folder.mkdir(exist_ok=True)
        out = {}
        for seed in self.cfg.seeds:
            path = folder / f"pool_holdout-s{seed}.parquet"
            if not path.exists():
                write_holdout(con, seed, self.cfg, path)
            out[f"pool_holdout-s{seed}"] = str(path)
        for s in self.cfg.eval.sets:
            path = folder / f"{s.name}.parquet"
            if not path.exists():
                texts = read_eval_set(s, self.cfg.eval.max_bytes)
                pd.DataFrame({"text": texts}).to_parquet(path)
            out[s.name] = str(path)
        reference = self.cfg.eval.reference or (self.cfg.eval.sets[0].name if self.cfg.eval.sets else None)
        if reference is not None and reference not in out:
            raise UserError(
                f"eval.reference '{reference}' is not an evaluation set; name one of "
                f"{', '.join(s.name for s in self.cfg.eval.sets)}."
            )
        self.reference = out[reference] if reference else out[f"pool_holdout-s{self.cfg.seeds[0]}"]
        return out

    # --- subsets --------------------------------------------------------------------------------------
    def _subsets(self, con, subsets: list[Subset], eval_sets: dict[str, str]) -> dict[str, dict]:
        manifests, todo = {}, []
        for s in subsets:
            path = self.folder / "subsets" / s.key / "manifest.json"
            if path.exists():
                manifests[s.key] = json.loads(path.read_text())
                continue
            folder = path.parent
            todo.append((s, folder, write_subset(con, s, folder)))
        if todo:
            self.log(f"curate: sweep: wrote {len(todo)} subsets; measuring their quality Q")
        tasks = [(str(folder), self.reference) for _, folder, _ in todo]
        stats = dict(self.engine.map(subset_stats, tasks, label="sweep: subsets")) if tasks else {}
        for (s, folder, numbers), task in zip(todo, tasks):
            st = stats[task]
            manifest = {
                "subset": s.key,
                "seed": s.seed,
                "pool_size": s.pool_size,
                "fraction": s.fraction,
                "pool_docs": s.pool_docs,
                "threshold": numbers["threshold"],
                "docs": numbers["docs"],
                "tokens": numbers["tokens"],
                "token_unit": "UTF-8 bytes",
                "words": st["words"],
                "low_quality_tokens": numbers["low_quality_tokens"],
                "q_corruption": dq.corruption_q(numbers["low_quality_tokens"], numbers["tokens"]),
                "q_deficiency": st["q_deficiency"],
                "deficiency": st["deficiency"],
                "source": {"pool": self.cfg.pool.paths, "score": self.cfg.pool.score},
            }
            write_json_atomic(folder / "manifest.json", manifest)
            manifests[s.key] = manifest
        return manifests

    # --- cells ----------------------------------------------------------------------------------------
    def _cells(self, subsets: list[Subset]) -> list[Cell]:
        cells = []
        m = self.cfg.models
        for s in subsets:
            for budget in self.cfg.budgets:
                if m.ngram is not None:
                    cells.append(Cell(s.seed, s.pool_size, s.fraction, "ngram", budget))
                if m.transformer is not None and [s.fraction, s.pool_size] in m.transformer.cells:
                    cells.append(Cell(s.seed, s.pool_size, s.fraction, "transformer", budget))
        return cells

    def _compute_tokens(self, manifests: dict[str, dict]) -> int:
        if self.cfg.compute_bytes:
            return self.cfg.compute_bytes
        largest = max(self.cfg.pool_sizes)
        f = min(self.cfg.fractions, key=lambda x: abs(x - 0.5))
        kept = [m["tokens"] for m in manifests.values() if m["pool_size"] == largest and m["fraction"] == f]
        return int(np.median(kept))

    def _run_cells(self, cells: list[Cell], manifests, eval_sets, compute: int) -> tuple[int, int]:
        folder = self.folder / "cells"
        folder.mkdir(exist_ok=True)
        tasks = []
        for c in cells:
            out = folder / f"{c.key}.parquet"
            if out.exists():
                continue
            sets = tuple(
                (("pool_holdout" if name.startswith("pool_holdout") else name), path)
                for name, path in eval_sets.items()
                if not name.startswith("pool_holdout") or name == f"pool_holdout-s{c.seed}"
            )
            model_cfg = to_dict(getattr(self.cfg.models, c.model))
            tasks.append(
                CellTask(
                    c,
                    str(self.folder / "subsets" / c.subset_key),
                    manifests[c.subset_key],
                    sets,
                    model_cfg,
                    compute,
                    str(out),
                )
            )
        reused = len(cells) - len(tasks)
        if reused:
            self.log(f"curate: sweep: {reused} of {len(cells)} cells already done, skipped")
        for _ in self.engine.map(run_cell, tasks, label="sweep: cells"):
            pass
        return len(tasks), reused

    # --- report ---------------------------------------------------------------------------------------
    def _report(self, started: float, ran: int, reused: int) -> SweepResult:
        cells = sorted((self.folder / "cells").glob("*.parquet"))
        results = with_fit_columns(duckdb.sql(f"SELECT * FROM read_parquet({sql_list(cells)})").df())
        results = results.sort_values(
            ["model", "budget", "eval_set", "pool_size", "fraction", "seed"], ignore_index=True
        )
        tmp = self.folder / f".results.parquet.tmp-{os.getpid()}"
        results.to_parquet(tmp, index=False)
        os.replace(tmp, self.folder / "results.parquet")
        summary = pareto(summarize(results))
        summary.to_parquet(self.folder / "summary.parquet", index=False)
        plots = plot(summary, self.folder / "plots")
        seconds = time.monotonic() - started
        write_json_atomic(
            self.folder / "status.json",
            {"state": "finished", "cells": len(cells), "ran": ran, "reused": reused, "seconds": seconds},
        )
        return SweepResult(self.folder, results, summary, plots, seconds, ran, reused)
