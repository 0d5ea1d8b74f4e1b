"""The two-stage query API on a small generated world with the real encoder, FAISS and XGBoost."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from db import get_engine, load_interactions, load_mentees, load_mentors
from eval.training_run import run_training
from index import build_index_from_db
from index.spec import DEFAULT_POOL
from mentor_match.errors import (
    ArtifactError,
    InvalidParameterError,
    StaleArtifactError,
    UnknownEntityError,
)
from ranking.features import pair_features
from retrieval import CONTROL, DEFAULT_CANDIDATES, IndexRetriever, Recommender, Reranker
from retrieval.reasons import relative_contributions
from synthetic import generate_world, write_world

ROOT = Path(__file__).resolve().parents[2]
PROFILE = {
    "goals": "I want to train neural networks for medical image segmentation",
    "desired_domains": ["machine learning"],
    "current_level": "junior",
}


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
def tables(world):
    """The database's mentors (by id), mentee ids and interactions, read apart from the recommender."""
    engine = get_engine(world[0])
    mentors, mentees, interactions = load_mentors(engine), load_mentees(engine), load_interactions(engine)
    engine.dispose()
    return mentors.set_index("mentor_id"), mentees["mentee_id"].to_numpy(), interactions


def _eligible(mentors: pd.DataFrame) -> pd.Index:
    ok = mentors["active"] & (mentors["current_mentees"] < mentors["max_mentees"])
    return mentors.index[ok]


def _contacted(interactions: pd.DataFrame, mentee_id: int) -> set[int]:
    return set(interactions.loc[interactions["mentee_id"] == mentee_id, "mentor_id"])


def test_k_distinct_eligible_results(rec, tables):
    mentors, mentee_ids, interactions = tables
    eligible = set(_eligible(mentors))
    for mentee_id in mentee_ids[:20]:
        recs = rec.recommend(mentee_id=int(mentee_id), k=10)
        ids = [r.mentor_id for r in recs]
        assert len(ids) == 10 and len(set(ids)) == 10
        assert set(ids) <= eligible, "an inactive or full mentor was recommended"
        assert not set(ids) & _contacted(interactions, mentee_id), "a contacted mentor came back"
        assert [r.rank for r in recs] == list(range(1, 11))
        scores = [r.score for r in recs]
        assert scores == sorted(scores, reverse=True)


def test_recommendation_carries_features_and_reasons(rec, tables):
    first = rec.recommend(mentee_id=int(tables[1][0]), k=5)[0]
    assert set(first.features) >= {"domain_overlap", "bio_goal_similarity", "mentor_rating"}
    assert abs(first.features["bio_goal_similarity"] - first.similarity) < 1e-5
    assert 1 <= len(first.reasons) <= 3 and all(isinstance(r, str) and r for r in first.reasons)
    assert set(first.contributions) and all(v > 0 for v in first.contributions.values())
    json.dumps(first.to_dict())  # plain types only


def test_reasons_compare_with_the_best_candidates_of_the_list(rec, tables):
    stages = rec.stages
    ranker = stages.reranker.ranker
    reranker = Reranker(ranker, stages.catalogue, stages.index, reference=20)
    narrow = Recommender(replace(stages, arms={CONTROL: replace(stages.arm(), reranker=reranker)}))
    mentee = int(tables[1][3])
    recs = narrow.recommend(mentee_id=mentee, k=5, candidates=100)
    pairs = rec.retrieve([mentee], 100, progress=False)
    catalogue, known = stages.catalogue, stages.catalogue.lookup([mentee])
    assert len(stages.index.side) == 0  # a fresh index: every mentor's vector is its FAISS row's
    features = pair_features(
        known.prepared, catalogue.prepared_mentors, pairs,
        mentee_vectors=known.vectors, mentor_vectors=stages.index.main.vectors, vectors_per="profile",
    )
    best = np.argsort(-ranker.predict(features), kind="stable")[:20]
    relative = relative_contributions(ranker.contributions(features.iloc[best], approximate=True))
    names = list(features.columns)
    assert [r.mentor_id for r in recs] == pairs["mentor_id"].to_numpy()[best[:5]].tolist()
    for i, r in enumerate(recs):
        assert r.contributions, "every top mentor has at least one reason here"
        for name, value in r.contributions.items():
            assert value == pytest.approx(relative[i, names.index(name)])


