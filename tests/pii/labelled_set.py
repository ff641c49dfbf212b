"""A labelled PII set built from real text: planted PII of every kind, and look-alikes that must not match.

Hosts are paragraphs of real prose from ../shared/data (the Lee news articles and Project Gutenberg books;
paragraphs holding an `@` are left out, so that every e-mail address in the set is a planted, labelled
one: the books' headers name their producers). Into each host go a few items at random word boundaries,
sometimes after a context phrase ("Contact:", "call", "version"):

- PII, labelled with their kind and span: e-mail addresses, public IPv4 and IPv6 addresses, phone numbers
  in 20 national and international formats, payment-card numbers of eight issuers (valid Luhn digit,
  contiguous or grouped), IBANs of ten countries (valid check digits, contiguous or grouped by four);
- look-alikes, unlabelled: version numbers, dates and times, code (`a::b`, decorators, `icon@2x.png`, hex
  addresses), hashes and UUIDs, ordinary numbers (thousands, decimals, ranges, ISBNs, timestamps), card
  numbers with a wrong Luhn digit, IBANs with wrong check digits, MAC addresses, and non-public IP
  addresses (loopback, private, documentation ranges: not personal data).

`python -m tests.pii.labelled_set OUT.jsonl` writes the set for the peer benchmark.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from curate.pii.checksums import IBAN_LENGTHS, luhn_valid

CONTEXT = {
    "email": ["Contact:", "write to", "e-mail", "Email:", "reach me at", ""],
    "ipv4": ["from", "IP address", "server at", "client", "host", ""],
    "ipv6": ["from", "IPv6 address", "host", "resolved to", ""],
    "phone": ["call", "Tel:", "phone", "mobile", "Fax:", "ring", ""],
    "card": ["card number", "Visa", "paid with", "CC:", ""],
    "iban": ["IBAN", "account", "IBAN:", "transfer to", ""],
}
DOMAINS = ["gmail.com", "outlook.fr", "uni-heidelberg.de", "mail.example.co.uk", "acme-corp.io",
           "stadtwerke-bonn.de", "yahoo.co.jp", "proton.me", "ox.ac.uk", "company.com.au"]  # fmt: skip
NAMES = ["anna", "john", "maria", "li", "olu", "pierre", "sofia", "raj", "emma", "jan", "chen", "fatima"]
SURNAMES = ["smith", "mueller", "garcia", "wang", "okafor", "dubois", "rossi", "patel", "berg", "kowalski"]
# issuer prefix, total length, grouping
CARDS = [("4", 16, "4444"), ("4", 13, None), ("51", 16, "4444"), ("2221", 16, "4444"), ("34", 15, "465"),
         ("37", 15, "465"), ("6011", 16, "4444"), ("3530", 16, "4444"), ("36", 14, "464"), ("62", 16, "4444"),
         ("65", 16, "4444")]  # fmt: skip
IBAN_COUNTRIES = {  # country: BBAN as a pattern of A (letter) and 9 (digit)
    "DE": "9" * 18, "GB": "AAAA" + "9" * 14, "FR": "9" * 23, "ES": "9" * 20, "IT": "A" + "9" * 22,
    "NL": "AAAA" + "9" * 10, "CH": "9" * 17, "AT": "9" * 16, "BE": "9" * 12, "PL": "9" * 24,
}  # fmt: skip


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def email(rng: random.Random) -> str:
    first, last = rng.choice(NAMES), rng.choice(SURNAMES)
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
                        f"{first}+news", f"{last}.{first}{rng.randint(1970, 2005)}"])  # fmt: skip
    return f"{local}@{rng.choice(DOMAINS)}"


def ipv4(rng: random.Random) -> str:
    while True:
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global:
            return str(address)


def ipv6(rng: random.Random) -> str:
    while True:
        groups = [rng.randint(0x2001, 0x2A0F)] + [rng.getrandbits(16) for _ in range(7)]
        if rng.random() < 0.5:  # a run of zero groups, written as ::
            k = rng.randint(2, 4)
            at = rng.randint(2, 7 - k)
            groups[at : at + k] = [0] * k
        address = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
        if address.is_global:
            text = address.compressed if rng.random() < 0.7 else address.exploded
            return text.upper() if rng.random() < 0.2 else text


def phone(rng: random.Random) -> str:
    d = lambda n: _digits(rng, n)  # noqa: E731
    area, exchange = f"{rng.randint(2, 9)}{d(2)}", f"{rng.randint(2, 9)}{d(2)}"
    return rng.choice([
        f"({area}) {exchange}-{d(4)}", f"{area}-{exchange}-{d(4)}", f"{area}.{exchange}.{d(4)}",
        f"+1 {area} {exchange} {d(4)}", f"1-{area}-{exchange}-{d(4)}", f"+1 ({area}) {exchange}-{d(4)}",
        f"+44 20 {d(4)} {d(4)}", f"020 {d(4)} {d(4)}", f"+44 (0)20 {d(4)} {d(4)}", f"07{d(3)} {d(6)}",
        f"+49 30 {d(8)}", f"030 {d(8)}", f"+49 (0)30 {d(4)} {d(4)}", f"0171 {d(7)}",
        f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}", f"01 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"+81 3-{d(4)}-{d(4)}", f"+61 2 {d(4)} {d(4)}", f"+91 9{d(4)} {d(5)}", f"+55 11 9{d(4)}-{d(4)}",
    ])  # fmt: skip


def _luhn_complete(partial: str) -> str:
    return next(partial + c for c in "0123456789" if luhn_valid(partial + c))


def _group(number: str, grouping: str | None, sep: str) -> str:
    if grouping is None or not sep:
        return number
    out, pos = [], 0
    for size in grouping:
        out.append(number[pos : pos + int(size)])
        pos += int(size)
    return sep.join(out)


def card(rng: random.Random, valid: bool = True) -> str:
    prefix, length, grouping = rng.choice(CARDS)
    number = _luhn_complete(prefix + _digits(rng, length - len(prefix) - 1))
    if not valid:
        number = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    return _group(number, grouping, rng.choice(["", " ", "-"]))


def _iban_check(country: str, bban: str) -> str:
    number = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return f"{98 - number % 97:02d}"


def iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(sorted(IBAN_COUNTRIES))
    bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") if c == "A" else rng.choice("0123456789")
                   for c in IBAN_COUNTRIES[country])  # fmt: skip
    assert len(country) + 2 + len(bban) == IBAN_LENGTHS[country]
    check = _iban_check(country, bban)
    if not valid:
        check = f"{(int(check) + rng.randint(1, 96)) % 97:02d}"
    compact = country + check + bban
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4)) if rng.random() < 0.6 else compact


PII = {"email": email, "ipv4": ipv4, "ipv6": ipv6, "phone": phone, "card": card, "iban": iban}


def look_alike(rng: random.Random) -> str:
    h = lambda n: "".join(rng.choice("0123456789abcdef") for _ in range(n))  # noqa: E731
    d = lambda n: _digits(rng, n)  # noqa: E731
    a, b, c, e = (rng.randint(0, 255) for _ in range(4))
    return rng.choice(
        [
            # version numbers
            f"version {rng.randint(1, 9)}.{b % 20}.{c % 30}.{e % 10}",
            f"v{a % 10}.{b}.{c}.{e}",
            f"Python 3.{b % 13}.{c % 10}",
            f"release {a % 9}.{b % 30}.{c}.{e % 10}",
            f"{a}.{b}.{c}.{e}.{a % 7}",
            f"OpenSSL 1.1.1{rng.choice('tuvw')}",
            f"build 10.0.{d(5)}.{d(3)}",
            f"section {a % 9}.{b % 9}.{c % 9}.{e % 9}",
            # dates and times
            f"20{d(2)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{d(2)}",
            f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.19{d(2)}",
            f"2021-05-12T{rng.randint(0, 23):02d}:30:00Z",
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
            f"{rng.randint(8, 11)}:30-{rng.randint(12, 17)}:45",
            # code
            "std::vector<int>",
            "a::b",
            "Foo::bar()",
            "@property",
            "icon@2x.png",
            "logo@3x.jpg",
            "x = a@b.T",
            "@media screen",
            f"0x{h(12)}",
            "arr[2*k+1]",
            "ns::detail::impl",
            "dead::beef",
            # hashes and identifiers
            h(40),
            h(64),
            h(32),
            f"{h(8)}-{h(4)}-4{h(3)}-a{h(3)}-{h(12)}",
            h(7),
            # ordinary numbers
            f"{rng.randint(1, 999)},{d(3)},{d(3)}",
            f"{rng.randint(1, 99)} {d(3)} {d(3)}",
            f"{d(1)}.{d(5)}",
            f"{rng.randint(1900, 1990)}-{rng.randint(1991, 2020)}",
            f"pages {rng.randint(1, 300)}-{rng.randint(301, 900)}",
            f"ISBN 978-{d(1)}-{d(2)}-{d(6)}-{d(1)}",
            f"ISBN 0 306 {d(5)} {d(1)}",
            f"population {d(7)}",
            f"{rng.randint(1500000000, 1700000000)}",
            f"{rng.randint(1500000000, 1700000000)}{d(3)}",
            f"{rng.randint(10000, 99999)}-{d(4)}",
            f"{d(2)} {d(2)} {d(2)}",
            # near misses of the kinds
            card(rng, valid=False),
            iban(rng, valid=False),
            ":".join(f"{rng.getrandbits(8):02X}" for _ in range(6)),  # MAC
            rng.choice(
                [
                    "127.0.0.1",
                    "192.168.1.1",
                    "10.0.0.5",
                    "0.0.0.0",
                    "255.255.255.0",
                    "172.16.4.20",
                    "192.0.2.44",
                    "198.51.100.7",
                    "203.0.113.9",
                    "::1",
                    "fe80::1ff:fe23:4567:890a",
                    "2001:db8::ff00:42:8329",
                ]
            ),
        ]
    )


@dataclass
class Example:
    text: str
    labels: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, start, end)
    look_alikes: list[str] = field(default_factory=list)


def hosts(data: Path) -> list[str]:
    """Paragraphs of real prose without an `@`."""
    ref = data / "reference"
    texts = (ref / "wikipedia_gensim_sample/lee_background.cor").read_text(encoding="utf-8").splitlines()
    for book in sorted((ref / "gutenberg_nltk").glob("*.txt")):
        paragraphs = re.split(r"\n\s*\n", book.read_text(encoding="utf-8", errors="replace"))
        texts += [" ".join(p.split()) for p in paragraphs if len(p.split()) >= 30]
    with zipfile.ZipFile(ref / "nltk_corpora/state_union.zip") as z:
        for name in sorted(z.namelist()):
            if name.endswith(".txt"):
                texts += [p for p in z.read(name).decode("latin-1").split("\n\n") if len(p.split()) >= 30]
    return [t for t in texts if t.strip() and "@" not in t]


def build(data: Path, n_docs: int = 2000, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    paragraphs = hosts(data)
    rng.shuffle(paragraphs)
    kinds = list(PII)
    examples = []
    for i in range(n_docs):
        host = paragraphs[i % len(paragraphs)]
        items = [("pii", kinds[(i * 2 + k) % len(kinds)]) for k in range(2)] + [("look", None)] * 3
        rng.shuffle(items)
        cuts = sorted(rng.sample([m.end() for m in re.finditer(r"\s+", host)] or [len(host)], len(items)))
        ex, pos, out = Example(""), 0, []
        for cut, (what, kind) in zip(cuts, items):
            out.append(host[pos:cut])
            if what == "pii":
                context = rng.choice(CONTEXT[kind])
                value = PII[kind](rng)
                prefix = f"{context} " if context else ""
                start = sum(len(p) for p in out) + len(prefix)
                ex.labels.append((kind, start, start + len(value)))
                out.append(f"{prefix}{value}{rng.choice(['', '', ',', '.', ';'])} ")
            else:
                value = look_alike(rng)
                ex.look_alikes.append(value)
                out.append(f"{value}{rng.choice(['', ',', '.'])} ")
            pos = cut
        out.append(host[pos:])
        ex.text = "".join(out)
        examples.append(ex)
    return examples


if __name__ == "__main__":  # the set for the peer benchmark
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    with out.open("w", encoding="utf-8") as f:
        for ex in build(data):
            f.write(json.dumps({"text": ex.text, "labels": ex.labels}) + "\n")
