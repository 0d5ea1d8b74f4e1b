"""The ranker's training snapshot: a seeded sample of its training feature rows and scores.

Published inside the ranker's folder as ``training_sample/`` (its own manifest, kind
``training-sample``: the column names, the rows sampled and the rows there were, checksums of
``features.npy`` and ``scores.npy``), so that monitoring can compare what the model was
trained on with what it scores in service (the PSI of :mod:`eval.monitor.psi`). Plain
float64 NumPy arrays saved with ``allow_pickle=False``; nothing is unpickled.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from mentor_match.artifacts import Manifest
from mentor_match.errors import ArtifactError, InvalidParameterError
from mentor_match.validation import check_int
from ranking.features import FEATURE_VERSION
from ranking.scorer import Scorer

logger = logging.getLogger(__name__)

__all__ = [
    "SAMPLE_FOLDER", "SAMPLE_ROWS", "TrainingSample", "draw_training_sample", "load_training_sample",
    "save_training_sample",
]

SAMPLE_FOLDER = "training_sample"
"""The sample's folder inside a ranker folder."""
SAMPLE_ROWS = 5000
"""Rows kept by default: enough for 10-bin PSI on every feature, about 1 MB on disk."""
KIND, VERSION = "training-sample", 1
FEATURES_FILE, SCORES_FILE = "features.npy", "scores.npy"
RETRAIN = "Retrain with scripts/train.py to publish a ranker with its training sample."


class TrainingSample(NamedTuple):
    """Sampled training rows (one column per feature, in the ranker's order) and their scores."""

    features: pd.DataFrame
    scores: np.ndarray  # the ranker's score of each row, float64
    total_rows: int  # training rows the sample was drawn from


def draw_training_sample(
    features: pd.DataFrame, scorer: Scorer, *, rows: int = SAMPLE_ROWS, seed: int = 0
) -> TrainingSample:
    """A seeded sample of ``rows`` of ``features`` (all of them when fewer), in their order,
    with ``scorer``'s score of each.

    >>> X = pd.DataFrame({"a": np.arange(10.0), "b": np.ones(10)})
    >>> class Sum:
    ...     def predict(self, X): return X.sum(axis=1).to_numpy()
    >>> sample = draw_training_sample(X, Sum(), rows=4, seed=1)
    >>> sample.features.shape, sample.total_rows, bool((sample.scores == sample.features["a"] + 1).all())
    ((4, 2), 10, True)
    """
    check_int("rows", rows, "draw_training_sample", low=1)
    chosen = np.sort(np.random.default_rng(seed).permutation(len(features))[:rows])
    picked = features.iloc[chosen].reset_index(drop=True)
    scores = np.asarray(scorer.predict(picked), dtype=np.float64)
    return TrainingSample(picked.astype(np.float64), scores, len(features))


def save_training_sample(folder: str | Path, sample: TrainingSample) -> Path:
    """Write ``sample`` into ``folder`` (created if needed) with its manifest; returns the folder.

    >>> import tempfile
    >>> X = pd.DataFrame({"a": np.arange(3.0), "b": np.ones(3)})
    >>> folder = save_training_sample(Path(tempfile.mkdtemp()) / "s", TrainingSample(X, np.zeros(3), 30))
    >>> read = load_training_sample(folder.parent, folder=folder.name)
    >>> read.features.equals(X), read.total_rows
    (True, 30)
    """
    features, scores = sample.features, np.asarray(sample.scores, dtype=np.float64)
    if scores.shape != (len(features),):
        raise InvalidParameterError(
            f"save_training_sample: {len(features)} feature rows but scores of shape {scores.shape}; "
            "pass one score per row."
        )
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / FEATURES_FILE, features.to_numpy(dtype=np.float64), allow_pickle=False)
        np.save(folder / SCORES_FILE, scores, allow_pickle=False)
        fields = {
            "columns": [str(c) for c in features.columns],
            "feature_version": FEATURE_VERSION,
            "rows": len(features),
            "total_rows": int(sample.total_rows),
        }
        Manifest.write(folder, KIND, VERSION, fields, files=[FEATURES_FILE, SCORES_FILE])
    except OSError as exc:
        raise ArtifactError(f"Cannot write the training sample into {str(folder)!r}: {exc}") from None
    return folder


def load_training_sample(ranker_folder: str | Path, *, folder: str = SAMPLE_FOLDER) -> TrainingSample:
    """The sample published with the ranker in ``ranker_folder`` (checksums verified).

    A ranker published before samples were kept has none: an :class:`ArtifactError` that
    says to retrain.
    """
    path = Path(ranker_folder) / folder
    manifest = Manifest.read(path, KIND, VERSION, fix=RETRAIN, required=[FEATURES_FILE, SCORES_FILE])
    try:
        matrix = np.load(path / FEATURES_FILE, allow_pickle=False)
        scores = np.load(path / SCORES_FILE, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"Cannot read the training sample in {str(path)!r}: {exc}. {RETRAIN}") from None
    columns = list(manifest.get("columns") or [])
    if matrix.ndim != 2 or matrix.shape[1] != len(columns) or scores.shape != (matrix.shape[0],):
        raise ArtifactError(
            f"The training sample in {str(path)!r} holds a {matrix.shape} matrix and {scores.shape} "
            f"scores for {len(columns)} columns; they do not fit. {RETRAIN}"
        )
    return TrainingSample(
        pd.DataFrame(matrix, columns=columns), scores, int(manifest.get("total_rows", len(scores)))
    )
