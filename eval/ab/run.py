"""The A/B report from the database: read one experiment's log, analyse it, write the folder.

What ``scripts/ab_report.py`` calls; the shares come from the experiment config (the
script reads it) or from a ``"control=0.9,b=0.1"`` string (:func:`parse_shares`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from db.engine import get_engine
from db.log_reading import load_log
from eval.ab.analysis import analyze_experiment, check_shares
from eval.ab.writing import write_ab_report
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int

logger = logging.getLogger(__name__)

__all__ = ["parse_shares", "run_ab_report"]


def parse_shares(text: str) -> dict[str, float]:
    """Traffic shares from ``"name=share,name=share"``, in the order given.

    >>> parse_shares("control=0.9, b=0.1")
    {'control': 0.9, 'b': 0.1}
    >>> parse_shares("control=0.9,b")
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: The shares 'control=0.9,b' do not parse at 'b'; write them as name=share pairs separated by commas, e.g. control=0.9,b=0.1.
    """
    shares: dict[str, float] = {}
    for part in (piece.strip() for piece in text.split(",")):
        name, _, value = part.partition("=")
        try:
            share = float(value)
        except ValueError:
            share = None
        if not name.strip() or share is None or name.strip() in shares:
            raise InvalidParameterError(
                f"The shares {text!r} do not parse at {part!r}; write them as name=share pairs "
                "separated by commas, e.g. control=0.9,b=0.1."
            )
        shares[name.strip()] = share
    return shares


def run_ab_report(
    db_url: str | None,
    *,
    experiment: str,
    shares: Mapping[str, float],
    control: str,
    out_dir: str | Path,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[dict, dict[str, Path]]:
    """(report, written paths): :func:`~eval.ab.analysis.analyze_experiment` of the
    experiment's log in ``db_url``, written by :func:`~eval.ab.writing.write_ab_report`.

    The arguments are checked before the database is read, so a typo fails fast.
    """
    if not isinstance(experiment, str) or not experiment:
        raise InvalidParameterError(f"The 'experiment' parameter of run_ab_report must be a name. Got {experiment!r}.")
    check_shares(shares, control, "run_ab_report")
    check_int("n_boot", n_boot, "run_ab_report", low=100)
    check_int("seed", seed, "run_ab_report", low=0)
    engine = get_engine(db_url)
    try:
        frames = load_log(engine, experiment=experiment)
    finally:
        engine.dispose()
    report = analyze_experiment(frames, shares, control=control, n_boot=n_boot, seed=seed)
    written = write_ab_report(report, out_dir)
    logger.info("wrote the A/B report of %r to %s", experiment, Path(out_dir))
    return report, written
