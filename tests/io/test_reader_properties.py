"""Property-based tests of the readers (issue 12): malformed and tricky input never crashes a read, every
record ends as a document or a quarantine record, and nothing is read twice.

Each test builds files from generated records (random bytes, truncated lines, invalid UTF-8, lone
surrogate escapes, BOMs, CRLF, odd id types, nested, missing and blank fields, empty files, truncated or
corrupt compressed streams and Parquet files) and compares what the readers return with an oracle: a
plain restatement of the record contract, using the standard library's JSON parser. The examples are
derandomized, so a run is the same on every machine; the number tried is printed at the end of the session.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate import schema as S
from curate.io.discover import discover, plan_units
from curate.io.readers import ReadOptions, read_unit
from tests.io.conftest import GENERATED

PROPERTIES = settings(
    max_examples=200,
    derandomize=True,  # the same examples on every run and machine
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")


# --- generated input --------------------------------------------------------------------------------

# Any code point, lone surrogates included (JSON can spell them as escapes).
chars = st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr))
texts = st.one_of(
    st.text(chars, max_size=30),
    st.sampled_from(["", " ", "\u3000\u2003", "\t\r\n", "\ufeff", "\x00", "ok text"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=10**40),
    st.integers(min_value=-(10**40), max_value=-(2**63)),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
ids = st.one_of(
    st.text(chars, max_size=6),
    st.integers(-3, 3),
    st.integers(min_value=10**19, max_value=10**31),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
records = st.fixed_dictionaries({}, optional={"text": st.one_of(texts, values), "id": ids, "meta": values})


@st.composite
def json_lines(draw) -> bytes:
    """One line of a JSONL file, well-formed or not (without its line break)."""
    kind = draw(
        st.sampled_from(["record", "record", "record", "cut", "bad_utf8", "bytes", "deep", "other", "blank"])
    )
    if kind == "bytes":
        return draw(st.binary(max_size=40)).replace(b"\n", b"")
    if kind == "deep":  # storable (up to 254 levels), not storable, or too deep to parse (over 1,024)
        depth = draw(st.one_of(st.integers(200, 400), st.integers(1100, 3000)))
        return b'{"text": "deep", "x": ' + b"[" * depth + b"]" * depth * draw(st.booleans()) + b"}"
    if kind == "other":
        return json.dumps(draw(values)).encode()
    if kind == "blank":
        return draw(st.sampled_from([b"", b" ", b"\t", b"\x0b"]))
    record = draw(records)
    # Escaped (ASCII), a lone surrogate is spelled "\ud800"; raw, it becomes bytes that are not UTF-8.
    line = json.dumps(record, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if kind == "cut":
        return line[: draw(st.integers(0, max(0, len(line) - 1)))]
    if kind == "bad_utf8":
        at = draw(st.integers(0, len(line)))
        return line[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"])) + line[at:]
    return line


@st.composite
def line_files(draw, lines=None) -> bytes:
    """A file of lines (JSONL by default): optional BOM, LF or CRLF, with or without a final line break."""
    lines = json_lines() if lines is None else lines
    sep = draw(st.sampled_from([b"\n", b"\r\n"]))
    body = sep.join(draw(st.lists(lines, max_size=12)))
    return (BOM if draw(st.booleans()) else b"") + body + (sep if draw(st.booleans()) else b"")


text_lines = st.one_of(
    st.text(chars, max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass").replace(b"\n", b"")),
    st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([b"", b"   ", "\u3000".encode(), b"\r"]),
)


# --- the oracle: what the record contract says a record becomes ----------------------------------


def contract_records(data: bytes):
    """(offset, line) of each record of a line file, as the readers cut it: a BOM at the start is not
    part of the first record, and blank lines are not records."""
    out, pos = [], 0
    for line in io.BytesIO(data):
        record = line[len(BOM) :] if pos == 0 and line.startswith(BOM) else line
        if record.strip(b" \t\n\r\x0b\x0c"):
            out.append((pos, record))
        pos += len(line)
    return out


def expected_json(line: bytes, offset: int, source: str, id_key: str | None):
    """('doc', id, text) or ('bad', reason) for one JSONL record."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return ("bad", S.INVALID_UTF8)
    except (ValueError, RecursionError):
        return ("bad", S.MALFORMED_JSON)
    if not isinstance(obj, dict):
        return ("bad", S.NOT_AN_OBJECT)
    obj = {_repaired(k): v for k, v in obj.items()}  # lone surrogates become U+FFFD, keys first
    text = _repaired(obj.get("text"))
    if text is None:
        return ("bad", S.MISSING_TEXT)
    if not isinstance(text, str):
        return ("bad", S.TEXT_NOT_STRING)
    if not text.strip():
        return ("bad", S.EMPTY_TEXT)
    doc_id = f"{source}#{offset}"
    if id_key is not None:
        value = obj.get(id_key)
        if not (type(value) is int or (type(value) is str and value)):
            return ("bad", S.MISSING_ID)
        doc_id = _repaired(str(value))
    if _depth({k: v for k, v in obj.items() if k not in ("text", id_key)}) > 254:
        return ("bad", S.MALFORMED_JSON)  # other fields nested too deeply to store as meta
    return ("doc", doc_id, text)


