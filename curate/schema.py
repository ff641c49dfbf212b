"""The record contract: one document is one row, and its Arrow schema is defined here, once.

Every reader produces `DOC_SCHEMA` rows; stages read some of its columns and add their own; writers write
kept rows with the added columns, removed rows with a reason, and bad input as `QUARANTINE_SCHEMA` rows.
"""

from __future__ import annotations

import pandas as pd
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


def empty_docs() -> pd.DataFrame:
    """An empty document frame with the canonical columns and dtypes (for Dask `meta`)."""
    return DOC_SCHEMA.empty_table().to_pandas()


def arrow_type_of(series: pd.Series) -> pa.DataType:
    """The Arrow type a pandas column maps to (strings stay strings under pandas 2 and 3)."""
    return pa.Array.from_pandas(series.iloc[:0]).type if len(series) == 0 else pa.array(series).type
