"""Tests for curate.quality.heuristics: each rule trips on a small made-up document and passes prose."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from curate.errors import ConfigError
from curate.quality.heuristics import (
    RULES,
    SIGNAL_GROUPS,
    Rule,
    _ngram_chars,
    compute_signals,
    compute_signals_batch,
    evaluate_rules,
    split_words,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

PROSE = (
    "The river rises in the hills to the north of the town and reaches the sea after a long journey.\n"
    "Farmers have used its water for centuries, and that is why the valley is green in summer.\n"
    "Each spring the snow melts, the level climbs quickly, and the old stone bridge is closed for a week.\n"
    "Visitors often ask whether the floods are dangerous. They rarely are, because the banks were raised.\n"
    "A small museum beside the mill explains the history of the canal with maps, photographs and tools."
)

_PHRASE = "one two three four five six seven eight nine ten"

# rule name -> a short document that fails the rule (each rule is tested on its own)
TRIPS: dict[str, str] = {
    "gopher.min_words": "The cat sat on the mat, and that was the end of it.",
    "gopher.max_words": "the " * 100_001,
    "gopher.min_mean_word_length": "to be or of in it as at by we " * 8,
    "gopher.max_mean_word_length": "internationalization characteristically " * 30,
    "gopher.max_hash_ratio": "#tag word " * 30,
    "gopher.max_ellipsis_ratio": "wait... " * 60,
    "gopher.max_bullet_lines": "\n".join(f"- item number {i}" for i in range(20)),
    "gopher.max_ellipsis_lines": "\n".join(f"and then line {i} went on…" for i in range(20)),
    "gopher.min_alpha_words": " ".join(str(i) for i in range(100)),
    "gopher.min_stop_words": "Cats sleep. Dogs bark. Birds sing. The end.",
    "gopher.max_dup_para_fraction": "\n\n".join(["Buy now, limited offer."] * 4 + ["Contact us today."]),
    "gopher.max_dup_para_chars": "\n\n".join(["Buy now, limited offer."] * 4 + ["Contact us today."]),
    "gopher.max_dup_line_fraction": "\n".join(["Add to cart"] * 5 + ["Checkout"]),
    "gopher.max_dup_line_chars": "\n".join(["Add to cart"] * 5 + ["Checkout"]),
    "gopher.max_top_2gram": "the cat " * 30,
    "gopher.max_top_3gram": "the cat sat " * 30,
    "gopher.max_top_4gram": "the cat sat down " * 30,
    **{f"gopher.max_dup_{n}gram": f"{PROSE} {_PHRASE} {_PHRASE} {_PHRASE} {_PHRASE}" for n in range(5, 11)},
    "c4.lorem_ipsum": PROSE + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "c4.curly_bracket": PROSE + "\nCall the function f() { return 1; } to see it.",
    "c4.min_sentences": "Only one sentence is here.\nAnd a second one.",
    "fineweb.min_terminal_punct_lines": "Home\nAbout us\nProducts\nContact\nLogin",
    "fineweb.max_short_lines": "Short.\nAlso short.\nTiny.\nA very much longer line that goes on and on.",
    "fineweb.max_dup_line_chars": PROSE + "\nSubscribe to our newsletter.\nSubscribe to our newsletter.",
    "fineweb.max_newline_word_ratio": "\n".join("apples pears" for _ in range(20)),
}


def _first_failure(text: str, rule: Rule) -> str | None:
    return evaluate_rules(compute_signals_batch([text], [rule.group]), [rule])[0]


def test_every_rule_has_a_tripping_document():
    assert set(TRIPS) == {rule.name for rule in RULES}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_rule_trips_on_bad_document(rule: Rule):
    assert _first_failure(TRIPS[rule.name], rule) == rule.name


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_rule_passes_clean_prose(rule: Rule):
    assert _first_failure(PROSE, rule) is None


def test_thresholds_are_inclusive_like_datatrove():
    fifty = " ".join(["the"] + [f"word{i}" for i in range(49)])
    forty_nine = " ".join(["the"] + [f"word{i}" for i in range(48)])
    min_words = next(rule for rule in RULES if rule.name == "gopher.min_words")
    assert compute_signals(fifty, ["gopher_quality"])["gopher.word_count"] == 50
    assert _first_failure(fifty, min_words) is None
    assert _first_failure(forty_nine, min_words) == "gopher.min_words"


def test_batch_equals_one_document_at_a_time():
    texts = [
        PROSE,
        "",
        "   \n\n  ",
        "\n",
        TRIPS["gopher.max_bullet_lines"],
        TRIPS["c4.lorem_ipsum"],
        "Ünïcödé ½ — “quotes”…",
    ]
    batch = compute_signals_batch(texts, SIGNAL_GROUPS)
    assert set(batch) == {name for names in SIGNAL_GROUPS.values() for name in names}
    for i, text in enumerate(texts):
        one = compute_signals(text, SIGNAL_GROUPS)
        assert {name: column[i] for name, column in batch.items()} == pytest.approx(one)
    assert all(column.dtype == np.float64 and column.shape == (len(texts),) for column in batch.values())


def test_empty_text_scores_zero_and_fails_min_words():
    signals = compute_signals("", SIGNAL_GROUPS)
    assert set(signals.values()) == {0.0}
    batch = compute_signals_batch([""], SIGNAL_GROUPS)
    assert evaluate_rules(batch, RULES)[0] == "gopher.min_words"


def test_no_documents_gives_empty_columns():
    batch = compute_signals_batch([], ["c4"])
    assert all(len(column) == 0 for column in batch.values())
    assert evaluate_rules(batch, RULES[-7:-4]).shape == (0,)


def test_unknown_group_names_the_valid_ones_and_the_closest():
    with pytest.raises(ConfigError, match=r"'gopher_qualty'.*c4, fineweb.*Did you mean 'gopher_quality'"):
        compute_signals("text", ["gopher_qualty"])
    with pytest.raises(ConfigError, match="valid groups"):
        compute_signals_batch(["text"], ["c5", "fineweb"])


def test_a_group_may_be_given_as_one_string():
    assert set(compute_signals(PROSE, "fineweb")) == set(SIGNAL_GROUPS["fineweb"])


def test_evaluate_rules_reports_the_first_failure_in_rule_order():
    rules = [
        Rule("a.min", "gopher_quality", "gopher.word_count", ">=", 50, "test"),
        Rule("b.max", "gopher_quality", "gopher.mean_word_length", "<=", 10, "test"),
    ]
    signals = {
        "gopher.word_count": np.array([10.0, 60.0, 60.0, np.nan]),
        "gopher.mean_word_length": np.array([20.0, 20.0, 5.0, 5.0]),
    }
    assert list(evaluate_rules(signals, rules)) == ["a.min", "b.max", None, "a.min"]  # NaN fails


def test_evaluate_rules_names_the_group_of_a_missing_signal():
    with pytest.raises(ConfigError, match="compute the 'fineweb' group"):
        evaluate_rules(
            compute_signals_batch([PROSE], ["c4"]), [r for r in RULES if r.group in ("c4", "fineweb")]
        )


def test_rule_rejects_unknown_op_and_signal():
    with pytest.raises(ConfigError, match="op '=>'"):
        Rule("x", "c4", "c4.sentence_count", "=>", 5, "test")
    with pytest.raises(ConfigError, match=r"has no signal 'c4\.sentences'"):
        Rule("x", "c4", "c4.sentences", ">=", 5, "test")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Don't panic, it's fine.", ["Do", "n't", "panic", ",", "it", "'s", "fine", "."]),
        ("A well-known (e.g. U.S.) fact: 3,000 at 10:30.",
         ["A", "well", "-", "known", "(", "e.g.", "U.S.", ")", "fact", ":", "3,000", "at", "10:30", "."]),
        ("Mr. Smith paid $5.99 for 50% off... wow!",
         ["Mr.", "Smith", "paid", "$", "5.99", "for", "50", "%", "off", "...", "wow", "!"]),
        ("See https://example.com/a?b=1). Thats it",
         ["See", "https://example.com/a?b=1", ")", ".", "That", "s", "it"]),
    ],
)  # fmt: skip
def test_split_words_matches_spacy_english(text: str, words: list[str]):
    assert split_words(text) == words


def _reference_ngram_chars(words: list[str]) -> tuple[dict[int, int], dict[int, int]]:
    """datatrove's definitions written plainly, with word tuples instead of joined strings."""
    top = {}
    for n in (2, 3, 4):
        ngrams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        if ngrams:
            ngram, count = Counter(ngrams).most_common(1)[0]
            top[n] = len(" ".join(ngram)) * count
        else:
            top[n] = 0
    dup = {}
    for n in range(5, 11):
        seen, repeated_chars, i = set(), 0, 0
        while i < len(words) - n + 1:
            ngram = tuple(words[i : i + n])
            if ngram in seen:
                repeated_chars += len("".join(ngram))
                i += n
            else:
                seen.add(ngram)
                i += 1
        dup[n] = repeated_chars
    return top, dup


