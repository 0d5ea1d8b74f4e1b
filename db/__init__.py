"""Data layer: schema, engine from a URL, validated loading and writing.

The synthetic worlds that tests and evaluation generate live in :mod:`synthetic`. Names
are imported from their modules on first use, so ``import db.fingerprint`` stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "get_engine": "db.engine",
    "resolve_db_url": "db.engine",
    "data_fingerprint": "db.fingerprint",
    "Dataset": "db.loading",
    "check_references": "db.loading",
    "create_schema": "db.loading",
    "drop_schema": "db.loading",
    "load_dataset": "db.loading",
    "read_dataset": "db.loading",
    "load_feedback": "db.loading",
    "load_interactions": "db.loading",
    "load_mentees": "db.loading",
    "load_mentors": "db.loading",
    "table_row_counts": "db.loading",
    "timezone_offset_hours": "db.loading",
    "validate_frame": "db.loading",
    "frame_records": "db.writing",
    "LogStats": "db.log",
    "RecommendationLog": "db.log",
    "ServedList": "db.log",
    "ServedSlot": "db.log",
    "new_list_id": "db.log",
    "LogFrames": "db.log_reading",
    "load_log": "db.log_reading",
    "served_slots": "db.log_reading",
    "Outcome": "db.outcomes",
    "OutcomeResult": "db.outcomes",
    "record_outcome": "db.outcomes",
    "record_outcomes": "db.outcomes",
    "LOG_TABLES": "db.schema",
    "recommendation_events": "db.schema",
    "recommendation_lists": "db.schema",
    "transaction": "db.connection",
    "CORE_TABLES": "db.schema",
    "TRUTH_TABLES": "db.schema",
    "interactions": "db.schema",
    "mentees": "db.schema",
    "mentors": "db.schema",
    "metadata": "db.schema",
    "recommendation_feedback": "db.schema",
    "synthetic_mentee_truth": "db.schema",
    "synthetic_mentor_truth": "db.schema",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    # Lazy: ``import db.fingerprint`` (the index's staleness check) must not load SQLAlchemy.
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'db' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
