"""Memory-mapped index folders (``MentorIndex.load(mmap=True)``, as the service's workers load
them): the same results as a normal load, read-only arrays, and a live index over them that
still changes (hidden rows, a side index) without writing to the mapped files."""

from __future__ import annotations

import numpy as np
import pytest

from index import LiveIndex, MentorIndex, SideIndex
from index.ann import MMAP_ENV


def unit_vectors(n: int, seed: int, dim: int = 32) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(params=["Flat", "HNSW32", "IVF8,Flat"])
def folder(request, tmp_path):
    n = 400
    ids = np.arange(n, dtype=np.int64) * 5 + 3
    index = MentorIndex.build(ids, unit_vectors(n, 1), request.param, encoder_identity="toy", content_hashes=ids * 7)
    return index.save(tmp_path / "index")


def test_mapped_and_read_indexes_search_alike(folder):
    read = MentorIndex.load(folder, mmap=False)
    mapped = MentorIndex.load(folder, mmap=True)
    assert not mapped.vectors.flags.writeable and not mapped.ids.flags.writeable
    assert type(mapped.vectors) is np.ndarray  # a view of the map, not an np.memmap
    np.testing.assert_array_equal(read.vectors, mapped.vectors)
    np.testing.assert_array_equal(read.content_hashes, mapped.content_hashes)
    queries = unit_vectors(20, 2)
    exclude = [[read.ids[i]] for i in range(20)]
    hidden = np.arange(0, 400, 3)
    found = [
        [
            index.search(queries, 10),
            index.search(queries, 10, exclude=exclude),
            index.search(queries, 10, excluded_rows=index.row_filter(hidden)),
        ]
        for index in (read, mapped)
    ]
    for a, b in zip(*found, strict=True):
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    np.testing.assert_array_equal(read.exact_search(queries, 5).ids, mapped.exact_search(queries, 5).ids)


def test_a_live_index_over_a_mapped_one_changes_without_writing_the_files(folder):
    mapped = MentorIndex.load(folder, mmap=True)
    before = (folder / "vectors.npy").read_bytes()
    eligible = np.ones(len(mapped), dtype=bool)
    eligible[:50] = False
    side = SideIndex.empty(mapped.dim).with_rows([0], [10_000], unit_vectors(1, 3), [True])
    live = LiveIndex(mapped).with_changes(eligible, side)
    found = live.search(unit_vectors(5, 4), 10)
    assert not np.isin(found.rows, np.arange(50)).any()
    assert len(live.vectors_at(np.array([0, len(mapped)]))) == 2
    assert (folder / "vectors.npy").read_bytes() == before


def test_the_environment_variable_turns_mapping_on(folder, monkeypatch):
    monkeypatch.setenv(MMAP_ENV, "1")
    assert not MentorIndex.load(folder).vectors.flags.writeable
    monkeypatch.setenv(MMAP_ENV, "0")
    assert MentorIndex.load(folder).vectors.flags.writeable