def test_by_default_the_whole_pool_is_pre_ranked(rec, tables):
    mentee = int(tables[1][2])
    default = rec.retrieve([mentee], 50, progress=False)
    pd.testing.assert_frame_equal(default, rec.retrieve([mentee], 50, pool=DEFAULT_POOL, progress=False))
    nearest = rec.retrieve([mentee], 50, pool=50, progress=False)
    assert not default["mentor_id"].equals(nearest["mentor_id"])
    pd.testing.assert_frame_equal(
        rec.retrieve([mentee], progress=False), rec.retrieve([mentee], DEFAULT_CANDIDATES, progress=False)
    )


def test_preranker_orders_the_pool_and_the_ranker_scores_its_best(rec, tables):
    retriever = rec.stages.retriever
    prerank = retriever.prerank
    assert prerank is not None and 0 < prerank.preranker.r2 <= 1
    mentee = int(tables[1][1])
    pool = rec.retrieve([mentee], 100, pool=100, progress=False)  # nearest 100, no pre-ranking
    chosen = rec.retrieve([mentee], 30, pool=100, progress=False)
    rows = rec.stages.catalogue.rows_of(pool["mentor_id"])
    pre = prerank.preranker.similarity_weight * pool["similarity"].to_numpy() + prerank.prior[rows]
    expected = pool["mentor_id"].to_numpy()[np.argsort(-pre, kind="stable")[:30]]
    np.testing.assert_array_equal(chosen["mentor_id"].to_numpy(), expected)
    assert not np.array_equal(expected, pool["mentor_id"].to_numpy()[:30])  # it reorders
    top = rec.recommend(mentee_id=mentee, k=5, candidates=30, pool=100)
    assert {r.mentor_id for r in top} <= set(expected)


def test_without_a_preranker_the_candidates_are_the_nearest(rec, tables):
    stages = rec.stages
    plain = Recommender(replace(stages, arms={CONTROL: replace(stages.arm(), retriever=IndexRetriever(stages.index))}))
    mentee = int(tables[1][4])
    got = plain.retrieve([mentee], 40, pool=1000, progress=False)
    assert len(got) == 40  # the pool is ignored: no pre-ranker to choose from it
    known = stages.catalogue.lookup([mentee])
    found = stages.index.main.search(
        known.vectors, 40, excluded_rows=np.flatnonzero(~stages.catalogue.eligible), exclude=known.contacted,
    )
    np.testing.assert_array_equal(got["mentor_id"].to_numpy(), found.ids[0])


def test_exclude_removes_mentors(rec, tables):
    mentee_id = int(tables[1][1])
    before = [r.mentor_id for r in rec.recommend(mentee_id=mentee_id, k=10)]
    after = [r.mentor_id for r in rec.recommend(mentee_id=mentee_id, k=10, exclude=before[:5])]
    assert len(after) == 10 and not set(after) & set(before[:5])


def test_widening_fills_k_when_filters_bite(rec, tables):
    """With few candidates and most of them excluded, the search widens to still fill k."""
    mentee_id = int(tables[1][2])
    near = [r.mentor_id for r in rec.recommend(mentee_id=mentee_id, k=30, candidates=30)]
    recs = rec.recommend(mentee_id=mentee_id, k=10, candidates=10, exclude=near)
    assert len(recs) == 10 and not {r.mentor_id for r in recs} & set(near)


def test_returns_all_eligible_when_fewer_than_k(rec, tables):
    mentors, mentee_ids, interactions = tables
    mentee_id = int(mentee_ids[3])
    eligible = set(_eligible(mentors)) - _contacted(interactions, mentee_id)
    keep = sorted(eligible)[:4]
    recs = rec.recommend(mentee_id=mentee_id, k=10, exclude=sorted(eligible - set(keep)))
    assert sorted(r.mentor_id for r in recs) == keep


def test_adhoc_profile(rec):
    recs = rec.recommend(profile=PROFILE, k=5)
    assert len(recs) == 5 and len({r.mentor_id for r in recs}) == 5
    minimal = rec.recommend(profile={"goals": "grow into an engineering manager"}, k=3)
    assert len(minimal) == 3


