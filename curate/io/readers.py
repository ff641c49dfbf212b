"""Stream one input unit as batches of canonical documents plus the bad records quarantined beside them.

Every record read ends in exactly one of the two tables of a batch, so `n_input == len(docs) +
len(quarantine)` holds for every batch. A file that fails part-way (a truncated gzip, a corrupt Parquet
footer) keeps the records read before the failure and adds one `unreadable_file` record naming the file and
the offset. Memory is bounded by the batch size, not by the file size.

Ids are unique by contract, but a unit cannot see the ids of other units: each batch also logs the id,
source and offset of every record whose id came from the data (`ReadBatch.ids`), and the caller, having
grouped the logs of all units, names the repeated copies of a unit when it reads it again (`repeated`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import schema as S
from curate.io.discover import InputFile, InputUnit
from curate.io.json_values import TooDeep, dumps, json_bytes, loads
from curate.io.streams import STREAM_ERRORS, check_unchanged, open_binary


@dataclass(frozen=True)
class ReadOptions:
    text_key: str = "text"
    id_key: str | None = None  # None: ids are derived as f"{source}#{offset}"
    text_unit: str = "file"  # text format: "file" (one document per file) or "line"
    batch_rows: int = 2000  # documents per batch
    batch_bytes: int = 32 << 20  # or this many bytes of text, whichever comes first
    fallback_encoding: str | None = None  # decode with this (e.g. "cp1252") where UTF-8 fails
    # Parquet only: keep these typed columns as columns (curate's own outputs, scored data) instead of
    # folding every other column into `meta`. The docs of a batch then have DOC_SCHEMA + these fields.
    passthrough: pa.Schema | None = None

    @property
    def doc_schema(self) -> pa.Schema:
        if self.passthrough is None:
            return S.DOC_SCHEMA
        return pa.schema(list(S.DOC_SCHEMA) + [f for f in self.passthrough if f.name not in S.DOC_COLUMNS])


# The id of a record whose id came from the data (not derived from its source and offset), where it was read.
ID_LOG_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("offset", pa.int64())])


class Repeat(NamedTuple):
    """What to do with a record whose id an earlier record already has (see curate.pipeline.unique_ids)."""

    first: str  # where the id was first read, "source#offset"
    new_id: str | None  # the record's new id; None: quarantine it as duplicate_id


# (source, offset) of a repeated copy -> what to do with it
RepeatedIds = Mapping[tuple[str, int], Repeat]


@dataclass
class ReadBatch:
    docs: pa.Table  # DOC_SCHEMA
    quarantine: pa.Table  # QUARANTINE_SCHEMA
    ids: pa.Table = field(default_factory=ID_LOG_SCHEMA.empty_table)  # ID_LOG_SCHEMA, in reading order

    @property
    def n_input(self) -> int:
        return self.docs.num_rows + self.quarantine.num_rows


class _BatchBuilder:
    """Accumulates good documents and quarantined records until a batch is full."""

    def __init__(self, opts: ReadOptions, repeated: RepeatedIds | None = None):
        self.opts = opts
        self.repeated = repeated or {}
        self._reset()

    def _reset(self) -> None:
        self.tables: list[pa.Table] = []  # documents that arrived as Arrow tables (pass-through Parquet)
        self.n_table_rows = 0
        self.docs: dict[str, list] = {name: [] for name in S.DOC_COLUMNS}
        self.bad: dict[str, list] = {name: [] for name in S.QUARANTINE_SCHEMA.names}
        self.id_log: dict[str, list] = {name: [] for name in ID_LOG_SCHEMA.names}
        self.text_bytes = 0

    def good(
        self, doc_id: str, text: str, source: str, meta: str | None, offset: int | None = None, raw=None
    ) -> None:
        """A document. `offset` is given when its id came from the data: the id is logged, and a repeated
        copy is re-keyed, or quarantined with `raw` (bytes, or the record as a mapping)."""
        if offset is not None:
            log = self.id_log
            log["id"].append(doc_id)
            log["source"].append(source)
            log["offset"].append(offset)
            if self.repeated and (source, offset) in self.repeated:
                doc_id = self.settle_repeat(doc_id, source, offset, raw)
                if doc_id is None:
                    return
        d = self.docs
        d["id"].append(doc_id)
        d["text"].append(text)
        d["source"].append(source)
        d["meta"].append(meta)
        self.text_bytes += len(text)

    def log_ids(self, ids: list, source: str, offsets: list) -> None:
        log = self.id_log
        log["id"] += ids
        log["source"] += [source] * len(ids)
        log["offset"] += offsets

    def settle_repeat(self, doc_id: str, source: str, offset: int, raw) -> str | None:
        """The new id of a repeated copy, or None once it is quarantined as duplicate_id."""
        repeat = self.repeated[(source, offset)]
        if repeat.new_id is not None:
            return repeat.new_id
        raw = raw.rstrip(b"\r\n") if isinstance(raw, bytes) else json_bytes(raw)
        detail = f"id '{doc_id}' is already the id of the record at {repeat.first}"
        self.quarantine(source, offset, S.DUPLICATE_ID, detail, raw)
        return None

    def good_table(self, table: pa.Table) -> None:
        """Documents already in `opts.doc_schema` (pass-through Parquet)."""
        self.tables.append(table)
        self.n_table_rows += table.num_rows
        self.text_bytes += sum(len(t) for t in table.column("text").to_pylist())

    def quarantine(self, source: str, offset: int, reason: str, detail: str, raw: bytes | None) -> None:
        b = self.bad
        b["id"].append(f"{source}#{offset}")
        b["source"].append(source)
        b["offset"].append(offset)
        b["reason"].append(reason)
        b["detail"].append(detail[:500])
        b["raw"].append(None if raw is None else bytes(raw[: S.RAW_CAP]))
        self.text_bytes += 0 if raw is None else min(len(raw), S.RAW_CAP)

    def full(self) -> bool:
        return len(self) >= self.opts.batch_rows or self.text_bytes >= self.opts.batch_bytes

    def take(self) -> ReadBatch:
        schema = self.opts.doc_schema
        docs = pa.Table.from_pydict(self.docs, schema=S.DOC_SCHEMA)
        for f in schema:  # pass-through columns, null for documents that came row by row
            if f.name not in S.DOC_COLUMNS:
                docs = docs.append_column(f, pa.nulls(docs.num_rows, f.type))
        if self.tables:
            docs = pa.concat_tables([docs, *self.tables]) if docs.num_rows else pa.concat_tables(self.tables)
        batch = ReadBatch(
            docs,
            pa.Table.from_pydict(self.bad, schema=S.QUARANTINE_SCHEMA),
            pa.Table.from_pydict(self.id_log, schema=ID_LOG_SCHEMA),
        )
        self._reset()
        return batch

    def __len__(self) -> int:
        return len(self.docs["id"]) + len(self.bad["id"]) + self.n_table_rows


def read_unit(unit: InputUnit, opts: ReadOptions, repeated: RepeatedIds | None = None) -> Iterator[ReadBatch]:
    """Yield batches of the unit's records; the last batch may be short. Never raises on bad input.

    `repeated` names the records whose id an earlier record of the input has, and what becomes of them.
    Raises InputChanged if a file's size or modification time is not what discovery saw (checked before
    and after the file is read): the unit was planned from the old file."""
    builder = _BatchBuilder(opts, repeated)
    for f in unit.files:
        check_unchanged(f)
        if f.format == "parquet":
            records = _parquet_records(f, unit, opts, builder)
        elif f.format == "jsonl":
            records = _line_records(f, unit, opts, builder, _add_json_record)
        elif opts.text_unit == "line":
            records = _line_records(f, unit, opts, builder, _add_text_line)
        else:
            records = _text_file_record(f, builder)
        for _ in records:
            if builder.full():
                yield builder.take()
        check_unchanged(f)
    if len(builder) or not unit.files:
        yield builder.take()


# --- line formats: JSONL and line-per-document text ------------------------------------------------


_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which some editors write at the start of a file


def _line_records(f: InputFile, unit: InputUnit, opts: ReadOptions, builder: _BatchBuilder, add_record):
    """Each line whose first byte lies in [unit.start, unit.stop) is one record, keyed by its byte offset.

    `add_record(line, offset, ...)` gets the line with its line break, and without the file's UTF-8 byte
    order mark (offsets still count its bytes); blank lines are skipped. Yields whenever the batch is full
    (and once after a read error)."""
    pos = unit.start
    try:
        with open_binary(f) as stream:
            if pos > 0:
                stream.seek(pos - 1)
                stream.readline()  # finish the line the previous unit owns
                pos = stream.tell()
            stop = unit.stop
            for line in stream:
                if stop is not None and pos >= stop:
                    break
                record = line[len(_BOM) :] if pos == 0 and line.startswith(_BOM) else line
                if record and not record.isspace():
                    add_record(record, pos, f.source, opts, builder)
                    if builder.full():
                        yield
                pos += len(line)
    except STREAM_ERRORS as err:
        builder.quarantine(f.source, pos, S.UNREADABLE_FILE, f"{f.source}: {_describe(err)}", None)
        yield


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _decode(line: bytes, offset: int, source: str, builder: _BatchBuilder) -> str | None:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as err:
        fallback = builder.opts.fallback_encoding
        if fallback:
            try:
                return line.decode(fallback)
            except UnicodeDecodeError:
                pass
        builder.quarantine(source, offset, S.INVALID_UTF8, str(err), line)
        return None


def _add_json_record(line: bytes, offset: int, source: str, opts: ReadOptions, builder: _BatchBuilder):
    """One JSONL record. The common case (valid UTF-8 and JSON, an object whose text is a non-blank
    string and whose id, if asked for, is a string or an integer) takes a short path; everything else
    goes through `_add_json_record_checked`, which finds the reason a record is bad."""
    try:
        obj = orjson.loads(line)  # bytes: orjson checks the UTF-8 itself
    except orjson.JSONDecodeError:
        return _add_json_record_checked(line.rstrip(b"\r\n"), offset, source, opts, builder)
    text = obj.get(opts.text_key) if type(obj) is dict else None
    if type(text) is not str or not text or text.isspace():
        return _add_mapping_checked(obj, offset, source, opts, builder, line.rstrip(b"\r\n"))
    known = 1
    if opts.id_key is None:
        doc_id = f"{source}#{offset}"
    else:
        doc_id = obj.get(opts.id_key)
        if type(doc_id) is int:
            doc_id = str(doc_id)
        elif type(doc_id) is float:  # orjson reads an integer beyond 64 bits as a float: parse it again
            return _add_json_record_checked(line.rstrip(b"\r\n"), offset, source, opts, builder)
        elif type(doc_id) is not str or not doc_id:
            return _add_mapping_checked(obj, offset, source, opts, builder, line.rstrip(b"\r\n"))
        known = 2
    meta = None
    if len(obj) > known:
        try:
            meta = dumps({k: v for k, v in obj.items() if k != opts.text_key and k != opts.id_key})
        except TooDeep as err:
            return builder.quarantine(source, offset, S.MALFORMED_JSON, str(err), line.rstrip(b"\r\n"))
    if known == 1:
        builder.good(doc_id, text, source, meta)
    else:
        builder.good(doc_id, text, source, meta, offset, line)


def _add_json_record_checked(
    line: bytes, offset: int, source: str, opts: ReadOptions, builder: _BatchBuilder
) -> None:
    decoded = _decode(line, offset, source, builder)
    if decoded is None:
        return
    try:
        obj = loads(decoded)
        if opts.id_key and type(obj) is dict and type(obj.get(opts.id_key)) is float:
            obj = loads(decoded, exact_integers=True)
    except ValueError as err:
        builder.quarantine(source, offset, S.MALFORMED_JSON, str(err), line)
        return
    _add_mapping_checked(obj, offset, source, opts, builder, line)


def _add_mapping_checked(obj, offset: int, source: str, opts: ReadOptions, builder: _BatchBuilder, line):
    if not isinstance(obj, dict):
        builder.quarantine(
            source, offset, S.NOT_AN_OBJECT, f"a JSON {type(obj).__name__}, not an object", line
        )
        return
    _add_mapping(obj, offset, source, opts, builder, line)


def _add_mapping(obj: dict, offset: int, source: str, opts: ReadOptions, builder: _BatchBuilder, raw) -> None:
    """Validate one record given as a mapping and add it as a document or a quarantined record.

    `raw` is the record's original bytes, or None to keep the mapping itself, as JSON, if it is quarantined.
    """

    def bad(reason: str, detail: str) -> None:
        builder.quarantine(source, offset, reason, detail, raw if raw is not None else json_bytes(obj))

    text = obj.get(opts.text_key)
    if text is None:
        return bad(S.MISSING_TEXT, f"no '{opts.text_key}' field")
    if not isinstance(text, str):
        return bad(S.TEXT_NOT_STRING, f"'{opts.text_key}' is {type(text).__name__}")
    if not text.strip():
        return bad(S.EMPTY_TEXT, "text is empty or whitespace")
    if opts.id_key is not None:
        value = obj.get(opts.id_key)
        if value is None or value == "" or isinstance(value, (dict, list, float, bool)):
            return bad(S.MISSING_ID, f"no usable '{opts.id_key}' field")
    rest = {k: v for k, v in obj.items() if k != opts.text_key and k != opts.id_key}
    try:
        meta = dumps(rest) if rest else None
    except TooDeep as err:
        return bad(S.MALFORMED_JSON, str(err))
    if opts.id_key is None:
        return builder.good(f"{source}#{offset}", text, source, meta)
    builder.good(str(value), text, source, meta, offset, raw if raw is not None else obj)


def _add_text_line(line: bytes, offset: int, source: str, opts: ReadOptions, builder: _BatchBuilder):
    line = line.rstrip(b"\r\n")
    text = _decode(line, offset, source, builder)
    if text is None:
        return
    if text.strip():
        builder.good(f"{source}#{offset}", text, source, None)
    else:  # blank only in Unicode (e.g. U+3000): ASCII-blank lines are not records at all
        builder.quarantine(source, offset, S.EMPTY_TEXT, "line is whitespace", line)


# --- text: one document per file ------------------------------------------------------------------


def _text_file_record(f: InputFile, builder: _BatchBuilder):
    try:
        with open_binary(f) as stream:
            data = stream.read()
    except STREAM_ERRORS as err:
        builder.quarantine(f.source, 0, S.UNREADABLE_FILE, f"{f.source}: {_describe(err)}", None)
        yield
        return
    text = _decode(data.removeprefix(_BOM), 0, f.source, builder)
    if text is not None:
        if text.strip():
            builder.good(f.source, text, f.source, None)
        else:
            builder.quarantine(f.source, 0, S.EMPTY_TEXT, "file is empty or whitespace", data)
    yield


# --- Parquet -------------------------------------------------------------------------------------


def _parquet_records(f: InputFile, unit: InputUnit, opts: ReadOptions, builder: _BatchBuilder):
    """Rows of the unit's row groups; a row's offset is its row number in the file."""
    try:
        pf = pq.ParquetFile(f.path)
        meta = pf.metadata
        stop = meta.num_row_groups if unit.stop is None else unit.stop
        groups = list(range(unit.start, stop))
        offset = sum(meta.row_group(i).num_rows for i in range(unit.start))
    except Exception as err:  # pyarrow raises several types for a damaged file
        builder.quarantine(f.source, 0, S.UNREADABLE_FILE, f"{f.source}: {_describe(err)}", None)
        yield
        return
    names = pf.schema_arrow.names
    has_text = opts.text_key in names
    add = _add_passthrough_batch if opts.passthrough is not None else _add_parquet_batch
    try:
        for batch in pf.iter_batches(batch_size=opts.batch_rows, row_groups=groups, use_threads=False):
            batch = _plain_strings(batch, (opts.text_key, opts.id_key or "id"))
            yield from add(batch, offset, f.source, opts, builder, has_text)
            offset += batch.num_rows
    except Exception as err:
        builder.quarantine(f.source, offset, S.UNREADABLE_FILE, f"{f.source}: {_describe(err)}", None)
        yield


def _plain_strings(batch: pa.RecordBatch, names: tuple[str, ...]) -> pa.RecordBatch:
    """The batch with the named columns as plain strings where Arrow holds them otherwise: a dictionary of
    strings (how a Parquet writer stores a column with few distinct values) or a string view."""
    for name in names:
        i = batch.schema.get_field_index(name)
        if i < 0:
            continue
        t = batch.schema.field(i).type
        values = t.value_type if pa.types.is_dictionary(t) else t
        if (t == values and not pa.types.is_string_view(t)) or not _is_text_type(values):
            continue  # already plain (string, large_string), or not text at all
        column = batch.column(i).cast(pa.large_string() if pa.types.is_large_string(values) else pa.string())
        batch = batch.set_column(i, pa.field(name, column.type), column)
    return batch


def _is_text_type(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _add_parquet_batch(batch: pa.RecordBatch, first: int, source, opts, builder, has_text: bool):
    rows = batch.to_pylist()
    if not has_text:
        detail = f"no '{opts.text_key}' column (columns: {', '.join(batch.schema.names)}); set input.text_key"
        for i, row in enumerate(rows):
            builder.quarantine(source, first + i, S.MISSING_TEXT_COLUMN, detail, json_bytes(row))
            yield
        return
    text_type = batch.schema.field(opts.text_key).type
    if not _is_text_type(text_type):
        for i, row in enumerate(rows):
            builder.quarantine(
                source, first + i, S.TEXT_NOT_STRING, f"column type {text_type}", json_bytes(row)
            )
            yield
        return
    for i, row in enumerate(rows):
        _add_mapping(row, first + i, source, opts, builder, None)
        yield


def _add_passthrough_batch(batch: pa.RecordBatch, first: int, source, opts, builder, has_text: bool):
    """Column-wise: keep typed columns; only the rows that fail validation go through Python."""
    text_type = batch.schema.field(opts.text_key).type if has_text else None
    if text_type is None or not _is_text_type(text_type):
        yield from _add_parquet_batch(batch, first, source, opts, builder, has_text)  # every row is bad
        return
    table = pa.Table.from_batches([batch])
    text = table.column(opts.text_key)
    blank = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0), True)
    id_key = opts.id_key or ("id" if "id" in table.column_names else None)
    if id_key is not None:
        ids = _usable_ids(table, id_key)
        bad = pc.or_(blank, pc.fill_null(pc.equal(ids, ""), True))
    else:
        ids = pa.array([f"{source}#{first + i}" for i in range(table.num_rows)], pa.string())
        bad = blank
    for i in pc.indices_nonzero(bad).to_pylist():  # rare: validate one by one, with reasons
        _add_mapping(table.slice(i, 1).to_pylist()[0], first + i, source, opts, builder, None)
        yield
    good = table.filter(pc.invert(bad))
    ids = pc.filter(ids, pc.invert(bad))
    if id_key is not None:  # ids from the data: log them, settle repeated copies
        offsets = pc.add(pc.indices_nonzero(pc.invert(bad)), first).cast(pa.int64()).to_pylist()
        builder.log_ids(ids.to_pylist(), source, offsets)
        if builder.repeated:
            good, ids = _settle_repeats_in_table(good, ids, offsets, source, builder)
    n = good.num_rows
    defaults = {"id": ids, "text": good.column(opts.text_key), "source": pa.array([source] * n, pa.string())}
    columns = {}
    for f in opts.doc_schema:
        if f.name in defaults and (f.name != "source" or "source" not in good.column_names):
            columns[f.name] = defaults[f.name].cast(f.type)
        elif f.name in good.column_names:
            columns[f.name] = good.column(f.name).cast(f.type)
        else:
            columns[f.name] = pa.nulls(n, f.type)
    builder.good_table(pa.table(columns, schema=opts.doc_schema))
    yield


def _usable_ids(table: pa.Table, id_key: str) -> pa.ChunkedArray:
    """The id column as strings, null where a row has no usable id: every row, when the column is missing
    or of a type that is not an id (floats, booleans: the row-wise rules give them `missing_id`)."""
    t = table.schema.field(id_key).type if id_key in table.column_names else None
    if t is None or not (pa.types.is_integer(t) or _is_text_type(t)):
        return pa.chunked_array([pa.nulls(table.num_rows, pa.string())])
    return table.column(id_key).cast(pa.string())


def _settle_repeats_in_table(table: pa.Table, ids, offsets: list[int], source: str, builder: _BatchBuilder):
    """Re-key or quarantine the repeated copies among a table's rows; (rows kept, their ids)."""
    new_ids = ids.to_pylist()
    keep = [True] * table.num_rows
    for k, offset in enumerate(offsets):
        if (source, offset) in builder.repeated:
            row = table.slice(k, 1).to_pylist()[0]
            new_ids[k] = builder.settle_repeat(new_ids[k], source, offset, row)
            keep[k] = new_ids[k] is not None
    mask = pa.array(keep)
    return table.filter(mask), pa.array(new_ids, pa.string()).filter(mask)
