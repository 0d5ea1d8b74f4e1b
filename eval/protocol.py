"""The offline evaluation protocol behind ``scripts/evaluate.py``: three views of one split.

One split, by mentee and time by default, made exactly as
:func:`eval.training_run.run_training` makes it (same function, shares and seed), with the
mentor aggregates as of each request (:mod:`ranking.history`), and the four models trained on its train side with the same
code (:func:`ranking.training.train_models`). Then, on the held-out mentees only:

1. Classification view: accuracy, precision, recall, F1, ROC-AUC, GAUC per model on the
   held-out labelled pairs (:func:`eval.comparison.evaluate_models`: the ranker's 0/1
   prediction is its Platt-calibrated score >= 0.5, the rule training uses).
2. Ranking view: per held-out mentee, NDCG@5/10, MAP@10 and MRR over the mentee's observed
   interactions with graded relevance; 95% bootstrap intervals over mentees and a paired
   comparison of the ranker against each baseline.
3. End-to-end view: for a seeded sample of held-out mentees, the two-stage
   :class:`retrieval.Recommender` (the published index + the ranker trained above) over
   every eligible mentor, with the synthetic ground truth ``p_match`` as gain; beside it
   the same ranker over all eligible mentors (exact), stage 1 alone, random and the oracle,
   and every model (the baselines too) over all eligible mentors with paired intervals.
   Stage-1 recall of the oracle's and the exact ranker's top 10 at K candidates, and the
   coverage and Gini of the two-stage lists.

Without the synthetic truth tables (real data) the end-to-end metrics that need gains are
``None`` and the report says so; stage-1 recall of the exact ranker, coverage and Gini
are still measured.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from db.engine import get_engine
from db.loading import load_dataset
from eval.comparison import evaluate_models
from eval.metrics import ndcg_at_ks_per_query, ndcg_per_query
from eval.report import CLASSIFICATION_KEYS, MODEL_NAMES, ndcg_curve, ranking_summary, write_report
from eval.stats import bootstrap_ci, compare_to_reference, coverage, gini
from mentor_match.errors import (
    ArtifactError,
    DataValidationError,
    InvalidParameterError,
    NotEnoughDataError,
    SchemaError,
)
from ranking.splits import GroupedSplit
from ranking.training import (
    build_training_pairs,
    distil_preranker,
    make_pair_frame,
    serving_mentors,
    split_pairs,
    train_models,
)
from synthetic import load_truth, true_match_probability

logger = logging.getLogger(__name__)

__all__ = [
    "RECALL_KS",
    "evaluate",
    "headline_tables",
    "offline_views",
    "pipeline_view",
    "split_by_mentee",
]

RECALL_KS = (10, 20, 50, 100, 200, 500)
REFERENCE_TOP = 10
REFERENCE = "xgboost_ranker"
CLASSIFIERS = ("logistic_regression", "random_forest", "xgboost_classifier")
ORDERINGS = {
    "": "two_stage",
    "_exact": "exact",
    "_stage1_only": "stage1_only",
    "_random": "random",
    "_oracle": "oracle",
}
"""Suffix of the report's ``ndcg@K`` keys -> ordering of the end-to-end view."""


# --------------------------------------------------------------------------- split


def split_by_mentee(pairs: pd.DataFrame, seed: int = 42, how: str = "time") -> GroupedSplit:
    """The train / validation / test split of training, checked to share no mentee.

    Same function, shares and seed as :func:`eval.training_run.run_training`
    (:func:`ranking.training.split_pairs`; ``how`` is ``time`` or ``mentee``), so the
    held-out mentees here are the ones the published ranker never saw.
    """
    groups = pairs["mentee_id"].to_numpy()
    split = split_pairs(pairs, how, seed)
    parts = {name: set(groups[getattr(split, name)]) for name in ("train", "validation", "test")}
    for a, b in (("train", "test"), ("validation", "test"), ("train", "validation")):
        shared = parts[a] & parts[b]
        if shared:
            raise DataValidationError(
                f"The split puts {len(shared)} mentee(s) (e.g. {sorted(shared)[:3]}) in both "
                f"{a} and {b}; the evaluation would leak. This is a bug in the split: report it."
            )
    return split


# --------------------------------------------------------------------------- views


