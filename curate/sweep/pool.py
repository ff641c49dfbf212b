"""The pool of a sweep: read from any input curate reads, restricted, fingerprinted, judged, stratified.

`load_pool` creates the DuckDB table

    pool(id, text, q, low, tokens, fp, stratum, lang, src)

q        the ranking score (`pool.score`)
low      Q (i)'s judgment: the document fails a published heuristic rule of `pool.low_quality_rules`
         (signals computed on the engine where the pool lacks them), or `pool.low_quality_column` is
         below `pool.low_quality_below`; independent of q unless the user points it at q (then said so)
tokens   the proxies' unit: the text's UTF-8 bytes and one end-of-document mark
fp       the content fingerprint (`curate.quality.fingerprints`), to find the ranking model's training
         documents and the evaluation sets' documents in the pool
stratum  the combination of the `controls.strata` columns (language × source group by default): the
         composition-matched control draws at random within each stratum
lang     the `lang` column where the pool has one (composition tables), else null
src      the source group: the first `controls.source_parts` parts of the document's source path

Reading goes through curate's readers, so a pool may be JSONL, Parquet or text, and bad records are
quarantined and counted, not fatal. Parquet columns keep their types; the other fields of JSONL records
become columns too (DuckDB infers their types over the whole pool; a field named like a column, such as a
record's own `id` when ids are derived, becomes `meta_<name>`).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from curate import schema as S
from curate.config import suggest
from curate.dedup import db
from curate.errors import UserError
from curate.io.discover import discover, plan_units
from curate.io.readers import ReadOptions, read_unit
from curate.quality import fingerprints as fpr
from curate.quality import heuristics
from curate.quality.stages import column_of
from curate.sweep.config import SweepConfig

META_ID = "__curate_meta_id"
DEFAULT_STRATA = ["lang", "source"]


@dataclass
class PoolInfo:
    """What the sweep knows about its pool: counts, judgments and checks, for the summary and manifest."""

    files: int
    read: int
    quarantined: dict[str, int]
    docs: int = 0
    tokens: int = 0
    where: str | None = None
    low_quality_judge: str = ""
    low_quality_circular: bool = False
    strata: list[str] = field(default_factory=list)
    in_sample: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_pool(con: duckdb.DuckDBPyConnection, cfg: SweepConfig, folder: Path, engine, log) -> PoolInfo:
    """Create table `pool` (see the module docstring) and return what was read and checked."""
    staging = folder / "pool-staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        info = _stage(cfg, staging)
        log(
            f"curate: sweep: pool read: {info.read:,} documents from {info.files} files"
            + (
                f", {sum(info.quarantined.values()):,} quarantined {info.quarantined}"
                if info.quarantined
                else ""
            )
        )
        columns = _load_staged(con, staging)
        _check_columns(con, cfg, columns)
        _restrict(con, cfg, info)
        _judge(con, cfg, columns, info, staging, engine)
        _stratify(con, cfg, columns, info)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    info.docs, info.tokens = con.execute("SELECT count(*), coalesce(sum(tokens), 0) FROM pool").fetchone()
    if info.docs < 10:
        raise UserError(
            f"the pool has {info.docs} documents; a sweep needs at least 10 (hundreds for useful numbers)."
        )
    check_in_sample(con, cfg, columns, info)
    con.execute("DROP TABLE pool_where")
    return info


# --- reading --------------------------------------------------------------------------------------


def _passthrough(files, p) -> pa.Schema | None:
    """The typed columns of the Parquet inputs (their union), kept as columns."""
    schemas = [pq.read_schema(f.path) for f in files if f.format == "parquet"]
    if not schemas:
        return None
    try:
        union = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise UserError(
            f"the pool's Parquet files disagree on column types ({err}); give one kind."
        ) from None
    skip = {p.text_key, p.id_key, *S.DOC_COLUMNS}
    return pa.schema([f for f in union if f.name not in skip and f.name != "fp"])


def _stage(cfg: SweepConfig, staging: Path) -> PoolInfo:
    """Read the pool with curate's readers into Parquet parts (fingerprints added) and a JSON file of
    the JSONL records' other fields."""
    p = cfg.pool
    files = discover(p.paths, p.format)
    opts = ReadOptions(
        text_key=p.text_key, id_key=p.id_key, text_unit=p.text_unit, passthrough=_passthrough(files, p)
    )
    info = PoolInfo(files=len(files), read=0, quarantined={})
    n_part = 0
    with (staging / "meta.jsonl").open("wb") as meta_out:
        for unit in plan_units(files, 64 << 20, p.text_unit):
            for batch in read_unit(unit, opts):
                for reason in batch.quarantine.column("reason").to_pylist():
                    info.quarantined[reason] = info.quarantined.get(reason, 0) + 1
                docs = batch.docs
                if docs.num_rows == 0:
                    continue
                info.read += docs.num_rows
                ids = docs.column("id").to_pylist()
                for doc_id, meta in zip(ids, docs.column("meta").to_pylist()):
                    if meta:
                        fields = orjson.loads(meta)
                        if isinstance(fields, dict) and fields:
                            meta_out.write(orjson.dumps({META_ID: doc_id, **fields}) + b"\n")
                fps = fpr.fingerprints(docs.column("text").to_pylist())
                docs = docs.drop_columns(["meta"]).append_column("fp", pa.array(fps, pa.uint64()))
                pq.write_table(docs, staging / f"part-{n_part:05d}.parquet")
                n_part += 1
    if n_part == 0:
        raise UserError(f"the pool has no readable documents in {', '.join(p.paths)}.")
    return info


