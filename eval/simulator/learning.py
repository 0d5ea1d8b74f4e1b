"""The operator's scheduled retraining in the simulator: from the interactions or from the
logged lists, always through the promotion guard and the registry.

Every ``retrain_every`` weeks a market calls :func:`retrain_step` with the simulated now. It
runs :func:`eval.retrain.retrain` on the market's database and artifacts (the data as of now,
one candidate, the paired comparison with the ranker in production on the same held-out
mentees, promotion only if not worse by more than ``retrain_margin``), so a refusal keeps the
old ranker and every decision is in the market's ``registry.json``. The candidate is

* ``learn_from="interactions"``: :func:`eval.retrain.fit_ranker`, the pipeline's ranker on the
  requests and their outcomes (what ``scripts/retrain.py`` trains);
* ``learn_from="log"``: a ranker on the logged lists up to now
  (:func:`eval.retrain.log_candidate` over :func:`ranking.logged.logged_training_groups`),
  the label :data:`eval.retrain.LOG_LABEL`, with
  ``debias`` ``"none"`` (a plain LambdaMART), ``"unbiased"``
  (:func:`ranking.logged.fit_unbiased_lambdamart`, whose learned examination curve the step
  reports) or ``"position"`` (:func:`ranking.logged.fit_position_feature_ranker`, served
  through :func:`ranking.logged.fold_position`).

A log-trained candidate leaves out the lists of the mentees the guard holds out (those with
rows in the time split's test part): they are the rows it is judged on.

Is the guard fair to a log-trained candidate? It scores NDCG@10 of each held-out mentee's
*requested* mentors on their graded outcome (declined 0 ... successful 3). The production
ranker learned exactly that target from exactly such rows; a log-trained one learned from
every shown slot, most of them never requested, so the comparison leans towards the
interaction learner. The label :data:`eval.retrain.LOG_LABEL` keeps the targets alike (the graded outcome
above "requested"), and the report counts promotions and refusals. To see a log learner
without the guard, set ``retrain_margin`` to 1: every candidate is then promoted, still
through the registry. The simulator's own ``ndcg_truth`` (the served lists against the truth)
is the fair judge either way.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eval.retrain import LogFit, log_candidate, retrain
from mentor_match.errors import NotEnoughDataError
from mentor_match.validation import check_choice, check_int
from synthetic.appeal import examination_probability

logger = logging.getLogger(__name__)

__all__ = ["retrain_step", "true_examination"]

def true_examination(k: int, curve: str, strength: float) -> list[float]:
    """The simulator's examination probability of positions 1..k, over position 1's (the
    scale of a learned curve).

    >>> true_examination(4, "reciprocal", 1.0)
    [1.0, 0.5, 0.3333333333333333, 0.25]
    """
    k = check_int("k", k, "true_examination")
    values = examination_probability(np.arange(1, k + 1), curve, strength=strength)
    return [float(v) for v in values / values[0]]


def retrain_step(
    *, db_url: str, artifacts: Path, now: datetime, week: int, seed: int, learn_from: str, debias: str,
    k: int, margin: float, encoder,
) -> dict[str, Any]:
    """One scheduled retraining of a market (module doc); returns the event the report keeps.

    Keys: ``week``, ``as_of``, ``outcome`` (``"promoted"``, ``"refused"``, or ``"skipped"``
    when there was not enough data to train), ``reason`` (the guard's sentence, or why it was
    skipped), ``model_version`` (the promoted candidate's; None otherwise), ``candidate`` and
    ``production`` (NDCG@10 on the held-out mentees; None when not compared), ``difference``
    (``mean_diff``, ``ci_low``, ``ci_high``; None without a production ranker), ``lists`` and
    ``held_out_lists`` (logged lists trained on and left out; None from the interactions) and
    ``examination_curve`` (the learned curve over ``k`` positions; ``debias="unbiased"`` only).
    """
    check_choice("learn_from", learn_from, "retrain_step", ("interactions", "log"))
    note = LogFit()
    fit = log_candidate(debias, k, seed, note) if learn_from == "log" else None
    event: dict[str, Any] = {
        "week": week, "as_of": pd.Timestamp(now).isoformat(), "outcome": "skipped", "reason": "",
        "model_version": None, "candidate": None, "production": None, "difference": None,
        "lists": None, "held_out_lists": None, "examination_curve": None,
    }
    try:
        result = retrain(db_url, artifacts, now=now, seed=seed, margin=margin, encoder=encoder,
                         fit_candidate=fit, progress=False)
    except NotEnoughDataError as exc:
        event["reason"] = f"Skipped: {exc}"
        logger.info("week %d: retraining skipped: %s", week, exc)
        return event
    difference = result["difference"]
    event.update(
        outcome="promoted" if result["promoted"] else "refused",
        reason=result["reason"],
        model_version=result["candidate"]["model_version"],
        candidate=result["candidate"]["mean"],
        production=None if result["production"] is None else result["production"]["mean"],
        difference=None if difference is None else {key: difference[key] for key in ("mean_diff", "ci_low", "ci_high")},
    )
    if learn_from == "log":
        event.update(lists=note.lists, held_out_lists=note.held_out_lists, examination_curve=note.examination_curve)
    return event
