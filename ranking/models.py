"""The ranker and its baselines under their historic import path.

:class:`Ranker` lives in :mod:`ranking.ranker`, the three classifier baselines in
:mod:`ranking.baselines`; both follow the scorer interface of :mod:`ranking.scorer`.
"""

from ranking.baselines import (
    BASELINES,
    ClassifierScorer,
    LogisticRegressionScorer,
    RandomForestScorer,
    XGBoostClassifierScorer,
    make_baselines,
)
from ranking.ranker import MODEL_FILES, OBJECTIVES, Ranker

__all__ = [
    "BASELINES",
    "MODEL_FILES",
    "OBJECTIVES",
    "ClassifierScorer",
    "LogisticRegressionScorer",
    "RandomForestScorer",
    "Ranker",
    "XGBoostClassifierScorer",
    "make_baselines",
]
