"""Token counts: throughput per core of `token_count` on real documents, its agreement with the tokenizer's
own encode, and datatrove's TokensCounter with the same tokenizer.json in the same run.

    python benchmarks/tokens.py --data ../shared/data --work /work/benchdata/tokens [--peer] [--rounds 3]

Documents: 6,117 real documents, 47 MB (WebText pages, whole trafilatura page texts, Python and Linux
documentation). Tokenizers: cl100k_base (shipped), and a byte-level BPE tokenizer.json of 32,000 tokens
trained here with Hugging Face `tokenizers` on the Gutenberg books (the peer reads the same file).
Everything runs on one thread (`threads: 1`, RAYON_NUM_THREADS=1) and is timed in CPU seconds of its
process (`time.process_time`: other work on the machine counts less): the numbers are per core. Rounds
alternate curate and the peer (a process of its own in the peer environment); medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"  # Hugging Face tokenizers' thread pool: one core, like the peer
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import numpy as np
import pandas as pd
from _corpora import real_documents

from curate.tokens import tokenizer
from curate.tokens.stage import TokenCount, TokenCountParams

PEER_PYTHON = "/work/benchenv/bin/python"


def train_tokenizer(data: Path, out: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    books = [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted((data / "reference/gutenberg_nltk").glob("*.txt"))
    ]
    model = Tokenizer(models.BPE())
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.train_from_iterator(
        books, trainers.BpeTrainer(vocab_size=32000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    model.save(str(out))
    return out


def measure(stage: TokenCount, docs: list[str], batch: int = 1000) -> tuple[float, list[int]]:
    """Seconds to count `docs` in batches of `batch` documents, as a run hands them to the stage."""
    frame = pd.DataFrame({"id": [str(i) for i in range(len(docs))], "text": docs})
    t0 = time.process_time()
    counts = pd.concat(
        [stage.apply(frame.iloc[i : i + batch]).kept["n_tokens"] for i in range(0, len(frame), batch)]
    )
    return time.process_time() - t0, counts.tolist()


def rates(docs: int, mb: float, tokens: int, seconds: list[float]) -> dict:
    s = float(np.median(seconds))
    return {"docs_per_second": docs / s, "mb_per_second": mb / s, "tokens_per_second": tokens / s,
            "seconds": seconds}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--peer", action="store_true", help=f"also run datatrove in {PEER_PYTHON}")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    docs = real_documents(args.data)
    (args.work / "docs.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    hf_file = train_tokenizer(args.data, args.work / "tokenizer.json")
    mb = sum(len(t.encode()) for t in docs) / 1e6
    result: dict = {"documents": len(docs), "mb": mb}
    names = {"cl100k_base": "cl100k_base", "tokenizer.json": str(hf_file)}
    own = {}
    for key, name in names.items():
        tok = tokenizer.load(name)
        t0 = time.process_time()
        own[key] = [len(tok.encode(t)) for t in docs]  # the tokenizer's own encode, one text at a time
        result[key] = {"encode_loop_docs_per_second": len(docs) / (time.process_time() - t0)}
    stages = {key: TokenCount(TokenCountParams(tokenizer=name)) for key, name in names.items()}
    seconds: dict[str, list[float]] = {key: [] for key in [*names, "datatrove"]}
    peer = None
    for _ in range(args.rounds):
        for key, stage in stages.items():
            took, counts = measure(stage, docs)
            seconds[key].append(took)
            result[key]["equal_to_encode"] = counts == own[key]
            result[key]["tokens"] = sum(counts)
        if args.peer:
            here = Path(__file__).resolve().parent
            subprocess.run([PEER_PYTHON, str(here / "peers/datatrove_tokens.py"), "--work", str(args.work)],
                           check=True, stdout=sys.stderr)  # fmt: skip
            peer = json.loads((args.work / "datatrove.json").read_text())
            seconds["datatrove"].append(peer["seconds"])
    for key in names:
        result[key].update(rates(len(docs), mb, result[key]["tokens"], seconds[key]))
    if peer is not None:
        result["datatrove"] = {
            "tool": peer["tool"],
            "equal_to_curate": peer["counts"] == own["tokenizer.json"],
            **rates(len(docs), mb, sum(peer["counts"]), seconds["datatrove"]),
        }
        result["tokenizer.json"]["speed_vs_datatrove"] = float(
            np.median(seconds["datatrove"]) / np.median(seconds["tokenizer.json"])
        )
    (args.work / "results.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
