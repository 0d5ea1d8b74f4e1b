"""Learning from the logged lists: labels from events, and position bias on a planted log."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import ndcg_score

from db.log_reading import LogFrames
from db.schema import recommendation_events, recommendation_feedback, recommendation_lists
from mentor_match.errors import (
    ArtifactError,
    DataValidationError,
    InvalidParameterError,
    NotEnoughDataError,
)
from ranking.features import FEATURES
from ranking.logged import (
    MIN_LISTS,
    PositionFeatureRanker,
    examination_curve,
    fit_position_feature_ranker,
    fit_unbiased_lambdamart,
    logged_training_groups,
)
from ranking.ranker import Ranker

T0 = datetime(2024, 3, 1, 9, 0)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


# ------------------------------------------------------------------ a log built by hand
def list_id(number: int) -> str:
    return f"{number:032x}"


def snapshot(**values: float) -> dict[str, float]:
    return {name: float(values.get(name, 0.0)) for name in FEATURES}


class Log:
    """Rows of the three log tables with the schema's columns, added list by list."""

    def __init__(self) -> None:
        self.lists: list[dict] = []
        self.slots: list[dict] = []
        self.events: list[dict] = []

    def serve(self, number: int, mentee: int | None, mentors: list[int], at: datetime, features=None) -> str:
        """A list of ``mentors`` in shown order; ``features`` per slot (default: a snapshot
        whose domain_overlap is the mentor id, so rows can be told apart)."""
        lid = list_id(number)
        self.lists.append({
            "list_id": lid, "mentee_id": mentee, "created_at": at, "model_version": "ranker-1",
            "index_version": "index-1", "experiment": None, "variant": "control",
            "policy": "greedy", "policy_params": {}, "k": len(mentors), "latency_ms": 1.0,
        })
        for position, mentor in enumerate(mentors, start=1):
            snap = snapshot(domain_overlap=mentor) if features is None else features[position - 1]
            self.slots.append({
                "feedback_id": len(self.slots) + 1, "mentee_id": mentee, "mentor_id": mentor,
                "recommended_rank": position, "was_accepted": None, "feedback_date": at,
                "model_version": "ranker-1", "variant": "control", "list_id": lid,
                "score": 1.0 / position, "similarity": 0.5, "propensity": None, "features": snap,
            })
        return lid

    def event(self, kind: str, mentee: int, mentor: int, at: datetime, lid: str | None = None, success=None) -> None:
        self.events.append({
            "event_id": f"e{len(self.events)}", "list_id": lid, "mentee_id": mentee,
            "mentor_id": mentor, "kind": kind, "success": success, "occurred_at": at, "recorded_at": at,
        })

    def frames(self) -> LogFrames:
        def frame(rows, table):
            return pd.DataFrame(rows, columns=[c.name for c in table.columns])

        return LogFrames(
            frame(self.lists, recommendation_lists),
            frame(self.slots, recommendation_feedback),
            frame(self.events, recommendation_events),
        )


def row(groups: pd.DataFrame, lid: str, mentor: int) -> pd.Series:
    rows = groups[(groups["list_id"] == lid) & (groups["mentor_id"] == mentor)]
    assert len(rows) == 1
    return rows.iloc[0]


def labels(groups: pd.DataFrame, lid: str, mentor: int) -> dict:
    found = row(groups, lid, mentor)
    return {name: found[name].item() for name in ("requested", "accepted", "success", "relevance", "pending", "ongoing")}


# ----------------------------------------------------------------------------- labels
def test_rows_come_in_shown_order_with_the_logged_features_and_a_slot_never_requested_is_zero():
    log = Log()
    lid = log.serve(1, mentee=1, mentors=[30, 10, 20], at=T0)
    log.event("requested", 1, 10, T0 + HOUR, lid)
    groups = logged_training_groups(log.frames())
    assert groups["mentor_id"].tolist() == [30, 10, 20]
    assert groups["position"].tolist() == [1, 2, 3]
    assert groups["domain_overlap"].tolist() == [30.0, 10.0, 20.0]  # the snapshot, not recomputed
    assert groups["requested"].tolist() == [0, 1, 0]
    assert labels(groups, lid, 30) == {
        "requested": 0, "accepted": 0, "success": 0, "relevance": 0, "pending": False, "ongoing": False,
    }
    assert list(groups.columns[8:8 + len(FEATURES)]) == list(FEATURES)


