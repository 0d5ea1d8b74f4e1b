"""eval.offpolicy: IPS, SNIPS and IIPS against planted answers, the exploration policy's
propensities against enumeration, and per-slot rewards read back from a real log."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, insert

from db.loading import create_schema
from db.log_reading import load_log
from db.schema import recommendation_events, recommendation_feedback, recommendation_lists
from eval.offpolicy import (
    MIN_LISTS,
    iips,
    ips,
    marginal_propensities,
    slot_propensities,
    slot_rewards,
    snips,
)
from mentor_match.errors import DataValidationError, InvalidParameterError, NotEnoughDataError
from retrieval.exploration import explore

Z95 = 1.959963984540054

# --- a logged bandit with a known answer -------------------------------------------------
# Five mentors, three slots. A slot is clicked with P = examination[position] x relevance[mentor]
# (the position-based click model), so the value of a policy is exact by enumeration.
RELEVANCE = np.array([0.9, 0.6, 0.4, 0.25, 0.1])
EXAMINATION = np.array([1.0, 0.6, 0.35])
K = len(EXAMINATION)
SLATES = np.array(list(itertools.permutations(range(len(RELEVANCE)), K)))


def exact_list_probability(scores, slate, *, epsilon: float, temperature: float) -> float:
    """(1 - epsilon) [slate is the greedy top] + epsilon PL(slate), written out by hand."""
    weights = np.exp(np.asarray(scores, dtype=float) / temperature)
    left, probability = list(range(len(scores))), 1.0
    for item in slate:
        probability *= weights[item] / weights[left].sum()
        left.remove(item)
    greedy = tuple(int(i) for i in np.argsort(-np.asarray(scores), kind="stable")[: len(slate)])
    return (1 - epsilon) * float(tuple(int(i) for i in slate) == greedy) + epsilon * probability


def enumerate_policy(scores, *, epsilon: float, temperature: float, slates=SLATES) -> np.ndarray:
    return np.array([exact_list_probability(scores, s, epsilon=epsilon, temperature=temperature) for s in slates])


def prefix_conditionals(probabilities: np.ndarray, slates=SLATES) -> np.ndarray:
    """P(slot j | slots above) of every slate: ratios of summed prefix probabilities."""
    out = np.ones(slates.shape)
    previous = np.ones(len(slates))
    for j in range(1, slates.shape[1] + 1):
        keys = [tuple(int(v) for v in s[:j]) for s in slates]
        sums: dict[tuple, float] = {}
        for key, p in zip(keys, probabilities, strict=True):
            sums[key] = sums.get(key, 0.0) + p
        totals = np.array([sums[key] for key in keys])
        out[:, j - 1] = totals / previous
        previous = totals
    return out


def exact_marginals(probabilities: np.ndarray, n_items: int, slates=SLATES) -> np.ndarray:
    marginals = np.zeros((n_items, slates.shape[1]))
    for slate, p in zip(slates, probabilities, strict=True):
        marginals[slate, np.arange(slates.shape[1])] += p
    return marginals


LOGGING = {"scores": np.array([1.0, 0.5, 0.8, 0.2, 0.0]), "epsilon": 0.6, "temperature": 1.0}
TARGET = {"scores": np.array([2.0, 1.2, 0.6, 0.3, 0.0]), "epsilon": 0.5, "temperature": 0.7}


@pytest.fixture(scope="module")
def bandit():
    logging_p = enumerate_policy(LOGGING["scores"], epsilon=LOGGING["epsilon"], temperature=LOGGING["temperature"])
    target_p = enumerate_policy(TARGET["scores"], epsilon=TARGET["epsilon"], temperature=TARGET["temperature"])
    truth = float(target_p @ (EXAMINATION * RELEVANCE[SLATES]).sum(axis=1))
    return {
        "logging": logging_p,
        "conditional": (prefix_conditionals(logging_p), prefix_conditionals(target_p)),
        "marginal": (exact_marginals(logging_p, 5), exact_marginals(target_p, 5)),
        "truth": truth,
        "logging_value": float(logging_p @ (EXAMINATION * RELEVANCE[SLATES]).sum(axis=1)),
    }


def logged_lists(bandit, n_lists: int, seed: int) -> pd.DataFrame:
    """``n_lists`` lists drawn from the logging policy, clicked by the click model."""
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(SLATES), size=n_lists, p=bandit["logging"])
    items = SLATES[drawn]
    clicks = rng.random((n_lists, K)) < EXAMINATION * RELEVANCE[items]
    positions = np.tile(np.arange(K), n_lists)
    (logging_c, target_c), (logging_m, target_m) = bandit["conditional"], bandit["marginal"]
    return pd.DataFrame({
        "list_id": np.repeat(np.arange(n_lists), K),
        "position": positions + 1,
        "reward": clicks.ravel().astype(float),
        "logging_propensity": logging_c[drawn].ravel(),
        "target_propensity": target_c[drawn].ravel(),
        "logging_marginal": logging_m[items.ravel(), positions],
        "target_marginal": target_m[items.ravel(), positions],
    })


@pytest.fixture(scope="module")
def repeated_estimates(bandit):
    """200 logs of 2,000 lists each: (estimate, standard error, covered) per estimator."""
    out = {"ips": [], "snips": [], "iips": []}
    for seed in range(200):
        slots = logged_lists(bandit, 2000, seed)
        for name, estimator in (("ips", ips), ("snips", snips), ("iips", iips)):
            result = estimator(slots)
            low, high = result.interval
            out[name].append((result.estimate, result.standard_error, low <= bandit["truth"] <= high))
    return {name: np.array(rows) for name, rows in out.items()}


def test_the_planted_target_is_worth_more_than_the_logger(bandit):
    # the test would prove little if the two policies had the same value
    assert bandit["truth"] - bandit["logging_value"] > 0.1


@pytest.mark.parametrize("name", ["ips", "snips", "iips"])
def test_each_estimator_is_unbiased_and_its_interval_covers_the_truth_95_percent_of_the_time(
    repeated_estimates, bandit, name
):
    estimates, errors, covered = repeated_estimates[name].T
    spread = estimates.std(ddof=1)
    assert abs(estimates.mean() - bandit["truth"]) < 4 * spread / math.sqrt(len(estimates))
    assert 0.88 <= covered.mean() <= 0.99
    # the reported standard error is the spread of the estimate over draws
    assert 0.8 < errors.mean() / spread < 1.25


def test_under_the_position_based_model_iips_has_far_lower_variance_than_ips(repeated_estimates):
    spread = {name: values[:, 0].std(ddof=1) for name, values in repeated_estimates.items()}
    assert spread["iips"] < spread["ips"] / 2
    assert spread["snips"] < spread["ips"]


def test_lists_logged_by_retrieval_explore_give_an_interval_around_the_truth():
    """The real exploration policy logs the propensities; ours recompute them for the target."""
    candidates = LOGGING["scores"]
    log_settings = {"epsilon": 0.5, "temperature": 1.5}
    target_settings = {"epsilon": 0.3, "temperature": 0.8}
    target_scores = TARGET["scores"]
    target_p = enumerate_policy(target_scores, **target_settings)
    truth = float(target_p @ (EXAMINATION * RELEVANCE[SLATES]).sum(axis=1))
    rng = np.random.default_rng(11)
    logging_marginal = marginal_propensities(candidates, K, **log_settings, samples=200_000, seed=1)
    target_marginal = marginal_propensities(target_scores, K, **target_settings, samples=200_000, seed=2)
    n_lists = 3000
    orders, logging_c, target_c = [], [], []
    for list_number in range(n_lists):
        shown = explore(candidates, K, **log_settings, seed=list_number)
        orders.append(shown.order)
        logging_c.append(shown.propensity)
        target_c.append(slot_propensities(target_scores, shown.order, **target_settings))
    items = np.concatenate(orders)
    positions = np.tile(np.arange(K), n_lists)
    slots = pd.DataFrame({
        "list_id": np.repeat(np.arange(n_lists), K),
        "position": positions + 1,
        "reward": (rng.random(len(items)) < EXAMINATION[positions] * RELEVANCE[items]).astype(float),
        "logging_propensity": np.concatenate(logging_c),
        "target_propensity": np.concatenate(target_c),
        "logging_marginal": logging_marginal[items, positions],
        "target_marginal": target_marginal[items, positions],
    })
    for estimator in (ips, snips, iips):
        result = estimator(slots)
        assert result.interval.low <= truth <= result.interval.high, (estimator.__name__, result, truth)


# --- hand-worked examples ----------------------------------------------------------------

HAND = pd.DataFrame({
    "list_id": ["a", "a", "b", "b", "c", "c"],
    "position": [1, 2, 1, 2, 1, 2],
    "reward": [1.0, 0.0, 1.0, 1.0, 0.0, 0.0],
    # list probabilities: logging 0.25, 0.2, 0.25; target 0.5, 0.1, 0.25 -> weights 2, 0.5, 1
    "logging_propensity": [0.5, 0.5, 0.5, 0.4, 0.25, 1.0],
    "target_propensity": [0.5, 1.0, 0.2, 0.5, 0.5, 0.5],
    # item-position weights: a 0.5, 2; b 0, 1 (unrewarded first slot 2); c 0.5, 0
    "logging_marginal": [0.5, 0.2, 0.25, 0.5, 0.4, 0.1],
    "target_marginal": [0.25, 0.4, 0.5, 0.5, 0.2, 0.0],
})
HAND_IIPS_REWARD = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]


def test_ips_by_hand():
    result = ips(HAND, min_lists=3)
    # w * R per list: 2 * 1, 0.5 * 2, 1 * 0; mean 1, deviations 1, 0, -1 -> sd 1
    assert result.per_list.to_dict() == pytest.approx({"a": 2.0, "b": 1.0, "c": 0.0})
    assert result.estimator == "ips" and result.lists == 3
    assert result.estimate == pytest.approx(1.0)
    assert result.standard_error == pytest.approx(1 / math.sqrt(3))
    assert result.interval.low == pytest.approx(1 - Z95 / math.sqrt(3))
    assert result.interval.high == pytest.approx(1 + Z95 / math.sqrt(3))
    assert result.effective_sample_size == pytest.approx(3.5**2 / (4 + 0.25 + 1))


def test_snips_by_hand():
    result = snips(HAND, min_lists=3)
    # sum(w R) / sum(w) = 3 / 3.5; mean weight 7/6; residuals w (R - 6/7) / (7/6) = 12/49, 24/49, -36/49
    assert result.estimate == pytest.approx(6 / 7)
    assert result.per_list.to_dict() == pytest.approx({"a": 12 / 7, "b": 6 / 7, "c": 0.0})
    assert result.standard_error == pytest.approx(math.sqrt((144 + 576 + 1296) / 49**2 / 2 / 3))
    assert result.effective_sample_size == pytest.approx(3.5**2 / 5.25)


def test_iips_by_hand():
    result = iips(HAND.assign(reward=HAND_IIPS_REWARD), min_lists=3)
    # a: 0.5 * 1 + 2 * 1 = 2.5; b: 2 * 0 + 1 * 1 = 1; c: 0.5 * 1 + 0 * 1 = 0.5; mean 4/3
    assert result.per_list.to_dict() == pytest.approx({"a": 2.5, "b": 1.0, "c": 0.5})
    assert result.estimate == pytest.approx(4 / 3)
    assert result.standard_error == pytest.approx(math.sqrt(13) / 6)  # var (49 + 4 + 25) / 36 / 2
    # position 1 weights 0.5, 2, 0.5 -> 9 / 4.5 = 2; position 2 weights 2, 1, 0 -> 9 / 5
    assert result.effective_sample_size == pytest.approx((2 + 1.8) / 2)


def test_the_rows_of_a_list_may_come_in_any_order():
    shuffled = HAND.sample(frac=1.0, random_state=3)
    assert ips(shuffled, min_lists=3).per_list.to_dict() == ips(HAND, min_lists=3).per_list.to_dict()
    assert iips(shuffled, min_lists=3).estimate == pytest.approx(iips(HAND, min_lists=3).estimate)


def test_when_the_target_is_the_logger_ips_and_snips_are_the_plain_mean_reward():
    rng = np.random.default_rng(5)
    n_lists = 300
    propensity = rng.uniform(0.05, 1.0, n_lists * K)
    slots = pd.DataFrame({
        "list_id": np.repeat([f"{i:032x}" for i in range(n_lists)], K),
        "position": np.tile(np.arange(1, K + 1), n_lists),
        "reward": rng.integers(0, 2, n_lists * K).astype(float),
        "logging_propensity": propensity,
        "target_propensity": propensity,
    })
    mean_reward = slots.groupby("list_id")["reward"].sum().to_numpy().mean()
    for estimator in (ips, snips):
        result = estimator(slots)
        assert result.estimate == mean_reward
        assert result.effective_sample_size == pytest.approx(n_lists)
        assert (result.per_list.to_numpy() == slots.groupby("list_id")["reward"].sum().to_numpy()).all()


# --- too little data, no support ---------------------------------------------------------


def _uniform_lists(n_lists: int, **columns) -> pd.DataFrame:
    frame = pd.DataFrame({
        "list_id": np.repeat(np.arange(n_lists), 2),
        "position": np.tile([1, 2], n_lists),
        "reward": np.tile([1.0, 0.0], n_lists),
        "logging_propensity": 0.5, "target_propensity": 0.5,
        "logging_marginal": 0.5, "target_marginal": 0.5,
    })
    return frame.assign(**columns)


@pytest.mark.parametrize("estimator", [ips, snips, iips])
def test_too_few_lists_raise_not_enough_data_naming_the_count_and_the_minimum(estimator):
    with pytest.raises(NotEnoughDataError, match=rf"at least {MIN_LISTS} logged lists.*got 50 of 50 lists.*min_lists"):
        estimator(_uniform_lists(50))
    assert estimator(_uniform_lists(50), min_lists=50).lists == 50


def test_lists_without_a_logging_propensity_do_not_count_towards_the_minimum():
    slots = _uniform_lists(120)
    unlogged = slots["list_id"] < 30
    slots.loc[unlogged, "logging_propensity"] = np.nan
    slots.loc[unlogged, "target_propensity"] = 0.0  # the target would not show them: no support needed
    with pytest.raises(NotEnoughDataError, match="got 90 of 120 lists"):
        ips(slots)
    result = ips(slots, min_lists=90)
    assert result.lists == 120 and result.per_list.iloc[:30].eq(0).all()


@pytest.mark.parametrize("estimator", [ips, snips])
def test_a_missing_logging_propensity_where_the_target_puts_mass_is_no_support(estimator):
    slots = _uniform_lists(150)
    slots.loc[[0, 2, 5], "logging_propensity"] = [np.nan, 0.0, np.nan]
    with pytest.raises(DataValidationError, match=r"3 slots \(of 3 lists\) have a zero or missing logging propensity"):
        estimator(slots)


def test_iips_without_support_for_a_mentor_position_names_the_slots():
    slots = _uniform_lists(150)
    slots.loc[[1, 3], "logging_marginal"] = 0.0
    with pytest.raises(DataValidationError, match=r"2 slots \(of 2 lists\).*no support"):
        iips(slots)


def test_a_deterministic_logger_cannot_evaluate_a_different_ranker():
    slots = _uniform_lists(150, logging_propensity=1.0, logging_marginal=1.0)
    with pytest.raises(DataValidationError, match=r"300 slots \(of 150 lists\).*deterministic logger"):
        ips(slots)
    with pytest.raises(DataValidationError, match="deterministic logger"):
        iips(slots)
    same = slots.assign(target_propensity=1.0)
    assert ips(same).estimate == 1.0  # the logger's own ranker: its mean reward


def test_iips_on_the_logs_conditional_propensity_says_to_compute_marginals():
    slots = _uniform_lists(150).drop(columns=["logging_marginal", "target_marginal"])
    with pytest.raises(InvalidParameterError, match="lack logging_marginal, target_marginal.*marginal_propensities"):
        iips(slots)


def test_bad_parameters_and_values_are_refused():
    with pytest.raises(InvalidParameterError, match="'min_lists' parameter of ips must be an int >= 2"):
        ips(HAND, min_lists=1)
    with pytest.raises(InvalidParameterError, match="outside \\[0, 1\\]"):
        ips(HAND.assign(target_propensity=1.5), min_lists=3)
    with pytest.raises(DataValidationError, match="1 slots repeat a \\(list_id, position\\)"):
        ips(HAND.assign(position=[1, 2, 1, 2, 1, 1]), min_lists=3)


# --- the exploration policy's propensities -----------------------------------------------

FOUR = np.array([1.2, 0.3, 0.9, -0.4])
FOUR_SLATES = np.array(list(itertools.permutations(range(4), 4)))


@pytest.mark.parametrize("epsilon", [1.0, 0.4])
def test_monte_carlo_marginals_agree_with_enumerating_plackett_luce_on_four_items(epsilon):
    exact = exact_marginals(
        enumerate_policy(FOUR, epsilon=epsilon, temperature=0.7, slates=FOUR_SLATES), 4, FOUR_SLATES
    )
    estimated = marginal_propensities(FOUR, 4, epsilon=epsilon, temperature=0.7, samples=200_000, seed=3)
    np.testing.assert_allclose(estimated[:, 0], exact[:, 0], rtol=1e-12)  # position 1 is exact
    np.testing.assert_allclose(estimated, exact, atol=0.004)
    np.testing.assert_allclose(estimated.sum(axis=0), 1.0)
    again = marginal_propensities(FOUR, 4, epsilon=epsilon, temperature=0.7, samples=200_000, seed=3)
    assert (again == estimated).all()


def test_slot_propensities_are_what_explore_logs_and_multiply_to_the_list_probability():
    for seed in range(20):
        shown = explore(FOUR, 3, epsilon=0.35, temperature=0.6, seed=seed)
        ours = slot_propensities(FOUR, shown.order, epsilon=0.35, temperature=0.6)
        np.testing.assert_allclose(ours, shown.propensity, rtol=1e-12)
    products = [slot_propensities(FOUR, s, epsilon=0.35, temperature=0.6).prod() for s in FOUR_SLATES]
    exact = enumerate_policy(FOUR, epsilon=0.35, temperature=0.6, slates=FOUR_SLATES)
    np.testing.assert_allclose(products, exact, rtol=1e-12)
    assert sum(products) == pytest.approx(1.0)


def test_a_plain_ranker_gives_one_along_its_order_and_zero_after_it_leaves():
    assert slot_propensities(FOUR, np.array([0, 2, 1]), epsilon=0.0).tolist() == [1.0, 1.0, 1.0]
    assert slot_propensities(FOUR, np.array([0, 1, 2]), epsilon=0.0).tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(InvalidParameterError, match="distinct positions"):
        slot_propensities(FOUR, np.array([0, 0]), epsilon=0.5)


# --- per-slot rewards from the log -------------------------------------------------------

T0 = pd.Timestamp("2026-03-02 09:00")


def _lid(n: int) -> str:
    return f"{n:032x}"


def _list(n: int, mentee_id, hours: float) -> dict:
    return {
        "list_id": _lid(n), "mentee_id": mentee_id, "created_at": (T0 + pd.Timedelta(hours=hours)).to_pydatetime(),
        "model_version": "m1", "index_version": "i1", "experiment": "exp", "variant": "a",
        "policy": "plackett-luce", "policy_params": {"epsilon": 0.5, "temperature": 1.0}, "k": 2,
        "latency_ms": 1.0,
    }


def _slot(n: int, mentee_id, mentor_id: int, rank: int, propensity) -> dict:
    return {
        "list_id": _lid(n), "mentee_id": mentee_id, "mentor_id": mentor_id, "recommended_rank": rank,
        "feedback_date": T0.to_pydatetime(), "propensity": propensity,
    }


def _event(name: str, list_n, mentee_id: int, mentor_id: int, kind: str, hours: float, success=None) -> dict:
    when = (T0 + pd.Timedelta(hours=hours)).to_pydatetime()
    return {
        "event_id": name, "list_id": None if list_n is None else _lid(list_n), "mentee_id": mentee_id,
        "mentor_id": mentor_id, "kind": kind, "success": success, "occurred_at": when, "recorded_at": when,
    }


@pytest.fixture(scope="module")
def log_frames():
    """Mentee 1 saw lists 1 (t=0) and 2 (t=10 h), both showing mentor 11; list 3 was an
    ad-hoc profile's. Events of every kind of attachment."""
    engine = create_engine("sqlite://")
    create_schema(engine)
    lists = [_list(1, 1, 0), _list(2, 1, 10), _list(3, None, 1)]
    slots = [
        _slot(1, 1, 11, 1, 0.5), _slot(1, 1, 12, 2, 0.25),
        _slot(2, 1, 13, 1, 0.4), _slot(2, 1, 11, 2, None),
        _slot(3, None, 11, 1, 0.9), _slot(3, None, 14, 2, 0.9),
    ]
    events = [
        _event("tied-shown", 1, 1, 12, "requested", 1),
        _event("tied-not-shown", 1, 1, 14, "requested", 1),  # mentor 14 was not in list 1
        _event("loose-between", None, 1, 11, "requested", 5),  # -> list 1 (list 2 came later)
        _event("loose-after-both", None, 1, 11, "accepted", 12),  # -> list 2, the latest
        _event("loose-before-any", None, 1, 13, "requested", -1),  # before list 2: nothing
        _event("loose-other-mentee", None, 2, 12, "requested", 2),
        _event("ended-badly", 1, 1, 12, "ended", 30, success=False),
        _event("ended-well", None, 1, 11, "ended", 40, success=True),  # -> list 2
        _event("ad-hoc-tied", 3, 9, 14, "requested", 2),
    ]
    with engine.begin() as conn:
        conn.execute(insert(recommendation_lists), lists)
        conn.execute(insert(recommendation_feedback), slots)
        conn.execute(insert(recommendation_feedback), [  # a row from before the log: no list
            {"mentee_id": 1, "mentor_id": 12, "recommended_rank": 1, "feedback_date": T0.to_pydatetime()}
        ])
        conn.execute(insert(recommendation_events), events)
    return load_log(engine)


