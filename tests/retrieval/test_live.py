"""The live catalogue on a real database: mentees and contacts read per query, mentors refreshed.

A generated world in SQLite (and PostgreSQL for the main freshness test) with its index
and a trained ranker (real MiniLM, FAISS, XGBoost). Each test works on its own copy of the
database and changes rows the way an application would, bumping ``updated_at``.
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, delete, event, func, insert, select, update

from db import get_engine, load_mentors
from db.schema import interactions, mentees, mentors, synthetic_mentor_truth
from eval.exhaustive import eligible_pairs, score_pairs
from eval.training_run import run_training
from index import build_index_from_db
from mentor_match.errors import UnknownEntityError
from retrieval import CONTROL, Recommender, build_arm
from retrieval.live import MentorFeed, apply_changes
from retrieval.stages import Stages
from retrieval.vectors import TextVectors
from synthetic import generate_world, write_world

K = 10


def _build(db_url: str, artifacts, encoder) -> None:
    engine = get_engine(db_url)
    write_world(engine, generate_world(n_mentors=120, n_mentees=150, interactions_per_mentee=6, seed=11),
                progress=False)
    engine.dispose()
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=11, encoder=encoder, progress=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder):
    folder = tmp_path_factory.mktemp("live")
    _build(f"sqlite:///{folder / 'mm.db'}", folder / "artifacts", encoder)
    return folder


@pytest.fixture()
def db(built, tmp_path):
    """(db_url, artifacts, engine) over a copy of the built database, for this test alone."""
    shutil.copy(built / "mm.db", tmp_path / "mm.db")
    url = f"sqlite:///{tmp_path / 'mm.db'}"
    engine = get_engine(url)
    yield url, built / "artifacts", engine
    engine.dispose()


def _load(db, encoder, **kwargs) -> Recommender:
    url, artifacts, _ = db
    return Recommender.load(artifacts, db_url=url, encoder=encoder, **{"refresh_interval": None, **kwargs})


def _later(conn) -> object:
    """A stamp after every mentor's updated_at (the generated data's clock is not ours)."""
    return conn.execute(select(func.max(mentors.c.updated_at))).scalar_one() + timedelta(seconds=1)


def _ids(recs) -> list[int]:
    return [r.mentor_id for r in recs]


def _a_mentee(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.min(mentees.c.mentee_id))).scalar_one())


def _new_mentee(conn, like: int, goals: str) -> int:
    row = dict(conn.execute(select(mentees).where(mentees.c.mentee_id == like)).mappings().one())
    new_id = int(conn.execute(select(func.max(mentees.c.mentee_id))).scalar_one()) + 1
    conn.execute(insert(mentees), [{**row, "mentee_id": new_id, "email": f"new{new_id}@example.org", "goals": goals}])
    return new_id


def _new_mentor(conn, bio: str) -> int:
    row = dict(conn.execute(select(mentors).where(mentors.c.active)).mappings().first())
    new_id = int(conn.execute(select(func.max(mentors.c.mentor_id))).scalar_one()) + 1
    stamp = _later(conn)
    conn.execute(insert(mentors), [{
        **row, "mentor_id": new_id, "email": f"mentor{new_id}@example.org", "bio": bio, "active": True,
        "current_mentees": 0, "max_mentees": 3, "created_at": stamp, "updated_at": stamp,
    }])
    return new_id


def _delete_mentor(conn, mentor_id: int) -> None:
    conn.execute(delete(interactions).where(interactions.c.mentor_id == mentor_id))
    conn.execute(delete(synthetic_mentor_truth).where(synthetic_mentor_truth.c.mentor_id == mentor_id))
    conn.execute(delete(mentors).where(mentors.c.mentor_id == mentor_id))


def test_a_mentee_who_signs_up_after_load_is_served_without_reload(db, encoder):
    rec = _load(db, encoder)
    _, _, engine = db
    goals = "I want to move from backend development into machine learning engineering"
    with engine.begin() as conn:
        new_id = _new_mentee(conn, _a_mentee(engine), goals)
    recs = rec.recommend(mentee_id=new_id, k=K)
    adhoc = rec.recommend(profile={**{k: v for k, v in rec.mentee(new_id).items() if k in (
        "goals", "desired_domains", "current_skills", "current_level", "timezone", "availability",
        "availability_hours", "preferred_style", "industry")}}, k=K)
    assert _ids(recs) == _ids(adhoc)  # the same mentee, read from the database or given whole
    np.testing.assert_allclose([r.score for r in recs], [r.score for r in adhoc], rtol=1e-6)
    with pytest.raises(UnknownEntityError, match=f"Unknown mentee id {new_id + 1}: not in the mentees table"):
        rec.recommend(mentee_id=new_id + 1)
    batch = rec.recommend_batch([new_id, _a_mentee(engine)], k=3, progress=False)
    assert batch.loc[batch["mentee_id"] == new_id, "mentor_id"].tolist() == _ids(recs)[:3]


def test_load_maps_the_index_read_only_when_asked_and_serves_the_same_lists(db, encoder):
    mapped, read = _load(db, encoder, mmap=True, log=False), _load(db, encoder, mmap=False, log=False)
    assert not mapped.stages.index.main.vectors.flags.writeable
    assert read.stages.index.main.vectors.flags.writeable
    mentee = _a_mentee(db[2])
    assert _ids(mapped.recommend(mentee_id=mentee, k=K)) == _ids(read.recommend(mentee_id=mentee, k=K))


def test_an_ad_hoc_goal_is_encoded_once_and_a_cached_one_not_at_all(db, encoder):
    """Ad-hoc profiles look their goals up as known mentees' are: a text of the embedding
    cache or seen before is not encoded again, and the vector is the encoder's."""
    rec = _load(db, encoder)
    _, _, engine = db
    vectors = rec._live.vectors
    goals = "I would like to lead a platform team that runs Kubernetes at scale"
    first = rec.recommend(profile={"goals": goals}, k=K)
    assert vectors.encoded == 1
    again = rec.recommend(profile={"goals": goals, "current_level": "junior"}, k=K)
    assert vectors.encoded == 1  # the same text: its vector was kept
    assert first and again
    np.testing.assert_allclose(vectors.get([goals])[0], encoder.encode([goals], progress=False)[0], atol=1e-6)
    stored = str(rec.mentee(_a_mentee(engine))["goals"])  # written to the cache by the build
    rec.recommend(profile={"goals": stored}, k=K)
    assert vectors.encoded == 1