def test_each_outcome_gives_its_graded_relevance_and_unknown_labels_are_flagged():
    log = Log()
    lid = log.serve(1, mentee=1, mentors=[10, 11, 12, 13, 14], at=T0)
    log.event("requested", 1, 10, T0 + HOUR, lid)  # pending: no answer yet
    log.event("requested", 1, 11, T0 + HOUR, lid)
    log.event("declined", 1, 11, T0 + 2 * HOUR)  # later events may leave the list out
    log.event("requested", 1, 12, T0 + HOUR, lid)
    log.event("accepted", 1, 12, T0 + 2 * HOUR, lid)  # ongoing: not ended yet
    log.event("requested", 1, 13, T0 + HOUR, lid)
    log.event("accepted", 1, 13, T0 + 2 * HOUR, lid)
    log.event("started", 1, 13, T0 + 3 * HOUR, lid)
    log.event("ended", 1, 13, T0 + 30 * DAY, lid, success=True)
    log.event("requested", 1, 14, T0 + HOUR, lid)
    log.event("accepted", 1, 14, T0 + 2 * HOUR, lid)
    log.event("ended", 1, 14, T0 + 30 * DAY, lid, success=False)
    groups = logged_training_groups(log.frames())
    assert labels(groups, lid, 10) == {
        "requested": 1, "accepted": 0, "success": 0, "relevance": 1, "pending": True, "ongoing": False,
    }
    assert labels(groups, lid, 11) == {
        "requested": 1, "accepted": 0, "success": 0, "relevance": 1, "pending": False, "ongoing": False,
    }
    assert labels(groups, lid, 12) == {
        "requested": 1, "accepted": 1, "success": 0, "relevance": 2, "pending": False, "ongoing": True,
    }
    assert labels(groups, lid, 13)["relevance"] == 3
    assert labels(groups, lid, 14) == {
        "requested": 1, "accepted": 1, "success": 0, "relevance": 2, "pending": False, "ongoing": False,
    }


def test_events_without_a_list_go_to_the_latest_list_that_showed_the_mentor_before_the_request():
    log = Log()
    first = log.serve(1, mentee=1, mentors=[10, 11], at=T0)
    second = log.serve(2, mentee=1, mentors=[12, 11], at=T0 + DAY)
    other_mentee = log.serve(3, mentee=2, mentors=[11], at=T0 + 1.5 * DAY)
    later = log.serve(4, mentee=1, mentors=[11, 10], at=T0 + 3 * DAY)
    log.event("requested", 1, 11, T0 + 2 * DAY)  # second, not first (older) nor later (after it)
    log.event("accepted", 1, 11, T0 + 2.5 * DAY)
    log.event("requested", 1, 10, T0 + 2 * DAY)  # only first showed 10 before the request
    log.event("requested", 1, 99, T0 + 2 * DAY)  # never shown: a contact outside the lists
    groups = logged_training_groups(log.frames())
    assert labels(groups, second, 11)["relevance"] == 2
    assert labels(groups, first, 10)["requested"] == 1
    for lid, mentor in [(first, 11), (other_mentee, 11), (later, 11), (later, 10), (second, 12)]:
        assert labels(groups, lid, mentor)["requested"] == 0, (lid, mentor)
    assert groups["requested"].sum() == 2


def test_a_request_with_a_list_keeps_it_when_its_answer_comes_without_one():
    log = Log()
    first = log.serve(1, mentee=1, mentors=[10], at=T0)
    second = log.serve(2, mentee=1, mentors=[10], at=T0 + 2 * DAY)
    log.event("requested", 1, 10, T0 + DAY, first)
    log.event("accepted", 1, 10, T0 + 3 * DAY)  # after the second list, but the request's list holds
    groups = logged_training_groups(log.frames())
    assert labels(groups, first, 10)["accepted"] == 1
    assert labels(groups, second, 10)["requested"] == 0


