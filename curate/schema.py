"""The record contract: one document is one row, and its Arrow schema is defined here, once.

Every reader produces `DOC_SCHEMA` rows; stages read some of its columns and add their own; writers write
kept rows with the added columns, removed rows with a reason, and bad input as `QUARANTINE_SCHEMA` rows.
"""

from __future__ import annotations

import pyarrow as pa

# A document. `id` is stable and unique within a run: a configured key of the input, else derived from the
# source path and the record's offset (`{source}#{offset}`). `meta` holds the input's other fields as JSON.
DOC_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("meta", pa.string()),
    ]
)
DOC_COLUMNS = tuple(DOC_SCHEMA.names)

# Columns a removed document carries beside its own: why, and which stage removed it.
REMOVAL_COLUMNS = {"reason": pa.string(), "stage": pa.string(), "detail": pa.string()}

# A record that could not become a document: malformed JSON, invalid UTF-8, a missing text field, an
# unreadable file. `raw` keeps the bytes that were read (capped at RAW_CAP bytes), so nothing is lost.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("raw", pa.binary()),
    ]
)
RAW_CAP = 1 << 20  # bytes of a bad record kept in quarantine

# Quarantine reasons. Each names what was wrong with the record.
MALFORMED_JSON = "malformed_json"
NOT_AN_OBJECT = "not_an_object"
INVALID_UTF8 = "invalid_utf8"
MISSING_TEXT = "missing_text"
TEXT_NOT_STRING = "text_not_string"
EMPTY_TEXT = "empty_text"
MISSING_ID = "missing_id"
DUPLICATE_ID = "duplicate_id"
MISSING_TEXT_COLUMN = "missing_text_column"
UNREADABLE_FILE = "unreadable_file"


def with_column(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """`table` with column `name` set to `values` (replaced if it exists, appended if not)."""
    i = table.schema.get_field_index(name)
    field = pa.field(name, values.type)
    return table.set_column(i, field, values) if i >= 0 else table.append_column(field, values)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with exactly the columns of `schema`, in order and cast: missing ones become nulls."""
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)
