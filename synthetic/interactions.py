"""The interaction log: who contacted whom, and how each request ended.

Mentees contact mentors in an exposure-biased way (their domains first, popular mentors
more, unrated and inactive mentors less), and each outcome is drawn from the ground truth
(:func:`synthetic.truth.true_match_probability`), so the log carries the truth's signal
through the eyes of a biased platform.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer

from db.loading import TIMESTAMP_DTYPE
from db.schema import interactions
from synthetic.profiles import REFERENCE_TIME
from synthetic.truth import attach_truth, true_match_probability
from synthetic.vocabulary import DOMAIN_NAMES

PENDING_SHARE = 0.03
_EXPOSURE_CHUNK = 500  # mentees per chunk: bounds the (mentees x mentors) weight matrix


def make_interactions(
    rng: np.random.Generator,
    mentor_frame: pd.DataFrame,
    mentor_truth: pd.DataFrame,
    mentee_frame: pd.DataFrame,
    mentee_truth: pd.DataFrame,
    per_mentee: int,
) -> pd.DataFrame:
    """The contact log: exposure-biased choices, outcomes drawn from the ground truth."""
    k = min(per_mentee, len(mentor_frame))
    columns = [column.name for column in interactions.columns]
    if k == 0:
        return pd.DataFrame({column: [] for column in columns})
    chosen = _exposure(rng, mentor_frame, mentee_frame, k)
    pairs = pd.DataFrame({
        "mentee_id": np.repeat(mentee_frame["mentee_id"].to_numpy(), k),
        "mentor_id": mentor_frame["mentor_id"].to_numpy()[chosen.ravel()],
    })
    truth = true_match_probability(
        attach_truth(mentee_frame, mentee_truth, "mentee_id", "mentees"),
        attach_truth(mentor_frame, mentor_truth, "mentor_id", "mentors"),
        pairs,
    )
    p_accept, p_success = truth["p_accept"].to_numpy(), truth["p_success"].to_numpy()
    n = len(pairs)
    accepted = rng.random(n) < p_accept
    success = accepted & (rng.random(n) < p_success)
    # An accepted pair that does not succeed either stalls or completes with a low rating,
    # more often the latter when the fit was good.
    completed_low = accepted & ~success & (rng.random(n) < 0.4 + 0.5 * p_success)
    mentor_pos = chosen.ravel()
    new_mentor = mentor_frame["rating"].isna().to_numpy()[mentor_pos]
    pending = (rng.random(n) < PENDING_SHARE) | (new_mentor & accepted)
    status = np.select(
        [pending, ~accepted, success | completed_low], ["pending", "declined", "completed"], "accepted"
    )
    done = status == "completed"
    won = success & ~pending
    overall = np.where(won, np.where(rng.random(n) < 0.3 + 0.5 * p_success, 5.0, 4.0), np.nan)
    overall = np.where(done & ~won, rng.choice([1.0, 2.0, 3.0], n, p=[0.2, 0.3, 0.5]), overall)
    meetings = np.select(
        [won, done, status == "accepted"],
        [rng.integers(4, 13, n), rng.integers(2, 9, n), rng.integers(0, 4, n)],
        0,
    )
    mentee_accepted = pd.array(
        np.where(status == "accepted", rng.random(n) < 0.5, done), dtype="boolean"
    )
    mentee_accepted[(status == "pending") | (status == "declined")] = pd.NA
    mentor_accepted = pd.array(status != "declined", dtype="boolean")
    mentor_accepted[status == "pending"] = pd.NA

    # Resolved requests are old enough to have finished; pending ones are recent.
    mentee_pos = np.repeat(np.arange(len(mentee_frame)), k)
    joined = np.maximum(
        mentor_frame["created_at"].to_numpy()[mentor_pos], mentee_frame["created_at"].to_numpy()[mentee_pos]
    )
    recent = pending | new_mentor
    low = np.where(
        recent,
        np.maximum(joined, np.datetime64(REFERENCE_TIME - pd.Timedelta(days=21))),
        joined + np.timedelta64(1, "D"),
    )
    latest = np.where(
        recent, np.datetime64(REFERENCE_TIME - pd.Timedelta(hours=1)),
        np.datetime64(REFERENCE_TIME - pd.Timedelta(days=150)),
    )
    span = np.maximum(latest - low, np.timedelta64(0, "s"))
    created_at = (low + (rng.random(n) * span.astype("timedelta64[s]").astype(float)).astype("timedelta64[s]"))
    duration = (14 + 7 * meetings + rng.integers(0, 15, n)).astype("timedelta64[D]")
    completed_at = np.where(done, created_at + duration, np.datetime64("NaT"))

    frame = pd.DataFrame({
        "mentor_id": pairs["mentor_id"],
        "mentee_id": pairs["mentee_id"],
        "status": status,
        "mentor_accepted": mentor_accepted,
        "mentee_accepted": mentee_accepted,
        "successful_match": won,
        "overall_rating": overall,
        "meetings_held": meetings,
        "created_at": pd.Series(created_at).astype(TIMESTAMP_DTYPE),
        "completed_at": pd.Series(completed_at).astype(TIMESTAMP_DTYPE),
        "list_id": None,  # generated history predates the recommendation log
    })
    frame = frame.sort_values(["created_at", "mentee_id", "mentor_id"], kind="stable").reset_index(drop=True)
    frame.insert(0, "interaction_id", np.arange(1, len(frame) + 1))
    return frame[columns]


def _exposure(
    rng: np.random.Generator, mentor_frame: pd.DataFrame, mentee_frame: pd.DataFrame, k: int
) -> np.ndarray:
    """Positions (n_mentees, k) of the mentors each mentee contacted, without repeats.

    Mostly mentors in a desired domain, some popular (highly rated) ones, some at random;
    sampled without replacement by Gumbel top-k over the mixture weights.
    """
    binarizer = MultiLabelBinarizer(classes=list(DOMAIN_NAMES))
    mentor_domains = binarizer.fit_transform(mentor_frame["domains"]).astype(np.float32)
    mentee_domains = binarizer.transform(mentee_frame["desired_domains"]).astype(np.float32)
    rating = mentor_frame["rating"].to_numpy()
    popularity = np.where(np.isnan(rating), 0.0, rating) ** 4
    popularity = popularity / popularity.sum() if popularity.sum() > 0 else np.full(len(rating), 1 / len(rating))
    reach = np.where(mentor_frame["rating"].isna(), 0.3, 1.0) * np.where(mentor_frame["active"], 1.0, 0.6)
    n_mentors = len(mentor_frame)
    chosen = np.empty((len(mentee_frame), k), dtype=np.int64)
    for start in range(0, len(mentee_frame), _EXPOSURE_CHUNK):
        related = (mentee_domains[start:start + _EXPOSURE_CHUNK] @ mentor_domains.T) > 0
        share = related / np.maximum(related.sum(axis=1, keepdims=True), 1)
        weights = (0.65 * share + 0.15 * popularity + 0.20 / n_mentors) * reach
        keys = np.log(weights) + rng.gumbel(size=weights.shape)
        chosen[start:start + _EXPOSURE_CHUNK] = np.argpartition(-keys, k - 1, axis=1)[:, :k]
    return chosen


def with_total_mentees(
    rng: np.random.Generator, mentor_frame: pd.DataFrame, interaction_frame: pd.DataFrame
) -> pd.DataFrame:
    """Lifetime mentee counts: accepted requests in the log plus some from before the log."""
    accepted = interaction_frame.loc[
        interaction_frame["status"].isin(["accepted", "completed"]), "mentor_id"
    ].value_counts()
    logged = mentor_frame["mentor_id"].map(accepted).fillna(0).to_numpy(dtype=int)
    earlier = rng.poisson(3.0, len(mentor_frame))
    total = np.where(mentor_frame["rating"].isna(), 0, logged + earlier)
    return mentor_frame.assign(total_mentees=total)
