"""Cohort assignment on a small world served through real FAISS, XGBoost and reciprocal heads.

The world has random unit vectors for bios and goals (the session's ``random_vector_world``:
assignment logic does not depend on meaning, so no MiniLM); the heads are trained here on
its interactions' pair features. Expected figures are recomputed apart from the module:
blocking pairs by a loop over the scored pairs, the report's sums from the table.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from eval.stats import gini
from mentor_match.errors import InvalidParameterError, UnknownEntityError
from ranking.features import pair_features
from ranking.heads import Head, ReciprocalModel, head_rows
from retrieval.cohort import REPORT_KEYS, TABLE_COLUMNS, assign_cohort, load_gini


@pytest.fixture(scope="module")
def market(random_vector_world):
    """(world, recommender, heads): 80 mentors, 200 mentees, heads on their interactions."""
    world, recommender, *_ = random_vector_world(80, 200, 6, 21, 16)
    heads = {}
    for name in ("accept", "success"):
        rows = head_rows(world.interactions, name)
        X, y = pair_features(world.mentees, world.mentors, rows), rows["label"].to_numpy()
        cut = int(len(rows) * 0.7)
        heads[name] = Head(name, n_estimators=20, n_jobs=1).fit(X[:cut], y[:cut], eval_set=(X[cut:], y[cut:]))
    return world, recommender, ReciprocalModel(heads["accept"], heads["success"])


def _seats(world) -> pd.Series:
    mentors = world.mentors.set_index("mentor_id")
    open_ = mentors["active"] & (mentors["current_mentees"] < mentors["max_mentees"])
    return (mentors["max_mentees"] - mentors["current_mentees"])[open_]


def _scored(recommender, heads, cohort, candidates):
    """Each mentee's candidates with the heads' P(match), computed here."""
    stages = recommender.stages
    frames = []
    for mentees, pairs in stages.candidate_batches(cohort, candidates):
        pairs = pairs[["mentee_id", "mentor_id"]]
        features = stages.reranker.features(mentees.prepared, mentees.vectors, pairs)
        frames.append(pairs.assign(score=heads.predict_match(features)))
    return pd.concat(frames, ignore_index=True)


def _brute_force_blocking(scored, table, seats, per_mentee, cap=None) -> int:
    got = {(a, b) for a, b in zip(table["mentee_id"], table["mentor_id"], strict=True)}
    count = 0
    for mentee, mentor, score in scored.itertuples(index=False):
        if (mentee, mentor) in got:
            continue
        mine = table.loc[table["mentee_id"] == mentee, "expected_match"]
        theirs = table.loc[table["mentor_id"] == mentor, "expected_match"]
        seats_j = seats[mentor] if cap is None else min(seats[mentor], cap)
        mentee_wants = len(mine) < per_mentee and score > 0 or len(mine) and score > mine.min()
        mentor_wants = len(theirs) < seats_j and score > 0 or len(theirs) and score > theirs.min()
        count += bool(mentee_wants and mentor_wants)
    return count


@pytest.mark.parametrize("per_mentee", [1, 2])
def test_the_cohort_assignment_respects_seats_and_its_report_adds_up(market, per_mentee):
    world, recommender, heads = market
    cohort = world.mentees["mentee_id"].tolist()[:150]
    done = assign_cohort(recommender, cohort, heads=heads, per_mentee=per_mentee, candidates=20)
    table, report = done.table, done.report
    assert tuple(table.columns) == TABLE_COLUMNS and tuple(report) == REPORT_KEYS
    json.dumps(report)
    seats = _seats(world)
    load = table["mentor_id"].value_counts()
    assert (load <= seats.reindex(load.index)).all()  # never above a seat, never a full mentor
    assert (table.groupby("mentee_id").size() <= per_mentee).all() and table["mentee_id"].isin(cohort).all()
    assert not table.duplicated(["mentee_id", "mentor_id"]).any()
    assert (table["reasons"].str.len() > 0).mean() > 0.5  # most chosen pairs beat their list's mean somewhere

    scored = _scored(recommender, heads, cohort, 20)
    joined = table.merge(scored, on=["mentee_id", "mentor_id"])
    assert len(joined) == len(table) and np.allclose(joined["expected_match"], joined["score"])
    assert report["expected_matches"] == pytest.approx(table["expected_match"].sum(), abs=1e-5)
    best = scored.sort_values("score", ascending=False).groupby("mentee_id").head(per_mentee)["score"].sum()
    assert report["unconstrained_expected_matches"] == pytest.approx(best, abs=1e-5)
    assert report["expected_matches"] <= report["unconstrained_expected_matches"] + 1e-9
    assert report["seats"]["total"] == int(seats.sum()) and report["seats"]["used"] == len(table)
    assert report["demand"] == per_mentee * len(cohort)
    assert report["assigned"] + sum(per_mentee - u["assigned"] for u in report["unmatched"]["mentees"]) == report["demand"]
    assert report["load_gini"] == pytest.approx(gini(load.reindex(seats.index, fill_value=0).to_numpy()), abs=1e-6)
    assert {row["mentor_id"]: row["assigned"] for row in report["loads"]} == load.to_dict()
    assert report["blocking_pairs"]["count"] == _brute_force_blocking(scored, table, seats, per_mentee)


def test_banned_required_new_mentor_floor_and_share_cap_are_all_honoured(market):
    world, recommender, heads = market
    cohort = world.mentees["mentee_id"].tolist()[:60]
    free = assign_cohort(recommender, cohort, heads=heads, candidates=15, reasons=False)
    first = free.table.iloc[0]
    banned = [(int(first["mentee_id"]), int(first["mentor_id"]))]
    seats = _seats(world)
    mentors = world.mentors.set_index("mentor_id")
    new = [m for m in seats.index if mentors.loc[m, "total_mentees"] == 0]
    lonely = int(cohort[1])
    outsider = next(m for m in seats.index if m not in set(free.table["mentor_id"]))
    done = assign_cohort(recommender, cohort, heads=heads, candidates=15, banned=banned,
                         required=[(lonely, int(outsider))], min_new_mentors=min(3, len(new)), max_share=0.05,
                         reasons=False)
    pairs = set(zip(done.table["mentee_id"], done.table["mentor_id"], strict=True))
    assert banned[0] not in pairs and (lonely, outsider) in pairs
    assert done.table.set_index("mentee_id").loc[lonely, "required"]
    assert done.table["mentor_id"].value_counts().max() <= 3 == done.report["max_per_mentor"]
    assert done.table["mentor_id"].isin(new).sum() >= min(3, len(new))
    assert done.report["banned_dropped"] == 1 and done.report["required"] == 1
    assert done.report["blocking_pairs"]["count"] == _brute_force_blocking(
        _scored(recommender, heads, cohort, 15).pipe(lambda s: s[~s.set_index(["mentee_id", "mentor_id"]).index.isin(banned)]).pipe(
            lambda s: pd.concat([s, done.table.loc[done.table["required"], ["mentee_id", "mentor_id", "expected_match"]].rename(
                columns={"expected_match": "score"})]).drop_duplicates(["mentee_id", "mentor_id"])),
        done.table, seats, 1, cap=3)


def test_demand_above_the_seats_is_reported_with_the_unmatched_and_why(market):
    world, recommender, heads = market
    cohort = world.mentees["mentee_id"].tolist()
    done = assign_cohort(recommender, cohort, heads=heads, per_mentee=3, candidates=10, reasons=False)
    report = done.report
    assert report["demand"] == 600 and report["demand_exceeds_seats"] == (600 > report["seats"]["usable"])
    unmatched = report["unmatched"]
    assert unmatched["count"] == len(unmatched["mentees"]) == sum(unmatched["by_reason"].values()) > 0
    assert unmatched["by_reason"]["other"] == 0


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"mentee_ids": [10**9]}, UnknownEntityError, "Unknown mentee id"),
        ({"mentee_ids": "dup"}, InvalidParameterError, "more than once"),
        ({"per_mentee": 0}, InvalidParameterError, "'per_mentee' parameter of assign_cohort"),
        ({"banned": [(10**9, 1)]}, UnknownEntityError, "not in the cohort"),
        ({"required": "unknown mentor"}, UnknownEntityError, "unknown mentor"),
        ({"max_share": 0.001}, InvalidParameterError, "leaves no mentor a single mentee"),
        ({"min_new_mentors": 10**6}, InvalidParameterError, "at most .* are possible"),
        ({"heads": None}, InvalidParameterError, "ReciprocalModel"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(market, change, error, message):
    world, recommender, heads = market
    cohort = world.mentees["mentee_id"].tolist()[:20]
    kwargs = {"mentee_ids": cohort, "heads": heads, "candidates": 5, "reasons": False}
    if change.get("mentee_ids") == "dup":
        change = {"mentee_ids": cohort + cohort[:1]}
    if change.get("required") == "unknown mentor":
        change = {"required": [(cohort[0], 10**9)]}
    if change.get("mentee_ids") == [10**9]:
        change = {"mentee_ids": cohort + [10**9]}
    kwargs.update(change)
    with pytest.raises(error, match=message):
        assign_cohort(recommender, **kwargs)


def test_load_gini_agrees_with_eval_stats_gini():
    rng = np.random.default_rng(0)
    for loads in (rng.integers(0, 5, 30), np.zeros(4), np.array([3])):
        assert load_gini(loads) == pytest.approx(gini(loads))
