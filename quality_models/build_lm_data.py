"""Build the training text of the shipped language model from ../shared/data/reference (never eval/).

    python quality_models/build_lm_data.py --data ../shared/data --out build/lm-data

Writes `reference.jsonl` (fields: text, source): reference prose that curate cannot read as it is shipped
(zip archives, a `.cor` file), one document per record:

- the 300 Lee news articles (`wikipedia_gensim_sample/lee_background.cor`, one per line);
- the 65 State of the Union addresses and the 59 inaugural addresses (`nltk_corpora/*.zip`);
- the 13 Project Gutenberg books of `gutenberg_nltk/` (a book per record).

The Python and Linux documentation (reST markup) and the Wikipedia sample (wikitext markup) are left out:
markup is not the prose the model should prefer.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path


def documents(data: Path):
    ref = data / "reference"
    for line in (ref / "wikipedia_gensim_sample/lee_background.cor").read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield "lee_news", line.strip()
    for name in ("state_union", "inaugural"):
        with zipfile.ZipFile(ref / "nltk_corpora" / f"{name}.zip") as z:
            for member in sorted(z.namelist()):
                if member.endswith(".txt"):
                    yield name, z.read(member).decode("latin-1").strip()
    for book in sorted((ref / "gutenberg_nltk").glob("*.txt")):
        yield "gutenberg", book.read_text(encoding="utf-8", errors="replace").strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("build/lm-data"))
    args = ap.parse_args()
    if args.data.name == "eval" or not (args.data / "reference").is_dir():
        raise SystemExit(f"expected the shared data folder (with reference/) at {args.data}")
    args.out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with (args.out / "reference.jsonl").open("w", encoding="utf-8") as f:
        for source, text in documents(args.data):
            f.write(json.dumps({"text": text, "source": source}, ensure_ascii=False) + "\n")
            counts[source] = counts.get(source, 0) + 1
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
