"""Readers: every format into the canonical schema, and every kind of bad input quarantined, never lost."""

from __future__ import annotations

import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate import schema as S
from curate.errors import InputChanged, InputError
from curate.io.discover import discover, plan_units
from curate.io.readers import ReadOptions, Repeat, read_unit
from tests.conftest import PROSE, write_jsonl


def read_all(paths, opts=ReadOptions(), partition_bytes=64 << 20, fmt="auto"):
    """Read every unit of `paths`; return (docs, quarantine) as lists of dicts, and the input count."""
    files = discover([str(p) for p in paths], fmt)
    docs, bad, n = [], [], 0
    for unit in plan_units(files, partition_bytes, opts.text_unit):
        for batch in read_unit(unit, opts):
            assert batch.docs.schema == opts.doc_schema
            assert batch.quarantine.schema == S.QUARANTINE_SCHEMA
            docs += batch.docs.to_pylist()
            bad += batch.quarantine.to_pylist()
            n += batch.n_input
    return docs, bad, n


def test_jsonl_plain_gzip_and_zstd_read_the_same_documents(tmp_path, prose_records):
    plain = write_jsonl(tmp_path / "plain" / "a.jsonl", prose_records)
    data = plain.read_bytes()
    (tmp_path / "gz").mkdir()
    (tmp_path / "gz" / "a.jsonl.gz").write_bytes(gzip.compress(data))
    (tmp_path / "zst").mkdir()
    (tmp_path / "zst" / "a.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    results = [read_all([tmp_path / d]) for d in ("plain", "gz", "zst")]
    for docs, bad, n in results:
        assert [d["text"] for d in docs] == PROSE
        assert bad == [] and n == len(PROSE)
    # Derived ids are the source path and the byte offset of the record: stable, and equal across codecs.
    offsets = [[d["id"].split("#")[1] for d in docs] for docs, _, _ in results]
    assert offsets[0] == offsets[1] == offsets[2]
    assert results[1][0][0]["id"] == "a.jsonl.gz#0"
    assert results[0][0][0]["id"] == "a.jsonl#0"
    second_offset = len(json.dumps(prose_records[0]).encode()) + 1
    assert results[0][0][1]["id"] == f"a.jsonl#{second_offset}"
    assert json.loads(results[0][0][0]["meta"]) == {"id": "doc-0", "lang": "en"}


def test_configured_id_and_text_keys(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"uid": 7, "body": "seven"}, {"uid": "x", "body": "ex"}])
    docs, bad, _ = read_all([path], ReadOptions(text_key="body", id_key="uid"))
    assert [(d["id"], d["text"], d["meta"]) for d in docs] == [("7", "seven", None), ("x", "ex", None)]
    assert bad == []


def test_byte_range_units_cover_every_line_exactly_once(tmp_path):
    records = [{"text": f"line number {i} " + "x" * (i % 37)} for i in range(500)]
    path = write_jsonl(tmp_path / "big.jsonl", records)
    files = discover([str(path)])
    units = plan_units(files, partition_bytes=1000)
    assert len(units) > 10
    docs, bad, n = read_all([path], partition_bytes=1000)
    assert [d["text"] for d in docs] == [r["text"] for r in records]
    assert n == 500 and bad == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"text": "cut off in the midd', S.MALFORMED_JSON),
        (b'{"text": "caf\xe9"}', S.INVALID_UTF8),
        (b'{"body": "no text field"}', S.MISSING_TEXT),
        (b'{"text": null}', S.MISSING_TEXT),
        (b'{"text": 42}', S.TEXT_NOT_STRING),
        (b'{"text": ["a", "list"]}', S.TEXT_NOT_STRING),
        (b'{"text": "  \\n "}', S.EMPTY_TEXT),
        (b'["an", "array"]', S.NOT_AN_OBJECT),
    ],
)
def test_bad_jsonl_records_are_quarantined_with_their_bytes(tmp_path, raw, reason):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "good one"}], [raw, b'{"text": "good two"}'])
    docs, bad, n = read_all([path])
    assert [d["text"] for d in docs] == ["good one", "good two"]
    assert [b["reason"] for b in bad] == [reason]
    assert bad[0]["raw"] == raw and bad[0]["source"] == "a.jsonl"
    assert n == 3


