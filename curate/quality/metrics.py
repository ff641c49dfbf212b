"""Classifier metrics without extra dependencies: ROC AUC (Mann-Whitney, ties averaged) and accuracy."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random negative."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)  # ties get their average rank
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    return float(np.mean((np.asarray(scores) >= threshold) == np.asarray(labels).astype(bool)))


def balanced_accuracy_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the best balanced accuracy (mean of the two classes' recalls)."""
    labels, scores = np.asarray(labels).astype(bool), np.asarray(scores, dtype=float)
    if labels.all() or not labels.any():
        return 0.5
    candidates = np.unique(np.quantile(scores, np.linspace(0.01, 0.99, 197)))
    balanced = [0.5 * ((scores[labels] >= t).mean() + (scores[~labels] < t).mean()) for t in candidates]
    return float(candidates[int(np.argmax(balanced))])