def offline_views(
    trained, X: pd.DataFrame, pairs: pd.DataFrame, rows: np.ndarray, *, n_boot: int, seed: int
) -> tuple[dict[str, dict[str, Any]], list[dict], dict[str, Any]]:
    """Classification and ranking views on the held-out ``rows``.

    Returns (report["models"], report["comparisons"], the curves for the ROC, NDCG@K,
    calibration and feature-importance plots).
    """
    Xt = X.iloc[rows]
    label = pairs["label"].to_numpy()[rows]
    relevance = pairs["relevance"].to_numpy()[rows]
    mentee = pairs["mentee_id"].to_numpy()[rows]
    classification = evaluate_models(trained, X, pairs, rows)
    scores = {name: trained.scores(name, Xt) for name in MODEL_NAMES}
    models = {
        name: {key: classification[name][key] for key in CLASSIFICATION_KEYS}
        | ranking_summary(relevance, scores[name], mentee, n_boot=n_boot, seed=seed)
        for name in MODEL_NAMES
    }
    per_mentee = {name: ndcg_per_query(relevance, s, 10, mentee) for name, s in scores.items()}
    comparisons = compare_to_reference(per_mentee, reference=REFERENCE, n_boot=n_boot, seed=seed)
    importance = trained.models[REFERENCE].feature_importance("gain")
    total = importance.sum()
    curves = {
        "roc": {name: (label, s) for name, s in scores.items()},
        "ndcg_at_k": ndcg_curve(relevance, scores, mentee, n_boot=n_boot, seed=seed),
        "calibration": {name: (label, scores[name]) for name in CLASSIFIERS},
        "feature_importance": (importance / total if total > 0 else importance).to_dict(),
    }
    return models, comparisons, curves


def _list_scores(pairs: pd.DataFrame, ranked: pd.DataFrame) -> np.ndarray:
    """Scores on ``pairs`` that reproduce a ranked list: 1 / rank if listed, else 0."""
    merged = pairs.merge(ranked[["mentee_id", "mentor_id", "rank"]], how="left")
    return (1.0 / merged["rank"].to_numpy(dtype=float, na_value=np.inf)).astype(float)


def _top(pairs: pd.DataFrame, scores: np.ndarray, n: int) -> pd.DataFrame:
    """Each mentee's ``n`` best pairs by ``scores`` (ties: the earlier row first)."""
    ordered = pairs.assign(_s=scores).sort_values(
        ["mentee_id", "_s"], ascending=[True, False], kind="stable"
    )
    return ordered.groupby("mentee_id", sort=False).head(n)[["mentee_id", "mentor_id"]]


def _stage1_recall(
    reference: pd.DataFrame, retrieved: pd.DataFrame, ks: Sequence[int]
) -> list[float]:
    """Mean over mentees of the share of ``reference`` pairs among the top K retrieved."""
    rank = reference.merge(retrieved, how="left")["rank"].to_numpy(dtype=float, na_value=np.inf)
    hits = pd.DataFrame(rank[:, None] <= np.asarray(ks)[None, :], columns=list(ks))
    return hits.groupby(reference["mentee_id"].to_numpy()).mean().mean().tolist()


