"""Cohort assignment: one mentor (or ``per_mentee``) for each mentee of a cohort, in one batch.

Many programmes match in cohorts (a university term, a company's mentoring round).
:func:`assign_cohort` proposes the assignment that maximises the expected successful matches
under the mentors' free seats:

1. each mentee's top ``candidates`` mentors from the engine's stage 1 (the control arm's
   retriever: eligible mentors, those the mentee already contacted left out), banned pairs
   dropped, required pairs added where stage 1 did not find them;
2. every pair scored by the reciprocal heads: P(match) = P(accept) x P(success | accepted)
   (:class:`ranking.heads.ReciprocalModel`), on the one feature function's features;
3. the exact optimum of :func:`retrieval.assignment.solve_assignment` over those pairs, with
   each mentor's free seats (``max_mentees - current_mentees`` of an active mentor), required
   pairs pre-assigned, an optional floor on new mentors and an optional cap on any mentor's
   share of the cohort;
4. the reasons of each chosen pair, from the ranker's per-feature contributions relative to the
   mean of the mentee's scored candidates (:mod:`retrieval.reasons`; Saabas contributions, as
   the served lists use), and a report (:data:`REPORT_KEYS`).

Definitions the report and the constraints rely on:

* a **new mentor** has no history: ``total_mentees == 0`` (the catalogue's field; a creation
  date window would need a clock the catalogue does not keep);
* **max_share** ``s``: no mentor takes more than ``floor(s x cohort size)`` of the cohort's
  mentees. The cap is on the cohort's size, not on the mentees assigned, so it is a fixed seat
  cap and exact in the flow network (a share of the assigned count would not be);
* a **blocking pair** under the model's own scores: a mentee ``i`` and a scored candidate
  ``j`` not assigned to ``i`` with ``s_ij`` above what ``i`` got (its lowest assigned score
  when it has all its ``per_mentee``; 0 when it has a place left) and above what ``j`` got
  (the lowest score among its assignees when its seats, after the share cap, are full; 0 when
  it has one left). A maximum-weight assignment is not a stable one; the count says how far;
* the **unconstrained** expected matches: each mentee's best ``per_mentee`` scores among its
  scored pairs, seats ignored: an upper bound of the assignment's.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, exists, select
from tqdm.auto import tqdm

from db.connection import connect
from db.schema import interactions
from db.schema import mentees as mentees_table
from mentor_match.errors import DataValidationError, InvalidParameterError, UnknownEntityError
from mentor_match.validation import check_int, check_number
from ranking.heads import ReciprocalModel
from retrieval.assignment import Pairs, as_pair_frame, solve_assignment
from retrieval.catalogue import Catalogue
from retrieval.reasons import MENTOR_FIELDS, explain

if TYPE_CHECKING:
    from retrieval.recommender import Recommender

logger = logging.getLogger(__name__)

__all__ = ["REPORT_KEYS", "TABLE_COLUMNS", "CohortAssignment", "assign_cohort", "load_gini", "seeking_mentee_ids"]

TABLE_COLUMNS = ("mentee_id", "mentor_id", "expected_match", "required", "reasons")
"""The columns of :attr:`CohortAssignment.table`."""
REPORT_KEYS = (
    "mentees", "per_mentee", "candidates", "pairs_scored", "assigned", "expected_matches",
    "unconstrained_expected_matches", "share_of_unconstrained", "demand", "seats", "demand_exceeds_seats",
    "load_gini", "unmatched", "blocking_pairs", "new_mentors", "max_share", "max_per_mentor", "required",
    "banned_dropped", "loads", "reasons", "seconds",
)
"""The keys of :attr:`CohortAssignment.report` (docs/cohort-assignment.md says what each holds)."""
NEW_MENTOR_RULE = "total_mentees == 0"
"""Which mentors count as new (no history) for ``min_new_mentors``."""
REASONS_SOURCE = "ranker contributions (Saabas) relative to the mean of the mentee's scored candidates"
BATCH = 512
"""Mentees per stage-1 batch and per reasons batch."""
SEPARATOR = "; "
"""Between the reasons of one pair in the table."""
_SHARE_SLACK = 1e-9  # floor(0.3 * 10) must be 3, not 2 from 2.9999999999999996


@dataclass(frozen=True, eq=False)
class CohortAssignment:
    """The proposed assignment: ``table`` (:data:`TABLE_COLUMNS`, one row per chosen pair,
    by mentee and then best first; ``reasons`` joined by ``"; "``) and ``report``
    (:data:`REPORT_KEYS`, JSON-able)."""

    table: pd.DataFrame
    report: dict[str, Any]


def assign_cohort(
    recommender: Recommender,
    mentee_ids: Sequence[int],
    *,
    heads: ReciprocalModel,
    per_mentee: int = 1,
    candidates: int = 50,
    banned: Pairs = (),
    required: Pairs = (),
    min_new_mentors: int = 0,
    max_share: float | None = None,
    reasons: bool = True,
    progress: bool | None = None,
    found: pd.DataFrame | None = None,
) -> CohortAssignment:
    """Assign the cohort ``mentee_ids`` to mentors: the most expected successful matches
    (``heads``' P(match)) among each mentee's top ``candidates``, under the free seats.

    ``per_mentee``: mentors per mentee at most; ``banned`` / ``required``: (mentee_id,
    mentor_id) pairs never / always chosen (a frame with those columns, or tuples; a required
    pair outside the candidates is scored all the same, one without a free seat is refused);
    ``min_new_mentors``: at least this many chosen pairs with a new mentor; ``max_share``: no
    mentor takes more than ``floor(max_share x len(mentee_ids))``; ``reasons``: word each
    chosen pair's reasons (else the column is empty); ``found``: the cohort's stage-1
    candidates computed elsewhere (columns mentee_id, mentor_id, in pre-ranker order per
    mentee, as :meth:`Recommender.retrieve` or :func:`retrieval.distributed.retrieve_distributed`
    give them with the same ``candidates``) instead of searched here. The module docstring
    defines each.

    Unknown or repeated mentee ids, unknown ids in the pairs and bad parameters raise before
    anything is returned; a demand above the free seats is reported, not refused.

    >>> assign_cohort(None, [1, 1], heads=None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: The cohort names mentee 1 more than once ...
    """
    func = "assign_cohort"
    started = time.perf_counter()
    ids = _cohort_ids(mentee_ids)
    per_mentee = check_int("per_mentee", per_mentee, func)
    candidates = check_int("candidates", candidates, func)
    min_new_mentors = check_int("min_new_mentors", min_new_mentors, func, low=0)
    if not isinstance(heads, ReciprocalModel):
        raise InvalidParameterError(
            f"The 'heads' parameter of {func} must be a ranking.heads.ReciprocalModel (load it with "
            f"ReciprocalModel.load(artifacts / 'heads')). Got {type(heads).__name__}."
        )
    max_per_mentor = _share_cap(max_share, len(ids), func)
    stages = recommender.stages
    arm, catalogue = stages.arm(), stages.catalogue
    seats, new_ids = _free_seats(catalogue, need_history=min_new_mentors > 0)
    banned_frame = _checked_pairs(banned, "banned", ids, catalogue, func)
    required_frame = _checked_pairs(required, "required", ids, catalogue, func)
    both = banned_frame.merge(required_frame)
    if len(both):
        raise InvalidParameterError(
            f"{len(both)} pair(s) are both banned and required (first: mentee "
            f"{int(both['mentee_id'].iat[0])}, mentor {int(both['mentor_id'].iat[0])}); drop them from one list."
        )
    banned_keys = pd.MultiIndex.from_frame(banned_frame)
    required_by_mentee = {m: g for m, g in required_frame.groupby("mentee_id")}

    # Stage 1 and the heads' scores, batch by batch; the mentees' mean contributions for the reasons.
    blocks, mean_contributions, dropped = [], {}, 0
    batches = (stages.candidate_batches(ids, candidates, batch_size=BATCH, progress=progress) if found is None
               else _frame_batches(catalogue, ids, found, candidates))
    for mentees, batch in batches:
        pairs = batch[["mentee_id", "mentor_id"]]
        if len(banned_keys):
            hit = pd.MultiIndex.from_frame(pairs).isin(banned_keys)
            dropped += int(hit.sum())
            pairs = pairs[~hit]
        extra = [required_by_mentee[m] for m in mentees.ids.tolist() if m in required_by_mentee]
        if extra:
            pairs = pd.concat([pairs, *extra], ignore_index=True).drop_duplicates(ignore_index=True)
        if pairs.empty:
            continue
        features = arm.reranker.features(mentees.prepared, mentees.vectors, pairs)
        pairs = pairs.assign(score=np.clip(heads.predict_match(features), 0.0, 1.0))
        blocks.append(pairs)
        if reasons:
            contributions = arm.ranker.contributions(features, approximate=True)
            means = pd.DataFrame(contributions).groupby(pairs["mentee_id"].to_numpy()).mean()
            mean_contributions.update(zip(means.index.tolist(), means.to_numpy(), strict=True))
    scored = (pd.concat(blocks, ignore_index=True) if blocks else
              pd.DataFrame({"mentee_id": pd.Series(dtype=np.int64), "mentor_id": pd.Series(dtype=np.int64),
                            "score": pd.Series(dtype=float)}))
    scored_at = time.perf_counter()

    solved = solve_assignment(
        scored, seats, per_mentee=per_mentee, required=required_frame, min_new=min_new_mentors,
        new_mentors=new_ids, max_per_mentor=max_per_mentor,
    )
    solved_at = time.perf_counter()
    table = solved.pairs.rename(columns={"score": "expected_match"})
    worded = _reasons(stages, table, mean_contributions, progress) if reasons else [""] * len(table)
    table = table.assign(reasons=worded)[list(TABLE_COLUMNS)].reset_index(drop=True)
    done = time.perf_counter()
    report = _report(
        ids, scored, solved.pairs, seats, new_ids, per_mentee=per_mentee, candidates=candidates,
        max_share=max_share, max_per_mentor=max_per_mentor, min_new=min_new_mentors,
        required=len(required_frame), dropped=dropped, reasons=reasons,
    )
    report["seconds"] = {"candidates_and_scores": round(scored_at - started, 3),
                         "solve": round(solved_at - scored_at, 3), "reasons": round(done - solved_at, 3)}
    return CohortAssignment(table, report)


def _cohort_ids(mentee_ids: Sequence[int]) -> list[int]:
    """The cohort's ids as ints: non-empty, no repeats."""
    values = [mentee_ids] if np.isscalar(mentee_ids) else list(mentee_ids)
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int | np.integer)]
    if bad:
        raise UnknownEntityError(f"Unknown mentee id {bad[0]!r}: mentee ids are integers of the mentees table.")
    if not values:
        raise InvalidParameterError("The cohort is empty; pass the ids of the mentees to assign.")
    ids = [int(v) for v in values]
    seen: set[int] = set()
    for mentee in ids:
        if mentee in seen:
            raise InvalidParameterError(
                f"The cohort names mentee {mentee} more than once ({len(ids) - len(set(ids))} repeat(s)); "
                "list each mentee once (ask for more mentors with per_mentee)."
            )
        seen.add(mentee)
    return ids


