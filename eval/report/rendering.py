"""The report as pages: Markdown (plots linked) and one self-contained HTML file (plots inlined).

Both pages show the same tables (:func:`eval.report.tables.report_tables`), the plots that
were drawn, and the "how to read this" notes. :func:`markdown_page` and :func:`html_page`
lay out any report's page this way (the A/B report uses them too).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.report.schema import json_ready
from eval.report.tables import Table
from mentor_match.text import format_table

__all__ = [
    "HOW_TO_READ",
    "PAGE_STYLE",
    "PLOT_TITLES",
    "html_page",
    "markdown_page",
    "render_html",
    "render_markdown",
]

TITLE = "mentor-match offline evaluation"
PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;"
    "padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .6em}td{text-align:right}"
    "td:first-child{text-align:left}th{background:#f2f2f2}img{max-width:100%}"
)
"""The style sheet of every HTML report page."""

PLOT_TITLES = {
    "roc": "ROC curves of all models",
    "ndcg_at_k": "NDCG@K by model with 95% confidence bands",
    "stage1_recall": "Stage-1 recall against K",
    "feature_importance": "Ranker feature importance",
    "calibration": "Calibration of the classifiers",
}
HOW_TO_READ = (
    "Classification view: how well each model separates observed good matches from the "
    "rest on held-out pairs; GAUC is the mean AUC per mentee, which is what ranking needs.",
    "Ranking view: per held-out mentee, how high the mentee's best mentors come in each "
    "model's order (graded relevance). The interval is a 95% bootstrap over mentees; "
    "overlapping intervals alone do not mean 'no difference': read the paired comparison, "
    "which scores both models on the same mentees.",
    "End-to-end view: the deployed pipeline over all eligible mentors, scored with the "
    "synthetic ground truth. Oracle is the ceiling and random the floor; the gap between "
    "the pipeline and the exact ranker is the price of stage-1 retrieval.",
    "Stage-1 recall: the share of the reference top 10 that survives candidate retrieval "
    "at K candidates in similarity order; the 'pre-ranked' row is what the ranker scores: "
    "the default candidates chosen by the pre-ranker from the wider pool.",
    "Coverage and Gini: how much of the catalogue gets recommended and how concentrated "
    "recommendations are on few mentors (0 even, near 1 all on one), since mentors have "
    "limited capacity.",
)


def render_markdown(
    report: Mapping[str, Any], tables: list[Table], plots: Mapping[str, Path]
) -> str:
    """report.md: the tables as Markdown, each plot linked by its file name beside the page.

    >>> table = Table("Ranking view", ["model", "NDCG@10"], [["ranker", "0.875"]])
    >>> page = render_markdown({"generated_at": "2026-01-01"}, [table], {})
    >>> print(page[page.index("## Ranking view") : page.index("## How to read")].strip())
    ## Ranking view
    <BLANKLINE>
    | model | NDCG@10 |
    |---|---:|
    | ranker | 0.875 |
    """
    return markdown_page(
        TITLE, report["generated_at"], report.get("notes", []), tables,
        {PLOT_TITLES[name]: path for name, path in plots.items()}, HOW_TO_READ,
    )


def render_html(report: Mapping[str, Any], tables: list[Table], plots: Mapping[str, Path]) -> str:
    """report.html: one self-contained page, every plot inlined as a base64 PNG.

    >>> table = Table("Ranking view", ["model", "NDCG@10"], [["ranker", "0.875"]])
    >>> page = render_html({"generated_at": "2026-01-01"}, [table], {})
    >>> "<tr><td>ranker</td><td>0.875</td></tr>" in page
    True
    """
    return html_page(
        TITLE, report["generated_at"], report.get("notes", []), tables,
        {PLOT_TITLES[name]: path for name, path in plots.items()}, HOW_TO_READ,
    )


def markdown_page(
    title: str,
    generated_at: Any,
    notes: Sequence[str],
    tables: Sequence[Table],
    figures: Mapping[str, Path],
    how_to_read: Sequence[str],
) -> str:
    """A report page in Markdown: title, notes, tables, figures (caption -> PNG beside the
    page, linked by file name) and the "how to read this" list. Shared by every report."""
    lines = [
        f"# {title}",
        "",
        f"Generated {json_ready(generated_at)}.",
        "",
    ]
    lines += [f"> {note}" for note in notes]
    for table in tables:
        lines += ["", f"## {table.title}", ""]
        lines.append(format_table(table.headers, table.rows, markdown=True))
        if table.note:
            lines += ["", table.note]
        if table.extra:
            lines += [""] + [f"- {item}" for item in table.extra]
    if figures:
        lines += ["", "## Plots", ""]
        lines += [f"![{caption}]({path.name})" for caption, path in figures.items()]
    lines += ["", "## How to read this", ""] + [f"- {item}" for item in how_to_read]
    return "\n".join(lines) + "\n"


def html_page(
    title: str,
    generated_at: Any,
    notes: Sequence[str],
    tables: Sequence[Table],
    figures: Mapping[str, Path],
    how_to_read: Sequence[str],
) -> str:
    """The same page as :func:`markdown_page` as one self-contained HTML file: the report
    style sheet, every figure inlined as a base64 PNG. Shared by every report."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{PAGE_STYLE}</style>",
        "</head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Generated {esc(str(json_ready(generated_at)))}.</p>",
    ]
    parts += [f"<blockquote>{esc(str(note))}</blockquote>" for note in notes]
    for table in tables:
        parts.append(f"<h2>{esc(table.title)}</h2><table><thead><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in table.headers]
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            parts.append("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</tbody></table>")
        if table.note:
            parts.append(f"<p>{esc(table.note)}</p>")
        if table.extra:
            parts.append(
                "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in table.extra) + "</ul>"
            )
    if figures:
        parts.append("<h2>Plots</h2>")
    for caption, path in figures.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        alt = esc(caption)
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
            f"<figcaption>{alt}</figcaption></figure>"
        )
    parts.append("<h2>How to read this</h2><ul>")
    parts += [f"<li>{esc(item)}</li>" for item in how_to_read]
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"
