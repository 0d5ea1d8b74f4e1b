"""MentorIndex search on real FAISS: recall, ids, exclusions inside FAISS, tight filters."""

from __future__ import annotations

import threading

import faiss
import numpy as np
import pytest

from index import AUTO_APPROX_FROM, MentorIndex, resolve_spec
from index import ann as ann_module
from mentor_match.errors import InvalidParameterError, UnknownEntityError


def unit_vectors(n: int, seed: int, dim: int = 384) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def mentor_ids(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * 7 + 1000  # not row numbers


@pytest.fixture(scope="module")
def catalogue():
    return mentor_ids(5000), unit_vectors(5000, seed=1)


@pytest.fixture(scope="module")
def queries():
    return unit_vectors(40, seed=2)


@pytest.fixture(scope="module", params=["Flat", "HNSW32"])
def built(request, catalogue):
    ids, vectors = catalogue
    return MentorIndex.build(ids, vectors, request.param, encoder_identity="test@0")


@pytest.fixture()
def through_faiss(monkeypatch):
    """Send filtered searches of this small catalogue through FAISS selectors, not numpy."""
    monkeypatch.setattr(ann_module, "EXACT_ELIGIBLE_MAX", 100)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(f[f >= 0], t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def exact_filtered(vectors, ids, queries, k, excluded):
    """Brute-force reference: top-k ids among mentors not in ``excluded``."""
    sims = queries @ vectors.T
    sims[:, np.isin(ids, excluded)] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return ids[order]


def test_hnsw_recall_at_100_reaches_0_99_against_flat(catalogue, queries):
    ids, vectors = catalogue
    flat = MentorIndex.build(ids[:3000], vectors[:3000], "Flat", encoder_identity="t")
    hnsw = MentorIndex.build(ids[:3000], vectors[:3000], "HNSW32", encoder_identity="t")
    truth = flat.search(queries, 100).ids
    found = hnsw.search(queries, 100).ids
    np.testing.assert_array_equal(truth, flat.exact_search(queries, 100).ids)
    assert recall(found, truth) >= 0.99


def test_search_returns_mentor_ids_and_cosine_scores(built, catalogue):
    ids, vectors = catalogue
    found, scores, _ = built.search(vectors[[3, 4000]], 5)
    assert found[:, 0].tolist() == [ids[3], ids[4000]]
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert found.dtype == np.int64 and scores.dtype == np.float32
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    np.testing.assert_allclose(built.similarity(vectors[3], found[0]), scores[0], atol=1e-5)


def test_shared_exclusion_is_applied_inside_faiss_and_still_fills_k(
    built, catalogue, queries, through_faiss
):
    ids, vectors = catalogue
    excluded = ids[::3]  # a third of the catalogue: inactive, full, contacted
    found, scores, _ = built.search(queries, 200, exclude=[excluded] * len(queries))
    assert (found >= 0).all() and np.isfinite(scores).all()
    assert not np.isin(found, excluded).any()
    assert recall(found[:, :100], exact_filtered(vectors, ids, queries, 100, excluded)) >= 0.99


def test_tight_filter_15_of_5000_still_returns_k(built, catalogue, queries):
    ids, vectors = catalogue
    eligible = np.random.default_rng(3).choice(ids, 15, replace=False)
    excluded = np.setdiff1d(ids, eligible)
    found = built.search(queries, 10, excluded_rows=built.rows_of(excluded)).ids
    np.testing.assert_array_equal(found, exact_filtered(vectors, ids, queries, 10, excluded))


def test_hnsw_short_results_under_a_restrictive_selector_fall_back_to_exact(
    catalogue, queries, monkeypatch
):
    """Force FAISS HNSW to search with a selector that leaves 15 of 5000 (the -1 trap)."""
    ids, vectors = catalogue
    index = MentorIndex.build(ids, vectors, "HNSW32", encoder_identity="t", params={"efSearch": 16})
    monkeypatch.setattr(ann_module, "EXACT_ELIGIBLE_MAX", 0)
    monkeypatch.setattr(ann_module, "TIGHT_FRACTION", 0.0)
    eligible = np.random.default_rng(4).choice(ids, 15, replace=False)
    excluded = np.setdiff1d(ids, eligible)
    raw = index.faiss_index.search(
        queries, 10, params=faiss.SearchParametersHNSW(
            efSearch=16, sel=faiss.IDSelectorBatch(index.rows_of(eligible))
        )
    )[1]
    assert (raw == -1).any()  # the trap is real for this setting
    found = index.search(queries, 10, exclude=[excluded] * len(queries)).ids
    np.testing.assert_array_equal(found, exact_filtered(vectors, ids, queries, 10, excluded))


def test_k_larger_than_the_eligible_set_is_padded(built, catalogue, queries):
    ids, _ = catalogue
    eligible = ids[:7]
    found, scores, _ = built.search(queries[:3], 10, exclude=[ids[7:]] * 3)
    assert (found[:, :7] >= 0).all() and np.isin(found[:, :7], eligible).all()
    assert (found[:, 7:] == -1).all() and np.isneginf(scores[:, 7:]).all()
    small = MentorIndex.build(ids[:4], catalogue[1][:4], "Flat", encoder_identity="t")
    found = small.search(queries[:2], 6).ids
    assert (found[:, 4:] == -1).all() and (found[:, :4] >= 0).all()


@pytest.mark.parametrize("path", ["numpy", "faiss"])
def test_per_query_exclusions(built, catalogue, queries, path, monkeypatch):
    if path == "faiss":
        monkeypatch.setattr(ann_module, "EXACT_ELIGIBLE_MAX", 100)
    ids, vectors = catalogue
    rng = np.random.default_rng(5)
    common = ids[::4]
    per_query = [np.union1d(common, rng.choice(ids, 300, replace=False)) for _ in queries]
    found = built.search(queries, 50, exclude=per_query).ids
    assert (found >= 0).all()
    for row, excluded in zip(found, per_query, strict=True):
        assert not np.isin(row, excluded).any()
    truth = np.vstack([
        exact_filtered(vectors, ids, q[None], 50, e) for q, e in zip(queries, per_query, strict=True)
    ])
    assert recall(found, truth) >= 0.99


def test_unknown_excluded_ids_are_ignored(built, catalogue, queries):
    ids, _ = catalogue
    plain = built.search(queries[:5], 20).ids
    found = built.search(queries[:5], 20, exclude=[[-5, 1, 2]] * 5).ids  # none are mentor ids
    np.testing.assert_array_equal(found, plain)
    found = built.search(queries[:5], 20, exclude=[{int(plain[0, 0]), 2}] * 5).ids  # a set works too
    assert plain[0, 0] not in found[0] and (found >= 0).all()


def test_search_does_not_touch_the_shared_index_and_is_thread_safe(catalogue, queries):
    ids, vectors = catalogue
    index = MentorIndex.build(ids, vectors, "HNSW32", encoder_identity="t")
    before = faiss.downcast_index(index.faiss_index).hnsw.efSearch
    filters = [ids[i::5] for i in range(5)]
    serial = [index.search(queries, 30, exclude=[f] * len(queries)).ids for f in filters]
    results = [None] * len(filters)

    def run(i):
        results[i] = index.search(queries, 30, exclude=[filters[i]] * len(queries)).ids

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(filters))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, serial, strict=True):
        np.testing.assert_array_equal(got, want)
    assert faiss.downcast_index(index.faiss_index).hnsw.efSearch == before