def test_an_answer_stamped_before_its_request_counts_by_kind_not_by_clock():
    log = Log()
    lid = log.serve(1, mentee=1, mentors=[10, 11], at=T0)
    log.event("requested", 1, 10, T0 + 5 * HOUR, lid)
    log.event("accepted", 1, 10, T0 + 2 * HOUR, lid)  # the mentor's clock is behind
    log.event("ended", 1, 11, T0 + 9 * DAY, lid, success=True)  # its earlier events were never posted
    groups = logged_training_groups(log.frames())
    assert labels(groups, lid, 10) == {
        "requested": 1, "accepted": 1, "success": 0, "relevance": 2, "pending": False, "ongoing": True,
    }
    assert labels(groups, lid, 11)["relevance"] == 3


def test_nothing_from_after_until_is_seen():
    log = Log()
    lid = log.serve(1, mentee=1, mentors=[10, 11, 12], at=T0)
    late_list = log.serve(2, mentee=1, mentors=[13], at=T0 + 3 * DAY)
    log.event("requested", 1, 10, T0 + HOUR, lid)
    log.event("accepted", 1, 10, T0 + 5 * DAY, lid)  # after the cut: still pending then
    log.event("requested", 1, 11, T0 + 2 * DAY, lid)  # exactly at the cut: seen
    log.event("requested", 1, 12, T0 + 2 * DAY + HOUR, lid)  # after the cut: not requested yet
    log.event("requested", 1, 13, T0 + 4 * DAY, late_list)
    groups = logged_training_groups(log.frames(), until=T0 + 2 * DAY)
    assert set(groups["list_id"]) == {lid}
    assert labels(groups, lid, 10) == {
        "requested": 1, "accepted": 0, "success": 0, "relevance": 1, "pending": True, "ongoing": False,
    }
    assert labels(groups, lid, 11)["requested"] == 1
    assert labels(groups, lid, 12)["requested"] == 0
    assert labels(logged_training_groups(log.frames()), lid, 10)["accepted"] == 1


def test_contradicting_events_are_refused_naming_the_pair():
    log = Log()
    lid = log.serve(1, mentee=1, mentors=[10], at=T0)
    log.event("requested", 1, 10, T0 + HOUR, lid)
    log.event("declined", 1, 10, T0 + 2 * HOUR, lid)
    log.event("started", 1, 10, T0 + 3 * HOUR, lid)
    with pytest.raises(DataValidationError, match=r"both an acceptance and a decline.*mentee 1, mentor 10"):
        logged_training_groups(log.frames())
    log = Log()
    first = log.serve(1, mentee=1, mentors=[10], at=T0)
    second = log.serve(2, mentee=1, mentors=[10], at=T0 + HOUR)
    log.event("requested", 1, 10, T0 + 2 * HOUR, first)
    log.event("accepted", 1, 10, T0 + 3 * HOUR, second)
    with pytest.raises(DataValidationError, match="more than one list"):
        logged_training_groups(log.frames())


def test_a_list_with_a_slot_lacking_the_feature_snapshot_is_dropped_whole(caplog):
    log = Log()
    whole = log.serve(1, mentee=1, mentors=[10, 11], at=T0)
    log.serve(2, mentee=2, mentors=[10, 11], at=T0, features=[snapshot(), None])
    log.serve(3, mentee=3, mentors=[10, 11], at=T0, features=[snapshot(), {"domain_overlap": 1.0}])
    with caplog.at_level(logging.WARNING, logger="ranking.logged"):
        groups = logged_training_groups(log.frames())
    assert set(groups["list_id"]) == {whole}
    assert "dropped 2 logged list(s) (4 slots)" in caplog.text


def test_a_feature_logged_as_null_is_nan():
    log = Log()
    snap = snapshot()
    snap["bio_goal_similarity"] = None
    lid = log.serve(1, mentee=1, mentors=[10], at=T0, features=[snap])
    assert np.isnan(row(logged_training_groups(log.frames()), lid, 10)["bio_goal_similarity"])


def test_until_must_be_a_time():
    with pytest.raises(InvalidParameterError, match="'until' parameter"):
        logged_training_groups(Log().frames(), until="2024-01-01")


