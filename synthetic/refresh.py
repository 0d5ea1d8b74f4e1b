"""A data refresh on an existing generated database: some mentors change, a few join.

It gives the staleness checks and a live catalogue something real to notice: changed bios
(and with them the hidden sub-specialties), changed availability, new unrated mentors.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, update

from db.connection import transaction
from db.loading import load_mentors, validate_frame
from db.schema import mentors, synthetic_mentor_truth
from db.writing import frame_records
from mentor_match.errors import DataValidationError
from mentor_match.validation import check_number
from synthetic.profiles import draw_availability, draw_mentor_subspecialties, make_mentors
from synthetic.texts import mentor_bio
from synthetic.truth import attach_truth, read_truth, truth_frame
from synthetic.vocabulary import DOMAINS

logger = logging.getLogger(__name__)


def refresh_world(engine: Engine | Connection, fraction: float = 0.05, seed: int = 42) -> dict:
    """Simulate a data refresh on an existing generated database, in one transaction.

    About ``fraction`` of the mentors get a new bio (with possibly new sub-specialties,
    kept in the truth table) or new availability, and about ``fraction / 5`` new mentors
    join; ``updated_at`` of every changed row moves to one day after the newest update.
    Returns a summary dict.
    """
    check_number("fraction", fraction, "refresh_world", low=0, low_open=True, high=1)
    with transaction(engine) as conn:
        current = load_mentors(conn)
        if current.empty:
            raise DataValidationError(
                "Table 'mentors' is empty: nothing to refresh. Generate data first with "
                "scripts/generate_synthetic_data.py."
            )
        truth = attach_truth(current, read_truth(conn, synthetic_mentor_truth), "mentor_id", "mentors")
        rng = np.random.default_rng([seed, len(current)])
        when = (current["updated_at"].max() + pd.Timedelta(days=1)).floor("s").to_pydatetime()
        n_changed = max(1, round(fraction * len(current)))
        changed = np.sort(rng.choice(len(current), size=n_changed, replace=False))
        new_bio = rng.random(n_changed) < 0.5
        bio_rows, truth_rows, slot_rows = [], [], []
        for position, gets_bio in zip(changed, new_bio, strict=True):
            row = truth.iloc[position]
            if gets_bio:
                subspecialties = draw_mentor_subspecialties(rng, row["domains"])
                text = mentor_bio(
                    rng, title=str(rng.choice(DOMAINS[row["domains"][0]].titles)),
                    years=int(row["experience_years"]), industry=row["industry"],
                    subspecialties=subspecialties, skills=row["skills"], style=row["mentorship_style"],
                )
                bio_rows.append({"target_id": int(row["mentor_id"]), "new_bio": text, "changed_at": when})
                truth_rows.append({"target_id": int(row["mentor_id"]), "new_subspecialties": subspecialties})
            else:
                slot_rows.append({
                    "target_id": int(row["mentor_id"]), "new_slots": draw_availability(rng),
                    "new_hours": float(rng.integers(2, 17) / 2.0), "changed_at": when,
                })
        _apply_changes(conn, bio_rows, truth_rows, slot_rows)
        n_new = max(1, round(fraction / 5 * len(current)))
        first_id = int(current["mentor_id"].max()) + 1
        stamp = pd.Timestamp(when)
        joined, joined_truth = make_mentors(
            rng, np.arange(first_id, first_id + n_new), new_share=1.0,
            created=(stamp, stamp), new_created=(stamp, stamp),
        )
        conn.execute(mentors.insert(), frame_records(validate_frame(mentors, joined)))
        conn.execute(synthetic_mentor_truth.insert(), frame_records(truth_frame(joined_truth, "mentor_id")))
    summary = {
        "refreshed_at": stamp.isoformat(),
        "new_bios": len(bio_rows),
        "new_availability": len(slot_rows),
        "new_mentors": n_new,
        "mentors": len(current) + n_new,
    }
    logger.info("refresh: %s", summary)
    return summary


def _apply_changes(
    conn: Connection, bio_rows: list[dict], truth_rows: list[dict], slot_rows: list[dict]
) -> None:
    """The new bios (with their truth) and the new availability, as batched UPDATEs."""
    by_id = mentors.c.mentor_id == bindparam("target_id")
    if bio_rows:
        conn.execute(update(mentors).where(by_id).values(
            bio=bindparam("new_bio"), updated_at=bindparam("changed_at")), bio_rows)
        conn.execute(update(synthetic_mentor_truth).where(
            synthetic_mentor_truth.c.mentor_id == bindparam("target_id")).values(
            subspecialties=bindparam("new_subspecialties")), truth_rows)
    if slot_rows:
        conn.execute(update(mentors).where(by_id).values(
            availability=bindparam("new_slots"), availability_hours=bindparam("new_hours"),
            updated_at=bindparam("changed_at")), slot_rows)