TRICKY_LINES = [
    b'{"id": "a", "text": "plain"}',
    b'{"id": 7, "text": "an integer id", "lang": "en"}',
    b'{"id": true, "text": "a boolean id"}',
    b'{"id": 1.5, "text": "a float id"}',
    b'{"id": ["x"], "text": "a list id"}',
    b'{"id": "", "text": "an empty id"}',
    b'{"text": "no id at all"}',
    b'{"id": "b", "text": "\\u3000\\u2003"}',
    b'{"id": "c", "text": "crlf line ending", "n": {"nested": [1, 2]}}\r',
    b'{"id": "d", "text": "orjson refuses NaN", "score": NaN}',
    b'{"id": "e", "text": "caf\xc3\xa9 in utf-8"}',
    b'{"id": "f", "text": "caf\xe9 in latin-1"}',
    b'{"id": "g", "text": 3}',
    b'"a string"',
    b"{not json",
]


@pytest.mark.parametrize("fallback", [None, "cp1252"])
@pytest.mark.parametrize("id_key", [None, "id"])
def test_the_fast_jsonl_path_decides_every_record_as_the_checked_path_does(tmp_path, id_key, fallback):
    from curate.io.readers import _add_json_record_checked, _BatchBuilder

    opts = ReadOptions(id_key=id_key, fallback_encoding=fallback)
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join(TRICKY_LINES) + b"\n")
    docs, bad, n = read_all([path], opts)
    expected = _BatchBuilder(opts)
    offset = 0
    for line in TRICKY_LINES:
        _add_json_record_checked(line.rstrip(b"\r"), offset, "t.jsonl", opts, expected)
        offset += len(line) + 1
    batch = expected.take()
    assert docs == batch.docs.to_pylist() and bad == batch.quarantine.to_pylist()
    assert n == len(TRICKY_LINES) and len(docs) >= 4 and len(bad) >= 4


def test_missing_configured_id_is_quarantined(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"id": "a", "text": "one"}, {"text": "two"}, {"id": "", "text": "3"}]
    )
    docs, bad, n = read_all([path], ReadOptions(id_key="id"))
    assert [d["id"] for d in docs] == ["a"]
    assert [b["reason"] for b in bad] == [S.MISSING_ID, S.MISSING_ID]
    assert n == 3


def test_truncated_gzip_keeps_what_was_read_and_reports_the_file(tmp_path):
    records = [{"text": f"record {i} " + "words " * 50} for i in range(400)]
    data = gzip.compress(b"\n".join(json.dumps(r).encode() for r in records) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    docs, bad, n = read_all([path])
    assert 0 < len(docs) < 400
    assert [b["reason"] for b in bad] == [S.UNREADABLE_FILE]
    assert "cut.jsonl.gz" in bad[0]["detail"]
    assert n == len(docs) + 1
    assert [d["text"] for d in docs] == [r["text"] for r in records[: len(docs)]]


def test_corrupt_zstd_is_reported_by_name(tmp_path):
    path = tmp_path / "bad.jsonl.zst"
    path.write_bytes(b"this is not zstd data at all")
    docs, bad, _ = read_all([path])
    assert docs == [] and [b["reason"] for b in bad] == [S.UNREADABLE_FILE]
    assert "bad.jsonl.zst" in bad[0]["detail"]


def test_parquet_file_folder_and_glob(tmp_path, prose_records):
    table = pa.Table.from_pylist(prose_records)
    (tmp_path / "pq").mkdir()
    pq.write_table(table.slice(0, 3), tmp_path / "pq" / "part-0.parquet")
    pq.write_table(table.slice(3), tmp_path / "pq" / "part-1.parquet", row_group_size=1)
    for spec in (tmp_path / "pq", tmp_path / "pq" / "*.parquet"):
        docs, bad, n = read_all([spec], ReadOptions(id_key="id"))
        assert [d["text"] for d in docs] == PROSE and bad == [] and n == len(PROSE)
        assert [d["id"] for d in docs] == [r["id"] for r in prose_records]
        assert json.loads(docs[0]["meta"]) == {"lang": "en"}
    one_file = read_all([tmp_path / "pq" / "part-1.parquet"], partition_bytes=1)[0]
    assert [d["id"] for d in one_file] == [f"part-1.parquet#{i}" for i in range(3)]


def test_parquet_row_group_units_partition_the_rows(tmp_path):
    rows = [{"text": f"row {i} " * 20} for i in range(300)]
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=25)
    assert len(plan_units(discover([str(path)]), partition_bytes=4000)) > 3
    docs, bad, n = read_all([path], partition_bytes=4000)
    assert bad == [] and n == 300
    assert [d["text"] for d in docs] == [r["text"] for r in rows]
    assert [d["id"] for d in docs] == [f"r.parquet#{i}" for i in range(300)]


