"""Plan a sweep in DuckDB: held-out slices, nested random pools, nested top-f subsets and their controls.

Per seed s (every order is md5 of the id, a salt and the seed, so plans are the same on every machine):

- held out: the documents whose md5(id, s) falls in the first `holdout_fraction`: the `pool_holdout`
  evaluation set of that seed, never trained on;
- pools: the rest in md5(id, "pool", s) order; pool p is the first round(p · n) documents, so pools nest;
- top: within a pool, the top ceil(f · size) documents by score (ties by id), so subsets nest too; the
  threshold is the score of the last document kept;
- random control (every f < 1): documents of the same pool in md5(id, "random", s) order, as many as bring
  the kept tokens closest to the top subset's: the answer to "is the score better than chance at this size?";
- matched control (every f < 1, `controls.matched`): the same, within each stratum (language × source
  group by default), up to the top subset's tokens in that stratum: a random subset with the top subset's
  composition. loss(random) − loss(matched) is what the score buys by picking a language or source;
  loss(matched) − loss(top) what it buys by picking better documents within them.

At f = 1 the top subset is the whole pool and both controls would equal it, so none is drawn: the gain
over random is 0 by construction.

Tokens are the proxies' unit: a document's UTF-8 bytes and one end-of-document mark.

Each subset is written as Parquet shards (documents in the seed's random order, so a budget that reads a
prefix reads a random sample) with a manifest: f, pool size, selection, threshold, seed, documents, tokens,
composition (language and source mix, length quantiles), Q (i) and the source of the pool.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from curate.errors import UserError
from curate.io.discover import discover, plan_units
from curate.io.readers import ReadOptions, read_unit
from curate.sweep.config import EvalSetConfig, SweepConfig

SELECTIONS = ("top", "random", "matched")
MIX_TOP = 8  # languages / sources named in a composition; the rest are summed as "other"


@dataclass(frozen=True)
class Subset:
    seed: int
    pool_size: float
    fraction: float
    selection: str  # top | random | matched
    pool_docs: int  # documents in the pool it was drawn from
    pool_tokens: int  # and their tokens

    @property
    def key(self) -> str:
        return f"s{self.seed}-p{self.pool_size:g}-f{self.fraction:g}-{self.selection}"


def order_sql(seed: int, salt: str, column: str = "id") -> str:
    """A deterministic pseudo-random order of documents: md5 of id, salt and seed."""
    return f"md5_number({column} || '#{salt}#{int(seed)}')"


def held_out_sql(seed: int, cfg: SweepConfig) -> str:
    return f"{order_sql(seed, 'holdout')} % 1000000 < {round(cfg.eval.holdout_fraction * 1e6)}"


# Keep a prefix of documents in `cum` order (cumulative tokens, per partition) whose tokens come closest to
# `target`: every document that ends within it, and the one that crosses it if that lands nearer.
_CLOSEST = (
    "({cum} - tokens < {target} AND ({cum} <= {target} OR {cum} - {target} < {target} - ({cum} - tokens)))"
)


def plan_subsets(con: duckdb.DuckDBPyConnection, cfg: SweepConfig) -> list[Subset]:
    """Fill table `membership(seed, pool_size, fraction, selection, id)` and return every subset."""
    con.execute(
        "CREATE OR REPLACE TABLE membership "
        "(seed INTEGER, pool_size DOUBLE, fraction DOUBLE, selection VARCHAR, id VARCHAR)"
    )
    subsets = []
    matched = cfg.controls.matched
    for seed in cfg.seeds:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE universe AS
            SELECT id, q, tokens, stratum, row_number() OVER (ORDER BY {order_sql(seed, "pool")}, id) AS pos
            FROM pool WHERE NOT ({held_out_sql(seed, cfg)})""")
        n = con.execute("SELECT count(*) FROM universe").fetchone()[0]
        for pool_size in cfg.pool_sizes:
            size = max(1, round(pool_size * n))
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE sub_pool AS
                SELECT id, tokens, stratum,
                       row_number() OVER (ORDER BY q DESC NULLS LAST, id) AS rank,
                       sum(tokens) OVER (ORDER BY {order_sql(seed, "random")}, id
                                        ROWS UNBOUNDED PRECEDING) AS rcum,
                       sum(tokens) OVER (PARTITION BY stratum ORDER BY {order_sql(seed, "matched")}, id
                                        ROWS UNBOUNDED PRECEDING) AS mcum
                FROM universe WHERE pos <= {size}""")
            pool_tokens = int(con.execute("SELECT coalesce(sum(tokens), 0) FROM sub_pool").fetchone()[0])
            for fraction in cfg.fractions:
                keep = max(1, math.ceil(fraction * size))
                cell = [seed, pool_size, fraction]
                con.execute(
                    "INSERT INTO membership SELECT ?, ?, ?, 'top', id FROM sub_pool WHERE rank <= ?",
                    [*cell, keep],
                )
                subsets.append(Subset(seed, pool_size, fraction, "top", size, pool_tokens))
                if fraction >= 1.0:
                    continue
                target = con.execute("SELECT sum(tokens) FROM sub_pool WHERE rank <= ?", [keep]).fetchone()[0]
                random_rule = _CLOSEST.format(cum="rcum", target="$target")
                con.execute(
                    "INSERT INTO membership SELECT $seed, $pool, $f, 'random', id FROM sub_pool "
                    f"WHERE {random_rule}",
                    {"seed": seed, "pool": pool_size, "f": fraction, "target": target},
                )
                subsets.append(Subset(seed, pool_size, fraction, "random", size, pool_tokens))
                if matched:
                    matched_rule = _CLOSEST.format(cum="mcum", target="k.target")
                    con.execute(
                        f"""INSERT INTO membership
                        SELECT ?, ?, ?, 'matched', s.id FROM sub_pool s JOIN (
                            SELECT stratum, sum(tokens) AS target FROM sub_pool WHERE rank <= ?
                            GROUP BY stratum
                        ) k USING (stratum) WHERE {matched_rule}""",
                        [*cell, keep],
                    )
                    subsets.append(Subset(seed, pool_size, fraction, "matched", size, pool_tokens))
    return subsets


def _members(s: Subset) -> tuple[str, list]:
    """The WHERE clause (over membership m) and parameters that select one subset's documents."""
    return (
        "m.seed = ? AND m.pool_size = ? AND m.fraction = ? AND m.selection = ?",
        [s.seed, s.pool_size, s.fraction, s.selection],
    )


