"""PII: the checksums, look-alikes that must not match, the stage's modes, and a labelled set built from
real text (precision and recall per kind)."""

from __future__ import annotations

import random
import uuid
from collections import Counter

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.errors import ConfigError
from curate.pii.checksums import card_brand, iban_valid, luhn_valid
from curate.pii.detectors import KINDS, find
from curate.pii.stage import Pii, PiiParams
from curate.pipeline.spec import pipeline_from_mapping
from tests.pii import labelled_set

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)


def kinds_found(text: str, **kw) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in find(text, **kw)]


# --- checksums ------------------------------------------------------------------------------------------


@SETTINGS
@given(seed=st.integers(0, 2**32), position=st.integers(0, 18), delta=st.integers(1, 9))
def test_luhn_accepts_generated_cards_and_rejects_every_single_digit_change(seed, position, delta):
    number = labelled_set.card(random.Random(seed)).replace(" ", "").replace("-", "")
    assert luhn_valid(number) and card_brand(number) is not None
    i = position % len(number)
    changed = number[:i] + str((int(number[i]) + delta) % 10) + number[i + 1 :]
    assert not luhn_valid(changed)


@SETTINGS
@given(seed=st.integers(0, 2**32), position=st.integers(0, 33), shift=st.integers(1, 25))
def test_iban_check_accepts_generated_ibans_and_rejects_every_single_character_change(seed, position, shift):
    """Mod 97 catches any change of one digit to another digit or of one letter to another letter after
    the country code (a letter is two digits of the number, 10-35)."""
    iban = labelled_set.iban(random.Random(seed)).replace(" ", "")
    assert iban_valid(iban)
    i = 2 + position % (len(iban) - 2)
    ch = iban[i]
    other = str((int(ch) + shift % 9 + 1) % 10) if ch.isdigit() else chr((ord(ch) - 65 + shift) % 26 + 65)
    assert not iban_valid(iban[:i] + other + iban[i + 1 :])


def test_known_good_numbers():
    assert luhn_valid("4111111111111111") and card_brand("4111111111111111") == "visa"
    assert card_brand("378282246310005") == "amex" and luhn_valid("378282246310005")
    assert iban_valid("GB82WEST12345698765432") and iban_valid("DE89370400440532013000")
    assert not iban_valid("GB82WEST12345698765433") and not iban_valid("XX82WEST12345698765432")


# --- look-alikes ----------------------------------------------------------------------------------------

octet = st.integers(0, 255)


@SETTINGS
@given(
    a=octet, b=octet, c=octet, d=octet, word=st.sampled_from(["version", "v", "release", "Section", "rev."])
)
def test_version_and_section_numbers_are_not_ip_addresses(a, b, c, d, word):
    sep = "" if word == "v" else " "
    assert kinds_found(f"Upgrade to {word}{sep}{a}.{b}.{c}.{d} today.") == []
    assert kinds_found(f"Built from {a}.{b}.{c}.{d}.{a % 9} sources") == []  # five parts: not an address


@SETTINGS
@given(day=st.integers(1, 28), month=st.integers(1, 12), year=st.integers(1900, 2099))
def test_dates_and_times_are_not_pii(day, month, year):
    text = (
        f"On {year}-{month:02d}-{day:02d}, {day:02d}/{month:02d}/{year} or {day:02d}.{month:02d}.{year} "
        f"at {day % 24:02d}:{month:02d}:{day:02d} ({year}-{month:02d}-{day:02d}T10:30:00Z), "
        f"{year}-{year + 1}."
    )
    assert kinds_found(text) == []


@SETTINGS
@given(n=st.integers(0, 10**15), digits=st.text("0123456789abcdef", min_size=7, max_size=64))
def test_ordinary_numbers_hashes_and_uuids_are_not_pii(n, digits):
    text = f"A total of {n:,} units, hash {digits}, id {uuid.UUID(int=n)}, {n / 7:.4f} and {n} in all."
    found = kinds_found(text)
    # a plain run of 12-19 digits is a card only with an issuer's prefix, length and Luhn digit
    assert all(k == "card" and card_brand(v) and luhn_valid(v) for k, v in found), found


