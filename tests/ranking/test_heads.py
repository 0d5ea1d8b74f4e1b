"""The reciprocal model's heads: labels, calibration on a known truth, artifacts, a generated world."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from db.engine import get_engine
from db.loading import load_dataset
from eval.metrics import expected_calibration_error
from mentor_match.errors import (
    ArtifactError,
    DataValidationError,
    InvalidParameterError,
    NotEnoughDataError,
    NotFittedError,
)
from ranking.features import FEATURES
from ranking.heads import (
    MIN_ROWS,
    Head,
    ReciprocalModel,
    build_heads_data,
    head_rows,
    resolved_requests,
    train_heads,
)
from ranking.scorer import Scorer
from synthetic import generate_world, write_world


# ---------------------------------------------------------------------------- data
def _interactions() -> pd.DataFrame:
    """Planted statuses: mentee 1 completed well with 10, mentee 2 was declined by 10,
    mentee 3 was accepted by 10 and is still running, mentee 4 waits for 10, mentee 5
    completed without success with 11, and mentee 6 asked 11 twice (declined, then accepted
    and completed successfully)."""
    t = pd.to_datetime
    return pd.DataFrame({
        "mentee_id": [1, 2, 3, 4, 5, 6, 6],
        "mentor_id": [10, 10, 10, 10, 11, 11, 11],
        "status": ["completed", "declined", "accepted", "pending", "completed", "declined", "completed"],
        "mentor_accepted": pd.array([True, False, True, None, True, False, True], dtype="boolean"),
        "successful_match": [True, False, False, False, False, False, True],
        "created_at": t(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05",
                         "2026-01-06", "2026-02-06"]),
    })


def _draw(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows whose true P(y=1 | x) is logistic in the first of three features (two are noise)."""
    X = pd.DataFrame({"signal": rng.uniform(-3, 3, n), "noise_a": rng.normal(size=n),
                      "noise_b": rng.normal(size=n)})
    truth = expit(1.5 * X["signal"].to_numpy() - 0.5)
    return X, (rng.random(n) < truth).astype(int), truth


@pytest.fixture(scope="module")
def known():
    """Train, validation and a large fresh sample of the known-truth rows (seed 0)."""
    rng = np.random.default_rng(0)
    return _draw(4000, rng), _draw(2000, rng), _draw(20000, rng)


