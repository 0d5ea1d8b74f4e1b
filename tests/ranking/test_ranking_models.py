"""Ranker contract (every objective) and the baselines, with real XGBoost / LightGBM / sklearn."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import ndcg_score

from mentor_match.artifacts import Manifest
from mentor_match.errors import ArtifactError, InvalidParameterError, NotFittedError
from ranking.features import FEATURES
from ranking.models import Ranker, make_baselines

OBJECTIVES = ["rank:pairwise", "rank:ndcg", "lambdarank"]


def _ranker(objective: str, **params) -> Ranker:
    return Ranker(objective, n_estimators=40, learning_rate=0.2, max_depth=4, n_jobs=1, **params)


def _mean_ndcg(y, scores, group, k=5) -> float:
    return float(np.mean([
        ndcg_score([y[group == g]], [scores[group == g]], k=k) for g in np.unique(group)
    ]))


@pytest.fixture(scope="module", params=OBJECTIVES)
def fitted(request, ltr_data):
    (X, y, group), _ = ltr_data
    return _ranker(request.param).fit(X, y, group)


def test_fit_returns_self_and_learns_to_rank(fitted, ltr_data):
    _, (Xt, yt, gt) = ltr_data
    assert isinstance(fitted, Ranker) and fitted.n_features_in_ == 6 and fitted.n_groups_ == 60
    learned = _mean_ndcg(yt, fitted.predict(Xt), gt)
    random = _mean_ndcg(yt, np.random.default_rng(0).normal(size=len(yt)), gt)
    assert learned > random + 0.15, (learned, random)


def test_unfitted_ranker_refuses_to_predict():
    for method in ("predict", "contributions"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(Ranker(), method)(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        Ranker().save("unused")


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_clone_and_params_round_trip(objective):
    ranker = _ranker(objective, gamma=0.5)
    params = ranker.get_params()
    assert params["objective"] == objective and params["gamma"] == 0.5
    twin = clone(ranker)
    assert twin.get_params() == params and not hasattr(twin, "booster_")
    twin.set_params(max_depth=3, reg_alpha=0.1)
    assert twin.max_depth == 3 and twin.get_params()["reg_alpha"] == 0.1


def test_unknown_objective_and_bad_labels_are_refused(ltr_data):
    (X, y, group), _ = ltr_data
    with pytest.raises(InvalidParameterError, match="objective"):
        Ranker("rank:map").fit(X, y, group)
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        Ranker().fit(X, y + 0.5, group)
    with pytest.raises(InvalidParameterError, match="one length"):
        Ranker().fit(X, y[:-1], group)


def test_save_load_gives_identical_predictions(fitted, ltr_data, tmp_path):
    _, (Xt, _, _) = ltr_data
    fitted.save(tmp_path / "ranker", metadata={"encoder": "test-encoder"})
    loaded = Ranker.load(tmp_path / "ranker")
    np.testing.assert_array_equal(loaded.predict(Xt), fitted.predict(Xt))
    np.testing.assert_array_equal(loaded.contributions(Xt), fitted.contributions(Xt))
    assert loaded.get_params() == fitted.get_params()
    manifest = json.loads((tmp_path / "ranker" / "manifest.json").read_text())
    assert manifest["encoder"] == "test-encoder" and manifest["objective"] == fitted.objective
    assert manifest["feature_names"] == [f"f{i}" for i in range(6)]
    assert set(manifest["versions"]) >= {"xgboost", "lightgbm", "numpy"}
    assert loaded.manifest == manifest


def test_damaged_artifacts_are_refused(fitted, tmp_path):
    folder = fitted.save(tmp_path / "ranker")
    model = folder / json.loads((folder / "manifest.json").read_text())["model_file"]
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="truncated"):
        Ranker.load(folder)
    model.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        Ranker.load(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="truncated or was edited"):
        Ranker.load(folder)
    with pytest.raises(ArtifactError, match="scripts/train.py"):
        Ranker.load(tmp_path / "nowhere")


@pytest.mark.parametrize("field", ["feature_names", "params", "best_iteration"])
def test_an_edited_manifest_is_refused(fitted, tmp_path, field):
    folder = fitted.save(tmp_path / "ranker")
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest[field] = {"feature_names": ["a"] * 6, "params": {"max_depth": 99}, "best_iteration": 1}[field]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="edited after the build.*scripts/train.py"):
        Ranker.load(folder)


def test_contributions_add_up_to_the_score(fitted, ltr_data):
    _, (Xt, _, _) = ltr_data
    contributions = fitted.contributions(Xt)
    assert contributions.shape == (len(Xt), 6)
    bias = fitted.predict(Xt) - contributions.sum(axis=1)
    np.testing.assert_allclose(bias, bias[0], atol=1e-4)  # one bias term for every row
    assert abs(contributions[:, 0]).mean() > abs(contributions[:, 5]).mean()  # feature 0 drives y
    fast = fitted.contributions(Xt, approximate=True)
    np.testing.assert_allclose(fast.sum(axis=1) + bias, fitted.predict(Xt), atol=1e-4)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_row_order_does_not_matter_and_early_stopping_keeps_best_trees(objective, ltr_data):
    (X, y, group), (Xv, yv, gv) = ltr_data
    order = np.random.default_rng(3).permutation(len(y))  # queries interleaved
    X, y, group = X[order], y[order], group[order]
    runs = np.argsort(group, kind="stable")  # the same rows, each query in one run
    a = _ranker(objective).fit(X[runs], y[runs], group[runs])
    b = _ranker(objective).fit(X, y, group)
    np.testing.assert_allclose(a.predict(Xv), b.predict(Xv), rtol=1e-6, atol=1e-6)
    stopped = _ranker(objective, early_stopping_rounds=5).set_params(n_estimators=300)
    stopped.fit(X, y, group, eval_set=(Xv, yv, gv))
    assert 1 <= stopped.best_iteration_ < 300


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_dataframe_features_are_matched_by_name_and_nan_is_fine(objective, tmp_path):
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(240, len(FEATURES))), columns=list(FEATURES))
    X["bio_goal_similarity"] = np.nan  # no encoder: the models must cope
    y = (X["domain_overlap"] > 0).astype(int) + (X["mentor_rating"] > 0.5)
    group = np.repeat(np.arange(20), 12)
    ranker = _ranker(objective).fit(X, y, group)
    assert ranker.feature_names_ == list(FEATURES)
    shuffled = X[list(reversed(FEATURES))]
    np.testing.assert_array_equal(ranker.predict(shuffled), ranker.predict(X))
    with pytest.raises(InvalidParameterError, match="lacks feature"):
        ranker.predict(X.drop(columns="mentor_rating"))
    importance = ranker.feature_importance("gain")
    assert set(importance.index) == set(FEATURES)
    assert importance.index[0] in ("domain_overlap", "mentor_rating")
    folder = ranker.save(tmp_path / "r")
    manifest = Manifest.read(folder, "ranker", 2, fix="")
    assert manifest["feature_version"] is not None
    # As written by older feature code: a valid manifest (checksums and all) of version "0".
    own = {k: v for k, v in manifest.items() if k not in ("format", "created", "files", "manifest_sha256")}
    Manifest.write(folder, "ranker", 2, {**own, "feature_version": "0"}, files=list(manifest.files))
    with pytest.raises(ArtifactError, match="feature version"):
        Ranker.load(folder)


def test_baselines_score_pairs_with_probabilities_despite_nan():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(300, len(FEATURES))), columns=list(FEATURES))
    X["bio_goal_similarity"] = np.nan
    y = (X["domain_overlap"] + 0.3 * rng.normal(size=300) > 0).astype(int)
    baselines = make_baselines(seed=0, n_jobs=1)
    assert list(baselines) == ["logistic_regression", "random_forest", "xgboost_classifier"]
    for name, model in baselines.items():
        scores = model.fit(X, y).predict(X)
        assert scores.shape == (300,) and ((scores >= 0) & (scores <= 1)).all(), name
        assert np.corrcoef(scores, X["domain_overlap"])[0, 1] > 0.5, name
        np.testing.assert_array_equal(model.predict_label(X), (scores > 0.5).astype(int))


@pytest.mark.parametrize(("objective", "typo", "meant"), [
    ("rank:pairwise", "max_dept", "max_depth"),
    ("rank:ndcg", "colsample_bytre", "colsample_bytree"),
    ("lambdarank", "num_leavs", "num_leaves"),
])
def test_an_unknown_library_parameter_is_refused_with_the_known_ones(objective, typo, meant, ltr_data):
    (X, y, group), _ = ltr_data
    with pytest.raises(InvalidParameterError, match=rf"'{typo}' \(did you mean '{meant}'\?\)") as caught:
        _ranker(objective, **{typo: 2}).fit(X, y, group)
    message = str(caught.value)
    assert f"'{meant}'" in message.split("does not know.")[1]  # the known names are listed
    assert "'n_estimators'" in message  # and so are Ranker's own


@pytest.mark.parametrize(("objective", "extras"), [
    ("rank:pairwise", {"gamma": 0.5, "reg_alpha": 0.1, "eta": 0.3, "nthread": 1}),
    ("rank:pairwise", {"booster": "dart", "rate_drop": 0.1}),  # known only to the dart booster
    ("lambdarank", {"min_child_samples": 5, "lambdarank_truncation_level": 10, "reg_alpha": 0.1}),
])
def test_library_parameters_and_their_aliases_are_accepted(objective, extras, ltr_data):
    (X, y, group), _ = ltr_data
    assert _ranker(objective, **extras).fit(X, y, group).n_groups_ == 60


def test_a_parameter_of_another_booster_is_refused(ltr_data):
    (X, y, group), _ = ltr_data
    with pytest.raises(InvalidParameterError, match="'rate_drop'"):
        _ranker("rank:pairwise", rate_drop=0.1).fit(X, y, group)  # a dart parameter on gbtree


def test_ranker_counts_and_group_are_checked_before_training(ltr_data):
    (X, y, group), _ = ltr_data
    message = "The 'n_estimators' parameter of Ranker must be an int >= 1. Got 0."
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        _ranker("rank:pairwise").set_params(n_estimators=0).fit(X, y, group)
    with pytest.raises(InvalidParameterError, match="needs `group`"):
        _ranker("rank:pairwise").fit(X, y)