def test_vectors_for_and_similarity_use_the_stored_vectors(built, catalogue):
    ids, vectors = catalogue
    np.testing.assert_array_equal(built.vectors_for(ids[[9, 2]]), vectors[[9, 2]])
    np.testing.assert_allclose(
        built.similarity(vectors[0], ids[[0, 5]]), vectors[[0, 5]] @ vectors[0], atol=1e-6
    )
    with pytest.raises(UnknownEntityError, match="not in the index"):
        built.vectors_for([ids[0], 3])


def test_bad_arguments_are_refused(built, catalogue, queries):
    ids, vectors = catalogue
    with pytest.raises(InvalidParameterError, match=r"vector\[None, :\]"):
        built.search(vectors[0], 5)
    with pytest.raises(InvalidParameterError, match="'k' parameter"):
        built.search(queries, 0)
    with pytest.raises(InvalidParameterError, match=r"one collection of mentor ids per query \(3\)"):
        built.search(queries[:3], 5, exclude=[[1], [2]])
    with pytest.raises(InvalidParameterError, match="got the scalar 1"):
        built.search(queries[:3], 5, exclude=[1, 2, 3])  # a flat list is not read as 'for all'
    assert built.search(queries[:0], 5).ids.shape == (0, 5)
    with pytest.raises(InvalidParameterError, match="unique"):
        MentorIndex.build([1, 1], vectors[:2], "Flat", encoder_identity="t")
    with pytest.raises(InvalidParameterError, match="index_factory"):
        MentorIndex.build(ids[:10], vectors[:10], "NoSuchIndex", encoder_identity="t")


