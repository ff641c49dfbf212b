"""fastText training in a process of its own, which imports fastText and nothing else.

Two reasons for the process: fasttext 0.9.3 can fail with "Encountered NaN" when a process trains a second
model; and it fails the same way when trained in a process that has loaded some other libraries (seen with
requests installed: numpy.f2py, which scipy imports, then loads charset-normalizer's compiled modules, and
the training of `tests/sweep/test_pool.py`'s model stopped with NaN every time). So the training runs in a
spawned process whose target lives here, in a module that imports only the standard library until the
child imports fasttext itself.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path


def _train(train_file: str, output: str, p: dict) -> None:
    """Runs in the spawned process."""
    import fasttext

    model = fasttext.train_supervised(
        input=train_file, dim=p["dim"], epoch=p["epoch"], lr=p["lr"], wordNgrams=p["word_ngrams"],
        minCount=p["min_count"], bucket=p["bucket"], thread=p["threads"], seed=p["seed"], loss="softmax",
        minn=0, maxn=0, verbose=0,
    )  # fmt: skip
    if p["quantize"]:
        model.quantize(input=train_file, qnorm=True, retrain=False, cutoff=p["cutoff"], dsub=2)
    model.save_model(output)


def fit(train_file: str, output: str, params: dict) -> None:
    """Train a supervised fastText model on `train_file` (one `__label__X text` line per example) and save
    it to `output`; `params` are the TrainParams fields."""
    proc = multiprocessing.get_context("spawn").Process(target=_train, args=(train_file, output, params))
    proc.start()
    proc.join()
    if proc.exitcode != 0 or not Path(output).is_file():
        raise RuntimeError(f"fastText training failed (exit code {proc.exitcode})")
