"""The retraining job on a real world: the guard refuses a worse candidate with its numbers, promotes
one that is not worse, reads only the data up to now, and a rollback reaches a running recommender."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

import pandas as pd
import pytest

from db import get_engine
from db.loading import load_dataset
from eval.retrain import dataset_as_of, fit_ranker, retrain
from eval.training_run import run_training
from index import build_index_from_db
from ranking.registry import history, list_versions, live_version, rollback
from retrieval import Recommender
from synthetic import generate_world, write_world

SEED = 21


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder):
    """A world in SQLite, its index, and a production ranker published by the training run."""
    folder = tmp_path_factory.mktemp("retrain")
    url = f"sqlite:///{folder / 'mm.db'}"
    engine = get_engine(url)
    write_world(engine, generate_world(n_mentors=60, n_mentees=150, interactions_per_mentee=6, seed=SEED),
                progress=False)
    engine.dispose()
    build_index_from_db(url, folder / "artifacts", progress=False, encoder=encoder)
    run_training(url, folder / "artifacts", seed=SEED, encoder=encoder, progress=False)
    return url, folder / "artifacts"


@pytest.fixture()
def world(built, tmp_path):
    """(db_url, artifacts): the built artifacts copied for this test alone (links kept as links)."""
    url, artifacts = built
    shutil.copytree(artifacts, tmp_path / "artifacts", symlinks=True)
    return url, tmp_path / "artifacts"


def upside_down(data):
    """A deliberately worse candidate: the pipeline's ranker taught the relevance grades reversed."""
    return fit_ranker(replace(data, pairs=data.pairs.assign(relevance=3 - data.pairs["relevance"])))


def test_a_worse_candidate_is_refused_with_the_numbers_and_production_stays(world, encoder):
    url, artifacts = world
    production = live_version(artifacts)
    result = retrain(url, artifacts, seed=SEED, encoder=encoder, fit_candidate=upside_down)
    assert not result["promoted"] and result["candidate"]["version"] is None
    difference, margin = result["difference"], result["margin"]
    assert difference["ci_low"] < -margin == -0.01
    assert result["candidate"]["mean"] < result["production"]["mean"]
    assert difference["mean_diff"] == pytest.approx(result["candidate"]["mean"] - result["production"]["mean"])
    reason = result["reason"]
    for number in (f"{result['candidate']['mean']:.4f}", f"{result['production']['mean']:.4f}",
                   f"{difference['mean_diff']:+.4f}", f"[{difference['ci_low']:+.4f}, {difference['ci_high']:+.4f}]",
                   f"-{margin:.4f}", f"same {result['mentees']} held-out mentees"):
        assert number in reason
    assert reason.startswith("Refused:") and result["mentees"] >= 20
    assert live_version(artifacts) == production == result["production"]["version"]
    assert [r.version for r in list_versions(artifacts)] == [production]  # nothing published
    refusal = history(artifacts)[-1]
    assert refusal["action"] == "refused" and refusal["numbers"]["ci_low"] == difference["ci_low"]

    # The margin, not the candidate, decides: allowed to lose up to 0.5, the same candidate goes live.
    lenient = retrain(url, artifacts, seed=SEED, encoder=encoder, fit_candidate=upside_down, margin=0.5)
    assert lenient["promoted"] and lenient["difference"] == difference
    assert live_version(artifacts) == lenient["candidate"]["version"] != production


def test_a_candidate_not_worse_goes_live_and_a_rollback_reaches_a_running_recommender(world, encoder):
    url, artifacts = world
    rec = Recommender.load(artifacts, db_url=url, encoder=encoder, refresh_interval=None, log=False)
    served = lambda: rec.stages.arm().ranker.manifest.version  # noqa: E731 - what each served list records
    mentee = int(rec.mentee_page(0, 1).frame["mentee_id"].iloc[0])
    before_version, before = served(), rec.recommend(mentee_id=mentee, k=5)

    result = retrain(url, artifacts, seed=SEED, encoder=encoder)  # same data, same seed: as good
    assert result["promoted"] and result["reason"].startswith("Promoted:")
    assert result["difference"]["ci_low"] >= -result["margin"]
    new = result["candidate"]
    assert live_version(artifacts) == new["version"] and os.path.realpath(artifacts / "ranker").endswith(new["version"])
    listed = list_versions(artifacts)
    assert [r.live for r in listed] == [True, False] and listed[0].model_version == new["model_version"]
    assert listed[0].metrics["mean_diff"] == result["difference"]["mean_diff"]

    rec.reload()
    assert served() == new["model_version"] != before_version
    rollback(artifacts)
    assert served() == new["model_version"]  # the running recommender changes only on reload()
    rec.reload()
    assert served() == before_version == listed[1].model_version
    after = rec.recommend(mentee_id=mentee, k=5)
    assert [(r.mentor_id, r.score) for r in after] == [(r.mentor_id, r.score) for r in before]
    rec.close()


def test_the_candidate_learns_nothing_after_now_and_the_first_one_of_a_variant_is_promoted(world, encoder):
    url, artifacts = world
    now = pd.Timestamp("2025-01-01")
    seen = {}

    def spy(data):  # the hook a learner gets: the data as of now, and the split the guard judges on
        seen["requests"] = data.pairs["created_at"].max()
        seen["completions"] = data.dataset.interactions["completed_at"].max()
        seen["as_of"] = data.as_of
        return fit_ranker(data)

    control = live_version(artifacts)
    result = retrain(url, artifacts, now=now, seed=SEED, encoder=encoder, variant="fresh", fit_candidate=spy)
    assert seen["requests"] <= now and seen["completions"] <= now and seen["as_of"] == now
    assert result["as_of"] == now.isoformat() and pd.Timestamp(result["test_from"]) <= now
    assert result["promoted"] and result["production"] is None and "no production ranker" in result["reason"]
    variant = artifacts / "variants" / "fresh"
    assert live_version(variant) == result["candidate"]["version"] and live_version(artifacts) == control
    assert history(variant)[-1]["numbers"]["as_of"] == now.isoformat()

    engine = get_engine(url)
    everything = load_dataset(engine)
    engine.dispose()
    then = dataset_as_of(everything, now)
    later = everything.interactions[everything.interactions["created_at"] > now]
    assert len(later) and len(then.interactions) == len(everything.interactions) - len(later)
    ongoing = then.interactions.set_index("interaction_id").loc[
        everything.interactions.query("created_at <= @now and completed_at > @now")["interaction_id"]
    ]
    assert len(ongoing) and set(ongoing["status"]) == {"accepted"} and not ongoing["successful_match"].any()
