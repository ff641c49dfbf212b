"""Connected components of a graph held in DuckDB, out of core.

Min-label propagation with pointer jumping: every node starts with the smallest of itself and its
neighbours; each round takes the smallest label among its neighbours' labels, then jumps to the label of
its label. Labels only decrease and stay inside the component, so the loop ends with every node labelled
by the smallest node of its component, after a number of rounds that grows with the logarithm of the
component's diameter in practice. Each round is two hash joins that DuckDB can spill to disk.
"""

from __future__ import annotations

import duckdb


def connected_components(con: duckdb.DuckDBPyConnection, edges: str, out: str, max_rounds: int = 200) -> int:
    """Label the nodes of `edges(a, b)` (BIGINT) by component: writes table `out(node, root)`.

    Returns the number of rounds. Isolated nodes (in no edge) do not appear.
    """
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cc_e AS
            SELECT a, b FROM {edges} WHERE a <> b
            UNION ALL SELECT b, a FROM {edges} WHERE a <> b""")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _cc_l AS "
        "SELECT a AS node, least(a, min(b)) AS label FROM _cc_e GROUP BY a"
    )
    rounds = 0
    while True:
        rounds += 1
        if rounds > max_rounds:
            raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _cc_n AS
            SELECT l.node, least(l.label, coalesce(m.nbr, l.label)) AS label
            FROM _cc_l l LEFT JOIN (
                SELECT e.a AS node, min(l2.label) AS nbr
                FROM _cc_e e JOIN _cc_l l2 ON l2.node = e.b GROUP BY e.a
            ) m USING (node)""")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _cc_j AS
            SELECT n.node, least(n.label, coalesce(p.label, n.label)) AS label
            FROM _cc_n n LEFT JOIN _cc_n p ON p.node = n.label""")
        changed = con.execute(
            "SELECT count(*) FROM _cc_j j JOIN _cc_l l USING (node) WHERE j.label <> l.label"
        ).fetchone()[0]
        con.execute("CREATE OR REPLACE TEMP TABLE _cc_l AS SELECT * FROM _cc_j")
        if changed == 0:
            break
    con.execute(f"CREATE OR REPLACE TABLE {out} AS SELECT node, label AS root FROM _cc_l")
    for table in ("_cc_e", "_cc_l", "_cc_n", "_cc_j"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return rounds
