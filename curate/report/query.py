"""`curate sql`: one read-only SELECT over a run's views, printed as a table, CSV or JSON.

The query is checked to be one SELECT before it runs (`curate.sql.read_only`), and runs on the locked-down
connection of `curate.report.views`; every refusal and every DuckDB error becomes one sentence.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import uuid
from dataclasses import dataclass
from typing import Any

import duckdb

from curate.errors import UserError
from curate.report.views import RunCatalog
from curate.sql.read_only import refused_access, require_one_select

FORMATS = ("table", "csv", "json")
TABLE_ROWS = 100  # rows a table shows without --limit
CELL_CHARS = 48  # characters of a table cell (text is cut, with "...")


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    more: bool  # the query had rows beyond the limit


def run_query(catalog: RunCatalog, query: str, limit: int | None = None) -> QueryResult:
    """The first `limit` rows (all without one) of `query`, a SELECT over the run's views."""
    views = ", ".join(catalog.views)
    try:
        require_one_select(query, "curate sql", f"write a SELECT over the views ({views})")
        cursor = catalog.con.execute(query)
        rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit + 1)
    except duckdb.PermissionException as exc:
        raise UserError(
            f"curate sql reads only the run's views, so DuckDB refused {refused_access(exc)}; query the "
            f"views ({views})."
        ) from None
    except duckdb.ParserException as exc:
        raise UserError(
            f"the query does not parse ({_first_line(exc)}); write one SELECT over the views ({views})."
        ) from None
    except duckdb.Error as exc:
        raise UserError(
            f"the query failed ({_first_line(exc)}); the views are {views}, and "
            f'`curate sql --workspace {catalog.workspace.root} "DESCRIBE kept"` lists a view\'s columns.'
        ) from None
    more = limit is not None and len(rows) > limit
    return QueryResult([d[0] for d in cursor.description], rows[:limit] if more else rows, more)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__


def render(result: QueryResult, fmt: str) -> str:
    if fmt == "json":
        records = [{c: jsonable(v) for c, v in zip(result.columns, row)} for row in result.rows]
        return json.dumps(records, indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow([_csv_value(v) for v in row])
        return out.getvalue().rstrip("\n")
    return render_table(result)


def render_table(result: QueryResult) -> str:
    """Columns padded to their widest cell (at most CELL_CHARS), numbers right-aligned; then the count."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(name), *(len(row[k]) for row in cells)]) for k, name in enumerate(result.columns)]
    numeric = [
        bool(result.rows)
        and all(isinstance(row[k], (int, float, decimal.Decimal)) or row[k] is None for row in result.rows)
        for k in range(len(result.columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)
        ).rstrip()

    lines = [line(result.columns), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in cells]
    n = len(result.rows)
    if result.more:
        lines.append(f"({n:,} rows shown; there are more: raise --limit)")
    else:
        lines.append(f"({n:,} row{'s' if n != 1 else ''})")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, bytes):
        text = repr(value)
    elif isinstance(value, (dict, list)):
        text = json.dumps(jsonable(value), ensure_ascii=False)
    else:
        text = str(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 3] + "..."


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (bytes, dict, list)):
        converted = jsonable(value)
        return converted if isinstance(converted, str) else json.dumps(converted, ensure_ascii=False)
    return value


def jsonable(value: Any) -> Any:
    """A DuckDB value as JSON: bytes as text (undecodable bytes as \\x.. escapes), times in ISO 8601,
    NaN and infinities as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal,)):
        return float(value)
    if isinstance(value, (uuid.UUID, dt.timedelta)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