def _rewards(frames, reward: str) -> dict[tuple[int, int], float]:
    table = slot_rewards(frames, reward)
    lists = {_lid(n): n for n in (1, 2, 3)}
    return {(lists[row.list_id], row.mentor_id): row.reward for row in table.itertuples()}


def test_requests_reward_the_shown_slot_of_their_list_or_of_the_latest_list_before_them(log_frames):
    assert _rewards(log_frames, "requested") == {
        (1, 11): 1.0, (1, 12): 1.0, (2, 13): 0.0, (2, 11): 0.0, (3, 11): 0.0, (3, 14): 1.0,
    }


def test_acceptance_and_success_are_rewards_of_the_latest_list_showing_the_mentor(log_frames):
    assert _rewards(log_frames, "accepted") == {
        (1, 11): 0.0, (1, 12): 0.0, (2, 13): 0.0, (2, 11): 1.0, (3, 11): 0.0, (3, 14): 0.0,
    }
    success = _rewards(log_frames, "success")
    assert success[(2, 11)] == 1.0 and success[(1, 12)] == 0.0  # ended unsuccessfully: no reward
    assert sum(success.values()) == 1.0


def test_slot_rewards_keep_the_logged_propensity_and_the_slot_order(log_frames):
    table = slot_rewards(log_frames, "requested")
    assert list(table.columns) == [
        "list_id", "mentee_id", "mentor_id", "position", "created_at", "logging_propensity", "reward",
    ]
    assert len(table) == 6  # the slot from before the log is left out
    assert [_lid(1)] * 2 + [_lid(3)] * 2 + [_lid(2)] * 2 == table["list_id"].tolist()  # by list time
    assert table["position"].tolist() == [1, 2] * 3
    propensity = table["logging_propensity"].tolist()
    assert propensity[:4] == [0.5, 0.25, 0.9, 0.9] and propensity[4] == 0.4 and math.isnan(propensity[5])
    with pytest.raises(InvalidParameterError, match="'reward' parameter of slot_rewards must be one of"):
        slot_rewards(log_frames, "clicked")