def _repaired(value):
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def _depth(value) -> int:
    """Levels of lists and mappings (a scalar is 0), counted level by level."""
    depth, level = 0, [value]
    while True:
        containers = [v for v in level if isinstance(v, (dict, list))]
        if not containers:
            return depth
        depth += 1
        level = [c for node in containers for c in (node.values() if isinstance(node, dict) else node)]


# --- reading -------------------------------------------------------------------------------------


def read(path: Path, opts: ReadOptions, partition_bytes: int = 1 << 30):
    """Read every unit of one input; (docs, quarantined) in reading order, after checking every batch."""
    files = discover([str(path)])
    docs, bad = [], []
    for unit in plan_units(files, partition_bytes, opts.text_unit):
        for batch in read_unit(unit, opts):
            assert batch.docs.schema == opts.doc_schema and batch.quarantine.schema == S.QUARANTINE_SCHEMA
            assert batch.n_input == batch.docs.num_rows + batch.quarantine.num_rows
            docs += batch.docs.to_pylist()
            bad += batch.quarantine.to_pylist()
    for d in docs:  # the contract: a document has an id and a non-blank text, both valid Unicode
        assert d["id"] and d["text"].strip() and d["source"]
        assert not _SURROGATE.search(d["text"] + d["id"])
    GENERATED["inputs"] += 1
    GENERATED["records"] += len(docs) + len(bad)
    GENERATED["quarantined"] += len(bad)
    return docs, bad


def assert_read_once(docs, bad) -> None:
    """With derived ids (source and offset), no record may appear twice, as a document or quarantined."""
    keys = [d["id"] for d in docs] + [b["id"] for b in bad]
    assert len(keys) == len(set(keys))


def in_tmp(name: str, data: bytes) -> tuple[tempfile.TemporaryDirectory, Path]:
    tmp = tempfile.TemporaryDirectory()
    path = Path(tmp.name) / name
    path.write_bytes(data)
    return tmp, path


# --- properties ------------------------------------------------------------------------------------


@PROPERTIES
@given(data=line_files(), id_key=st.sampled_from([None, "id"]), partition=st.integers(1, 300))
def test_plain_jsonl_matches_the_record_contract_in_any_partition(data, id_key, partition):
    tmp, path = in_tmp("a.jsonl", data)
    with tmp:
        opts = ReadOptions(id_key=id_key, batch_rows=5)
        docs, bad = read(path, opts, partition_bytes=partition)
    expected = [expected_json(line, off, "a.jsonl", id_key) for off, line in contract_records(data)]
    assert len(docs) + len(bad) == len(expected)  # every record, once
    assert [(d["id"], d["text"]) for d in docs] == [(e[1], e[2]) for e in expected if e[0] == "doc"]
    assert [b["reason"] for b in bad] == [e[1] for e in expected if e[0] == "bad"]
    if id_key is None:
        assert_read_once(docs, bad)


