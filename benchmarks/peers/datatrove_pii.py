"""datatrove's PIIFormatter (0.10.1) on the labelled PII set and the real documents of benchmarks/pii.py.

    /work/benchenv/bin/python benchmarks/peers/datatrove_pii.py --work DIR

datatrove finds e-mail addresses and IPv4 addresses (public ones by default, as curate does). Its
`format()` replaces matches in place; the spans it replaces are its own regular expressions' matches that
its validators accept, read here through the same objects (`emails_replacer`, `ip_replacer`), so they
are exactly what `format()` would replace. Throughput is `format()` itself over the real documents.
Writes DIR/datatrove.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from datatrove.pipeline.formatters.pii import PIIFormatter


def spans(replacer, text: str, kind: str) -> list[list]:
    return [
        [kind, m.start(), m.end()]
        for m in replacer.regex.finditer(text)
        if not replacer.validator or replacer.validator(m.group(0))
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    args = ap.parse_args()
    formatter = PIIFormatter()
    examples = [json.loads(line) for line in (args.work / "labelled.jsonl").open(encoding="utf-8")]
    predictions = []
    for ex in examples:
        text = ex["text"]
        found = spans(formatter.emails_replacer, text, "email")
        # format() replaces e-mails first, then IPs in the result: an IP inside an e-mail is gone by then
        taken = [(s, e) for _, s, e in found]
        found += [f for f in spans(formatter.ip_replacer, text, "ipv4")
                  if all(f[2] <= s or f[1] >= e for s, e in taken)]  # fmt: skip
        predictions.append(sorted(found, key=lambda f: f[1]))
    docs = [json.loads(line)["text"] for line in (args.work / "docs.jsonl").open(encoding="utf-8")]
    t0 = time.perf_counter()
    for text in docs:
        formatter.format(text)
    seconds = time.perf_counter() - t0
    mb = sum(map(len, docs)) / 1e6
    result = {
        "tool": "datatrove 0.10.1 PIIFormatter (e-mail, public IPv4)",
        "predictions": predictions,
        "throughput": {"docs_per_second": len(docs) / seconds, "mb_per_second": mb / seconds},
    }
    (args.work / "datatrove.json").write_text(json.dumps(result))
    print(json.dumps(result["throughput"]))


if __name__ == "__main__":
    main()