def test_a_mentee_whose_goals_changed_is_served_with_the_new_goals_at_once(db, encoder):
    rec = _load(db, encoder)
    _, _, engine = db
    mentee = _a_mentee(engine)
    before = rec.recommend(mentee_id=mentee, k=K)
    goals = "I want to become a staff engineer who leads large distributed systems migrations"
    with engine.begin() as conn:  # no updated_at bump: the row itself is compared
        conn.execute(update(mentees).where(mentees.c.mentee_id == mentee).values(goals=goals))
    after = rec.recommend(mentee_id=mentee, k=K)
    fields = ("goals", "desired_domains", "current_skills", "current_level", "timezone", "availability",
              "availability_hours", "preferred_style", "industry")
    adhoc = rec.recommend(profile={k: v for k, v in rec.mentee(mentee).items() if k in fields}, k=K,
                          exclude=rec.stages.catalogue.contacted_by(mentee))
    assert rec.mentee(mentee)["goals"] == goals and _ids(after) == _ids(adhoc) != _ids(before)


def test_a_contact_recorded_after_load_is_excluded_at_once(db, encoder):
    rec = _load(db, encoder)
    _, _, engine = db
    mentee = _a_mentee(engine)
    first = rec.recommend(mentee_id=mentee, k=K)
    with engine.begin() as conn:
        next_id = int(conn.execute(select(func.max(interactions.c.interaction_id))).scalar_one()) + 1
        row = dict(conn.execute(select(interactions).limit(1)).mappings().one())
        conn.execute(insert(interactions), [{**row, "interaction_id": next_id, "mentee_id": mentee,
                                             "mentor_id": first[0].mentor_id, "status": "pending", "list_id": None}])
    again = rec.recommend(mentee_id=mentee, k=K)  # no refresh: contacts are read per query
    assert first[0].mentor_id not in _ids(again)
    assert _ids(again)[: K - 1] == _ids(first)[1:]  # the rest moves up
    pairs = eligible_pairs(rec, [mentee])
    assert first[0].mentor_id not in set(pairs["mentor_id"])


