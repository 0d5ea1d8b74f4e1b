"""The ranker trained on Dask (ranking.distributed) against the single-machine one, on a real
LocalCluster of two worker processes and the training tests' generated world.

Tolerance of "the same model": the Dask-trained ranker's held-out NDCG@10 must lie within the
half-width of the 95% bootstrap interval (over test mentees, :func:`eval.stats.bootstrap_ci`) of
the single-machine ranker's NDCG@10: a gap smaller than what resampling the held-out mentees
moves the single model's own score by cannot be told from noise on this data. Both models see
the same split, the same features, the same parameters; the only differences are where the
quantile sketches and the gradient sums are computed (two workers, merged).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from db import Dataset
from eval.metrics import ndcg_per_query
from eval.stats import bootstrap_ci
from ranking.features import FEATURES
from ranking.ranker import Ranker
from ranking.training import build_training_pairs, make_pair_frame, make_ranker, split_pairs

pytest.importorskip("distributed")
pytest.importorskip("xgboost.dask")

from mentor_match.cluster import connect  # noqa: E402
from ranking.distributed import (  # noqa: E402
    QUERY,
    feature_inputs,
    fit_on_dask,
    partition_by_query,
    partition_features,
    request_frame,
)

SEED = 42


@pytest.fixture(scope="module")
def client():
    with connect("local:2") as client:
        yield client


@pytest.fixture(scope="module")
def data(training_world):
    dataset = Dataset(mentors=training_world.mentors, mentees=training_world.mentees,
                      interactions=training_world.interactions)
    pairs = build_training_pairs(dataset)
    split = split_pairs(pairs, "time", SEED)
    X = make_pair_frame(dataset, pairs, None, None, False)  # the single-machine frame, as-of aggregates
    return dataset, pairs, split, X


@pytest.fixture(scope="module")
def trained(client, data):
    """The single-machine ranker and the Dask one, on the same split and parameters."""
    dataset, pairs, split, X = data
    requests = request_frame(dataset, pairs)
    inputs = feature_inputs(dataset, pairs)
    train = partition_features(client, partition_by_query(requests.iloc[split.train], 4, client), inputs)
    valid = partition_features(client, partition_by_query(requests.iloc[split.validation], 2), inputs)
    on_dask = fit_on_dask(client, make_ranker(SEED, n_jobs=1), train, valid)
    rows = {part: getattr(split, part) for part in ("train", "validation")}
    single = make_ranker(SEED, n_jobs=1).fit(
        X.iloc[rows["train"]], pairs["relevance"].iloc[rows["train"]], pairs["mentee_id"].iloc[rows["train"]],
        eval_set=(X.iloc[rows["validation"]], pairs["relevance"].iloc[rows["validation"]],
                  pairs["mentee_id"].iloc[rows["validation"]]),
    )
    return single, on_dask


def _ordered_by_query(frame: pd.DataFrame, mentees: np.ndarray) -> pd.DataFrame:
    """``frame``'s rows in the order the Ranker groups them (first appearance, stable)."""
    codes, _ = pd.factorize(mentees)
    return frame.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)


def test_features_per_partition_equal_the_single_machine_frame(client, data, encoder, tmp_path):
    dataset, pairs, split, X = data
    rows = split.train
    requests = request_frame(dataset, pairs)
    partitions = partition_by_query(requests.iloc[rows], 5, client)  # scattered
    features = partition_features(client, partitions, feature_inputs(dataset, pairs))
    blocks = [features.get_partition(i).compute() for i in range(features.npartitions)]
    assert len(blocks) == 5 and all(len(block) for block in blocks)
    queries = [block[QUERY].to_numpy() for block in blocks]
    for inside in queries:  # sorted by query id within each partition
        assert (np.diff(inside) >= 0).all()
    for a, b in zip(queries, queries[1:], strict=False):  # each group whole in one partition, partitions in order
        assert a.max() < b.min()
    got = pd.concat(blocks)[list(FEATURES)].reset_index(drop=True)
    mentees = pairs["mentee_id"].to_numpy()[rows]
    pd.testing.assert_frame_equal(got, _ordered_by_query(X.iloc[rows], mentees), check_exact=True)

    # With the real encoder the similarity comes from the same cached vectors, bit for bit.
    cache = tmp_path / "cache"
    subset = pairs.iloc[rows[:300]]
    single = make_pair_frame(dataset, subset, encoder, cache, False)
    inputs = feature_inputs(dataset, subset, encoder, cache)
    partitions = partition_by_query(request_frame(dataset, subset), 3)  # without a client: in the graph
    on_dask = partition_features(client, partitions, inputs).compute()
    assert single["bio_goal_similarity"].notna().all()
    pd.testing.assert_frame_equal(on_dask[list(FEATURES)].reset_index(drop=True),
                                  _ordered_by_query(single, subset["mentee_id"].to_numpy()), check_exact=True)


def test_the_dask_ranker_ranks_held_out_mentees_within_noise_of_the_single_one(data, trained):
    _, pairs, split, X = data
    single, on_dask = trained
    test = split.test
    relevance, mentees = pairs["relevance"].to_numpy()[test], pairs["mentee_id"].to_numpy()[test]
    per_single = ndcg_per_query(relevance, single.predict(X.iloc[test]), 10, mentees)
    per_dask = ndcg_per_query(relevance, on_dask.predict(X.iloc[test]), 10, mentees)
    low, high = bootstrap_ci(per_single, n_boot=2000, seed=0)
    tolerance = (high - low) / 2
    gap = abs(per_dask.mean() - per_single.mean())
    assert 0 < tolerance < 0.2 and per_single.mean() > 0.5  # a model worth comparing, an informative interval
    assert gap <= tolerance, f"NDCG@10 single {per_single.mean():.4f}, Dask {per_dask.mean():.4f}, tolerance {tolerance:.4f}"
    assert on_dask.n_groups_ == single.n_groups_
    assert 1 <= on_dask.best_iteration_ < 1000  # early-stopped on the validation mentees, as the single one


def test_the_saved_dask_ranker_loads_with_the_normal_ranker_load_and_scores(data, trained, tmp_path):
    _, _, split, X = data
    single, on_dask = trained
    folder = on_dask.save(tmp_path / "ranker", metadata={"trained_on": {"scheduler": "local:2"}})
    loaded = Ranker.load(folder)
    test = X.iloc[split.test]
    np.testing.assert_array_equal(loaded.predict(test), on_dask.predict(test))
    assert loaded.feature_names_ == list(FEATURES) and loaded.best_iteration_ == on_dask.best_iteration_
    assert loaded.manifest["trained_on"] == {"scheduler": "local:2"}
    assert loaded.feature_importance().sum() > 0  # trees split on named features f0..f23, as a single-machine one
    # One file shape: like a booster trained on a matrix, the saved model names no features.
    single_json = json.loads((single.save(tmp_path / "single") / "model.json").read_text())
    dask_json = json.loads((folder / "model.json").read_text())
    assert dask_json["learner"]["feature_names"] == single_json["learner"]["feature_names"] == []
    assert dask_json["learner"]["objective"]["name"] == "rank:pairwise"


def test_a_lightgbm_ranker_is_refused_with_the_fix(client, data):
    from mentor_match.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="trains XGBoost rankers.*rank:pairwise"):
        fit_on_dask(client, Ranker("lambdarank"), None)
