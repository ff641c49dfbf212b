"""Language ID on the Debian Administrator's Handbook in 26 locales: accuracy where the stated language is
confirmed (many translations are incomplete, so only documents marked `dir_lang_agrees` are scored).

    python benchmarks/langid_debian.py
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pandas as pd

from curate.quality.stages import LangId

LID_NAMES = {"nb-NO": "no"}  # lid.176 calls Norwegian Bokmål "no"
PATH = Path(__file__).resolve().parents[2] / "shared/data/langid/debian-handbook_11_multilingual.jsonl.gz"


def main() -> None:
    with gzip.open(PATH, "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    confirmed = [d for d in docs if str(d["dir_lang_agrees"]) == "True"]
    frame = pd.DataFrame(
        {
            "id": [d["id"] for d in confirmed],
            "text": [d["text"] for d in confirmed],
            "source": "handbook",
            "meta": None,
        }
    )
    out = LangId().apply(frame).kept
    expected = [LID_NAMES.get(d["lang"], d["lang"].split("-")[0].lower()) for d in confirmed]
    hits = Counter()
    totals = Counter()
    for want, got in zip(expected, out["lang"]):
        totals[want] += 1
        hits[want] += want == got
    print(f"{len(docs):,} documents, {len(confirmed):,} in their stated language (dir_lang_agrees)")
    print(f"accuracy on those: {sum(hits.values()) / len(confirmed):.4f}")
    print("| language | documents | recognized |")
    print("|---|---:|---:|")
    for lang in sorted(totals, key=lambda x: -totals[x]):
        print(f"| {lang} | {totals[lang]} | {hits[lang] / totals[lang]:.3f} |")


if __name__ == "__main__":
    main()