@pytest.mark.parametrize("seed", range(20))
def test_ngram_statistics_match_the_plain_definition(seed: int):
    rng = random.Random(seed)
    vocabulary = ["a", "bb", "ccc", "the", "of", "x"][: rng.randint(2, 6)]
    words = [rng.choice(vocabulary) for _ in range(rng.randint(0, 120))]
    assert _ngram_chars(words) == _reference_ngram_chars(words)


@pytest.fixture(scope="module")
def real_documents() -> dict[str, str]:
    lee = DATA / "reference" / "wikipedia_gensim_sample" / "lee_background.cor"
    c4 = DATA / "web" / "recdp_tiny_c4" / "tiny_c4_sample.jsonl"
    if not (lee.exists() and c4.exists()):
        pytest.skip(f"shared real data not found at {DATA} (it sits beside the repository in CI)")
    news = lee.read_text(encoding="utf-8").splitlines()[1].strip()  # one ABC news article per line
    c4_texts = [json.loads(line)["text"] for line in c4.read_text(encoding="utf-8").splitlines()]
    spam = next(text for text in c4_texts if text.startswith("wing back chair covers"))  # keyword stuffing
    return {"news": news, "spam": spam}


def test_real_news_article_passes_every_rule(real_documents):
    signals = compute_signals_batch([real_documents["news"]], SIGNAL_GROUPS)
    assert evaluate_rules(signals, RULES)[0] is None


def test_real_spammy_c4_page_trips_rules(real_documents):
    signals = compute_signals_batch([real_documents["spam"]], SIGNAL_GROUPS)
    failed = [rule.name for rule in RULES if evaluate_rules(signals, [rule])[0] is not None]
    assert {"gopher.max_top_2gram", "gopher.max_top_4gram", "gopher.max_dup_5gram"} <= set(failed)
