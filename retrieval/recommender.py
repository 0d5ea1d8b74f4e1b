"""The query API: mentee -> candidates (stage 1) -> reranked top k with reasons (stage 2).

:class:`Recommender` joins a :class:`~retrieval.catalogue.Catalogue`, a retriever and a
reranker (one immutable :class:`~retrieval.stages.Stages` snapshot, swapped on reload).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from embeddings import Encoder
from index import MentorIndex
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int
from ranking.models import Ranker
from ranking.preranker import Preranker
from retrieval.catalogue import Catalogue
from retrieval.profile import Query, validate_profile
from retrieval.results import Recommendation
from retrieval.stages import EncoderSlot, Stages, build_stages, load_stages

DEFAULT_CANDIDATES = 200
"""Candidates per query that the ranker scores."""
_BATCH_COLUMNS = {"mentee_id": np.int64, "rank": np.int64, "mentor_id": np.int64, "score": float, "similarity": float}


class Recommender:
    """Top-k mentors for a mentee, through ANN retrieval and learning-to-rank reranking.

    Build it with :meth:`load` (artifacts folder and database), :meth:`from_components`
    (objects in memory) or from :class:`~retrieval.stages.Stages`. Safe to share between threads.
    """

    def __init__(self, stages: Stages, *, encoder: Encoder | None = None, source: _Source | None = None) -> None:
        self._stages = stages
        self._encoder = EncoderSlot(encoder)
        self._source = source  # where load() read the stages from, for reload()
        self._reload_lock = threading.Lock()

    @classmethod
    def load(
        cls, artifacts: str | Path = "artifacts", db_url: str | None = None, *, strict: bool = False,
        encoder: Encoder | None = None,
    ) -> Recommender:
        """The index and ranker of ``artifacts`` over the database's catalogue, checked to belong
        together; a stale index warns (``strict``: :class:`StaleArtifactError`). ``encoder``
        shares a loaded encoder; otherwise one is loaded on the first ad-hoc query."""
        source, slot = _Source(Path(artifacts), db_url, strict), EncoderSlot(encoder)
        stages = load_stages(source.artifacts, db_url, strict=strict, get_encoder=slot.get)
        return cls(stages, encoder=slot.encoder, source=source)

    @classmethod
    def from_components(
        cls, index: MentorIndex, ranker: Ranker, mentors: pd.DataFrame, mentees: pd.DataFrame,
        interactions: pd.DataFrame | None = None, mentee_vectors: np.ndarray | None = None, *,
        encoder: Encoder | None = None, preranker: Preranker | None = None,
    ) -> Recommender:
        """A recommender over objects in memory. ``mentee_vectors`` (goal embeddings aligned
        with ``mentees``) default to ``encoder``'s (MiniLM); ``preranker`` to the ranker's manifest's."""
        if mentee_vectors is None:
            encoder = Encoder() if encoder is None else encoder
            mentee_vectors = encoder.encode(mentees["goals"].tolist())
        catalogue = Catalogue.from_frames(mentors, mentees, interactions, mentee_vectors, mentor_ids=index.ids)
        return cls(build_stages(index, ranker, catalogue, preranker), encoder=encoder)

    def reload(self) -> None:
        """Pick up a newly published index or ranker and the current database rows; queries in
        flight finish on the old stages."""
        if self._source is None:
            raise InvalidParameterError("reload() needs a Recommender made by Recommender.load(artifacts, db_url).")
        source = self._source
        with self._reload_lock:
            self._stages = load_stages(source.artifacts, source.db_url, strict=source.strict, get_encoder=self._encoder.get)

    @property
    def stages(self) -> Stages:
        """The current catalogue, retriever and reranker (read once, they belong together)."""
        return self._stages

    @property
    def mentor_domains(self) -> Mapping[int, list[str]]:
        """Each mentor's domains by id (for :func:`retrieval.format_recommendations`)."""
        return self._stages.catalogue.mentor_domains

    def mentee(self, mentee_id: int) -> pd.Series:
        """The mentee's row; :class:`UnknownEntityError` if there is none."""
        return self._stages.catalogue.mentee(mentee_id)

    def recommend(
        self, mentee_id: int | None = None, profile: Mapping | None = None, k: int = 10,
        candidates: int | None = None, exclude: Iterable[int] = (), pool: int | None = None,
    ) -> list[Recommendation]:
        """The ``k`` best mentors for a known mentee (``mentee_id``) or an ad-hoc ``profile``.

        Stage 1 reads the ``pool`` nearest eligible mentors (default
        :data:`index.spec.DEFAULT_POOL`; never inactive or full ones, ones the mentee
        contacted, or ``exclude``); the pre-ranker keeps ``candidates`` (default
        :data:`DEFAULT_CANDIDATES`, at least ``k``); stage 2 ranks those. Fewer than ``k``
        come back only when fewer eligible mentors exist.
        """
        stages = self._stages
        k, n, pool = _sizes(k, candidates, pool, "recommend")
        if (mentee_id is None) == (profile is None):
            raise InvalidParameterError(
                "recommend needs exactly one of mentee_id (a mentee in the database) or "
                "profile (a mapping with at least 'goals')."
            )
        blocked = np.fromiter((int(i) for i in exclude), dtype=np.int64)
        if mentee_id is not None:
            query = stages.catalogue.query(mentee_id)
            blocked = np.union1d(blocked, stages.catalogue.contacted_by(query.mentee_id))
        else:
            fields = validate_profile(profile)
            query = Query.from_profile(fields, self._encoder.get().encode([fields["goals"]], progress=False)[0])
        found = stages.retriever.search(query.vector[None, :], n, [blocked], pool=pool)
        return stages.reranker.rerank(query, found, k)

    def recommend_batch(
        self, mentee_ids: Sequence[int], k: int = 10, candidates: int | None = None, *,
        pool: int | None = None, batch_size: int = 512, progress: bool | None = None,
    ) -> pd.DataFrame:
        """Top ``k`` of many known mentees (the nightly job): one search and one ranker call per
        batch. Columns mentee_id, rank, mentor_id, score, similarity, best first per mentee;
        the lists :meth:`recommend` gives one at a time."""
        stages = self._stages
        k, n, pool = _sizes(k, candidates, pool, "recommend_batch")
        frames = []
        for pairs in stages.candidate_batches(mentee_ids, n, pool=pool, batch_size=batch_size, progress=progress):
            pairs["score"] = stages.score_known(pairs)
            pairs = pairs.sort_values(["mentee_id", "score"], ascending=[True, False], kind="stable")
            pairs["rank"] = pairs.groupby("mentee_id", sort=False).cumcount() + 1
            frames.append(pairs[pairs["rank"] <= k])
        if not frames:
            return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in _BATCH_COLUMNS.items()})
        return pd.concat(frames, ignore_index=True)[list(_BATCH_COLUMNS)]

    def retrieve(
        self, mentee_ids: Sequence[int], candidates: int | None = None, *, pool: int | None = None,
        batch_size: int = 512, progress: bool | None = None,
    ) -> pd.DataFrame:
        """Stage 1 alone: the ``candidates`` (default :data:`DEFAULT_CANDIDATES`) of each known
        mentee that the ranker would score, as in :meth:`recommend`. Columns mentee_id,
        mentor_id, similarity, in pre-ranker order within each mentee."""
        _, n, pool = _sizes(1, candidates, pool, "retrieve")
        frames = list(self._stages.candidate_batches(mentee_ids, n, pool=pool, batch_size=batch_size, progress=progress))
        if not frames:
            empty = np.empty(0, np.int64)
            return pd.DataFrame({"mentee_id": empty, "mentor_id": empty, "similarity": np.empty(0)})
        return pd.concat(frames, ignore_index=True)



def _sizes(k: int, candidates: int | None, pool: int | None, where: str) -> tuple[int, int, int | None]:
    """(k, candidates to score, pool), checked; None means the default, never fewer than k."""
    k = check_int("k", k, where)
    candidates = check_int("candidates", candidates, where, allow_none=True)
    pool = check_int("pool", pool, where, allow_none=True)
    return k, max(k, DEFAULT_CANDIDATES if candidates is None else candidates), pool


class _Source(NamedTuple):
    artifacts: Path
    db_url: str | None
    strict: bool