def pipeline_view(
    recommender,
    mentee_ids: Sequence[int],
    *,
    k: int = 10,
    seed: int = 42,
    truth: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    models: Mapping[str, Any] | None = None,
    n_boot: int = 1000,
) -> tuple[dict[str, Any], dict[str, list]]:
    """End-to-end view for ``mentee_ids``: report["pipeline"] and the stage-1 recall curve.

    ``models`` (name -> scorer over :data:`ranking.features.FEATURES`) are each scored over
    the same eligible pairs with the same features: ``models_end_to_end`` holds each one's
    NDCG@10 against the truth with a bootstrap interval over mentees, and
    ``models_end_to_end_comparisons`` the paired intervals of the ranker against each.

    ``truth`` is (mentees, mentors) with the synthetic truth columns (:func:`synthetic.load_truth`);
    the gain of a pair is its ``p_match``. Every ordering is scored over all pairs of
    :func:`eval.exhaustive.eligible_pairs`, so a good mentor that stage 1 misses
    counts against the pipeline. NDCG is reported at 10 (the public keys) and at ``k``.
    """
    from eval.exhaustive import eligible_pairs, score_pairs

    pairs = eligible_pairs(recommender, mentee_ids)
    if pairs.empty:
        raise NotEnoughDataError(
            "No eligible (active, not full, not yet contacted) mentor for the sampled mentees; "
            "the end-to-end view has nothing to rank. Generate or load more mentors."
        )
    exact = score_pairs(recommender, pairs)
    top = recommender.recommend_batch(mentee_ids, max(k, REFERENCE_TOP), progress=False)
    # pool = n: the nearest mentors in similarity order, without the pre-ranker.
    retrieved = recommender.retrieve(mentee_ids, max(RECALL_KS), pool=max(RECALL_KS), progress=False)
    retrieved["rank"] = retrieved.groupby("mentee_id", sort=False).cumcount() + 1
    retrieved = retrieved[["mentee_id", "mentor_id", "rank"]]

    cutoffs = sorted({REFERENCE_TOP, k})
    out: dict[str, Any] = {"mentees": len(mentee_ids), "eligible_pairs": len(pairs), "k": k}
    gains = None
    if truth is not None:
        gains = true_match_probability(truth[0], truth[1], pairs)["p_match"].to_numpy()
        orderings = {
            "two_stage": _list_scores(pairs, top),
            "exact": exact,
            "stage1_only": _list_scores(pairs, retrieved),
            "random": np.random.default_rng(seed).random(len(pairs)),
            "oracle": gains,
        }
        groups = pairs["mentee_id"].to_numpy()
        means = {
            name: ndcg_at_ks_per_query(gains, s, cutoffs, groups).mean()
            for name, s in orderings.items()
        }
        if models:
            out.update(_every_model(recommender, pairs, gains, models, n_boot=n_boot, seed=seed))
    for suffix, name in ORDERINGS.items():
        for cutoff in cutoffs:
            out[f"ndcg@{cutoff}{suffix}"] = None if gains is None else float(means[name][cutoff])

    references = {"exact": _top(pairs, exact, REFERENCE_TOP)}
    if gains is not None:
        references = {"oracle": _top(pairs, gains, REFERENCE_TOP)} | references
    recall = {name: _stage1_recall(ref, retrieved, RECALL_KS) for name, ref in references.items()}
    out["stage1_recall"] = {
        str(K): {name: values[i] for name, values in recall.items()}
        for i, K in enumerate(RECALL_KS)
    }
    # What the ranker really sees: the default candidates, pre-ranked out of the pool.
    chosen = recommender.retrieve(mentee_ids, progress=False)[["mentee_id", "mentor_id"]]
    chosen = chosen.assign(rank=chosen.groupby("mentee_id", sort=False).cumcount() + 1)
    n_chosen = int(chosen["rank"].max()) if len(chosen) else 0
    out["stage1_recall_preranked"] = {
        name: _stage1_recall(ref, chosen, [max(n_chosen, 1)])[0] for name, ref in references.items()
    } | {"candidates": n_chosen}
    lists = top.loc[top["rank"] <= k, "mentor_id"]
    catalogue = int(pairs["mentor_id"].nunique())
    out["coverage"] = coverage(lists.to_numpy(), catalogue)
    out["gini"] = gini(lists.value_counts().to_numpy(), catalogue_size=catalogue)
    out["catalogue"] = catalogue
    return out, {"k": list(RECALL_KS)} | recall


def _every_model(recommender, pairs: pd.DataFrame, gains: np.ndarray, models: Mapping[str, Any], *,
                 n_boot: int, seed: int) -> dict[str, Any]:
    """Each model's NDCG@10 against the truth over all eligible pairs, with intervals, and
    the ranker's paired differences against the others (same mentees, same features)."""
    stages = recommender.stages
    mentees = stages.catalogue.lookup(pd.unique(pairs["mentee_id"]))
    X = stages.reranker.features(mentees.prepared, mentees.vectors, pairs)
    groups = pairs["mentee_id"].to_numpy()
    per_mentee = {name: ndcg_per_query(gains, np.asarray(model.predict(X), float), REFERENCE_TOP, groups)
                  for name, model in models.items()}
    summary = {}
    for name, values in per_mentee.items():
        low, high = bootstrap_ci(values, n_boot=n_boot, seed=seed)
        summary[name] = {"ndcg@10": float(values.mean()), "ndcg@10_ci": [low, high]}
    comparisons = []
    if REFERENCE in per_mentee and len(per_mentee) > 1:
        comparisons = compare_to_reference(per_mentee, reference=REFERENCE, n_boot=n_boot, seed=seed)
    return {"models_end_to_end": summary, "models_end_to_end_comparisons": comparisons}


