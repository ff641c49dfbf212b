"""Real text from `../shared/data` that several benchmarks measure on (none of its `eval/` folder)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def jsonl(path: Path) -> list[dict]:
    """The records of a JSONL file (.gz or plain), blank lines skipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def real_documents(data: Path, trafilatura_field: str = "text_full") -> list[str]:
    """6,117 real documents: WebText pages, the trafilatura pages (whole visible text, or `text_main`),
    Python and Linux reST docs; empty texts left out."""
    web, ref = data / "web", data / "reference" / "docs_debian"
    texts = [d["text"] for d in jsonl(web / "webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl")]
    pages = jsonl(web / "trafilatura_eval_pages/trafilatura_pages_extracted.jsonl.gz")
    texts += [d[trafilatura_field] for d in pages]
    texts += [d["text"] for d in jsonl(ref / "python3.11-doc_rst_sources.jsonl.gz")]
    texts += [d["text"] for d in jsonl(ref / "linux-doc-6.1_rst.jsonl.gz")]
    return [t for t in texts if t]