def test_parquet_without_the_text_column_quarantines_every_row(tmp_path):
    path = tmp_path / "notext.parquet"
    pq.write_table(pa.table({"body": ["a", "b", "c"], "n": [1, 2, 3]}), path)
    docs, bad, n = read_all([path])
    assert docs == [] and n == 3
    assert {b["reason"] for b in bad} == {S.MISSING_TEXT_COLUMN}
    assert json.loads(bad[1]["raw"]) == {"body": "b", "n": 2}
    assert "body, n" in bad[0]["detail"]


def test_parquet_bad_rows_and_non_string_text(tmp_path):
    path = tmp_path / "mixed.parquet"
    pq.write_table(pa.table({"text": ["fine", None, "  ", "also fine"]}), path)
    docs, bad, n = read_all([path])
    assert [d["text"] for d in docs] == ["fine", "also fine"]
    assert [(b["offset"], b["reason"]) for b in bad] == [(1, S.MISSING_TEXT), (2, S.EMPTY_TEXT)]
    ints = tmp_path / "ints" / "ints.parquet"
    ints.parent.mkdir()
    pq.write_table(pa.table({"text": [1, 2]}), ints)
    docs, bad, n = read_all([ints])
    assert docs == [] and [b["reason"] for b in bad] == [S.TEXT_NOT_STRING] * 2 and n == 2


def test_corrupt_parquet_is_reported_by_name(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    docs, bad, n = read_all([path])
    assert docs == [] and n == 1
    assert bad[0]["reason"] == S.UNREADABLE_FILE and "broken.parquet" in bad[0]["detail"]


def test_text_files_one_document_per_file(tmp_path):
    (tmp_path / "t" / "sub").mkdir(parents=True)
    (tmp_path / "t" / "a.txt").write_text("first document\nwith two lines\n")
    (tmp_path / "t" / "sub" / "b.txt").write_bytes(b"\xef\xbb\xbfsecond document with a BOM")
    (tmp_path / "t" / "empty.txt").write_text("   \n")
    (tmp_path / "t" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "t" / ".hidden.txt").write_text("skipped")
    docs, bad, n = read_all([tmp_path / "t"])
    assert sorted((d["id"], d["text"]) for d in docs) == [
        ("a.txt", "first document\nwith two lines\n"),
        ("sub/b.txt", "second document with a BOM"),
    ]
    assert sorted((b["source"], b["reason"]) for b in bad) == [
        ("empty.txt", S.EMPTY_TEXT),
        ("latin1.txt", S.INVALID_UTF8),
    ]
    assert n == 4


def test_text_lines_one_document_per_line(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"alpha beta\r\ngamma\n\n\xff broken\ndelta\n")
    docs, bad, n = read_all([path], ReadOptions(text_unit="line"))
    assert [(d["id"], d["text"]) for d in docs] == [
        ("lines.txt#0", "alpha beta"),
        ("lines.txt#12", "gamma"),
        ("lines.txt#28", "delta"),
    ]
    assert [b["reason"] for b in bad] == [S.INVALID_UTF8]
    assert n == 4  # the blank line is not a record


def test_discover_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        discover([str(tmp_path / "missing.jsonl")])
    (tmp_path / "notes.docx").write_bytes(b"x")
    with pytest.raises(InputError, match="cannot tell the format"):
        discover([str(tmp_path / "notes.docx")])
    with pytest.raises(InputError, match="no input files found"):
        discover([str(tmp_path)])
    docs, _, _ = read_all([tmp_path / "notes.docx"], fmt="text")
    assert docs[0]["text"] == "x"


def test_sources_are_relative_to_the_common_root(tmp_path, prose_records):
    write_jsonl(tmp_path / "a" / "x.jsonl", prose_records[:1])
    write_jsonl(tmp_path / "b" / "x.jsonl", prose_records[1:2])
    files = discover([str(tmp_path / "a"), str(tmp_path / "b")])
    assert [f.source for f in files] == ["a/x.jsonl", "b/x.jsonl"]


def test_batches_are_bounded(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "w " * 100}] * 50)
    unit = plan_units(discover([str(path)]), 1 << 30)[0]
    sizes = [b.n_input for b in read_unit(unit, ReadOptions(batch_rows=7))]
    assert sizes == [7] * 7 + [1]


