"""Test helpers of the recommendation-log tests: worlds in a database, served lists, table contents."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from db.engine import get_engine
from db.log import ServedList, ServedSlot, new_list_id
from db.schema import metadata
from synthetic import write_world

BASE_TIME = datetime(2025, 3, 1, 9, 30, 0, 123456)


def world_engine(url: str, world):
    """An engine on ``url`` with ``world`` written into fresh tables."""
    engine = get_engine(url)
    write_world(engine, world, reset=True, progress=False)
    return engine


def served_list(mentee_id: int | None, mentor_ids, *, offset: int = 0, variant: str = "control") -> ServedList:
    """A list of ``mentor_ids`` at positions 1.. with distinct, exactly representable values."""
    slots = tuple(
        ServedSlot(
            position=position,
            mentor_id=int(mentor_id),
            score=1.0 / (position + offset + 3),
            similarity=0.5 + position / 64,
            propensity=None if position % 2 else 0.25 / position,
            features={"similarity": 0.5 + position / 64, "rating": float("nan") if position == 2 else 4.5,
                      "domain_overlap": position / 3},
        )
        for position, mentor_id in enumerate(mentor_ids, start=1)
    )
    return ServedList(
        list_id=new_list_id(),
        mentee_id=mentee_id,
        created_at=BASE_TIME + timedelta(seconds=offset, microseconds=offset),
        model_version="ranker-20250301",
        index_version="index-20250228",
        experiment=None if offset % 2 else "ranker-ab",
        variant=variant,
        policy="greedy" if offset % 3 else "plackett-luce",
        policy_params={} if offset % 3 else {"temperature": 0.5, "seed_from": "list_id"},
        k=len(slots),
        latency_ms=12.5 + offset,
        slots=slots,
    )


def table_contents(engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order (to show a failed call changed nothing)."""
    with engine.connect() as conn:
        return {
            table.name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for table in metadata.sorted_tables
        }