@pytest.fixture(scope="module")
def small_heads():
    """Two small heads on a pair-feature frame (fast; for artifact and contract tests)."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(300, len(FEATURES))), columns=list(FEATURES))
    X.loc[rng.random(300) < 0.3, "bio_goal_similarity"] = np.nan
    accept = (rng.random(300) < expit(1.5 * X["domain_overlap"])).astype(int)
    success = (rng.random(300) < expit(-X["skill_overlap"])).astype(int)
    heads = {
        name: Head(name, n_estimators=40, n_jobs=1).fit(X[:200], y[:200], eval_set=(X[200:], y[200:]))
        for name, y in (("accept", accept), ("success", success))
    }
    return ReciprocalModel(heads["accept"], heads["success"]), X


# ---------------------------------------------------------------------------- labels
def test_the_accept_head_leaves_out_pending_requests_and_counts_declines_as_zero():
    rows = head_rows(_interactions(), "accept")
    labels = dict(zip(zip(rows["mentee_id"], rows["mentor_id"], strict=True), rows["label"], strict=True))
    assert (4, 10) not in labels  # pending: no answer yet
    assert labels == {(1, 10): 1, (2, 10): 0, (3, 10): 1, (5, 11): 1, (6, 11): 1}


def test_the_success_head_takes_ended_pairs_only():
    rows = head_rows(_interactions(), "success")
    labels = dict(zip(zip(rows["mentee_id"], rows["mentor_id"], strict=True), rows["label"], strict=True))
    # (3, 10) was accepted and is still running: no outcome yet; declines never started.
    assert labels == {(1, 10): 1, (5, 11): 0, (6, 11): 1}


def test_the_latest_resolved_request_of_a_pair_counts():
    requests = resolved_requests(_interactions())
    again = requests[(requests["mentee_id"] == 6) & (requests["mentor_id"] == 11)]
    assert len(again) == 1
    assert again[["status", "accepted", "successful"]].iloc[0].tolist() == ["completed", 1, 1]


def test_an_unknown_status_or_a_missing_column_is_refused():
    bad = _interactions().assign(status=["completed", "ghosted", "declined", "pending",
                                         "completed", "declined", "completed"])
    with pytest.raises(DataValidationError, match="ghosted"):
        resolved_requests(bad)
    with pytest.raises(DataValidationError, match="created_at"):
        resolved_requests(_interactions().drop(columns="created_at"))
    with pytest.raises(InvalidParameterError, match="'head'"):
        head_rows(_interactions(), "reply")


# ---------------------------------------------------------------------------- calibration
def test_calibration_recovers_a_known_probability_from_a_miscalibrated_model(known):
    (X, y, _), (X_val, y_val, _), (X_new, y_new, truth) = known
    # Class weighting (scale_pos_weight=4) shifts the trees' log-odds up by about log(4):
    # a realistic miscalibration, with the order of the rows intact.
    head = Head("accept", scale_pos_weight=4.0, random_state=0, n_jobs=1)
    head.fit(X, y, eval_set=(X_val, y_val))
    raw = expit(head.decision_function(X_new))
    calibrated = head.predict(X_new)
    raw_ece = expected_calibration_error(y_new, raw)
    calibrated_ece = expected_calibration_error(y_new, calibrated)
    assert raw_ece > 0.1
    assert calibrated_ece < 0.03
    assert calibrated_ece < raw_ece / 4
    # The calibrated probability tracks the true one (what is left is the trees' own error).
    assert np.abs(calibrated - truth).mean() < 0.05
    assert np.abs(calibrated - truth).mean() < np.abs(raw - truth).mean() / 2


# ---------------------------------------------------------------------------- contract
def test_fit_returns_self_and_clone_keeps_the_parameters(known):
    (X, y, _), (X_val, y_val, _), _ = known
    head = Head("success", n_estimators=10, max_depth=2, n_jobs=1)
    assert head.fit(X[:300], y[:300], eval_set=(X_val[:100], y_val[:100])) is head
    assert isinstance(head, Scorer)
    copy = clone(head)
    assert copy.get_params() == head.get_params()
    assert not hasattr(copy, "booster_")


def test_an_unfitted_head_raises_not_fitted(known):
    X = known[0][0]
    for call in (Head("accept").predict, Head("accept").decision_function):
        with pytest.raises(NotFittedError, match="accept Head is not fitted"):
            call(X)
    with pytest.raises(NotFittedError):
        Head("success").save("unused")
    model = ReciprocalModel(Head("accept"), Head("success"))
    with pytest.raises(NotFittedError):
        model.predict_match(X)


def test_fit_needs_a_validation_set(known):
    (X, y, _), _, _ = known
    with pytest.raises(InvalidParameterError, match="eval_set"):
        Head("accept").fit(X, y)


def test_too_few_rows_name_the_head_the_count_and_the_minimum(known):
    (X, y, _), (X_val, y_val, _), _ = known
    with pytest.raises(NotEnoughDataError, match=rf"success head: 12 validation rows, at least {MIN_ROWS}"):
        Head("success").fit(X, y, eval_set=(X_val[:12], y_val[:12]))
    with pytest.raises(NotEnoughDataError, match=rf"accept head: 5 training rows, at least {MIN_ROWS}"):
        Head("accept").fit(X[:5], y[:5], eval_set=(X_val, y_val))
    ones = np.ones(len(y_val), dtype=int)
    with pytest.raises(NotEnoughDataError, match=rf"accept head: all {len(y_val)} validation rows are positive"):
        Head("accept").fit(X, y, eval_set=(X_val, ones))


def test_an_unknown_head_name_or_a_bad_parameter_is_refused(known):
    (X, y, _), (X_val, y_val, _), _ = known
    with pytest.raises(InvalidParameterError, match="'name' parameter of Head"):
        Head("reply").fit(X, y, eval_set=(X_val, y_val))
    with pytest.raises(InvalidParameterError, match="'learning_rate' parameter of Head must be a finite number > 0"):
        Head("accept", learning_rate=0).fit(X, y, eval_set=(X_val, y_val))
    accept = Head("accept")
    with pytest.raises(InvalidParameterError, match="'success' parameter of ReciprocalModel"):
        ReciprocalModel(accept, accept)


def test_the_match_probability_is_the_product_of_the_heads(small_heads):
    model, X = small_heads
    accept, success = model.predict_accept(X), model.predict_success(X)
    assert ((accept > 0) & (accept < 1) & (success > 0) & (success < 1)).all()
    np.testing.assert_array_equal(model.predict_match(X), accept * success)
    np.testing.assert_array_equal(model.score(X, "reciprocal"), accept * success)
    with pytest.raises(InvalidParameterError, match="'how'"):
        model.score(X, "accept_only")


def test_columns_are_matched_by_name_and_a_missing_one_is_refused(small_heads):
    model, X = small_heads
    shuffled = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(model.predict_accept(shuffled), model.predict_accept(X))
    with pytest.raises(InvalidParameterError, match="domain_overlap"):
        model.predict_accept(X.drop(columns="domain_overlap"))


# ---------------------------------------------------------------------------- artifacts
def test_save_then_load_predicts_identically(small_heads, tmp_path):
    model, X = small_heads
    model.save(tmp_path / "reciprocal", metadata={"data_fingerprint": "abc"})
    loaded = ReciprocalModel.load(tmp_path / "reciprocal")
    np.testing.assert_array_equal(loaded.predict_accept(X), model.predict_accept(X))
    np.testing.assert_array_equal(loaded.predict_success(X), model.predict_success(X))
    np.testing.assert_array_equal(loaded.predict_match(X), model.predict_match(X))
    assert loaded.accept.manifest["data_fingerprint"] == "abc"
    assert loaded.success.get_params() == model.success.get_params()
    saved = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "reciprocal").rglob("*") if p.is_file())
    assert not [name for name in saved if name.endswith((".pkl", ".pickle", ".joblib"))]
    assert "reciprocal/accept/model.json" in saved and "reciprocal/success/calibration.json" in saved


def test_an_edited_calibration_file_is_refused(small_heads, tmp_path):
    model, _ = small_heads
    model.accept.save(tmp_path / "accept")
    path = tmp_path / "accept" / "calibration.json"
    calibration = json.loads(path.read_text())
    path.write_text(json.dumps({**calibration, "slope": calibration["slope"] * 2}))
    with pytest.raises(ArtifactError, match="calibration.json"):
        Head.load(tmp_path / "accept")
    with pytest.raises(ArtifactError, match="No head"):
        Head.load(tmp_path / "missing")


# ---------------------------------------------------------------------------- a generated world
@pytest.fixture(scope="module")
def world_data(tmp_path_factory):
    """500 mentees, 120 mentors, 6 requests each (seed 0), through the database.

    Larger than the 150-mentee world of the eval tests: there the time split holds out about
    45 resolved requests, and the accept head's AUC on them ranged 0.44-0.76 over 24 seeds
    (mean 0.61), too noisy for a threshold. Here about 175 are held out: 0.61-0.72 over 10
    seeds (mean 0.67, sd 0.03), so 0.55 sits well below what the features can give.
    """
    world = generate_world(n_mentors=120, n_mentees=500, interactions_per_mentee=6, seed=0)
    engine = get_engine(f"sqlite:///{tmp_path_factory.mktemp('heads') / 'world.db'}")
    write_world(engine, world, progress=False)
    return build_heads_data(load_dataset(engine), seed=0)


def test_both_heads_train_on_a_generated_world_and_the_accept_head_separates(world_data):
    model = train_heads(world_data, seed=0, n_jobs=1)
    X, y = world_data.labelled("accept", "test")
    assert roc_auc_score(y, model.predict_accept(X)) > 0.55
    X_success, y_success = world_data.labelled("success", "test")
    probability = model.predict_success(X_success)
    assert ((probability > 0) & (probability < 1)).all()


def test_the_heads_share_one_split_and_the_success_rows_are_ended_requests(world_data):
    data = world_data
    for part in ("train", "validation", "test"):
        accept_rows, success_rows = data.rows("accept", part), data.rows("success", part)
        assert set(success_rows) <= set(accept_rows)
        assert (data.requests["status"].to_numpy()[success_rows] == "completed").all()
    mentees = {part: set(data.requests["mentee_id"].to_numpy()[data.rows("accept", part)])
               for part in ("train", "validation", "test")}
    assert not mentees["train"] & mentees["test"] and not mentees["validation"] & mentees["test"]
    times = data.requests["created_at"].to_numpy()
    assert times[data.rows("accept", "train")].max() < times[data.rows("accept", "test")].min()
    assert len(data.features) == len(data.requests)
    assert data.features["bio_goal_similarity"].isna().all()  # no encoder: no text feature


def test_train_heads_refuses_parameters_for_an_unknown_head(world_data):
    with pytest.raises(InvalidParameterError, match="head names"):
        train_heads(world_data, params={"acept": {"max_depth": 2}})