# --------------------------------------------------------------------------- protocol


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidParameterError(
            f"The '{name}' parameter of evaluate must be an int >= {low}. Got {value!r}."
        )
    return int(value)


def _load_truth(engine, dataset) -> tuple[tuple[pd.DataFrame, pd.DataFrame] | None, str | None]:
    """(mentees, mentors) with the synthetic truth, or None and why (real data has none)."""
    try:
        return load_truth(engine, dataset.mentees, dataset.mentors), None
    except (SchemaError, DataValidationError) as exc:
        logger.warning("no synthetic ground truth: %s", exc)
        return None, (
            "No synthetic ground truth in this database, so the end-to-end NDCG and the "
            f"oracle recall are n/a ({exc})"
        )


def _load_index(artifacts: Path, encoder):
    from index import MentorIndex

    try:
        return MentorIndex.load(artifacts / "index", expected_encoder=encoder)
    except ArtifactError as exc:
        raise ArtifactError(f"The end-to-end evaluation needs the mentor index: {exc}") from None


def evaluate(
    db_url: str | None = None,
    artifacts: str | Path = "artifacts",
    report_dir: str | Path = "reports/latest",
    k: int = 10,
    seed: int = 42,
    pipeline_mentees: int = 300,
    n_boot: int = 1000,
    progress: bool = True,
    *,
    encoder=None,
    split: str = "time",
    point_in_time: bool = True,
) -> dict[str, Any]:
    """Run the three views and write the report (json, md, html, PNGs) into ``report_dir``.

    Returns the report exactly as written to ``report.json``. The index must exist
    (``scripts/build_index.py``); the models are trained here on the training mentees,
    so the published ``artifacts/ranker`` is not needed. ``encoder`` defaults to the
    shipped MiniLM; embeddings come from and go to ``artifacts/cache``. ``split`` is
    ``time`` (train before a cut, test after it) or ``mentee``
    (:func:`ranking.training.split_pairs`); ``point_in_time=False`` reads the mentor
    aggregates as the table holds them now, leak included (to measure the leak).
    """
    from embeddings import EmbeddingCache, Encoder
    from index import check_staleness
    from retrieval import Recommender

    started = time.perf_counter()
    k = _check_int("k", k, 1)
    pipeline_mentees = _check_int("pipeline_mentees", pipeline_mentees, 1)
    n_boot = _check_int("n_boot", n_boot, 1)
    artifacts = Path(artifacts)
    encoder = encoder or Encoder()
    index = _load_index(artifacts, encoder)  # before any training: fail fast
    engine = get_engine(db_url)
    try:
        dataset = load_dataset(engine)
        truth, truth_note = _load_truth(engine, dataset)
    finally:
        engine.dispose()
    notes = [
        f"Models trained in this run on the training mentees (seed {seed}), with the split and "
        "code of scripts/train.py; every metric is on held-out mentees only."
    ]
    notes += [truth_note] if truth_note else []
    stale = check_staleness(index, dataset.mentors[dataset.mentors["active"]])
    if stale.stale:
        logger.warning("%s", stale.message)
        notes.append(f"The index is stale: {stale.message}")

    pairs = build_training_pairs(dataset)
    X = make_pair_frame(dataset, pairs, encoder, artifacts / "cache", progress, point_in_time=point_in_time)
    parts = split_by_mentee(pairs, seed, split)
    trained = train_models(X, pairs, parts, seed=seed, progress=progress)
    groups = pairs["mentee_id"].to_numpy()
    test_mentees = np.unique(groups[parts.test])
    logger.info("trained on %d pairs; evaluating %d held-out mentees", len(parts.train), len(test_mentees))
    models, comparisons, curves = offline_views(
        trained, X, pairs, parts.test, n_boot=n_boot, seed=seed
    )

    vectors = EmbeddingCache(artifacts / "cache").get_or_encode(
        encoder, dataset.mentees["goals"].tolist(), progress=progress
    ).vectors
    # The deployed pipeline: the ranker with its pre-ranker, fitted as scripts/train.py does.
    preranker = distil_preranker(
        trained.models[REFERENCE], dataset, np.unique(groups[parts.train]), encoder,
        artifacts / "cache", seed,
    )
    mentors = serving_mentors(dataset) if point_in_time else dataset.mentors
    recommender = Recommender.from_components(
        index, trained.models[REFERENCE], mentors, dataset.mentees,
        dataset.interactions, vectors, preranker=preranker,
    )
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(test_mentees, min(pipeline_mentees, len(test_mentees)), replace=False))
    pipeline, curves["stage1_recall"] = pipeline_view(
        recommender, sample, k=k, seed=seed, truth=truth, models=trained.models, n_boot=n_boot
    )

    report = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": {
            "mentors": len(dataset.mentors),
            "mentees": len(dataset.mentees),
            "interactions": len(dataset.interactions),
            "labelled_pairs": len(pairs),
            "train_mentees": int(len(np.unique(groups[parts.train]))),
            "validation_mentees": int(len(np.unique(groups[parts.validation]))),
            "test_mentees": int(len(test_mentees)),
            "test_pairs": int(len(parts.test)),
            "test_base_rate": float(pairs["label"].to_numpy()[parts.test].mean()),
            "split": split,
            "point_in_time": point_in_time,
        },
        "models": models,
        "comparisons": comparisons,
        "pipeline": pipeline,
        "notes": notes,
        "seed": seed,
        "n_boot": n_boot,
        "seconds": round(time.perf_counter() - started, 2),
    }
    written = write_report(report, report_dir, curves=curves)
    logger.info("wrote the report to %s", written["html"])
    return json.loads(written["json"].read_text())