def _mix(con: duckdb.DuckDBPyConnection, column: str, rows_sql: str, params: list) -> dict[str, float]:
    """Share of tokens per value of `column` of the documents `rows_sql` selects (as `p`): the MIX_TOP
    largest, the rest as "other"."""
    rows = con.execute(
        f"SELECT coalesce(p.{column}, '?') AS v, sum(p.tokens) AS b FROM {rows_sql} "
        "GROUP BY v ORDER BY b DESC, v",
        params,
    ).fetchall()
    total = sum(b for _, b in rows) or 1
    mix = {v: b / total for v, b in rows[:MIX_TOP]}
    if len(rows) > MIX_TOP:
        mix["other"] = sum(b for _, b in rows[MIX_TOP:]) / total
    return mix


def composition(con: duckdb.DuckDBPyConnection, s: Subset | None = None) -> dict:
    """Language and source mix (shares of tokens) and document-length quantiles (tokens) of a subset, or of
    the whole (restricted) pool when `s` is None."""
    if s is None:
        rows_sql, params = "pool p", []
    else:
        where, params = _members(s)
        rows_sql = f"membership m JOIN pool p USING (id) WHERE {where}"
    quantiles = con.execute(
        f"SELECT quantile_cont(p.tokens, [0.1, 0.5, 0.9]) FROM {rows_sql}", params
    ).fetchone()[0] or [0, 0, 0]
    return {
        "lang_mix": _mix(con, "lang", rows_sql, params),
        "source_mix": _mix(con, "src", rows_sql, params),
        "length_p10": float(quantiles[0]),
        "length_p50": float(quantiles[1]),
        "length_p90": float(quantiles[2]),
    }


def write_subset(con: duckdb.DuckDBPyConnection, s: Subset, folder: Path, shard_mb: int = 128) -> dict:
    """Write one subset's documents as Parquet shards (atomically: a temporary folder, then a rename);
    return its numbers from the plan (documents, tokens, threshold, low-quality tokens, composition)."""
    where, params = _members(s)
    docs, tokens, low, threshold, n_tokens = con.execute(
        f"""SELECT count(*), coalesce(sum(p.tokens), 0), coalesce(sum(p.tokens) FILTER (WHERE p.low), 0),
                   min(p.q), sum(p.n_tokens)
            FROM membership m JOIN pool p USING (id) WHERE {where}""",
        params,
    ).fetchone()
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    con.execute(
        f"""COPY (SELECT p.id, p.text, p.q FROM membership m JOIN pool p USING (id) WHERE {where}
                  ORDER BY {order_sql(s.seed, "train", "p.id")})
            TO ? (FORMAT PARQUET, COMPRESSION ZSTD, FILE_SIZE_BYTES '{int(shard_mb)}MB',
                  FILENAME_PATTERN 'part-{{i}}')""",
        [*params, str(tmp)],
    )
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return {
        "docs": int(docs),
        "tokens": int(tokens),
        # the sum of the pool's n_tokens (token_count), where it has them
        "tokenizer_tokens": None if n_tokens is None else int(n_tokens),
        "low_quality_tokens": int(low),
        # the score of the last document kept; a control has no threshold
        "threshold": None if threshold is None or s.selection != "top" else float(threshold),
        "composition": composition(con, s),
    }


def write_holdout(con: duckdb.DuckDBPyConnection, seed: int, cfg: SweepConfig, out: Path) -> None:
    """The `pool_holdout` evaluation set of one seed, capped at `eval.max_bytes`."""
    con.execute(
        f"""COPY (SELECT id, text FROM (
                SELECT id, text, sum(tokens) OVER w AS upto, row_number() OVER w AS n
                FROM pool WHERE {held_out_sql(seed, cfg)}
                WINDOW w AS (ORDER BY {order_sql(seed, "holdout")}, id))
              WHERE upto <= ? OR n = 1)
            TO ? (FORMAT PARQUET)""",
        [cfg.eval.max_bytes, str(out)],
    )


def read_eval_set(s: EvalSetConfig, max_bytes: int) -> list[str]:
    """The texts of a declared evaluation set, in file order, up to `max_bytes` (at least one document)."""
    files = discover(s.paths, s.format)
    texts, size = [], 0
    opts = ReadOptions(text_key=s.text_key, text_unit=s.text_unit, fallback_encoding="cp1252")
    for unit in plan_units(files, 64 << 20, s.text_unit):
        for batch in read_unit(unit, opts):
            for text in batch.docs.column("text").to_pylist():
                if texts and size + len(text.encode()) > max_bytes:
                    return texts
                texts.append(text)
                size += len(text.encode())
    if not texts:
        raise UserError(f"evaluation set '{s.name}' has no readable documents in {s.paths}.")
    return texts
