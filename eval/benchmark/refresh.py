"""The live catalogue's cost: an incremental refresh after 1% of the mentors changed, beside an
idle refresh and a full reload, and the per-query database reads in ``recommend``.

A catalogue of ``config.refresh_mentors`` copies of the base mentors (as for the per-size
figures) is written to a throw-away SQLite database with the base mentees, indexed as
``scripts/build_index.py`` would (``auto``, tuned) and served by
:meth:`retrieval.Recommender.load`. Each repeat changes a fresh 1% of the mentors in one
transaction (two fifths deactivated, two fifths filled, a fifth given another base mentor's
bio) and adds 0.1% new mentors, then times :meth:`~retrieval.Recommender.refresh`. New bios
are base bios, so they come from the embedding cache: the figures are the catalogue's work;
encoding a new text adds 1 / (texts per second) of the encoder figures each.

The log's cost on the query path is measured on the same recommender, paired: each query
runs once without a log and once with a :class:`db.log.RecommendationLog` writing to the
database in the background (in random order per query), and the median of the per-query
differences is reported beside both medians.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, func, select, update

from db.connection import transaction
from db.engine import get_engine
from db.loading import load_interactions, load_mentors, validate_frame
from db.schema import mentors as mentors_table
from db.writing import frame_records
from eval.benchmark.catalogue import BaseWorld, make_catalogue
from eval.benchmark.config import BenchmarkConfig, K
from eval.benchmark.served import publish_catalogue_index, write_catalogue
from eval.benchmark.stages import recommender_over
from eval.benchmark.timing import percentile, single_threaded, timed
from ranking.history import mentors_as_of

logger = logging.getLogger(__name__)

CHANGED_SHARE = 0.01
ADDED_SHARE = 0.001
REPEATS = 3
IDLE_REPEATS = 5


def measure_refresh(base: BaseWorld, config: BenchmarkConfig, encoder, artifacts: Path, work: Path) -> dict[str, Any]:
    """The refresh figures at ``config.refresh_mentors`` (see the module docstring);
    ``artifacts`` holds the base world's ranker and embedding cache, ``work`` is scratch."""
    from retrieval import Recommender

    n = config.refresh_mentors
    rng = np.random.default_rng([config.seed, n, 7])
    catalogue, vectors, source = make_catalogue(base, n, config.noise, rng)
    catalogue = catalogue.assign(
        bio=base.mentors["bio"].to_numpy()[source], email=[f"bench{i}@example.org" for i in catalogue["mentor_id"]],
    )
    db_url = f"sqlite:///{work / 'refresh.db'}"
    engine = get_engine(db_url)
    served = work / "refresh-artifacts"
    try:
        started = time.perf_counter()
        write_catalogue(engine, catalogue, base.mentees)
        written = load_mentors(engine)
        write_s = time.perf_counter() - started
        index = publish_catalogue_index(written, vectors, base, encoder, artifacts, served)

        started = time.perf_counter()
        live = Recommender.load(served, db_url, encoder=encoder, refresh_interval=None, log=False)
        load_s = time.perf_counter() - started
        # The frames as load_live serves them: mentor aggregates as of now, from the outcomes.
        as_served = mentors_as_of(written, load_interactions(engine))
        static = recommender_over(index, base.ranker, as_served, base.mentees, base.goal_vectors, encoder)
        mentee_ids = base.mentees["mentee_id"].to_numpy()
        queries = rng.choice(mentee_ids, config.queries, replace=config.queries > len(mentee_ids))
        with single_threaded(base.ranker):
            frames_ms, frame_lists = timed(lambda m: static.recommend(mentee_id=int(m), k=K), queries)
            db_ms, db_lists = timed(lambda m: live.recommend(mentee_id=int(m), k=K), queries)
        log_off_ms, log_on_ms = _paired_log_cost(live, engine, queries, rng)
        same = float(np.mean([[r.mentor_id for r in a] == [r.mentor_id for r in b]
                              for a, b in zip(frame_lists, db_lists, strict=True)]))
        static = None  # its copy of the catalogue is not needed any more

        idle = [live.refresh().seconds for _ in range(IDLE_REPEATS)]
        one, runs, summaries = [], [], []
        untouched = np.ones(n, dtype=bool)
        for _ in range(REPEATS):
            _change(engine, rng, written, base, untouched, n_changed=1, n_added=0)
            one.append(live.refresh().seconds)
            _change(engine, rng, written, base, untouched, n_changed=max(1, round(CHANGED_SHARE * n)),
                    n_added=max(1, round(ADDED_SHARE * n)))
            summary = live.refresh()
            runs.append(summary.seconds)
            summaries.append(summary.to_dict())
        started = time.perf_counter()
        live.reload()
        reload_s = time.perf_counter() - started
        with single_threaded(base.ranker):
            after_ms, _ = timed(lambda m: live.recommend(mentee_id=int(m), k=K), queries)
        side = len(live.stages.index.side)
        live.close()
    finally:
        engine.dispose()
    return {
        "mentors": n,
        "changed_share": CHANGED_SHARE,
        "added_share": ADDED_SHARE,
        "refresh_s": round(float(np.median(runs)), 4),
        "refresh_runs_s": [round(s, 4) for s in runs],
        "refresh_one_s": round(float(np.median(one)), 4),
        "refresh_idle_s": round(float(np.median(idle)), 5),
        "reload_s": round(reload_s, 3),
        "load_s": round(load_s, 3),
        "write_db_s": round(write_s, 3),
        "refreshes": summaries,
        "side_after_reload": side,
        "p50_ms_known_frames": percentile(frames_ms, 50),
        "p50_ms_known_db": percentile(db_ms, 50),
        "p95_ms_known_db": percentile(db_ms, 95),
        "p50_ms_known_db_with_side": percentile(after_ms, 50),
        "p50_ms_log_off": percentile(log_off_ms, 50),
        "p50_ms_log_on": percentile(log_on_ms, 50),
        "log_overhead_ms_p50": percentile(log_on_ms - log_off_ms, 50),
        "same_lists_frames_db": round(same, 4),
        "index_spec": index.spec,
    }


