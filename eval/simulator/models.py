"""The offline evaluation's classifier baselines, fitted for the simulator's model policies.

:func:`fit_baselines` runs once per seed where the ranker is trained (the starting world, as an
operator would): the labelled pairs, their features (mentor aggregates as of each request, the
bio and goal embeddings from ``artifacts/cache``) and the split are those of
:func:`eval.training_run.run_training` (its time split and seed), and the models come from
:func:`ranking.training.train_models`, so they are the very baselines the offline comparison
judges. That call also refits the ranker, which is dropped: the ranker served is the one
``run_training`` published. Each baseline asked for is saved with its own ``save`` into
``artifacts/baselines/<name>`` (a JSON manifest and the model's native, pickle-free format); a
market that serves one gets it in its copy of the artifacts and reads it with
:func:`load_baselines`. The baselines are never retrained.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from db.loading import read_dataset
from eval.simulator.config import MODEL_POLICIES
from mentor_match.errors import ArtifactError, InvalidParameterError
from ranking.baselines import BASELINES, ClassifierScorer
from ranking.training import build_training_pairs, make_pair_frame, split_pairs, train_models

if TYPE_CHECKING:
    from embeddings import Encoder

logger = logging.getLogger(__name__)

BASELINES_FOLDER = "baselines"
"""The baselines' folder inside the artifacts: ``artifacts/baselines/<name>``."""
SPLIT = "time"
"""The split :func:`eval.training_run.run_training` trains the ranker on by default."""


def fit_baselines(
    db_url: str, artifacts: str | Path, names: Sequence[str], *, seed: int, encoder: Encoder,
) -> dict[str, Path]:
    """Fit the baselines on the database's labelled pairs, as the ranker in ``artifacts`` was
    trained (module doc), and save ``names`` into ``artifacts/baselines``; returns name -> folder."""
    names = _checked(names, "fit_baselines")
    artifacts = Path(artifacts)
    dataset = read_dataset(db_url)
    pairs = build_training_pairs(dataset)
    X = make_pair_frame(dataset, pairs, encoder, artifacts / "cache", progress=False)
    split = split_pairs(pairs, SPLIT, seed)
    trained = train_models(X, pairs, split, seed=seed)
    metadata = {"seed": seed, "split": SPLIT, "train_pairs": len(split.train), "encoder": encoder.identity,
                "trained_until": str(pairs["created_at"].to_numpy()[split.train].max())}
    saved = {}
    for name in names:
        saved[name] = trained.models[name].save(artifacts / BASELINES_FOLDER / name, metadata=metadata)
        logger.info("Fitted the %s baseline on %d pairs: %s", name, len(split.train), saved[name])
    return saved


def load_baselines(artifacts: str | Path, names: Sequence[str]) -> dict[str, ClassifierScorer]:
    """The baselines ``names`` saved by :func:`fit_baselines` in ``artifacts`` (name -> fitted scorer)."""
    names = _checked(names, "load_baselines")
    folder = Path(artifacts) / BASELINES_FOLDER
    missing = [name for name in names if not (folder / name).is_dir()]
    if missing:
        raise ArtifactError(
            f"No saved {', '.join(missing)} model in {str(folder)!r}: the model policies serve baselines "
            "fitted for the seed (eval.simulator.models.fit_baselines). Fit them there first."
        )
    return {name: BASELINES[name].load(folder / name) for name in names}


def _checked(names: Sequence[str], where: str) -> list[str]:
    """``names`` as a list of distinct model policies, or a clear refusal."""
    names = list(names)
    unknown = [name for name in names if name not in MODEL_POLICIES]
    if unknown or len(set(names)) != len(names):
        raise InvalidParameterError(
            f"The 'names' parameter of {where} must be distinct models of {', '.join(MODEL_POLICIES)}. "
            f"Got {names!r}{f' ({unknown[0]!r} is unknown)' if unknown else ''}."
        )
    return names
