"""Reading the recommendation log back: one experiment's lists, slots and events, validated."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import create_engine, insert, text

from db.engine import get_engine
from db.loading import create_schema
from db.log_reading import load_log, served_slots
from db.schema import recommendation_events, recommendation_feedback, recommendation_lists
from mentor_match.errors import (
    DataValidationError,
    InvalidParameterError,
    SchemaError,
    UnknownEntityError,
)
from synthetic import generate_world, write_world

T0 = pd.Timestamp("2026-03-02 09:00").to_pydatetime()


def _list(list_id: str, mentee_id, experiment, variant: str, minutes: int = 0) -> dict:
    return {
        "list_id": list_id, "mentee_id": mentee_id, "created_at": T0 + pd.Timedelta(minutes=minutes),
        "model_version": "m1", "index_version": "i1", "experiment": experiment, "variant": variant,
        "policy": "greedy", "policy_params": {"k": 3}, "k": 3, "latency_ms": 2.5,
    }


def _slot(list_id: str, mentee_id, mentor_id: int, rank: int) -> dict:
    return {
        "list_id": list_id, "mentee_id": mentee_id, "mentor_id": mentor_id, "recommended_rank": rank,
        "feedback_date": T0, "model_version": "m1", "variant": "a", "score": 1.0 / rank,
        "similarity": 0.5, "propensity": 1.0, "features": {"domain": 1.0},
    }


def _event(event_id: str, list_id, mentee_id: int, mentor_id: int, kind: str, success=None) -> dict:
    return {
        "event_id": event_id, "list_id": list_id, "mentee_id": mentee_id, "mentor_id": mentor_id,
        "kind": kind, "success": success, "occurred_at": T0 + pd.Timedelta(hours=1), "recorded_at": T0,
    }


def _lid(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture(scope="module")
def log_world():
    return generate_world(n_mentors=20, n_mentees=12, interactions_per_mentee=1, seed=5)


def _fill(engine, world) -> None:
    """Experiment 'exp1' (mentees 1, 2), 'exp2' (mentee 3, also in exp1? no: mentee 4), and a
    list of no experiment; events of each kind of attachment."""
    write_world(engine, world, progress=False)
    lists = [
        _list(_lid(1), 1, "exp1", "a"), _list(_lid(2), 2, "exp1", "b", 5),
        _list(_lid(3), 4, "exp2", "a"), _list(_lid(4), 1, None, "control"),
        _list(_lid(5), None, "exp1", "a", 9),  # an ad-hoc profile served in exp1
    ]
    slots = [_slot(_lid(n), lst["mentee_id"], 10 + n, rank)
             for n, lst in enumerate(lists, start=1) for rank in (1, 2)]
    slots = [dict(s, mentor_id=s["mentor_id"] + s["recommended_rank"]) for s in slots]
    events = [
        _event("tied-exp1", _lid(1), 1, 12, "requested"),
        _event("loose-exp1-mentee", None, 2, 5, "ended", success=True),
        _event("loose-other-mentee", None, 4, 5, "requested"),
        _event("tied-exp2", _lid(3), 4, 14, "requested"),
        _event("tied-no-experiment", _lid(4), 1, 15, "requested"),
    ]
    with engine.begin() as conn:
        conn.execute(insert(recommendation_lists), lists)
        conn.execute(insert(recommendation_feedback), slots)
        conn.execute(insert(recommendation_events), events)


def _check_experiment_log(engine) -> None:
    frames = load_log(engine, experiment="exp1")
    assert sorted(frames.lists["list_id"]) == [_lid(1), _lid(2), _lid(5)]
    assert set(frames.slots["list_id"]) == {_lid(1), _lid(2), _lid(5)} and len(frames.slots) == 6
    # its lists' events and the list-less events of its mentees; nothing of exp2 or no experiment
    assert sorted(frames.events["event_id"]) == ["loose-exp1-mentee", "tied-exp1"]
    assert frames.lists["created_at"].dtype == "datetime64[ns]"
    assert frames.lists["policy_params"].iloc[0] == {"k": 3}
    assert frames.events["success"].dtype == "boolean"
    assert frames.lists["list_id"].is_monotonic_increasing  # sorted by the primary key
    everything = load_log(engine)
    assert [len(f) for f in everything] == [5, 10, 5]


def test_an_experiments_log_is_its_lists_their_slots_and_its_mentees_events_sqlite(log_world, sqlite_url):
    engine = get_engine(sqlite_url)
    _fill(engine, log_world)
    _check_experiment_log(engine)


@pytest.mark.postgres
def test_an_experiments_log_is_its_lists_their_slots_and_its_mentees_events_postgres(log_world, new_pg_database):
    engine = get_engine(new_pg_database())
    try:
        _fill(engine, log_world)
        _check_experiment_log(engine)
    finally:
        engine.dispose()


def _check_windowed_log(engine) -> None:
    since, until = T0 + pd.Timedelta(minutes=1), T0 + pd.Timedelta(minutes=10)
    whole = load_log(engine)
    window = load_log(engine, since=since, until=until)
    created = whole.lists["created_at"]
    expected = whole.lists[(created >= since) & (created < until)].reset_index(drop=True)
    pd.testing.assert_frame_equal(window.lists, expected)
    assert sorted(window.lists["list_id"]) == [_lid(2), _lid(5)]
    pd.testing.assert_frame_equal(
        window.slots, whole.slots[whole.slots["list_id"].isin(expected["list_id"])].reset_index(drop=True)
    )
    # the windowed lists' mentees' list-less events from `since` on; no event of other lists
    assert sorted(window.events["event_id"]) == ["loose-exp1-mentee"]
    assert sorted(load_log(engine, experiment="exp1", since=T0 + pd.Timedelta(minutes=6)).lists["list_id"]) == [_lid(5)]
    # a known experiment with nothing in the window is an empty read, not an unknown name
    assert [len(f) for f in load_log(engine, experiment="exp2", since=since, until=until)] == [0, 0, 0]


def test_a_window_of_the_log_is_read_in_the_database_sqlite(log_world, sqlite_url):
    engine = get_engine(sqlite_url)
    _fill(engine, log_world)
    _check_windowed_log(engine)
    with pytest.raises(InvalidParameterError, match="must end after it starts"):
        load_log(engine, since=T0, until=T0)


@pytest.mark.postgres
def test_a_window_of_the_log_is_read_in_the_database_postgres(log_world, new_pg_database):
    engine = get_engine(new_pg_database())
    try:
        _fill(engine, log_world)
        _check_windowed_log(engine)
    finally:
        engine.dispose()


def test_an_unknown_experiment_names_the_experiments_there_are(log_world, sqlite_url):
    engine = get_engine(sqlite_url)
    _fill(engine, log_world)
    with pytest.raises(UnknownEntityError, match=r"'exp3'.*'exp1', 'exp2'"):
        load_log(engine, experiment="exp3")


def test_served_slots_carry_the_lists_time_and_arm_in_list_and_position_order(log_world, sqlite_url):
    engine = get_engine(sqlite_url)
    _fill(engine, log_world)
    slots = served_slots(load_log(engine, experiment="exp1"))
    assert list(slots["list_id"]) == [_lid(1), _lid(1), _lid(2), _lid(2), _lid(5), _lid(5)]
    assert list(slots["recommended_rank"]) == [1, 2] * 3
    assert list(slots["variant"]) == ["a", "a", "b", "b", "a", "a"]
    assert (slots.loc[slots["list_id"] == _lid(2), "created_at"] == pd.Timestamp(T0) + pd.Timedelta(minutes=5)).all()


def test_a_database_without_the_log_tables_says_to_migrate(sqlite_url):
    engine = get_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE mentors (mentor_id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaError, match="recommendation_lists.*does not exist.*migrate"):
        load_log(engine)


@pytest.mark.parametrize(
    ("kind", "success", "problem"),
    [
        ("clicked", None, "kind not in requested, accepted"),
        ("ended", None, "'ended' without a success value"),
        ("requested", True, "set success on a kind other than 'ended'"),
    ],
)
def test_a_bad_event_row_is_refused_with_its_id(kind, success, problem):
    engine = create_engine("sqlite://")
    create_schema(engine)
    world = generate_world(n_mentors=3, n_mentees=2, interactions_per_mentee=0, seed=1)
    write_world(engine, world, progress=False)
    with engine.begin() as conn:
        conn.execute(insert(recommendation_lists), [_list(_lid(1), 1, "exp1", "a")])
        conn.execute(insert(recommendation_events), [_event("bad-one", _lid(1), 1, 2, kind, success)])
    with pytest.raises(DataValidationError, match=rf"{problem}.*event_id bad-one"):
        load_log(engine, experiment="exp1")
