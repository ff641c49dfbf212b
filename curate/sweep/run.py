"""Run a sweep: read and check the pool, plan subsets and controls, write them with their manifests, train
and evaluate every cell, and report the gains over the controls.

Everything lives in WORKSPACE/sweeps/NAME-HASH/ (HASH names the resolved config, so a changed config never
reuses stale cells):

    config.yaml             the resolved sweep config
    pool.json               what was read, the in-sample check, Q (i)'s judgment, the pool's composition
    eval/NAME.parquet       evaluation sets (pool_holdout-sSEED for each seed)
    subsets/KEY/            Parquet shards of each kept subset (top f and its controls), KEY/manifest.json
    cells/KEY.parquet       the results rows of one subset and model, every budget (written last: a killed
                            sweep resumes from here), and KEY.curve.parquet, its learning curve
    results.parquet         every row (fraction, pool size, seed, selection, model, budget, eval set)
    summary.parquet         means over seeds, gains over the controls with intervals, the front marked
    composition.parquet     language and source mix of every subset
    curves.parquet          learning curves: held-out loss against training tokens, every cell
    plots/*.png|svg

A rerun on a pool that changed (other documents, scores, Q (i) judgments or strata: another digest of
them) discards the subsets and cells of the old pool before it plans.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from curate.config import to_dict
from curate.dedup import db
from curate.engine import Engine
from curate.errors import UserError
from curate.io.writers import write_json_atomic
from curate.pipeline.spec import dump_yaml
from curate.sweep import dataset_quality as dq
from curate.sweep.cells import CURVE_SCHEMA, FIXED_DATA, Budget, CellTask, read_texts, run_cell
from curate.sweep.config import SweepConfig
from curate.sweep.gains import gains, pareto, summarize, with_gains
from curate.sweep.plan import Subset, composition, plan_subsets, read_eval_set, write_holdout, write_subset
from curate.sweep.pool import PoolInfo, load_pool, overlap
from curate.sweep.report import composition_table, plot, with_fit_columns


@dataclass
class SweepResult:
    folder: Path
    results: pd.DataFrame
    summary: pd.DataFrame
    composition: pd.DataFrame
    pool: dict
    pool_composition: dict
    plots: list[Path]
    seconds: float
    subsets: int
    cells_run: int
    cells_reused: int
    score: str
    confidence: float
    simultaneous: bool


# Settings that change where and how the cells run or what is drawn, never a result: a sweep rerun on
# another engine (more workers, a scheduler, a dashboard) reuses its cells.
_NOT_RESULTS = ("engine", "plots")


def sweep_folder(workspace: Path, cfg: SweepConfig) -> Path:
    """The sweep's folder: its name and a digest of every setting that can change a result."""
    settings = {k: v for k, v in to_dict(cfg).items() if k not in _NOT_RESULTS}
    digest = hashlib.blake2b(json.dumps(settings, sort_keys=True, default=str).encode(), digest_size=4)
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
        self.engine.prestart(["curate.sweep.cells", "curate.sweep.pool"])
        con = duckdb.connect(str(plan_db))
        try:
            pool = load_pool(con, self.cfg, self.folder, self.engine, self.log)
            pool_comp = composition(con)
            self._forget_a_changed_pool(con, pool)
            subsets = plan_subsets(con, self.cfg)
            eval_sets = self._eval_sets(con, pool)
            manifests = self._subsets(con, subsets, pool)
            tasks = self._tasks(manifests, eval_sets)
            ran, reused = self._run_cells(tasks)
        finally:
            con.close()
            self.engine.close()
            plan_db.unlink(missing_ok=True)
        write_json_atomic(self.folder / "pool.json", {**pool.to_dict(), "composition": pool_comp})
        return self._report(started, pool, pool_comp, manifests, ran, reused)

    # --- the pool -------------------------------------------------------------------------------------
    def _forget_a_changed_pool(self, con, pool: PoolInfo) -> None:
        """Discard subsets and cells planned on another pool: other documents, scores, judgments or strata
        (a pool re-scored by another model keeps its files and the sweep's config)."""
        (digest,) = con.execute(
            "SELECT count(*) || '-' || coalesce(sum(hash(id, fp, q, low, stratum)::HUGEINT), 0) FROM pool"
        ).fetchone()
        marker = self.folder / "pool-digest.txt"
        if marker.exists() and marker.read_text().strip() != digest:
            self.log(
                "curate: sweep: the pool changed since this sweep last ran; its subsets and cells are redone"
            )
            for name in ("subsets", "cells", "eval"):
                shutil.rmtree(self.folder / name, ignore_errors=True)
        marker.write_text(digest + "\n")

    # --- evaluation sets ------------------------------------------------------------------------------
    def _eval_sets(self, con, pool: PoolInfo) -> dict[str, str]:
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
            shared = overlap(con, read_texts(str(path)))
            if shared:
                pool.notes.append(
                    f"{shared:,} documents of evaluation set '{s.name}' are also in the pool (trained on by "
                    "the subsets that keep them): its losses are partly in-sample"
                )
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
    def _subsets(self, con, subsets: list[Subset], pool: PoolInfo) -> dict[str, dict]:
        manifests, todo = {}, []
        for s in subsets:
            path = self.folder / "subsets" / s.key / "manifest.json"
            if path.exists():
                manifests[s.key] = json.loads(path.read_text())
                continue
            folder = path.parent
            todo.append((s, folder, write_subset(con, s, folder)))
        if todo:
            self.log(f"curate: sweep: wrote {len(todo)} subsets (top f and controls); measuring their Q")
        tasks = [(str(folder), self.reference) for _, folder, _ in todo]
        stats = dict(self.engine.map(subset_stats, tasks, label="sweep: subsets")) if tasks else {}
        for (s, folder, numbers), task in zip(todo, tasks):
            st = stats[task]
            manifest = {
                "subset": s.key,
                "seed": s.seed,
                "pool_size": s.pool_size,
                "fraction": s.fraction,
                "selection": s.selection,
                "pool_docs": s.pool_docs,
                "pool_tokens": s.pool_tokens,
                "threshold": numbers["threshold"],
                "docs": numbers["docs"],
                "tokens": numbers["tokens"],
                "token_unit": "UTF-8 bytes + 1 end-of-document mark per document",
                "tokenizer_tokens": numbers["tokenizer_tokens"],  # sum of the pool's n_tokens (token_count)
                "words": st["words"],
                "low_quality_tokens": numbers["low_quality_tokens"],
                "q_corruption": dq.corruption_q(numbers["low_quality_tokens"], numbers["tokens"]),
                "q_corruption_judge": pool.low_quality_judge,
                "q_deficiency": st["q_deficiency"],
                "deficiency": st["deficiency"],
                "composition": numbers["composition"],
                "source": {
                    "pool": self.cfg.pool.paths,
                    "where": self.cfg.pool.where,
                    "score": self.cfg.pool.score,
                },
            }
            write_json_atomic(folder / "manifest.json", manifest)
            manifests[s.key] = manifest
        return manifests

    # --- cells ----------------------------------------------------------------------------------------
    def _ngram_budgets(self, manifests: dict[str, dict]) -> tuple[Budget, ...]:
        budgets = []
        if "fixed_data" in self.cfg.budgets:
            budgets.append(FIXED_DATA)
        if "fixed_compute" in self.cfg.budgets:
            if self.cfg.compute_bytes:
                budgets += [Budget.fixed_compute(t) for t in sorted(self.cfg.compute_bytes)]
            else:
                largest = max(self.cfg.pool_sizes)
                pool_tokens = float(
                    np.median([m["pool_tokens"] for m in manifests.values() if m["pool_size"] == largest])
                )
                budgets += [
                    Budget.fixed_compute(max(1000, round(share * pool_tokens)), share)
                    for share in sorted(self.cfg.compute_shares)
                ]
        return tuple(budgets)

    def _transformer_budgets(self) -> tuple[Budget, ...]:
        t = self.cfg.models.transformer
        budgets = [FIXED_DATA] if "fixed_data" in self.cfg.budgets else []
        if "fixed_compute" in self.cfg.budgets:
            budgets.append(Budget.fixed_compute(t.train_bytes))
        return tuple(budgets)

    def _tasks(self, manifests: dict[str, dict], eval_sets: dict[str, str]) -> list[CellTask]:
        folder = self.folder / "cells"
        folder.mkdir(exist_ok=True)
        m = self.cfg.models
        ngram_budgets = self._ngram_budgets(manifests) if m.ngram is not None else ()
        tasks = []
        for key, manifest in manifests.items():
            sets = tuple(
                (("pool_holdout" if name.startswith("pool_holdout") else name), path)
                for name, path in eval_sets.items()
                if not name.startswith("pool_holdout") or name == f"pool_holdout-s{manifest['seed']}"
            )
            for model, kind, model_cfg, budgets in self._models(manifest, ngram_budgets):
                tasks.append(
                    CellTask(
                        manifest,
                        str(self.folder / "subsets" / key),
                        model,
                        kind,
                        model_cfg,
                        budgets,
                        sets,
                        str(folder / f"{key}-{model}.parquet"),
                    )
                )
        return tasks

    def _models(self, manifest: dict, ngram_budgets) -> list[tuple[str, str, dict, tuple[Budget, ...]]]:
        """(label, kind, config, budgets) of every proxy model trained on one subset."""
        m = self.cfg.models
        out = []
        if m.ngram is not None:
            out.append(("ngram", "ngram", to_dict(m.ngram), ngram_budgets))
        t = m.transformer
        if t is not None and (t.cells is None or [manifest["fraction"], manifest["pool_size"]] in t.cells):
            base = to_dict(t)
            if not t.sizes:
                out.append(("transformer", "transformer", base, self._transformer_budgets()))
            for layers, d_model, heads in t.sizes:  # a model-size ladder
                size = {**base, "layers": layers, "d_model": d_model, "heads": heads}
                out.append(
                    (f"transformer-{layers}x{d_model}", "transformer", size, self._transformer_budgets())
                )
        return out

    def _run_cells(self, tasks: list[CellTask]) -> tuple[int, int]:
        todo = [t for t in tasks if not Path(t.out).exists()]
        reused = len(tasks) - len(todo)
        if reused:
            self.log(f"curate: sweep: {reused} of {len(tasks)} cells already done, skipped")
        for _ in self.engine.map(run_cell, todo, label="sweep: cells"):
            pass
        return len(todo), reused

    # --- report ---------------------------------------------------------------------------------------
    def _report(self, started, pool: PoolInfo, pool_comp, manifests, ran: int, reused: int) -> SweepResult:
        cells = sorted(
            p for p in (self.folder / "cells").glob("*.parquet") if not p.name.endswith(".curve.parquet")
        )
        curves = [p for p in (self.folder / "cells").glob("*.curve.parquet")]
        with duckdb.connect() as con:
            results = con.execute(f"SELECT * FROM {db.read_parquet('?')}", [db.exact_paths(cells)]).df()
            curve = CURVE_SCHEMA.empty_table().to_pandas()
            if curves:
                sql = f"SELECT * FROM {db.read_parquet('?')} ORDER BY ALL"
                curve = con.execute(sql, [db.exact_paths(sorted(curves))]).df()
        _write_parquet(curve, self.folder / "curves.parquet")
        results = with_fit_columns(results)
        results = results.sort_values(
            ["model", "budget", "eval_set", "pool_size", "fraction", "selection", "seed"], ignore_index=True
        )
        _write_parquet(results, self.folder / "results.parquet")
        c = self.cfg.controls
        summary = pareto(with_gains(summarize(results), gains(results, c.confidence, c.simultaneous)))
        _write_parquet(summary, self.folder / "summary.parquet")
        comp = composition_table(manifests)
        _write_parquet(comp, self.folder / "composition.parquet")
        plots = plot(summary, comp, pool.low_quality_judge, self.folder / "plots") if self.cfg.plots else []
        seconds = time.monotonic() - started
        write_json_atomic(
            self.folder / "status.json",
            {"state": "finished", "cells": len(cells), "ran": ran, "reused": reused, "seconds": seconds},
        )
        return SweepResult(
            self.folder, results, summary, comp, pool.to_dict(), pool_comp, plots, seconds, len(manifests),
            ran, reused, self.cfg.pool.score, c.confidence, c.simultaneous,
        )  # fmt: skip


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
