"""The two-stage query API on a small generated world with the real encoder, FAISS and XGBoost."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from db import get_engine, load_interactions, load_mentors
from eval.training_run import run_training
from index import build_index_from_db
from mentor_match.errors import (
    ArtifactError,
    InvalidParameterError,
    StaleArtifactError,
    UnknownEntityError,
)
from retrieval import Recommender
from synthetic import generate_world, write_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory, encoder):
    """A world of 150 mentors and 300 mentees with an index and a trained ranker."""
    folder = tmp_path_factory.mktemp("recommender")
    db_url = f"sqlite:///{folder / 'mm.db'}"
    engine = get_engine(db_url)
    write_world(engine, generate_world(n_mentors=150, n_mentees=300, interactions_per_mentee=8, seed=7))
    engine.dispose()
    artifacts = folder / "artifacts"
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=7, encoder=encoder, progress=False)
    return db_url, artifacts


@pytest.fixture(scope="module")
def rec(world, encoder):
    db_url, artifacts = world
    return Recommender.load(artifacts, db_url=db_url, encoder=encoder)


@pytest.fixture(scope="module")
def catalogue(world):
    engine = get_engine(world[0])
    mentors, interactions = load_mentors(engine), load_interactions(engine)
    engine.dispose()
    return mentors.set_index("mentor_id"), interactions


def _eligible(mentors: pd.DataFrame) -> pd.Index:
    ok = mentors["active"] & (mentors["current_mentees"] < mentors["max_mentees"])
    return mentors.index[ok]


def test_k_distinct_eligible_results(rec, catalogue):
    mentors, interactions = catalogue
    eligible = set(_eligible(mentors))
    for mentee_id in rec.mentee_ids[:20]:
        recs = rec.recommend(mentee_id=int(mentee_id), k=10)
        ids = [r.mentor_id for r in recs]
        contacted = set(interactions.loc[interactions["mentee_id"] == mentee_id, "mentor_id"])
        assert len(ids) == 10 and len(set(ids)) == 10
        assert set(ids) <= eligible, "an inactive or full mentor was recommended"
        assert not set(ids) & contacted, "a mentor the mentee already contacted came back"
        assert [r.rank for r in recs] == list(range(1, 11))
        scores = [r.score for r in recs]
        assert scores == sorted(scores, reverse=True)


def test_recommendation_carries_features_and_reasons(rec):
    first = rec.recommend(mentee_id=int(rec.mentee_ids[0]), k=5)[0]
    assert set(first.features) >= {"domain_overlap", "bio_goal_similarity", "mentor_rating"}
    assert abs(first.features["bio_goal_similarity"] - first.similarity) < 1e-5
    assert 1 <= len(first.reasons) <= 3 and all(isinstance(r, str) and r for r in first.reasons)
    assert set(first.contributions) and all(v > 0 for v in first.contributions.values())
    json.dumps(first.to_dict())  # plain types only


def test_reasons_compare_with_the_best_candidates_of_the_list(rec, monkeypatch):
    import retrieval.recommender as module
    from retrieval.reasons import relative_contributions

    monkeypatch.setattr(module, "REASONS_REFERENCE", 20)
    mentee = int(rec.mentee_ids[3])
    recs = rec.recommend(mentee_id=mentee, k=5, candidates=100)
    state = rec._state
    pairs = rec.retrieve([mentee], 100, progress=False)
    features = rec._features(state, state.prepared_mentees, state.mentee_vectors, pairs)
    best = np.argsort(-state.ranker.predict(features), kind="stable")[:20]
    relative = relative_contributions(
        state.ranker.contributions(features.iloc[best], approximate=True)
    )
    names = list(features.columns)
    assert [r.mentor_id for r in recs] == pairs["mentor_id"].to_numpy()[best[:5]].tolist()
    for i, r in enumerate(recs):
        assert r.contributions, "every top mentor has at least one reason here"
        for name, value in r.contributions.items():
            assert value == pytest.approx(relative[i, names.index(name)])


def test_by_default_the_whole_pool_is_pre_ranked(rec):
    from index.spec import DEFAULT_POOL

    mentee = int(rec.mentee_ids[2])
    default = rec.retrieve([mentee], 50, progress=False)
    pd.testing.assert_frame_equal(default, rec.retrieve([mentee], 50, pool=DEFAULT_POOL, progress=False))
    nearest = rec.retrieve([mentee], 50, pool=50, progress=False)
    assert not default["mentor_id"].equals(nearest["mentor_id"])


def test_preranker_orders_the_pool_and_the_ranker_scores_its_best(rec):
    state = rec._state
    assert state.preranker is not None and 0 < state.preranker.r2 <= 1
    mentee = int(rec.mentee_ids[1])
    pool = rec.retrieve([mentee], 100, pool=100, progress=False)  # nearest 100, no pre-ranking
    chosen = rec.retrieve([mentee], 30, pool=100, progress=False)
    rows = state.index.rows_of(pool["mentor_id"])
    pre = state.preranker.similarity_weight * pool["similarity"].to_numpy() + state.prior[rows]
    expected = pool["mentor_id"].to_numpy()[np.argsort(-pre, kind="stable")[:30]]
    np.testing.assert_array_equal(chosen["mentor_id"].to_numpy(), expected)
    assert not np.array_equal(expected, pool["mentor_id"].to_numpy()[:30])  # it reorders
    top = rec.recommend(mentee_id=mentee, k=5, candidates=30, pool=100)
    assert {r.mentor_id for r in top} <= set(expected)


def test_exclude_removes_mentors(rec):
    mentee_id = int(rec.mentee_ids[1])
    before = [r.mentor_id for r in rec.recommend(mentee_id=mentee_id, k=10)]
    after = [r.mentor_id for r in rec.recommend(mentee_id=mentee_id, k=10, exclude=before[:5])]
    assert len(after) == 10 and not set(after) & set(before[:5])


def test_widening_fills_k_when_filters_bite(rec, catalogue):
    """With few candidates and most of them excluded, the search widens to still fill k."""
    mentors, _ = catalogue
    mentee_id = int(rec.mentee_ids[2])
    near = [r.mentor_id for r in rec.recommend(mentee_id=mentee_id, k=30, candidates=30)]
    recs = rec.recommend(mentee_id=mentee_id, k=10, candidates=10, exclude=near)
    assert len(recs) == 10 and not {r.mentor_id for r in recs} & set(near)


def test_returns_all_eligible_when_fewer_than_k(rec, catalogue):
    mentors, interactions = catalogue
    mentee_id = int(rec.mentee_ids[3])
    eligible = set(_eligible(mentors)) - set(interactions.loc[interactions["mentee_id"] == mentee_id, "mentor_id"])
    keep = sorted(eligible)[:4]
    recs = rec.recommend(mentee_id=mentee_id, k=10, exclude=sorted(eligible - set(keep)))
    assert sorted(r.mentor_id for r in recs) == keep


def test_adhoc_profile(rec):
    recs = rec.recommend(
        profile={"goals": "I want to train neural networks for medical image segmentation",
                 "desired_domains": ["machine learning"], "current_level": "junior"},
        k=5,
    )
    assert len(recs) == 5 and len({r.mentor_id for r in recs}) == 5
    minimal = rec.recommend(profile={"goals": "grow into an engineering manager"}, k=3)
    assert len(minimal) == 3


def test_batch_equals_per_mentee(rec):
    ids = [int(i) for i in rec.mentee_ids[:12]]
    batch = rec.recommend_batch(ids, k=5, progress=False)
    assert list(batch.columns[:4]) == ["mentee_id", "rank", "mentor_id", "score"]
    for mentee_id in ids:
        single = rec.recommend(mentee_id=mentee_id, k=5)
        rows = batch[batch["mentee_id"] == mentee_id].sort_values("rank")
        assert rows["mentor_id"].tolist() == [r.mentor_id for r in single]
        np.testing.assert_allclose(rows["score"], [r.score for r in single], rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"mentee_id": 10**9}, UnknownEntityError),
        ({"mentee_id": 1, "k": 0}, InvalidParameterError),
        ({"mentee_id": 1, "k": 2.5}, InvalidParameterError),
        ({}, InvalidParameterError),
        ({"profile": {"desired_domains": ["finance"]}}, InvalidParameterError),
        ({"profile": {"goals": "x", "current_level": "wizard"}}, InvalidParameterError),
        ({"profile": {"goals": "x", "favourite_colour": "red"}}, InvalidParameterError),
    ],
)
def test_errors_name_the_problem(rec, kwargs, error):
    with pytest.raises(error) as info:
        rec.recommend(**kwargs)
    assert len(str(info.value)) > 20


def test_missing_artifacts_are_refused(world, tmp_path):
    with pytest.raises(ArtifactError, match="build_index"):
        Recommender.load(tmp_path / "nothing", db_url=world[0])


def test_concurrent_queries_during_reload(rec):
    ids = [int(i) for i in rec.mentee_ids[:8]]
    errors: list[BaseException] = []
    results: list[int] = []

    def worker():
        try:
            for mentee_id in ids:
                results.append(len(rec.recommend(mentee_id=mentee_id, k=5)))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    rec.reload()
    rec.reload()
    for t in threads:
        t.join()
    assert not errors
    assert results == [5] * (4 * len(ids))


def test_stale_index_warns_or_refuses(tmp_path, encoder):
    db_url = f"sqlite:///{tmp_path / 'mm.db'}"
    engine = get_engine(db_url)
    write_world(engine, generate_world(n_mentors=60, n_mentees=120, interactions_per_mentee=6, seed=3))
    artifacts = tmp_path / "artifacts"
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=3, encoder=encoder, progress=False)
    from synthetic import refresh_world

    refresh_world(engine, fraction=0.2, seed=5)
    engine.dispose()
    with pytest.warns(UserWarning, match="stale|changed|added"):
        Recommender.load(artifacts, db_url=db_url, encoder=encoder)
    with pytest.raises(StaleArtifactError):
        Recommender.load(artifacts, db_url=db_url, strict=True, encoder=encoder)


def _run_script(args, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "inference.py"), *args],
        input=stdin, capture_output=True, text=True, timeout=240, cwd=ROOT,
    )


@pytest.mark.slow
def test_inference_script_json_and_menu(world, rec):
    db_url, artifacts = world
    mentee_id = int(rec.mentee_ids[0])
    done = _run_script(["--db-url", db_url, "--artifacts", str(artifacts), "--mentee-id", str(mentee_id), "--k", "4", "--json"])
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert {"mentor_id", "rank", "score", "reasons"} <= set(rows[0])
    assert [r["mentor_id"] for r in rows] == [r.mentor_id for r in rec.recommend(mentee_id=mentee_id, k=4)]

    # The menu: a bad choice, a bad id, an unknown id, one good query, paging, then EOF.
    menu = _run_script(["--db-url", db_url, "--artifacts", str(artifacts), "--k", "3"],
                       stdin=f"9\n1\nabc\n1\n999999\n1\n{mentee_id}\n2\n3\n")
    assert menu.returncode == 0, menu.stderr
    out = menu.stdout
    assert "Unknown choice" in out and "not a number" in out and "Unknown mentee id" in out
    assert "mentees 1-" in out and "Bye." in out
    assert out.count("why") >= 2  # two recommendation tables (by id and random)

    missing = _run_script(["--db-url", db_url, "--artifacts", str(artifacts / "nope"), "--mentee-id", "1"])
    assert missing.returncode == 1 and missing.stderr.startswith("error:") and "Traceback" not in missing.stderr


def test_without_a_preranker_the_candidates_are_the_nearest(world, rec):
    state = rec._state
    plain = Recommender.from_components(
        state.index, state.ranker.__class__.load(world[1] / "ranker"), state.mentors.reset_index(drop=True),
        state.mentees.reset_index(drop=True), mentee_vectors=state.mentee_vectors,
    )
    plain._state = replace(plain._state, preranker=None, prior=None)
    mentee = int(rec.mentee_ids[4])
    got = plain.retrieve([mentee], 40, pool=1000, progress=False)
    assert len(got) == 40  # the pool is ignored: no pre-ranker to choose from it
    ids, _ = state.index.search(
        state.mentee_vectors[state.mentees.index.get_loc(mentee)][None, :], 40,
        excluded_rows=state.ineligible_rows,
    )
    np.testing.assert_array_equal(got["mentor_id"].to_numpy(), ids[0])
