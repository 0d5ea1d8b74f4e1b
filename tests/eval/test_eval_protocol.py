"""eval.protocol on a small generated world: split, the three views, the written report."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from db import get_engine, load_dataset
from embeddings import EmbeddingCache
from eval.protocol import RECALL_KS, evaluate, headline_tables, pipeline_view, split_by_mentee
from eval.report import MODEL_NAMES, PLOT_FILES, validate_report
from index import MentorIndex, build_index_from_db
from mentor_match.errors import ArtifactError, InvalidParameterError
from ranking.training import TEST_PERIOD, build_training_pairs, make_pair_frame, make_ranker
from retrieval import Recommender
from synthetic import SyntheticWorld, generate_world, write_world

pytestmark = pytest.mark.slow

SEED = 3


@dataclass(frozen=True)
class EvaluatedWorld:
    world: SyntheticWorld
    db_url: str
    artifacts: Path
    report_dir: Path
    report: dict


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, encoder) -> EvaluatedWorld:
    """150 mentors, 300 mentees (8 interactions each) in SQLite, indexed, evaluated once."""
    root = tmp_path_factory.mktemp("eval_protocol")
    db_url = f"sqlite:///{root / 'mm.db'}"
    world = generate_world(150, 300, 8, seed=7)
    engine = get_engine(db_url)
    try:
        write_world(engine, world, progress=False)
    finally:
        engine.dispose()
    artifacts = root / "artifacts"
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    report_dir = root / "report"
    report = evaluate(
        db_url, artifacts, report_dir, seed=SEED, pipeline_mentees=40, n_boot=200,
        progress=False, encoder=encoder,
    )
    return EvaluatedWorld(world, db_url, artifacts, report_dir, report)


@pytest.fixture(scope="module")
def small_recommender(evaluated, encoder) -> Recommender:
    """The world's index with a small ranker fitted on every labelled pair (for pipeline_view)."""
    world = evaluated.world
    pairs = build_training_pairs(world)
    X = make_pair_frame(world, pairs, encoder, evaluated.artifacts / "cache", False)
    ranker = make_ranker(SEED, n_estimators=30).fit(X, pairs["relevance"], pairs["mentee_id"])
    cache = EmbeddingCache(evaluated.artifacts / "cache")  # goals cached by build_index
    vectors = cache.get_or_encode(encoder, world.mentees["goals"].tolist(), progress=False).vectors
    return Recommender.from_components(
        MentorIndex.load(evaluated.artifacts / "index"), ranker, world.mentors, world.mentees,
        world.interactions, vectors,
    )


def test_split_never_puts_a_mentee_on_both_sides(evaluated):
    pairs = build_training_pairs(evaluated.world)
    split = split_by_mentee(pairs, SEED)
    mentee = pairs["mentee_id"].to_numpy()
    parts = [set(mentee[rows]) for rows in (split.train, split.validation, split.test)]
    assert all(parts)
    assert not parts[0] & parts[2] and not parts[1] & parts[2] and not parts[0] & parts[1]
    rows = np.concatenate([split.train, split.validation, split.test])
    assert len(np.unique(rows)) == len(rows) and set(rows) <= set(range(len(pairs)))
    times = pairs["created_at"].to_numpy()  # the default split is by time too: test after train
    assert times[split.train].max() < times[split.test].min()
    # The rows in no part are the ones that would test on the past or share a mentee.
    aside = np.setdiff1d(np.arange(len(pairs)), rows)
    cut = np.sort(times)[int(len(times) * (1 - TEST_PERIOD))]  # as ranking.splits.time_split cuts
    in_test = np.isin(mentee[aside], list(parts[2]))
    in_training = np.isin(mentee[aside], list(parts[0] | parts[1]))
    assert (times[aside][in_test] < cut).all() and (times[aside][in_training] >= cut).all()
    data = evaluated.report["data"]
    assert data["test_mentees"] == len(parts[2])
    assert data["train_mentees"] == len(parts[0])
    assert data["test_pairs"] == len(split.test)
    assert split_by_mentee(pairs, SEED + 1).test.tolist() != split.test.tolist()


def test_report_has_every_key_and_sane_model_metrics(evaluated):
    report = evaluated.report
    validate_report(report)
    assert report["data"]["mentors"] == 150 and report["data"]["mentees"] == 300
    for name in MODEL_NAMES:
        metrics = report["models"][name]
        for key in ("accuracy", "roc_auc", "ndcg@5", "ndcg@10", "map@10", "mrr"):
            assert 0.0 <= metrics[key] <= 1.0, (name, key)
        low, high = metrics["ndcg@10_ci"]
        assert low <= metrics["ndcg@10"] <= high
    # the ranker learns something: better than chance at telling successes apart
    assert report["models"]["xgboost_ranker"]["roc_auc"] > 0.6
    assert {c["b"] for c in report["comparisons"]} == set(MODEL_NAMES) - {"xgboost_ranker"}
    assert all(0.0 <= c["p_value"] <= 1.0 for c in report["comparisons"])