def _share_cap(max_share: float | None, cohort: int, func: str) -> int | None:
    """``floor(max_share x cohort)``, the most mentees of the cohort one mentor takes."""
    if max_share is None:
        return None
    share = check_number("max_share", max_share, func, low=0.0, high=1.0, low_open=True)
    cap = math.floor(share * cohort + _SHARE_SLACK)
    if cap < 1:
        raise InvalidParameterError(
            f"max_share={share} of a cohort of {cohort} leaves no mentor a single mentee; pass at "
            f"least 1/{cohort} = {1 / cohort:.4g}."
        )
    return cap


def _free_seats(catalogue: Catalogue, *, need_history: bool) -> tuple[pd.Series, list[int]]:
    """(free seats by mentor id of the eligible served mentors, the new ones among them)."""
    fields = catalogue.fields
    needed = ("current_mentees", "max_mentees", *(("total_mentees",) if need_history else ()))
    missing = [name for name in needed if name not in fields]
    if missing:
        raise DataValidationError(
            f"The catalogue has no {', '.join(missing)} field; load the mentors from the database "
            "(db.load_dataset) so that their seats are known."
        )
    rows = np.flatnonzero(catalogue.eligible & (catalogue.mentor_ids >= 0))
    free = (pd.to_numeric(pd.Series(fields["max_mentees"][rows])) -
            pd.to_numeric(pd.Series(fields["current_mentees"][rows]))).to_numpy()
    seats = pd.Series(np.maximum(free, 0).astype(np.int64), index=catalogue.mentor_ids[rows])
    new: list[int] = []
    if need_history:
        total = pd.to_numeric(pd.Series(fields["total_mentees"][rows])).fillna(1).to_numpy()
        new = catalogue.mentor_ids[rows][total == 0].tolist()
    return seats, new


