"""The served stages as one immutable snapshot: the shared catalogue and index, and the arms.

:class:`Stages` holds what one query reads: the :class:`~retrieval.catalogue.Catalogue`
(mentors by served row, the source of mentees), the :class:`~index.live.LiveIndex` (FAISS
plus the side index, by the same rows) and the *arms*, each an :class:`Arm`: one ranker's
stage 1 (:class:`~retrieval.retriever.IndexRetriever` with that ranker's pre-ranker prior
per served row) and stage 2 (:class:`~retrieval.reranker.Reranker`, scoring by the ranker
or, per the arm's :class:`~retrieval.scoring.Scoring`, by the reciprocal heads or a blend). Today one arm serves,
:data:`CONTROL`; :attr:`Stages.retriever` and :attr:`Stages.reranker` are its.
:class:`retrieval.Recommender` reads one reference to a ``Stages`` per query and swaps in a
new one on refresh or reload, so a query in flight finishes on a consistent snapshot.

The seam for variants (A/B arms): build each arm with :func:`build_arm` over the one
catalogue and index, and put them in ``Stages.arms`` by name. A refresh
(:mod:`retrieval.live`) reads the database and prepares the changed mentors once, builds
the new catalogue and index once, then calls :meth:`Stages.with_mentors`, which gives every
arm its new per-row state cheaply: the pre-ranker prior recomputed for the changed rows only
(:meth:`~retrieval.retriever.Prerank.with_rows`) and the reranker pointed at the new
snapshot (:meth:`~retrieval.reranker.Reranker.over`, nothing per mentor). An arm needs
nothing else per mentor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from embeddings import Encoder
from index import MentorIndex
from index.live import LiveIndex
from mentor_match.errors import ArtifactError, InvalidParameterError
from mentor_match.validation import check_int
from ranking.models import Ranker
from ranking.preranker import Preranker
from retrieval.catalogue import Catalogue
from retrieval.mentees import Mentees
from retrieval.reranker import Reranker
from retrieval.retriever import IndexRetriever, Prerank
from retrieval.scoring import RANKER, Scoring, check_model_compatible

PROGRESS_FROM = 2000
"""Batch jobs over more mentees than this show a progress bar unless told otherwise."""
CONTROL = "control"
"""The name of the arm that serves when no experiment assigns another."""


@dataclass(frozen=True)
class Arm:
    """One ranker over the shared catalogue: its stage 1 (index search + its pre-ranker's
    prior) and its stage 2 (its ranker and reasons)."""

    retriever: IndexRetriever
    reranker: Reranker

    @property
    def ranker(self) -> Ranker:
        return self.reranker.ranker

    @property
    def scoring(self) -> Scoring:
        """How this arm's served score is made (the ranker's by default)."""
        return self.reranker.scoring

    @property
    def model_version(self) -> str:
        """What scores this arm's lists, as the log records it."""
        return self.reranker.model_version


