"""Rows fit for executemany, from frames (transactions: :func:`db.connection.transaction`)."""

from __future__ import annotations

import pandas as pd


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
