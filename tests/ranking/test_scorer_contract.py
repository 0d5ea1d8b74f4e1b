"""The contract every scorer passes: the ranker and the three baselines, with the real libraries.

fit returns self; an unfitted scorer raises NotFittedError; save -> load scores identically;
clone and get_params work; a damaged or foreign folder is refused.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from mentor_match.errors import ArtifactError, InvalidParameterError, NotFittedError
from ranking.baselines import (
    LogisticRegressionScorer,
    RandomForestScorer,
    XGBoostClassifierScorer,
    make_baselines,
)
from ranking.features import FEATURES
from ranking.ranker import Ranker
from ranking.scorer import Scorer

SCORERS = {
    "logistic_regression": lambda: make_baselines(seed=0, n_jobs=1)["logistic_regression"],
    "random_forest": lambda: RandomForestScorer(n_estimators=25, random_state=0, n_jobs=1),
    "xgboost_classifier": lambda: XGBoostClassifierScorer(n_estimators=25, random_state=0, n_jobs=1),
    "xgboost_ranker": lambda: Ranker(n_estimators=25, learning_rate=0.2, n_jobs=1),
}
CLASSES = {
    "logistic_regression": LogisticRegressionScorer,
    "random_forest": RandomForestScorer,
    "xgboost_classifier": XGBoostClassifierScorer,
    "xgboost_ranker": Ranker,
}


def _data(seed: int):
    """Pair-feature frames with NaN (partly missing, and one column missing throughout)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(240, len(FEATURES))), columns=list(FEATURES))
    X.loc[rng.random(240) < 0.3, "bio_goal_similarity"] = np.nan
    X["mentor_rating"] = np.nan
    relevance = np.digitize(X["domain_overlap"] + 0.5 * rng.normal(size=240), [-0.5, 0.5, 1.2])
    return X, relevance, np.repeat(np.arange(20), 12)


@pytest.fixture(scope="module")
def data():
    return _data(0), _data(1)


def _target(name: str, relevance: np.ndarray) -> np.ndarray:
    """Graded relevance for the ranker, success (relevance 3) for a classifier."""
    return relevance if name == "xgboost_ranker" else (relevance == 3).astype(int)


@pytest.fixture(scope="module", params=list(SCORERS))
def fitted(request, data):
    (X, relevance, group), _ = data
    scorer = SCORERS[request.param]()
    returned = scorer.fit(X, _target(request.param, relevance), group)
    return request.param, scorer, returned


def test_fit_returns_self_and_scores_every_row(fitted, data):
    name, scorer, returned = fitted
    _, (Xt, relevance, _) = data
    assert returned is scorer and isinstance(scorer, Scorer)
    scores = scorer.predict(Xt)
    assert scores.shape == (len(Xt),) and scores.dtype == np.float64 and np.isfinite(scores).all()
    assert np.corrcoef(scores, relevance)[0, 1] > 0.3, name  # it learned the planted signal


@pytest.mark.parametrize("name", list(SCORERS))
def test_an_unfitted_scorer_says_so(name, tmp_path):
    scorer = SCORERS[name]()
    with pytest.raises(NotFittedError, match=f"This {type(scorer).__name__} is not fitted yet"):
        scorer.predict(np.zeros((2, len(FEATURES))))
    with pytest.raises(NotFittedError):
        scorer.save(tmp_path / "unfitted")


def test_save_then_load_scores_identically(fitted, data, tmp_path):
    name, scorer, _ = fitted
    _, (Xt, _, _) = data
    folder = scorer.save(tmp_path / name, metadata={"note": "contract"})
    loaded = CLASSES[name].load(folder)
    np.testing.assert_array_equal(loaded.predict(Xt), scorer.predict(Xt))
    np.testing.assert_array_equal(loaded.predict(Xt.iloc[:1]), scorer.predict(Xt.iloc[:1]))
    assert loaded.get_params() == scorer.get_params()
    assert loaded.manifest["note"] == "contract" and loaded.manifest == scorer.manifest
    assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.pickle"))


def test_clone_keeps_the_parameters_and_drops_the_fit(fitted):
    _, scorer, _ = fitted
    twin = clone(scorer)
    assert twin.get_params() == scorer.get_params() and type(twin) is type(scorer)
    with pytest.raises(NotFittedError):
        twin.predict(np.zeros((1, len(FEATURES))))


def test_columns_are_matched_by_name(fitted, data):
    _, scorer, _ = fitted
    _, (Xt, _, _) = data
    np.testing.assert_array_equal(scorer.predict(Xt[list(reversed(FEATURES))]), scorer.predict(Xt))
    with pytest.raises(InvalidParameterError, match="lacks feature column"):
        scorer.predict(Xt.drop(columns="mentor_load"))


def test_a_damaged_or_foreign_folder_is_refused(fitted, tmp_path):
    name, scorer, _ = fitted
    folder = scorer.save(tmp_path / name)
    other = "xgboost_ranker" if name != "xgboost_ranker" else "random_forest"
    with pytest.raises(ArtifactError):
        CLASSES[other].load(folder)
    model = folder / next(iter(json.loads((folder / "manifest.json").read_text())["files"]))
    model.write_bytes(model.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match="truncated|checksum"):
        CLASSES[name].load(folder)


def test_classifier_scorers_ignore_group_and_need_no_frame(data):
    (X, relevance, group), (Xt, _, _) = data
    label = (relevance == 3).astype(int)
    for name, scorer in make_baselines(seed=0, n_jobs=1).items():
        with_group = clone(scorer).fit(X, label, group).predict(Xt)
        np.testing.assert_array_equal(clone(scorer).fit(X, label).predict(Xt), with_group)
        on_arrays = clone(scorer).fit(X.to_numpy(), label).predict(Xt.to_numpy())
        np.testing.assert_allclose(on_arrays, with_group, rtol=1e-12, err_msg=name)