def test_auto_spec_follows_the_measured_threshold_and_ivf_specs_work(catalogue, queries):
    assert resolve_spec("auto", AUTO_APPROX_FROM - 1) == "Flat"
    assert resolve_spec("auto", AUTO_APPROX_FROM) == "IVF1024,Flat"  # at most n / 39
    assert resolve_spec("auto", 100_000) == "IVF2048,Flat"
    assert resolve_spec("auto", 1_000_000) == "IVF4096,Flat"
    assert resolve_spec("hnsw", 10) == "HNSW32" and resolve_spec("IVF64,Flat", 10) == "IVF64,Flat"
    ids, vectors = catalogue
    ivf = MentorIndex.build(ids[:2000], vectors[:2000], "IVF16,Flat", encoder_identity="t",
                            params={"nprobe": 16})
    assert ivf.manifest["search_params"] == {"nprobe": 16}
    exact = ivf.exact_search(queries, 20).ids
    np.testing.assert_array_equal(ivf.search(queries, 20).ids, exact)  # all lists probed


def test_precomputed_excluded_rows_equal_excluded_ids(built, catalogue, queries):
    """A catalogue-wide filter passed once as rows gives the same results as the ids."""
    ids, _ = catalogue
    rng = np.random.default_rng(5)
    banned = np.sort(rng.choice(len(ids), size=600, replace=False))
    per_query = [ids[rng.choice(len(ids), size=8, replace=False)] for _ in range(len(queries))]
    # Some per-query ids are also banned for everyone: they must not be counted twice.
    per_query[0] = np.concatenate([per_query[0], ids[banned[:5]]])
    by_ids = built.search(queries, 50, exclude=[np.union1d(p, ids[banned]) for p in per_query])
    by_rows = built.search(queries, 50, exclude=per_query, excluded_rows=banned)
    np.testing.assert_array_equal(by_rows.ids, by_ids.ids)
    assert not np.isin(by_rows.ids, ids[banned]).any()
    with pytest.raises(InvalidParameterError, match="rows_of"):
        built.search(queries, 5, excluded_rows=np.array([len(ids)]))


def test_a_prepared_row_filter_equals_its_rows_and_belongs_to_its_index(built, catalogue, queries):
    ids, _ = catalogue
    banned = np.arange(0, len(ids), 7)
    prepared = built.row_filter(banned)
    contacted = ids[[1, 2, 3, 7]]  # 7 is also banned
    m = len(queries)
    np.testing.assert_array_equal(
        built.search(queries, 30, exclude=[contacted] * m, excluded_rows=prepared).ids,
        built.search(queries, 30, exclude=[np.union1d(contacted, ids[banned])] * m).ids,
    )
    other = MentorIndex.build(ids[:100], catalogue[1][:100], "Flat", encoder_identity="t")
    with pytest.raises(InvalidParameterError, match="row_filter"):
        other.search(queries, 5, excluded_rows=prepared)


def test_the_result_names_the_rows_of_its_ids(built, queries):
    result = built.search(queries, 20, exclude=[built.ids[:3]] * len(queries))
    found = result.ids >= 0
    np.testing.assert_array_equal(result.rows[found], built.rows_of(result.ids[found]))
    assert (result.rows[~found] == -1).all()
    exact = built.exact_search(queries, 5)
    np.testing.assert_array_equal(exact.rows, built.rows_of(exact.ids.ravel()).reshape(exact.ids.shape))