def test_empty_file_gives_no_documents(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    docs, bad, n = read_all([path])
    assert docs == [] and bad == [] and n == 0


def test_a_fallback_encoding_decodes_what_utf8_cannot(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "cp1252.txt").write_bytes("It\u2019s \u201cquoted\u201d".encode("cp1252"))
    (tmp_path / "t" / "utf8.txt").write_text("caf\u00e9 in UTF-8")
    docs, bad, _ = read_all([tmp_path / "t"])
    assert [b["reason"] for b in bad] == [S.INVALID_UTF8] and len(docs) == 1
    docs, bad, _ = read_all([tmp_path / "t"], ReadOptions(fallback_encoding="cp1252"))
    assert bad == [] and sorted(d["text"] for d in docs) == [
        "It\u2019s \u201cquoted\u201d",
        "caf\u00e9 in UTF-8",
    ]


# --- regression tests of the bad-input audit (issue 12) ---------------------------------------------

SURROGATE_LINES = [
    b'{"id": "a", "text": "a lone \\ud800 in the text"}',
    b'{"id": "b", "text": "a lone surrogate in another field", "x": "\\udc00", "\\ud801k": [1, "\\ud802"]}',
    b'{"id": "\\ud800", "text": "a lone surrogate in the id"}',
    b'{"id": "d", "text": "a real pair \\ud83d\\ude00 stays"}',
]


@pytest.mark.parametrize("id_key", [None, "id"])
def test_lone_surrogates_are_replaced_and_the_record_kept(tmp_path, id_key):
    path = write_jsonl(tmp_path / "s.jsonl", [], SURROGATE_LINES)
    docs, bad, n = read_all([path], ReadOptions(id_key=id_key))
    assert bad == [] and n == 4
    assert [d["text"] for d in docs] == [
        "a lone \ufffd in the text",
        "a lone surrogate in another field",
        "a lone surrogate in the id",
        "a real pair \U0001f600 stays",
    ]
    assert json.loads(docs[1]["meta"])["x"] == "\ufffd"
    assert json.loads(docs[1]["meta"])["\ufffdk"] == [1, "\ufffd"]
    if id_key:
        assert [d["id"] for d in docs] == ["a", "b", "\ufffd", "d"]


def test_ids_are_strings_and_big_integer_ids_survive_exactly(tmp_path):
    big = "123456789012345678901234567890"
    path = write_jsonl(
        tmp_path / "ids.jsonl",
        [],
        [
            b'{"id": ' + big.encode() + b', "text": "a 30-digit integer id", "n": 1}',
            b'{"id": -' + big.encode() + b', "text": "a negative one"}',
            b'{"id": 7, "text": "an integer id"}',
            b'{"id": "7", "text": "a string id with the same digits"}',
            b'{"id": 1e30, "text": "a float id"}',
            b'{"id": true, "text": "a boolean id"}',
        ],
    )
    docs, bad, n = read_all([path], ReadOptions(id_key="id"))
    assert [d["id"] for d in docs] == [big, "-" + big, "7", "7"]
    assert json.loads(docs[0]["meta"]) == {"n": 1}
    assert [b["reason"] for b in bad] == [S.MISSING_ID] * 2 and n == 6


@pytest.mark.parametrize("records", [3, 3000])  # one zstd block, or many: both were read silently short
def test_truncated_zstd_keeps_what_was_read_and_reports_the_file(tmp_path, records):
    lines = [json.dumps({"text": f"record {i} " + f"words {i} " * 40}).encode() for i in range(records)]
    data = zstandard.ZstdCompressor().compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[: len(data) // 2])
    docs, bad, n = read_all([path])
    assert [b["reason"] for b in bad] == [S.UNREADABLE_FILE]
    assert "cut.jsonl.zst" in bad[0]["detail"] and "truncated" in bad[0]["detail"]
    assert n == len(docs) + 1 and len(docs) < records
    assert [d["text"] for d in docs] == [json.loads(x)["text"] for x in lines[: len(docs)]]
    if records > 1000:
        assert len(docs) > 0


def test_zstd_files_of_several_frames_are_read_whole(tmp_path):
    frames = [zstandard.ZstdCompressor().compress(b'{"text": "frame %d"}\n' % i) for i in range(3)]
    path = tmp_path / "frames.jsonl.zst"
    path.write_bytes(b"".join(frames))
    docs, bad, n = read_all([path])
    assert [d["text"] for d in docs] == ["frame 0", "frame 1", "frame 2"] and bad == [] and n == 3


BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("compress", [None, gzip.compress])
def test_a_utf8_bom_is_stripped_from_jsonl_and_text_lines(tmp_path, compress):
    jsonl = BOM + b'{"text": "first record"}\n{"text": "second record"}\n'
    lines = BOM + b"first line\nsecond line\n"
    suffix = ".gz" if compress else ""
    (tmp_path / f"a.jsonl{suffix}").write_bytes(compress(jsonl) if compress else jsonl)
    (tmp_path / f"b.txt{suffix}").write_bytes(compress(lines) if compress else lines)
    docs, bad, n = read_all([tmp_path / f"a.jsonl{suffix}"])
    assert bad == [] and [d["text"] for d in docs] == ["first record", "second record"] and n == 2
    assert docs[0]["id"] == f"a.jsonl{suffix}#0"  # offsets still count the BOM's bytes
    docs, bad, n = read_all([tmp_path / f"b.txt{suffix}"], ReadOptions(text_unit="line"))
    assert bad == [] and [d["text"] for d in docs] == ["first line", "second line"] and n == 2


@pytest.mark.parametrize(
    "encode",
    [
        lambda xs: pa.array(xs).dictionary_encode(),
        lambda xs: pa.array(xs, pa.large_string()),
        lambda xs: pa.array(xs, pa.string_view()),
    ],
    ids=["dictionary", "large_string", "string_view"],
)
@pytest.mark.parametrize("passthrough", [None, pa.schema([("score", pa.float64())])])
def test_parquet_string_columns_of_every_arrow_encoding_are_text(tmp_path, encode, passthrough):
    texts = ["the same text", "another text", "the same text", "  "]
    path = tmp_path / "enc.parquet"
    table = pa.table(
        {"id": encode(["a", "b", "c", "d"]), "text": encode(texts), "score": [0.1, 0.2, 0.3, 0.4]}
    )
    pq.write_table(table, path)
    docs, bad, n = read_all([path], ReadOptions(id_key="id", passthrough=passthrough))
    assert [(d["id"], d["text"]) for d in docs] == [("a", texts[0]), ("b", texts[1]), ("c", texts[2])]
    assert [b["reason"] for b in bad] == [S.EMPTY_TEXT] and n == 4


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.zst", "a.txt", "a.parquet"])
def test_a_file_that_cannot_be_opened_when_read_is_an_unreadable_file_record(tmp_path, monkeypatch, name):
    from curate.io import readers

    path = tmp_path / name
    if name.endswith(".parquet"):
        pq.write_table(pa.table({"text": ["one"]}), path)
    else:
        path.write_bytes(b"x")
    unit = plan_units(discover([str(path)]), 1 << 20)[0]

    def denied(*args, **kwargs):  # its permissions changed after the run started (root ignores chmod 000)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(readers, "open_binary", denied)
    monkeypatch.setattr(readers.pq, "ParquetFile", denied)
    bad = [r for b in read_unit(unit, ReadOptions()) for r in b.quarantine.to_pylist()]
    assert [(b["reason"], b["source"]) for b in bad] == [(S.UNREADABLE_FILE, name)]
    assert "Permission denied" in bad[0]["detail"]


def _rewrite(path, data: bytes, mtime_step: int = 5) -> None:
    """Write `data` to `path` and move its modification time (coarse file systems keep seconds)."""
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + mtime_step * 10**9))


