"""A live catalogue: the served mentors follow the database between loads, incrementally.

The freshness contract (docs/live-catalogue.md): a change committed to the database shows in
recommendations within ``refresh_interval`` seconds (plus the time one refresh takes), and
immediately after :meth:`retrieval.Recommender.refresh`; a mentee and the mentors they
contacted are read per query (:mod:`retrieval.mentees`).

How a refresh sees what changed (:class:`MentorFeed`):

* changed and new rows: ``updated_at > watermark - OVERLAP``, a range scan of the index on
  ``mentors.updated_at``. The watermark is the newest ``updated_at`` seen (the writers'
  clock, not ours); the overlap re-reads the last :data:`OVERLAP` of rows so that a
  transaction which stamped its rows before the last look but committed after it is still
  seen. A re-read row whose ``updated_at`` equals the one applied is skipped, so applying is
  idempotent and unchanged rows cost nothing further.
* deleted rows: ``SELECT count(*)`` against the count expected; only when the two differ are
  the ids read (an index-only scan) and compared. A row inserted with an old ``updated_at``
  is found the same way.

How a change is applied (:func:`apply_changes`): the changed rows are validated and prepared
once; a mentor who is newly eligible and not served, or whose bio changed, is embedded (the
embedding cache in memory, then the encoder) and served from the side index (its FAISS row,
if any, made ineligible); the others are updated where they are. Snapshots are immutable:
the per-row arrays (eligibility, prepared profiles, reasons' fields, each arm's prior) are
copied whole and the changed rows replaced -- O(n) copies of small arrays, measured by the
benchmark -- and no unchanged mentor is prepared again.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Result, func, select

from db.connection import connect
from db.loading import load_interactions, load_mentors, validate_frame
from db.schema import mentors as mentors_table
from embeddings import EmbeddingCache, Encoder
from index import MentorIndex, check_staleness, mentor_content_hashes
from index.live import LiveIndex, SideIndex
from mentor_match.errors import StaleArtifactError
from ranking.features import prepare_mentors
from ranking.history import mentors_as_of, with_aggregates
from ranking.models import Ranker
from retrieval.catalogue import SERVED_FIELDS, Catalogue, eligibility, retired_id
from retrieval.experiments import Experiment
from retrieval.mentees import IN_CHUNK, DatabaseMentees
from retrieval.scoring import Scoring
from retrieval.stages import LazyEncoder, Stages, build_stages, check_compatible
from retrieval.vectors import TextVectors

logger = logging.getLogger(__name__)

OVERLAP = pd.Timedelta(seconds=60)
"""How far before the watermark a refresh reads again: the longest a writer's transaction
may take between stamping ``updated_at`` and committing (or its clock may lag others')
without its change being missed."""
SIDE_WARN_SHARE = 0.1
"""A side index larger than this share of the main index is warned about: it is searched
exactly, so its cost grows with it until scripts/build_index.py folds it in."""
_FILL = {"f": np.nan, "i": 0, "b": False, "U": ""}  # the filler of a new row, by dtype kind
SAME_VECTOR = 1.0 - 1e-4
"""Cosine from which a bio's vector counts as the one in the index (the same text)."""


@dataclass(frozen=True)
class RefreshSummary:
    """What one refresh did: served mentors ``changed`` (their row was replaced), ``added``
    (newly served, from the side index), ``removed`` (deleted from the database); bios
    ``embedded`` by the encoder (cache misses), the ``side`` index's size after, and the
    ``seconds`` it took."""

    changed: int
    added: int
    removed: int
    seconds: float
    embedded: int = 0
    side: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MentorChanges:
    """Mentor rows changed or added since the last look (validated, all columns), ids
    deleted since, and the newest ``updated_at`` read (None: nothing read)."""

    rows: pd.DataFrame
    removed: np.ndarray
    watermark: pd.Timestamp | None

    @property
    def empty(self) -> bool:
        return self.rows.empty and not len(self.removed)


class MentorFeed:
    """The database's mentors as last seen (id -> ``updated_at``), and what changed since.

    :meth:`read` reads the changes without taking them as seen; :meth:`commit` does, once
    they are applied, so a refresh that fails is repeated in full next time.
    """

    def __init__(
        self, engine: Engine, mentors: pd.DataFrame, *, overlap: pd.Timedelta = OVERLAP,
        aggregates: pd.DataFrame | None = None,
    ) -> None:
        self.engine = engine
        self.overlap = overlap
        self.aggregates = aggregates  # the mentor aggregates as of the load (ranking.history)
        stamps = _stamps(mentors)
        self._updated: dict[int, int] = dict(zip(mentors["mentor_id"].astype(int).tolist(), stamps.tolist(), strict=True))
        self._watermark = mentors["updated_at"].max() if len(mentors) else None
        self._none = mentors.iloc[:0]  # the validated frame of no rows

    def __len__(self) -> int:
        return len(self._updated)

    def read(self) -> MentorChanges:
        """Rows with ``updated_at`` after the watermark minus the overlap, rows the count
        says were added with an older stamp, and the ids deleted (see the module docstring)."""
        columns = [c.name for c in mentors_table.columns]
        query = select(mentors_table)
        if self._watermark is not None:
            since = (self._watermark - self.overlap).to_pydatetime()
            query = query.where(mentors_table.c.updated_at > since)
        removed = np.empty(0, dtype=np.int64)
        with connect(self.engine) as conn:
            records = conn.execute(query).all()
            read_ids = np.asarray([r.mentor_id for r in records], dtype=np.int64)
            count = int(conn.execute(select(func.count()).select_from(mentors_table)).scalar_one())
            expected = len(self._updated) + sum(int(i) not in self._updated for i in read_ids)
            if count != expected:
                now = _column(conn.execute(select(mentors_table.c.mentor_id)))
                known = np.fromiter(self._updated, dtype=np.int64, count=len(self._updated))
                removed = np.setdiff1d(known, now)
                older = np.setdiff1d(np.setdiff1d(now, known), read_ids)
                for start in range(0, len(older), IN_CHUNK):
                    chunk = older[start : start + IN_CHUNK].tolist()
                    records += conn.execute(select(mentors_table).where(mentors_table.c.mentor_id.in_(chunk))).all()
        # Rows re-read in the overlap and already applied are dropped before the (costly) validation.
        stamps = [pd.Timestamp(r.updated_at).value for r in records]
        watermark = pd.Timestamp(max(stamps)) if stamps else None
        fresh = [r for r, stamp in zip(records, stamps, strict=True) if self._updated.get(int(r.mentor_id)) != stamp]
        frame = validate_frame(mentors_table, pd.DataFrame.from_records(fresh, columns=columns)) if fresh else self._none
        if self.aggregates is not None and len(frame):
            frame = with_aggregates(frame, self.aggregates)
        return MentorChanges(frame, removed, watermark)

    def commit(self, changes: MentorChanges) -> None:
        """Take ``changes`` as seen (they were applied)."""
        self._updated.update(zip(changes.rows["mentor_id"].astype(int).tolist(), _stamps(changes.rows).tolist(), strict=True))
        for mentor_id in changes.removed.tolist():
            self._updated.pop(mentor_id, None)
        if changes.watermark is not None and (self._watermark is None or changes.watermark > self._watermark):
            self._watermark = changes.watermark


class LiveMentors:
    """Keeps stages current with the database: the feed, the bios' vectors and the interval.

    ``refresh_interval``: seconds between automatic refreshes (None: only on request).
    """

    def __init__(self, feed: MentorFeed, vectors: TextVectors, refresh_interval: float | None) -> None:
        self.feed = feed
        self.vectors = vectors
        self.refresh_interval = refresh_interval
        self._next = self._after_interval()
        self.read_at = time.time()  # when the mentors were last read from the database

    def _after_interval(self) -> float:
        return np.inf if self.refresh_interval is None else time.monotonic() + self.refresh_interval

    def due(self) -> bool:
        """Whether the interval has passed since the last refresh."""
        return time.monotonic() >= self._next

    def refresh(self, stages: Stages) -> tuple[Stages, RefreshSummary]:
        """``stages`` with the changes since the last look applied, and what was done."""
        started = time.perf_counter()
        embedded = self.vectors.encoded
        try:
            read_at = time.time()
            changes = self.feed.read()
            counts = {"changed": 0, "added": 0, "removed": 0}
            if not changes.empty:
                stages, counts = apply_changes(stages, changes, self.vectors)
            self.feed.commit(changes)
            self.read_at = read_at
        finally:
            self._next = self._after_interval()
        summary = RefreshSummary(
            **counts, seconds=round(time.perf_counter() - started, 6),
            embedded=self.vectors.encoded - embedded, side=len(stages.index.side),
        )
        if not changes.empty:
            logger.info("refresh: %s", summary)
            _warn_if_side_large(stages, logger.warning)
        return stages, summary


def apply_changes(
    stages: Stages, changes: MentorChanges, vectors: TextVectors, *, reembed: np.ndarray | None = None
) -> tuple[Stages, dict[str, int]]:
    """``stages`` with ``changes`` applied (see the module docstring), and the counts of
    served mentors changed, added and removed. ``reembed``: ids of served mentors whose
    vector must be made again although their bio text is the one held (load uses it for
    bios that changed before it ran)."""
    catalogue, index = stages.catalogue, stages.index
    n, s = len(index.main), len(index.side)
    rows = changes.rows.drop_duplicates("mentor_id", keep="last").reset_index(drop=True)
    ids = rows["mentor_id"].to_numpy(np.int64)
    at = catalogue.rows_of(ids)
    ok = eligibility(rows)
    bios = rows["bio"].to_numpy(object)
    held = catalogue.fields.get("bio")
    served = at >= 0
    new_bio = served & (held[np.maximum(at, 0)] != bios if held is not None else False)
    if reembed is not None:
        new_bio |= served & np.isin(ids, reembed)
    new = ~served & ok  # not served yet and may be: from the side index
    write = served | new
    moving = new_bio & (at < n)  # leave their FAISS row for a side row
    appended = new | moving
    target = at.copy()
    target[appended] = n + s + np.arange(int(appended.sum()))
    size = n + s + int(appended.sum())
    retired = at[moving]
    written = target[write]

    mentor_ids = _extended(catalogue.mentor_ids, size, 0)
    mentor_ids[written] = ids[write]
    mentor_ids[retired] = retired_id(retired)
    eligible = _extended(catalogue.eligible, size, False)
    eligible[written] = ok[write]
    eligible[retired] = False
    removed_rows = catalogue.rows_of(changes.removed)
    removed_rows = removed_rows[removed_rows >= 0]
    eligible[removed_rows] = False
    frame = rows[write].reset_index(drop=True)
    prepared = catalogue.prepared_mentors.with_rows(size, written, prepare_mentors(frame), mentor_ids)
    fields = {}
    for name in SERVED_FIELDS:
        if name in catalogue.fields:
            held_values = catalogue.fields[name]
            values = _extended(held_values, size, _FILL.get(held_values.dtype.kind, None))
            values[written] = frame[name].to_numpy(held_values.dtype if held_values.dtype.kind in _FILL else object)
            fields[name] = values

    embed = new | new_bio
    side = index.side
    if embed.any():
        side = side.with_rows(target[embed] - n, ids[embed], vectors.get(bios[embed].tolist()), ok[embed])
    side = SideIndex(side.ids, side.vectors, eligible[n:].copy())
    live = index.with_changes(eligible[:n].copy(), side)
    refreshed = Catalogue(mentor_ids, eligible, prepared, fields, catalogue.mentees)
    # Build the id hash tables and the search bitmap now, so the first query does not pay for them.
    refreshed.rows_of(ids[:1])
    prepared.rows(mentor_ids[:1])
    _ = live.excluded.allowed
    counts = {"changed": int(served.sum()), "added": int(new.sum()), "removed": len(removed_rows)}
    return stages.with_mentors(refreshed, live, np.unique(written)), counts


def artifact_links(artifacts: Path, experiment: Experiment | None = None) -> dict[str, str]:
    """What each artifact :func:`load_live` reads resolves to now (``artifacts/index``, each
    variant's ranker and heads): a publish swaps a link, so a change here means a reload
    would serve something new. A missing one resolves to itself.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / ".index-v1").mkdir()
    >>> (folder / "index").symlink_to(".index-v1")
    >>> Path(artifact_links(folder)[str(folder / "index")]).name
    '.index-v1'
    """
    experiment = Experiment.single() if experiment is None else experiment
    paths = [artifacts / "index"]
    for variant in experiment.variants:
        paths += [variant.ranker_path(artifacts), variant.heads_path(artifacts)]
    return {str(path): os.path.realpath(path) for path in paths if path is not None}


def load_live(
    artifacts: Path, engine: Engine, *, strict: bool, get_encoder: Callable[[], Encoder],
    refresh_interval: float | None, experiment: Experiment | None = None, mmap: bool | None = None,
) -> tuple[Stages, LiveMentors]:
    """The index and ranker of ``artifacts`` over the database's mentors, and what keeps them
    current. With an ``experiment``, every variant's ranker, and the heads of a variant scored
    by them (:mod:`retrieval.scoring`), are loaded from ``artifacts`` as published now.
    ``mmap``: map the index read-only (:meth:`MentorIndex.load`; None: ``MENTOR_MATCH_MMAP``).

    A stale index (mentors added, changed or removed since the build) raises
    :class:`StaleArtifactError` with ``strict``, before anything is embedded. Otherwise the
    mentors the index does not hold as they are now (added since the build, or with a new
    bio) are served from the side index from the start, so they need no warning; only a side
    index above :data:`SIDE_WARN_SHARE` of the index warns (search cost), naming the fix.
    """
    index = MentorIndex.load(artifacts / "index", mmap=mmap)
    if experiment is None:
        experiment = Experiment.single()
    else:
        experiment.check_rankers(artifacts)  # names the variant and the command that publishes it
        experiment.check_heads(artifacts)
    rankers = {variant.name: Ranker.load(variant.ranker_path(artifacts)) for variant in experiment.variants}
    scorings = {variant.name: Scoring.for_variant(variant, artifacts) for variant in experiment.variants}
    for name, ranker in rankers.items():
        check_compatible(index, ranker, where=f"{artifacts} (variant {name!r})")
        scorings[name].check_compatible(index, where=f"{artifacts} (variant {name!r})")
    table = load_mentors(engine)
    active = table[table["active"]]
    report = check_staleness(index, active)
    if report.stale and strict:
        raise StaleArtifactError(report.message)
    # The features' mentor aggregates as of now, from the outcomes (as training computes them
    # per request), not the table's columns; recomputed at each load and reload.
    mentors = mentors_as_of(table, load_interactions(engine))
    aggregates = mentors[["mentor_id", "acceptance_rate", "total_mentees", "rating"]]
    lazy = LazyEncoder(index.manifest["encoder"], get_encoder)
    vectors = TextVectors(lazy, EmbeddingCache(artifacts / "cache").snapshot(lazy.identity))
    catalogue = Catalogue.from_frames(mentors, index.ids, DatabaseMentees(engine, vectors))
    control = rankers.pop(experiment.control)
    stages = build_stages(
        LiveIndex(index, catalogue.eligible), control, catalogue, control=experiment.control, variants=rankers,
        scorings=scorings,
    )
    feed = MentorFeed(engine, mentors, aggregates=aggregates)
    if report.stale:
        unserved, rebio = _not_in_index(index, active, vectors)
        if len(unserved):
            changes = MentorChanges(mentors[mentors["mentor_id"].isin(unserved)], np.empty(0, np.int64), None)
            stages, _ = apply_changes(stages, changes, vectors, reembed=rebio)
        logger.info("%s %d mentor(s) are served from the side index until then.", report.message, len(stages.index.side))
        _warn_if_side_large(stages, lambda message: warnings.warn(message, stacklevel=6))
    return stages, LiveMentors(feed, vectors, refresh_interval)


def _not_in_index(index: MentorIndex, active: pd.DataFrame, vectors: TextVectors) -> tuple[np.ndarray, np.ndarray]:
    """Active mentors the index does not hold as they are now: (all of them, those of them
    in the index whose bio changed since the build)."""
    ids = active["mentor_id"].to_numpy(np.int64)
    rows = index.rows_of(ids, strict=False)
    in_index = np.isin(ids, index.ids)
    added = ids[~in_index]
    if index.content_hashes is None:
        return added, np.empty(0, np.int64)
    held = active[in_index]
    differs = index.content_hashes[rows] != mentor_content_hashes(held)
    suspects = held[differs]
    now = vectors.get(suspects["bio"].tolist())
    cosine = np.einsum("ij,ij->i", now, index.vectors[rows[differs]])
    rebio = suspects["mentor_id"].to_numpy(np.int64)[cosine < SAME_VECTOR]
    return np.concatenate([added, rebio]), rebio


def _warn_if_side_large(stages: Stages, warn: Callable[[str], None]) -> None:
    side, main = len(stages.index.side), len(stages.index.main)
    if side > SIDE_WARN_SHARE * main:
        warn(
            f"{side} mentors added or changed since the index was built ({side / main:.0%} of its "
            f"{main}) are served from the side index, which is searched exactly. Run "
            "scripts/build_index.py to fold them into the index, then reload()."
        )


def _extended(values: np.ndarray, size: int, fill: object) -> np.ndarray:
    """A copy of ``values`` with rows up to ``size`` filled with ``fill``."""
    out = np.full((size, *values.shape[1:]), fill, dtype=values.dtype)
    out[: len(values)] = values
    return out


def _stamps(frame: pd.DataFrame) -> np.ndarray:
    """``updated_at`` as int64 nanoseconds (what the feed compares)."""
    return pd.to_datetime(frame["updated_at"]).astype("datetime64[ns]").to_numpy().astype(np.int64)


def _column(result: Result) -> np.ndarray:
    return np.asarray(result.scalars().all(), dtype=np.int64)
