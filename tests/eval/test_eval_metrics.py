"""eval.metrics against scikit-learn, brute force over tie orders, worked examples, invariants."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    label_ranking_average_precision_score,
    ndcg_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from eval import metrics as M
from mentor_match.errors import InvalidParameterError

TOL = 1e-9


def random_queries(seed: int, n_groups: int = 25, max_size: int = 30, n_levels: int = 5):
    """Graded labels 0-3, small-integer scores (many ties), groups of 1..max_size rows, shuffled."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_size + 1, n_groups)
    groups = np.repeat(np.arange(n_groups) * 7 + 3, sizes)  # ids that are not 0..n-1
    y_true = rng.integers(0, 4, len(groups)) * (rng.random(len(groups)) < 0.6)
    y_score = rng.integers(0, n_levels, len(groups)).astype(float)
    order = rng.permutation(len(groups))
    return y_true[order], y_score[order], groups[order]


def by_query(y_true, y_score, groups):
    for g in np.unique(groups):
        rows = groups == g
        yield g, y_true[rows], y_score[rows]


# --------------------------------------------------------------------------- scikit-learn agreement


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("k", [1, 3, 5, 10, None])
def test_ndcg_agrees_with_sklearn_per_query_ties_included(seed, k):
    y_true, y_score, groups = random_queries(seed)
    per_query = M.ndcg_per_query(y_true, y_score, k, groups)
    for g, t, s in by_query(y_true, y_score, groups):
        if len(t) == 1:  # sklearn refuses one-item lists; our rule: 1 if relevant else 0
            assert per_query[g] == float(t[0] > 0)
            continue
        assert per_query[g] == pytest.approx(ndcg_score([t], [s], k=k), abs=TOL)
    assert M.ndcg_at_k(y_true, y_score, k, groups) == pytest.approx(per_query.mean(), abs=TOL)


@pytest.mark.parametrize("seed", range(8))
def test_ndcg_single_query_matches_sklearn_with_continuous_scores(seed):
    rng = np.random.default_rng(100 + seed)
    y_true = rng.integers(0, 4, 40)
    y_score = rng.normal(size=40)
    for k in (1, 5, 10, 40):
        assert M.ndcg_at_k(y_true, y_score, k) == pytest.approx(
            ndcg_score([y_true], [y_score], k=k), abs=TOL
        )


def test_ndcg_at_ks_matches_one_cutoff_at_a_time():
    y_true, y_score, groups = random_queries(3)
    table = M.ndcg_at_ks_per_query(y_true, y_score, range(1, 21), groups)
    for k in (1, 7, 20):
        pd.testing.assert_series_equal(
            table[k], M.ndcg_per_query(y_true, y_score, k, groups), check_names=False
        )


@pytest.mark.parametrize("seed", range(12))
def test_average_precision_full_list_agrees_with_sklearn(seed):
    y_true, y_score, groups = random_queries(seed)
    per_query = M.average_precision_per_query(y_true, y_score, None, groups)
    for g, t, s in by_query(y_true, y_score, groups):
        relevant = t > 0
        if relevant.any():
            assert per_query[g] == pytest.approx(average_precision_score(relevant, s), abs=TOL)
            # A second reference with the same rank rule: label ranking average precision.
            assert per_query[g] == pytest.approx(
                label_ranking_average_precision_score([relevant], [s]), abs=TOL
            )
        else:
            assert per_query[g] == 0.0


def test_average_precision_threshold_sets_relevance():
    y_true, y_score, groups = random_queries(5)
    per_query = M.average_precision_per_query(y_true, y_score, None, groups, threshold=1)
    for g, t, s in by_query(y_true, y_score, groups):
        if (t > 1).any():
            assert per_query[g] == pytest.approx(average_precision_score(t > 1, s), abs=TOL)


@pytest.mark.parametrize("seed", range(12))
def test_roc_auc_and_per_query_auc_agree_with_sklearn(seed):
    y_true, y_score, groups = random_queries(seed)
    assert M.roc_auc(y_true, y_score) == pytest.approx(roc_auc_score(y_true > 0, y_score), abs=TOL)
    per_query = M.auc_per_query(y_true, y_score, groups)
    expected, sizes = [], []
    for g, t, s in by_query(y_true, y_score, groups):
        if 0 < (t > 0).sum() < len(t):
            assert per_query[g] == pytest.approx(roc_auc_score(t > 0, s), abs=TOL)
            expected.append(roc_auc_score(t > 0, s))
            sizes.append(len(t))
        else:
            assert np.isnan(per_query[g])
    assert M.gauc(y_true, y_score, groups) == pytest.approx(np.mean(expected), abs=TOL)
    assert M.gauc(y_true, y_score, groups, weighted=True) == pytest.approx(
        np.average(expected, weights=sizes), abs=TOL
    )