def test_code_and_near_misses_are_not_pii():
    text = (
        "std::vector<int> a::b Foo::bar() dead::beef @property icon@2x.png logo@3x.jpg x = a@b.T "
        "0x7fff5fbff8a0 MAC 00:1A:2B:3C:4D:5E WWN 21:00:00:24:ff:27:8f:ae Firefox/2.0.0.11 pkg==3.1.1.3 "
        "uGuru 2.0.0.0 ~ 2.0.4.2 ISBN 978-3-16-148410-0 ISBN 0 306 40615 2 pages 123-456 90210-1234 "
        "4111 1111 1111 1112 GB82 WEST 1234 5698 7654 33 https://example.org/posts/2395361813834269 "
        "bytes 04 00 03 00 00 10 00 58 and 127.0.0.1, 192.168.1.1, 10.0.0.5, ::1, fe80::1ff:fe23:4567:890a\n"
        "2.1.1.3 Fragmentation is covered below. echo +192.168.1.1 > targets; Boston, MA 02111-1307, USA; "
        "combinations --> 012 013 023 123; zlib 1.2.0.1; novas-3.1.1.3.tar.gz; statistics (30.3.1.1.*); "
        "Por Adriano 03/05/2022 20:36 Luana; Clause 252.227-7013 (c) of DFARs; "
        ".netmask: IPv6Address('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0')."
    )  # the last lines: look-alikes found in the Linux and Python documentation
    assert kinds_found(text) == []
    private = "hosts 192.168.1.1 and fe80::1ff:fe23:4567:890a"
    assert [k for k, _ in kinds_found(private, public_ips_only=False)] == ["ipv4", "ipv6"]


def test_every_kind_is_found_with_its_exact_span():
    text = (
        "Mail anna.berg@uni-heidelberg.de, from 93.184.216.34 or 2606:2800:220:1:248:1893:25c8:1946; "
        "call (415) 555-0132 or +44 (0)20 7946 0958; card 3782 822463 10005; "
        "IBAN GB82 WEST 1234 5698 7654 32."
    )
    assert kinds_found(text) == [
        ("email", "anna.berg@uni-heidelberg.de"),
        ("ipv4", "93.184.216.34"),
        ("ipv6", "2606:2800:220:1:248:1893:25c8:1946"),
        ("phone", "(415) 555-0132"),
        ("phone", "+44 (0)20 7946 0958"),
        ("card", "3782 822463 10005"),
        ("iban", "GB82 WEST 1234 5698 7654 32"),
    ]


# --- the stage ------------------------------------------------------------------------------------------


def frame(texts):
    return pd.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts, "source": "t"})


def test_redact_replaces_with_placeholders_and_flag_only_counts():
    texts = ["Write to li.wang@proton.me or call 020 7946 0958.", "Nothing here but version 1.2.3.4."]
    out = Pii(PiiParams(placeholders={"phone": "[phone]"})).apply(frame(texts))
    assert out.kept["text"].tolist() == ["Write to <EMAIL> or call [phone].", texts[1]]
    assert out.kept["pii_email"].tolist() == [1, 0] and out.kept["pii_phone"].tolist() == [1, 0]
    assert out.counters["found:email"] == 1 and out.counters["documents_with_pii"] == 1
    assert out.removed.empty
    flagged = Pii(PiiParams(mode="flag", kinds=["email"])).apply(frame(texts)).kept
    assert flagged["text"].tolist() == texts and flagged["pii_phone"].tolist() == [0, 0]


def test_an_unknown_placeholder_kind_is_one_sentence():
    with pytest.raises(ConfigError, match=r"unknown kind 'emails'\. Did you mean 'email'"):
        pipeline_from_mapping(
            {
                "name": "t",
                "input": {"paths": ["x"]},
                "stages": [{"stage": "pii", "placeholders": {"emails": "x"}}],
            }
        )


# --- the labelled set from real text --------------------------------------------------------------------


def test_precision_and_recall_per_kind_on_planted_pii_in_real_text(shared_data):
    examples = labelled_set.build(shared_data, n_docs=1200, seed=1)
    stage = Pii(PiiParams(mode="flag"))
    counts = stage.apply(frame([e.text for e in examples])).kept
    tp, predicted, labelled = Counter(), Counter(), Counter()
    for e, (_, row) in zip(examples, counts.iterrows()):
        labels = set(e.labels)
        found = find(e.text)
        for f in found:
            predicted[f.kind] += 1
            tp[f.kind] += (f.kind, f.start, f.end) in labels
        labelled.update(k for k, _, _ in e.labels)
        assert [row[f"pii_{k}"] for k in KINDS] == [sum(f.kind == k for f in found) for k in KINDS]
    for kind in KINDS:
        precision, recall = tp[kind] / max(predicted[kind], 1), tp[kind] / labelled[kind]
        assert labelled[kind] >= 300, kind
        assert precision >= 0.99 and recall >= 0.95, f"{kind}: precision {precision:.3f}, recall {recall:.3f}"
