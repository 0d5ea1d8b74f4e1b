"""The two-stage query API: mentee -> ANN candidates -> pair features -> ranker -> top k.

This is the only place where the retrieval stage (``index``) and the ranking stage
(``ranking``) meet. Everything a query needs is loaded once into an immutable
:class:`_State`; queries read one reference to it, and :meth:`Recommender.reload` swaps in
a new one, so a query in flight always finishes on a consistent catalogue, index and ranker.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from db import get_engine, load_interactions, load_mentees, load_mentors
from db.schema import LEVELS
from embeddings import EmbeddingCache, Encoder
from index import MentorIndex, RowFilter, check_staleness
from index.spec import DEFAULT_POOL
from mentor_match.errors import (
    ArtifactError,
    InvalidParameterError,
    StaleArtifactError,
    UnknownEntityError,
)
from ranking.features import FEATURES, pair_features, prepare_mentees, prepare_mentors
from ranking.models import Ranker
from ranking.preranker import Preranker
from retrieval.reasons import MENTOR_FIELDS, explain, relative_contributions

DEFAULT_CANDIDATES = 200
"""Candidates per query that the ranker scores."""
REASONS_REFERENCE = 200
"""Reasons compare a mentor with the best this many candidates of its list (their mean
per-feature contribution), so their cost does not grow with the candidate count."""
PROFILE_FIELDS = (
    "goals",
    "desired_domains",
    "current_skills",
    "current_level",
    "timezone",
    "availability",
    "availability_hours",
    "preferred_style",
    "industry",
)


@dataclass(frozen=True)
class Recommendation:
    """One recommended mentor, as returned by :meth:`Recommender.recommend`."""

    mentor_id: int
    name: str
    rank: int
    score: float
    similarity: float
    features: dict[str, float]
    reasons: list[str]
    contributions: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "mentor_id": self.mentor_id,
            "name": self.name,
            "rank": self.rank,
            "score": self.score,
            "similarity": self.similarity,
            "features": self.features,
            "reasons": self.reasons,
            "contributions": self.contributions,
        }


@dataclass(frozen=True)
class _State:
    index: MentorIndex
    ranker: Ranker
    mentors: pd.DataFrame  # indexed by mentor_id
    mentor_columns: Mapping[str, np.ndarray]  # the fields reasons read, as arrays
    mentees: pd.DataFrame  # indexed by mentee_id
    prepared_mentors: object
    prepared_mentees: object
    mentee_vectors: np.ndarray  # aligned with `mentees`
    ineligible: np.ndarray  # mentor ids in the index that may not be recommended to anyone
    ineligible_rows: RowFilter  # the same as index rows, prepared once for every search
    preranker: Preranker | None  # from the ranker's manifest; None: candidates by similarity
    prior: np.ndarray | None  # the pre-ranker's mentor prior per index row
    contacted: Mapping[int, np.ndarray]  # mentee_id -> mentor ids already contacted


class Recommender:
    """Top-k mentors for a mentee, through ANN retrieval and learning-to-rank reranking.

    Build it with :meth:`load` (from an artifacts folder and the database) or
    :meth:`from_components` (from objects in memory, e.g. in evaluation and benchmarks).
    Instances are safe to share between threads.
    """

    def __init__(self, state: _State | None, *, encoder: Encoder | None = None, source=None):
        self._state = state
        self._encoder = encoder
        self._source = source  # (artifacts, db_url, strict) when loaded from disk
        self._encoder_lock = threading.Lock()
        self._reload_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        artifacts: str | Path = "artifacts",
        db_url: str | None = None,
        *,
        strict: bool = False,
        encoder: Encoder | None = None,
    ) -> Recommender:
        """Load the index, the ranker and the mentor catalogue, and check they belong together.

        A stale index (mentors added, changed or removed since the build) gives a warning,
        or a :class:`StaleArtifactError` with ``strict=True``. ``encoder`` lets a caller
        share an already loaded encoder; otherwise it is loaded on the first ad-hoc query.
        """
        recommender = cls(None, encoder=encoder, source=(Path(artifacts), db_url, strict))
        recommender._state = _load_state(*recommender._source, recommender._get_encoder)
        return recommender

    @classmethod
    def from_components(
        cls,
        index: MentorIndex,
        ranker: Ranker,
        mentors: pd.DataFrame,
        mentees: pd.DataFrame,
        interactions: pd.DataFrame | None = None,
        mentee_vectors: np.ndarray | None = None,
        *,
        encoder: Encoder | None = None,
        preranker: Preranker | None = None,
    ) -> Recommender:
        """A recommender over objects already in memory (no database, no artifacts folder).

        ``mentee_vectors`` are the goal embeddings aligned with ``mentees`` rows; when
        omitted they are encoded with ``encoder`` (default: the shipped MiniLM).
        ``preranker`` defaults to the one in the ranker's manifest (none for a ranker that
        was never published: candidates are then the nearest mentors).
        """
        _check_compatible(index, ranker, where="the given index and ranker")
        if mentee_vectors is None:
            encoder = encoder or Encoder()
            mentee_vectors = encoder.encode(mentees["goals"].tolist())
        if interactions is None:
            interactions = pd.DataFrame({"mentee_id": [], "mentor_id": []}, dtype=np.int64)
        state = _build_state(index, ranker, mentors, mentees, interactions, mentee_vectors, preranker)
        return cls(state, encoder=encoder)

    def reload(self) -> None:
        """Pick up a newly published index or ranker (and the current database rows).

        Queries in flight finish on the old state; new ones see the new state.
        """
        if self._source is None:
            raise InvalidParameterError(
                "reload() needs a Recommender made by Recommender.load(artifacts, db_url)."
            )
        with self._reload_lock:
            self._state = _load_state(*self._source, self._get_encoder)

    # ---------------------------------------------------------------- catalogue
    @property
    def mentee_ids(self) -> np.ndarray:
        return self._state.mentees.index.to_numpy()

    @property
    def mentor_domains(self) -> Mapping[int, list[str]]:
        return self._state.mentors["domains"]

    def mentee(self, mentee_id: int) -> pd.Series:
        """The mentee's row; :class:`UnknownEntityError` if there is none."""
        return self._known_mentee(self._state, mentee_id)[0]

    def mentees_overview(self) -> pd.DataFrame:
        """One line per mentee for browsing: id, name, level, desired domains, goals."""
        m = self._state.mentees
        return pd.DataFrame({
            "mentee_id": m["mentee_id"],
            "name": m["name"],
            "level": m["current_level"],
            "domains": m["desired_domains"].map(", ".join),
            "goals": m["goals"].str.slice(0, 60),
        })

    def _get_encoder(self) -> Encoder:
        with self._encoder_lock:
            if self._encoder is None:
                self._encoder = Encoder()
            return self._encoder

    # ---------------------------------------------------------------- queries
    def recommend(
        self,
        mentee_id: int | None = None,
        profile: Mapping | None = None,
        k: int = 10,
        candidates: int | None = None,
        exclude: Iterable[int] = (),
        pool: int | None = None,
    ) -> list[Recommendation]:
        """The ``k`` best mentors for a known mentee (``mentee_id``) or an ad-hoc ``profile``.

        Stage 1 retrieves the ``pool`` mentors most similar by bio and goals (default
        1,000: :data:`index.spec.DEFAULT_POOL`), never inactive or full mentors, mentors the
        mentee already contacted, or ids in ``exclude``; the pre-ranker
        (:mod:`ranking.preranker`) keeps the best ``candidates`` of them (default 200, at
        least ``k``); stage 2 scores those with the ranker. Fewer than ``k`` come back only
        when fewer eligible mentors exist.
        """
        state = self._state
        k = _check_int("k", k, "recommend")
        n_candidates = max(k, _check_int("candidates", candidates or DEFAULT_CANDIDATES, "recommend"))
        n_pool = self._pool(state, pool, "recommend")
        if (mentee_id is None) == (profile is None):
            raise InvalidParameterError(
                "recommend needs exactly one of mentee_id (a mentee in the database) or "
                "profile (a mapping with at least 'goals')."
            )
        blocked = np.fromiter((int(i) for i in exclude), dtype=np.int64)
        if mentee_id is not None:
            mentee, row = self._known_mentee(state, mentee_id)
            vector = state.mentee_vectors[row]
            prepared = state.prepared_mentees.take([row])
            blocked = np.union1d(blocked, state.contacted.get(int(mentee["mentee_id"]), blocked[:0]))
        else:
            mentee = _validate_profile(profile)
            vector = self._get_encoder().encode([mentee["goals"]], progress=False)[0]
            prepared = prepare_mentees(pd.DataFrame([mentee]))
            mentee = pd.Series(mentee)
        ids, sims = _stage1(state, vector[None, :], blocked, n_candidates, n_pool)
        found = ids[0] >= 0
        ids, sims = ids[0][found], sims[0][found]
        pairs = pd.DataFrame({"mentee_id": np.full(len(ids), prepared.ids[0]), "mentor_id": ids})
        features = self._features(state, prepared, vector[None, :], pairs)
        scores = state.ranker.predict(features)
        best = np.argsort(-scores, kind="stable")[:REASONS_REFERENCE]
        order = best[:k]
        # Saabas contributions: ~1 ms for 200 candidates where exact SHAP takes 15-30 ms, and
        # they only rank features against each other to pick the words of the reasons.
        # Rows in score order, as `order` is: row i of `relative` is best[i].
        relative = relative_contributions(
            state.ranker.contributions(features.iloc[best], approximate=True)
        )
        names = list(features.columns)
        values = features.to_numpy()
        out = []
        at_rows = state.mentors.index.get_indexer(ids[order])
        for rank, (row, at) in enumerate(zip(order, at_rows, strict=True), start=1):
            # A dict of the row's fields: pandas' row lookups cost ~0.1 ms each.
            mentor = {name: column[at] for name, column in state.mentor_columns.items()}
            feature_values = dict(zip(names, values[row].tolist(), strict=True))
            reasons, behind = explain(relative[rank - 1], names, feature_values, mentor, mentee)
            out.append(
                Recommendation(
                    mentor_id=int(ids[row]),
                    name=str(mentor["name"]),
                    rank=rank,
                    score=float(scores[row]),
                    similarity=float(sims[row]),
                    features=feature_values,
                    reasons=reasons,
                    contributions=behind,
                )
            )
        return out

    def recommend_batch(
        self,
        mentee_ids: Sequence[int],
        k: int = 10,
        candidates: int | None = None,
        *,
        pool: int | None = None,
        batch_size: int = 512,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Top ``k`` for many known mentees at once: the nightly batch job.

        Retrieval runs as one FAISS call per batch and the ranker scores all of a batch's
        pairs in one call. Returns a tidy frame with columns mentee_id, rank, mentor_id,
        score, similarity, best first within each mentee: the same lists as
        :meth:`recommend` gives one mentee at a time.
        """
        state = self._state
        k = _check_int("k", k, "recommend_batch")
        n_candidates = max(k, _check_int("candidates", candidates or DEFAULT_CANDIDATES, "recommend_batch"))
        candidates_frame = self.retrieve(
            mentee_ids, n_candidates, pool=pool, batch_size=batch_size, progress=progress
        )
        frames = []
        for start in range(0, len(candidates_frame), batch_size * n_candidates):
            pairs = candidates_frame.iloc[start : start + batch_size * n_candidates].copy()
            pairs["score"] = self.score_pairs(pairs, state=state)
            pairs = pairs.sort_values(["mentee_id", "score"], ascending=[True, False], kind="stable")
            pairs["rank"] = pairs.groupby("mentee_id", sort=False).cumcount() + 1
            frames.append(pairs[pairs["rank"] <= k])
        columns = ["mentee_id", "rank", "mentor_id", "score", "similarity"]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=float if c in ("score", "similarity") else np.int64) for c in columns})
        return pd.concat(frames, ignore_index=True)[columns]

    def retrieve(
        self,
        mentee_ids: Sequence[int],
        n: int = DEFAULT_CANDIDATES,
        *,
        pool: int | None = None,
        batch_size: int = 512,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """Stage 1 alone: the ``n`` candidates of each known mentee that the ranker would score.

        The ``pool`` most similar eligible mentors (default 1,000), of which
        the pre-ranker keeps ``n``, as in :meth:`recommend`; same exclusions. Returns
        columns mentee_id, mentor_id, similarity, in pre-ranker order within each mentee
        (whole mentees never split across rows).
        """
        state = self._state
        n = _check_int("n", n, "retrieve")
        n_pool = self._pool(state, pool, "retrieve")
        mentee_ids = np.asarray(list(mentee_ids), dtype=np.int64)
        rows = state.mentees.index.get_indexer(mentee_ids)
        if (rows < 0).any():
            unknown = mentee_ids[rows < 0][:5].tolist()
            raise UnknownEntityError(
                f"Unknown mentee id(s) {unknown}: not in the mentees table. "
                "Pass ids of existing mentees, or use recommend(profile=...) for new ones."
            )
        show = progress if progress is not None else len(mentee_ids) > 2000
        empty = np.empty(0, np.int64)
        frames = []
        for start in tqdm(range(0, len(mentee_ids), batch_size), disable=not show, desc="retrieve", unit="batch"):
            batch = mentee_ids[start : start + batch_size]
            contacted = [state.contacted.get(int(m), empty) for m in batch]
            ids, sims = _stage1(
                state, state.mentee_vectors[rows[start : start + batch_size]], contacted, n, n_pool
            )
            found = ids >= 0
            frames.append(pd.DataFrame({
                "mentee_id": np.repeat(batch, found.sum(axis=1)),
                "mentor_id": ids[found],
                "similarity": sims[found].astype(np.float64),
            }))
        if not frames:
            return pd.DataFrame({"mentee_id": empty, "mentor_id": empty, "similarity": np.empty(0)})
        return pd.concat(frames, ignore_index=True)

    def eligible_pairs(self, mentee_ids: Sequence[int]) -> pd.DataFrame:
        """Every (mentee_id, mentor_id) the two stages could return: the brute-force candidate set.

        Mentors in the index that are active, not full, and not already contacted by the mentee.
        """
        state = self._state
        mentee_ids = np.asarray(list(mentee_ids), dtype=np.int64)
        eligible = np.setdiff1d(state.index.ids, state.ineligible)
        pairs = pd.DataFrame({
            "mentee_id": np.repeat(mentee_ids, len(eligible)),
            "mentor_id": np.tile(eligible, len(mentee_ids)),
        })
        contacted = [
            (m, c) for m in mentee_ids for c in state.contacted.get(int(m), ())
        ]
        if contacted:
            drop = pd.MultiIndex.from_tuples(contacted)
            keep = ~pd.MultiIndex.from_frame(pairs).isin(drop)
            pairs = pairs[keep].reset_index(drop=True)
        return pairs

    def score_pairs(self, pairs: pd.DataFrame, *, state: _State | None = None) -> np.ndarray:
        """Ranker scores of known (mentee_id, mentor_id) pairs, mentors from the index.

        The features come from :func:`ranking.features.pair_features`, as in training; use
        it to score any set of mentors, e.g. every mentor for an exact (brute-force) ranking.
        """
        state = state or self._state
        return state.ranker.predict(
            self._features(state, state.prepared_mentees, state.mentee_vectors, pairs)
        )

    @staticmethod
    def _features(state: _State, prepared_mentees, mentee_vectors, pairs) -> pd.DataFrame:
        return pair_features(
            prepared_mentees,
            state.prepared_mentors,
            pairs,
            mentee_vectors=mentee_vectors,
            mentor_vectors=state.index.vectors,
            vectors_per="profile",
        )

    @staticmethod
    def _pool(state: _State, value, where: str) -> int:
        if value is None:
            return DEFAULT_POOL
        return _check_int("pool", value, where)

    def _known_mentee(self, state: _State, mentee_id) -> tuple[pd.Series, int]:
        try:
            row = state.mentees.index.get_loc(int(mentee_id))
        except (KeyError, TypeError, ValueError):
            raise UnknownEntityError(
                f"Unknown mentee id {mentee_id!r}: not in the mentees table. Pass the id of "
                "an existing mentee, or use recommend(profile=...) for a new one."
            ) from None
        return state.mentees.iloc[row], row


def _stage1(state: _State, queries: np.ndarray, exclude, n: int, pool: int):
    """(ids, similarities) of the ``n`` candidates per query row: the best ``n`` of the
    ``pool`` nearest eligible mentors by the pre-ranker, or without one the ``n`` nearest;
    -1 pads."""
    pool = n if state.preranker is None else max(pool, n)
    ids, sims, rows = state.index.search(
        queries, pool, exclude=exclude, excluded_rows=state.ineligible_rows, with_rows=True
    )
    if pool == n:
        return ids, sims
    found = rows >= 0
    pre = state.preranker.similarity_weight * np.where(found, sims, 0.0) + state.prior[np.maximum(rows, 0)]
    pre[~found] = -np.inf  # padding last
    keep = np.argsort(-pre, axis=1, kind="stable")[:, :n]
    return np.take_along_axis(ids, keep, axis=1), np.take_along_axis(sims, keep, axis=1)


def _load_state(artifacts: Path, db_url: str | None, strict: bool, get_encoder) -> _State:
    index = MentorIndex.load(artifacts / "index")
    ranker = Ranker.load(artifacts / "ranker")
    _check_compatible(index, ranker, where=f"{artifacts}")
    engine = get_engine(db_url)
    try:
        mentors = load_mentors(engine)
        mentees = load_mentees(engine)
        interactions = load_interactions(engine)
    finally:
        engine.dispose()
    report = check_staleness(index, mentors[mentors["active"]])
    if report.stale:
        if strict:
            raise StaleArtifactError(report.message)
        warnings.warn(report.message, stacklevel=4)
    # Known mentees' goals were embedded into the cache by build_index.py; the encoder is
    # loaded only for goals the cache has not seen.
    cache = EmbeddingCache(artifacts / "cache")
    lazy = _LazyEncoder(index.manifest["encoder"], get_encoder)
    mentee_vectors = cache.get_or_encode(lazy, mentees["goals"].tolist(), progress=False).vectors
    return _build_state(index, ranker, mentors, mentees, interactions, mentee_vectors)


def _check_compatible(index: MentorIndex, ranker: Ranker, where: str) -> None:
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


def _build_state(
    index, ranker, mentors, mentees, interactions, mentee_vectors, preranker=None
) -> _State:
    mentee_vectors = np.asarray(mentee_vectors, dtype=np.float32)
    if len(mentee_vectors) != len(mentees):
        raise InvalidParameterError(
            f"mentee_vectors has {len(mentee_vectors)} rows for {len(mentees)} mentees; "
            "pass one goal embedding per mentee row."
        )
    mentors = mentors.set_index("mentor_id", drop=False)
    mentees = mentees.reset_index(drop=True)
    # Mentor features are prepared in index row order so that index.vectors lines up.
    catalogue = mentors.reindex(index.ids)
    in_db = catalogue["mentor_id"].notna().to_numpy()
    catalogue = catalogue.assign(mentor_id=index.ids)
    ok = (
        in_db
        & catalogue["active"].fillna(False).astype(bool).to_numpy()
        & (catalogue["current_mentees"] < catalogue["max_mentees"]).fillna(False).to_numpy(bool)
    )
    contacted = {
        int(mentee): group.to_numpy(np.int64)
        for mentee, group in interactions.groupby("mentee_id")["mentor_id"]
    }
    prepared = prepare_mentors(catalogue.reset_index(drop=True))
    preranker = preranker or Preranker.from_manifest(ranker.manifest)
    return _State(
        index=index,
        ranker=ranker,
        mentors=mentors,
        mentor_columns={c: mentors[c].to_numpy() for c in MENTOR_FIELDS if c in mentors.columns},
        mentees=mentees.set_index("mentee_id", drop=False),
        prepared_mentors=prepared,
        prepared_mentees=prepare_mentees(mentees),
        mentee_vectors=mentee_vectors,
        ineligible=index.ids[~ok],
        ineligible_rows=index.row_filter(np.flatnonzero(~ok)),
        preranker=preranker,
        prior=None if preranker is None else preranker.mentor_prior(prepared),
        contacted=contacted,
    )


def _validate_profile(profile: Mapping) -> dict:
    if not isinstance(profile, Mapping):
        raise InvalidParameterError(
            f"profile must be a mapping of mentee fields, got {type(profile).__name__}."
        )
    unknown = set(profile) - set(PROFILE_FIELDS) - {"mentee_id", "name"}
    if unknown:
        raise InvalidParameterError(
            f"profile has unknown field(s) {sorted(unknown)}; allowed: {list(PROFILE_FIELDS)}."
        )
    goals = profile.get("goals")
    if not isinstance(goals, str) or not goals.strip():
        raise InvalidParameterError(
            "profile needs 'goals': a non-empty text saying what the mentee wants to learn."
        )
    level = profile.get("current_level", "junior")
    if level not in LEVELS:
        raise InvalidParameterError(
            f"profile 'current_level' must be one of {list(LEVELS)}. Got {level!r}."
        )
    mentee = {
        "mentee_id": int(profile.get("mentee_id", -1)),
        "name": profile.get("name", "ad-hoc mentee"),
        "goals": goals,
        "desired_domains": list(profile.get("desired_domains") or []),
        "current_skills": list(profile.get("current_skills") or []),
        "current_level": level,
        "timezone": profile.get("timezone", "UTC"),
        "availability": list(profile.get("availability") or []),
        "availability_hours": float(profile.get("availability_hours", 0.0)),
        "preferred_style": profile.get("preferred_style", ""),
        "industry": profile.get("industry", ""),
    }
    return mentee


def _check_int(name: str, value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidParameterError(
            f"The {name!r} parameter of {where} must be an int >= 1. Got {value!r}."
        )
    return int(value)


class _LazyEncoder:
    """Stands in for the encoder with the index's identity; gets the Recommender's encoder
    (loading MiniLM if nobody has) only on a cache miss."""

    def __init__(self, identity: str, get_encoder):
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

    def encode(self, texts, *, progress=None):
        return self._load().encode(texts, progress=progress)
