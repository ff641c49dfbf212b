"""Star clusters: a near duplicate is removed only when it is near the document its cluster keeps.

Connected components chain: A~B and B~C put A, B and C in one cluster even when C is far from A, and a
template (pages that each differ a little from the next) can chain a whole source into one cluster whose
kept document most members do not resemble. In star mode, each component keeps the document it keeps in
component mode (the keeper rule of `common.keeper_order`), and a member is removed only when its own
verified similarity with that keeper reaches the threshold (`near_pairs`: the same exact-Jaccard check the
candidate pairs pass). The members that are not near their keeper are clustered again among themselves:
connected components of the verified edges between them, each with its keeper, and so on, until every
document is a keeper or is near its keeper. A round removes at least one document per component, and
every component shrinks by its keeper, so the rounds end; a long chain needs about a third of its length
in rounds, so after `max_rounds` the members left are kept (never removed unverified).

Everything runs in DuckDB over tables that can spill to disk, like the components themselves.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from curate.dedup.components import connected_components

MAX_ROUNDS = 1000


def star_clusters(
    con: duckdb.DuckDBPyConnection,
    components: str,
    edges: str,
    docs: str,
    order: str,
    near_pairs: Callable[[str, str], None],
    out: str,
    max_rounds: int = MAX_ROUNDS,
) -> dict[str, int]:
    """Write `out(node, root)`: every node of `components(node, root)` with the keeper it is near (itself
    for a keeper). `docs` holds `doc` and the columns `order` (an ORDER BY) sorts by; `near_pairs(pairs,
    result)` writes to table `result(a, b)` the pairs of `pairs(a, b)` (a member, its keeper) that are near.

    Returns {"rounds", "left_unverified"} (members kept because `max_rounds` was reached)."""
    con.execute(f"CREATE OR REPLACE TABLE {out} (node BIGINT, root BIGINT)")
    con.execute(f"CREATE OR REPLACE TABLE _st_cc AS SELECT node, root FROM {components}")
    rounds = unverified = 0
    while _count(con, "_st_cc"):
        rounds += 1
        con.execute(f"""
            CREATE OR REPLACE TABLE _st_keeper AS
            SELECT c.node, first(c.node ORDER BY {order}) OVER (PARTITION BY c.root) AS keeper
            FROM _st_cc c JOIN {docs} d ON d.doc = c.node""")
        con.execute(
            "CREATE OR REPLACE TABLE _st_pairs AS SELECT node AS a, keeper AS b FROM _st_keeper "
            "WHERE node <> keeper"
        )
        near_pairs("_st_pairs", "_st_near")
        con.execute(f"INSERT INTO {out} SELECT DISTINCT keeper, keeper FROM _st_keeper")
        con.execute(f"INSERT INTO {out} SELECT a, b FROM _st_near")
        con.execute(
            "CREATE OR REPLACE TABLE _st_rest AS SELECT a AS node FROM _st_pairs ANTI JOIN _st_near USING (a)"
        )
        if rounds >= max_rounds:  # what is left is kept, each document a cluster of its own
            unverified = _count(con, "_st_rest")
            con.execute(f"INSERT INTO {out} SELECT node, node FROM _st_rest")
            break
        con.execute(f"""
            CREATE OR REPLACE TABLE _st_edges AS SELECT e.a, e.b FROM {edges} e
            WHERE e.a IN (SELECT node FROM _st_rest) AND e.b IN (SELECT node FROM _st_rest)""")
        connected_components(con, "_st_edges", "_st_cc")
        # a member left with no verified edge to another member left is a cluster of its own
        con.execute(f"INSERT INTO {out} SELECT node, node FROM _st_rest ANTI JOIN _st_cc USING (node)")
    for table in ("_st_cc", "_st_keeper", "_st_pairs", "_st_near", "_st_rest", "_st_edges"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return {"rounds": rounds, "left_unverified": unverified}


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
