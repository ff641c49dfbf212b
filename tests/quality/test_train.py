"""`curate train-classifier` on what users have: books as files, imbalanced classes, weak models, and the
honest held-out numbers of the model card (issue 18)."""

from __future__ import annotations

import json
import random
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from curate.cli import main
from curate.errors import UserError
from curate.quality import fingerprints as fpr
from curate.quality.evaluation import assess, length_quartile_aucs
from curate.quality.metrics import roc_auc
from curate.quality.train import TrainParams, train_classifier
from curate.quality.units import (
    NEGATIVE,
    POSITIVE,
    Doc,
    Unit,
    balanced_examples,
    held_out_groups,
    split_units,
    units_of,
)
from tests.conftest import PROSE, write_jsonl
from tests.quality.test_stages import BAD, GOOD

FAST = {"dim": 8, "epoch": 10, "min_count": 1, "bucket": 20_000, "quantize": False}
FAST_SET = [arg for k, v in FAST.items() for arg in ("--set", f"{k}={str(v).lower()}")]
SENTENCES = GOOD + PROSE


def book_text(seed: int, paragraphs: int = 80) -> str:
    """A long plain-text 'book': a title, then paragraphs of prose hard-wrapped at 70 columns."""
    rng = random.Random(seed)
    body = [textwrap.fill(" ".join(rng.sample(SENTENCES, rng.randint(2, 5))), 70) for _ in range(paragraphs)]
    return f"BOOK {seed}\n\nCHAPTER I\n\n" + "\n\n".join(body) + "\n"


def spam_docs(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"text": " ".join(rng.sample(BAD, rng.randint(1, 4)))} for _ in range(n)]


def write_books(folder, n: int, first_seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"book-{i}.txt").write_text(book_text(first_seed + i), encoding="utf-8")


def run_cli(args: list[str]):
    return CliRunner().invoke(main, ["train-classifier", *args, *FAST_SET])


def test_five_books_as_files_train_on_their_paragraphs(tmp_path):
    """Five .txt books against web spam were refused ("5 positive and 362 negative training documents")."""
    write_books(tmp_path / "books", 5)
    write_jsonl(tmp_path / "web" / "spam.jsonl", spam_docs(80, 1))
    model = tmp_path / "m" / "books-v1.bin"
    result = run_cli(["-p", str(tmp_path / "books"), "-n", str(tmp_path / "web"), "-o", str(model)])
    assert result.exit_code == 0, result.output
    card = json.loads(model.with_suffix(".json").read_text())
    data, held = card["data"], card["holdout"]
    assert card["hyperparameters"]["text_unit"] == "auto" and held["unit"] == "paragraph"
    assert data["train"]["hq"] == 3 and data["holdout"]["hq"] == 2  # two whole books held out, not one
    assert data["train_units"]["hq"] > 150  # paragraphs, not 3 documents
    assert data["train_examples_by_class"]["hq"] == data["train_examples_by_class"]["lq"]
    assert held["positive"] > 100 and held["roc_auc"] > 0.95 and held["weak"] is None
    # The fingerprints are those of the whole books trained on (a sweep pool holds whole documents).
    books = [f.read_text() for f in sorted((tmp_path / "books").glob("*.txt"))]
    assert fpr.contained(fpr.fingerprints(books), fpr.load(model, card)).sum() == 3


def test_a_document_level_imbalance_gives_a_balanced_example_set(tmp_path):
    """Twelve books against 200 short web documents: balanced on the windows trained on, not documents
    (it trained on "10 + 10 documents", thousands of windows against a few)."""
    write_books(tmp_path / "books", 12, first_seed=10)
    write_jsonl(tmp_path / "web" / "spam.jsonl", spam_docs(200, 2))
    model = tmp_path / "imbalanced-v1.bin"
    card = train_classifier(
        [str(tmp_path / "books")], [str(tmp_path / "web")], str(model),
        TrainParams(**FAST, text_unit="file", chunk_words=16), log=lambda m: None, allow_weak=True,
    )  # fmt: skip
    # Whole books against short pages: length alone separates them, which the card says.
    assert "not clearly above that of document length" in card["holdout"]["weak"]
    data = card["data"]
    assert data["train_windows_available"]["hq"] > 4 * data["train_windows_available"]["lq"]
    assert data["train_examples_by_class"] == {"hq": data["train_windows_available"]["lq"]} | {
        "lq": data["train_windows_available"]["lq"]
    }
    assert data["train"]["lq"] == 200 - data["holdout"]["lq"]  # every negative trained on
    assert data["holdout"] == {"hq": 2, "lq": 40}  # stratified: a fifth of each class


