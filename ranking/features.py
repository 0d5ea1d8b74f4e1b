"""Pair features: the one code path that makes model inputs for training, evaluation and serving.

:func:`pair_features` turns (mentee, mentor) pairs into a frame whose columns are exactly
:data:`FEATURES`. Profiles are parsed once per entity (:mod:`ranking.profiles`); a pair is
then only gathers and row-wise array ops, so training and serving share every line.

Definitions (lists compare case-insensitively after stripping; duplicates count once):

* ``domain_overlap``: share of the mentee's desired domains the mentor covers (0 if none wanted).
* ``skill_overlap``: Jaccard of mentor skills and mentee current skills (0 if both empty).
* ``availability_compatibility``: share of the mentee's weekly slots the mentor also has.
* ``bio_goal_similarity``: cosine of the mentor-bio and mentee-goals embeddings; NaN when no
  vectors are passed. XGBoost, LightGBM and the random forest handle NaN natively; the
  logistic-regression baseline imputes it in its pipeline.
* ``style_match`` / ``industry_match``: 1 when equal and known, else 0.
* ``timezone_match``: 1 when the UTC offsets are equal. ``timezone_distance``: circular
  difference of the offsets in hours / 12, in [0, 1]; an unknown timezone gives match 0
  and distance 0.5 (the neutral middle).
* mentor profile: ``mentor_experience_years``, ``mentor_rating`` (a missing rating - new
  mentors - is imputed with :data:`RATING_PRIOR` and flagged in ``mentor_rating_missing``),
  ``mentor_acceptance_rate``, ``mentor_total_mentees``, ``mentor_load`` (current / max
  mentees; 1 when the capacity is 0).
* ``mentee_level``: position in :data:`db.schema.LEVELS` (student 0 ... lead 4).
* ``experience_gap``: mentor years minus the typical years of the mentee's level
  (:data:`db.schema.LEVEL_YEARS`); ``experience_compatibility`` = clip(gap / 5, 0, 1): 0 when
  the mentor is not ahead, 1 from five years ahead.
* counts: distinct domains and skills of the mentor and of the mentee.
* what a mentor decides on of the mentee (beside level, goal-bio similarity and domain
  fit): ``mentee_goals_words`` (words in the goals), ``mentee_availability_hours`` and
  ``mentee_profile_completeness`` (share of the seven profile fields filled in).

The mentor aggregates (rating, acceptance rate, total mentees, load) are the profile's
unless ``mentor_state`` gives them as of each request (:mod:`ranking.history`): training
does, so no feature sees an outcome from after its request.

Missing values take the fixed defaults of :mod:`ranking.profiles` (lists empty, texts and
timezone unknown, numbers 0, level ``"junior"``); rows are never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from mentor_match.errors import DataValidationError, InvalidParameterError
from ranking.profiles import (  # noqa: F401 - re-exported: the profile types' historic home
    DEFAULT_LEVEL,
    RATING_PRIOR,
    MultiHot,
    PreparedProfiles,
    prepare_mentees,
    prepare_mentors,
)

FEATURES: tuple[str, ...] = (
    "domain_overlap",
    "skill_overlap",
    "availability_compatibility",
    "bio_goal_similarity",
    "style_match",
    "timezone_match",
    "timezone_distance",
    "industry_match",
    "mentor_experience_years",
    "mentor_rating",
    "mentor_rating_missing",
    "mentor_acceptance_rate",
    "mentor_total_mentees",
    "mentor_load",
    "mentee_level",
    "experience_gap",
    "experience_compatibility",
    "mentor_num_domains",
    "mentor_num_skills",
    "mentee_num_domains",
    "mentee_num_skills",
    "mentee_goals_words",
    "mentee_availability_hours",
    "mentee_profile_completeness",
)
FEATURE_VERSION = "2"
"""Bump whenever a feature is added, removed, reordered or its definition changes."""

FULL_GAP_YEARS = 5.0
"""Experience lead (years) at which ``experience_compatibility`` reaches 1."""

RELEVANCE: Mapping[str, int] = {"declined": 0, "accepted": 1, "completed": 2, "successful_match": 3}
"""Graded relevance of an interaction's outcome; ``pending`` has none (not yet an outcome)."""

