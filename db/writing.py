"""Transactional writing: one transaction that covers DDL too, and rows fit for executemany.

Used by whatever fills the tables (the synthetic world today), so that a failed write or
reset leaves the previous data in place on PostgreSQL and on SQLite alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
from sqlalchemy import Connection, Engine

from db.loading import connect


@contextmanager
def transaction(engine: Engine | Connection, *, immediate: bool = False) -> Iterator[Connection]:
    """One transaction that covers DDL too, on PostgreSQL and on SQLite.

    Python's sqlite3 driver does not open a transaction before DROP/CREATE, so those would
    commit at once and a failed reset would lose the old data. On SQLite we switch the
    driver to autocommit mode for this connection and issue BEGIN ourselves.

    ``immediate`` takes SQLite's write lock at BEGIN (``BEGIN IMMEDIATE``, waiting out the
    busy timeout): a transaction that reads, checks and then writes cannot be overtaken by
    another writer, nor fail with "database is locked" when it upgrades its lock. PostgreSQL
    ignores it (lock rows with ``FOR UPDATE`` there).
    """
    with connect(engine) as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        dbapi_conn = conn.connection.dbapi_connection
        saved = dbapi_conn.isolation_level
        dbapi_conn.isolation_level = None
        try:
            with conn.begin():
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
                yield conn
        finally:
            dbapi_conn.isolation_level = saved


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """Plain Python rows for executemany: None for NaN/NaT/NA, datetimes, lists as is.

    >>> import numpy as np
    >>> frame_records(pd.DataFrame({"id": [1, 2], "rating": [4.5, np.nan], "tags": [["a"], []]}))
    [{'id': 1, 'rating': 4.5, 'tags': ['a']}, {'id': 2, 'rating': None, 'tags': []}]
    """
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            cells = [None if pd.isna(v) else v.to_pydatetime() for v in values]
        else:
            objects = values.astype(object)
            cells = objects.where(values.notna(), None).tolist()
        columns[name] = cells
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