def test_full_inactive_and_deleted_mentors_are_never_returned_after_refresh(db, encoder):
    rec = _load(db, encoder)
    _, _, engine = db
    mentee = _a_mentee(engine)
    full, inactive, gone = _ids(rec.recommend(mentee_id=mentee, k=3))
    with engine.begin() as conn:
        stamp = _later(conn)
        conn.execute(update(mentors).where(mentors.c.mentor_id == full).values(
            current_mentees=mentors.c.max_mentees, updated_at=stamp))
        conn.execute(update(mentors).where(mentors.c.mentor_id == inactive).values(active=False, updated_at=stamp))
        _delete_mentor(conn, gone)
    assert {full, inactive, gone} <= set(_ids(rec.recommend(mentee_id=mentee, k=3)))  # not refreshed yet
    summary = rec.refresh()
    assert (summary.changed, summary.added, summary.removed) == (2, 0, 1)
    blocked = {full, inactive, gone}
    everyone = [int(i) for i in rec.mentee_page(0, 30).frame["mentee_id"]]
    for mentee_id in everyone:
        assert not blocked & set(_ids(rec.recommend(mentee_id=mentee_id, k=K)))
    wide = rec.recommend_batch(everyone, k=100, candidates=120, progress=False)
    assert not blocked & set(wide["mentor_id"])
    assert not blocked & set(eligible_pairs(rec, everyone)["mentor_id"])


def test_a_new_mentor_becomes_recommendable_from_the_side_index(db, encoder):
    rec = _load(db, encoder)
    _, _, engine = db
    mentee = _a_mentee(engine)
    goals = rec.mentee(mentee)["goals"]
    with engine.begin() as conn:
        new_id = _new_mentor(conn, f"I mentor people who say: {goals}")
    assert new_id not in _ids(rec.recommend(mentee_id=mentee, k=K))
    summary = rec.refresh()
    assert (summary.added, summary.side) == (1, 1)
    assert rec.stages.index.side.ids.tolist() == [new_id]
    # Every candidate is listed: a new mentor has no history (prior acceptance, no rating), so
    # where the ranker puts it is the ranker's cold-start call; here it must be retrieved and scored.
    recs = rec.recommend(mentee_id=mentee, k=50, candidates=50)
    assert new_id in _ids(recs)
    mine = next(r for r in recs if r.mentor_id == new_id)
    goal, bio = encoder.encode([goals, f"I mentor people who say: {goals}"])
    assert mine.similarity == pytest.approx(float(goal @ bio), abs=3e-3)  # batch vs one-by-one encoding
    assert mine.similarity > max(r.similarity for r in recs if r.mentor_id != new_id)  # the nearest
    assert mine.features["bio_goal_similarity"] == pytest.approx(mine.similarity, abs=1e-5)


def test_a_changed_bio_is_served_with_its_new_vector(db, encoder):
    rec = _load(db, encoder)
    _, _, engine = db
    mentee = _a_mentee(engine)
    goals = rec.mentee(mentee)["goals"]
    last = rec.recommend(mentee_id=mentee, k=100, candidates=100)[-1]
    bio = f"My mentoring is all about this: {goals}"
    with engine.begin() as conn:
        conn.execute(update(mentors).where(mentors.c.mentor_id == last.mentor_id).values(bio=bio, updated_at=_later(conn)))
    summary = rec.refresh()
    assert (summary.changed, summary.added, summary.side) == (1, 0, 1)
    catalogue = rec.stages.catalogue
    main_row = int(np.flatnonzero(rec.stages.index.main.ids == last.mentor_id)[0])
    assert not catalogue.eligible[main_row]  # its FAISS row is retired
    assert catalogue.rows_of([last.mentor_id])[0] >= len(rec.stages.index.main)
    goal, new_bio = encoder.encode([goals, bio])
    nearest = rec.retrieve([mentee], 5, pool=5, progress=False)  # stage 1 alone, by similarity
    assert nearest["mentor_id"].iloc[0] == last.mentor_id
    assert nearest["similarity"].iloc[0] == pytest.approx(float(goal @ new_bio), abs=3e-3)
    moved = next(r for r in rec.recommend(mentee_id=mentee, k=100, candidates=100) if r.mentor_id == last.mentor_id)
    assert moved.features["bio_goal_similarity"] == pytest.approx(float(goal @ new_bio), abs=3e-3)
    assert moved.similarity > last.similarity


