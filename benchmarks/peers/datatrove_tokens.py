"""datatrove's TokensCounter (0.10.1) with a local tokenizer.json, on the documents of benchmarks/tokens.py.

    /work/benchenv/bin/python benchmarks/peers/datatrove_tokens.py --work DIR

Reads DIR/docs.jsonl and DIR/tokenizer.json (a file path: datatrove loads it with
`Tokenizer.from_file`, no hub), counts on one thread (RAYON_NUM_THREADS=1; CPU seconds) in its default
batches of 10,000, and writes DIR/datatrove.json with the counts and the throughput.
"""

from __future__ import annotations

import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse
import json
import time
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.tokens.counter import TokensCounter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    args = ap.parse_args()
    texts = [json.loads(line)["text"] for line in (args.work / "docs.jsonl").open(encoding="utf-8")]
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    counter = TokensCounter(str(args.work / "tokenizer.json"))
    counter.tokenizer  # load before the clock  # noqa: B018
    t0 = time.process_time()
    counts = [d.metadata["token_count"] for d in counter.run(iter(docs))]
    seconds = time.process_time() - t0
    result = {
        "tool": "datatrove 0.10.1 TokensCounter, same tokenizer.json",
        "seconds": seconds,
        "docs_per_second": len(docs) / seconds,
        "mb_per_second": sum(len(t.encode()) for t in texts) / 1e6 / seconds,
        "tokens": sum(counts),
        "counts": counts,
    }
    (args.work / "datatrove.json").write_text(json.dumps(result))
    print(json.dumps({k: v for k, v in result.items() if k != "counts"}))


if __name__ == "__main__":
    main()
