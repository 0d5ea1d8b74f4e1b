"""The contract every stage-1 retriever keeps: exact (NumPy, FAISS Flat) and approximate (HNSW, IVF).

Random unit vectors with a known answer: a mentor whose vector is the query must come first.
Mentor ids are neither 0..n-1 nor in row order, so a row number passed off as an id fails.
The catalogue is large enough (and its ineligible share small enough) that the approximate
indexes are searched through FAISS with a filter, not through the exact fallback.
"""

from __future__ import annotations

import numpy as np
import pytest

from index import MentorIndex
from index.live import LiveIndex
from mentor_match.errors import InvalidParameterError
from ranking.preranker import Preranker
from retrieval import Candidates, ExactRetriever, IndexRetriever, Prerank

N, DIM, K = 6000, 32, 10
KINDS = ("numpy", "flat", "flat+prerank", "hnsw32", "ivf")
EXACT = ("numpy", "flat", "flat+prerank")


@pytest.fixture(scope="module")
def catalogue():
    rng = np.random.default_rng(5)
    ids = 10_000 + 7 * rng.permutation(N)  # neither 0..n-1 nor sorted
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    eligible = rng.random(N) > 0.05
    return ids, vectors, eligible


@pytest.fixture(scope="module")
def retrievers(catalogue):
    ids, vectors, eligible = catalogue

    def over(spec, **params):
        return MentorIndex.build(ids, vectors, spec, encoder_identity="random-unit", params=params or None)

    flat = over("Flat")
    # A pre-ranker with no prior orders by similarity alone: it must keep the same contract.
    neutral = Prerank(Preranker(1.0, {}, 1.0, 0), np.zeros(N))
    return {
        "numpy": ExactRetriever(ids, vectors, eligible),
        "flat": IndexRetriever(LiveIndex(flat, eligible)),
        "flat+prerank": IndexRetriever(LiveIndex(flat, eligible), neutral),
        "hnsw32": IndexRetriever(LiveIndex(over("HNSW32"), eligible)),
        "ivf": IndexRetriever(LiveIndex(over("IVF32,Flat", nprobe=16), eligible)),
    }


@pytest.fixture(params=KINDS)
def retriever(request, retrievers):
    return retrievers[request.param]


def _rows(ids: np.ndarray, wanted) -> np.ndarray:
    order = np.argsort(ids)
    return order[np.searchsorted(ids, np.asarray(wanted), sorter=order)]


def test_a_planted_mentor_comes_first(retriever, catalogue):
    ids, vectors, eligible = catalogue
    planted = np.flatnonzero(eligible)[:25]
    found = retriever.search(vectors[planted], K)
    assert isinstance(found, Candidates) and found.mentor_ids.shape == (25, K)
    np.testing.assert_array_equal(found.mentor_ids[:, 0], ids[planted])
    np.testing.assert_allclose(found.similarity[:, 0], 1.0, atol=1e-5)


def test_results_are_mentor_ids_with_their_own_similarity_best_first(retriever, catalogue):
    ids, vectors, _ = catalogue
    queries = np.random.default_rng(1).standard_normal((8, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    found = retriever.search(queries, K)
    assert found.found.all()
    for q in range(len(queries)):
        got, similarity = found.of(q)
        assert len(set(got.tolist())) == K
        # The similarity of an id is that mentor's cosine: a row number would not match.
        np.testing.assert_allclose(similarity, vectors[_rows(ids, got)] @ queries[q], atol=1e-5)
        assert np.all(np.diff(similarity) <= 1e-6)


def test_ineligible_mentors_never_come_back_even_when_planted(retriever, catalogue):
    ids, vectors, eligible = catalogue
    blocked = np.flatnonzero(~eligible)[:20]
    found = retriever.search(vectors[blocked], K)
    assert found.found.all()
    assert not np.isin(found.mentor_ids, ids[~eligible]).any()


def test_exclusions_hold_for_their_own_query_only(retriever, catalogue):
    ids, vectors, eligible = catalogue
    row = np.flatnonzero(eligible)[3]
    query = np.repeat(vectors[row][None, :], 2, axis=0)
    first = retriever.search(query[:1], 60).mentor_ids[0]
    found = retriever.search(query, K, exclude=[first[:50], []])
    assert found.found.all()
    assert not np.isin(found.mentor_ids[0], first[:50]).any()
    assert found.mentor_ids[1, 0] == ids[row]


def test_fewer_eligible_than_k_pads_after_the_found(retriever, catalogue):
    ids, vectors, eligible = catalogue
    keep = ids[eligible][:3]
    others = np.setdiff1d(ids[eligible], keep)
    found = retriever.search(vectors[:2], K, exclude=[others, others[:-1]])
    assert found.counts.tolist() == [3, 4]
    assert set(found.of(0)[0].tolist()) == set(keep.tolist())
    assert (found.mentor_ids[0, 3:] == -1).all() and np.isneginf(found.similarity[0, 3:]).all()
    assert found.found[:, :3].all() and not found.found[0, 3:].any()


@pytest.mark.parametrize("kind", EXACT)
def test_exact_retrievers_agree_with_the_numpy_reference(kind, retrievers):
    queries = np.random.default_rng(2).standard_normal((30, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    reference = retrievers["numpy"].search(queries, K)
    got = retrievers[kind].search(queries, K)
    np.testing.assert_array_equal(got.mentor_ids, reference.mentor_ids)
    np.testing.assert_allclose(got.similarity, reference.similarity, atol=1e-5)


@pytest.mark.parametrize("kind", ["hnsw32", "ivf"])
def test_approximate_retrievers_find_most_of_the_exact_top_k(kind, retrievers):
    queries = np.random.default_rng(3).standard_normal((50, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    reference = retrievers["numpy"].search(queries, K).mentor_ids
    got = retrievers[kind].search(queries, K).mentor_ids
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(got, reference, strict=True)])
    assert recall >= 0.9


def test_a_prior_reorders_the_pool(retrievers, catalogue):
    ids, vectors, eligible = catalogue
    flat = retrievers["flat"].index
    row = np.flatnonzero(eligible)[7]
    nearest = retrievers["flat"].search(vectors[row][None, :], 50).mentor_ids[0]
    favoured = _rows(ids, nearest[40:41])
    prior = np.zeros(N)
    prior[favoured] = 10.0
    prerank = IndexRetriever(flat, Prerank(Preranker(1.0, {}, 1.0, 0), prior))
    assert prerank.search(vectors[row][None, :], 5, pool=50).mentor_ids[0, 0] == nearest[40]
    # pool = k: nothing to choose from, the nearest come back
    np.testing.assert_array_equal(prerank.search(vectors[row][None, :], 5, pool=5).mentor_ids[0], nearest[:5])


@pytest.mark.parametrize(
    ("k", "exclude", "message"),
    [
        (0, None, "'k' parameter of search must be an int >= 1"),
        (K, [10_000], "one collection of mentor ids per query; got the scalar 10000"),
        (K, [[], []], "one collection of mentor ids per query \\(1\\)"),
    ],
)
def test_bad_arguments_are_refused(retriever, catalogue, k, exclude, message):
    _, vectors, _ = catalogue
    with pytest.raises(InvalidParameterError, match=message):
        retriever.search(vectors[:1], k, exclude=exclude)