def test_a_refresh_gives_what_a_fresh_load_gives(db, encoder):
    """The reference: a refreshed catalogue scores every eligible pair as a new load does."""
    rec = _load(db, encoder)
    _, _, engine = db
    with engine.begin() as conn:
        stamp = _later(conn)
        ids = [int(i) for i in conn.execute(select(mentors.c.mentor_id).where(mentors.c.active).limit(6)).scalars()]
        conn.execute(update(mentors).where(mentors.c.mentor_id == ids[0]).values(active=False, updated_at=stamp))
        conn.execute(update(mentors).where(mentors.c.mentor_id == ids[1]).values(
            rating=1.5, skills=["cobol", "fortran"], domains=["legacy systems"], updated_at=stamp))
        conn.execute(update(mentors).where(mentors.c.mentor_id == ids[2]).values(
            bio="I coach engineers through their first year as managers.", updated_at=stamp))
        conn.execute(update(mentors).where(mentors.c.mentor_id == ids[3]).values(current_mentees=0, updated_at=stamp))
        _new_mentor(conn, "Quantum computing researcher mentoring students into the field.")
    rec.refresh()
    fresh = _load(db, encoder)
    mentee_ids = [int(i) for i in fresh.mentee_page(0, 12).frame["mentee_id"]]
    pairs = eligible_pairs(rec, mentee_ids)
    reference = eligible_pairs(fresh, mentee_ids)
    assert sorted(map(tuple, pairs.to_numpy())) == sorted(map(tuple, reference.to_numpy()))
    np.testing.assert_allclose(score_pairs(rec, pairs), score_pairs(fresh, pairs), rtol=1e-6)
    for mentee in mentee_ids[:4]:
        assert _ids(rec.recommend(mentee_id=mentee, k=K)) == _ids(fresh.recommend(mentee_id=mentee, k=K))


def test_one_change_set_refreshes_every_arm_with_its_own_prior(db, encoder):
    """Two arms over one catalogue: one read of the changes, applied once; each arm's prior
    is then the one a full computation over the new catalogue gives."""
    rec = _load(db, encoder)
    _, _, engine = db
    stages = rec.stages
    control = stages.arm()
    preranker = control.retriever.prerank.preranker
    other = type(preranker)(0.5, {k: -v for k, v in preranker.weights.items()}, preranker.r2, preranker.fit_pairs)
    arms = {CONTROL: control, "b": build_arm(control.ranker, stages.catalogue, stages.index, other)}
    feed = MentorFeed(engine, load_mentors(engine))
    with engine.begin() as conn:
        stamp = _later(conn)
        target = int(conn.execute(select(mentors.c.mentor_id).where(mentors.c.active).limit(1)).scalar_one())
        conn.execute(update(mentors).where(mentors.c.mentor_id == target).values(
            rating=1.0, total_mentees=40, updated_at=stamp))
        _new_mentor(conn, "Product designer mentoring on user research and prototyping.")
    changes = feed.read()
    assert len(changes.rows) == 2
    updated, counts = apply_changes(Stages(stages.catalogue, stages.index, arms), changes, TextVectors(encoder))
    assert counts == {"changed": 1, "added": 1, "removed": 0}
    for arm in updated.arms.values():
        expected = arm.retriever.prerank.preranker.mentor_prior(updated.catalogue.prepared_mentors)
        np.testing.assert_allclose(arm.retriever.prerank.prior, expected, rtol=1e-9)
        assert arm.reranker.catalogue is updated.catalogue and arm.retriever.index is updated.index
    assert not np.allclose(updated.arm("b").retriever.prerank.prior, updated.arm().retriever.prerank.prior)


