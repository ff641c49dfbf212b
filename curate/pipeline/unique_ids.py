"""Ids are unique by contract: find the records whose id an earlier record of the input already has.

Global stages decide by id (dedup joins its decisions onto documents by id), so two documents sharing an
id would steer each other: a unique document removed as the copy of another, or two copies never
deduplicated. A unit cannot see the ids of other units, so pass p0 logs, per unit, the id, source and
offset of every record whose id came from the data. Here DuckDB groups those logs: per id, the first
record in reading order (unit, then position: the order of the files and of their bytes) keeps the id;
every later one is a *repeated copy*. The runner then reads the units that hold copies again, telling the
reader to quarantine each copy (`duplicate_id`) or, with `input.duplicate_ids: rekey`, to give it the id
`{id}@{source}#{offset}` (quarantined all the same in the unlikely case where that id is taken too).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup import db

# The log of one unit: curate.io.readers.ID_LOG_SCHEMA plus the unit and each record's position in it.
LOG_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("offset", pa.int64()),
        ("unit", pa.string()),
        ("seq", pa.int64()),
    ]
)
# The repeated copies of one unit, as the reader takes them (see curate.io.readers.Repeat).
REPEATED_SCHEMA = pa.schema(
    [("source", pa.string()), ("offset", pa.int64()), ("first", pa.string()), ("new_id", pa.string())]
)

_COPIES_SQL = """
WITH ids AS (SELECT id, source, "offset", unit, seq FROM read_parquet($logs, hive_partitioning = false)),
repeated AS (SELECT id FROM ids GROUP BY id HAVING count(*) > 1),
ranked AS (
    SELECT i.*,
           row_number() OVER (PARTITION BY i.id ORDER BY unit, seq) AS k,
           first(source || '#' || "offset" ORDER BY unit, seq) OVER (PARTITION BY i.id) AS first
    FROM ids i SEMI JOIN repeated r ON i.id = r.id),
copies AS (
    SELECT unit, seq, source, "offset", first, id || '@' || source || '#' || "offset" AS new_id
    FROM ranked WHERE k > 1),
checked AS (
    SELECT c.*, count(*) OVER (PARTITION BY c.new_id) AS same_new_id FROM copies c
    ANTI JOIN ids i ON i.id = c.new_id)
SELECT c.unit, c.source, c."offset", c.first,
       CASE WHEN $rekey AND k.same_new_id = 1 THEN c.new_id END AS new_id
FROM copies c LEFT JOIN checked k ON k.unit = c.unit AND k.seq = c.seq
ORDER BY c.unit, c.seq
"""


def find_repeated_ids(
    logs: list[str], out_dir: Path, rekey: bool, workdir: Path
) -> dict[str, tuple[str, int]]:
    """Write the repeated copies of each unit that has some to `out_dir/UNIT.parquet` (REPEATED_SCHEMA);
    return {unit id: (that file, number of copies)}."""
    if not logs:
        return {}
    con = db.scratch(workdir)
    try:
        # exact paths: a workspace path may hold glob characters (`[`, `*`) or a `key=value` folder
        params = {"logs": db.exact_paths(logs), "rekey": rekey}
        copies = con.sql(_COPIES_SQL, params=params).to_arrow_table()
    finally:
        con.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    found = {}
    for unit in pc.unique(copies.column("unit")).to_pylist():
        rows = copies.filter(pc.equal(copies.column("unit"), unit)).select(REPEATED_SCHEMA.names)
        path = out_dir / f"{unit}.parquet"
        pq.write_table(rows.cast(REPEATED_SCHEMA), path)
        found[unit] = (str(path), rows.num_rows)
    return found


def load_repeated(path: str | None) -> dict:
    """The repeated copies of one unit as the reader takes them: {(source, offset): Repeat}."""
    from curate.io.readers import Repeat

    if path is None:
        return {}
    rows = pq.read_table(path).to_pylist()
    return {(r["source"], r["offset"]): Repeat(r["first"], r["new_id"]) for r in rows}
