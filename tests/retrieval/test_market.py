"""Congestion prices (retrieval.market, db.market) and the market-aware variant that serves them.

The price arithmetic is checked against scipy's Poisson distribution; the planted market shows
what the prices are for (a star mentor with one seat no longer draws every mentee's request);
the demand is read back from real SQLite and PostgreSQL logs and checked against counts made
by hand; and a loaded recommender (real MiniLM, FAISS, XGBoost heads) serves a priced variant
whose lists are recomputed apart from the serving code.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson
from sqlalchemy import update

from db import get_engine, load_log
from db.log import RecommendationLog
from db.market import read_demand
from db.outcomes import record_outcome
from db.schema import mentors as mentors_table
from eval.training_run import run_training
from index import build_index_from_db
from mentor_match.errors import InvalidParameterError
from ranking.heads import ReciprocalModel
from retrieval import DEFAULT_CANDIDATES, Recommender
from retrieval.experiments import Experiment
from retrieval.market import (
    FREE_TIME_REASON,
    PRIOR_RATE,
    MarketPrices,
    PriceSettings,
    priced_top_k,
    request_curve,
)
from synthetic import generate_world, write_world
from synthetic.profiles import REFERENCE_TIME
from tests.db.logdata import served_list, world_engine

K = 6
T0 = REFERENCE_TIME.to_pydatetime() + timedelta(days=30)  # after every interaction of a generated world
SMALL = {"random_forest": {"n_estimators": 20}, "xgboost_classifier": {"n_estimators": 20},
         "xgboost_ranker": {"n_estimators": 100}}


def _prices(free, rate, pending, exposure=None, k=10) -> MarketPrices:
    n = len(free)
    return MarketPrices(free=free, accept_rate=rate, pending=pending,
                        exposure=np.zeros(n) if exposure is None else exposure, curve=request_curve(None, k))


def test_availability_is_the_poisson_chance_that_a_seat_is_left():
    rng = np.random.default_rng(3)
    free = rng.integers(0, 6, 400).astype(float)
    rate, pending, exposure = rng.random(400), rng.integers(0, 8, 400).astype(float), rng.random(400) * 5
    prices = _prices(free, rate, pending, exposure)
    rows = np.arange(400)
    expected_acceptances = rate * (pending + exposure)
    reference = np.where(free > 0, poisson.cdf(free - 1, expected_acceptances), 0.0)
    np.testing.assert_allclose(prices.availability(rows), reference, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(prices.price(rows)[free > 0], -np.log(reference[free > 0]), rtol=1e-8)
    assert np.isinf(prices.price(rows)[free == 0]).all()
    ratio = np.where(free > 0, np.minimum(1.0, free / np.maximum(expected_acceptances, 1e-12)), 0.0)
    np.testing.assert_allclose(prices.availability(rows, "ratio"), ratio)
    # The served factor: availability ** weight; weight 0 leaves the scores as they are.
    scores = rng.random(400)
    np.testing.assert_allclose(prices.apply(scores, rows, PriceSettings(2.0)), scores * reference**2)
    np.testing.assert_array_equal(prices.apply(scores, rows, PriceSettings(0.0)), scores)


def test_prices_rise_with_pending_requests_and_fall_as_seats_free_up():
    pending = np.arange(6, dtype=float)
    rising = _prices(np.full(6, 2.0), np.full(6, 0.7), pending).price(np.arange(6))
    assert rising[0] == 0 and (np.diff(rising) > 0).all()
    free = np.arange(1, 7, dtype=float)
    falling = _prices(free, np.full(6, 0.7), np.full(6, 4.0)).price(np.arange(6))
    assert (np.diff(falling) < 0).all()


def test_the_request_curve_is_learned_from_the_log_and_shrunk_to_the_prior():
    np.testing.assert_allclose(request_curve(None, 4), PRIOR_RATE / np.arange(1, 5))
    many = pd.DataFrame({"position": [1, 2, 3], "slots": [10**6] * 3, "requests": [300_000, 150_000, 5]})
    np.testing.assert_allclose(request_curve(many, 3), [0.3, 0.15, 0.0], atol=1e-4)


def test_bad_prices_are_refused():
    with pytest.raises(InvalidParameterError, match="negative"):
        _prices([1.0, -1.0], [0.5, 0.5], [0.0, 0.0])
    with pytest.raises(InvalidParameterError, match="one free, accept_rate, pending and exposure entry"):
        _prices([1.0, 1.0], [0.5], [0.0, 0.0])
    with pytest.raises(InvalidParameterError, match="kind"):
        PriceSettings(1.0, "auction")
    with pytest.raises(InvalidParameterError, match="price 'weight'"):
        Experiment.from_dict({"name": "x", "variants": [
            {"name": "control", "share": 1.0, "score": "market", "price": {"weight": -1}}]})
    with pytest.raises(InvalidParameterError, match="only read with"):
        Experiment.from_dict({"name": "x", "variants": [{"name": "control", "share": 1.0, "price": {}}]})


def test_in_a_planted_market_the_star_gets_about_its_capacity_of_requests():
    """One star mentor (one seat, the best P(match) for everyone) and 30 good mentors with three
    seats each; 300 mentees served one after another, each shown K of them."""
    n_good, n_mentees = 30, 300
    free = np.r_[1.0, np.full(n_good, 3.0)]
    rate = np.full(n_good + 1, 0.6)
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(n_mentees), n_good + 1)
    rows = np.tile(np.arange(n_good + 1), n_mentees)
    scores = np.where(rows == 0, 0.9, 0.45 + 0.1 * rng.random(len(rows)))
    curve = request_curve(None, K)

    def acceptances(chosen: np.ndarray) -> np.ndarray:
        """Expected acceptances per mentor of the chosen slots (positions 1..K per mentee)."""
        position = np.tile(np.arange(1, K + 1), n_mentees)
        return np.bincount(rows[chosen], weights=curve[position - 1], minlength=n_good + 1) * rate

    unpriced = np.concatenate([g * (n_good + 1) + np.argsort(-scores[g * (n_good + 1):(g + 1) * (n_good + 1)],
                                                             kind="stable")[:K] for g in range(n_mentees)])
    prices = _prices(free, rate, np.zeros(n_good + 1), k=K)
    chosen, served = priced_top_k(groups, rows, scores, K, prices, PriceSettings())
    naive, priced = acceptances(unpriced), acceptances(chosen)
    assert naive[0] == pytest.approx(n_mentees * curve[0] * 0.6)  # the star heads every plain list: 36 acceptances
    assert priced[0] <= 1.5 * free[0]  # about its one seat's worth
    assert priced[0] >= 0.5  # still shown: the price spreads the demand, it does not hide the star
    assert (priced[1:] / free[1:]).max() < 1.5  # no good mentor becomes the new star
    np.testing.assert_allclose(prices.exposure, np.bincount(rows[chosen], weights=np.tile(curve, n_mentees),
                                                            minlength=n_good + 1))
    assert (served <= scores[chosen]).all() and len(chosen) == n_mentees * K


def test_read_demand_counts_pending_requests_recent_exposure_and_rates_per_position(sqlite_url, pg_url):
    world = generate_world(n_mentors=12, n_mentees=10, interactions_per_mentee=1, seed=2)
    mentors = world.mentors["mentor_id"].tolist()
    mentees = world.mentees["mentee_id"].tolist()
    results = []
    for url in (sqlite_url, pg_url):
        engine = world_engine(url, world)
        now = T0 + timedelta(days=10, hours=3)
        window, history = timedelta(days=3), timedelta(days=28)
        world_pending = read_demand(engine, now=now, window=window, history=history).pending  # the world's own
        log = RecommendationLog(engine, flush_interval=0.05)
        old = [replace(served_list(mentees[i], mentors[i:i + 3], offset=i), created_at=T0) for i in range(3)]
        fresh = [replace(served_list(mentees[i], mentors[i:i + 3], offset=i), created_at=T0 + timedelta(days=10))
                 for i in range(3, 6)]
        for item in old + fresh:
            log.submit(item)
        assert log.flush(timeout=30)
        log.close()
        # Requests from two old lists (positions 1 and 2) and one fresh list (position 1).
        for j, (item, position) in enumerate([(old[0], 1), (old[1], 2), (fresh[0], 1)]):
            record_outcome(engine, event_id=f"r{j}", kind="requested", list_id=item.list_id,
                           mentor_id=item.slots[position - 1].mentor_id,
                           occurred_at=item.created_at + timedelta(hours=1))
        record_outcome(engine, event_id="d0", kind="declined", list_id=old[1].list_id,
                       mentor_id=old[1].slots[1].mentor_id, occurred_at=old[1].created_at + timedelta(hours=2))
        demand = read_demand(engine, now=now, window=window, history=history)
        engine.dispose()
        results.append(demand)
        # Pending: the two requests not answered (old[0]'s and fresh[0]'s), at their mentors.
        added = demand.pending.sub(world_pending, fill_value=0)
        assert added[added != 0].to_dict() == {old[0].slots[0].mentor_id: 1, fresh[0].slots[0].mentor_id: 1}
        # Exposure: the fresh lists' 9 slots, less the one that became a request.
        exposure = demand.exposure
        assert exposure["slots"].sum() == 8
        expected = pd.DataFrame([(s.mentor_id, s.position) for item in fresh for s in item.slots
                                 if not (item is fresh[0] and s.position == 1)], columns=["mentor_id", "position"])
        counted = expected.value_counts().sort_index()
        assert exposure.set_index(["mentor_id", "position"])["slots"].sort_index().to_dict() == counted.to_dict()
        # Rates per position over the matured (old) lists: 3 slots each, requests at 1 and 2.
        rates = demand.position_rates.set_index("position")
        assert rates["slots"].to_dict() == {1: 3, 2: 3, 3: 3}
        assert rates["requests"].to_dict() == {1: 1, 2: 1, 3: 0}
    assert results[0].exposure.equals(results[1].exposure)  # SQLite and PostgreSQL agree
    with pytest.raises(InvalidParameterError, match="window < history"):
        read_demand(get_engine(sqlite_url), now=T0, window=timedelta(days=3), history=timedelta(days=2))


# -- the priced variant served by a loaded recommender ------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder):
    folder = tmp_path_factory.mktemp("market")
    db_url = f"sqlite:///{folder / 'mm.db'}"
    engine = get_engine(db_url)
    write_world(engine, generate_world(n_mentors=90, n_mentees=120, interactions_per_mentee=6, seed=5),
                progress=False)
    engine.dispose()
    artifacts = folder / "artifacts"
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=5, encoder=encoder, progress=False, n_jobs=1, params=SMALL)
    return folder


@pytest.fixture()
def db_url(built, tmp_path) -> str:
    shutil.copy(built / "mm.db", tmp_path / "mm.db")
    return f"sqlite:///{tmp_path / 'mm.db'}"


def _market_experiment(weight: float = 1.0) -> Experiment:
    return Experiment.from_dict({"name": "market-test", "salt": "market-test", "control": "control", "variants": [
        {"name": "control", "share": 1.0, "score": "market", "price": {"weight": weight}}]})


def test_a_priced_variant_serves_p_match_times_the_availability_and_moves_the_prices(built, db_url, encoder):
    artifacts = built / "artifacts"
    heads = ReciprocalModel.load(artifacts / "heads")
    rec = Recommender.load(artifacts, db_url=db_url, encoder=encoder, experiment=_market_experiment(3.0),
                           refresh_interval=None)
    ids = [int(i) for i in rec.mentee_page(0, 60).frame["mentee_id"]]
    stages = rec.stages
    market = rec.market
    exposure = market.exposure.copy()
    assert not exposure.any()  # an empty log: no demand yet
    moved = 0
    try:
        for mentee_id in ids:
            mentees, pairs = next(stages.candidate_batches([mentee_id], DEFAULT_CANDIDATES))
            X = stages.reranker.features(mentees.prepared, mentees.vectors, pairs[["mentee_id", "mentor_id"]])
            rows = stages.catalogue.rows_of(pairs["mentor_id"].to_numpy())
            expected_acceptances = market.accept_rate[rows] * (market.pending[rows] + exposure[rows])
            availability = np.where(market.free[rows] > 0, poisson.cdf(market.free[rows] - 1, expected_acceptances), 0)
            served = heads.predict_match(X) * availability**3.0
            order = np.argsort(-served, kind="stable")[:K]
            shown = rec.recommend(mentee_id=mentee_id, k=K)
            assert [r.mentor_id for r in shown] == pairs["mentor_id"].to_numpy()[order].tolist()
            np.testing.assert_allclose([r.score for r in shown], served[order], rtol=1e-9)
            np.add.at(exposure, rows[order], market.curve[np.arange(K)])
            moved += sum(FREE_TIME_REASON in r.reasons for r in shown)
        np.testing.assert_allclose(market.exposure, exposure)  # every list moved the prices at once
        assert moved > 0  # some mentors were lifted by their free seats, and say so
        # Read back from the log, the exposure is what the serving added up.
        now_prices = rec.refresh_prices()
        np.testing.assert_allclose(now_prices.exposure, exposure, rtol=1e-9)
        lists = load_log(get_engine(db_url), experiment="market-test").lists
        assert lists["model_version"].str.endswith("+market@poisson:3").all() and len(lists) == len(ids)

        # A pending request raises the mentor's price; a seat freed lowers it.
        busy = int(rec.recommend(mentee_id=ids[0], k=1)[0].mentor_id)
        row = int(stages.catalogue.rows_of([busy])[0])
        before = rec.refresh_prices().price([row])[0]
        for j, mentee_id in enumerate(ids[1:3]):
            record_outcome(get_engine(db_url), event_id=f"p{j}", kind="requested", mentor_id=busy, mentee_id=mentee_id)
        pending = rec.refresh_prices()
        assert pending.pending[row] == 2 and pending.price([row])[0] > before
        engine = get_engine(db_url)
        with engine.begin() as conn:
            conn.execute(update(mentors_table).where(mentors_table.c.mentor_id == busy)
                         .values(max_mentees=mentors_table.c.max_mentees + 2, updated_at=pd.Timestamp.now()))
        engine.dispose()
        rec.refresh()  # the live catalogue sees the new seats; the prices are read with it
        assert rec.market.free[row] == pending.free[row] + 2 and rec.market.price([row])[0] < pending.price([row])[0]
    finally:
        rec.close()


def test_the_batch_path_serves_the_same_priced_lists_one_mentee_after_another(built, db_url, encoder):
    artifacts = built / "artifacts"
    ids = list(range(1, 41))
    one = Recommender.load(artifacts, db_url=db_url, encoder=encoder, experiment=_market_experiment(), log=False,
                           refresh_interval=None)
    try:
        ids = [int(i) for i in one.mentee_page(0, 40).frame["mentee_id"]]
        served = {i: [r.mentor_id for r in one.recommend(mentee_id=i, k=K)] for i in ids}
    finally:
        one.close()
    batch_rec = Recommender.load(artifacts, db_url=db_url, encoder=encoder, experiment=_market_experiment(),
                                 log=False, refresh_interval=None)
    try:
        batch = batch_rec.recommend_batch(ids, k=K, progress=False)
        priced = _load_per_seat(batch_rec.market)
    finally:
        batch_rec.close()
    for mentee_id, rows in batch.groupby("mentee_id"):
        assert rows["mentor_id"].tolist() == served[mentee_id]
    # Without prices (weight 0) the same lists go out unpriced: the busiest mentor draws more
    # expected acceptances per free seat.
    plain = Recommender.load(artifacts, db_url=db_url, encoder=encoder, experiment=_market_experiment(0.0),
                             log=False, refresh_interval=None)
    try:
        unpriced = plain.recommend_batch(ids, k=K, progress=False)
        crowded = _load_per_seat(plain.market)
    finally:
        plain.close()
    assert not unpriced.equals(batch)
    assert priced.max() < crowded.max()


def _load_per_seat(market) -> np.ndarray:
    """Expected acceptances per free seat that the served lists sent to the mentors with one."""
    rows = np.flatnonzero(market.free > 0)
    return market.exposure[rows] * market.accept_rate[rows] / market.free[rows]


def test_a_floor_leaves_out_the_mentors_unlikely_to_have_a_seat_left():
    # Row 0: one seat, two acceptances on their way (P(free) = e^-2 = 0.135); row 1: free; row 2: full.
    prices = _prices([1.0, 2.0, 0.0], [1.0, 1.0, 1.0], [2.0, 0.0, 0.0])
    groups, rows, scores = np.zeros(3, int), np.arange(3), np.array([0.9, 0.3, 0.8])
    chosen, _ = priced_top_k(groups, rows, scores, 3, prices, PriceSettings(floor=0.2))
    assert chosen.tolist() == [1]  # a shorter list, not one that sends the mentee to a full mentor
    chosen, _ = priced_top_k(groups, rows, scores, 3, _prices([1.0, 2.0, 0.0], [1.0] * 3, [2.0, 0, 0]),
                             PriceSettings(floor=0.1))
    assert chosen.tolist() == [1, 0]
    parsed = Experiment.from_dict({"name": "x", "variants": [
        {"name": "control", "share": 1.0, "score": "market", "price": {"floor": 0.25, "kind": "ratio"}}]})
    price = parsed.variant("control").price  # compared by value: the doctest run may import the module twice
    assert (price.weight, price.kind, price.floor) == (1.0, "ratio", 0.25)
    assert parsed.to_dict()["variants"][0]["price"] == {"weight": 1.0, "kind": "ratio", "floor": 0.25}
    with pytest.raises(InvalidParameterError, match="floor"):
        Experiment.from_dict({"name": "x", "variants": [
            {"name": "control", "share": 1.0, "score": "market", "price": {"floor": 2}}]})


def test_planned_lists_put_the_assignment_first_and_price_the_rest():
    from retrieval.assignment import solve_assignment
    from retrieval.market import assigned_top_k

    rng = np.random.default_rng(4)
    n_mentors, n_mentees, per = 12, 30, 8
    free = rng.integers(0, 3, n_mentors).astype(float)
    rows = np.concatenate([rng.choice(n_mentors, per, replace=False) for _ in range(n_mentees)])
    groups = np.repeat(np.arange(n_mentees) + 100, per)
    scores = rng.random(len(rows)) * 0.8
    prices = _prices(free, np.full(n_mentors, 0.7), np.zeros(n_mentors), k=K)
    chosen, served = assigned_top_k(groups, rows, scores, K, prices, PriceSettings())
    plan = solve_assignment(pd.DataFrame({"mentee_id": groups, "mentor_id": rows, "score": scores}),
                            pd.Series(free.astype(int), index=np.arange(n_mentors))).pairs
    first = {}
    for g in np.unique(groups[chosen]):
        mine = chosen[groups[chosen] == g]
        assert len(mine) <= K and len(set(rows[mine])) == len(mine)
        first[g] = rows[mine[0]]
    planned = dict(zip(plan["mentee_id"], plan["mentor_id"], strict=True))
    assert all(first[g] == m for g, m in planned.items())  # the plan's mentor heads each planned list
    assert len(planned) > 0 and (np.bincount(list(planned.values()), minlength=n_mentors) <= free).all()
    # Every slot is recorded: position 1 for the planned ones, the rest after them.
    assert prices.exposure.sum() == pytest.approx(sum(
        request_curve(None, K)[: int((groups[chosen] == g).sum())].sum() for g in np.unique(groups[chosen])))
    heads = np.r_[True, groups[chosen][1:] != groups[chosen][:-1]]
    planned_heads = np.isin(groups[chosen][heads], list(planned))
    np.testing.assert_array_equal(served[heads][planned_heads], scores[chosen[heads][planned_heads]])
