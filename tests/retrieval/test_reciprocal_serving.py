"""The served score chosen per variant: the ranker, the reciprocal heads' P(match), or a blend.

One generated world per module (real MiniLM, FAISS, XGBoost, SQLite): the control trained and
published with its heads, and a variant ``recip`` trained and published the same way. The
expected lists are computed apart from the serving code: each arm's candidates, their pair
features, and models loaded again from the published folders, sorted here.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from db import get_engine, load_log
from eval.training_run import format_report, run_training
from index import build_index_from_db
from mentor_match.artifacts import Manifest, publish_folder
from mentor_match.errors import ArtifactError, InvalidParameterError
from ranking.heads import MODEL_KIND, MODEL_VERSION, ReciprocalModel
from ranking.ranker import Ranker
from retrieval import DEFAULT_CANDIDATES, Recommender
from retrieval.experiments import Experiment
from synthetic import generate_world, write_world

K = 8
MENTEES = 40
SMALL = {"random_forest": {"n_estimators": 30}, "xgboost_classifier": {"n_estimators": 30},
         "xgboost_ranker": {"n_estimators": 200}}


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder):
    """(folder, report of the control's training): mm.db and artifacts/ with the control's
    ranker and heads and the variant ``recip``'s (trained with another seed)."""
    folder = tmp_path_factory.mktemp("reciprocal")
    db_url = f"sqlite:///{folder / 'mm.db'}"
    engine = get_engine(db_url)
    write_world(engine, generate_world(n_mentors=120, n_mentees=150, interactions_per_mentee=6, seed=11),
                progress=False)
    engine.dispose()
    artifacts = folder / "artifacts"
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    report = run_training(db_url, artifacts, seed=11, encoder=encoder, progress=False, n_jobs=1, params=SMALL)
    run_training(db_url, artifacts, seed=12, encoder=encoder, progress=False, n_jobs=1, params=SMALL,
                 variant="recip")
    return folder, report


@pytest.fixture()
def db_url(built, tmp_path) -> str:
    """A copy of the built database for this test alone (its log starts empty)."""
    shutil.copy(built[0] / "mm.db", tmp_path / "mm.db")
    return f"sqlite:///{tmp_path / 'mm.db'}"


def _experiment(name: str, variants: list[dict]) -> Experiment:
    return Experiment.from_dict({"name": name, "salt": name, "control": "control", "variants": variants})


def _heads_version(folder) -> str:
    return Manifest.read(folder, MODEL_KIND, MODEL_VERSION, fix="", check_files=False).version


def _expected(rec: Recommender, arm: str, mentee_id: int, scorer) -> tuple[list[int], np.ndarray]:
    """The arm's candidates for the mentee, scored by ``scorer`` on their pair features and
    sorted here (stable, as ties keep the candidates' order): the k best ids and scores."""
    stages = rec.stages
    mentees, pairs = next(stages.candidate_batches([mentee_id], DEFAULT_CANDIDATES, arm=arm))
    features = stages.arm(arm).reranker.features(mentees.prepared, mentees.vectors, pairs[["mentee_id", "mentor_id"]])
    scores = np.asarray(scorer(features, len(pairs)), dtype=np.float64)
    order = np.argsort(-scores, kind="stable")[:K]
    return pairs["mentor_id"].to_numpy()[order].tolist(), scores[order]


def _ids(shown) -> list[int]:
    return [r.mentor_id for r in shown]


def test_training_publishes_the_heads_whose_match_is_the_product_of_the_two(built, encoder):
    folder, report = built
    artifacts = folder / "artifacts"
    json.dumps(report)  # still json-able
    heads = report["heads"]
    assert heads["path"] == str(artifacts / "heads") and heads["skipped"] is None
    assert os.path.islink(artifacts / "heads")  # published like the ranker: a link swapped in one rename
    for head in ("accept", "success"):
        metrics = heads["metrics"][head]
        assert metrics["n"] == heads["rows"][head]["test"] > 0
        assert 0 < metrics["base_rate"] < 1 and metrics["log_loss"] > 0 and 0 <= metrics["ece"] <= 1
        assert 0 <= metrics["roc_auc"] <= 1
    text = format_report(report)
    assert "RECIPROCAL HEADS (held-out test requests)" in text and f"Heads saved to {artifacts / 'heads'}" in text

    model = ReciprocalModel.load(artifacts / "heads")
    assert model.accept.manifest["encoder"] == encoder.identity
    assert model.accept.manifest["metrics"]["accept"]["n"] == heads["metrics"]["accept"]["n"]
    rec = Recommender.load(artifacts, db_url=f"sqlite:///{folder / 'mm.db'}", encoder=encoder, log=False,
                           refresh_interval=None)
    try:
        pairs = rec.retrieve([int(i) for i in rec.mentee_page(0, 3).frame["mentee_id"]], candidates=30)
        mentees = rec.stages.catalogue.lookup(pd.unique(pairs["mentee_id"]))
        X = rec.stages.reranker.features(mentees.prepared, mentees.vectors, pairs[["mentee_id", "mentor_id"]])
    finally:
        rec.close()
    accept, success, match = model.predict_accept(X), model.predict_success(X), model.predict_match(X)
    np.testing.assert_array_equal(match, accept * success)
    assert ((match > 0) & (match < 1)).all() and not np.allclose(accept, success)
    # The variant's heads went beside its ranker, and say whose they are.
    variant = ReciprocalModel.load(artifacts / "variants" / "recip" / "heads")
    assert variant.success.manifest["variant"] == "recip" and variant.success.manifest["seed"] == 12


def test_each_mentee_is_served_by_its_arm_and_the_reciprocal_arm_ranks_by_p_match(built, db_url, encoder):
    artifacts = built[0] / "artifacts"
    experiment = _experiment("recip-test", [
        {"name": "control", "share": 0.5}, {"name": "recip", "share": 0.5, "score": "reciprocal"},
    ])
    ranker = Ranker.load(artifacts / "ranker")
    recip_ranker = Ranker.load(artifacts / "variants" / "recip" / "ranker")
    heads = ReciprocalModel.load(artifacts / "variants" / "recip" / "heads")
    rec = Recommender.load(artifacts, db_url=db_url, encoder=encoder, experiment=experiment, refresh_interval=None)
    ids = [int(i) for i in rec.mentee_page(0, MENTEES).frame["mentee_id"]]
    served, differs = {}, 0
    try:
        for mentee_id in ids:
            shown = rec.recommend(mentee_id=mentee_id, k=K)
            served[mentee_id] = shown
            arm = experiment.assign(mentee_id)
            assert {r.variant for r in shown} == {arm}
            if arm == "recip":
                expected, scores = _expected(rec, arm, mentee_id, lambda X, _n: heads.predict_match(X))
                np.testing.assert_allclose([r.score for r in shown], scores, rtol=1e-12)
                by_ranker, _ = _expected(rec, arm, mentee_id, lambda X, _n: recip_ranker.predict(X))
                differs += by_ranker != expected
            else:
                expected, scores = _expected(rec, arm, mentee_id, lambda X, _n: ranker.predict(X))
                np.testing.assert_allclose([r.score for r in shown], scores, rtol=1e-6)
            assert _ids(shown) == expected, (mentee_id, arm)
            assert all(r.reasons for r in shown)  # the ranker still words the reasons
        batch = rec.recommend_batch(ids, k=K, progress=False)
    finally:
        rec.close()
    arms = {experiment.assign(i) for i in ids}
    assert arms == {"control", "recip"}
    assert differs > 0  # the heads rank otherwise than the variant's ranker would: the check can fail
    # The batch path scores the same way, arm by arm.
    for mentee_id, rows in batch.groupby("mentee_id"):
        assert rows["mentor_id"].tolist() == _ids(served[mentee_id])
        np.testing.assert_allclose(rows["score"], [r.score for r in served[mentee_id]], rtol=1e-9)

    frames = load_log(get_engine(db_url), experiment="recip-test")
    lists = frames.lists.set_index("list_id")
    slots = frames.slots.sort_values(["list_id", "recommended_rank"])
    recip_version = f"ranker@{recip_ranker.manifest.version}+heads@{_heads_version(artifacts / 'variants' / 'recip' / 'heads')}"
    versions = {"control": ranker.manifest.version, "recip": recip_version}
    for shown in served.values():
        row = lists.loc[shown[0].list_id]
        assert row["model_version"] == versions[row["variant"]]
        logged = slots[slots["list_id"] == shown[0].list_id]
        assert logged["mentor_id"].tolist() == _ids(shown)
        np.testing.assert_allclose(logged["score"], [r.score for r in shown], rtol=1e-6)
    assert set(lists["model_version"]) == set(versions.values())  # the batch's lists too


def test_a_blend_serves_the_rankers_order_at_weight_one_and_the_reciprocal_order_at_zero(built, db_url, encoder):
    artifacts = built[0] / "artifacts"
    shared = {"ranker": "ranker", "heads": "heads"}  # one ranker and one pair of heads for every arm
    experiment = _experiment("blend-test", [
        {"name": "control", "share": 0.25},
        {"name": "b1", "share": 0.25, "score": "blend", "blend_weight": 1, **shared},
        {"name": "b0", "share": 0.25, "score": "blend", "blend_weight": 0.0, **shared},
        {"name": "half", "share": 0.25, "score": "blend", "blend_weight": 0.5, **shared},
    ])
    ranker, heads = Ranker.load(artifacts / "ranker"), ReciprocalModel.load(artifacts / "heads")

    def percentile(scores: np.ndarray) -> np.ndarray:
        return (rankdata(scores, method="average") - 1) / (len(scores) - 1)

    scorers = {
        "control": lambda X, _n: ranker.predict(X),
        "b1": lambda X, _n: ranker.predict(X),
        "b0": lambda X, _n: heads.predict_match(X),
        "half": lambda X, _n: 0.5 * percentile(ranker.predict(X)) + 0.5 * heads.predict_match(X),
    }
    rec = Recommender.load(artifacts, db_url=db_url, encoder=encoder, experiment=experiment, log=False,
                           refresh_interval=None)
    seen = set()
    try:
        for mentee_id in (int(i) for i in rec.mentee_page(0, MENTEES).frame["mentee_id"]):
            shown = rec.recommend(mentee_id=mentee_id, k=K)
            arm = shown[0].variant
            seen.add(arm)
            expected, scores = _expected(rec, arm, mentee_id, scorers[arm])
            assert _ids(shown) == expected, (mentee_id, arm)
            if arm in ("b0", "half"):
                np.testing.assert_allclose([r.score for r in shown], scores, rtol=1e-9)
        version = f"ranker@{ranker.manifest.version}+heads@{_heads_version(artifacts / 'heads')}"
        assert rec.stages.arm("half").model_version == f"{version}+blend@0.5"
        assert rec.stages.arm("b0").model_version == f"{version}+blend@0"
    finally:
        rec.close()
    assert seen == {"control", "b1", "b0", "half"}


def test_reload_picks_up_newly_published_heads(built, db_url, encoder, tmp_path):
    artifacts = tmp_path / "artifacts"
    shutil.copytree(built[0] / "artifacts", artifacts, symlinks=True)
    experiment = _experiment("reload-test", [{"name": "control", "share": 1.0, "score": "reciprocal"}])
    rec = Recommender.load(artifacts, db_url=db_url, encoder=encoder, experiment=experiment, log=False,
                           refresh_interval=None)
    try:
        before = rec.stages.arm().model_version
        assert before.endswith(f"+heads@{_heads_version(artifacts / 'heads')}")
        # A refresh of the mentors keeps every arm's scoring (nothing of it is per mentor).
        stages = rec.stages
        refreshed = stages.with_mentors(stages.catalogue, stages.index, np.empty(0, np.int64))
        assert refreshed.arm().scoring is stages.arm().scoring and refreshed.arm().model_version == before
        model = ReciprocalModel.load(artifacts / "heads")
        publish_folder(artifacts, "heads", lambda folder: model.save(folder, metadata={"note": "republished"}))
        assert rec.stages.arm().model_version == before  # nothing changes until reload
        rec.reload()
        after = rec.stages.arm().model_version
    finally:
        rec.close()
    assert after != before and after.endswith(f"+heads@{_heads_version(artifacts / 'heads')}")


def test_a_reciprocal_variant_without_heads_is_refused_at_load_with_the_fix(built, db_url, encoder, tmp_path):
    artifacts = built[0] / "artifacts"
    experiment = _experiment("missing", [
        {"name": "control", "share": 0.5}, {"name": "nohead", "share": 0.5, "ranker": "ranker", "score": "reciprocal"},
    ])
    with pytest.raises(ArtifactError) as caught:
        Recommender.load(artifacts, db_url=db_url, encoder=encoder, experiment=experiment, log=False)
    message = str(caught.value)
    assert str(artifacts / "variants" / "nohead" / "heads") in message
    assert f"scripts/train.py --artifacts {artifacts} --variant nohead" in message

    # Heads that are there but damaged are refused too, with the command that republishes them.
    copy = tmp_path / "artifacts"
    shutil.copytree(artifacts, copy, symlinks=True)
    calibration = copy / "heads" / "success" / "calibration.json"
    calibration.write_text(calibration.read_text().replace("slope", "slope "))
    damaged = _experiment("damaged", [{"name": "control", "share": 1.0, "score": "reciprocal"}])
    fix = re.escape(f"scripts/train.py --artifacts {copy}.")
    with pytest.raises(ArtifactError, match=rf"cannot load its heads: .*calibration\.json.*{fix}"):
        Recommender.load(copy, db_url=db_url, encoder=encoder, experiment=damaged, log=False)


def test_a_bad_score_in_the_config_file_is_refused_at_load(built, tmp_path):
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps({"name": "bad", "variants": [
        {"name": "control", "share": 0.5}, {"name": "m", "share": 0.5, "score": "blend"},
    ]}))
    with pytest.raises(InvalidParameterError, match=r"variants\[1\] \(m\): score 'blend' needs 'blend_weight'"):
        Recommender.load(built[0] / "artifacts", db_url="sqlite:///unused.db", experiment=path)