def _checked_pairs(given: Pairs, name: str, cohort: list[int], catalogue: Catalogue, func: str) -> pd.DataFrame:
    """``given`` pairs as a frame, each mentee in the cohort and each mentor served, no repeats."""
    frame = as_pair_frame(given, name, func)
    outside = frame[~frame["mentee_id"].isin(cohort)]
    if len(outside):
        raise UnknownEntityError(
            f"{len(outside)} {name} pair(s) name a mentee that is not in the cohort (first: "
            f"{int(outside['mentee_id'].iat[0])}); pass pairs of the cohort's mentees."
        )
    rows = catalogue.rows_of(frame["mentor_id"].to_numpy())
    if (rows < 0).any():
        raise UnknownEntityError(
            f"{int((rows < 0).sum())} {name} pair(s) name an unknown mentor (first: "
            f"{int(frame['mentor_id'].to_numpy()[rows < 0][0])}): not among the served mentors (an "
            "unknown id, or a mentor who was inactive when the index was built)."
        )
    if frame.duplicated().any():
        raise InvalidParameterError(f"The {name} pairs name a (mentee, mentor) pair more than once; give each once.")
    return frame


def _reasons(stages: Any, table: pd.DataFrame, mean_contributions: dict[int, np.ndarray],
             progress: bool | None) -> list[str]:
    """The reasons of each chosen pair: its ranker contributions minus its mentee's mean over
    the scored candidates, worded by :func:`retrieval.reasons.explain`."""
    arm, catalogue = stages.arm(), stages.catalogue
    fields = {name: column for name, column in catalogue.fields.items() if name in MENTOR_FIELDS}
    out = [""] * len(table)
    mentee_ids = pd.unique(table["mentee_id"])
    show = progress if progress is not None else len(mentee_ids) > 2000
    for start in tqdm(range(0, len(mentee_ids), BATCH), disable=not show, desc="reasons", unit="batch"):
        batch = mentee_ids[start : start + BATCH]
        at = np.flatnonzero(table["mentee_id"].isin(batch).to_numpy())
        pairs = table.iloc[at][["mentee_id", "mentor_id"]].reset_index(drop=True)
        mentees = catalogue.lookup(batch)
        features = arm.reranker.features(mentees.prepared, mentees.vectors, pairs)
        mean = np.stack([mean_contributions[int(m)] for m in pairs["mentee_id"]])
        relative = arm.ranker.contributions(features, approximate=True) - mean
        names, values = list(features.columns), features.to_numpy()
        profiles = mentees.rows.to_dict("records")
        position = mentees.positions(pairs["mentee_id"].to_numpy())
        rows = catalogue.rows_of(pairs["mentor_id"].to_numpy())
        for k in range(len(pairs)):
            mentor = {name: column[rows[k]] for name, column in fields.items()}
            said, _ = explain(relative[k], names, dict(zip(names, values[k].tolist(), strict=True)),
                              mentor, profiles[position[k]])
            out[at[k]] = SEPARATOR.join(said)
    return out