def _load_staged(con: duckdb.DuckDBPyConnection, staging: Path) -> set[str]:
    """Table `pool_all` from the staged parts and the JSONL fields; return its column names."""
    parts = db.exact_paths(sorted(staging.glob("part-*.parquet")))
    con.execute(
        "CREATE OR REPLACE TABLE pool_all AS "
        "SELECT * FROM read_parquet(?, union_by_name = true, hive_partitioning = false)",
        [parts],
    )
    repeated = con.execute("SELECT count(*) - count(DISTINCT id) FROM pool_all").fetchone()[0]
    if repeated:
        raise UserError(
            f"the pool has {repeated:,} repeated ids; ids must be unique (set pool.id_key to a unique field, "
            "or leave it unset to derive ids from file and offset)."
        )
    columns = _columns(con, "pool_all")
    meta = staging / "meta.jsonl"
    if meta.stat().st_size:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE pool_meta AS "
            "SELECT * FROM read_json(?, format = 'newline_delimited', sample_size = -1)",
            [db.exact_path(meta)],
        )
        # a field named like a column (e.g. a record's own `id` when ids are derived) gets a meta_ prefix
        extra = {c: (f"meta_{c}" if c in columns else c) for c in _columns(con, "pool_meta") if c != META_ID}
        if extra:
            picked = ", ".join(f"m.{quote_ident(c)} AS {quote_ident(name)}" for c, name in extra.items())
            con.execute(
                f"CREATE OR REPLACE TABLE pool_all AS SELECT a.*, {picked} FROM pool_all a "
                f"LEFT JOIN pool_meta m ON a.id = m.{quote_ident(META_ID)}"
            )
            columns |= set(extra.values())
        con.execute("DROP TABLE pool_meta")
    return columns


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}


def _check_columns(con: duckdb.DuckDBPyConnection, cfg: SweepConfig, columns: set[str]) -> None:
    p = cfg.pool
    for key, name in (("pool.score", p.score), ("pool.low_quality_column", p.low_quality_column)):
        if name is not None and name not in columns:
            raise UserError(
                f"the pool has no '{name}' column ({key}).{suggest(name, columns)} Score it first (`curate "
                "score`, or a pipeline with quality_classifier) or name another column."
            )


# --- restricting ----------------------------------------------------------------------------------