def test_a_late_commit_stamped_before_the_last_look_is_still_seen(db, encoder):
    rec = _load(db, encoder)
    _, _, engine = db
    mentee = _a_mentee(engine)
    early, late = _ids(rec.recommend(mentee_id=mentee, k=2))
    with engine.begin() as conn:
        stamp = _later(conn)
        conn.execute(update(mentors).where(mentors.c.mentor_id == early).values(active=False, updated_at=stamp))
    assert rec.refresh().changed == 1
    with engine.begin() as conn:  # committed now, stamped 30 s before the change already seen
        conn.execute(update(mentors).where(mentors.c.mentor_id == late).values(
            active=False, updated_at=stamp - timedelta(seconds=30)))
    assert rec.refresh().changed == 1
    assert rec.refresh().changed == 0  # re-read in the overlap, but already applied
    assert not {early, late} & set(_ids(rec.recommend(mentee_id=mentee, k=K)))


def test_refresh_interval_applies_changes_without_refresh_after_it_and_not_before(db, encoder):
    _, _, engine = db
    mentee = _a_mentee(engine)
    quick = _load(db, encoder, refresh_interval=0.2)
    slow = _load(db, encoder, refresh_interval=3600)
    top = quick.recommend(mentee_id=mentee, k=1)[0].mentor_id
    assert slow.recommend(mentee_id=mentee, k=1)[0].mentor_id == top
    with engine.begin() as conn:
        conn.execute(update(mentors).where(mentors.c.mentor_id == top).values(active=False, updated_at=_later(conn)))
    time.sleep(0.3)
    assert top not in _ids(quick.recommend(mentee_id=mentee, k=K))
    assert slow.recommend(mentee_id=mentee, k=1)[0].mentor_id == top  # an hour has not passed
    slow.refresh()
    assert top not in _ids(slow.recommend(mentee_id=mentee, k=K))


def test_a_refresh_without_changes_reads_no_table_whole(db, encoder):
    rec = _load(db, encoder)
    _, _, engine = db
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        idle = rec.refresh()
        idle_statements = list(statements)
        with engine.begin() as conn:
            conn.execute(update(mentors).where(mentors.c.mentor_id == int(rec.stages.catalogue.mentor_ids[0])).values(
                rating=2.0, updated_at=_later(conn)))
        statements.clear()
        busy = rec.refresh()
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert (idle.changed, idle.added, idle.removed) == (0, 0, 0) and busy.changed == 1
    for executed in (idle_statements, [s for s in statements if "mentors" in s]):
        reads = [s for s in executed if s.upper().startswith("SELECT")]
        assert len(reads) == 2, reads
        counts = [s for s in reads if re.search(r"count\(\*\)", s, re.I)]
        ranged = [s for s in reads if re.search(r"WHERE mentors\.updated_at > ", s)]
        assert len(counts) == 1 and len(ranged) == 1, reads  # no SELECT of every row or id


@pytest.mark.postgres
def test_freshness_on_postgresql(new_pg_database, tmp_path, encoder):
    url = new_pg_database()
    _build(url, tmp_path / "artifacts", encoder)
    engine = get_engine(url)
    rec = Recommender.load(tmp_path / "artifacts", db_url=url, encoder=encoder, refresh_interval=None)
    mentee = _a_mentee(engine)
    goals = rec.mentee(mentee)["goals"]
    full, gone = _ids(rec.recommend(mentee_id=mentee, k=2))
    with engine.begin() as conn:
        newcomer = _new_mentee(conn, mentee, "I want to learn distributed systems design")
        mentor = _new_mentor(conn, f"I mentor people who say: {goals}")
        conn.execute(update(mentors).where(mentors.c.mentor_id == full).values(
            current_mentees=mentors.c.max_mentees, updated_at=_later(conn)))
        _delete_mentor(conn, gone)
    assert len(rec.recommend(mentee_id=newcomer, k=K)) == K
    summary = rec.refresh()
    assert (summary.changed, summary.added, summary.removed) == (1, 1, 1)
    # Every candidate is listed: where the ranker puts a mentor with no history is its cold-start
    # call (as in test_a_new_mentor_becomes_recommendable_from_the_side_index).
    recs = _ids(rec.recommend(mentee_id=mentee, k=50, candidates=50))
    assert mentor in recs and not {full, gone} & set(recs)
    assert set(load_mentors(engine)["mentor_id"]) >= set(rec.stages.index.side.ids.tolist())
    rec.close()
    engine.dispose()
