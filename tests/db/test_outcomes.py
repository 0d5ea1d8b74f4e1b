"""Outcome events on real SQLite and PostgreSQL: effects, validation that changes nothing, retries,
and four threads logging lists and recording outcomes at once."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from db.log import RecommendationLog
from db.outcomes import Outcome, record_outcome, record_outcomes
from db.schema import (
    interactions,
    mentees,
    mentors,
    recommendation_events,
    recommendation_feedback,
    recommendation_lists,
)
from mentor_match.errors import DataValidationError, InvalidParameterError, UnknownEntityError
from tests.db.logdata import BASE_TIME, served_list, table_contents, world_engine

T0 = BASE_TIME + timedelta(hours=1)
MENTEE, SHOWN, NOT_SHOWN, OUTSIDE = 5, (3, 17, 42, 8, 11), 50, 51


def _engine_for(request, small_world, tmp_path, name: str):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / name}"
    else:
        url = request.getfixturevalue("new_pg_database")()
    return world_engine(url, small_world)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, small_world, tmp_path):
    engine = _engine_for(request, small_world, tmp_path, "outcomes.db")
    yield engine
    engine.dispose()


def _log_lists(engine, *served) -> None:
    with RecommendationLog(engine) as log:
        for item in served:
            log.submit(item)
        assert log.flush(timeout=30)


def _row(engine, table, **where):
    with engine.connect() as conn:
        query = select(table).where(*(table.c[k] == v for k, v in where.items()))
        return conn.execute(query).mappings().one()


def _rows(engine, table, **where):
    with engine.connect() as conn:
        query = select(table).where(*(table.c[k] == v for k, v in where.items()))
        return conn.execute(query).mappings().all()


def _max_interaction(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(interactions.c.interaction_id))).scalar_one())


def test_a_request_from_a_list_through_to_its_end_has_every_effect(engine):
    served = served_list(MENTEE, SHOWN)
    _log_lists(engine, served)
    mentor = SHOWN[1]
    mentor_before = _row(engine, mentors, mentor_id=mentor)
    mentee_before = _row(engine, mentees, mentee_id=MENTEE)
    newest = _max_interaction(engine)
    started = datetime.now(timezone.utc).replace(tzinfo=None)

    result = record_outcome(engine, event_id="r1", kind="requested", mentor_id=mentor, list_id=served.list_id,
                            occurred_at=T0)
    assert result == (("r1", True, MENTEE, served.list_id, newest + 1))
    row = _row(engine, interactions, interaction_id=newest + 1)
    assert (row["mentor_id"], row["mentee_id"], row["status"], row["list_id"], row["created_at"]) == (
        mentor, MENTEE, "pending", served.list_id, T0)
    assert row["mentor_accepted"] is None and row["completed_at"] is None and row["successful_match"] is False

    record_outcome(engine, event_id="a1", kind="accepted", mentor_id=mentor, mentee_id=MENTEE,
                   occurred_at=T0 + timedelta(days=1))
    row = _row(engine, interactions, interaction_id=newest + 1)
    assert (row["status"], row["mentor_accepted"]) == ("accepted", True)
    slots = {s["mentor_id"]: s["was_accepted"] for s in _rows(engine, recommendation_feedback, list_id=served.list_id)}
    assert slots == {m: (True if m == mentor else None) for m in SHOWN}
    seated = _row(engine, mentors, mentor_id=mentor)
    assert seated["current_mentees"] == mentor_before["current_mentees"] + 1
    assert seated["updated_at"] >= started  # the live catalogue sees the seat taken

    record_outcome(engine, event_id="s1", kind="started", mentor_id=mentor, list_id=served.list_id,
                   occurred_at=T0 + timedelta(days=2))
    assert _row(engine, interactions, interaction_id=newest + 1)["mentee_accepted"] is True
    ended = record_outcome(engine, event_id="e1", kind="ended", mentor_id=mentor, list_id=served.list_id,
                           occurred_at=T0 + timedelta(days=90), success=True)
    assert ended.interaction_id == newest + 1
    row = _row(engine, interactions, interaction_id=newest + 1)
    assert (row["status"], row["successful_match"], row["completed_at"]) == ("completed", True, T0 + timedelta(days=90))
    freed = _row(engine, mentors, mentor_id=mentor)
    assert freed["current_mentees"] == mentor_before["current_mentees"]
    untouched = {"current_mentees", "updated_at"}
    assert {k: v for k, v in freed.items() if k not in untouched} == {
        k: v for k, v in mentor_before.items() if k not in untouched}
    assert _row(engine, mentees, mentee_id=MENTEE) == mentee_before

    events = _rows(engine, recommendation_events, mentee_id=MENTEE, mentor_id=mentor)
    assert sorted((e["kind"], e["list_id"], e["success"]) for e in events) == sorted([
        ("requested", served.list_id, None), ("accepted", served.list_id, None),
        ("started", served.list_id, None), ("ended", served.list_id, True)])


def test_a_decline_and_a_contact_outside_a_list(engine):
    served = served_list(MENTEE, SHOWN)
    _log_lists(engine, served)
    seats = _row(engine, mentors, mentor_id=SHOWN[0])["current_mentees"]
    record_outcome(engine, event_id="r", kind="requested", mentor_id=SHOWN[0], list_id=served.list_id, occurred_at=T0)
    record_outcome(engine, event_id="d", kind="declined", mentor_id=SHOWN[0], list_id=served.list_id, occurred_at=T0)
    slot = _row(engine, recommendation_feedback, list_id=served.list_id, mentor_id=SHOWN[0])
    assert slot["was_accepted"] is False
    assert _row(engine, mentors, mentor_id=SHOWN[0])["current_mentees"] == seats
    declined = _rows(engine, interactions, mentee_id=MENTEE, mentor_id=SHOWN[0], created_at=T0)
    assert [(r["status"], r["mentor_accepted"]) for r in declined] == [("declined", False)]

    outside = record_outcome(engine, event_id="o", kind="requested", mentor_id=NOT_SHOWN, mentee_id=9, occurred_at=T0)
    assert outside.list_id is None and outside.mentee_id == 9
    assert _row(engine, interactions, interaction_id=outside.interaction_id)["list_id"] is None


def test_seats_never_go_below_zero_and_aware_times_are_stored_in_utc(engine):
    mentor = 7
    record_outcomes(engine, [
        {"event_id": "r", "kind": "requested", "mentor_id": mentor, "mentee_id": 9, "occurred_at": T0},
        Outcome("a", "accepted", mentor, mentee_id=9, occurred_at=T0),
        Outcome("s", "started", mentor, mentee_id=9, occurred_at=T0),
    ])
    with engine.begin() as conn:  # someone freed the seat meanwhile
        conn.execute(update(mentors).where(mentors.c.mentor_id == mentor).values(current_mentees=0))
    aware = datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    record_outcome(engine, event_id="e", kind="ended", mentor_id=mentor, mentee_id=9, occurred_at=aware, success=False)
    assert _row(engine, mentors, mentor_id=mentor)["current_mentees"] == 0
    assert _row(engine, recommendation_events, event_id="e")["occurred_at"] == datetime(2025, 6, 1, 10, 0)


def test_a_retry_of_an_event_id_is_a_no_op_and_other_content_is_an_error(engine):
    served = served_list(MENTEE, SHOWN)
    _log_lists(engine, served)
    first = record_outcome(engine, event_id="r", kind="requested", mentor_id=SHOWN[2], list_id=served.list_id,
                           occurred_at=T0)
    record_outcome(engine, event_id="a", kind="accepted", mentor_id=SHOWN[2], list_id=served.list_id,
                   occurred_at=T0 + timedelta(hours=1))
    before = table_contents(engine)
    again = record_outcome(engine, event_id="r", kind="requested", mentor_id=SHOWN[2], list_id=served.list_id,
                           occurred_at=T0)
    assert again == first._replace(recorded=False)
    # a retry that leaves the time out (the caller's default was "now") is the same event
    assert not record_outcome(engine, event_id="a", kind="accepted", mentor_id=SHOWN[2], mentee_id=MENTEE).recorded
    assert [r.recorded for r in record_outcomes(engine, [
        Outcome("a", "accepted", SHOWN[2], mentee_id=MENTEE), Outcome("r", "requested", SHOWN[2], served.list_id)
    ])] == [False, False]
    assert table_contents(engine) == before
    for changed in ({"kind": "declined"}, {"occurred_at": T0 + timedelta(hours=2)}, {"mentee_id": 6}):
        arguments = {"event_id": "a", "kind": "accepted", "mentor_id": SHOWN[2], "mentee_id": MENTEE, **changed}
        with pytest.raises(DataValidationError, match="recorded before with other content"):
            record_outcome(engine, **arguments)
    assert table_contents(engine) == before


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def history(request, small_world, tmp_path_factory):
    """A database with one logged list of MENTEE and a few pairs part-way through their events:
    SHOWN[0] requested, SHOWN[1] requested and declined, SHOWN[2] requested and accepted;
    mentee 9 requested SHOWN[3] and MENTEE requested OUTSIDE, both outside a list."""
    engine = _engine_for(request, small_world, tmp_path_factory.mktemp("history"), "history.db")
    served, second = served_list(MENTEE, SHOWN), served_list(MENTEE, SHOWN, offset=2)
    adhoc, other = served_list(None, SHOWN, offset=1), served_list(6, SHOWN)
    _log_lists(engine, served, second, adhoc, other)
    lid = served.list_id
    record_outcomes(engine, [
        Outcome("h-r0", "requested", SHOWN[0], lid, occurred_at=T0),
        Outcome("h-r1", "requested", SHOWN[1], lid, occurred_at=T0),
        Outcome("h-d1", "declined", SHOWN[1], lid, occurred_at=T0 + timedelta(hours=1)),
        Outcome("h-r2", "requested", SHOWN[2], lid, occurred_at=T0),
        Outcome("h-a2", "accepted", SHOWN[2], lid, occurred_at=T0 + timedelta(hours=1)),
        Outcome("h-r3", "requested", SHOWN[3], mentee_id=9, occurred_at=T0),  # outside a list
        Outcome("h-r4", "requested", OUTSIDE, mentee_id=MENTEE, occurred_at=T0),  # outside a list
    ])
    yield engine, {"list": lid, "second": second.list_id, "adhoc": adhoc.list_id, "other": other.list_id}
    engine.dispose()


LATER = T0 + timedelta(days=3)
BAD_EVENTS = [
    # (arguments, error, words in the message); "{list}" etc. are filled in from the fixture
    ({"kind": "viewed", "mentor_id": SHOWN[4], "list_id": "{list}"}, InvalidParameterError, "'kind'"),
    ({"kind": "requested", "mentor_id": SHOWN[4], "list_id": "ab" * 16}, UnknownEntityError, "Unknown list_id"),
    ({"kind": "requested", "mentor_id": SHOWN[4], "list_id": "not-a-list"}, InvalidParameterError, "hex digits"),
    ({"kind": "requested", "mentor_id": NOT_SHOWN, "list_id": "{list}"}, DataValidationError, "was not shown in list"),
    ({"kind": "requested", "mentor_id": NOT_SHOWN, "list_id": "{list}", "mentee_id": MENTEE},
     DataValidationError, "was not shown in list"),
    ({"kind": "requested", "mentor_id": SHOWN[4], "list_id": "{list}", "mentee_id": 6},
     DataValidationError, "was served to mentee 5, not to mentee 6"),
    ({"kind": "requested", "mentor_id": SHOWN[4], "list_id": "{adhoc}"}, DataValidationError, "ad-hoc profile"),
    ({"kind": "requested", "mentor_id": 999_999, "mentee_id": MENTEE}, UnknownEntityError, "Unknown mentor_id 999999"),
    ({"kind": "requested", "mentor_id": SHOWN[4], "mentee_id": 999_999}, UnknownEntityError, "Unknown mentee_id 999999"),
    ({"kind": "requested", "mentor_id": SHOWN[4]}, InvalidParameterError, "needs the mentee"),
    ({"kind": "requested", "mentor_id": SHOWN[4], "mentee_id": True}, InvalidParameterError, "'mentee_id'"),
    ({"kind": "requested", "mentor_id": SHOWN[4], "list_id": "{list}", "success": True},
     InvalidParameterError, "for 'ended' events only"),
    ({"kind": "ended", "mentor_id": SHOWN[2], "list_id": "{list}"}, InvalidParameterError, "True or False"),
    ({"kind": "requested", "mentor_id": SHOWN[4], "list_id": "{list}", "occurred_at": "2025-01-01"},
     InvalidParameterError, "'occurred_at'"),
    ({"kind": "requested", "mentor_id": SHOWN[4], "list_id": "{list}", "event_id": ""}, InvalidParameterError,
     "'event_id'"),
    # out of order
    ({"kind": "accepted", "mentor_id": SHOWN[4], "list_id": "{list}"}, DataValidationError, "'accepted' needs 'requested'"),
    ({"kind": "started", "mentor_id": SHOWN[0], "list_id": "{list}"}, DataValidationError, "'started' needs 'accepted'"),
    ({"kind": "ended", "mentor_id": SHOWN[2], "list_id": "{list}", "success": True},
     DataValidationError, "'ended' needs 'started'"),
    ({"kind": "declined", "mentor_id": SHOWN[2], "list_id": "{list}"}, DataValidationError, "answered already"),
    ({"kind": "accepted", "mentor_id": SHOWN[1], "list_id": "{list}"}, DataValidationError, "answered already"),
    ({"kind": "started", "mentor_id": SHOWN[1], "list_id": "{list}"}, DataValidationError, "'started' needs 'accepted'"),
    ({"kind": "requested", "mentor_id": SHOWN[0], "list_id": "{list}"}, DataValidationError,
     "already has a 'requested' event"),
    ({"kind": "requested", "mentor_id": SHOWN[3], "mentee_id": 9}, DataValidationError, "already has a 'requested'"),
    ({"kind": "accepted", "mentor_id": SHOWN[0], "list_id": "{list}", "occurred_at": T0 - timedelta(seconds=1)},
     DataValidationError, "before the pair's previous event"),
    # the later events of a request carry its list
    ({"kind": "accepted", "mentor_id": SHOWN[0], "list_id": "{other}", "mentee_id": MENTEE},
     DataValidationError, "was served to mentee 6"),
    ({"kind": "accepted", "mentor_id": SHOWN[3], "list_id": "{list}", "mentee_id": 9},
     DataValidationError, "was served to mentee 5"),
    ({"kind": "accepted", "mentor_id": SHOWN[0], "list_id": "{second}"}, DataValidationError, "came from list '"),
    ({"kind": "accepted", "mentor_id": OUTSIDE, "list_id": "{list}"}, DataValidationError, "came from outside a list"),
    # an event id recorded before with other content
    ({"kind": "accepted", "mentor_id": SHOWN[0], "list_id": "{list}", "event_id": "h-r0"},
     DataValidationError, "recorded before with other content"),
]


@pytest.mark.parametrize(("arguments", "error", "words"), BAD_EVENTS, ids=[str(i) for i in range(len(BAD_EVENTS))])
def test_each_bad_event_is_a_clear_error_and_changes_nothing(history, arguments, error, words):
    engine, lists = history
    arguments = {"event_id": "bad", "occurred_at": LATER, **arguments}
    arguments = {k: (v.format(**lists) if isinstance(v, str) and "{" in v else v) for k, v in arguments.items()}
    before = table_contents(engine)
    with pytest.raises(error, match=words):
        record_outcome(engine, **arguments)
    assert table_contents(engine) == before


def test_a_batch_is_all_or_nothing_and_its_error_names_the_event(history):
    engine, lists = history
    before = table_contents(engine)
    batch = [
        Outcome("b1", "started", SHOWN[2], lists["list"], occurred_at=LATER),
        {"event_id": "b2", "kind": "requested", "mentor_id": SHOWN[4], "list_id": lists["list"], "occurred_at": LATER},
        Outcome("b3", "started", SHOWN[4], lists["list"], occurred_at=LATER),  # not accepted yet
    ]
    with pytest.raises(DataValidationError, match=r"Event 3 of 3 \(event_id 'b3'\).*'started' needs 'accepted'"):
        record_outcomes(engine, batch)
    with pytest.raises(InvalidParameterError, match=r"Event 2 of record_outcomes has unknown key\(s\) \['when'\]"):
        record_outcomes(engine, [batch[0], {"event_id": "b2", "kind": "requested", "mentor_id": 1, "when": LATER}])
    with pytest.raises(InvalidParameterError, match="Event 1 of 1 .* 'kind'"):
        record_outcomes(engine, [Outcome("b4", "clicked", SHOWN[4], lists["list"])])
    assert table_contents(engine) == before
    assert record_outcomes(engine, []) == []


def _pairs_of(thread: int, seed_lists) -> list[tuple]:
    return [(item, slot.mentor_id) for item in seed_lists[thread] for slot in item.slots]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_four_threads_logging_and_recording_at_once_lose_and_double_nothing(
    backend, small_world, tmp_path, request
):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'threads.db'}"
    else:
        url = request.getfixturevalue("new_pg_database")()
    engine = world_engine(url, small_world)
    seats_before = {r["mentor_id"]: r["current_mentees"] for r in _rows(engine, mentors)}
    newest_before = _max_interaction(engine)
    n_threads, per_thread = 4, 4
    # Each thread has its own mentees; their lists share mentors, so threads contend for them.
    seed_lists = {
        t: [served_list(1 + t + n_threads * i, [1 + (3 * i + 7 * t + j) % 60 for j in range(5)], offset=i)
            for i in range(per_thread)]
        for t in range(n_threads)
    }
    _log_lists(engine, *(item for items in seed_lists.values() for item in items))

    log = RecommendationLog(engine, flush_interval=0.005, batch_lists=3)
    submitted: dict[int, list[str]] = {t: [] for t in range(n_threads)}
    events: dict[int, list[tuple]] = {t: [] for t in range(n_threads)}
    failures: list[BaseException] = []
    start = threading.Barrier(n_threads)

    def work(thread: int) -> None:
        rng = random.Random(thread)
        try:
            start.wait()
            for number, (item, mentor) in enumerate(_pairs_of(thread, seed_lists)):
                fresh = served_list(item.mentee_id, [1 + (mentor + j) % 60 for j in range(4)], offset=number)
                log.submit(fresh)
                submitted[thread].append(fresh.list_id)
                answer = "accepted" if rng.random() < 0.6 else "declined"
                chain = ["requested", answer]
                if answer == "accepted":
                    chain += ["started", "ended"][: rng.randint(0, 2)]
                outcomes = [
                    Outcome(f"t{thread}-{number}-{kind}", kind, mentor, item.list_id,
                            occurred_at=T0 + timedelta(minutes=step),
                            success=(rng.random() < 0.5) if kind == "ended" else None)
                    for step, kind in enumerate(chain)
                ]
                if number % 2:
                    record_outcomes(engine, outcomes)
                else:
                    for outcome in outcomes:
                        assert record_outcome(engine, **outcome.__dict__).recorded
                assert not any(r.recorded for r in record_outcomes(engine, outcomes))  # a client's retry
                events[thread].extend((item, mentor, o) for o in outcomes)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert log.close()
    stats = log.stats
    all_lists = [item.list_id for items in seed_lists.values() for item in items] + [
        list_id for ids in submitted.values() for list_id in ids]
    assert (stats.written, stats.dropped, stats.rejected) == (len(all_lists) - len(seed_lists) * per_thread, 0, 0)

    with engine.connect() as conn:
        stored_lists = list(conn.execute(select(recommendation_lists.c.list_id)).scalars())
        slot_lists = list(conn.execute(select(recommendation_feedback.c.list_id)).scalars())
        stored_events = list(conn.execute(select(recommendation_events.c.event_id)).scalars())
        new_interactions = conn.execute(
            select(interactions).where(interactions.c.interaction_id > newest_before)).mappings().all()
        seats_after = {r.mentor_id: r.current_mentees for r in conn.execute(select(mentors))}
        accepted_slots = {(r.list_id, r.mentor_id): r.was_accepted for r in conn.execute(
            select(recommendation_feedback).where(recommendation_feedback.c.was_accepted.is_not(None)))}
    assert sorted(stored_lists) == sorted(all_lists)
    assert len(slot_lists) == 5 * len(seed_lists) * per_thread + 4 * sum(len(ids) for ids in submitted.values())
    recorded = [o for items in events.values() for _, _, o in items]
    assert sorted(stored_events) == sorted(o.event_id for o in recorded)
    requests = [(item, mentor) for items in events.values() for item, mentor, o in items if o.kind == "requested"]
    assert len(new_interactions) == len(requests)
    assert sorted((r["mentee_id"], r["mentor_id"], r["list_id"]) for r in new_interactions) == sorted(
        (item.mentee_id, mentor, item.list_id) for item, mentor in requests)
    assert sorted(r["interaction_id"] for r in new_interactions) == list(
        range(newest_before + 1, newest_before + 1 + len(requests)))
    change = {m: 0 for m in seats_before}
    for _, mentor, outcome in (e for items in events.values() for e in items):
        change[mentor] += {"accepted": 1, "ended": -1}.get(outcome.kind, 0)
    assert seats_after == {m: seats_before[m] + change[m] for m in seats_before}
    answers = {(item.list_id, mentor): o.kind == "accepted" for items in events.values()
               for item, mentor, o in items if o.kind in ("accepted", "declined")}
    assert accepted_slots == answers
    engine.dispose()
