"""LiveIndex: the FAISS index with hidden rows plus a side index, against a NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

from index import MentorIndex
from index.live import LiveIndex, SideIndex
from mentor_match.errors import InvalidParameterError

N, S, DIM = 3000, 40, 32


def unit(rng, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def served():
    """A Flat index of N mentors; S of them moved to the side index with new vectors, and
    S new mentors there too; a tenth of everything ineligible."""
    rng = np.random.default_rng(3)
    ids = 5000 + 3 * rng.permutation(N)
    main = MentorIndex.build(ids, unit(rng, N), "Flat", encoder_identity="t")
    moved = rng.choice(N, S, replace=False)
    side_ids = np.concatenate([ids[moved], 100 + np.arange(S)])
    side_vectors = unit(rng, 2 * S)
    main_ok = rng.random(N) > 0.1
    main_ok[moved] = False
    side_ok = rng.random(2 * S) > 0.1
    side = SideIndex.empty(DIM).with_rows(np.arange(2 * S), side_ids, side_vectors, side_ok)
    return LiveIndex(main, main_ok, side), rng


def reference(live: LiveIndex, queries, k, exclude):
    """Every eligible served row scored exactly, minus each query's excluded ids."""
    ids = live.ids
    vectors = np.vstack([live.main.vectors, live.side.vectors])
    sims = queries @ vectors.T
    sims[:, ~live.eligible] = -np.inf
    for q, blocked in enumerate(exclude):
        sims[q, np.isin(ids, blocked)] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return ids[order], np.take_along_axis(sims, order, axis=1)


def test_search_merges_both_indexes_like_an_exact_search_over_the_served_rows(served):
    live, rng = served
    queries = np.vstack([unit(rng, 10), live.side.vectors[:5], live.main.vectors[:5]])
    exclude = [live.side.ids[i : i + 3] for i in range(len(queries))]
    found = live.search(queries, 25, exclude=exclude)
    want_ids, want_scores = reference(live, queries, 25, exclude)
    np.testing.assert_array_equal(found.ids, want_ids)
    np.testing.assert_allclose(found.scores, want_scores, atol=1e-5)
    # rows are served rows: the vector at each row is the one that scored
    vectors = live.vectors_at(found.rows.ravel()).reshape(*found.rows.shape, DIM)
    np.testing.assert_allclose(np.einsum("qkd,qd->qk", vectors, queries), found.scores, atol=1e-5)


def test_a_moved_mentor_is_found_by_its_new_vector_only(served):
    live, _ = served
    moved = int(np.flatnonzero(live.side.eligible[:S])[0])
    mentor = live.side.ids[moved]
    old_row = int(live.main.rows_of([mentor])[0])
    by_old = live.search(live.main.vectors[old_row][None, :], 5)
    by_new = live.search(live.side.vectors[moved][None, :], 1)
    assert old_row not in by_old.rows[0]  # its FAISS row is hidden: the old vector finds others
    assert by_old.scores[0, 0] < 0.99
    assert by_new.ids[0, 0] == mentor and by_new.rows[0, 0] == len(live.main) + moved


def test_fewer_eligible_than_k_pads_after_the_found():
    main = MentorIndex.build([1, 2], np.eye(3, dtype=np.float32)[:2], "Flat", encoder_identity="t")
    side = SideIndex.empty(3).with_rows([0, 1], [3, 4], np.eye(3, dtype=np.float32)[1:], [True, False])
    found = LiveIndex(main, np.array([True, False]), side).search(np.ones((1, 3), np.float32) / 3**0.5, 4)
    assert sorted(found.ids[0, :2].tolist()) == [1, 3] and found.ids[0, 2:].tolist() == [-1, -1]
    assert np.isneginf(found.scores[0, 2:]).all()


def test_side_rows_are_set_in_place_or_appended_without_gaps():
    side = SideIndex.empty(2).with_rows([0], [7], np.array([[1.0, 0.0]], np.float32), [True])
    replaced = side.with_rows([0, 1], [7, 8], np.eye(2, dtype=np.float32)[::-1], [False, True])
    assert replaced.ids.tolist() == [7, 8] and replaced.eligible.tolist() == [False, True]
    assert side.ids.tolist() == [7] and side.vectors[0].tolist() == [1.0, 0.0]  # the old one is unchanged
    with pytest.raises(InvalidParameterError, match="without gaps"):
        side.with_rows([2], [9], np.ones((1, 2), np.float32), [True])
    with pytest.raises(InvalidParameterError, match="one flag per index row"):
        LiveIndex(MentorIndex.build([1], np.ones((1, 2), np.float32), "Flat", encoder_identity="t"), np.ones(2, bool))