def test_pipeline_oracle_is_one_and_random_is_clearly_lower(evaluated):
    pipeline = evaluated.report["pipeline"]
    assert pipeline["mentees"] == 40
    assert pipeline["ndcg@10_oracle"] == pytest.approx(1.0, abs=1e-12)
    for key in ("ndcg@10", "ndcg@10_exact", "ndcg@10_stage1_only"):
        assert pipeline["ndcg@10_random"] < pipeline[key] - 0.05, key
        assert pipeline[key] < 1.0
    # 150 mentors < 200 candidates: stage 1 hands every eligible mentor to the ranker, so
    # the two-stage lists are exact top 10s; they differ from the exact NDCG only where
    # the small ranker ties scores (the exact NDCG averages over tied orders)
    assert pipeline["ndcg@10"] == pytest.approx(pipeline["ndcg@10_exact"], abs=0.02)
    assert 0.0 < pipeline["coverage"] <= 1.0 and 0.0 <= pipeline["gini"] < 1.0


def test_every_model_is_judged_end_to_end_on_the_truth(evaluated):
    pipeline = evaluated.report["pipeline"]
    summary = pipeline["models_end_to_end"]
    assert set(summary) == set(MODEL_NAMES)
    # The ranker over all eligible pairs is the exact ordering of the view above: same number.
    assert summary["xgboost_ranker"]["ndcg@10"] == pytest.approx(pipeline["ndcg@10_exact"], abs=1e-9)
    for name, row in summary.items():
        low, high = row["ndcg@10_ci"]
        assert low <= row["ndcg@10"] <= high, name
        assert pipeline["ndcg@10_random"] < row["ndcg@10"] < 1.0, name
    lead = {c["b"]: c for c in pipeline["models_end_to_end_comparisons"]}
    assert set(lead) == set(MODEL_NAMES) - {"xgboost_ranker"}
    for name, c in lead.items():
        assert c["mean_diff"] == pytest.approx(summary["xgboost_ranker"]["ndcg@10"] - summary[name]["ndcg@10"])
    # The report pages carry the same numbers, one row per model.
    md = (evaluated.report_dir / "report.md").read_text()
    table = md.split("## Every model end to end")[1].split("\n## ")[0]
    for name, row in summary.items():
        line = next(line for line in table.splitlines() if line.startswith(f"| {name} |"))
        assert f"| {row['ndcg@10']:.3f} |" in line, line


def test_stage1_recall_grows_with_k_and_reaches_one(evaluated):
    recall = evaluated.report["pipeline"]["stage1_recall"]
    assert list(recall) == [str(k) for k in RECALL_KS]
    for reference in ("oracle", "exact"):
        curve = [recall[str(k)][reference] for k in RECALL_KS]
        assert all(0.0 <= v <= 1.0 for v in curve)
        assert curve == sorted(curve)
        assert curve[-1] == pytest.approx(1.0)  # 500 candidates > 150 mentors
    # The ranker's candidates after pre-ranking: here every eligible mentor (< 200).
    chosen = evaluated.report["pipeline"]["stage1_recall_preranked"]
    assert 0 < chosen["candidates"] <= 150
    assert chosen["exact"] == pytest.approx(1.0) and chosen["oracle"] == pytest.approx(1.0)
    assert f"| {chosen['candidates']} pre-ranked |" in (evaluated.report_dir / "report.md").read_text()


def test_report_files_exist_and_html_inlines_every_plot(evaluated):
    out = evaluated.report_dir
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == evaluated.report
    for filename in PLOT_FILES.values():
        assert (out / filename).read_bytes().startswith(b"\x89PNG")
    html = (out / "report.html").read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == len(PLOT_FILES)
    md = (out / "report.md").read_text()
    assert "Stage-1 recall" in md and "xgboost_ranker" in md
    text = headline_tables(evaluated.report)
    assert "oracle" in text and "random_forest" in text


def test_pipeline_view_on_known_answers(evaluated, small_recommender):
    world = evaluated.world
    mentees = world.mentees["mentee_id"].to_numpy()[:12]
    truth = world.with_truth()
    view, curve = pipeline_view(small_recommender, mentees, k=5, seed=1, truth=truth)
    assert view["ndcg@10_oracle"] == pytest.approx(1.0) and view["ndcg@5_oracle"] == pytest.approx(1.0)
    assert view["ndcg@5_random"] < view["ndcg@5_exact"]
    assert curve["k"] == list(RECALL_KS) and set(curve) == {"k", "oracle", "exact"}
    # without ground truth (real data) the gain-based numbers are n/a, the rest is measured
    blind, blind_curve = pipeline_view(small_recommender, mentees, k=5, seed=1, truth=None)
    assert blind["ndcg@10"] is None and blind["ndcg@5_oracle"] is None
    assert set(blind_curve) == {"k", "exact"} and blind_curve["exact"] == curve["exact"]
    assert (blind["coverage"], blind["gini"]) == (view["coverage"], view["gini"])
    report = copy.deepcopy(evaluated.report) | {"pipeline": blind}
    assert "oracle        n/a" in headline_tables(report)


def test_evaluate_refuses_bad_parameters_and_a_missing_index(evaluated, tmp_path, encoder):
    with pytest.raises(InvalidParameterError, match="'k' parameter of evaluate"):
        evaluate(evaluated.db_url, evaluated.artifacts, tmp_path, k=0, encoder=encoder)
    with pytest.raises(ArtifactError, match="build_index.py"):
        evaluate(evaluated.db_url, tmp_path / "nothing", tmp_path / "r", encoder=encoder)
    assert not (tmp_path / "r").exists()
    assert len(load_dataset(get_engine(evaluated.db_url)).mentors) == 150
