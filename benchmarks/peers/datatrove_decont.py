"""datatrove's n-gram decontamination (0.10.1) on the corpus `benchmarks/decontam.py` writes, offline.

    /work/benchenv/bin/python benchmarks/peers/datatrove_decont.py --work DIR --ngram 13

datatrove's `NGramsDecontIndexer` takes the evaluation text either from lighteval tasks (downloaded from
the Hugging Face hub: impossible here) or as input documents, and then always imports lighteval. The shim
below keeps its own `compute_hashes` (its normalization, spaCy word tokenizer and xxhash) and its file
layout, and only skips the lighteval part; `NGramsDecontFilter`, which does the matching, runs unchanged.
Reads DIR/eval-*.jsonl (one file per set: {"text"}) and DIR/docs.jsonl ({"id", "text"}); writes
DIR/datatrove.json: the flagged ids with their task, index build and filter times, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import psutil
from datatrove.data import Document
from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer


class OfflineIndexer(NGramsDecontIndexer):
    """The indexer without lighteval: hashes of the evaluation documents handed to it, its own code."""

    def __new__(cls, *args, **kwargs):  # datatrove checks every class's dependencies (lighteval) here
        return object.__new__(cls)

    def index(self, task: str, texts: list[str], folder: Path) -> int:
        hashes = set()
        for text in texts:
            hashes.update(self.compute_hashes(text, None))
        array = np.array(sorted(hashes), dtype=self.config.hash_config.np_descr)
        array.tofile(folder / f"{task}.index.hashes")
        return len(array)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--ngram", type=int, default=13)
    args = ap.parse_args()
    config = NGramsDecontConfig(n_grams=args.ngram, find_query_ngrams=True, find_overlap_ngrams=False)
    folder = args.work / "datatrove-index"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.index.hashes"):
        old.unlink()
    me = psutil.Process()
    t0 = time.perf_counter()
    indexer = OfflineIndexer(str(folder), config=config)
    sizes = {}
    for path in sorted(args.work.glob("eval-*.jsonl")):
        texts = [json.loads(line)["text"] for line in path.open(encoding="utf-8")]
        sizes[path.stem.removeprefix("eval-")] = indexer.index(path.stem.removeprefix("eval-"), texts, folder)
    build_s = time.perf_counter() - t0
    docs = [json.loads(line) for line in (args.work / "docs.jsonl").open(encoding="utf-8")]
    rss_before = me.memory_info().rss
    filt = NGramsDecontFilter(str(folder), config=config)
    t0 = time.perf_counter()
    filt.load_index_hashes()
    load_s = time.perf_counter() - t0
    rss_index = me.memory_info().rss - rss_before
    flagged = {}
    t0 = time.perf_counter()
    for d in docs:
        doc = Document(text=d["text"], id=d["id"])
        if filt.filter(doc) is not True:
            flagged[d["id"]] = [doc.metadata.get("contaminated_task"), doc.metadata.get("contaminated_ngram")]
    filter_s = time.perf_counter() - t0
    result = {
        "tool": "datatrove 0.10.1 NGramsDecontIndexer (lighteval step skipped) + NGramsDecontFilter",
        "ngram": args.ngram,
        "indexed_hashes": sizes,
        "index_seconds": build_s,
        "index_load_seconds": load_s,
        "index_rss_bytes": rss_index,
        "documents": len(docs),
        "filter_seconds": filter_s,
        "docs_per_second": len(docs) / filter_s,
        "flagged": flagged,
    }
    (args.work / "datatrove.json").write_text(json.dumps(result))
    print(json.dumps({k: v for k, v in result.items() if k != "flagged"}, indent=1))


if __name__ == "__main__":
    main()
