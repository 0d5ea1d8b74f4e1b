"""Writing a synthetic world into the database: all tables in one transaction, in chunks.

A write into non-empty tables is refused; a reset drops and recreates the tables inside the
same transaction, so a failure part-way leaves the old data in place, on SQLite as well.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from tqdm.auto import tqdm

from db.connection import transaction
from db.loading import (
    check_references,
    create_schema,
    drop_schema,
    table_row_counts,
    validate_frame,
)
from db.schema import (
    interactions,
    mentees,
    mentors,
    synthetic_mentee_truth,
    synthetic_mentor_truth,
)
from db.writing import frame_records
from mentor_match.errors import DataValidationError
from synthetic.generator import SyntheticWorld

logger = logging.getLogger(__name__)

WRITE_CHUNK = 5000
"""Rows per INSERT batch."""


def write_world(
    engine: Engine | Connection, world: SyntheticWorld, *, reset: bool = False, progress: bool = True
) -> None:
    """Write ``world`` into the database, all in one transaction.

    Into non-empty tables it refuses (DataValidationError) and changes nothing; with
    ``reset`` it drops and recreates the tables first, and a failure part-way leaves the old
    data in place.
    """
    frames = [
        (mentors, validate_frame(mentors, world.mentors)),
        (mentees, validate_frame(mentees, world.mentees)),
        (synthetic_mentor_truth, world.mentor_truth),
        (synthetic_mentee_truth, world.mentee_truth),
        (interactions, validate_frame(interactions, world.interactions)),
    ]
    check_references(world.interactions, world.mentors, world.mentees)
    total = sum(len(frame) for _, frame in frames)
    try:
        with transaction(engine) as conn:
            if reset:
                drop_schema(conn)
            create_schema(conn)  # stamped at the newest migration; refuses a database behind it
            if not reset:
                _refuse_if_filled(conn)
            with tqdm(total=total, unit="rows", desc="writing", disable=not progress) as bar:
                for table, frame in frames:
                    rows = frame_records(frame)
                    for start in range(0, len(rows), WRITE_CHUNK):
                        chunk = rows[start:start + WRITE_CHUNK]
                        conn.execute(table.insert(), chunk)
                        bar.update(len(chunk))
    except IntegrityError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DataValidationError(
            f"Writing the synthetic world failed and nothing was changed: {reason}. Regenerate "
            "the world, or pass --reset if old rows clash with it."
        ) from None
    logger.info(
        "wrote %d rows (%s)", total, ", ".join(f"{table.name} {len(frame)}" for table, frame in frames)
    )


def _refuse_if_filled(conn: Connection) -> None:
    filled = {name: count for name, count in table_row_counts(conn).items() if count}
    if filled:
        name, count = next(iter(filled.items()))
        others = ", ".join(f"{other} {rows}" for other, rows in list(filled.items())[1:])
        raise DataValidationError(
            f"Table '{name}' already contains {count} rows{f' (also {others})' if others else ''}; "
            "nothing was written. Pass --reset to replace them, or use another --db-url."
        )
