"""An A/B test end to end on a generated world: two rankers, served lists, drawn outcomes.

What ``scripts/ab_demo.py`` runs, and what the closing note of the A/B work reports:

1. a world from a seed, written to a SQLite file (:mod:`synthetic`);
2. the index (``scripts/build_index.py``'s function) and two rankers trained on it: the
   control with the default parameters and a variant with other ones (shallower trees,
   another seed), published as ``artifacts/ranker`` and ``artifacts/variants/<name>/ranker``;
3. a 50/50 experiment served by one :class:`retrieval.Recommender` that logs every list;
4. outcomes of the logged slots drawn from the world's hidden truth
   (:func:`synthetic.outcomes.draw_outcomes`) and posted with :func:`db.outcomes.record_outcomes`;
5. the A/B report over the log (:func:`eval.ab.run.run_ab_report`).

Everything is seeded: the same arguments give the same report (up to the time stamps).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from db.engine import get_engine
from db.log_reading import load_log, served_slots
from db.outcomes import record_outcomes
from eval.ab.run import run_ab_report
from eval.training_run import run_training
from index.build import build_index_from_db
from mentor_match.validation import check_int
from retrieval.experiments import Experiment
from retrieval.recommender import Recommender
from synthetic import generate_world, write_world
from synthetic.outcomes import draw_outcomes

logger = logging.getLogger(__name__)

VARIANT = "shallow"
VARIANT_PARAMS = {"xgboost_ranker": {"max_depth": 2, "n_estimators": 60}}
"""The variant's ranker: fewer, shallower trees than the control's defaults."""


def run_ab_demo(
    out: str | Path,
    *,
    mentors: int = 400,
    mentees: int = 1200,
    k: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    encoder=None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the whole experiment into ``out`` (database, artifacts, report); returns a summary.

    ``encoder`` defaults to the shipped MiniLM. The summary holds the report's verdict and
    paths, the counts of lists and events, and the seconds each step took.
    """
    from embeddings import Encoder

    check_int("mentors", mentors, "run_ab_demo", low=20)
    check_int("mentees", mentees, "run_ab_demo", low=20)
    check_int("k", k, "run_ab_demo")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / "ab_demo.db"
    db_path.unlink(missing_ok=True)
    db_url = f"sqlite:///{db_path}"
    artifacts = out / "artifacts"
    encoder = Encoder() if encoder is None else encoder
    seconds: dict[str, float] = {}

    def step(name: str, started: float) -> None:
        seconds[name] = round(time.perf_counter() - started, 2)
        logger.info("%s: %.1f s", name, seconds[name])

    started = time.perf_counter()
    world = generate_world(mentors, mentees, 6, seed=seed)
    engine = get_engine(db_url)
    try:
        write_world(engine, world, progress=False)
    finally:
        engine.dispose()
    step("world", started)

    started = time.perf_counter()
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=seed + 1, encoder=encoder, progress=False)
    run_training(db_url, artifacts, seed=seed + 2, encoder=encoder, progress=False, params=VARIANT_PARAMS, variant=VARIANT)
    step("index and rankers", started)

    experiment = Experiment.from_dict({
        "name": f"demo-{seed}",
        "salt": f"demo-{seed}",
        "control": "control",
        "variants": [{"name": "control", "share": 0.5}, {"name": VARIANT, "share": 0.5}],
    })
    (artifacts / "experiment.json").write_text(json.dumps(experiment.to_dict(), indent=2) + "\n")

    started = time.perf_counter()
    recommender = Recommender.load(artifacts, db_url, experiment=experiment, encoder=encoder, log=True)
    try:
        ids = world.mentees["mentee_id"].tolist()
        for mentee_id in tqdm(ids, desc="serving", unit="list", disable=not progress):
            recommender.recommend(mentee_id=mentee_id, k=k)
    finally:
        recommender.close()
    log_stats = recommender.log_stats
    step("serving", started)

    started = time.perf_counter()
    engine = get_engine(db_url)
    try:
        slots = served_slots(load_log(engine, experiment=experiment.name))
        truth_mentees, truth_mentors = world.with_truth()
        events = draw_outcomes(slots, truth_mentees, truth_mentors, seed=seed)
        record_outcomes(engine, events)
    finally:
        engine.dispose()
    step("outcomes", started)

    started = time.perf_counter()
    report, paths = run_ab_report(
        db_url, experiment=experiment.name, shares=experiment.shares, control=experiment.control,
        out_dir=out / "report", n_boot=n_boot, seed=seed,
    )
    step("report", started)
    return {
        "experiment": experiment.to_dict(),
        "lists": int(log_stats.written),
        "dropped": int(log_stats.dropped),
        "slots": int(len(slots)),
        "events": len(events),
        "verdict": report["verdict"],
        "verdict_withheld": report["verdict_withheld"],
        "report": {name: str(path) for name, path in paths.items()},
        "seconds": seconds,
    }
