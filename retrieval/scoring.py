"""The served score of an arm: the ranker's, the reciprocal P(match), or a blend of the two.

An A/B variant names how its candidates are scored (``"score"`` in the experiment config,
:mod:`retrieval.experiments`); :class:`Scoring` is that choice made concrete, held by the
arm's :class:`~retrieval.reranker.Reranker`:

* ``ranker`` (the default): the XGBoost ranker's score, as always.
* ``reciprocal``: P(match) = P(mentor accepts | requested) x P(success | accepted), the
  product of the variant's two calibrated heads (:class:`ranking.heads.ReciprocalModel`).
  A list ranked by it favours mentors who are likely to say yes *and* to make it work,
  where the ranker learned from successful matches alone.
* ``blend`` with weight ``w`` in [0, 1]: ``w x R + (1 - w) x P(match)``, where ``R`` is the
  ranker's score rank-normalised within each mentee's candidates (:func:`rank_normalised`:
  1 for the best, 0 for the worst, ties share their mean). Ranks, not raw scores, because a
  pairwise ranker's score has no scale (only its order within a list means something),
  while P(match) is a probability; ``R`` puts the ranker on [0, 1] whatever its scale.
  ``w = 1`` serves exactly the ranker's order, ``w = 0`` exactly the reciprocal score.
  P(match) usually spans much less than [0, 1], so at ``w = 0.5`` the ranker's order
  weighs more than half: choose ``w`` by its effect on the lists, not by its look.
* ``market`` with a :class:`~retrieval.market.PriceSettings`: P(match), priced by congestion
  where it is served: ``P(match) x P(seat still free) ** weight`` (:mod:`retrieval.market`).
  :meth:`Scoring.scores` gives the P(match); the recommender holds the prices (they move with
  every list served) and applies them when it ranks a list.

Every variant keeps its ranker: its pre-ranker picks the candidates (stage 1 is the same
whatever the score) and its per-feature contributions word the reasons, relative to the
best candidates by the served score. The heads score the same candidates' features (the one
feature function, :func:`ranking.features.pair_features`), so the features logged with a
slot are the heads' inputs too. The served score is what ranks the list, what exploration
samples from (its ``temperature`` is on the served score's scale: probabilities and blends
lie in [0, 1]), what each :class:`~retrieval.results.Recommendation` carries and what the
log records; the log's ``model_version`` names the ranker and, where they score, the heads
(``ranker@<version>+heads@<version>``, ``...+blend@<w>`` for a blend).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from index import MentorIndex
from mentor_match.artifacts import Manifest
from mentor_match.errors import ArtifactError, InvalidParameterError
from mentor_match.validation import check_choice, check_number
from ranking.features import FEATURES
from ranking.heads import HEADS, MODEL_KIND, MODEL_VERSION, REFIT, ReciprocalModel
from ranking.models import Ranker
from retrieval.experiments import MARKET_SCORE, RANKER_SCORE, SCORES, Variant
from retrieval.market import PriceSettings

__all__ = ["RANKER", "Scoring", "check_model_compatible", "rank_normalised"]


def rank_normalised(scores: Any, groups: Any = None) -> np.ndarray:
    """Each score's rank within its group, scaled to [0, 1]: the best 1, the worst 0.

    ``(average rank - 1) / (group size - 1)`` with rank 1 the lowest score, so ties share
    their mean rank and the order within a group is kept exactly; a group of one scores 1.
    ``groups`` (one label per score, e.g. the mentee id) defaults to one group.

    >>> rank_normalised([0.3, -2.0, 5.0, 0.3]).tolist()
    [0.5, 0.0, 1.0, 0.5]
    >>> rank_normalised([1.0, 2.0, 7.0, 9.0, 4.0], groups=[1, 1, 2, 2, 3]).tolist()
    [0.0, 1.0, 0.0, 1.0, 1.0]
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.zeros(len(values), dtype=np.int64) if groups is None else np.asarray(groups).ravel()
    if len(labels) != len(values):
        raise InvalidParameterError(
            f"rank_normalised needs one group label per score; got {len(labels)} labels for "
            f"{len(values)} scores."
        )
    if not len(values):
        return values
    by = pd.Series(values).groupby(labels, sort=False)
    ranks = by.rank(method="average").to_numpy(np.float64)
    sizes = by.transform("size").to_numpy(np.float64)
    return np.where(sizes > 1, (ranks - 1.0) / np.maximum(sizes - 1.0, 1.0), 1.0)


