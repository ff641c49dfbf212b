"""Build the training data of the shipped quality classifier from ../shared/data/web (never eval/).

    python quality_models/build_training_data.py --data ../shared/data --out build/quality-data

Writes `positive.jsonl` and `negative.jsonl` (fields: text, source, page), for `curate train-classifier`
with `--set group_key=page` (both views of one page stay on one side of the held-out split). `--skip`
leaves sources out: curate-web-quality-v2 leaves out the tiny C4 and CC samples (its default), v1 used
every source (`--skip ''`). The sources:

- positives (clean main content of real web pages): WebText documents (pages linked from Reddit, as for
  GPT-2), the `text_main` trafilatura extracted from its test pages, and the gold article bodies of the
  scrapinghub article-extraction benchmark;
- negatives: the boilerplate of those same pages (the page text with its main content cut out:
  navigation, footers, cookie notices, link lists), the tiny C4 sample (spam included), the small
  CC / C4 / RedPajama / Dolma samples, and all visible text of the raw Common Crawl WARC pages. Most of
  the C4 and CC samples are ordinary, often good, web text: as negatives they teach the model that
  ordinary articles are bad (v2 drops them: see quality_models/README.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from html.parser import HTMLParser
from pathlib import Path

_BLOCK = set(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 tr td th table section article header footer nav aside main "
    "form blockquote pre dd dt dl option figcaption figure label button title hr address fieldset legend "
    "select".split()
)
_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas", "math"}
CC_SAMPLES = [
    "datajuicer_redpajama-c4-refined.jsonl", "datajuicer_redpajama-cc-2023-06-refined.jsonl",
    "dolma_cc_en_head-0091.jsonl", "dolma_cc_en_head-0174.jsonl", "dolma_provided_documents_000.json.gz",
    "olmo_c4-sample.01.json.gz", "olmo_c4-sample.02.json.gz", "olmo_c4-sample.03.json.gz",
]  # fmt: skip
WARCS = ["dolma_sample-0000.warc.gz", "dolma_sample-0001.warc.gz", "cc_whirlwind.warc.gz"]


class _VisibleText(HTMLParser):
    """All visible text of an HTML page, one block element per line."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # a malformed page keeps what was parsed
        pass
    lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def jsonl(path: Path):
    with (
        gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")
    ) as f:
        yield from (json.loads(line) for line in f if line.strip())


def warc_responses(path: Path):
    """The HTTP bodies of the `response` records of a (gzipped) WARC file."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    pos = 0
    while (start := data.find(b"WARC/1.", pos)) >= 0:
        end = data.find(b"\r\n\r\n", start)
        if end < 0:
            return
        headers = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (
                line.partition(":") for line in data[start:end].decode("utf-8", "replace").split("\r\n")[1:]
            )
        )
        body = data[end + 4 : end + 4 + int(headers.get("content-length", 0))]
        pos = end + 4 + len(body)
        if headers.get("warc-type") == "response":
            sep = body.find(b"\r\n\r\n")
            yield body[sep + 4 :] if sep >= 0 else body


def without(main_lines: list[str], page: str) -> str:
    """The page text with every main-content line (20+ characters) cut out: its boilerplate."""
    rest = " ".join(page.split())
    for line in sorted((line.strip() for line in main_lines), key=len, reverse=True):
        if len(line) >= 20:
            rest = rest.replace(" ".join(line.split()), "\n")
    return "\n".join(part.strip() for part in rest.split("\n") if part.strip())


def documents(data: Path):
    """(label, source, page, text) of every training document."""
    web = data / "web"
    for d in jsonl(web / "webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl"):
        yield "positive", "webtext", f"webtext:{d['id']}", d["text"]
    for d in jsonl(web / "trafilatura_eval_pages/trafilatura_pages_extracted.jsonl.gz"):
        page, main = f"traf:{d['id']}", d.get("text_main") or ""
        yield "positive", "trafilatura_main", page, main
        yield (
            "negative",
            "trafilatura_boilerplate",
            page,
            without(main.splitlines(), d.get("text_full") or ""),
        )
    bench = web / "scrapinghub_article_benchmark"
    for key, truth in json.loads((bench / "ground-truth.json").read_text()).items():
        page = f"scrapinghub:{key}"
        yield "positive", "scrapinghub_article", page, truth["articleBody"]
        html = bench / "html" / f"{key}.html.gz"
        if html.exists():
            with gzip.open(html, "rb") as f:
                shown = visible_text(f.read().decode("utf-8", "replace")).split("\n")
            body = " ".join(truth["articleBody"].split())
            boiler = [line for line in shown if not (len(line) >= 20 and " ".join(line.split()) in body)]
            yield "negative", "scrapinghub_boilerplate", page, "\n".join(boiler)
    for i, d in enumerate(jsonl(web / "recdp_tiny_c4/tiny_c4_sample.jsonl")):
        yield "negative", "tiny_c4", f"c4:{i}", d["text"]
    for name in CC_SAMPLES:
        for i, d in enumerate(jsonl(web / "cc_small_samples" / name)):
            yield "negative", "cc_samples", f"cc:{name}:{i}", d["text"]
    for name in WARCS:
        for j, body in enumerate(warc_responses(web / "cc_small_samples" / name)):
            yield (
                "negative",
                "cc_warc_pages",
                f"warc:{name}:{j}",
                visible_text(body.decode("utf-8", "replace")),
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("build/quality-data"))
    ap.add_argument(
        "--skip", default="tiny_c4,cc_samples", help="Sources to leave out, comma separated ('' for none)."
    )
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    if args.data.name == "eval" or not (args.data / "web").is_dir():
        raise SystemExit(f"expected the shared data folder (with web/) at {args.data}")
    args.out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with (
        (args.out / "positive.jsonl").open("w", encoding="utf-8") as positive,
        (args.out / "negative.jsonl").open("w", encoding="utf-8") as negative,
    ):
        files = {"positive": positive, "negative": negative}
        for label, source, page, text in documents(args.data):
            if text and text.strip() and source not in skip:
                record = {"text": text, "source": source, "page": page}
                files[label].write(json.dumps(record, ensure_ascii=False) + "\n")
                counts[f"{label}/{source}"] = counts.get(f"{label}/{source}", 0) + 1
    print(json.dumps(counts, indent=2))


if __name__ == "__main__":
    main()
