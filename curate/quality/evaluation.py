"""How good a quality classifier is, and whether it knows more than document length.

`assess` scores a labelled held-out set: ROC AUC with a 95% bootstrap interval, the same for a length-only
baseline (the number of words, longer or shorter first, whichever ranks this set better: the comparison
is conservative), the paired difference between the two, and the AUC within each length quartile
(length-controlled: among documents of about the same length, how often a good one outranks a bad one).
The bootstrap resamples *groups* (source documents: the paragraphs of one book are not independent
evidence), within strata of the classes a group holds, so every resample keeps both classes.

A model is *weak* when its AUC is not clearly above chance (the interval's lower end ≤ 0.5) or not clearly
above the length baseline (the paired difference is ≤ 0, or its interval's lower end < 0): it may have
learned nothing, or nothing beyond length. A perfect model on a set that length also separates perfectly
is weak by this rule: that held-out set cannot show that it knows more than length. `curate
train-classifier` refuses a weak model unless `--allow-weak`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from curate.quality.metrics import roc_auc

RESAMPLES = 1000  # bootstrap resamples: the 2.5% and 97.5% percentiles move by < 0.005 beyond this
CONFIDENCE = 0.95


def _group_resamples(groups: np.ndarray, labels: np.ndarray, seed: int, resamples: int) -> list[np.ndarray]:
    """Index arrays, one per resample: groups drawn with replacement within strata of the classes they
    hold (positive only, negative only, both), so each resample keeps both classes."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    strata: dict[tuple, list[np.ndarray]] = defaultdict(list)
    for idx in members.values():
        strata[tuple(sorted(set(labels[idx].tolist())))].append(np.array(idx))
    rng = np.random.default_rng(seed)
    return [
        np.concatenate(
            [names[j] for names in strata.values() for j in rng.integers(0, len(names), len(names))]
        )
        for _ in range(resamples)
    ]


def _interval(values: np.ndarray) -> list[float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    return [round(float(np.percentile(values, tail)), 4), round(float(np.percentile(values, 100 - tail)), 4)]


def length_quartile_aucs(labels: np.ndarray, scores: np.ndarray, lengths: np.ndarray) -> dict:
    """AUC within each quartile of length, and their mean over the quartiles holding both classes."""
    edges = np.quantile(lengths, [0.25, 0.5, 0.75])
    quartile = np.searchsorted(edges, lengths, side="right")
    per = {}
    for q in range(4):
        inside = quartile == q
        auc = roc_auc(labels[inside], scores[inside])
        per[f"q{q + 1}"] = {
            "docs": int(inside.sum()), "positive": int(labels[inside].sum()),
            "roc_auc": None if np.isnan(auc) else round(auc, 4),  # None: one class only (JSON has no NaN)
            "words": [int(lengths[inside].min()), int(lengths[inside].max())] if inside.any() else None,
        }  # fmt: skip
    valid = [v["roc_auc"] for v in per.values() if v["roc_auc"] is not None]
    return {"mean": round(float(np.mean(valid)), 4) if valid else None, "quartiles": per}


def assess(labels, scores, lengths, groups=None, seed: int = 0, resamples: int = RESAMPLES) -> dict:
    """The numbers of the module docstring for one labelled set (see there)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=float)
    lengths = np.asarray(lengths, dtype=float)
    groups = np.arange(len(labels)).astype(str) if groups is None else np.asarray(groups).astype(str)
    length_sign = 1.0 if roc_auc(labels, lengths) >= 0.5 else -1.0
    baseline = length_sign * lengths
    boot = np.array(
        [
            (roc_auc(labels[i], scores[i]), roc_auc(labels[i], baseline[i]))
            for i in _group_resamples(groups, labels, seed, resamples)
        ]
    )  # (resamples, 2): the model's AUC and the length baseline's
    model_boot, length_boot = boot[:, 0], boot[:, 1]
    auc, length_auc = roc_auc(labels, scores), roc_auc(labels, baseline)
    result = {
        "docs": int(labels.size), "positive": int(labels.sum()), "negative": int((~labels).sum()),
        "groups": len(set(groups.tolist())),
        "roc_auc": round(auc, 4), "roc_auc_interval": _interval(model_boot),
        "length_baseline": {
            "feature": "words (longer first)" if length_sign > 0 else "words (shorter first)",
            "roc_auc": round(length_auc, 4), "roc_auc_interval": _interval(length_boot),
        },
        "auc_minus_length": round(auc - length_auc, 4),
        "auc_minus_length_interval": _interval(model_boot - length_boot),
        "length_controlled": length_quartile_aucs(labels, scores, lengths),
        "bootstrap": {"resamples": resamples, "by": "group", "confidence": CONFIDENCE, "seed": seed},
    }  # fmt: skip
    result["weak"] = weakness(result)
    return result


def weakness(result: dict) -> str | None:
    """Why a model is weak (see the module docstring), or None."""
    low, _ = result["roc_auc_interval"]
    if not low > 0.5:  # NaN (one class only) is weak too
        return (
            f"its held-out ROC AUC {result['roc_auc']:.3f} is not clearly above chance "
            f"(95% interval {low:.3f}-{result['roc_auc_interval'][1]:.3f})"
        )
    diff_low, diff_high = result["auc_minus_length_interval"]
    # A lower end of exactly 0 with a positive difference is the ceiling (both AUCs 1 in some resamples).
    if diff_low < 0 or result["auc_minus_length"] <= 0:
        return (
            f"its held-out ROC AUC {result['roc_auc']:.3f} is not clearly above that of document length "
            f"alone ({result['length_baseline']['roc_auc']:.3f}; difference "
            f"{result['auc_minus_length']:+.3f}, 95% interval {diff_low:+.3f} to {diff_high:+.3f})"
        )
    return None