# ------------------------------------------------------------------------- fitting rules
def small_log(n_lists: int, *, requested: int, accepted_pending: int = 0) -> pd.DataFrame:
    """``n_lists`` lists of three; the first ``requested`` have a request at position 1, of
    which the first ``accepted_pending`` are still waiting for the mentor."""
    log = Log()
    for number in range(n_lists):
        lid = log.serve(number, mentee=number, mentors=[1, 2, 3], at=T0 + number * HOUR)
        if number < requested:
            log.event("requested", number, 1, T0 + number * HOUR + HOUR, lid)
            if number >= accepted_pending:
                log.event("accepted", number, 1, T0 + number * HOUR + 2 * HOUR, lid)
    return logged_training_groups(log.frames())


FAST = Ranker("rank:ndcg", n_estimators=5, max_depth=2, n_jobs=1)


@pytest.mark.parametrize("fit", [fit_unbiased_lambdamart, fit_position_feature_ranker])
def test_too_few_lists_with_a_request_is_not_enough_data(fit):
    groups = small_log(60, requested=MIN_LISTS - 1)
    with pytest.raises(NotEnoughDataError, match=rf"only {MIN_LISTS - 1} logged list.*at least {MIN_LISTS}"):
        fit(groups, ranker=FAST)
    assert fit(small_log(60, requested=MIN_LISTS), ranker=FAST) is not None


def test_lists_with_a_pending_request_do_not_count_for_the_accept_label():
    groups = small_log(60, requested=60, accepted_pending=15)
    fit_unbiased_lambdamart(groups, label="requested", ranker=FAST)
    with pytest.raises(NotEnoughDataError, match=r"only 45 logged list"):
        fit_unbiased_lambdamart(groups, label="accepted", ranker=FAST)


def test_unbiased_lambdamart_refuses_rows_out_of_shown_order():
    groups = small_log(60, requested=60)
    with pytest.raises(InvalidParameterError, match="in shown order"):
        fit_unbiased_lambdamart(groups.iloc[::-1], ranker=FAST)
    with pytest.raises(InvalidParameterError, match="in shown order"):
        fit_unbiased_lambdamart(groups[groups["position"] != 2], ranker=FAST)


def test_the_examination_curve_needs_an_unbiased_ranker():
    groups = small_log(60, requested=60)
    plain = Ranker("rank:ndcg", n_estimators=5, n_jobs=1).fit(groups[list(FEATURES)], groups["requested"], groups["list_id"])
    with pytest.raises(InvalidParameterError, match="without lambdarank_unbiased"):
        examination_curve(plain)