def _restrict(con: duckdb.DuckDBPyConnection, cfg: SweepConfig, info: PoolInfo) -> None:
    """`pool.where`, then `pool.max_docs` (by id), into table `pool_where`."""
    p = cfg.pool
    where = "true"
    if p.where:
        sql = f"SELECT count(*) FROM pool_all WHERE ({p.where})"
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error:
            statements = []
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise UserError(f"pool.where must be one predicate over the pool's columns, got {p.where!r}.")
        try:
            con.execute(sql)
        except duckdb.Error as err:
            first = str(err).splitlines()[0]
            raise UserError(f"pool.where {p.where!r} does not apply to the pool: {first}") from None
        where = f"({p.where})"
        info.where = p.where
    limit = f"ORDER BY id LIMIT {int(p.max_docs)}" if p.max_docs else ""
    con.execute(f"CREATE OR REPLACE TABLE pool_where AS SELECT * FROM pool_all WHERE {where} {limit}")
    con.execute("DROP TABLE pool_all")


# --- Q (i)'s judgment -------------------------------------------------------------------------------


def low_quality_flags(args: tuple[str, tuple[str, ...]]) -> tuple[list[str], list[bool]]:
    """Engine task: (ids, fails a rule of the groups) for one Parquet chunk of (id, text)."""
    path, groups = args
    table = pq.read_table(path, columns=["id", "text"])
    texts = table.column("text").to_pylist()
    signals = heuristics.compute_signals_batch(texts, groups)
    rules = [r for r in heuristics.RULES if r.group in groups]
    failed = heuristics.evaluate_rules(signals, rules)
    return table.column("id").to_pylist(), [f is not None for f in failed]


def _judge(con, cfg: SweepConfig, columns: set[str], info: PoolInfo, staging: Path, engine) -> None:
    """Table `low_flags(id, low)`."""
    p = cfg.pool
    if p.low_quality_column is not None:
        col = quote_ident(p.low_quality_column)
        con.execute(
            "CREATE OR REPLACE TABLE low_flags AS SELECT id, "
            f"coalesce(TRY_CAST({col} AS DOUBLE) < ?, false) AS low FROM pool_where",
            [p.low_quality_below],
        )
        info.low_quality_judge = f"{p.low_quality_column} < {p.low_quality_below:g}"
        info.low_quality_circular = p.low_quality_column == p.score
        if info.low_quality_circular:
            info.low_quality_judge += " (circular: the ranking score itself)"
        return
    groups = tuple(p.low_quality_rules)
    rules = [r for r in heuristics.RULES if r.group in groups]
    info.low_quality_judge = f"fails a published rule of {' or '.join(groups)}"
    needed = sorted({column_of(r.signal) for r in rules})
    if all(c in columns for c in needed):
        picked = ", ".join(f"TRY_CAST({quote_ident(c)} AS DOUBLE) AS {quote_ident(c)}" for c in needed)
        table = con.sql(f"SELECT id, {picked} FROM pool_where").to_arrow_table()
        signals = {r.signal: table.column(column_of(r.signal)).to_numpy(zero_copy_only=False) for r in rules}
        failed = heuristics.evaluate_rules(signals, rules)
        flags = pa.table({"id": table.column("id"), "low": pa.array([f is not None for f in failed])})
    else:
        flags = _computed_flags(con, groups, staging, engine)
    con.register("flags_view", flags)
    con.execute("CREATE OR REPLACE TABLE low_flags AS SELECT id, low FROM flags_view")
    con.unregister("flags_view")


def _computed_flags(con, groups: tuple[str, ...], staging: Path, engine, chunk_rows: int = 2000) -> pa.Table:
    """Heuristic signals computed on the engine, in chunks of the (restricted) pool."""
    chunks = staging / "judge"
    chunks.mkdir()
    reader = con.sql("SELECT id, text FROM pool_where ORDER BY id").to_arrow_reader(chunk_rows)
    paths = []
    for i, batch in enumerate(reader):
        path = chunks / f"chunk-{i:05d}.parquet"
        pq.write_table(pa.Table.from_batches([batch]), path)
        paths.append((str(path), groups))
    ids, low = [], []
    for _, (chunk_ids, chunk_low) in engine.map(low_quality_flags, paths, label="sweep: Q (i) rule flags"):
        ids += chunk_ids
        low += chunk_low
    return pa.table({"id": pa.array(ids, pa.string()), "low": pa.array(low, pa.bool_())})