def test_balancing_down_samples_windows_of_the_larger_class():
    units = [Unit(POSITIVE, " ".join(["word"] * 1000), f"p{i}", i) for i in range(3)]
    units += [Unit(NEGATIVE, " ".join(["spam"] * 50), f"n{i}", 3 + i) for i in range(30)]
    examples, available = balanced_examples(units, 128, True, None, True, seed=0)
    assert available == {POSITIVE: 3 * 8, NEGATIVE: 30}  # 1000 words: 7 full windows and a tail of 104
    counts = {lab: sum(e.label == lab for e in examples) for lab in (POSITIVE, NEGATIVE)}
    assert counts == {POSITIVE: 24, NEGATIVE: 24}
    unbalanced, _ = balanced_examples(units, 128, True, None, False, seed=0)
    assert len(unbalanced) == 54


def test_identical_classes_are_refused_with_one_sentence(tmp_path):
    corpus = write_jsonl(
        tmp_path / "same.jsonl",
        [{"text": " ".join(random.Random(i).sample(SENTENCES, 3))} for i in range(300)],
    )
    model = tmp_path / "same-v1.bin"
    result = run_cli(["-p", str(corpus), "-n", str(corpus), "-o", str(model)])
    assert result.exit_code == 4
    errors = [line for line in result.output.splitlines() if line.startswith("curate: error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert "weak" in errors[0] and "not clearly above chance" in errors[0] and "--allow-weak" in errors[0]
    assert not model.exists() and not model.with_suffix(".json").exists()
    kept = run_cli(["-p", str(corpus), "-n", str(corpus), "-o", str(model), "--allow-weak", "--json"])
    assert kept.exit_code == 0 and model.exists()
    assert json.loads(model.with_suffix(".json").read_text())["holdout"]["weak"].startswith("its held-out")


def test_a_file_of_unknown_suffix_needs_format_and_trains_with_it(tmp_path):
    pos = write_jsonl(
        tmp_path / "good.cor", [{"text": " ".join(random.Random(i).sample(GOOD, 3))} for i in range(60)]
    )
    neg = write_jsonl(tmp_path / "bad.jsonl", spam_docs(60, 3))
    model = tmp_path / "cor-v1.bin"
    refused = run_cli(["-p", str(pos), "-n", str(neg), "-o", str(model)])
    assert refused.exit_code == 2 and "pass --format jsonl" in refused.output
    done = run_cli(["-p", str(pos), "-n", str(neg), "-o", str(model), "--format", "jsonl"])
    assert done.exit_code == 4 or done.exit_code == 0, done.output  # it reads the .cor file either way
    assert "cannot tell the format" not in done.output


def test_text_unit_line_makes_each_line_of_a_text_file_a_document(tmp_path):
    (tmp_path / "pos").mkdir()
    (tmp_path / "pos" / "news.txt").write_text(
        "\n".join(" ".join(random.Random(i).sample(GOOD, 3)) for i in range(80)) + "\n"
    )
    write_jsonl(tmp_path / "neg" / "n.jsonl", spam_docs(80, 4))
    card = train_classifier(
        [str(tmp_path / "pos")], [str(tmp_path / "neg")], str(tmp_path / "lines-v1.bin"),
        TrainParams(**FAST, text_unit="line", chunk_words=None), log=lambda m: None, allow_weak=True,
    )  # fmt: skip
    assert card["data"]["positive"]["docs"] == 80 and card["data"]["holdout"]["hq"] == 16


def test_the_held_out_split_is_stratified_by_group():
    docs = [Doc(POSITIVE, "t", f"book{i}", "paragraph") for i in range(5)]
    docs += [Doc(NEGATIVE, "t", f"web{i}", "file") for i in range(100)]
    held = held_out_groups(docs, 0.2, seed=0)
    assert sum(g.startswith("book") for g in held) == 2 and sum(g.startswith("web") for g in held) == 20
    assert held_out_groups(docs, 0.2, seed=0) == held != held_out_groups(docs, 0.2, seed=1)
    pages = [Doc(lab, "t", f"page{i}", "file") for i in range(10) for lab in (POSITIVE, NEGATIVE)]
    held = held_out_groups(pages, 0.2, seed=0)
    assert len(held) == 2  # a page holding both views counts for both classes
    units = units_of(docs, 1)
    assert {u.group for u in units if u.group in held_out_groups(docs, 0.2, 0)} <= held_out_groups(
        docs, 0.2, 0
    )
    with pytest.raises(UserError, match="only 1 positive document"):
        held_out_groups(docs[4:], 0.2, seed=0)


def test_paragraph_and_line_units_join_short_pieces():
    text = "CHAPTER I\n\nOne two three four five.\n  \nSix seven.\n\nEight nine ten eleven twelve thirteen."
    assert split_units(text, "paragraph", 5) == [
        "CHAPTER I\nOne two three four five.",
        "Six seven.\nEight nine ten eleven twelve thirteen.",
    ]
    assert split_units(text, "file", 5) == [text]
    assert split_units("a b\nc d e f g\nh", "line", 3) == ["a b\nc d e f g\nh"]
    assert split_units(" \n\n ", "paragraph", 5) == []


def test_assess_reports_intervals_a_length_baseline_and_length_controlled_auc():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.random(n) < 0.5
    lengths = np.where(labels, rng.lognormal(6, 0.5, n), rng.lognormal(5.5, 0.5, n))
    by_length = np.log(lengths) + rng.normal(0, 0.1, n)  # a "model" that only knows length
    result = assess(labels, by_length, lengths, seed=0, resamples=300)
    low, high = result["roc_auc_interval"]
    assert low < result["roc_auc"] < high and low > 0.6
    assert (
        abs(result["auc_minus_length"]) < 0.02
        and "not clearly above that of document length" in result["weak"]
    )
    assert abs(result["length_controlled"]["mean"] - 0.5) < 0.15  # within quartiles length says little
    knows = labels + rng.normal(0, 0.4, n)  # a model that knows something beyond length
    result = assess(labels, knows, lengths, seed=0, resamples=300)
    assert result["weak"] is None and result["length_controlled"]["mean"] > 0.7
    noise = rng.random(n)
    assert "not clearly above chance" in assess(labels, noise, lengths, seed=0, resamples=300)["weak"]


def test_the_bootstrap_resamples_groups_not_units():
    """A hundred paragraphs of each of four books are four pieces of evidence, not four hundred."""
    rng = np.random.default_rng(1)
    groups = np.repeat([f"g{i}" for i in range(8)], 100)
    labels = np.repeat([True] * 4 + [False] * 4, 100)
    book_effect = np.repeat(rng.normal(0, 1, 8), 100)
    scores = labels * 0.3 + book_effect + rng.normal(0, 0.1, 800)
    lengths = rng.integers(10, 100, 800)
    by_group = assess(labels, scores, lengths, groups, seed=0, resamples=300)["roc_auc_interval"]
    by_unit = assess(labels, scores, lengths, seed=0, resamples=300)["roc_auc_interval"]
    assert by_group[1] - by_group[0] > 3 * (by_unit[1] - by_unit[0])


def test_length_quartile_aucs_skip_quartiles_with_one_class():
    labels = np.array([True, False] * 4 + [True] * 4)
    out = length_quartile_aucs(labels, np.arange(12.0), np.arange(12))
    assert out["quartiles"]["q4"]["positive"] == 3 and out["quartiles"]["q4"]["roc_auc"] is None


GUTENBERG_TRAIN = [
    "austen-emma",
    "chesterton-brown",
    "melville-moby_dick",
    "milton-paradise",
    "whitman-leaves",
]


def paragraphs_of(text: str, min_words: int = 20) -> list[str]:
    return [p for p in split_units(text, "paragraph", 1) if len(p.split()) >= min_words]


def test_five_gutenberg_books_against_web_pages_separate_other_books_from_other_web_text(
    tmp_path, shared_data
):
    """Trained with defaults on five books against WebText, the model ranks paragraphs of the other
    Gutenberg books above documents of another web source (the tiny C4 sample)."""
    books = shared_data / "reference" / "gutenberg_nltk"
    for name in GUTENBERG_TRAIN:
        (tmp_path / "books").mkdir(exist_ok=True)
        (tmp_path / "books" / f"{name}.txt").write_bytes((books / f"{name}.txt").read_bytes())
    webtext = shared_data / "web/webtext_gpt2_output_fulldocs/webtext.train.first1408.jsonl"
    model = tmp_path / "books-v1.ftz"
    result = CliRunner().invoke(
        main, ["train-classifier", "-p", str(tmp_path / "books"), "-n", str(webtext), "-o", str(model)]
    )
    assert result.exit_code == 0, result.output
    others = [
        p
        for f in sorted(books.glob("*.txt"))
        if f.stem not in GUTENBERG_TRAIN
        for p in paragraphs_of(f.read_text(errors="replace"))
    ]
    c4 = [
        json.loads(line)["text"] for line in (shared_data / "web/recdp_tiny_c4/tiny_c4_sample.jsonl").open()
    ]
    from curate.pipeline.spec import build_stages
    from tests.quality.test_stages import frame

    stage = build_stages([{"stage": "quality_classifier", "model": str(model)}])[0]
    scores = stage.apply(frame(others + c4)).kept["quality_score"].to_numpy()
    labels = np.array([True] * len(others) + [False] * len(c4))
    assert len(others) > 2000 and roc_auc(labels, scores) >= 0.9


def test_models_lists_each_shipped_model_against_length():
    out = CliRunner().invoke(main, ["models"]).output
    assert "curate-web-quality-v2" in out and "curate-web-quality-v1" in out
    v2 = out[out.index("curate-web-quality-v2") :]
    assert "dclm_human_majority: ROC AUC 0.813 [0.771, 0.849], length alone 0.763" in v2


def test_fasttext_trains_in_a_process_that_imports_nothing_else():
    """Regression: with requests installed, the spawned trainer imported curate.quality.train, hence scipy,
    numpy.f2py and charset-normalizer's compiled modules, and training stopped with "Encountered NaN".
    The child's module must import nothing beyond the standard library (fastText comes inside the child)."""
    import subprocess
    import sys

    code = (
        "import sys, curate.quality.fasttext_fit; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'numpy', 'scipy', 'pandas', 'pyarrow', 'charset_normalizer', 'fasttext'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
