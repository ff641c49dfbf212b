"""Near-duplicate removal: MinHash signatures → LSH bands → candidate pairs → verification → clusters.

Phases (each timed, and reported in the run's metrics):

1. signatures (engine, per shard): shingles, MinHash signatures (datasketch-equal, see `minhash.py`) and
   band keys, written to Parquet: `sig/` (ordinal, id, shingle count, score, signature) and `bands/`.
2. candidates (DuckDB over the band Parquet, out of core): documents sharing a band key form a bucket; a
   bucket of up to `max_bucket_pairs` documents gives all its pairs, a larger one (often a template) only
   a star around its first document and a chain through the rest, so no bucket explodes quadratically.
3. verify (engine + DuckDB): the exact Jaccard of the candidates' 64-bit shingle sets; pairs below the
   threshold are dropped, so banding false positives never remove a document. `verify: false` skips it.
4. components (DuckDB): connected components over the verified pairs (see `components.py`); with
   `cluster: star`, each component is then split into stars around kept documents (see `star.py`).
5. decisions: per cluster keep one document — one published by an earlier run (incremental), else the
   highest score if a score column exists, else the smallest id — and remove the others with reason
   `near_duplicate`. Every document gets `dup_cluster_id` (the kept id) and `dup_cluster_size`.
   Components remove every other member of a component, however long the chain that joined it; stars
   remove only members whose own Jaccard with the kept document reaches the threshold.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.config import option
from curate.dedup import db, lsh
from curate.dedup.common import (
    OLD_BASE,
    SHARD_BITS,
    decisions_by_shard,
    iter_shard,
    keeper_order,
    score_column_of,
    settings_key,
)
from curate.dedup.components import connected_components
from curate.dedup.minhash import MinHasher
from curate.dedup.shingles import ShingleSpec, shingle_hashes
from curate.dedup.star import star_clusters
from curate.schema import with_column
from curate.stages.base import Stage, register
from curate.stages.context import FinishedRun, GlobalContext


@dataclass
class NearParams:
    threshold: float = option(
        0.8, help="Jaccard similarity at which two documents are duplicates.", min=0.01, max=0.99
    )
    num_perm: int = option(128, help="MinHash permutations (signature length).", min=1, max=4096)
    seed: int = option(1, help="Seed of the permutations (datasketch's `seed`).", min=0)
    ngram: int = option(5, help="Shingle size, in words (or characters with shingle_unit: char).", min=1)
    shingle_unit: Literal["word", "char"] = option("word", help="Shingles of words or of characters.")
    lowercase: bool = option(True, help="Lower-case before shingling.")
    unicode_form: Literal["NFKC", "NFC", "none"] = option("NFKC", help="Unicode form before shingling.")
    strip_punctuation: bool = option(True, help="Treat Unicode punctuation (P*) as a word separator.")
    hash: Literal["poly64", "sha1"] = option(
        "poly64", help="Shingle hash: poly64 (fast) or sha1 (datasketch's)."
    )
    bands: int | None = option(None, help="LSH bands (with rows); none: derived from the threshold.", min=1)
    rows: int | None = option(None, help="Rows per band (with bands), e.g. FineWeb's 14 x 8.", min=1)
    fp_weight: float | None = option(
        None,
        help="Weight of false positives in the bands/rows rule; none: 0.05 with verify, 0.5 without.",
        min=0.0,
        max=1.0,
    )
    verify: bool = option(True, help="Check candidate pairs by exact Jaccard before removing anything.")
    max_bucket_pairs: int = option(100, help="Buckets larger than this give star + chain pairs only.", min=2)
    score_column: str | None = option("quality_score", help="Keep the highest-scoring document of a cluster.")
    cluster: Literal["components", "star"] = option(
        "components",
        help="components: remove every member of a connected component of verified pairs but the kept "
        "one (a chain A~B~C removes C though C is far from A); star: remove a member only if its own "
        "Jaccard with the kept document reaches the threshold, and cluster the others again among "
        "themselves (needs verify).",
    )
    giant_cluster: int = option(1000, help="Warn about clusters with at least this many documents.", min=2)
    incremental: bool = option(
        True,
        help="Also remove near copies of documents that earlier runs of the lineage published (their "
        "signatures are kept in WORKSPACE/state/); false: each run is deduplicated alone.",
    )
    memory_limit: str = option("4GB", help="DuckDB memory limit (spills to disk beyond).")

    def __post_init__(self):
        db.check_memory_limit(self.memory_limit)
        if (self.bands is None) != (self.rows is None):
            raise ValueError(
                "give both bands and rows, or neither (then they are derived from the threshold)."
            )
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}; "
                "raise num_perm or lower bands/rows."
            )
        if self.cluster == "star" and not self.verify:
            raise ValueError(
                "cluster: star checks each member against its cluster's kept document by exact Jaccard; "
                "set verify: true, or use cluster: components."
            )
        if self.hash == "sha1" and self.shingle_unit == "char":
            raise ValueError(
                "hash sha1 supports word shingles only; use hash: poly64 for character shingles."
            )

    @property
    def spec(self) -> ShingleSpec:
        return ShingleSpec(
            self.ngram, self.shingle_unit, self.lowercase, self.unicode_form, self.strip_punctuation
        )

    def bands_rows(self) -> tuple[int, int]:
        if self.bands is not None:
            return self.bands, self.rows
        fp = self.fp_weight if self.fp_weight is not None else (0.05 if self.verify else 0.5)
        return _optimal(self.threshold, self.num_perm, fp)

    def index_settings(self) -> dict:
        b, r = self.bands_rows()
        return {
            "num_perm": self.num_perm,
            "seed": self.seed,
            "spec": repr(self.spec),
            "hash": self.hash,
            "bands": b,
            "rows": r,
        }


@lru_cache(maxsize=16)
def _optimal(threshold: float, num_perm: int, fp_weight: float) -> tuple[int, int]:
    return lsh.optimal_bands_rows(threshold, num_perm, fp_weight, 1.0 - fp_weight)


def _fixed_binary(values: np.ndarray) -> pa.Array:
    n, width = values.shape
    data = np.ascontiguousarray(values, dtype=np.uint32)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * width), n, [None, pa.py_buffer(data.tobytes())])


def signature_shard(args: tuple) -> dict:
    """Engine task: signatures and band keys of one shard."""
    shard_path, shard_idx, sig_out, bands_out, hasher, (b, r), score, batch_rows = args
    t0 = time.perf_counter()
    sig_w = bands_w = None
    docs = empty = chars = 0
    rss, me = 0.0, psutil.Process()  # rss: the largest resident size at the end of a batch, MiB
    for first, t in iter_shard(shard_path, ["id", "text"] + ([score] if score else []), batch_rows):
        texts = t.column("text").to_pylist()
        sig = hasher.signatures(texts)
        n = len(texts)
        doc = (np.int64(shard_idx) << np.int64(SHARD_BITS)) + np.arange(first, first + n, dtype=np.int64)
        scores = t.column(score).cast(pa.float64()) if score else pa.nulls(n, pa.float64())
        sig_table = pa.table(
            {
                "doc": doc,
                "id": t.column("id"),
                "n_shingles": sig.n_shingles,
                "score": scores,
                "signature": _fixed_binary(sig.values),
            }
        )
        has = sig.n_shingles > 0
        keys = lsh.band_keys(sig.values[has], b, r)
        bands_table = pa.table(
            {
                "band": np.tile(np.arange(b, dtype=np.int16), int(has.sum())),
                "key": keys.reshape(-1),
                "doc": np.repeat(doc[has], b),
            }
        )
        if sig_w is None:  # scratch files of hashes: no dictionary, no codec (neither would pay)
            scratch = dict(compression="none", use_dictionary=False)
            sig_w = pq.ParquetWriter(sig_out, sig_table.schema, **scratch)
            bands_w = pq.ParquetWriter(bands_out, bands_table.schema, **scratch)
        sig_w.write_table(sig_table)
        bands_w.write_table(bands_table)
        docs += n
        empty += int((~has).sum())
        chars += sum(len(x) for x in texts)
        rss = max(rss, me.memory_info().rss / 2**20)
    for w in (sig_w, bands_w):
        if w is not None:
            w.close()
    return {
        "docs": docs,
        "empty": empty,
        "chars": chars,
        "seconds": time.perf_counter() - t0,
        "written": sig_w is not None,
        "rss_mb": rss,
    }


def shingle_sets_shard(args: tuple) -> dict:
    """Engine task: the 64-bit shingle sets of the given rows of one shard, as (doc, h) rows."""
    shard_path, shard_idx, rows, out, p, batch_rows = args
    wanted = np.asarray(sorted(rows), dtype=np.int64)
    docs, sets = [], []
    for first, t in iter_shard(shard_path, ["text"], batch_rows):
        lo, hi = np.searchsorted(wanted, [first, first + t.num_rows])
        if lo == hi:
            continue
        local = wanted[lo:hi] - first
        texts = t.column("text").take(pa.array(local)).to_pylist()
        docs.append((np.int64(shard_idx) << np.int64(SHARD_BITS)) + wanted[lo:hi])
        sets.append(unique_per_document(*shingle_hashes(texts, p.spec)))
    write_shingle_rows(out, docs, sets)
    return {"docs": int(sum(len(d) for d in docs))}


def unique_per_document(hashes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each document's distinct hashes, sorted, with new offsets: two sorts for the whole batch (by hash,
    then a stable sort by document, a radix sort while the batch has fewer than 32,768 documents)."""
    n_docs = len(offsets) - 1
    owner = np.repeat(np.arange(n_docs, dtype=np.int16 if n_docs < 2**15 else np.int64), np.diff(offsets))
    by_hash = np.argsort(hashes)
    order = by_hash[np.argsort(owner[by_hash], kind="stable")]
    h, o = hashes[order], owner[order]
    keep = np.ones(len(h), dtype=bool)
    keep[1:] = (h[1:] != h[:-1]) | (o[1:] != o[:-1])
    new_offsets = np.zeros(len(offsets), dtype=np.int64)
    np.cumsum(np.bincount(o[keep], minlength=n_docs), out=new_offsets[1:])
    return h[keep], new_offsets