def test_an_adhoc_profile_without_timezone_has_an_unknown_timezone(rec):
    """pair_features' rule for a missing timezone (match 0, distance 0.5), not UTC's."""
    recs = rec.recommend(profile=PROFILE, k=30)
    assert {r.features["timezone_match"] for r in recs} == {0.0}
    assert {r.features["timezone_distance"] for r in recs} == {0.5}


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA])
@pytest.mark.parametrize(
    "field",
    ["desired_domains", "current_skills", "current_level", "timezone", "availability",
     "availability_hours", "preferred_style", "industry"],
)
def test_a_profile_field_given_as_none_or_nan_is_missing(rec, field, missing):
    bare = {"goals": PROFILE["goals"], "desired_domains": ["machine learning"]}
    expected = rec.recommend(profile={name: v for name, v in bare.items() if name != field}, k=5)
    got = rec.recommend(profile={**bare, field: missing}, k=5)
    assert [(r.mentor_id, r.score) for r in got] == [(r.mentor_id, r.score) for r in expected]


def test_batch_equals_per_mentee(rec, tables):
    ids = [int(i) for i in tables[1][:12]]
    batch = rec.recommend_batch(ids, k=5, progress=False)
    assert list(batch.columns) == ["mentee_id", "rank", "mentor_id", "score", "similarity", "list_id"]
    assert (batch.groupby("mentee_id")["list_id"].nunique() == 1).all() and batch["list_id"].nunique() == len(ids)
    for mentee_id in ids:
        single = rec.recommend(mentee_id=mentee_id, k=5)
        rows = batch[batch["mentee_id"] == mentee_id].sort_values("rank")
        assert rows["mentor_id"].tolist() == [r.mentor_id for r in single]
        np.testing.assert_allclose(rows["score"], [r.score for r in single], rtol=1e-6)


def test_batches_of_mentees_with_few_candidates_are_ranked_per_mentee(rec, tables):
    """Mentees with fewer eligible mentors than candidates must not be split across batches."""
    ids = [int(i) for i in tables[1][:9]]
    whole = rec.recommend_batch(ids, k=150, candidates=150, progress=False)
    small = rec.recommend_batch(ids, k=150, candidates=150, batch_size=2, progress=False)
    key = ["mentee_id", "rank"]
    pd.testing.assert_frame_equal(
        whole.sort_values(key, ignore_index=True).drop(columns="list_id"),
        small.sort_values(key, ignore_index=True).drop(columns="list_id"), rtol=1e-5,
    )  # the same lists (float32 similarities summed in other block shapes differ in the last
    # bits, about 1e-6 relative); each call serves (and logs) lists of its own ids
    assert not small.duplicated(key).any()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mentee_id": 10**9}, UnknownEntityError, "Unknown mentee id 1000000000"),
        ({"mentee_id": 1, "k": 0}, InvalidParameterError, "'k' parameter of recommend must be an int >= 1. Got 0"),
        ({"mentee_id": 1, "k": 2.5}, InvalidParameterError, "'k' parameter of recommend must be an int"),
        ({"mentee_id": 1, "candidates": 0}, InvalidParameterError, "'candidates' parameter of recommend"),
        ({"mentee_id": 1, "pool": 0}, InvalidParameterError, "'pool' parameter of recommend"),
        ({}, InvalidParameterError, "exactly one of mentee_id"),
        ({"profile": {"desired_domains": ["finance"]}}, InvalidParameterError, "profile needs 'goals'"),
        ({"profile": {"goals": "x", "current_level": "wizard"}}, InvalidParameterError, "'current_level'.*'wizard'"),
        ({"profile": {"goals": "x", "favourite_colour": "red"}}, InvalidParameterError, "favourite_colour"),
        ({"profile": {"goals": "x", "desired_domains": "finance"}}, InvalidParameterError, "list of strings"),
    ],
)
def test_errors_name_the_problem(rec, kwargs, error, message):
    with pytest.raises(error, match=message):
        rec.recommend(**kwargs)


def test_candidates_zero_is_refused_in_batches_too(rec, tables):
    with pytest.raises(InvalidParameterError, match="'candidates' parameter of recommend_batch"):
        rec.recommend_batch([int(tables[1][0])], k=3, candidates=0)
    with pytest.raises(InvalidParameterError, match="'candidates' parameter of retrieve"):
        rec.retrieve([int(tables[1][0])], 0)


def test_no_mentor_gets_two_experience_reasons(rec, tables):
    for mentee_id in tables[1][:30]:
        for r in rec.recommend(mentee_id=int(mentee_id), k=10):
            assert sum("experience" in reason for reason in r.reasons) <= 1, r.reasons
            assert not any(reason.startswith("1 years") for reason in r.reasons)