def load_gini(loads: Sequence[float] | np.ndarray) -> float:
    """Gini coefficient of mentor loads (one count per mentor, zeros included): 0 = even, -> 1
    = one mentor takes all. The formula of ``eval.stats.gini`` (which retrieval may not import).

    >>> load_gini([5, 5, 5, 5]), load_gini([0, 0, 0, 12]), load_gini([])
    (0.0, 0.75, 0.0)
    """
    x = np.sort(np.asarray(loads, dtype=float))
    total = x.sum()
    if len(x) == 0 or total == 0:
        return 0.0
    n = len(x)
    return float(2.0 * np.sum(np.arange(1, n + 1) * x) / (n * total) - (n + 1.0) / n)


def _report(
    ids: list[int], scored: pd.DataFrame, chosen: pd.DataFrame, seats: pd.Series, new_ids: list[int], *,
    per_mentee: int, candidates: int, max_share: float | None, max_per_mentor: int | None, min_new: int,
    required: int, dropped: int, reasons: bool,
) -> dict[str, Any]:
    """The report of an assignment (:data:`REPORT_KEYS`), all of it vectorised over the pairs."""
    cohort = pd.Index(ids)
    cap = seats if max_per_mentor is None else np.minimum(seats, max_per_mentor)
    load = chosen["mentor_id"].value_counts().reindex(seats.index, fill_value=0)
    got = chosen["mentee_id"].value_counts().reindex(cohort, fill_value=0)
    expected = float(chosen["score"].sum())
    ranked = scored.sort_values(["mentee_id", "score"], ascending=[True, False], kind="stable")
    unconstrained = float(ranked.groupby("mentee_id").head(per_mentee)["score"].sum())

    # Blocking pairs: both sides would rather have each other than what they got (0: a free place).
    mentee_floor = chosen.groupby("mentee_id")["score"].min().reindex(cohort).fillna(0.0)
    mentee_floor = mentee_floor.where(got >= per_mentee, 0.0)
    mentor_floor = chosen.groupby("mentor_id")["score"].min().reindex(seats.index).fillna(0.0)
    mentor_floor = mentor_floor.where(load >= cap, 0.0)
    taken = pd.MultiIndex.from_frame(scored[["mentee_id", "mentor_id"]]).isin(
        pd.MultiIndex.from_frame(chosen[["mentee_id", "mentor_id"]]))
    score = scored["score"].to_numpy()
    blocking = (~taken & (score > mentee_floor.reindex(scored["mentee_id"]).to_numpy())
                & (score > mentor_floor.reindex(scored["mentor_id"]).fillna(np.inf).to_numpy()))

    # Unmatched (short of per_mentee) mentees, and why.
    short = got[got < per_mentee]
    has_pairs = short.index.isin(scored["mentee_id"])
    room = (load < cap).reindex(scored["mentor_id"]).fillna(False).to_numpy(bool)
    with_room = pd.Index(scored["mentee_id"].to_numpy()[room & ~taken])
    why = np.where(~has_pairs, "no_candidates", np.where(short.index.isin(with_room), "other", "no_free_seat"))
    unmatched = pd.DataFrame({"mentee_id": short.index, "assigned": short.to_numpy(), "reason": why})
    demand, total_seats = per_mentee * len(ids), int(seats.sum())
    used = load[load > 0]
    return {
        "mentees": len(ids), "per_mentee": per_mentee, "candidates": candidates, "pairs_scored": len(scored),
        "assigned": len(chosen), "expected_matches": round(expected, 6),
        "unconstrained_expected_matches": round(unconstrained, 6),
        "share_of_unconstrained": round(expected / unconstrained, 6) if unconstrained > 0 else None,
        "demand": demand,
        "seats": {"total": total_seats, "usable": int(cap.sum()), "used": len(chosen),
                  "mentors_with_seats": len(seats), "mentors_used": len(used)},
        "demand_exceeds_seats": demand > int(cap.sum()),
        "load_gini": round(load_gini(load.to_numpy()), 6),
        "unmatched": {
            "count": len(unmatched),
            "by_reason": {r: int((why == r).sum()) for r in ("no_candidates", "no_free_seat", "other")},
            "mentees": [{"mentee_id": int(m), "assigned": int(a), "reason": str(r)}
                        for m, a, r in unmatched.itertuples(index=False)],
        },
        "blocking_pairs": {"count": int(blocking.sum()),
                           "mentees": int(pd.unique(scored["mentee_id"].to_numpy()[blocking]).size)},
        "new_mentors": {"rule": NEW_MENTOR_RULE, "minimum": min_new,
                        "with_seats": len(new_ids) if min_new > 0 else None,
                        "assigned": int(chosen["mentor_id"].isin(new_ids).sum()) if min_new > 0 else None},
        "max_share": max_share, "max_per_mentor": max_per_mentor, "required": required,
        "banned_dropped": dropped,
        "loads": [{"mentor_id": int(m), "assigned": int(n), "free_seats": int(seats[m])} for m, n in used.items()],
        "reasons": REASONS_SOURCE if reasons else None,
    }