@PROPERTIES
@given(
    data=line_files(),
    codec=st.sampled_from(["gzip", "zstd"]),
    damage=st.sampled_from(["none", "truncate", "flip"]),
    where=st.floats(0, 1, exclude_max=True),
)
def test_compressed_jsonl_keeps_what_precedes_damage_and_names_the_file(data, codec, damage, where):
    packed = gzip.compress(data, mtime=0) if codec == "gzip" else zstandard.ZstdCompressor().compress(data)
    at = int(where * len(packed))
    if damage == "truncate":
        packed = packed[:at]
    elif damage == "flip":
        packed = packed[:at] + bytes([packed[at] ^ 0x5A]) + packed[at + 1 :]
    name = "a.jsonl.gz" if codec == "gzip" else "a.jsonl.zst"
    tmp, path = in_tmp(name, packed)
    with tmp:
        docs, bad = read(path, ReadOptions(batch_rows=4))
    assert_read_once(docs, bad)
    unreadable = [b for b in bad if b["reason"] == S.UNREADABLE_FILE]
    assert len(unreadable) <= 1 and (not unreadable or bad[-1] is unreadable[0])
    assert all(name in b["detail"] for b in unreadable)
    expected = [expected_json(line, off, name, None) for off, line in contract_records(data)]
    if damage == "none":
        assert not unreadable and len(docs) + len(bad) == len(expected)
    if damage != "flip":  # what was read before the damage is exactly the file's first records
        read_records = len(docs) + len(bad) - len(unreadable)
        prefix = expected[:read_records]
        assert [(d["id"], d["text"]) for d in docs] == [(e[1], e[2]) for e in prefix if e[0] == "doc"]
        if damage == "truncate" and len(packed) > 0:
            assert unreadable or read_records == len(expected)


@PROPERTIES
@given(
    data=line_files(text_lines),
    codec=st.sampled_from([None, None, "gzip", "zstd"]),
    partition=st.integers(1, 200),
    fallback=st.sampled_from([None, "cp1252"]),
)
def test_text_lines_are_one_record_per_non_blank_line(data, codec, partition, fallback):
    name = {None: "a.txt", "gzip": "a.txt.gz", "zstd": "a.txt.zst"}[codec]
    packed = {None: bytes, "gzip": gzip.compress, "zstd": zstandard.ZstdCompressor().compress}[codec](data)
    tmp, path = in_tmp(name, packed)
    with tmp:
        docs, bad = read(path, ReadOptions(text_unit="line", fallback_encoding=fallback), partition)
    expected = []
    for off, line in contract_records(data):
        text = _decode(line.rstrip(b"\r\n"), fallback)
        if text is None:
            expected.append(("bad", S.INVALID_UTF8))
        elif not text.strip():
            expected.append(("bad", S.EMPTY_TEXT))
        else:
            expected.append(("doc", f"{name}#{off}", text))
    assert [(d["id"], d["text"]) for d in docs] == [(e[1], e[2]) for e in expected if e[0] == "doc"]
    assert [b["reason"] for b in bad] == [e[1] for e in expected if e[0] == "bad"]
    assert_read_once(docs, bad)


def _decode(raw: bytes, fallback: str | None) -> str | None:
    for encoding in ["utf-8"] + ([fallback] if fallback else []):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


@PROPERTIES
@given(
    contents=st.lists(
        st.one_of(
            st.binary(max_size=30),
            text_lines,
            st.text(chars, max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
        ),
        min_size=1,
        max_size=4,
    ),
    bom=st.lists(st.booleans(), min_size=4, max_size=4),
    gz=st.booleans(),
)
def test_text_files_are_one_record_each(contents, bom, gz):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "t"
        folder.mkdir()
        expected = {}
        for i, raw in enumerate(contents):
            raw = (BOM if bom[i] else b"") + raw
            name = f"f{i}.txt" + (".gz" if gz else "")
            (folder / name).write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
            text = _decode(raw.removeprefix(BOM), None)
            expected[name] = S.INVALID_UTF8 if text is None else S.EMPTY_TEXT if not text.strip() else text
        docs, bad = read(folder, ReadOptions())
    got = {d["id"]: d["text"] for d in docs} | {b["source"]: b["reason"] for b in bad}
    assert got == expected and len(docs) + len(bad) == len(contents)


STRING_ENCODINGS = {
    "string": lambda xs: pa.array(xs, pa.string()),
    "large_string": lambda xs: pa.array(xs, pa.large_string()),
    "dictionary": lambda xs: pa.array(xs, pa.string()).dictionary_encode(),
    "string_view": lambda xs: pa.array(xs, pa.string_view()),
}
plain_texts = st.one_of(st.text(max_size=12), st.sampled_from(["", "  ", "\u3000", "ok"]), st.none())


@st.composite
def parquet_tables(draw):
    n = draw(st.integers(0, 12))
    text_kind = draw(st.sampled_from([*STRING_ENCODINGS, "int", "binary", "absent"]))
    columns = {}
    if text_kind in STRING_ENCODINGS:
        columns["text"] = STRING_ENCODINGS[text_kind](draw(st.lists(plain_texts, min_size=n, max_size=n)))
    elif text_kind == "int":
        columns["text"] = pa.array(draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), pa.int64())
    elif text_kind == "binary":
        columns["text"] = pa.array(draw(st.lists(st.binary(max_size=5), min_size=n, max_size=n)), pa.binary())
    else:
        columns["body"] = pa.array(["x"] * n)
    id_kind = draw(st.sampled_from(["none", "string", "int", "float", "dictionary"]))
    if id_kind in ("string", "dictionary"):
        values = draw(st.lists(st.one_of(st.text(max_size=4), st.none()), min_size=n, max_size=n))
        columns["id"] = STRING_ENCODINGS[id_kind](values)
    elif id_kind == "int":
        columns["id"] = pa.array(
            draw(st.lists(st.integers(-(2**63), 2**63 - 1) | st.none(), min_size=n, max_size=n)), pa.int64()
        )
    elif id_kind == "float":
        columns["id"] = pa.array(
            draw(st.lists(st.floats(allow_nan=False), min_size=n, max_size=n)), pa.float64()
        )
    if draw(st.booleans()):
        columns["meta_nested"] = pa.array(
            draw(st.lists(st.lists(st.integers(0, 9), max_size=2), min_size=n, max_size=n))
        )
    return pa.table(columns), draw(st.integers(1, 5))