def test_missing_artifacts_are_refused(world, tmp_path):
    with pytest.raises(ArtifactError, match="build_index"):
        Recommender.load(tmp_path / "nothing", db_url=world[0])


def test_concurrent_queries_during_reload(rec, tables):
    ids = [int(i) for i in tables[1][:8]]
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


def test_reload_needs_a_loaded_recommender(rec):
    with pytest.raises(InvalidParameterError, match="Recommender.load"):
        Recommender(rec.stages).reload()


def test_stale_index_warns_or_refuses(tmp_path, encoder):
    db_url = f"sqlite:///{tmp_path / 'mm.db'}"
    engine = get_engine(db_url)
    write_world(engine, generate_world(n_mentors=60, n_mentees=120, interactions_per_mentee=6, seed=3))
    artifacts = tmp_path / "artifacts"
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=3, encoder=encoder, progress=False)
    from synthetic import refresh_world

    before = load_mentors(engine).set_index("mentor_id")
    refreshed = refresh_world(engine, fraction=0.1, seed=5)
    after = load_mentors(engine).set_index("mentor_id")
    # The side index serves what the index lacks (new mentors, new bios): no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        live = Recommender.load(artifacts, db_url=db_url, encoder=encoder)
    side = live.stages.index.side
    rewritten = before.index[before["bio"] != after.loc[before.index, "bio"]]
    joined = after.index.difference(before.index)
    assert len(joined) == refreshed["new_mentors"] and len(rewritten) == refreshed["new_bios"]
    expected = set(joined[after.loc[joined, "active"]]) | set(rewritten[after.loc[rewritten, "active"]])
    assert set(side.ids.tolist()) == expected
    with pytest.raises(StaleArtifactError):
        Recommender.load(artifacts, db_url=db_url, strict=True, encoder=encoder)
    # Past a tenth of the index the side index warns (it is searched exactly).
    refresh_world(engine, fraction=0.5, seed=6)
    with pytest.warns(UserWarning, match="added or changed since the index was built") as caught:
        Recommender.load(artifacts, db_url=db_url, encoder=encoder)
    assert caught[0].filename == __file__  # the warning points at the caller's line
    engine.dispose()

    # The refusal comes before any goal is embedded: with the cache gone, an encoder of
    # another identity would be refused (ArtifactError) if it were asked for a vector.
    shutil.rmtree(artifacts / "cache")

    class OtherEncoder:
        identity = "another-model@1"

    with pytest.raises(StaleArtifactError):
        Recommender.load(artifacts, db_url=db_url, strict=True, encoder=OtherEncoder())


def _run_script(args, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "inference.py"), *args],
        input=stdin, capture_output=True, text=True, timeout=240, cwd=ROOT,
    )


@pytest.mark.slow
def test_inference_script_json_and_menu(world, rec, tables):
    db_url, artifacts = world
    mentee_id = int(tables[1][0])
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
    assert "mentees 1-20 of 300" in out and "Bye." in out
    first = rec.mentee(mentee_id)
    assert f"{mentee_id:>9}" in out and first["goals"][:60] in out  # the browser's first page
    assert out.count("why") >= 2  # two recommendation tables (by id and random)

    missing = _run_script(["--db-url", db_url, "--artifacts", str(artifacts / "nope"), "--mentee-id", "1"])
    assert missing.returncode == 1 and missing.stderr.startswith("error:") and "Traceback" not in missing.stderr


@pytest.fixture(scope="module")
def wide(random_vector_world):
    """450 mentors (over 300 eligible), random unit vectors and a small ranker: no encoder needed."""
    world, recommender, *_ = random_vector_world(
        n_mentors=450, n_mentees=20, interactions_per_mentee=3, seed=11, dim=384
    )
    return world, recommender


def test_k_beyond_the_reasons_reference_still_returns_k(wide):
    world, recommender = wide
    mentee_id = int(world.mentees["mentee_id"].iloc[0])
    recs = recommender.recommend(mentee_id=mentee_id, k=300)
    assert len(recs) == 300 and len({r.mentor_id for r in recs}) == 300
    assert [r.rank for r in recs] == list(range(1, 301))
    assert [r.mentor_id for r in recs[:10]] == [r.mentor_id for r in recommender.recommend(mentee_id=mentee_id, k=10)]