@pytest.mark.parametrize(
    ("name", "change"),
    [
        (name, change)
        for name in ["a.jsonl", "a.jsonl.gz", "a.txt", "a.parquet"]
        for change in ["appended", "same_size_rewrite", "truncated_while_read"]
        if (name, change) != ("a.txt", "truncated_while_read")  # a text file is read in one call
    ],
)
def test_an_input_file_changed_after_discovery_is_an_error_naming_it(tmp_path, name, change):
    path = tmp_path / name
    lines = [json.dumps({"text": f"record {i:03d}"}).encode() for i in range(60)]
    if name.endswith(".parquet"):
        pq.write_table(pa.table({"text": [f"record {i:03d}" for i in range(60)]}), path, row_group_size=10)
    else:
        data = b"\n".join(lines) + b"\n"
        path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    original = path.read_bytes()
    unit = plan_units(discover([str(path)]), 1 << 30, "file")[0]
    batches = read_unit(unit, ReadOptions(batch_rows=10))
    if change == "truncated_while_read":
        next(batches)
        _rewrite(path, original[: len(original) // 2])
    elif change == "appended":
        _rewrite(path, original + original[-30:])
    else:
        _rewrite(path, original.replace(b"record 001", b"record 100"))
    with pytest.raises(InputChanged, match=f"input file '{path}' changed after the run started"):
        list(batches)


def _read_with(unit, opts, repeated=None):
    batches = list(read_unit(unit, opts, repeated))
    docs = [d for b in batches for d in b.docs.to_pylist()]
    bad = [q for b in batches for q in b.quarantine.to_pylist()]
    ids = [i for b in batches for i in b.ids.to_pylist()]
    return docs, bad, ids


def test_ids_from_the_data_are_logged_and_repeated_copies_quarantined_or_rekeyed(tmp_path):
    records = [{"id": "x", "text": "one"}, {"id": "x", "text": "two"}, {"id": 7, "text": "three"}]
    path = write_jsonl(tmp_path / "a.jsonl", records)
    second = len(json.dumps(records[0]).encode()) + 1
    unit = plan_units(discover([str(path)]), 1 << 20)[0]
    opts = ReadOptions(id_key="id")
    docs, bad, ids = _read_with(unit, opts)
    logged = [("x", 0), ("x", second), ("7", 2 * second)]
    assert [(i["id"], i["offset"]) for i in ids] == logged and {i["source"] for i in ids} == {"a.jsonl"}
    assert [d["id"] for d in docs] == ["x", "x", "7"] and bad == []

    docs, bad, ids = _read_with(unit, opts, {("a.jsonl", second): Repeat("a.jsonl#0", None)})
    assert [d["text"] for d in docs] == ["one", "three"]
    assert [(b["reason"], b["offset"]) for b in bad] == [(S.DUPLICATE_ID, second)]
    assert bad[0]["raw"] == json.dumps(records[1]).encode()
    assert bad[0]["detail"] == "id 'x' is already the id of the record at a.jsonl#0"
    assert [(i["id"], i["offset"]) for i in ids] == logged  # the log is of what was read

    docs, bad, _ = _read_with(unit, opts, {("a.jsonl", second): Repeat("a.jsonl#0", f"x@a.jsonl#{second}")})
    assert [d["id"] for d in docs] == ["x", f"x@a.jsonl#{second}", "7"] and bad == []
    assert _read_with(unit, ReadOptions())[2] == []  # derived ids are unique by construction


@pytest.mark.parametrize("passthrough", [None, pa.schema([("score", pa.float64())])])
def test_repeated_parquet_ids_are_quarantined_or_rekeyed(tmp_path, passthrough):
    path = tmp_path / "p.parquet"
    pq.write_table(
        pa.table({"id": ["a", "b", "a"], "text": ["one", "two", "three"], "score": [1.0, 2.0, 3.0]}), path
    )
    unit = plan_units(discover([str(path)]), 1 << 20)[0]
    opts = ReadOptions(id_key="id", passthrough=passthrough)
    docs, bad, ids = _read_with(unit, opts, {("p.parquet", 2): Repeat("p.parquet#0", None)})
    assert [(i["id"], i["offset"]) for i in ids] == [("a", 0), ("b", 1), ("a", 2)]
    assert [d["text"] for d in docs] == ["one", "two"]
    assert [(b["reason"], b["offset"]) for b in bad] == [(S.DUPLICATE_ID, 2)]
    docs, bad, _ = _read_with(unit, opts, {("p.parquet", 2): Repeat("p.parquet#0", "a@p.parquet#2")})
    assert [d["id"] for d in docs] == ["a", "b", "a@p.parquet#2"] and bad == []


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def test_deeply_nested_records_are_malformed_not_a_crash(tmp_path):
    lines = [
        b'{"text": "too deep to parse", "x": ' + _nested(3000) + b"}",
        b'{"text": "too deep to parse, with NaN", "n": NaN, "x": ' + _nested(3000) + b"}",
        b'{"text": "meta too deep to store", "x": ' + _nested(260) + b"}",
        b'{"text": "meta too deep, NaN and a \\ud800", "n": NaN, "x": ' + _nested(260) + b"}",
        b'{"text": "deep but storable", "x": ' + _nested(200) + b"}",
        b'{"text": "deep, storable, NaN and a \\ud800", "n": NaN, "x": ' + _nested(200) + b"}",
        b"[" * 5000,
    ]
    path = write_jsonl(tmp_path / "deep.jsonl", [], lines)
    docs, bad, n = read_all([path])
    assert [d["text"] for d in docs] == ["deep but storable", "deep, storable, NaN and a \ufffd"]
    assert [b["reason"] for b in bad] == [S.MALFORMED_JSON] * 5 and n == 7
    assert "nested" in bad[0]["detail"] and "254" in bad[2]["detail"]


def test_a_line_of_unicode_whitespace_is_empty_text(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes("first\n\u3000\u2003\nthird\n".encode())
    docs, bad, n = read_all([path], ReadOptions(text_unit="line"))
    assert [d["text"] for d in docs] == ["first", "third"]
    assert [(b["reason"], b["offset"]) for b in bad] == [(S.EMPTY_TEXT, 6)] and n == 3


def test_pass_through_parquet_ids_follow_the_row_rules(tmp_path):
    keep = ReadOptions(passthrough=pa.schema([]))
    path = tmp_path / "a" / "ids.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"id": ["a", "", None], "text": ["one", "two", "three"]}), path)
    docs, bad, n = read_all([path], keep)
    assert sorted(d["id"] for d in docs) == ["a", "ids.parquet#1", "ids.parquet#2"] and n == 3
    path = tmp_path / "b" / "noid.parquet"  # id_key names a column the file lacks
    path.parent.mkdir()
    pq.write_table(pa.table({"text": ["one", "two"]}), path)
    docs, bad, n = read_all([path], ReadOptions(id_key="id", passthrough=pa.schema([])))
    assert docs == [] and [b["reason"] for b in bad] == [S.MISSING_ID] * 2
    path = tmp_path / "c" / "floats.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"id": [1.5, 2.0], "text": ["one", "two"]}), path)
    docs, bad, n = read_all([path], ReadOptions(id_key="id", passthrough=pa.schema([])))
    assert docs == [] and [b["reason"] for b in bad] == [S.MISSING_ID] * 2