@dataclass(frozen=True)
class Stages:
    """What one query reads: the catalogue, the index and the arms, built for each other."""

    catalogue: Catalogue
    index: LiveIndex
    arms: Mapping[str, Arm]
    control: str = CONTROL

    def __post_init__(self) -> None:
        if self.control not in self.arms:
            raise InvalidParameterError(
                f"Stages needs an arm named {self.control!r} (the control, which serves by default); "
                f"got {sorted(self.arms)}."
            )

    def arm(self, name: str | None = None) -> Arm:
        """The arm called ``name`` (None: the control)."""
        try:
            return self.arms[self.control if name is None else name]
        except KeyError:
            raise InvalidParameterError(f"Unknown arm {name!r}; the stages have {sorted(self.arms)}.") from None

    @property
    def retriever(self) -> IndexRetriever:
        """The control arm's stage 1."""
        return self.arms[self.control].retriever

    @property
    def reranker(self) -> Reranker:
        """The control arm's stage 2."""
        return self.arms[self.control].reranker

    def with_mentors(self, catalogue: Catalogue, index: LiveIndex, changed_rows: np.ndarray) -> Stages:
        """These arms over a refreshed ``catalogue`` and ``index`` (same main index), whose
        served rows ``changed_rows`` were replaced or added: each arm's prior is recomputed
        for those rows only."""
        arms = {}
        for name, arm in self.arms.items():
            prerank = arm.retriever.prerank
            if prerank is not None:
                prerank = prerank.with_rows(len(index), changed_rows, catalogue.prepared_mentors)
            arms[name] = Arm(IndexRetriever(index, prerank), arm.reranker.over(catalogue, index))
        return Stages(catalogue, index, arms, self.control)

    def candidate_batches(
        self, mentee_ids: Sequence[int], n: int, *, pool: int | None = None, batch_size: int = 512,
        progress: bool | None = None, arm: str | None = None,
    ) -> Iterator[tuple[Mentees, pd.DataFrame]]:
        """Stage-1 candidates of known mentees (``n`` each, minus those they contacted), per
        batch of ``batch_size`` whole mentees: the batch's mentees (read now) and one frame
        (mentee_id, mentor_id, similarity)."""
        batch_size = check_int("batch_size", batch_size, "retrieve")
        retriever = self.arm(arm).retriever
        mentee_ids = list(mentee_ids)
        show = progress if progress is not None else len(mentee_ids) > PROGRESS_FROM
        for start in tqdm(range(0, len(mentee_ids), batch_size), disable=not show, desc="retrieve", unit="batch"):
            batch = mentee_ids[start : start + batch_size]
            mentees = self.catalogue.lookup(batch)  # unknown ids raise here
            batch = np.asarray(batch, dtype=np.int64)
            at = mentees.positions(batch)
            exclude = [mentees.contacted[i] for i in at]
            found = retriever.search(mentees.vectors[at], n, exclude, pool=pool)
            yield mentees, found.to_frame(batch)

    def score_known(self, pairs: pd.DataFrame, arm: str | None = None) -> np.ndarray:
        """The arm's served scores (the ranker's by default) of (mentee_id, mentor_id) pairs of
        known mentees (read now) and served mentors."""
        mentees = self.catalogue.lookup(pd.unique(pairs["mentee_id"]))
        return self.arm(arm).reranker.score(mentees.prepared, mentees.vectors, pairs)


def build_arm(
    ranker: Ranker, catalogue: Catalogue, index: LiveIndex, preranker: Preranker | None = None, *,
    scoring: Scoring = RANKER,
) -> Arm:
    """One ranker's arm over ``catalogue`` and ``index`` (one snapshot). ``preranker``
    defaults to the one in the ranker's manifest (None for a ranker that was never published:
    the candidates are then the nearest mentors); ``scoring`` makes the served score (default:
    the ranker's)."""
    check_compatible(index.main, ranker, where="the given index and ranker")
    scoring.check_compatible(index.main, where="the given index and heads")
    if preranker is None:
        preranker = Preranker.from_manifest(ranker.manifest)
    prerank = None if preranker is None else Prerank.build(preranker, catalogue.prepared_mentors)
    return Arm(IndexRetriever(index, prerank), Reranker(ranker, catalogue, index, scoring=scoring))


def build_stages(
    index: LiveIndex, ranker: Ranker, catalogue: Catalogue, preranker: Preranker | None = None, *,
    control: str = CONTROL, variants: Mapping[str, Ranker] | None = None,
    scorings: Mapping[str, Scoring] | None = None,
) -> Stages:
    """The stages over ``catalogue`` and ``index``: ``ranker`` as the arm ``control`` (with
    ``preranker``, default its manifest's) and each of ``variants`` (name -> ranker) as an
    arm of its own; ``scorings`` (arm name -> :class:`~retrieval.scoring.Scoring`) says how
    an arm scores where it is not by its ranker alone.

    The catalogue's served rows must be the index's (``Catalogue.from_frames(mentors,
    index.main.ids, ...)``, then any side rows).
    """
    if len(catalogue) != len(index) or not np.array_equal(catalogue.mentor_ids[: len(index.main)], index.main.ids):
        raise ArtifactError(
            "The catalogue serves other mentors than the index holds (or in another order); "
            "build it with Catalogue.from_frames(mentors, index.ids, mentees)."
        )
    scorings = dict(scorings or {})
    unknown = sorted(set(scorings) - {control, *(variants or {})})
    if unknown:
        raise InvalidParameterError(
            f"build_stages got scorings for {unknown}, which are not arms (the control {control!r} "
            f"and the variants {sorted(variants or {})})."
        )
    arms = {control: build_arm(ranker, catalogue, index, preranker, scoring=scorings.get(control, RANKER))}
    for name, other in (variants or {}).items():
        if name == control:
            raise InvalidParameterError(f"The variant {name!r} is also the control; give it another name.")
        arms[name] = build_arm(other, catalogue, index, scoring=scorings.get(name, RANKER))
    return Stages(catalogue, index, arms, control)


def check_compatible(index: MentorIndex, ranker: Ranker, where: str) -> None:
    """Refuse a ranker of other features, or one trained with another encoder than the index's."""
    check_model_compatible(index, ranker, where)


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
