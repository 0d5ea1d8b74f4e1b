"""Headline counts and rates of a synthetic world, from the frames or from a database."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from db.loading import load_dataset, load_feedback
from synthetic.generator import SyntheticWorld


def summarize(source: Engine | Connection | SyntheticWorld) -> dict:
    """Rows per table and the headline rates, from a world or from a database."""
    if isinstance(source, SyntheticWorld):
        mentor_frame, mentee_frame, log = source.mentors, source.mentees, source.interactions
        feedback_rows = 0
    else:
        dataset = load_dataset(source)
        mentor_frame, mentee_frame, log = dataset.mentors, dataset.mentees, dataset.interactions
        feedback_rows = len(load_feedback(source))
    decided = log["status"] != "pending"
    return {
        "mentors": len(mentor_frame),
        "mentees": len(mentee_frame),
        "interactions": len(log),
        "recommendation_feedback": feedback_rows,
        "active_mentors": int(mentor_frame["active"].sum()),
        "mentors_without_rating": int(mentor_frame["rating"].isna().sum()),
        "mentors_at_capacity": int((mentor_frame["current_mentees"] >= mentor_frame["max_mentees"]).sum()),
        "status_counts": {k: int(v) for k, v in log["status"].value_counts().sort_index().items()},
        "acceptance_rate": float((log["status"][decided] != "declined").mean()) if decided.any() else float("nan"),
        "success_rate": float(log["successful_match"].mean()) if len(log) else float("nan"),
    }