def test_classification_metrics_agree_with_sklearn():
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 2, 200)
    y_score = np.clip(y_true * 0.3 + rng.random(200) * 0.7, 0, 1)
    y_pred = (y_score > 0.5).astype(int)
    got = M.classification_metrics(y_true, y_pred, y_score)
    assert got == pytest.approx(
        {
            "accuracy": accuracy_score(y_true, y_pred),
            "precision": precision_score(y_true, y_pred),
            "recall": recall_score(y_true, y_pred),
            "f1": f1_score(y_true, y_pred),
            "roc_auc": roc_auc_score(y_true, y_score),
            "average_precision": average_precision_score(y_true, y_score),
            "base_rate": y_true.mean(),
        },
        abs=TOL,
    )
    assert M.classification_metrics(y_true, np.zeros(200), y_score)["precision"] == 0.0


# --------------------------------------------------------------------------- tie rules, brute force


def _orders_consistent_with_scores(y_score):
    """Every way of breaking ties: permutations that keep scores non-increasing."""
    for perm in itertools.permutations(range(len(y_score))):
        if all(y_score[perm[i]] >= y_score[perm[i + 1]] for i in range(len(perm) - 1)):
            yield np.array(perm)


def _plain_metrics(ranked_gain, k):
    """Textbook metrics of one strict order (no ties), written as loops."""
    rel = ranked_gain > 0
    n_rel = rel.sum()
    hits = rel[:k].sum()
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(ranked_gain[:k]))
    ideal = np.sort(ranked_gain)[::-1]
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal[:k]))
    precisions = [rel[: i + 1].sum() / (i + 1) for i in range(min(k, len(rel))) if rel[i]]
    first = np.flatnonzero(rel)
    return {
        "ndcg": dcg / idcg if idcg > 0 else 0.0,
        "precision": hits / k,
        "recall": hits / n_rel if n_rel else 0.0,
        "ap": sum(precisions) / min(k, n_rel) if n_rel else 0.0,
        "rr": 1.0 / (first[0] + 1) if len(first) else 0.0,
    }


@pytest.mark.parametrize("seed", range(15))
def test_ndcg_precision_recall_mrr_are_expectations_over_tie_orders(seed):
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(2, 8))
    y_true = rng.integers(0, 4, n).astype(float)
    y_score = rng.integers(0, 3, n).astype(float)
    for k in (1, 2, 3, 5):
        runs = [
            _plain_metrics(y_true[order], k) for order in _orders_consistent_with_scores(y_score)
        ]
        expected = {
            name: np.mean([run[name] for run in runs])
            for name in ("ndcg", "precision", "recall", "rr")
        }
        assert M.ndcg_at_k(y_true, y_score, k) == pytest.approx(expected["ndcg"], abs=TOL)
        assert M.precision_at_k(y_true, y_score, k) == pytest.approx(expected["precision"], abs=TOL)
        assert M.recall_at_k(y_true, y_score, k) == pytest.approx(expected["recall"], abs=TOL)
        assert M.mrr(y_true, y_score) == pytest.approx(expected["rr"], abs=TOL)


@pytest.mark.parametrize("seed", range(10))
def test_all_metrics_match_textbook_definitions_without_ties(seed):
    rng = np.random.default_rng(300 + seed)
    y_true = rng.integers(0, 4, 30) * (rng.random(30) < 0.5)
    y_score = rng.normal(size=30)
    ranked = y_true[np.argsort(-y_score)]
    for k in (1, 3, 10, 30):
        plain = _plain_metrics(ranked, k)
        assert M.map_at_k(y_true, y_score, k) == pytest.approx(plain["ap"], abs=TOL)
        assert M.precision_at_k(y_true, y_score, k) == pytest.approx(plain["precision"], abs=TOL)
        assert M.recall_at_k(y_true, y_score, k) == pytest.approx(plain["recall"], abs=TOL)
    assert M.mrr(y_true, y_score) == pytest.approx(_plain_metrics(ranked, 30)["rr"], abs=TOL)


# --------------------------------------------------------------------------- hand-worked examples


