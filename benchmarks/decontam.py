"""Benchmark decontamination: recall on planted evaluation passages, false flags on unrelated real text,
throughput per core and index memory; datatrove's n-gram decontamination on the same corpus, same run.

    python benchmarks/decontam.py --data ../shared/data --work /work/benchdata/decontam [--peer]

Evaluation sets: the 499 DCLM human-labelled web pages of `eval/` (`dclm`, what a user would protect) and
the 300 Lee news articles (`lee`). Planted documents: real host documents (WebText, trafilatura main
text, Python and Linux documentation) with one passage of L normalized words (L = 13, 14, 20, 50, 200)
cut from an evaluation document and inserted at a random word boundary, verbatim or changed in case,
punctuation between words (marks added, dropped, curly/straight quotes swapped), whitespace (newlines,
tabs, double and no-break spaces), or all three. Unrelated documents: the same kinds of real text with
nothing planted. A flag there is an n-gram that really is in an evaluation set (exact matching), and
the script prints each one so the reader can judge it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from _corpora import jsonl, real_documents

from curate.decontam.index import load_index
from curate.decontam.stage import Decontaminate, DecontaminateParams, EvalSetParams, word_spans
from curate.stages.context import PrepareContext

LENGTHS = (13, 14, 20, 50, 200)
VARIANTS = ("verbatim", "case", "punctuation", "whitespace", "all")
PEER_PYTHON = "/work/benchenv/bin/python"


def hosts(data: Path) -> list[str]:
    return [t for t in real_documents(data, "text_main") if len(t.split()) >= 20]


def change_case(s: str, rng: random.Random) -> str:
    pick = rng.choice(("upper", "title", "mixed"))
    if pick == "upper":
        return s.upper()
    if pick == "title":
        return s.title()
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)


def change_punctuation(s: str, rng: random.Random) -> str:
    """Marks between words added or dropped, quotes swapped; the words themselves stay."""
    out = []
    for token in re.split(r"(\s+)", s):
        if not token or token.isspace():
            out.append(token)
            continue
        core = token.strip(".,;:!?\"'()[]")
        if core and rng.random() < 0.3:
            token = core  # marks around the word dropped
        if rng.random() < 0.25:
            token = token + rng.choice((",", ".", ";", ":", "!", "?", ")", '"', " -", " —"))
        if rng.random() < 0.1:
            token = rng.choice(("(", '"', "'", "“")) + token
        out.append(token.replace('"', "”").replace("'", "’") if rng.random() < 0.5 else token)
    return "".join(out)


def change_whitespace(s: str, rng: random.Random) -> str:
    return re.sub(r"\s+", lambda m: rng.choice(("  ", "\n", "\t", "\u00a0", " \n ", "   ")), s)


def perturb(s: str, variant: str, rng: random.Random) -> str:
    if variant in ("case", "all"):
        s = change_case(s, rng)
    if variant in ("punctuation", "all"):
        s = change_punctuation(s, rng)
    if variant in ("whitespace", "all"):
        s = change_whitespace(s, rng)
    return s


def passage(text: str, length: int, spec, rng: random.Random) -> str | None:
    spans = word_spans(text, spec)
    if len(spans) < length:
        return None
    j = rng.randrange(len(spans) - length + 1)
    return text[spans[j][1] : spans[j + length - 1][2]]


def plant(host: str, piece: str, rng: random.Random) -> str:
    cuts = [m.end() for m in re.finditer(r"\s+", host)] or [len(host)]
    at = rng.choice(cuts)
    return f"{host[:at]} {piece} {host[at:]}"


def build_corpus(data: Path, work: Path, n_planted: int, seed: int) -> tuple[pd.DataFrame, list[Path]]:
    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    sets = {
        "dclm": [d["text"] for d in jsonl(data / "eval/dclm_human_quality_labels/majority_data.jsonl")],
        "lee": (data / "reference/wikipedia_gensim_sample/lee_background.cor").read_text().splitlines(),
    }
    eval_files = []
    for name, texts in sets.items():
        path = work / f"eval-{name}.jsonl"
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts if t.strip()))
        eval_files.append(path)
    spec = DecontaminateParams(sets=[EvalSetParams(name="x", paths=["x"])]).spec()
    host_texts = hosts(data)
    rng.shuffle(host_texts)
    rows = []
    planted_hosts, unrelated = host_texts[:n_planted], host_texts[n_planted:]
    for i, host in enumerate(planted_hosts):
        name = rng.choice(list(sets))
        length, variant = LENGTHS[i % len(LENGTHS)], VARIANTS[(i // len(LENGTHS)) % len(VARIANTS)]
        piece = None
        while piece is None:
            piece = passage(rng.choice(sets[name]), length, spec, rng)
        text = plant(host, perturb(piece, variant, rng), rng)
        rows.append({"id": f"planted-{i}", "text": text, "set": name, "length": length, "variant": variant})
    rows += [{"id": f"unrelated-{i}", "text": t, "set": None, "length": 0, "variant": None}
             for i, t in enumerate(unrelated)]  # fmt: skip
    df = pd.DataFrame(rows)
    with (work / "docs.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
    return df, eval_files


def run_curate(df: pd.DataFrame, eval_files: list[Path], work: Path, batch: int) -> dict:
    sets = [EvalSetParams(name=p.stem.removeprefix("eval-"), paths=[str(p)]) for p in eval_files]
    stage = Decontaminate(DecontaminateParams(sets=sets))
    me = psutil.Process()
    t0 = time.perf_counter()
    metrics = stage.prepare(PrepareContext(work / "curate-index", None))
    build_s = time.perf_counter() - t0
    rss0 = me.memory_info().rss
    index = load_index(stage.index_dir)
    np.asarray(index.hashes).sum(), np.asarray(index.starts).sum()  # touch every lookup page
    rss_index = me.memory_info().rss - rss0
    docs = df[["id", "text"]]
    parts, t0 = [], time.perf_counter()
    for start in range(0, len(docs), batch):
        parts.append(stage.apply(docs.iloc[start : start + batch]).kept)
    seconds = time.perf_counter() - t0
    out = pd.concat(parts)
    return {
        "flagged": {i: s[0] for i, s in zip(out["id"], out["decontam_sets"]) if len(s)},
        "firsts": {i: f for i, f in zip(out["id"], out["decontam_first"]) if isinstance(f, str)},
        "index_seconds": build_s,
        "index": metrics,
        "index_rss_bytes": rss_index,
        "seconds": seconds,
        "docs_per_second": len(docs) / seconds,
        "mb_per_second": docs["text"].str.len().sum() / 1e6 / seconds,
    }


def index_scale(data: Path, work: Path) -> dict:
    """The index of a large evaluation set (the Python and Linux documentation, ~34 MB of text): build time
    and bytes per million indexed n-grams."""
    ref = data / "reference" / "docs_debian"
    sets = [EvalSetParams(name="docs", paths=[str(ref / "python3.11-doc_rst_sources.jsonl.gz"),
                                              str(ref / "linux-doc-6.1_rst.jsonl.gz")])]  # fmt: skip
    stage = Decontaminate(DecontaminateParams(sets=sets))
    t0 = time.perf_counter()
    m = stage.prepare(PrepareContext(work / "scale-index", None))
    seconds = time.perf_counter() - t0
    per_million = 1e6 / m["index_ngrams"]
    return {
        "ngrams": m["index_ngrams"],
        "seconds": seconds,
        "bytes_per_million_ngrams": m["index_bytes"] * per_million,
        "lookup_bytes_per_million_ngrams": m["index_lookup_bytes"] * per_million,
    }


def scores(df: pd.DataFrame, flagged: dict) -> dict:
    hit = pd.Series([i in flagged for i in df["id"]], index=df.index)
    planted = df["set"].notna()
    by = {}
    for key in ("variant", "length"):
        for value, g in df[planted].groupby(key):
            by[f"{key}={value}"] = float(hit[g.index].mean())
    return {
        "planted": int(planted.sum()),
        "recall": float(hit[planted].mean()),
        "recall_by": by,
        "unrelated": int((~planted).sum()),
        "false_flags": int(hit[~planted].sum()),
        "false_flag_rate": float(hit[~planted].mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--planted", type=int, default=2500)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peer", action="store_true", help=f"also run datatrove in {PEER_PYTHON}")
    args = ap.parse_args()
    df, eval_files = build_corpus(args.data, args.work, args.planted, args.seed)
    print(f"{len(df)} documents ({df['text'].str.len().sum() / 1e6:.1f} MB), {args.planted} planted")
    cur = run_curate(df, eval_files, args.work, args.batch)
    result = {"curate": {**{k: v for k, v in cur.items() if k not in ("flagged", "firsts")},
                         **scores(df, cur["flagged"])}}  # fmt: skip
    unrelated_flags = [(i, cur["firsts"][i]) for i in df[df["set"].isna()]["id"] if i in cur["flagged"]]
    result["curate"]["unrelated_flag_examples"] = unrelated_flags[:20]
    if args.peer:
        here = Path(__file__).resolve().parent
        subprocess.run([PEER_PYTHON, str(here / "peers/datatrove_decont.py"), "--work", str(args.work)],
                       check=True, stdout=sys.stderr)  # fmt: skip
        dt = json.loads((args.work / "datatrove.json").read_text())
        result["datatrove"] = {**{k: v for k, v in dt.items() if k != "flagged"}, **scores(df, dt["flagged"])}
        result["datatrove"]["unrelated_flag_examples"] = [
            (i, dt["flagged"][i][1]) for i in df[df["set"].isna()]["id"] if i in dt["flagged"]
        ][:20]
    result["index_scale"] = index_scale(args.data, args.work)
    (args.work / "results.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
