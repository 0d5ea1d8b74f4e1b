"""Classification metrics of a 0/1 classifier on held-out pairs (the original guide's table).

Rows are scored as one pool, not per query: this is the view in which a model separates
good matches from the rest; the ranking metrics of :mod:`eval.metrics` judge the order.
Accuracy alone misleads at a low base rate (predicting "no" everywhere scores 1 - base
rate), so the base rate comes with it, and average precision (the area under the
precision-recall curve, scikit-learn's step-wise definition) beside ROC-AUC.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
)

from eval.metrics.auc import roc_auc
from eval.metrics.ranked import ArrayLike, as_1d
from mentor_match.errors import InvalidParameterError

__all__ = ["classification_metrics"]


def classification_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, y_score: ArrayLike
) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (of the positive class, 1), ROC-AUC, average precision
    and the base rate (share of positives) of a classifier.

    ``y_true`` and ``y_pred`` are 0/1 labels; ``y_score`` the positive-class score used for
    ROC-AUC and average precision. Precision and recall are 0 (not an error) when nothing is
    predicted positive.

    >>> scores = classification_metrics([1, 0, 1, 0], [1, 1, 0, 0], [0.9, 0.8, 0.4, 0.1])
    >>> {name: round(value, 3) for name, value in scores.items()}
    {'accuracy': 0.5, 'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'roc_auc': 0.75, 'average_precision': 0.833, 'base_rate': 0.5}
    """
    func = "classification_metrics"
    labels = as_1d(y_true, "y_true", func)
    predicted = as_1d(y_pred, "y_pred", func)
    scores = as_1d(y_score, "y_score", func)
    if not len(labels) == len(predicted) == len(scores):
        raise InvalidParameterError(
            f"y_true, y_pred and y_score of {func} must have the same length. "
            f"Got {len(labels)}, {len(predicted)} and {len(scores)}."
        )
    for name, arr in (("y_true", labels), ("y_pred", predicted)):
        if not np.isin(arr, (0.0, 1.0)).all():
            raise InvalidParameterError(
                f"The '{name}' parameter of {func} must hold 0/1 labels. Got values "
                f"{np.unique(arr)[:5].tolist()}; threshold graded labels first (e.g. y > 0)."
            )
    labels_int, predicted_int = labels.astype(int), predicted.astype(int)
    return {
        "accuracy": float(accuracy_score(labels_int, predicted_int)),
        "precision": float(precision_score(labels_int, predicted_int, zero_division=0)),
        "recall": float(recall_score(labels_int, predicted_int, zero_division=0)),
        "f1": float(f1_score(labels_int, predicted_int, zero_division=0)),
        "roc_auc": roc_auc(labels, scores, threshold=0.5),
        "average_precision": float(average_precision_score(labels_int, scores)),
        "base_rate": float(labels_int.mean()),
    }
