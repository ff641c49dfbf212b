"""Finding personal data in text: a regular expression proposes a candidate, a check keeps it or not.

What each kind recognizes (and what it leaves alone on purpose):

- `email`: local@domain.tld with a letter TLD of 2+ characters; not image or script file names
  (`icon@2x.png`), not `@handles` or decorators.
- `ipv4`: dotted quads of octets 0-255 without leading zeros; not a part of a longer dotted number
  (`1.2.3.4.5`, OIDs), not after a version or section word (`version 1.2.3.4`, `§ 2.1.3.4`).
- `ipv6`: what `ipaddress` accepts, with at least three non-empty groups and one digit (so C++'s `a::b`,
  times and MAC addresses are not addresses).
- `phone`: international numbers with `+` (8-15 digits, `+44 (0)20 7946 0958`), North American numbers
  with separators (`(415) 555-0132`, `415.555.0132`, `1-415-555-0132`), and national numbers with a
  trunk 0 and separators (`020 7946 0958`, `01 23 45 67 89`, `030 12345678`), 9-12 digits. A run of
  digits without separators or `+` is an ordinary number; dates, ISBNs and ranges do not have these
  shapes; numbers after ISBN, ISSN, DOI or arXiv are not phones.
- `card`: 12-19 digits, contiguous or grouped by fours (Amex 4-6-5) with one kind of separator, with an
  issuer's prefix and length, and a valid Luhn check digit.
- `iban`: upper case, contiguous or grouped by fours, the country's registered length, mod 97 = 1.

With `public_ips_only` (the default) an IP address counts only when it is globally routable: loopback,
private, link-local, documentation and reserved addresses identify no one.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from curate.pii.checksums import IBAN_LENGTHS, iban_valid, is_card_number

KINDS = ("email", "ipv4", "ipv6", "phone", "card", "iban")
ORDER = ("iban", "card", "email", "ipv6", "ipv4", "phone")  # who claims text that two kinds propose


@dataclass(frozen=True)
class Found:
    kind: str
    start: int
    end: int


FILE_SUFFIXES = frozenset(
    "png jpg jpeg gif svg webp bmp ico tif tiff pdf js mjs css map json woff woff2 ttf eot mp3 mp4 wav "
    "zip gz".split()
)
EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))(?![\w-]|\.[A-Za-z0-9])"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\w|\.\*|-[A-Za-z])")
# four single digits are far more often a version or a section than an address; the public resolvers
# are the addresses people write that way
_RESOLVERS = frozenset({"1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4", "9.9.9.9"})
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:]|\.\w)")
PHONE = re.compile(
    r"(?<![\w+.\-/])(?:"
    r"\+[1-9]\d{0,2}(?:[ .\-]?\(\d{1,4}\))?(?:[ .\-]?\d{1,8}){1,6}"  # international
    r"|(?:1[ .\-])?(?:\([2-9]\d{2}\)[ .\-]?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4}"  # North American
    r"|\(?0[1-9]\d{0,3}\)?(?:[ /\-]\d{2,8}){1,4}"  # national, trunk 0
    r")(?!\w|[.\-/]\d)"
)
CARD = re.compile(r"(?<![\w\-.,/#=])\d{4}(?:[ \-]?\d{2,6}){1,4}(?![\w]|[\-.,]\d)")
IBAN = re.compile(r"(?<!\w)[A-Z]{2}\d{2}(?: ?[A-Z0-9]){8,30}(?!\w)")

_NOT_AN_IP_BEFORE = re.compile(
    r"(?i)(?:\bv|\bversions?|\bver|\breleases?|\brev(?:ision)?|\bbuild|\bupdate|\bpatch|\bfirmware"
    r"|\bsections?|\bchapters?|§|\bfig(?:ure)?|\btable|\bclause|\bsteps?|\barticle|\boid)\W{0,3}$"
)
# a user-agent or pinned version (`Firefox/2.0.0.11`, `pkg==3.1.1.3`) or a version range (`2.0.0.0 ~ 2.0.4.2`)
_VERSION_BEFORE = re.compile(r"(?:[A-Za-z][/-]|==|~ ?)$")
_RANGE_AFTER = re.compile(r" ?~")
_HEADING = re.compile(r"[ \t]+[A-Z][a-z]")
_NOT_A_PHONE_BEFORE = re.compile(r"(?i)(?:\bisbn(?:-1[03])?|\bissn|\bdoi|\barxiv)\W{0,3}$")
# a group holding a digit, then one space or hyphen: a candidate after it is the tail of a longer number
# (an account number grouped by fours, a card with a wrong check digit)
_NUMBER_GROUP_BEFORE = re.compile(r"(?<![\w])[A-Za-z0-9]*\d[A-Za-z0-9]*[ \-]$")


_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")  # `+192.168.1.1` in a shell example
_MIXED_SEPARATORS = re.compile(r"(?:1[ .\-])?[2-9]\d\d([ .\-])[2-9]\d\d(?!\1)[ .\-]\d{4}")  # `252.227-7013`
_DATE_START = re.compile(r"0\d/\d{1,2}/")  # `03/05/2022 20:36`
_ZIP_PLUS_4 = re.compile(r"0\d{4}-\d{4}")  # `MA 02111-1307`
_SAME_SHORT_GROUPS = re.compile(r"0\d\d(?: \d{3}){3,}")  # a list of numbers: `012 013 023 123`
_NUMBER_GROUP_AFTER = re.compile(r"[ \-/]\d")


def _continues_a_number(text: str, start: int) -> bool:
    return _NUMBER_GROUP_BEFORE.search(text, max(0, start - 40), start) is not None


def _emails(text: str, _: bool) -> list[tuple[int, int]]:
    return [m.span() for m in EMAIL.finditer(text) if m.group(2).lower() not in FILE_SUFFIXES]


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address, public_only: bool) -> bool:
    """Whether an address counts: with `public_only`, a globally routable one; never a netmask (ones
    then zeros: `ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0`, `255.255.255.0`)."""
    bits, value = address.max_prefixlen, int(address)
    zeros = ~value & ((1 << bits) - 1)
    if value >> (bits - 1) and zeros & (zeros + 1) == 0:
        return False
    return not public_only or address.is_global


def _starts_a_line(text: str, start: int) -> bool:
    line = text.rfind("\n", 0, start) + 1
    return not text[line:start].strip(" \t")


def _ipv4(text: str, public_only: bool) -> list[tuple[int, int]]:
    out = []
    for m in IPV4.finditer(text):
        if _NOT_AN_IP_BEFORE.search(text, max(0, m.start() - 16), m.start()):
            continue
        if _VERSION_BEFORE.search(text[max(0, m.start() - 3) : m.start()]) or _RANGE_AFTER.match(
            text, m.end()
        ):
            continue
        if _HEADING.match(text, m.end()) and _starts_a_line(text, m.start()):
            continue  # a numbered section heading: "2.1.1.3 Fragmentation"
        if len(m.group()) == 7 and m.group() not in _RESOLVERS:
            continue
        if _public(ipaddress.IPv4Address(m.group()), public_only):
            out.append(m.span())
    return out


def _ipv6(text: str, public_only: bool) -> list[tuple[int, int]]:
    out = []
    for m in IPV6.finditer(text):
        s = m.group()
        groups = [g for g in s.split(":") if g]
        if len(groups) < 3 or not any(c.isdigit() for c in s):
            continue
        if len(groups) >= 6 and all(len(g) == 2 for g in groups):
            continue  # a MAC address or a Fibre Channel WWN, written in bytes
        try:
            address = ipaddress.IPv6Address(s)
        except ValueError:
            continue
        if _public(address, public_only):
            out.append(m.span())
    return out


def _phones(text: str, _: bool) -> list[tuple[int, int]]:
    out = []
    for m in PHONE.finditer(text):
        s = m.group()
        digits = sum(c.isdigit() for c in s)
        if _DOTTED_QUAD.search(s) or _ZIP_PLUS_4.fullmatch(s) or _SAME_SHORT_GROUPS.fullmatch(s):
            continue
        if _DATE_START.match(s) or _MIXED_SEPARATORS.fullmatch(s):
            continue
        if s.startswith("+"):
            ok = 8 <= digits <= 15
        elif s.startswith("0") or s.startswith("(0"):
            ok = 9 <= digits <= 12
        else:
            ok = digits in (10, 11)
        if (
            ok
            and not _NOT_A_PHONE_BEFORE.search(text, max(0, m.start() - 12), m.start())
            and not _continues_a_number(text, m.start())
            and not _NUMBER_GROUP_AFTER.match(text, m.end())
        ):
            out.append(m.span())
    return out


def _card_groups_ok(s: str) -> bool:
    separators = {c for c in s if not c.isdigit()}
    if not separators:
        return True
    if len(separators) > 1:
        return False
    groups = [len(g) for g in s.split(separators.pop())]
    return all(g == 4 for g in groups[:-1]) or groups in ([4, 6, 5], [4, 6, 4])


def _cards(text: str, _: bool) -> list[tuple[int, int]]:
    """A candidate that fails may hold a card followed by another number (`4111111111111111 1668`): its
    prefixes that end at a separator are tried, longest first."""
    out = []
    for m in CARD.finditer(text):
        if _continues_a_number(text, m.start()):
            continue
        s = m.group()
        ends = [len(s)] + [i for i in range(len(s) - 1, 0, -1) if not s[i].isdigit()]
        for end in ends:
            digits = "".join(c for c in s[:end] if c.isdigit())
            if 12 <= len(digits) <= 19 and _card_groups_ok(s[:end]) and is_card_number(digits):
                out.append((m.start(), m.start() + end))
                break
    return out


def _ibans(text: str, _: bool) -> list[tuple[int, int]]:
    """A candidate may run on into the next upper-case word: it is cut at the country's length."""
    out = []
    for m in IBAN.finditer(text):
        length = IBAN_LENGTHS.get(m.group()[:2])
        if length is None:
            continue
        end, taken = m.start(), 0
        while end < m.end() and taken < length:
            taken += text[end] != " "
            end += 1
        if taken != length or (end < len(text) and text[end].isalnum()):
            continue
        if iban_valid(text[m.start() : end].replace(" ", "")):
            out.append((m.start(), end))
    return out


_FINDERS = {"email": _emails, "ipv4": _ipv4, "ipv6": _ipv6, "phone": _phones, "card": _cards, "iban": _ibans}
_NEEDS = {"email": "@", "ipv6": ":"}
_DIGIT = re.compile(r"\d")  # a cheap test that rules a kind out for most texts


def find(text: str, kinds: tuple[str, ...] = KINDS, public_ips_only: bool = True) -> list[Found]:
    """Every PII span of the chosen kinds, in text order; where two kinds propose overlapping text, the
    kind earlier in ORDER keeps it."""
    taken: list[Found] = []
    has_digit = _DIGIT.search(text) is not None
    for kind in ORDER:
        if kind not in kinds or (_NEEDS.get(kind, "") not in text) or (kind != "email" and not has_digit):
            continue
        for start, end in _FINDERS[kind](text, public_ips_only):
            if all(end <= f.start or start >= f.end for f in taken):
                taken.append(Found(kind, start, end))
    return sorted(taken, key=lambda f: f.start)


def replace(text: str, found: list[Found], placeholders: dict[str, str]) -> str:
    parts, pos = [], 0
    for f in found:
        parts += [text[pos : f.start], placeholders[f.kind]]
        pos = f.end
    return "".join([*parts, text[pos:]])