def seeking_mentee_ids(engine: Engine) -> list[int]:
    """Active mentees with no running mentorship (no interaction in status ``accepted``), by id:
    the cohort of ``scripts/assign.py --all-seeking``."""
    running = exists().where((interactions.c.mentee_id == mentees_table.c.mentee_id)
                             & (interactions.c.status == "accepted"))
    query = (select(mentees_table.c.mentee_id).where(mentees_table.c.active.is_(True) & ~running)
             .order_by(mentees_table.c.mentee_id))
    with connect(engine) as conn:
        return [int(m) for m in conn.execute(query).scalars().all()]


def _frame_batches(catalogue, ids: list[int], found: pd.DataFrame, candidates: int):
    """``found``'s candidates per batch of ``ids`` as ``Stages.candidate_batches`` yields them:
    the batch's mentees read now, at most ``candidates`` rows of each, in ``found``'s order."""
    missing = {"mentee_id", "mentor_id"} - set(found.columns)
    if missing:
        raise InvalidParameterError(
            f"The candidates frame lacks the column(s) {sorted(missing)}; pass Recommender.retrieve's frame."
        )
    found = found.reset_index(drop=True)
    rows_of = found.groupby("mentee_id", sort=False).indices
    empty = np.empty(0, np.int64)
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        rows = np.concatenate([rows_of.get(int(m), empty)[:candidates] for m in batch])
        yield catalogue.lookup(batch), found.iloc[rows].reset_index(drop=True)