def test_the_position_feature_ranker_scores_alike_after_save_and_load(tmp_path):
    groups = small_log(60, requested=60)
    model = fit_position_feature_ranker(groups, ranker=FAST)
    X = groups[list(FEATURES)]
    loaded = PositionFeatureRanker.load(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(InvalidParameterError, match="adds the 'position' column itself"):
        model.predict(groups[[*FEATURES, "position"]])
    Ranker(**FAST.get_params()).fit(X, groups["requested"], groups["list_id"]).save(tmp_path / "plain")
    with pytest.raises(ArtifactError, match="not trained with the position"):
        PositionFeatureRanker.load(tmp_path / "plain")


# --------------------------------------------------------- position bias on a planted log
K = 5
N_LISTS = 2000
EXAMINATION = 1.0 / np.arange(1, K + 1)  # P(a mentee looks at position r)
POPULARITY = "mentor_total_mentees"
TREES = Ranker("rank:ndcg", n_estimators=200, learning_rate=0.1, max_depth=4, n_jobs=1)


def true_relevance(X: pd.DataFrame) -> np.ndarray:
    """P(the mentee would request the mentor if they looked): domain and skill fit help,
    popularity hurts (popular mentors are busy)."""
    return 0.05 + 0.9 * (
        0.5 * X["domain_overlap"] + 0.2 * X["skill_overlap"] + 0.3 * (1 - X[POPULARITY])
    ).to_numpy()


def planted_log(seed: int) -> LogFrames:
    """Lists of K shown by a logging policy that puts popular mentors first (a noisy sort by
    popularity); a mentee requests a mentor when they look at the slot (1/r) and it is relevant."""
    rng = np.random.default_rng(seed)
    n = N_LISTS * K
    X = pd.DataFrame(rng.uniform(size=(n, len(FEATURES))), columns=list(FEATURES))
    order = np.argsort(-(X[POPULARITY].to_numpy() / 0.3 + rng.gumbel(size=n)).reshape(N_LISTS, K), axis=1)
    X = X.iloc[(order + K * np.arange(N_LISTS)[:, None]).ravel()].reset_index(drop=True)
    position = np.tile(np.arange(1, K + 1), N_LISTS)
    requested = (rng.uniform(size=n) < EXAMINATION[position - 1]) & (rng.uniform(size=n) < true_relevance(X))
    log = Log()
    records = X.to_dict("records")
    for number in range(N_LISTS):
        at = T0 + number * timedelta(minutes=10)
        mentors = list(range(number * K, (number + 1) * K))
        lid = log.serve(number, mentee=number, mentors=mentors, at=at, features=records[number * K:(number + 1) * K])
        for slot in np.flatnonzero(requested[number * K:(number + 1) * K]):
            log.event("requested", number, mentors[slot], at + HOUR, lid)
    return log.frames()


def train_on_planted_log(seed: int) -> dict:
    """The naive and the two debiased rankers trained on one planted log, judged on fresh
    candidates against the true relevance."""
    groups = logged_training_groups(planted_log(seed))
    naive = Ranker(**TREES.get_params()).fit(groups[list(FEATURES)], groups["requested"], groups["list_id"])
    unbiased = fit_unbiased_lambdamart(groups, ranker=TREES)
    with_position = fit_position_feature_ranker(groups, ranker=TREES)
    rng = np.random.default_rng(seed + 1)  # fresh candidates: 500 mentees x 10 mentors, any order
    candidates = pd.DataFrame(rng.uniform(size=(5000, len(FEATURES))), columns=list(FEATURES))
    truth = true_relevance(candidates).reshape(500, 10)

    def ndcg(model) -> float:
        return float(ndcg_score(truth, model.predict(candidates).reshape(500, 10), k=5))

    def popularity_effect(model) -> float:
        return float(spearmanr(model.predict(candidates), candidates[POPULARITY]).statistic)

    return {
        "groups": groups,
        "curve": examination_curve(unbiased),
        "ndcg": {"naive": ndcg(naive), "unbiased": ndcg(unbiased), "position": ndcg(with_position)},
        "popularity": {
            "naive": popularity_effect(naive),
            "unbiased": popularity_effect(unbiased),
            "position": popularity_effect(with_position),
        },
    }


@pytest.fixture(scope="module")
def planted() -> dict:
    return train_on_planted_log(seed=7)


def test_the_planted_log_is_confounded_as_designed(planted):
    groups = planted["groups"]
    assert len(groups) == N_LISTS * K and groups["list_id"].nunique() == N_LISTS
    request_rate = groups.groupby("position")["requested"].mean().to_numpy()
    assert np.all(np.diff(request_rate) < 0)  # requests fall with position ...
    # ... and the naive ranker takes the logging policy's popularity for relevance, which
    # the truth says hurts (Spearman of its scores with popularity on fresh candidates).
    # Unbiased LambdaMART takes most of that out; the position feature finds the true sign.
    popularity = planted["popularity"]
    assert popularity["naive"] > 0.2
    assert popularity["unbiased"] < popularity["naive"] / 2
    assert popularity["position"] < -0.1


def test_unbiased_lambdamart_recovers_the_planted_examination_curve(planted):
    curve = planted["curve"]
    assert curve.shape == (K,)
    np.testing.assert_allclose(curve, EXAMINATION, atol=0.1)


def test_both_debiased_rankers_rank_by_true_relevance_better_than_the_naive_one(planted):
    scores = planted["ndcg"]
    assert scores["unbiased"] >= scores["naive"] + 0.02, scores
    assert scores["position"] >= scores["naive"] + 0.05, scores