# --- strata and the final table ---------------------------------------------------------------------


def _stratify(con, cfg: SweepConfig, columns: set[str], info: PoolInfo) -> None:
    c = cfg.controls
    src = f"array_to_string(string_split(source, '/')[1:{int(c.source_parts)}], '/')"
    parts = []
    for name in c.strata:
        if name not in columns:
            if c.strata == DEFAULT_STRATA:  # the defaults are skipped where the pool lacks them
                info.notes.append(f"no '{name}' column: the matched control does not stratify by it")
                continue
            raise UserError(
                f"controls.strata names '{name}', which the pool lacks.{suggest(name, columns)} Name columns "
                "of the pool."
            )
        expr = src if name == "source" else quote_ident(name)
        parts.append(f"coalesce(CAST({expr} AS VARCHAR), '∅')")
        info.strata.append(name)
    stratum = f"concat_ws(' | ', {', '.join(parts)})" if parts else "'all'"
    lang = "CAST(lang AS VARCHAR)" if "lang" in columns else "NULL::VARCHAR"
    # a tokenizer's count (`token_count`), carried into the subsets' manifests beside the proxies' bytes
    n_tokens = "CAST(w.n_tokens AS BIGINT)" if "n_tokens" in columns else "NULL::BIGINT"
    con.execute(f"""
        CREATE OR REPLACE TABLE pool AS
        SELECT w.id, w.text, CAST(w.{quote_ident(cfg.pool.score)} AS DOUBLE) AS q,
               coalesce(f.low, false) AS low, strlen(w.text) + 1 AS tokens, {n_tokens} AS n_tokens, w.fp,
               {stratum} AS stratum, {lang} AS lang, {src} AS src
        FROM pool_where w LEFT JOIN low_flags f USING (id)""")
    con.execute("DROP TABLE low_flags")


# --- in-sample scores ------------------------------------------------------------------------------


def check_in_sample(con, cfg: SweepConfig, columns: set[str], info: PoolInfo) -> None:
    """Count the pool documents each ranking model was trained on; refuse above `pool.max_in_sample`."""
    from curate.quality.registry import resolve

    p = cfg.pool
    names = list(p.ranking_models)
    by_column = not names and "quality_model" in columns
    if by_column:
        names = [
            n
            for (n,) in con.execute(
                "SELECT DISTINCT quality_model FROM pool_where WHERE quality_model IS NOT NULL"
            ).fetchall()
        ]
    if not names:
        info.notes.append(
            "no ranking model known (no quality_model column, pool.ranking_models empty): in-sample share "
            "not checked"
        )
    pool_fps = con.execute("SELECT fp FROM pool").fetchnumpy()["fp"]
    for name in names:
        try:
            model = resolve(name)
        except UserError:
            if not by_column:
                raise
            info.notes.append(f"quality model '{name}' not found: its in-sample share is not checked")
            continue
        training = fpr.load(model.path, model.card)
        if training is None:
            info.in_sample[model.name] = {"checked": False}
            info.notes.append(
                f"quality model '{model.name}' records no training fingerprints (retrain it with `curate "
                "train-classifier`): its in-sample share is not checked"
            )
            continue
        hits = int(fpr.contained(pool_fps, training).sum())
        share = hits / max(len(pool_fps), 1)
        info.in_sample[model.name] = {"checked": True, "documents": hits, "share": share}
        if share > p.max_in_sample and not p.allow_in_sample:
            raise UserError(
                f"{hits:,} of the pool's {len(pool_fps):,} documents ({share:.1%}) are training documents of "
                f"the ranking model '{model.name}', so their scores are in-sample; rank a pool the model was "
                "not trained on (or restrict it with pool.where), or pass --allow-in-sample to sweep anyway."
            )


def overlap(con: duckdb.DuckDBPyConnection, texts: list[str]) -> int:
    """How many of `texts` are also pool documents (by fingerprint)."""
    pool_fps = np.sort(con.execute("SELECT fp FROM pool").fetchnumpy()["fp"])
    return int(fpr.contained(fpr.fingerprints(texts), pool_fps).sum())