def test_hand_worked_example_without_ties():
    # Ranked order by score: relevance 0, 1, 0, 1, 1, 0 (three relevant items).
    y_true = np.array([0, 1, 0, 1, 1, 0])
    y_score = np.array([6.0, 5, 4, 3, 2, 1])
    assert M.precision_at_k(y_true, y_score, 1) == 0.0
    assert M.precision_at_k(y_true, y_score, 2) == pytest.approx(1 / 2)
    assert M.precision_at_k(y_true, y_score, 5) == pytest.approx(3 / 5)
    assert M.precision_at_k(y_true, y_score, 10) == pytest.approx(3 / 10)  # divided by k
    assert M.recall_at_k(y_true, y_score, 2) == pytest.approx(1 / 3)
    assert M.recall_at_k(y_true, y_score, 5) == pytest.approx(1.0)
    assert M.mrr(y_true, y_score) == pytest.approx(1 / 2)
    # Precision at each relevant rank: 1/2, 2/4, 3/5.
    assert M.map_at_k(y_true, y_score, None) == pytest.approx((1 / 2 + 2 / 4 + 3 / 5) / 3)
    assert M.map_at_k(y_true, y_score, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert M.map_at_k(y_true, y_score, 2) == pytest.approx((1 / 2) / 2)  # min(k, R) = 2


def test_hand_worked_example_with_ties():
    # Blocks by score: [0] | [1, 0, 0] tied at ranks 2-4 | [1] at rank 5.
    y_true = np.array([0, 1, 0, 0, 1])
    y_score = np.array([3.0, 2, 2, 2, 1])
    # Expected hits in the top 2: one of the three tied items fits, a third of a hit.
    assert M.precision_at_k(y_true, y_score, 2) == pytest.approx((1 / 3) / 2)
    assert M.recall_at_k(y_true, y_score, 2) == pytest.approx((1 / 3) / 2)
    assert M.recall_at_k(y_true, y_score, 4) == pytest.approx(1 / 2)
    # MRR: the relevant item is equally likely at ranks 2, 3 and 4 of the tied block.
    assert M.mrr(y_true, y_score) == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)
    # AP: a tied block enters at its last rank (4), as average_precision_score does.
    assert M.map_at_k(y_true, y_score, None) == pytest.approx((1 / 4 + 2 / 5) / 2)
    assert M.map_at_k(y_true, y_score, None) == pytest.approx(
        average_precision_score(y_true, y_score), abs=TOL
    )
    # AP@2: a third of the block fits above 2, with a third of a hit at precision (1/3)/2.
    assert M.map_at_k(y_true, y_score, 2) == pytest.approx((1 / 3) * (1 / 6) / 2)
    # sklearn's own NDCG tie example: the top-1 slot holds the mean gain of the tied pair.
    assert M.ndcg_at_k([10, 0, 0, 1, 5], [1, 0, 0, 0, 1], 1) == pytest.approx(0.75)


# --------------------------------------------------------------------------- conventions, invariants


def test_query_without_relevant_items_scores_zero_and_counts_in_the_mean():
    y_true = np.array([2, 1, 0, 0, 0, 0])
    y_score = np.array([0.9, 0.8, 0.1, 0.7, 0.5, 0.3])
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    for per_query in (
        M.ndcg_per_query(y_true, y_score, 10, groups),
        M.average_precision_per_query(y_true, y_score, 10, groups),
        M.reciprocal_rank_per_query(y_true, y_score, groups),
        M.precision_per_query(y_true, y_score, 2, groups),
        M.recall_per_query(y_true, y_score, 2, groups),
    ):
        assert per_query["b"] == 0.0
        assert len(per_query) == 2
    assert M.ndcg_at_k(y_true, y_score, 10, groups) == pytest.approx(0.5)
    assert M.mrr(y_true, y_score, groups) == pytest.approx(0.5)
    assert np.isnan(M.auc_per_query(y_true, y_score, groups)["b"])
    # sklearn gives the same 0 for the all-zero query.
    assert ndcg_score([y_true[3:]], [y_score[3:]], k=10) == 0.0


def test_single_item_query_scores_its_relevance():
    per_query = M.ndcg_per_query([3, 0, 1, 0], [0.5, 0.2, 0.9, 0.1], 5, ["x", "y", "z", "z"])
    assert per_query["x"] == 1.0
    assert per_query["y"] == 0.0
    assert per_query["z"] == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_perfect_ranking_scores_one(seed):
    y_true, _, groups = random_queries(seed)
    has_relevant = pd.Series(y_true > 0).groupby(groups).any()
    scores = y_true.astype(float)  # ties only among equal gains: harmless
    for per_query in (
        M.ndcg_per_query(y_true, scores, 5, groups),
        M.ndcg_per_query(y_true, scores, None, groups),
        M.average_precision_per_query(y_true, scores, 10, groups),
        M.reciprocal_rank_per_query(y_true, scores, groups),
    ):
        np.testing.assert_allclose(per_query[has_relevant], 1.0, atol=TOL)
    np.testing.assert_allclose(M.auc_per_query(y_true, scores, groups).dropna(), 1.0)


