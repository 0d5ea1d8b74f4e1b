"""Plain-text and Markdown tables: the one table renderer of every script and report.

Cells are strings already (each caller knows how its numbers read); columns after the
first are right-aligned, as numbers are.

>>> print(format_table(["model", "ndcg@10"], [["ranker", "0.875"], ["random", "0.235"]]))
model   ndcg@10
------  -------
ranker    0.875
random    0.235
>>> print(format_table(["model", "ndcg@10"], [["ranker", "0.875"]], markdown=True))
| model | ndcg@10 |
|---|---:|
| ranker | 0.875 |
"""

from __future__ import annotations

from collections.abc import Sequence


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    markdown: bool = False,
    left: int = 1,
    trailing: str | None = None,
) -> str:
    """A table of ``rows`` under ``headers``.

    ``left``: how many leading columns are left-aligned (the rest are right-aligned).
    ``trailing``: a last, left-aligned free-text column (e.g. "why") that is not padded
    in the text form, so long reasons do not widen the table.
    """
    headers = [str(h) for h in headers]
    width = len(headers)
    body = [[str(cell) for cell in row] for row in rows]
    for row in body:
        if len(row) != width + (trailing is not None):
            raise ValueError(f"format_table: a row has {len(row)} cells for {width} columns.")
    if markdown:
        names = headers + ([trailing] if trailing is not None else [])
        aligns = ["---" if i < left or i >= width else "---:" for i in range(len(names))]
        lines = ["| " + " | ".join(names) + " |", "|" + "|".join(aligns) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max([len(headers[i])] + [len(row[i]) for row in body]) for i in range(width)]

    def line(cells: Sequence[str], extra: str | None) -> str:
        padded = [
            cell.ljust(widths[i]) if i < left else cell.rjust(widths[i]) for i, cell in enumerate(cells)
        ]
        text = "  ".join(padded)
        return text + ("  " + extra if extra is not None else "")

    lines = [line(headers, trailing)]
    lines.append(line(["-" * w for w in widths], "-" * len(trailing) if trailing is not None else None))
    lines += [line(row[:width], row[width] if trailing is not None else None) for row in body]
    return "\n".join(line.rstrip() for line in lines)