_CHUNK = 16384  # pairs per block when gathering embeddings (bounds memory on big training sets)


def pair_features(
    mentees: pd.DataFrame | PreparedProfiles,
    mentors: pd.DataFrame | PreparedProfiles,
    pairs: pd.DataFrame,
    *,
    mentee_vectors: np.ndarray | None = None,
    mentor_vectors: np.ndarray | None = None,
    vectors_per: str | tuple[str, str] = "auto",
    mentor_state: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features of each (mentee_id, mentor_id) row of ``pairs``: columns :data:`FEATURES`.

    ``mentor_state`` (one row per pair, columns :data:`ranking.history.AGGREGATES`) gives
    each pair's mentor aggregates as of its request (:func:`ranking.history.mentor_state_at`)
    in place of the profile's: training passes it, so no feature sees a later outcome.

    ``mentees``/``mentors`` are frames or :class:`PreparedProfiles` (prepare once when
    scoring many times). ``mentee_vectors``/``mentor_vectors`` are unit vectors with one
    row per profile (aligned with ``mentees``/``mentors``, ``vectors_per="profile"``) or
    one row per pair (``"pair"``); ``"auto"`` tells them apart by length and refuses the
    one ambiguous case (as many profiles as pairs, in another order). A tuple gives the
    mentee side and the mentor side separately, e.g. ``("profile", "pair")`` for one
    mentee's vector and its candidates' vectors. Without vectors ``bio_goal_similarity``
    is NaN. The result is float64 with the index of ``pairs``.

    >>> mentees = pd.DataFrame({"mentee_id": [1, 2], "desired_domains": [["ml"], ["web"]],
    ...                         "timezone": ["UTC+1", None]})
    >>> mentors = pd.DataFrame({"mentor_id": [10, 11], "domains": [["ML", "data"], ["web"]],
    ...                         "timezone": ["UTC+1", "UTC-5"]})
    >>> pairs = pd.DataFrame({"mentee_id": [1, 2], "mentor_id": [10, 10]})
    >>> features = pair_features(mentees, mentors, pairs)
    >>> features[["domain_overlap", "timezone_match", "timezone_distance"]].to_numpy().tolist()
    [[1.0, 1.0, 0.0], [0.0, 0.0, 0.5]]
    """
    sides = (vectors_per, vectors_per) if isinstance(vectors_per, str) else tuple(vectors_per)
    if len(sides) != 2 or any(v not in ("auto", "profile", "pair") for v in sides):
        raise InvalidParameterError(
            "The 'vectors_per' parameter of pair_features must be 'auto', 'profile' or "
            f"'pair', or a (mentee, mentor) tuple of them. Got {vectors_per!r}."
        )
    if not isinstance(pairs, pd.DataFrame) or not {"mentee_id", "mentor_id"} <= set(pairs.columns):
        raise InvalidParameterError(
            "pair_features needs `pairs` as a DataFrame with columns mentee_id and mentor_id."
        )
    mentee_side = mentees if isinstance(mentees, PreparedProfiles) else prepare_mentees(mentees)
    mentor_side = mentors if isinstance(mentors, PreparedProfiles) else prepare_mentors(mentors)
    if mentee_side.kind != "mentee" or mentor_side.kind != "mentor":
        raise InvalidParameterError(
            "pair_features takes mentees first and mentors second; got prepared "
            f"{mentee_side.kind}s and {mentor_side.kind}s."
        )
    mentee_rows = mentee_side.rows(pairs["mentee_id"].to_numpy())
    mentor_rows = mentor_side.rows(pairs["mentor_id"].to_numpy())

    mentee_domains, mentor_domains = mentee_side.lists["domains"], mentor_side.lists["domains"]
    mentee_skills, mentor_skills = mentee_side.lists["skills"], mentor_side.lists["skills"]
    mentee_slots, mentor_slots = mentee_side.lists["availability"], mentor_side.lists["availability"]
    shared_domains = _shared(mentee_domains, mentee_rows, mentor_domains, mentor_rows)
    shared_skills = _shared(mentee_skills, mentee_rows, mentor_skills, mentor_rows)
    shared_slots = _shared(mentee_slots, mentee_rows, mentor_slots, mentor_rows)
    n_mentee_skills = mentee_skills.counts[mentee_rows]
    n_mentor_skills = mentor_skills.counts[mentor_rows]

    mentee_offsets = mentee_side.numbers["tz"][mentee_rows]
    mentor_offsets = mentor_side.numbers["tz"][mentor_rows]
    offset_gap = np.abs(mentee_offsets - mentor_offsets) % 24.0
    offsets_known = ~np.isnan(offset_gap)
    years = mentor_side.numbers["experience_years"][mentor_rows]
    gap = years - mentee_side.numbers["level_years"][mentee_rows]
    capacity = mentor_side.numbers["max_mentees"][mentor_rows]
    aggregates = _aggregates(mentor_side, mentor_rows, mentor_state, len(pairs))
    load = np.divide(aggregates["current_mentees"], capacity, out=np.ones(len(mentor_rows)), where=capacity > 0)
    mentee_style, mentor_style = mentee_side.labels["style"], mentor_side.labels["style"]
    mentee_industry, mentor_industry = mentee_side.labels["industry"], mentor_side.labels["industry"]

    columns = {
        "domain_overlap": _ratio(shared_domains, mentee_domains.counts[mentee_rows]),
        "skill_overlap": _ratio(shared_skills, n_mentee_skills + n_mentor_skills - shared_skills),
        "availability_compatibility": _ratio(shared_slots, mentee_slots.counts[mentee_rows]),
        "bio_goal_similarity": _similarity(
            mentee_vectors, mentor_vectors, mentee_rows, mentor_rows,
            len(mentee_side), len(mentor_side), sides,
        ),
        "style_match": _equal(mentee_style[mentee_rows], mentor_style[mentor_rows]),
        "timezone_match": np.where(offsets_known, offset_gap == 0, False).astype(np.float64),
        "timezone_distance": np.where(
            offsets_known, np.minimum(offset_gap, 24.0 - offset_gap) / 12.0, 0.5
        ),
        "industry_match": _equal(mentee_industry[mentee_rows], mentor_industry[mentor_rows]),
        "mentor_experience_years": years,
        "mentor_rating": aggregates["rating"],
        "mentor_rating_missing": aggregates["rating_missing"],
        "mentor_acceptance_rate": aggregates["acceptance_rate"],
        "mentor_total_mentees": aggregates["total_mentees"],
        "mentor_load": load,
        "mentee_level": mentee_side.numbers["level"][mentee_rows],
        "experience_gap": gap,
        "experience_compatibility": np.clip(gap / FULL_GAP_YEARS, 0.0, 1.0),
        "mentor_num_domains": mentor_domains.counts[mentor_rows],
        "mentor_num_skills": n_mentor_skills,
        "mentee_num_domains": mentee_domains.counts[mentee_rows],
        "mentee_num_skills": n_mentee_skills,
        "mentee_goals_words": mentee_side.numbers["goals_words"][mentee_rows],
        "mentee_availability_hours": mentee_side.numbers["availability_hours"][mentee_rows],
        "mentee_profile_completeness": mentee_side.numbers["completeness"][mentee_rows],
    }
    # One 2-D block filled column by column: cheaper than a frame built from 21 arrays.
    values = np.empty((len(pairs), len(FEATURES)))
    for j, name in enumerate(FEATURES):
        values[:, j] = columns[name]
    return pd.DataFrame(values, index=pairs.index, columns=list(FEATURES), copy=False)


def interaction_labels(interactions: pd.DataFrame) -> pd.DataFrame:
    """One labelled row per (mentee, mentor) from the interactions table.

    ``relevance`` is graded by :data:`RELEVANCE` (``successful_match`` overrides the
    status); ``label`` is ``successful_match`` as 0/1. Pending interactions have no outcome
    yet and are left out; when a pair has several interactions the latest one counts.
    Columns: mentee_id, mentor_id, relevance, label, created_at.

    >>> interactions = pd.DataFrame({"mentee_id": [1, 1, 2], "mentor_id": [10, 11, 10],
    ...                              "status": ["completed", "pending", "declined"],
    ...                              "successful_match": [True, None, False]})
    >>> interaction_labels(interactions)[["mentee_id", "mentor_id", "relevance", "label"]]
       mentee_id  mentor_id  relevance  label
    0          1         10          3      1
    1          2         10          0      0
    """
    needed = {"mentee_id", "mentor_id", "status", "successful_match"}
    missing = needed - set(interactions.columns)
    if missing:
        raise DataValidationError(
            f"interactions lack column(s) {sorted(missing)}; load them with db.load_interactions."
        )
    status = interactions["status"].astype(object)
    unknown = set(status.dropna().unique()) - set(RELEVANCE) - {"pending"}
    if unknown:
        raise DataValidationError(
            f"Unknown interaction status value(s) {sorted(map(str, unknown))[:5]}; use one of "
            "pending, declined, accepted, completed."
        )
    done = interactions[status.ne("pending") & status.notna()]
    if "created_at" in done.columns:
        done = done.sort_values("created_at", kind="stable")
    done = done.drop_duplicates(["mentee_id", "mentor_id"], keep="last")
    success = done["successful_match"].fillna(False).astype(bool).to_numpy()
    graded = done["status"].map(RELEVANCE).to_numpy(np.int64)
    out = pd.DataFrame({
        "mentee_id": done["mentee_id"].to_numpy(np.int64),
        "mentor_id": done["mentor_id"].to_numpy(np.int64),
        "relevance": np.where(success, RELEVANCE["successful_match"], graded),
        "label": success.astype(np.int64),
        "created_at": done["created_at"].to_numpy() if "created_at" in done.columns else pd.NaT,
    })
    return out.sort_values(["mentee_id", "mentor_id"], kind="stable").reset_index(drop=True)


def _aggregates(
    mentors: PreparedProfiles, rows: np.ndarray, state: pd.DataFrame | None, n_pairs: int
) -> dict[str, np.ndarray]:
    """The mentor aggregates per pair: the profile's, or ``state``'s (as of each request),
    with a missing rating imputed and flagged the same way (:func:`prepare_mentors`)."""
    if state is None:
        return {name: mentors.numbers[name][rows] for name in
                ("rating", "rating_missing", "acceptance_rate", "total_mentees", "current_mentees")}
    missing = {"acceptance_rate", "total_mentees", "rating", "current_mentees"} - set(state.columns)
    if len(state) != n_pairs or missing:
        raise InvalidParameterError(
            f"mentor_state must have one row per pair ({n_pairs}) and the columns "
            "acceptance_rate, total_mentees, rating, current_mentees (ranking.history."
            f"mentor_state_at); got {len(state)} rows{f', missing {sorted(missing)}' if missing else ''}."
        )
    rating = state["rating"].to_numpy(np.float64)
    return {
        "rating": np.where(np.isnan(rating), RATING_PRIOR, rating),
        "rating_missing": np.isnan(rating).astype(np.float64),
        "acceptance_rate": state["acceptance_rate"].to_numpy(np.float64),
        "total_mentees": state["total_mentees"].to_numpy(np.float64),
        "current_mentees": state["current_mentees"].to_numpy(np.float64),
    }


def _shared(left: MultiHot, left_rows: np.ndarray, right: MultiHot, right_rows: np.ndarray) -> np.ndarray:
    """Number of tokens the two sides of each pair have in common."""
    _, left_columns, right_columns = np.intersect1d(
        left.vocab, right.vocab, assume_unique=True, return_indices=True
    )
    # Only tokens the left-side rows in the pairs hold can be shared: for one query mentee
    # that is a handful of columns instead of the whole vocabulary.
    held = left.matrix[np.unique(left_rows)][:, left_columns].any(axis=0)
    left_columns, right_columns = left_columns[held], right_columns[held]
    if len(left_columns) == 0:
        return np.zeros(len(left_rows))
    both = (left.matrix[left_rows[:, None], left_columns[None, :]]
            & right.matrix[right_rows[:, None], right_columns[None, :]])
    return both.sum(axis=1, dtype=np.float64)


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.divide(part, whole, out=np.zeros(len(part)), where=whole > 0)


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a == b) & (a != "")).astype(np.float64)


def _similarity(
    mentee_vectors: np.ndarray | None,
    mentor_vectors: np.ndarray | None,
    mentee_rows: np.ndarray,
    mentor_rows: np.ndarray,
    n_mentees: int,
    n_mentors: int,
    sides: tuple[str, str],
) -> np.ndarray:
    """Row-wise dot products of the gathered unit vectors; NaN without vectors."""
    n_pairs = len(mentee_rows)
    if mentee_vectors is None or mentor_vectors is None:
        if (mentee_vectors is None) != (mentor_vectors is None):
            raise InvalidParameterError(
                "Pass both mentee_vectors and mentor_vectors, or neither "
                "(then bio_goal_similarity is NaN)."
            )
        return np.full(n_pairs, np.nan)
    mentee_vector_rows = _vector_rows(mentee_vectors, mentee_rows, n_mentees, sides[0], "mentee")
    mentor_vector_rows = _vector_rows(mentor_vectors, mentor_rows, n_mentors, sides[1], "mentor")
    mentee_vectors, mentor_vectors = np.asarray(mentee_vectors), np.asarray(mentor_vectors)
    if mentee_vectors.shape[1] != mentor_vectors.shape[1]:
        raise InvalidParameterError(
            f"mentee_vectors are {mentee_vectors.shape[1]}-d but mentor_vectors "
            f"{mentor_vectors.shape[1]}-d; embed both with the same encoder."
        )
    out = np.empty(n_pairs)
    # One mentee (a query): its vector once, not gathered per pair (same values).
    query_vector = None
    if n_pairs and mentee_vector_rows.min() == mentee_vector_rows.max():
        query_vector = mentee_vectors[mentee_vector_rows[0]]
    for start in range(0, n_pairs, _CHUNK):  # blocks of pairs, not a loop over pairs
        stop = start + _CHUNK
        mentor_block = mentor_vectors[mentor_vector_rows[start:stop]]
        if query_vector is not None:
            out[start:stop] = np.einsum("ij,j->i", mentor_block, query_vector, dtype=np.float64)
        else:
            out[start:stop] = np.einsum(
                "ij,ij->i", mentee_vectors[mentee_vector_rows[start:stop]], mentor_block,
                dtype=np.float64,
            )
    return out


def _vector_rows(
    vectors: np.ndarray, rows: np.ndarray, n_profiles: int, vectors_per: str, kind: str
) -> np.ndarray:
    """Which vector row each pair uses: its profile's row, or the pair's own row."""
    vectors = np.asarray(vectors)
    n_pairs = len(rows)
    if vectors.ndim != 2:
        raise InvalidParameterError(f"{kind}_vectors must be a 2-D array; got {vectors.ndim}-D.")
    per_profile, per_pair = len(vectors) == n_profiles, len(vectors) == n_pairs
    if vectors_per == "auto" and per_profile and per_pair:
        if not np.array_equal(rows, np.arange(n_pairs)):
            raise InvalidParameterError(
                f"{kind}_vectors has {n_pairs} rows, as many as the {kind}s and the pairs, "
                f"so it is unclear whether row i is the i-th {kind}'s or the i-th pair's. "
                "Name it with vectors_per ('profile' or 'pair')."
            )
        return rows
    if per_profile and vectors_per in ("auto", "profile"):
        return rows
    if per_pair and vectors_per in ("auto", "pair"):
        return np.arange(n_pairs)
    expected = {"auto": f"one per {kind} ({n_profiles}) or one per pair ({n_pairs})",
                "profile": f"one per {kind} ({n_profiles})", "pair": f"one per pair ({n_pairs})"}
    raise InvalidParameterError(
        f"{kind}_vectors has {len(vectors)} rows; expected {expected[vectors_per]}."
    )
