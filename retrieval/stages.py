"""The served stages as one immutable snapshot, and how they are assembled and loaded.

:class:`Stages` holds a catalogue, the retriever and the reranker that belong together.
:class:`retrieval.Recommender` reads one reference to it per query and swaps in a new one on
reload, so a query in flight always finishes on a consistent catalogue, index and ranker.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from embeddings import EmbeddingCache, Encoder
from index import MentorIndex, check_staleness
from mentor_match.errors import ArtifactError, StaleArtifactError
from mentor_match.validation import check_int
from ranking.features import FEATURES
from ranking.models import Ranker
from ranking.preranker import Preranker
from retrieval.catalogue import Catalogue
from retrieval.reranker import Reranker
from retrieval.retriever import IndexRetriever, Prerank

PROGRESS_FROM = 2000
"""Batch jobs over more mentees than this show a progress bar unless told otherwise."""


@dataclass(frozen=True)
class Stages:
    """What one query reads: the catalogue, stage 1 and stage 2, built for each other."""

    catalogue: Catalogue
    retriever: IndexRetriever
    reranker: Reranker

    def candidate_batches(
        self, mentee_ids: Sequence[int], n: int, *, pool: int | None = None, batch_size: int = 512,
        progress: bool | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Stage-1 candidates of known mentees (``n`` each, minus those they contacted), as one
        frame (mentee_id, mentor_id, similarity) per batch of ``batch_size`` whole mentees."""
        batch_size = check_int("batch_size", batch_size, "retrieve")
        catalogue = self.catalogue
        mentee_ids = np.asarray(list(mentee_ids), dtype=np.int64)
        rows = catalogue.mentee_rows(mentee_ids)
        show = progress if progress is not None else len(mentee_ids) > PROGRESS_FROM
        for start in tqdm(range(0, len(mentee_ids), batch_size), disable=not show, desc="retrieve", unit="batch"):
            batch = mentee_ids[start : start + batch_size]
            exclude = [catalogue.contacted_by(mentee) for mentee in batch]
            vectors = catalogue.mentee_vectors[rows[start : start + batch_size]]
            yield self.retriever.search(vectors, n, exclude, pool=pool).to_frame(batch)

    def score_known(self, pairs: pd.DataFrame) -> np.ndarray:
        """The ranker's scores of (mentee_id, mentor_id) pairs of known mentees and served mentors."""
        return self.reranker.score(self.catalogue.prepared_mentees, self.catalogue.mentee_vectors, pairs)


def build_stages(
    index: MentorIndex, ranker: Ranker, catalogue: Catalogue, preranker: Preranker | None = None
) -> Stages:
    """The stages over ``catalogue`` (built for ``index.ids``).

    ``preranker`` defaults to the one in the ranker's manifest (None for a ranker that was
    never published: the candidates are then the nearest mentors).
    """
    check_compatible(index, ranker, where="the given index and ranker")
    if not np.array_equal(catalogue.mentor_ids, index.ids):
        raise ArtifactError(
            "The catalogue serves other mentors than the index holds (or in another order); "
            "build it with Catalogue.from_frames(..., mentor_ids=index.ids)."
        )
    if preranker is None:
        preranker = Preranker.from_manifest(ranker.manifest)
    prerank = None if preranker is None else Prerank.build(preranker, catalogue.prepared_mentors)
    return Stages(
        catalogue=catalogue,
        retriever=IndexRetriever(index, catalogue.eligible, prerank),
        reranker=Reranker.build(ranker, catalogue, index.vectors),
    )


def load_stages(
    artifacts: Path, db_url: str | None, *, strict: bool, get_encoder: Callable[[], Encoder]
) -> Stages:
    """The index and the ranker of ``artifacts`` with the catalogue of the database.

    A stale index (mentors added, changed or removed since the build) gives a warning, or
    :class:`StaleArtifactError` with ``strict``. Known mentees' goals come from the
    embedding cache that scripts/build_index.py filled; ``get_encoder`` is called only for
    goals it has not seen.
    """
    index = MentorIndex.load(artifacts / "index")
    ranker = Ranker.load(artifacts / "ranker")
    check_compatible(index, ranker, where=f"{artifacts}")
    cache = EmbeddingCache(artifacts / "cache")
    lazy = LazyEncoder(index.manifest["encoder"], get_encoder)

    def embed(goals: list[str]) -> np.ndarray:
        return cache.get_or_encode(lazy, goals, progress=False).vectors

    def check_mentors(mentors: pd.DataFrame) -> None:
        report = check_staleness(index, mentors[mentors["active"]])
        if report.stale:
            if strict:
                raise StaleArtifactError(report.message)
            warnings.warn(report.message, stacklevel=5)  # the caller of Recommender.load

    catalogue = Catalogue.load(db_url, mentor_ids=index.ids, embed=embed, check_mentors=check_mentors)
    return build_stages(index, ranker, catalogue)


def check_compatible(index: MentorIndex, ranker: Ranker, where: str) -> None:
    """Refuse a ranker of other features, or one trained with another encoder than the index's."""
    if list(ranker.feature_names_) != list(FEATURES):
        raise ArtifactError(
            f"The ranker in {where} uses features {list(ranker.feature_names_)[:3]}... "
            f"({len(ranker.feature_names_)}), not this version's {len(FEATURES)} features. "
            "Retrain with scripts/train.py."
        )
    trained_with = ranker.manifest.get("encoder")
    if trained_with and trained_with != index.manifest.get("encoder"):
        raise ArtifactError(
            f"In {where} the ranker was trained with encoder {trained_with!r} but the index "
            f"was built with {index.manifest.get('encoder')!r}. Rerun scripts/build_index.py "
            "and scripts/train.py with the same encoder."
        )


class LazyEncoder:
    """Stands in for the encoder with the index's identity; gets the real one (loading MiniLM
    if nobody has) only on a cache miss."""

    def __init__(self, identity: str, get_encoder: Callable[[], Encoder]) -> None:
        self.identity = identity
        self._get_encoder = get_encoder

    def _load(self) -> Encoder:
        encoder = self._get_encoder()
        if encoder.identity != self.identity:
            raise ArtifactError(
                f"The index was built with encoder {self.identity!r} but this Recommender's "
                f"encoder is {encoder.identity!r}. Rebuild with scripts/build_index.py."
            )
        return encoder

    @property
    def dim(self) -> int:
        return self._load().dim

    def encode(self, texts: Sequence[str], *, progress: bool | None = None) -> np.ndarray:
        return self._load().encode(texts, progress=progress)


class EncoderSlot:
    """The encoder of ad-hoc queries, loaded (once, whichever thread asks first) when needed."""

    def __init__(self, encoder: Encoder | None) -> None:
        self.encoder = encoder
        self._lock = threading.Lock()

    def get(self) -> Encoder:
        with self._lock:
            if self.encoder is None:
                self.encoder = Encoder()
            return self.encoder