@dataclass(frozen=True)
class Scoring:
    """How an arm turns its candidates' features into the served score (module docstring).

    ``how`` is one of ``ranker``, ``reciprocal``, ``blend``; ``heads`` (with the short
    build name ``heads_version`` of their folder's manifest) are required by the last two
    and ``blend_weight`` by ``blend`` alone. Build it from a variant with
    :meth:`for_variant` or from a heads folder with :meth:`load`.

    >>> RANKER.how, RANKER.uses_heads
    ('ranker', False)
    >>> Scoring("blend")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: Scoring 'blend' needs the reciprocal heads ...
    """

    how: str = RANKER_SCORE
    heads: ReciprocalModel | None = None
    heads_version: str = "unpublished"
    blend_weight: float | None = None
    price: PriceSettings | None = None

    def __post_init__(self) -> None:
        check_choice("how", self.how, "Scoring", SCORES)
        if self.how == MARKET_SCORE:
            if self.price is None:
                object.__setattr__(self, "price", PriceSettings())
            elif not isinstance(self.price, PriceSettings):
                raise InvalidParameterError(
                    f"Scoring 'market' takes a retrieval.market.PriceSettings as price; got {type(self.price).__name__}."
                )
        elif self.price is not None:
            raise InvalidParameterError(f"Scoring {self.how!r} takes no price (only 'market' does); got {self.price!r}.")
        if self.how == RANKER_SCORE:
            if self.heads is not None or self.blend_weight is not None:
                raise InvalidParameterError(
                    "Scoring 'ranker' takes neither heads nor a blend_weight; pass "
                    "how='reciprocal' or how='blend' to score with the heads."
                )
            return
        if not isinstance(self.heads, ReciprocalModel):
            raise InvalidParameterError(
                f"Scoring {self.how!r} needs the reciprocal heads (a ranking.heads.ReciprocalModel); "
                f"got {type(self.heads).__name__}. Load them with Scoring.load(how, folder)."
            )
        if self.how == "blend":
            weight = check_number("blend_weight", self.blend_weight, "Scoring", low=0.0, high=1.0)
            object.__setattr__(self, "blend_weight", weight)
        elif self.blend_weight is not None:
            raise InvalidParameterError(
                f"Scoring {self.how!r} takes no blend_weight (only 'blend' does); got {self.blend_weight!r}."
            )

    @classmethod
    def load(
        cls, how: str, folder: str | Path, *, blend_weight: float | None = None, price: PriceSettings | None = None,
    ) -> Scoring:
        """The heads published in ``folder`` (checked against their manifests) scoring by ``how``."""
        folder = Path(folder)
        model = ReciprocalModel.load(folder)
        # ReciprocalModel.load verified every file; read the top manifest again for its name.
        manifest = Manifest.read(folder, MODEL_KIND, MODEL_VERSION, fix=REFIT, check_files=False)
        return cls(how, model, manifest.version, blend_weight, price)

    @classmethod
    def for_variant(cls, variant: Variant, artifacts: str | Path) -> Scoring:
        """What ``variant`` of an experiment serves: :data:`RANKER`, or its heads loaded from
        ``artifacts``. A missing heads folder is refused by
        :meth:`~retrieval.experiments.Experiment.check_heads`; a damaged one here, naming the
        command that publishes it again."""
        if variant.score == RANKER_SCORE:
            return RANKER
        try:
            return cls.load(variant.score, variant.heads_path(artifacts), blend_weight=variant.blend_weight,
                            price=variant.price)
        except ArtifactError as exc:
            raise ArtifactError(
                f"Variant {variant.name!r} cannot load its heads: {exc} To serve it, publish them "
                f"again with {variant.heads_command(artifacts)}."
            ) from None

    @property
    def uses_heads(self) -> bool:
        """Whether the heads take part in the score (``reciprocal``, ``blend`` or ``market``)."""
        return self.how != RANKER_SCORE

    @property
    def priced(self) -> bool:
        """Whether congestion prices rank the lists (``market``)."""
        return self.how == MARKET_SCORE

    def check_compatible(self, index: MentorIndex, where: str) -> None:
        """Refuse heads of other features than this code's, or of another encoder than the index's."""
        if not self.uses_heads:
            return
        for name in HEADS:
            check_model_compatible(index, getattr(self.heads, name), where, what=f"the {name} head")

    def scores(self, ranker: Ranker, features: pd.DataFrame, groups: Any = None) -> np.ndarray:
        """The served score of each row of ``features`` (pair features, :data:`FEATURES`).

        ``groups`` (the mentee id of each row) delimits the lists a blend rank-normalises the
        ranker's scores within; None: the rows are one list.
        """
        if self.how == RANKER_SCORE:
            return ranker.predict(features)
        match = self.heads.predict_match(features)
        if self.how in ("reciprocal", MARKET_SCORE):
            return match
        weight = self.blend_weight
        return weight * rank_normalised(ranker.predict(features), groups) + (1.0 - weight) * match

    def model_version(self, ranker_manifest: Mapping[str, Any]) -> str:
        """What the log records as the model of a list: the ranker's short build name, and
        the heads' (and the blend weight) where they score."""
        ranker = getattr(ranker_manifest, "version", "unpublished")
        if not self.uses_heads:
            return ranker
        name = f"ranker@{ranker}+heads@{self.heads_version}"
        if self.how == MARKET_SCORE:
            floor = f":floor{self.price.floor:g}" if self.price.floor else ""
            return f"{name}+market@{self.price.kind}:{self.price.weight:g}{floor}"
        return name if self.how == "reciprocal" else f"{name}+blend@{self.blend_weight:g}"


RANKER = Scoring()
"""The default: the ranker's own score (today's behaviour)."""


def check_model_compatible(index: MentorIndex, model: Any, where: str, *, what: str = "the ranker") -> None:
    """Refuse a model (``what``: the ranker, a head) of other features than this code's, or one
    trained with another encoder than the index's."""
    names = list(model.feature_names_)
    if names != list(FEATURES):
        raise ArtifactError(
            f"{what[0].upper()}{what[1:]} in {where} uses features {names[:3]}... ({len(names)}), not "
            f"this version's {len(FEATURES)} features. Retrain with scripts/train.py."
        )
    trained_with = model.manifest.get("encoder")
    if trained_with and trained_with != index.manifest.get("encoder"):
        raise ArtifactError(
            f"In {where} {what} was trained with encoder {trained_with!r} but the index was built "
            f"with {index.manifest.get('encoder')!r}. Rerun scripts/build_index.py and "
            "scripts/train.py with the same encoder."
        )