@pytest.mark.parametrize("seed", range(4))
def test_shift_monotone_transform_and_row_order_change_nothing(seed):
    y_true, y_score, groups = random_queries(seed)
    rng = np.random.default_rng(seed)
    shuffle = rng.permutation(len(y_true))
    variants = [
        (y_true, y_score + 1000.0, groups),
        (y_true, 3.0 * y_score - 7.0, groups),
        (y_true, np.exp(y_score), groups),
        (y_true[shuffle], y_score[shuffle], groups[shuffle]),
    ]
    metrics = [
        lambda t, s, g: M.ndcg_per_query(t, s, 5, g),
        lambda t, s, g: M.average_precision_per_query(t, s, 5, g),
        lambda t, s, g: M.average_precision_per_query(t, s, None, g),
        lambda t, s, g: M.reciprocal_rank_per_query(t, s, g),
        lambda t, s, g: M.precision_per_query(t, s, 3, g),
        lambda t, s, g: M.recall_per_query(t, s, 3, g),
        lambda t, s, g: M.auc_per_query(t, s, g),
    ]
    for metric in metrics:
        base = metric(y_true, y_score, groups)
        for t, s, g in variants:
            pd.testing.assert_series_equal(metric(t, s, g), base, atol=TOL)


def test_per_query_series_is_indexed_by_query_id_and_keeps_its_name():
    groups = pd.Series([10, 10, 20, 20], name="mentee_id")
    per_query = M.ndcg_per_query([1, 0, 0, 1], [0.9, 0.1, 0.8, 0.2], 10, groups)
    assert per_query.index.tolist() == [10, 20]
    assert per_query.index.name == "mentee_id"
    assert per_query.name == "ndcg@10"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: M.ndcg_at_k([1, 0], [0.1, 0.2], 0),
            "'k' parameter of ndcg_per_query must be an int >= 1",
        ),
        (lambda: M.ndcg_at_k([1, 0], [0.1, 0.2], True), "must be an int >= 1"),
        (lambda: M.ndcg_at_k([1, 0], [0.1, np.nan], 3), "1 NaN or infinite"),
        (lambda: M.ndcg_at_k([1, 0, 1], [0.1, 0.2], 3), "same length"),
        (lambda: M.ndcg_at_k([-1, 0], [0.1, 0.2], 3), "non-negative gains"),
        (lambda: M.ndcg_at_k([[1, 0]], [[0.1, 0.2]], 3), "must be 1-D"),
        (lambda: M.ndcg_at_k([], [], 3), "is empty"),
        (lambda: M.mrr([1, 0], [0.1, 0.2], [1]), "one query id per row"),
        (lambda: M.mrr([1, 0], [0.1, 0.2], [1, None]), "missing query ids"),
        (lambda: M.roc_auc([1, 1], [0.1, 0.2]), "undefined with one class"),
        (lambda: M.gauc([1, 0], [0.1, 0.2], ["a", "b"]), "GAUC is undefined"),
        (lambda: M.classification_metrics([0, 2], [0, 1], [0.1, 0.2]), "0/1 labels"),
        (lambda: M.precision_at_k([1, 0], [0.1, 0.2], None), "must be an int >= 1"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call()


def test_5000_interleaved_queries_of_50_rows_match_scikit_learn():
    """The vectorised path on an evaluation-sized input, rows of queries interleaved."""
    rng = np.random.default_rng(0)
    n_queries, rows = 5000, 50
    groups = rng.permutation(np.repeat(np.arange(n_queries), rows))
    y_true = rng.integers(0, 4, len(groups))
    y_score = rng.integers(0, 20, len(groups)).astype(float)
    per_query = M.ndcg_per_query(y_true, y_score, 10, groups)
    assert len(per_query) == n_queries
    assert M.ndcg_at_k(y_true, y_score, 10, groups) == pytest.approx(per_query.mean(), abs=1e-12)
    for q in rng.choice(n_queries, 25, replace=False):
        rows_q = groups == q
        expected = ndcg_score([y_true[rows_q]], [y_score[rows_q]], k=10)
        assert per_query.loc[q] == pytest.approx(expected, abs=1e-9)