# --------------------------------------------------------------------------- text


def _every_model_lines(pipeline: dict[str, Any]) -> list[str]:
    """Every model's end-to-end NDCG@10 against the truth, with the ranker's paired lead."""
    summary = pipeline.get("models_end_to_end")
    if not summary:
        return []
    lead = {c["b"]: c for c in pipeline.get("models_end_to_end_comparisons", [])}
    lines = ["Every model over all eligible mentors (NDCG@10 against the truth, 95% CI; "
             "ranker minus model, paired):"]
    for name, row in summary.items():
        low, high = row["ndcg@10_ci"]
        line = f"  {name:<20} {row['ndcg@10']:.3f} [{low:.3f}, {high:.3f}]"
        if name in lead:
            c = lead[name]
            line += f"   ranker - model {c['mean_diff']:+.4f} [{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]"
        lines.append(line)
    return [*lines, ""]


def headline_tables(report: dict[str, Any]) -> str:
    """The report's headline numbers as plain-text tables (for a terminal)."""
    models = pd.DataFrame(report["models"]).T
    numbers = [*CLASSIFICATION_KEYS, "ndcg@5", "ndcg@10", "map@10", "mrr"]
    models[numbers] = models[numbers].astype(float)  # None (n/a) -> NaN
    models["ndcg@10_ci"] = models["ndcg@10_ci"].map(
        lambda ci: "n/a" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
    )
    cut = len(CLASSIFICATION_KEYS) + 2  # the interval goes after ndcg@10
    models = models[[*numbers[:cut], "ndcg@10_ci", *numbers[cut:]]]
    pipeline = report["pipeline"]
    orderings = pd.Series(
        {name: pipeline[f"ndcg@10{suffix}"] for suffix, name in ORDERINGS.items()},
        name="ndcg@10", dtype=float,
    )
    recall = pd.DataFrame(pipeline["stage1_recall"]).T.rename_axis("K")
    data = report["data"]
    lines = [
        f"{data['mentors']} mentors, {data['mentees']} mentees, {data['interactions']} "
        f"interactions; {data['test_mentees']} held-out mentees ({data['test_pairs']} pairs"
        + (f", base rate {data['test_base_rate']:.1%} successful)." if "test_base_rate" in data else ")."),
        "",
        "Classification and ranking views (held-out mentees):",
        models.to_string(float_format=lambda v: f"{v:.3f}", na_rep="n/a"),
        "",
        f"End-to-end view ({pipeline['mentees']} held-out mentees, all eligible mentors):",
        orderings.to_string(float_format=lambda v: f"{v:.3f}", na_rep="n/a"),
        f"coverage {pipeline['coverage']:.3f}, gini {pipeline['gini']:.3f}",
        "",
        *_every_model_lines(pipeline),
        "Stage-1 recall of the reference top 10 at K candidates:",
        recall.to_string(float_format=lambda v: f"{v:.3f}", na_rep="n/a"),
    ]
    return "\n".join(lines)
