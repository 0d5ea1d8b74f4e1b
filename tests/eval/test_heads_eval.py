"""Calibration metrics against scikit-learn and a hand-worked example; the heads' held-out report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from db.engine import get_engine
from db.loading import load_dataset
from eval.heads import PLOT_FILE, evaluate_heads, head_metrics
from eval.metrics import expected_calibration_error, reliability_curve
from mentor_match.errors import InvalidParameterError
from ranking.heads import build_heads_data, train_heads
from synthetic import generate_world, write_world


# ---------------------------------------------------------------------------- metrics
@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [1, 3, 10])
def test_the_reliability_curve_agrees_with_scikit_learn(strategy, n_bins):
    rng = np.random.default_rng(n_bins)
    y_prob = np.round(rng.beta(2, 3, 500), 1)  # rounded: many predictions sit on bin edges
    y_prob[:3] = [0.0, 1.0, 0.5]
    y_true = (rng.random(500) < y_prob).astype(int)
    observed, predicted = calibration_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    curve = reliability_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    np.testing.assert_allclose(curve.observed, observed)
    np.testing.assert_allclose(curve.mean_predicted, predicted)
    assert curve.counts.sum() == 500 and (curve.counts > 0).all()


def test_the_expected_calibration_error_of_a_hand_worked_example():
    # Four bins of width 0.25. [0, .25]: 0.1, 0.2 -> mean 0.15, one positive of two (0.5);
    # (.25, .5]: 0.3, 0.5 -> 0.4, none positive (0); (.5, .75]: empty;
    # (.75, 1]: 0.8, 0.9, 1.0, 0.9 -> 0.9, three of four positive (0.75).
    # ECE = 2/8 x 0.35 + 2/8 x 0.4 + 4/8 x 0.15 = 0.0875 + 0.1 + 0.075 = 0.2625.
    y_true = [1, 0, 0, 0, 1, 1, 0, 1]
    y_prob = [0.1, 0.2, 0.3, 0.5, 0.8, 0.9, 1.0, 0.9]
    assert expected_calibration_error(y_true, y_prob, n_bins=4) == pytest.approx(0.2625)
    curve = reliability_curve(y_true, y_prob, n_bins=4)
    assert curve.counts.tolist() == [2, 2, 4]
    assert curve.lower.tolist() == [0.0, 0.25, 0.75]


def test_bins_that_match_their_outcomes_have_no_calibration_error():
    # Each prediction's bin holds exactly that share of positives.
    y_prob = [0.2] * 5 + [0.6] * 5
    y_true = [1, 0, 0, 0, 0] + [1, 1, 1, 0, 0]
    assert expected_calibration_error(y_true, y_prob, n_bins=10) == pytest.approx(0.0)
    assert expected_calibration_error(y_true, y_prob, strategy="quantile") == pytest.approx(0.0)


def test_bad_calibration_input_is_refused():
    with pytest.raises(InvalidParameterError, match="probabilities in \\[0, 1\\]"):
        expected_calibration_error([0, 1], [-0.5, 2.0])
    with pytest.raises(InvalidParameterError, match="0/1 labels"):
        reliability_curve([0, 2], [0.1, 0.9])
    with pytest.raises(InvalidParameterError, match="'strategy'"):
        reliability_curve([0, 1], [0.1, 0.9], strategy="kmeans")
    with pytest.raises(InvalidParameterError, match="'n_bins'"):
        reliability_curve([0, 1], [0.1, 0.9], n_bins=0)
    with pytest.raises(InvalidParameterError, match="same length"):
        reliability_curve([0, 1, 1], [0.1, 0.9])


def test_head_metrics_agree_with_scikit_learn_and_leave_undefined_ones_empty():
    rng = np.random.default_rng(5)
    y_prob = rng.random(200)
    y_true = (rng.random(200) < y_prob).astype(int)
    metrics = head_metrics(y_true, y_prob)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y_true, y_prob))
    assert metrics["average_precision"] == pytest.approx(average_precision_score(y_true, y_prob))
    assert metrics["log_loss"] == pytest.approx(log_loss(y_true, y_prob))
    assert metrics["base_rate"] == pytest.approx(y_true.mean())
    one_class = head_metrics([1, 1, 1], [0.7, 0.8, 0.9])
    assert one_class["roc_auc"] is None and one_class["average_precision"] is None
    assert one_class["log_loss"] == pytest.approx(log_loss([1, 1, 1], [0.7, 0.8, 0.9], labels=[0, 1]))


# ---------------------------------------------------------------------------- the heads' report
@pytest.fixture(scope="module")
def small_world_heads(tmp_path_factory):
    """60 mentors, 150 mentees, 6 requests each (seed 11), through the database; both heads."""
    world = generate_world(n_mentors=60, n_mentees=150, interactions_per_mentee=6, seed=11)
    engine = get_engine(f"sqlite:///{tmp_path_factory.mktemp('heads-eval') / 'world.db'}")
    write_world(engine, world, progress=False)
    data = build_heads_data(load_dataset(engine), seed=11)
    return train_heads(data, seed=11, n_jobs=1), data


def test_the_heads_report_is_json_with_a_reliability_plot(small_world_heads, tmp_path):
    model, data = small_world_heads
    result = evaluate_heads(model, data, tmp_path / "report")
    assert json.loads(json.dumps(result)) == result
    assert (tmp_path / "report" / PLOT_FILE).read_bytes()[1:4] == b"PNG"
    for head, predict in (("accept", model.predict_accept), ("success", model.predict_success)):
        X, y = data.labelled(head, "test")
        metrics = result["heads"][head]
        assert metrics["n"] == len(y) == sum(metrics["reliability"]["counts"])
        assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, predict(X)))
        assert metrics["log_loss"] == pytest.approx(log_loss(y, predict(X)))
        assert metrics["ece"] == pytest.approx(expected_calibration_error(y, predict(X)))
    # P(match) is judged on the held-out requests whose end is known: declined or completed.
    test = data.requests.iloc[data.rows("accept", "test")]
    assert result["match"]["n"] == int(test["status"].isin(["declined", "completed"]).sum())


def test_the_heads_report_refuses_an_unknown_part(small_world_heads, tmp_path):
    model, data = small_world_heads
    with pytest.raises(InvalidParameterError, match="'part'"):
        evaluate_heads(model, data, tmp_path, part="holdout")