def _paired_log_cost(live, engine, queries: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds per known-mentee query without and with the log, paired per query."""
    from db.log import RecommendationLog

    log = RecommendationLog(engine)
    off, on = np.empty(len(queries)), np.empty(len(queries))
    try:
        for i, mentee_id in enumerate(queries):
            for logged in rng.permutation(2):
                live.log = log if logged else None
                started = time.perf_counter()
                live.recommend(mentee_id=int(mentee_id), k=K)
                (on if logged else off)[i] = (time.perf_counter() - started) * 1000.0
    finally:
        live.log = None
        log.close()
    if log.stats.written != len(queries):
        raise RuntimeError(f"the benchmark's log wrote {log.stats.written} of {len(queries)} lists: {log.stats}")
    return off, on


def _change(engine, rng, written: pd.DataFrame, base: BaseWorld, untouched: np.ndarray, *, n_changed: int,
            n_added: int) -> None:
    """One transaction: ``n_changed`` mentors not changed before (2/5 deactivated, 2/5 filled,
    1/5 a new bio) and ``n_added`` new ones, all stamped after every row so far."""
    picked = rng.choice(np.flatnonzero(untouched), n_changed, replace=False)
    untouched[picked] = False
    ids = written["mentor_id"].to_numpy()[picked]
    kind = np.arange(n_changed) % 5
    bios = base.mentors["bio"].to_numpy()[rng.integers(0, len(base.mentors), n_changed)]
    target = mentors_table.c.mentor_id == bindparam("target")
    with transaction(engine) as conn:
        stamp = conn.execute(select(func.max(mentors_table.c.updated_at))).scalar_one() + pd.Timedelta(seconds=1)
        stamp = pd.Timestamp(stamp).to_pydatetime()
        groups = [
            (kind < 2, {"active": False}),
            ((kind >= 2) & (kind < 4), {"current_mentees": mentors_table.c.max_mentees}),
        ]
        for mask, values in groups:
            if mask.any():
                conn.execute(update(mentors_table).where(target).values(**values, updated_at=stamp),
                             [{"target": int(i)} for i in ids[mask]])
        if (kind == 4).any():
            conn.execute(update(mentors_table).where(target).values(bio=bindparam("new_bio"), updated_at=stamp),
                         [{"target": int(i), "new_bio": str(b)} for i, b in zip(ids[kind == 4], bios[kind == 4], strict=True)])
        if n_added:
            first = int(conn.execute(select(func.max(mentors_table.c.mentor_id))).scalar_one()) + 1
            joined = written.sample(n_added, random_state=int(rng.integers(1 << 31))).assign(
                mentor_id=np.arange(first, first + n_added), current_mentees=0, active=True,
                created_at=stamp, updated_at=stamp,
            )
            joined["email"] = [f"joined{i}@example.org" for i in joined["mentor_id"]]
            conn.execute(mentors_table.insert(), frame_records(validate_frame(mentors_table, joined)))