def write_shingle_rows(out: str, docs: list[np.ndarray], hashes: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Shingle sets as Parquet rows (doc, h), from batches of (ordinals) and (hashes, offsets).

    Long rows let DuckDB intersect the sets with a hash join. A scratch file: no dictionary, no codec."""
    doc_cols, h_cols = [], []
    for ordinals, (h, off) in zip(docs, hashes):
        doc_cols.append(np.repeat(ordinals, np.diff(off)))
        h_cols.append(h)
    doc = np.concatenate(doc_cols) if doc_cols else np.empty(0, dtype=np.int64)
    h = np.concatenate(h_cols) if h_cols else np.empty(0, dtype=np.uint64)
    table = pa.table({"doc": pa.array(doc, pa.int64()), "h": pa.array(h, pa.uint64())})
    pq.write_table(table, out, compression="none", use_dictionary=False)


@register
class MinHashDedup(Stage):
    """Remove near duplicates found with MinHash LSH, verified by exact Jaccard, clustered globally."""

    name = "minhash_dedup"
    kind = "global"
    Params = NearParams
    reads = ("id", "text")
    summary = (
        "Near-duplicate removal: MinHash LSH, exact-Jaccard verification, connected components (or stars "
        "around the kept documents)."
    )
    worker_memory = 60 << 20  # powers of B and a 1M-character chunk's prefix sums (shingles.py), measured

    def adds(self) -> dict[str, pa.DataType]:
        return {"dup_cluster_id": pa.string(), "dup_cluster_size": pa.int64(), "duplicate_of": pa.string()}

    def fill_undecided(self, table: pa.Table, undecided: pa.BooleanArray) -> pa.Table:
        """A document in no cluster is its own cluster of one."""
        cluster = pc.if_else(undecided, table.column("id"), table.column("dup_cluster_id"))
        size = pc.if_else(undecided, pa.scalar(1, pa.int64()), table.column("dup_cluster_size"))
        return with_column(with_column(table, "dup_cluster_id", cluster), "dup_cluster_size", size)

    def _index_dir(self, state_dir: Path) -> Path:
        return state_dir / f"index-{settings_key(self.params.index_settings())}"

    # --- plan ------------------------------------------------------------------------------------------
    def plan(self, ctx: GlobalContext) -> dict[str, str]:
        p = self.params
        if not ctx.shards:
            return {}
        b, r = p.bands_rows()
        ctx.log(f"curate: minhash_dedup: {lsh.describe(b, r)}; verify {'on' if p.verify else 'off'}")
        timings: dict[str, float] = {}
        score = score_column_of(ctx.shards, p.score_column)

        t = time.monotonic()
        sig = self._signatures(ctx, score)
        timings["signatures"] = time.monotonic() - t

        con = db.scratch(ctx.workdir, p.memory_limit)
        # Views take no parameters: the files go in as quoted literals.
        sig_files = db.read_parquet(db.sql_list(db.parquet_files(ctx.workdir / "sig")))
        band_files = db.read_parquet(db.sql_list(db.parquet_files(ctx.workdir / "bands")))
        con.execute(
            "CREATE VIEW sig AS SELECT doc, id, n_shingles, score, false AS is_old, signature "
            f"FROM {sig_files}"
        )
        con.execute(f"CREATE VIEW new_bands AS SELECT band, key, doc FROM {band_files}")
        old_runs = self._attach_index(con, ctx) if p.incremental else []

        t = time.monotonic()
        n_pairs = self._candidates(con, bool(old_runs))
        timings["candidates"] = time.monotonic() - t

        t = time.monotonic()
        verified, fallback = self._verify(con, ctx, old_runs) if p.verify else self._accept_all(con)
        timings["verify"] = time.monotonic() - t

        t = time.monotonic()
        rounds = connected_components(con, "edges", "cc")
        star = self._stars(con, score) if p.cluster == "star" else {}
        timings["components"] = time.monotonic() - t

        t = time.monotonic()
        folder, stats = self._decide(con, ctx, score, "star" if star else "cc")
        timings["decisions"] = time.monotonic() - t
        con.close()

        ctx.metrics.update(
            {
                "docs": sig["docs"],
                "docs_without_shingles": sig["empty"],
                "signature_worker_rss_mb": round(sig["rss_mb"], 1),  # peak over batches and workers
                "million_chars": round(sig["chars"] / 1e6, 3),
                "lsh_bands": b,
                "lsh_rows": r,
                "lsh_half_point": round(lsh.half_point(b, r), 4),
                "s_curve": [[s, round(pr, 4)] for s, pr in lsh.s_curve(b, r)],
                "candidate_pairs": n_pairs,
                "verified_pairs": verified,
                "pairs_verified_by_signature": fallback,
                "component_rounds": rounds,
                "cluster_mode": p.cluster,
                **star,
                "earlier_runs_indexed": len(old_runs),
                **stats,
                "seconds": {k: round(v, 3) for k, v in timings.items()},
            }
        )
        ctx.log(
            f"curate: minhash_dedup: {sig['docs']:,} docs, {n_pairs:,} candidate pairs, {verified:,} "
            f"verified, {stats['clusters']:,} clusters (largest {stats['largest_cluster']}), "
            f"{stats['removed']:,} near duplicates removed; seconds "
            + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
        )
        return decisions_by_shard(folder, ctx.shards)

    def _signatures(self, ctx: GlobalContext, score: str | None) -> dict:
        for sub in ("sig", "bands"):
            (ctx.workdir / sub).mkdir(parents=True, exist_ok=True)
        p = self.params
        hasher = MinHasher(p.num_perm, p.seed, p.spec, p.hash)  # built once, here; the tasks carry it
        tasks = [
            (
                s,
                i,
                str(ctx.workdir / "sig" / f"{i:05d}.parquet"),
                str(ctx.workdir / "bands" / f"{i:05d}.parquet"),
                hasher,
                self.params.bands_rows(),
                score,
                ctx.batch_rows,
            )
            for i, s in enumerate(ctx.shards)
        ]
        totals = {"docs": 0, "empty": 0, "chars": 0, "rss_mb": 0.0}
        for _, res in ctx.engine.map(
            signature_shard,
            tasks,
            label="minhash_dedup: signatures",
            weight=lambda tk: os.path.getsize(tk[0]),
            docs=lambda res: res["docs"],
        ):
            for k in ("docs", "empty", "chars"):
                totals[k] += res[k]
            totals["rss_mb"] = max(totals["rss_mb"], res["rss_mb"])
        return totals

    def _attach_index(self, con, ctx: GlobalContext) -> list[str]:
        """Register the index of earlier runs (of this lineage) as `old_docs` and `old_bands` (ordinals
        from OLD_BASE up). A document read again under its published id is compared with its published
        self, like any other: the keeper rule prefers the published copy."""
        index = self._index_dir(ctx.state_dir)
        runs = (
            sorted(
                d.name for d in index.glob("*") if (d / "docs.parquet").is_file() and ctx.is_published(d.name)
            )
            if index.is_dir()
            else []
        )
        if not runs:
            return []
        docs_union, bands_union = [], []
        for k, run_id in enumerate(runs):
            base = OLD_BASE + (k << SHARD_BITS)
            docs_union.append(
                f"SELECT {base} + idx AS doc, id, n_shingles, NULL::DOUBLE AS score, true AS is_old, "
                f"signature, {db.literal(run_id)} AS run_id "
                f"FROM {db.read_parquet(db.sql_list([index / run_id / 'docs.parquet']))}"
            )
            bands_union.append(
                f"SELECT band, key, {base} + idx AS doc "
                f"FROM {db.read_parquet(db.sql_list([index / run_id / 'bands.parquet']))}"
            )
        con.execute(f"CREATE TABLE old_docs AS SELECT * FROM ({' UNION ALL '.join(docs_union)})")
        con.execute(
            f"CREATE VIEW old_bands AS SELECT o.* FROM ({' UNION ALL '.join(bands_union)}) o "
            "SEMI JOIN old_docs d ON d.doc = o.doc"
        )
        ctx.log(
            f"curate: minhash_dedup: deduplicating against {_count(con, 'old_docs'):,}"
            f" documents published by {len(runs)} earlier runs"
        )
        return runs

    def _candidates(self, con, incremental: bool) -> int:
        p = self.params
        bands = "SELECT * FROM new_bands" + (" UNION ALL SELECT * FROM old_bands" if incremental else "")
        con.execute(f"CREATE TABLE all_bands AS {bands}")
        # Most keys are shared by no other document: find the shared ones first, then list only their docs.
        con.execute(
            "CREATE TABLE shared AS SELECT band, key FROM all_bands GROUP BY band, key HAVING count(*) > 1"
        )
        con.execute("""
            CREATE TABLE buckets AS
            SELECT row_number() OVER () AS bucket, docs, len(docs) AS k FROM (
                SELECT list(b.doc ORDER BY b.doc) AS docs
                FROM all_bands b SEMI JOIN shared s USING (band, key)
                GROUP BY b.band, b.key)""")
        if incremental:  # buckets of old documents only were settled by earlier runs
            con.execute(f"DELETE FROM buckets WHERE docs[1] >= {OLD_BASE}")
        con.execute("""
            CREATE TABLE members AS
            SELECT bucket, k, unnest(docs) AS doc, unnest(generate_series(1, k)) AS pos FROM buckets""")
        con.execute(
            f"""
            CREATE TABLE pairs AS SELECT DISTINCT a, b FROM (
                SELECT m1.doc AS a, m2.doc AS b FROM members m1 JOIN members m2
                    ON m1.bucket = m2.bucket AND m1.pos < m2.pos WHERE m1.k <= $max_pairs
                UNION ALL
                SELECT m1.doc, m2.doc FROM members m1 JOIN members m2
                    ON m1.bucket = m2.bucket AND m1.pos = 1 AND m2.pos > 1 WHERE m1.k > $max_pairs
                UNION ALL
                SELECT m1.doc, m2.doc FROM members m1 JOIN members m2
                    ON m1.bucket = m2.bucket AND m2.pos = m1.pos + 1
                    WHERE m1.k > $max_pairs AND m1.pos > 1)
            WHERE a < {OLD_BASE}""",
            {"max_pairs": int(p.max_bucket_pairs)},
        )
        return con.execute("SELECT count(*) FROM pairs").fetchone()[0]

    def _accept_all(self, con) -> tuple[int, int]:
        con.execute("CREATE TABLE edges AS SELECT a, b FROM pairs")
        return con.execute("SELECT count(*) FROM edges").fetchone()[0], 0

    def _verify(self, con, ctx: GlobalContext, old_runs: list[str]) -> tuple[int, int]:
        """Keep the candidate pairs whose exact Jaccard reaches the threshold: `edges(a, b, jaccard)`."""
        p = self.params
        con.execute("CREATE TABLE edges (a BIGINT, b BIGINT, jaccard DOUBLE)")
        if not con.execute("SELECT count(*) FROM pairs").fetchone()[0]:
            return 0, 0
        folder = ctx.workdir / "shingles"
        folder.mkdir(parents=True, exist_ok=True)
        needed = con.execute(f"""
            SELECT (doc >> {SHARD_BITS})::BIGINT AS shard,
                   list((doc & {(1 << SHARD_BITS) - 1})::BIGINT) AS rows
            FROM (SELECT a AS doc FROM pairs UNION SELECT b FROM pairs)
            WHERE doc < {OLD_BASE} GROUP BY shard""").fetchall()
        tasks = [
            (ctx.shards[shard], shard, rows, str(folder / f"{shard:05d}.parquet"), p, ctx.batch_rows)
            for shard, rows in needed
        ]
        list(ctx.engine.map(shingle_sets_shard, tasks, label="minhash_dedup: verify"))
        fallback = self._old_shingle_sets(con, ctx, folder) if old_runs else 0
        con.execute(
            f"CREATE TABLE sets AS SELECT doc, h FROM {db.read_parquet('?')}",
            [db.exact_paths(db.parquet_files(folder))],
        )
        con.execute("CREATE TABLE sizes AS SELECT doc, count(*) AS n FROM sets GROUP BY doc")
        self._insert_near(con, "pairs", "edges")
        if fallback:
            self._signature_edges(con, "pairs", "edges")
        return con.execute("SELECT count(*) FROM edges").fetchone()[0], fallback

    def _insert_near(self, con, pairs: str, out: str) -> None:
        """Insert into `out(a, b, jaccard)` the pairs of `pairs(a, b)` whose exact Jaccard of shingle sets
        (tables `sets`, `sizes`) reaches the threshold: the one verification, for candidates and stars."""
        con.execute(
            f"""
            INSERT INTO {out} SELECT a, b, inter / (na + nb - inter) FROM (
                SELECT i.a, i.b, i.inter, sa.n AS na, sb.n AS nb FROM (
                    SELECT p.a, p.b, count(*) AS inter
                    FROM {pairs} p JOIN sets ea ON ea.doc = p.a JOIN sets eb ON eb.doc = p.b AND eb.h = ea.h
                    GROUP BY p.a, p.b) i
                JOIN sizes sa ON sa.doc = i.a JOIN sizes sb ON sb.doc = i.b)
            WHERE inter >= ?::DECIMAL(18, 9) * (na + nb - inter)""",  # exact, as the literal 0.8 was
            [float(self.params.threshold)],
        )

    def _stars(self, con, score: str | None) -> dict:
        """`cluster: star`: split the components `cc` into stars around kept documents (table `star`);
        the numbers for the metrics, with how many documents components would have removed."""
        old = "UNION ALL SELECT doc, id, score, is_old FROM old_docs" if _has_table(con, "old_docs") else ""
        con.execute(f"CREATE TABLE star_docs AS SELECT doc, id, score, is_old FROM sig {old}")

        def near(pairs: str, out: str) -> None:
            self._near_to_keeper(con, pairs, out)

        found = star_clusters(con, "cc", "edges", "star_docs", keeper_order(score), near, "star")
        by_components = con.execute(f"""
            SELECT count(*) FILTER (WHERE NOT is_old AND {_REMOVED}) FROM (
                SELECT d.id, d.is_old,
                       first(d.id ORDER BY {keeper_order(score)}) OVER (PARTITION BY c.root) AS keeper,
                       first(d.is_old ORDER BY {keeper_order(score)}) OVER (PARTITION BY c.root) AS keeper_old
                FROM cc c JOIN star_docs d ON d.doc = c.node)""").fetchone()[0]
        by_star = con.execute("""
            SELECT count(*) FROM star s JOIN star_docs d ON d.doc = s.node
            JOIN star_docs k ON k.doc = s.root
            WHERE NOT d.is_old AND (d.id <> k.id OR k.is_old)""").fetchone()[0]
        return {
            "star_rounds": found["rounds"],
            "star_left_unverified": found["left_unverified"],
            "removed_by_components": by_components,
            "kept_by_star": by_components - by_star,  # members components would remove, not near a keeper
        }

    def _near_to_keeper(self, con, pairs: str, out: str) -> None:
        """`out(a, b)`: the (member, keeper) pairs of `pairs` that are near: a verified edge already, or
        an exact Jaccard that reaches the threshold (the estimate from signatures for an earlier run's
        document whose text is gone, as in verification)."""
        con.execute(f"""
            CREATE OR REPLACE TABLE {out} AS SELECT p.a, p.b FROM {pairs} p
            SEMI JOIN edges e ON e.a = least(p.a, p.b) AND e.b = greatest(p.a, p.b)""")
        con.execute(
            f"CREATE OR REPLACE TABLE _st_unknown AS SELECT a, b FROM {pairs} ANTI JOIN {out} USING (a)"
        )
        con.execute("CREATE OR REPLACE TABLE _st_scored (a BIGINT, b BIGINT, jaccard DOUBLE)")
        self._insert_near(con, "_st_unknown", "_st_scored")
        if _has_table(con, "old_without_text"):
            self._signature_edges(con, "_st_unknown", "_st_scored")
        con.execute(f"INSERT INTO {out} SELECT a, b FROM _st_scored")
        con.execute("DROP TABLE _st_unknown; DROP TABLE _st_scored")

    def _old_shingle_sets(self, con, ctx: GlobalContext, folder: Path) -> int:
        """Shingle sets of earlier runs' documents in candidate pairs, from those runs' outputs.

        A document whose run output is gone cannot be re-shingled; its pairs are judged by the Jaccard
        estimated from the signatures instead (counted in `pairs_verified_by_signature`).
        """
        wanted = con.execute(f"""
            SELECT o.run_id, list(o.doc), list(o.id) FROM old_docs o
            WHERE o.doc IN (SELECT b FROM pairs WHERE b >= {OLD_BASE}) GROUP BY o.run_id""").fetchall()
        docs, sets, missing = [], [], []
        for run_id, ords, ids in wanted:
            output = ctx.workspace / "runs" / run_id / "output"
            files = sorted(output.glob("*.parquet"))
            found = {}
            if files:
                rows = con.execute(
                    f"SELECT id, text FROM {db.read_parquet('?')} WHERE id IN (SELECT unnest(?::VARCHAR[]))",
                    [db.exact_paths(files), ids],
                ).fetchall()
                found = dict(rows)
            texts = [found.get(i) for i in ids]
            have = [k for k, x in enumerate(texts) if x is not None]
            h, offsets = shingle_hashes([texts[k] for k in have], self.params.spec)
            docs.append(np.array([ords[k] for k in have], dtype=np.int64))
            sets.append(unique_per_document(h, offsets))
            missing += [ords[k] for k, x in enumerate(texts) if x is None]
        write_shingle_rows(str(folder / "old.parquet"), docs, sets)
        con.execute("CREATE TABLE old_without_text(doc BIGINT)")
        if missing:
            con.executemany("INSERT INTO old_without_text VALUES (?)", [[m] for m in missing])
        return con.execute(
            "SELECT count(*) FROM pairs WHERE b IN (SELECT doc FROM old_without_text)"
        ).fetchone()[0]

    def _signature_edges(self, con, pairs: str, out: str) -> None:
        """Pairs of `pairs` with an earlier document whose text is gone: judged by the Jaccard estimated
        from the signatures, inserted into `out(a, b, jaccard)` when it reaches the threshold."""
        rows = con.execute(f"""
            WITH signatures AS (SELECT doc, signature FROM sig UNION ALL SELECT doc, signature FROM old_docs)
            SELECT p.a, p.b, sa.signature, sb.signature FROM {pairs} p
            JOIN signatures sa ON sa.doc = p.a JOIN signatures sb ON sb.doc = p.b
            WHERE p.a IN (SELECT doc FROM old_without_text)
               OR p.b IN (SELECT doc FROM old_without_text)""").fetchall()
        keep = []
        for a, b, sa, sb in rows:
            est = float(np.mean(np.frombuffer(sa, np.uint32) == np.frombuffer(sb, np.uint32)))
            if est >= self.params.threshold:
                keep.append([a, b, est])
        if keep:
            con.executemany(f"INSERT INTO {out} VALUES (?, ?, ?)", keep)

    def _decide(self, con, ctx: GlobalContext, score: str | None, groups: str) -> tuple[Path, dict]:
        """Keep one document per group of `groups(node, root)` (components or stars), remove the rest."""
        p = self.params
        old = "UNION ALL SELECT doc, id, score, is_old FROM old_docs" if _has_table(con, "old_docs") else ""
        con.execute(f"""
            CREATE TABLE clusters AS
            SELECT c.node AS doc, d.id, d.is_old,
                   first(d.id ORDER BY {keeper_order(score)}) OVER (PARTITION BY c.root) AS keeper,
                   first(d.is_old ORDER BY {keeper_order(score)}) OVER (PARTITION BY c.root) AS keeper_old,
                   count(*) OVER (PARTITION BY c.root) AS size
            FROM {groups} c JOIN (SELECT doc, id, score, is_old FROM sig {old}) d ON d.doc = c.node""")
        folder = ctx.workdir / "decisions"
        con.execute(
            f"""
            COPY (SELECT id, (doc >> {SHARD_BITS})::INTEGER AS shard,
                         CASE WHEN {_REMOVED} THEN 'near_duplicate' END AS reason,
                         CASE WHEN {_REMOVED} THEN 'near duplicate of ' || keeper END AS detail,
                         keeper AS dup_cluster_id, size AS dup_cluster_size,
                         CASE WHEN {_REMOVED} THEN keeper END AS duplicate_of
                  FROM clusters WHERE NOT is_old)
            TO ? (FORMAT PARQUET, PARTITION_BY (shard), OVERWRITE_OR_IGNORE)""",
            [str(folder)],
        )
        clusters, in_clusters, removed, largest = con.execute(f"""
            SELECT count(DISTINCT keeper), count(*) FILTER (WHERE NOT is_old),
                   count(*) FILTER (WHERE NOT is_old AND {_REMOVED}), coalesce(max(size), 0)
            FROM clusters""").fetchone()
        giants = con.execute(
            """
            SELECT keeper, max(size), list(id ORDER BY id)[1:3] FROM clusters GROUP BY keeper
            HAVING max(size) >= ? ORDER BY max(size) DESC LIMIT 10""",
            [int(p.giant_cluster)],
        ).fetchall()
        for keeper, size, sample in giants:
            ctx.log(
                f"curate: WARNING: minhash_dedup: a cluster of {size:,} documents (kept: {keeper!r}) is "
                "likely "
                f"a template over-merge; sample: {self._snippets(con, ctx, sample)}"
            )
        return folder, {
            "clusters": clusters,
            "docs_in_clusters": in_clusters,
            "removed": removed,
            "largest_cluster": largest,
            "giant_clusters": [[k, s] for k, s, _ in giants],
        }

    @staticmethod
    def _snippets(con, ctx: GlobalContext, ids: list[str]) -> str:
        rows = con.execute(
            f"SELECT id, text FROM {db.read_parquet('?')} WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [db.exact_paths(ctx.shards), ids],
        ).fetchall()
        return "; ".join(f"{i!r}: {t[:60]!r}" for i, t in rows)

    # --- after the run -------------------------------------------------------------------------------
    def commit(self, run: FinishedRun) -> None:
        """Index the signatures and band keys of the documents this run published (incremental dedup)."""
        if not self.params.incremental or not run.output_shards:
            return
        index = self._index_dir(run.state_dir)
        target = index / run.run_id
        tmp = index / f".{run.run_id}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        con = db.scratch(run.workdir / "commit", self.params.memory_limit)
        con.execute(
            f"""
            CREATE TABLE published AS
            SELECT row_number() OVER (ORDER BY s.doc) - 1 AS idx, s.doc, s.id, s.n_shingles, s.signature
            FROM {db.read_parquet("$sig")} s SEMI JOIN {db.read_parquet("$outputs")} o ON o.id = s.id""",
            {
                "sig": db.exact_paths(db.parquet_files(run.workdir / "sig")),
                "outputs": db.exact_paths(run.output_shards),
            },
        )
        con.execute(
            "COPY (SELECT idx, id, n_shingles, signature FROM published) TO ? (FORMAT PARQUET)",
            [str(tmp / "docs.parquet")],
        )
        con.execute(
            f"""
            COPY (SELECT b.band, b.key, p.idx FROM {db.read_parquet("?")} b
                  JOIN published p ON p.doc = b.doc) TO ? (FORMAT PARQUET)""",
            [db.exact_paths(db.parquet_files(run.workdir / "bands")), str(tmp / "bands.parquet")],
        )
        count = con.execute("SELECT count(*) FROM published").fetchone()[0]
        con.close()
        if target.exists():  # committed before a kill that came before the run finished: redo it whole
            shutil.rmtree(target)
        os.replace(tmp, target)
        run.log(f"curate: minhash_dedup: indexed {count:,} published documents for later runs")


# A new document is removed unless it is its cluster's keeper; a keeper from an earlier run can share its
# id (the same document read again), so the id alone does not say which one was kept.
_REMOVED = "(id <> keeper OR keeper_old)"


def _count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _has_table(con, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()[0]
    )
