"""The demo corpus: real text that every machine with Python already has, so the demo needs no download.

- `stdlib_docs.jsonl.gz`: one document per standard-library module: its docstring and those of its public
  classes and functions, read with `ast` (nothing is imported, so no module runs).
- `pydoc_topics.jsonl.zst`: the help topics of `pydoc_data` (sections of the Python language reference).
- `package_metadata.parquet`: the METADATA of every installed distribution: the long description (a README
  of mixed quality), with name, version and summary as metadata.
- `licenses/`: the licence files of the installed distributions, one text file each. The same licences
  (MIT, BSD, Apache) appear again and again, lightly edited: real exact and near duplicates.
- `deliberately_damaged.jsonl`: five broken records (bad JSON, bad UTF-8, no text, a number as text, empty
  text) beside two good ones, to show that bad input is quarantined with a reason, not lost.
"""

from __future__ import annotations

import ast
import gzip
import importlib.metadata
import json
import re
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SKIP_PARTS = {
    "test",
    "tests",
    "idle_test",
    "site-packages",
    "dist-packages",
    "__pycache__",
    "lib2to3",
    "turtledemo",
    "ensurepip",
    "venv",
    "idlelib",
    "tkinter",
    "pydoc_data",
}
LICENSE_NAME = re.compile(r"(^|/)(LICEN[CS]E|COPYING|NOTICE)[^/]*$", re.IGNORECASE)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    try:
        return f"{node.name}({ast.unparse(node.args)})"
    except Exception:  # an unusual default value ast cannot unparse
        return f"{node.name}(...)"


def module_document(path: Path, root: Path) -> dict | None:
    """The documentation of one stdlib module as one document, or None if it has no docstrings."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return None
    name = _module_name(path, root)
    sections = []
    doc = ast.get_docstring(tree)
    if doc:
        sections.append(doc)
    for node in tree.body:
        if isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ) and not node.name.startswith("_"):
            node_doc = ast.get_docstring(node)
            if not node_doc:
                continue
            head = f"class {node.name}" if isinstance(node, ast.ClassDef) else f"def {_signature(node)}"
            sections.append(f"{head}\n    {node_doc}")
    if not sections:
        return None
    return {"id": f"stdlib:{name}", "module": name, "text": f"Module {name}\n\n" + "\n\n".join(sections)}


def stdlib_documents() -> Iterator[dict]:
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if SKIP_PARTS & set(path.relative_to(root).parts) or path.name.startswith("test_"):
            continue
        doc = module_document(path, root)
        if doc:
            yield doc


def pydoc_topics() -> Iterator[dict]:
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distributions strip pydoc_data
        return
    for key in sorted(topics):
        yield {"id": f"pydoc-topic:{key}", "topic": key, "text": topics[key]}


def _distributions() -> list[importlib.metadata.Distribution]:
    by_name = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower()
        if name and name not in by_name:
            by_name[name] = dist
    return [by_name[n] for n in sorted(by_name)]


def metadata_table() -> pa.Table:
    rows = []
    for dist in _distributions():
        meta = dist.metadata
        body = meta.get_payload() if hasattr(meta, "get_payload") else None
        body = body or meta.get("Description") or ""
        rows.append(
            {
                "name": meta["Name"],
                "version": meta["Version"],
                "summary": meta.get("Summary") or "",
                "text": body,
            }
        )
    return pa.Table.from_pylist(rows)


def license_files() -> Iterator[tuple[str, bytes]]:
    for dist in _distributions():
        for f in dist.files or []:
            if LICENSE_NAME.search(str(f)):
                try:
                    data = f.read_binary()
                except OSError:
                    continue
                flat = str(f).replace("/", "__")
                flat = flat if flat.lower().endswith(".txt") else flat + ".txt"
                yield f"{dist.metadata['Name'].lower()}/{flat}", data


DAMAGED = [
    b'{"id": "good-1", "text": "A good record keeps its place beside broken ones, and is counted as kept."}',
    b'{"id": "bad-json", "text": "this line was cut off in the middle of',
    b'{"id": "bad-utf8", "text": "caf\xe9 au lait in Latin-1, not UTF-8"}',
    b'{"id": "no-text", "body": "the text is under another key"}',
    b'{"id": "number-text", "text": 42}',
    b'{"id": "empty-text", "text": "   "}',
    b'{"id": "good-2", "text": "Every input record ends as kept, removed with a reason, or quarantined."}',
]


def build_demo_corpus(dest: str | Path) -> dict[str, int]:
    """Write the demo corpus into `dest` (replacing an earlier one); return documents written per part."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    counts = {}
    docs = list(stdlib_documents())
    # mtime=0: the same corpus gives the same bytes, so `curate demo` again is a no-op run
    with gzip.GzipFile(dest / "stdlib_docs.jsonl.gz", "wb", mtime=0) as f:
        for doc in docs:
            f.write((json.dumps(doc, ensure_ascii=False) + "\n").encode("utf-8"))
    counts["stdlib_docs"] = len(docs)

    import zstandard

    topics = list(pydoc_topics())
    with (
        open(dest / "pydoc_topics.jsonl.zst", "wb") as raw,
        zstandard.ZstdCompressor().stream_writer(raw) as f,
    ):
        for doc in topics:
            f.write((json.dumps(doc, ensure_ascii=False) + "\n").encode("utf-8"))
    counts["pydoc_topics"] = len(topics)

    table = metadata_table()
    pq.write_table(table, dest / "package_metadata.parquet", compression="zstd")
    counts["package_metadata"] = table.num_rows

    lic_dir = dest / "licenses"
    n = 0
    for rel, data in license_files():
        out = lic_dir / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        n += 1
    counts["licenses"] = n

    (dest / "deliberately_damaged.jsonl").write_bytes(b"\n".join(DAMAGED) + b"\n")
    counts["deliberately_damaged"] = len(DAMAGED)
    return counts