@PROPERTIES
@given(
    table_and_groups=parquet_tables(),
    id_key=st.sampled_from([None, "id"]),
    keep_columns=st.booleans(),
    damage=st.sampled_from(["none", "none", "truncate"]),
    where=st.floats(0, 1, exclude_max=True),
    partition=st.integers(1, 2000),
)
def test_parquet_rows_match_the_record_contract(
    table_and_groups, id_key, keep_columns, damage, where, partition
):
    table, group_rows = table_and_groups
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=group_rows)
    data = sink.getvalue()
    if damage == "truncate":
        data = data[: int(where * len(data))]
    passthrough = pa.schema([]) if keep_columns else None
    opts = ReadOptions(id_key=id_key, passthrough=passthrough, batch_rows=3)
    tmp, path = in_tmp("t.parquet", data)
    with tmp:
        docs, bad = read(path, opts, partition_bytes=partition)
    if id_key is None and not (keep_columns and "id" in table.column_names):  # derived ids
        assert_read_once(docs, bad)
    if damage == "truncate":
        unreadable = [b for b in bad if b["reason"] == S.UNREADABLE_FILE]
        assert len(docs) + len(bad) <= table.num_rows + len(unreadable) and len(unreadable) >= 1
        return
    assert len(docs) + len(bad) == table.num_rows  # every row, once
    expected = [_expected_row(row, i, id_key, table, keep_columns) for i, row in enumerate(table.to_pylist())]
    got_docs = [(d["id"], d["text"]) for d in docs]
    want_docs = [(e[1], e[2]) for e in expected if e[0] == "doc"]
    if keep_columns:  # typed rows come as tables, after the rows validated one by one in the batch
        got_docs, want_docs = sorted(got_docs), sorted(want_docs)
    assert got_docs == want_docs
    assert [b["reason"] for b in bad] == [e[1] for e in expected if e[0] == "bad"]


def _expected_row(row: dict, i: int, id_key: str | None, table: pa.Table, keep_columns: bool):
    if "text" not in table.column_names:
        return ("bad", S.MISSING_TEXT_COLUMN)
    t = table.schema.field("text").type
    text_type = t.value_type if pa.types.is_dictionary(t) else t
    if not (
        pa.types.is_string(text_type)
        or pa.types.is_large_string(text_type)
        or pa.types.is_string_view(text_type)
    ):
        return ("bad", S.TEXT_NOT_STRING)
    text = row["text"]
    if text is None:
        return ("bad", S.MISSING_TEXT)
    if not text.strip():
        return ("bad", S.EMPTY_TEXT)
    # With typed columns kept, an `id` column gives the ids even without id_key (curate's own output).
    column = id_key or ("id" if keep_columns and "id" in table.column_names else None)
    value = row.get(column) if column else None
    if type(value) is int or (type(value) is str and value):
        return ("doc", str(value), text)
    if id_key is None:
        return ("doc", f"t.parquet#{i}", text)
    return ("bad", S.MISSING_ID)
