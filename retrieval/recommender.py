"""The query API: mentee -> candidates (stage 1) -> reranked top k with reasons (stage 2).

:class:`Recommender` serves one immutable :class:`~retrieval.stages.Stages` snapshot per
query (catalogue, index, arms) and swaps in a new one when the mentors change
(:meth:`~Recommender.refresh`, automatically every ``refresh_interval`` seconds) or the
artifacts do (:meth:`~Recommender.reload`). Mentees and their contacts are read per query.

Automatic refreshes run on the query path: the first query that finds the interval passed
refreshes (others keep serving the current snapshot meanwhile, never waiting for it) and
then serves from the new one. No thread to start and stop, no polling of an idle database,
and a change is visible to every query that starts an interval after it was committed;
the price is that one query per interval pays for the refresh (a refresh that finds nothing
costs two indexed statements; the benchmark measures one of 1% of the mentors).

Every list a loaded recommender serves is logged (``log=True``, the default of :meth:`load`):
a :class:`db.log.ServedList` with its slots, handed to a background
:class:`db.log.RecommendationLog` that writes in batches and never slows or breaks a query.
With an :class:`~retrieval.experiments.Experiment` each mentee is served by the arm its
salted hash assigns, scored as the variant's ``score`` says (the ranker, the reciprocal heads
or a blend: :mod:`retrieval.scoring`), and with exploration the shown list may be sampled
(:mod:`retrieval.exploration`, seeded by the list id); the log records variant, what scored
the list (``model_version``), policy and each slot's served score and propensity. Outcomes
come back through :meth:`Recommender.record_outcome`.

An arm scored by ``market`` ranks by P(match) priced by congestion (:mod:`retrieval.market`):
the recommender holds one :class:`~retrieval.market.MarketPrices` for all its arms, read from
the database with every refresh and reload (:meth:`Recommender.refresh_prices` reads it now),
and every list a priced arm serves adds its slots to the prices at once, so the next query
already sees them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from db.engine import get_engine
from db.log import LogStats, RecommendationLog, ServedList, ServedSlot, new_list_id
from db.outcomes import OutcomeResult, record_outcome
from embeddings import Encoder
from index import MentorIndex
from index.live import LiveIndex
from mentor_match.errors import InvalidParameterError, MentorMatchError
from mentor_match.validation import check_int, check_number
from ranking.models import Ranker
from ranking.preranker import Preranker
from retrieval.catalogue import Catalogue
from retrieval.experiments import Experiment
from retrieval.exploration import explore, list_seed
from retrieval.live import LiveMentors, RefreshSummary, artifact_links, load_live
from retrieval.market import MarketPrices, PriceSettings, priced_top_k, request_curve
from retrieval.mentees import FrameMentees, MenteePage
from retrieval.profile import Query, validate_profile
from retrieval.results import Candidates, Recommendation
from retrieval.stages import Arm, EncoderSlot, Stages, build_stages

logger = logging.getLogger(__name__)

DEFAULT_CANDIDATES = 200
"""Candidates per query that the ranker scores."""
DEFAULT_REFRESH_INTERVAL = 5.0
"""Seconds between automatic refreshes of the mentors from the database."""
PRICE_POSITIONS = 50
"""List positions the prices' request curve covers (longer lists reuse the last one's rate)."""
_BATCH_COLUMNS = {
    "mentee_id": np.int64, "rank": np.int64, "mentor_id": np.int64, "score": float, "similarity": float,
    "list_id": object,
}


class Recommender:
    """Top-k mentors for a mentee, through ANN retrieval and learning-to-rank reranking.

    Build it with :meth:`load` (artifacts folder and database: live), :meth:`from_components`
    (objects in memory: static) or from :class:`~retrieval.stages.Stages`. Safe to share
    between threads.
    """

    def __init__(
        self, stages: Stages, *, encoder: Encoder | None = None, source: _Source | None = None,
        live: LiveMentors | None = None, experiment: Experiment | None = None,
        log: RecommendationLog | None = None, clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._stages = stages
        self._clock = _utc_now if clock is None else clock
        self._encoder = source.encoder if source is not None else EncoderSlot(encoder)
        self._source = source  # where load() read the stages from, for reload()
        self._live = live
        self._links: dict[str, str] = {}  # what the served artifacts resolved to at the last load
        self._update_lock = threading.Lock()  # one refresh or reload at a time
        self.experiment = Experiment.single(stages.control) if experiment is None else experiment
        missing = sorted(set(self.experiment.shares) - set(stages.arms))
        if missing:
            raise InvalidParameterError(
                f"The experiment's variant(s) {missing} have no arm in the stages ({sorted(stages.arms)}); "
                "build the stages with those rankers (build_stages(..., variants=...))."
            )
        self.log = log
        self._market: MarketPrices | None = None
        if self._priced(stages):
            self._market = self._read_prices(stages)

    @classmethod
    def load(
        cls, artifacts: str | Path = "artifacts", db_url: str | None = None, *, strict: bool = False,
        encoder: Encoder | None = None, refresh_interval: float | None = DEFAULT_REFRESH_INTERVAL,
        experiment: Experiment | str | Path | None = None, log: bool | RecommendationLog = True,
        clock: Callable[[], datetime] | None = None, mmap: bool | None = None,
    ) -> Recommender:
        """The index and ranker of ``artifacts`` over the database's mentors, checked to belong
        together; a stale index serves the mentors it lacks from the side index
        (``strict``: :class:`StaleArtifactError` instead). ``encoder`` shares a loaded encoder;
        otherwise one is loaded when a text is not in the embedding cache.
        ``refresh_interval``: seconds between automatic refreshes (None: only :meth:`refresh`).
        ``experiment`` (an :class:`Experiment` or its JSON file) loads every variant's ranker
        (and heads, for a variant scored by them) once and serves each mentee from its arm. ``log``: record every served list in the
        database's recommendation log (True), into a given :class:`RecommendationLog`, or not
        (False: evaluation, benchmarks). ``clock`` returns the naive-UTC time stamped on each
        logged list (default: now; a simulator passes its simulated time). ``mmap``: map the
        index read-only, shared by the processes that load it (None: ``MENTOR_MATCH_MMAP``, as
        the service's workers; see :meth:`index.MentorIndex.load`)."""
        if refresh_interval is not None:
            refresh_interval = check_number("refresh_interval", refresh_interval, "Recommender.load", low=0)
        if isinstance(experiment, (str, Path)):
            experiment = Experiment.load(experiment)
        engine = get_engine(db_url)
        source = _Source(Path(artifacts), engine, strict, refresh_interval, EncoderSlot(encoder), experiment, mmap)
        try:
            links = source.links()  # read first: a publish during the load shows as a change
            stages, live = source.load()
        except BaseException:
            engine.dispose()
            raise
        if log is True:
            log = RecommendationLog(engine)
        recommender = cls(stages, source=source, live=live, experiment=experiment, log=log or None, clock=clock)
        recommender._links = links
        return recommender

    @classmethod
    def from_components(
        cls, index: MentorIndex, ranker: Ranker, mentors: pd.DataFrame, mentees: pd.DataFrame,
        interactions: pd.DataFrame | None = None, mentee_vectors: np.ndarray | None = None, *,
        encoder: Encoder | None = None, preranker: Preranker | None = None,
    ) -> Recommender:
        """A recommender over objects in memory (static: :meth:`refresh` is refused).
        ``mentee_vectors`` (goal embeddings aligned with ``mentees``) default to ``encoder``'s
        (MiniLM); ``preranker`` to the ranker's manifest's."""
        if mentee_vectors is None:
            encoder = Encoder() if encoder is None else encoder
            mentee_vectors = encoder.encode(mentees["goals"].tolist())
        catalogue = Catalogue.from_frames(mentors, index.ids, FrameMentees(mentees, interactions, mentee_vectors))
        stages = build_stages(LiveIndex(index, catalogue.eligible), ranker, catalogue, preranker)
        return cls(stages, encoder=encoder)

    def refresh(self) -> RefreshSummary:
        """Apply the mentors' changes in the database since the last look, now; queries in
        flight finish on the old snapshot."""
        if self._live is None:
            raise InvalidParameterError("refresh() needs a Recommender made by Recommender.load(artifacts, db_url).")
        with self._update_lock:
            self._stages, summary = self._live.refresh(self._stages)
            self._update_prices()
        return summary

    def reload(self) -> None:
        """Pick up a newly published index, ranker or heads and the current database rows;
        queries in flight finish on the old stages."""
        if self._source is None:
            raise InvalidParameterError("reload() needs a Recommender made by Recommender.load(artifacts, db_url).")
        with self._update_lock:
            links = self._source.links()
            self._stages, self._live = self._source.load()
            self._links = links
            self._update_prices()

    def published_changed(self) -> bool:
        """Whether an artifact this recommender serves (index, a variant's ranker or heads) was
        published anew since it was loaded: :meth:`reload` would serve something else."""
        if self._source is None:
            return False
        return self._source.links() != self._links

    def reload_if_published(self) -> bool:
        """:meth:`reload` when :meth:`published_changed` (the service's watch calls this);
        whether it reloaded."""
        if not self.published_changed():
            return False
        self.reload()
        return True

    @property
    def catalogue_age(self) -> float | None:
        """Seconds since the mentors were last read from the database (a refresh or a load);
        None for a static recommender. It grows while no query comes: a refresh is due at the
        next query after the interval."""
        return None if self._live is None else max(time.time() - self._live.read_at, 0.0)

    @property
    def market(self) -> MarketPrices | None:
        """The congestion prices the priced arms serve with (None when no arm is priced)."""
        return self._market

    def refresh_prices(self) -> MarketPrices | None:
        """Read the prices from the database now (the log written first), as every refresh
        and reload does; None when no arm is priced."""
        with self._update_lock:
            self._update_prices()
        return self._market

    def _update_prices(self) -> None:
        if self._priced(self._stages):
            self._market = self._read_prices(self._stages)

    @staticmethod
    def _priced(stages: Stages) -> bool:
        return any(arm.scoring.priced for arm in stages.arms.values())

    def _read_prices(self, stages: Stages) -> MarketPrices:
        """The prices over the current catalogue: from the database when there is one (the
        log's lists written first), else no demand yet (a static recommender)."""
        catalogue = stages.catalogue
        fields = catalogue.fields
        current = pd.to_numeric(pd.Series(fields["current_mentees"]), errors="coerce").to_numpy(float)
        seats = pd.to_numeric(pd.Series(fields["max_mentees"]), errors="coerce").to_numpy(float)
        free = np.where(catalogue.eligible, np.nan_to_num(seats - current, nan=0.0), 0.0).clip(min=0.0)
        rate = pd.to_numeric(pd.Series(fields["acceptance_rate"]), errors="coerce").to_numpy(float)
        if self._source is None:
            zeros = np.zeros(len(catalogue))
            return MarketPrices(free=free, accept_rate=rate, pending=zeros, exposure=zeros,
                                curve=request_curve(None, PRICE_POSITIONS))
        if self.log is not None:
            self.log.flush()
        return MarketPrices.read(self._source.engine, catalogue.mentor_ids, free, rate, now=self._clock(),
                                 k=PRICE_POSITIONS)

    def close(self) -> None:
        """Write what the log still holds, then release the database connections (idempotent)."""
        if self.log is not None:
            self.log.close()
        if self._source is not None:
            self._source.engine.dispose()

    def __enter__(self) -> Recommender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def log_stats(self) -> LogStats | None:
        """Lists submitted, written, dropped ... by the log (None without one)."""
        return None if self.log is None else self.log.stats

    def record_outcome(
        self, *, event_id: str, kind: str, mentor_id: int, list_id: str | None = None,
        mentee_id: int | None = None, occurred_at: datetime | None = None, success: bool | None = None,
    ) -> OutcomeResult:
        """Record what happened after a list (see :func:`db.outcomes.record_outcome`): the log
        is flushed first, so a list served a moment ago is there to join. A request shows in
        the mentee's next list at once; a seat taken or freed after the next refresh."""
        if self._source is None:
            raise InvalidParameterError("record_outcome needs a Recommender made by Recommender.load(artifacts, db_url).")
        if self.log is not None and list_id is not None:
            self.log.flush()
        return record_outcome(
            self._source.engine, event_id=event_id, kind=kind, mentor_id=mentor_id, list_id=list_id,
            mentee_id=mentee_id, occurred_at=occurred_at, success=success,
        )

    def _current(self) -> Stages:
        """The stages to serve from, refreshed first if the interval has passed and no other
        thread is refreshing (a failed automatic refresh is logged, not raised)."""
        live = self._live
        if live is not None and live.due() and self._update_lock.acquire(blocking=False):
            try:
                if self._live is live and live.due():
                    self._stages, _ = live.refresh(self._stages)
                    self._update_prices()
            except MentorMatchError as exc:
                logger.warning("automatic refresh failed, serving the last snapshot: %s", exc)
            finally:
                self._update_lock.release()
        return self._stages

    def _goal_vector(self, goals: str) -> np.ndarray:
        """An ad-hoc profile's goal vector: through the embedding cache's snapshot and the
        bounded map of texts encoded while serving, as a known mentee's (a repeated text is
        encoded once); a static recommender encodes it."""
        if self._live is not None:
            return self._live.vectors.get([goals])[0]
        return self._encoder.get().encode([goals], progress=False)[0]

    @property
    def stages(self) -> Stages:
        """The current catalogue, index and arms (read once, they belong together)."""
        return self._stages

    @property
    def mentor_domains(self) -> Mapping[int, list[str]]:
        """Each mentor's domains by id (for :func:`retrieval.format_recommendations`)."""
        return self._stages.catalogue.mentor_domains

    def mentee(self, mentee_id: int) -> pd.Series:
        """The mentee's row, read now; :class:`UnknownEntityError` if there is none."""
        return self._stages.catalogue.mentee(mentee_id)

    def mentee_page(self, offset: int = 0, limit: int = 20) -> MenteePage:
        """Mentees ``offset`` to ``offset + limit`` in id order, and how many there are."""
        offset = check_int("offset", offset, "mentee_page", low=0)
        limit = check_int("limit", limit, "mentee_page")
        return self._stages.catalogue.mentees.page(offset, limit)

    def recommend(
        self, mentee_id: int | None = None, profile: Mapping | None = None, k: int = 10,
        candidates: int | None = None, exclude: Iterable[int] = (), pool: int | None = None,
    ) -> list[Recommendation]:
        """The ``k`` best mentors for a known mentee (``mentee_id``) or an ad-hoc ``profile``.

        Stage 1 reads the ``pool`` nearest eligible mentors (default
        :data:`index.spec.DEFAULT_POOL`; never inactive or full ones, ones the mentee
        contacted, or ``exclude``); the pre-ranker keeps ``candidates`` (default
        :data:`DEFAULT_CANDIDATES`, at least ``k``); stage 2 ranks those. Fewer than ``k``
        come back only when fewer eligible mentors exist.
        """
        started = time.perf_counter()
        stages = self._current()
        k, n, pool = _sizes(k, candidates, pool, "recommend")
        if (mentee_id is None) == (profile is None):
            raise InvalidParameterError(
                "recommend needs exactly one of mentee_id (a mentee in the database) or "
                "profile (a mapping with at least 'goals')."
            )
        blocked = np.fromiter((int(i) for i in exclude), dtype=np.int64)
        if mentee_id is not None:
            known = stages.catalogue.lookup([mentee_id])
            query = known.query(0)
            blocked = np.union1d(blocked, known.contacted[0])
            variant = self.experiment.assign(query.mentee_id)
        else:
            fields = validate_profile(profile)
            query = Query.from_profile(fields, self._goal_vector(fields["goals"]))
            variant = self.experiment.control  # no id to hash: ad-hoc profiles see the control
        arm = stages.arm(variant)
        list_id = new_list_id()
        exploration = self.experiment.exploration
        choose = None
        if exploration.active:
            choose = partial(
                explore, epsilon=exploration.epsilon, temperature=exploration.temperature, seed=list_seed(list_id)
            )
        found = arm.retriever.search(query.vector[None, :], n, [blocked], pool=pool)
        market = self._market if arm.scoring.priced else None
        price = None
        if market is not None:
            settings = arm.scoring.price
            if settings.floor > 0:  # only mentors with a fair chance of a free seat are shown
                ids, similarity = found.of(0)
                keep = market.shown(stages.catalogue.rows_of(ids), settings)
                found = Candidates(ids[keep][None, :], similarity[keep][None, :])
            price = partial(_price_factor, market, stages.catalogue, settings)
        ranked = arm.reranker.rerank(query, found, k, choose=choose, price=price)
        shown = [replace(r, list_id=list_id, variant=variant) for r in ranked]
        if market is not None and shown:
            market.record(stages.catalogue.rows_of([r.mentor_id for r in shown]), [r.rank for r in shown])
        if self.log is not None:
            self._log_list(list_id, None if mentee_id is None else query.mentee_id, variant, arm, stages, k,
                           started, [(r.mentor_id, r.score, r.similarity, r.propensity, r.features) for r in shown])
        return shown

    def _log_list(
        self, list_id: str, mentee_id: int | None, variant: str, arm: Arm, stages: Stages, k: int,
        started: float, slots: list[tuple[int, float, float, float, dict[str, float] | None]],
    ) -> None:
        """Hand one served list to the log (it writes in the background)."""
        exploration = self.experiment.exploration
        policy, params = ("ranker", {}) if not exploration.active else (
            "plackett-luce", {"epsilon": exploration.epsilon, "temperature": exploration.temperature}
        )
        self.log.submit(ServedList(
            list_id=list_id,
            mentee_id=mentee_id,
            created_at=self._clock(),
            model_version=arm.model_version,
            index_version=_version(stages.index.main.manifest),
            experiment=self.experiment.name or None,
            variant=variant,
            policy=policy,
            policy_params=params,
            k=k,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            slots=tuple(
                ServedSlot(position, mentor, score, similarity, propensity, features)
                for position, (mentor, score, similarity, propensity, features) in enumerate(slots, start=1)
            ),
        ))

    def recommend_batch(
        self, mentee_ids: Sequence[int], k: int = 10, candidates: int | None = None, *,
        pool: int | None = None, batch_size: int = 512, progress: bool | None = None,
    ) -> pd.DataFrame:
        """Top ``k`` of many known mentees (the nightly job): one search and one scoring call per
        batch and arm. Columns mentee_id, rank, mentor_id, score, similarity, list_id (the logged list
        of that mentee: post outcomes with it), best first per mentee; the lists
        :meth:`recommend` gives one at a time."""
        started = time.perf_counter()
        stages = self._current()
        k, n, pool = _sizes(k, candidates, pool, "recommend_batch")
        mentee_ids = list(mentee_ids)
        arms = self.experiment.assign_many(mentee_ids) if len(self.experiment.variants) > 1 else None
        frames = []
        for name in self.experiment.shares:
            ids = mentee_ids if arms is None else [i for i, a in zip(mentee_ids, arms, strict=True) if a == name]
            if not ids:
                continue
            batches = stages.candidate_batches(ids, n, pool=pool, batch_size=batch_size, progress=progress, arm=name)
            arm = stages.arm(name)
            for mentees, pairs in batches:
                pairs["score"] = arm.reranker.score(mentees.prepared, mentees.vectors, pairs)
                if arm.scoring.priced and self._market is not None:
                    pairs = self._priced_lists(pairs, k, stages, arm)
                pairs = pairs.sort_values(["mentee_id", "score"], ascending=[True, False], kind="stable")
                pairs["rank"] = pairs.groupby("mentee_id", sort=False).cumcount() + 1
                pairs["variant"] = name
                frames.append(pairs[pairs["rank"] <= k])
        if not frames:
            return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in _BATCH_COLUMNS.items()})
        out = pd.concat(frames, ignore_index=True)
        if arms is not None:  # back in the order of the mentees asked for
            position = {mentee: i for i, mentee in enumerate(mentee_ids)}
            out = out.iloc[np.argsort(out["mentee_id"].map(position).to_numpy(), kind="stable")].reset_index(drop=True)
        # One list id per mentee, in the frame whether or not a log records it.
        first = out["mentee_id"].ne(out["mentee_id"].shift()).to_numpy()
        out["list_id"] = np.asarray([new_list_id() for _ in range(int(first.sum()))], dtype=object)[np.cumsum(first) - 1]
        if self.log is not None:
            self._log_batch(out, stages, k, started)
        return out[list(_BATCH_COLUMNS)]

    def _priced_lists(self, pairs: pd.DataFrame, k: int, stages: Stages, arm: Arm) -> pd.DataFrame:
        """Each mentee's ``k`` best by priced score, the mentees served in the order asked
        for (each priced by the lists before it); the rows kept carry the served score."""
        pairs = pairs.reset_index(drop=True)
        order = np.argsort(pd.factorize(pairs["mentee_id"])[0], kind="stable")  # contiguous, first-seen order
        pairs = pairs.iloc[order].reset_index(drop=True)
        chosen, served = priced_top_k(
            pairs["mentee_id"].to_numpy(), stages.catalogue.rows_of(pairs["mentor_id"].to_numpy()),
            pairs["score"].to_numpy(float), k, self._market, arm.scoring.price,
        )
        return pairs.iloc[chosen].assign(score=served)

    def _log_batch(self, lists: pd.DataFrame, stages: Stages, k: int, started: float) -> None:
        """One logged list per mentee of a batch (deterministic order: propensity 1; the batch's
        time shared out evenly as each list's latency)."""
        groups = lists.groupby("mentee_id", sort=False)
        share = (time.perf_counter() - started) / max(groups.ngroups, 1)
        for mentee_id, rows in groups:
            variant = str(rows["variant"].iat[0])
            slots = [(int(m), float(s), float(sim), 1.0, None)
                     for m, s, sim in zip(rows["mentor_id"], rows["score"], rows["similarity"], strict=True)]
            self._log_list(str(rows["list_id"].iat[0]), int(mentee_id), variant, stages.arm(variant), stages, k,
                           time.perf_counter() - share, slots)

    def retrieve(
        self, mentee_ids: Sequence[int], candidates: int | None = None, *, pool: int | None = None,
        batch_size: int = 512, progress: bool | None = None,
    ) -> pd.DataFrame:
        """Stage 1 alone: the ``candidates`` (default :data:`DEFAULT_CANDIDATES`) of each known
        mentee that the ranker would score, as in :meth:`recommend`. Columns mentee_id,
        mentor_id, similarity, in pre-ranker order within each mentee."""
        _, n, pool = _sizes(1, candidates, pool, "retrieve")
        batches = self._current().candidate_batches(mentee_ids, n, pool=pool, batch_size=batch_size, progress=progress)
        frames = [pairs for _, pairs in batches]
        if not frames:
            empty = np.empty(0, np.int64)
            return pd.DataFrame({"mentee_id": empty, "mentor_id": empty, "similarity": np.empty(0)})
        return pd.concat(frames, ignore_index=True)



def _price_factor(market: MarketPrices, catalogue: Catalogue, settings: PriceSettings, mentor_ids: np.ndarray) -> np.ndarray:
    """P(seat still free) ** weight of each of ``mentor_ids`` (the factor a priced arm applies)."""
    return market.apply(np.ones(len(mentor_ids)), catalogue.rows_of(mentor_ids), settings)


def _utc_now() -> datetime:
    """Now, as the naive UTC the schema stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _sizes(k: int, candidates: int | None, pool: int | None, where: str) -> tuple[int, int, int | None]:
    """(k, candidates to score, pool), checked; None means the default, never fewer than k."""
    k = check_int("k", k, where)
    candidates = check_int("candidates", candidates, where, allow_none=True)
    pool = check_int("pool", pool, where, allow_none=True)
    return k, max(k, DEFAULT_CANDIDATES if candidates is None else candidates), pool


class _Source(NamedTuple):
    """Where a loaded recommender reads its stages from (again, on reload)."""

    artifacts: Path
    engine: Engine
    strict: bool
    refresh_interval: float | None
    encoder: EncoderSlot
    experiment: Experiment | None
    mmap: bool | None = None

    def links(self) -> dict[str, str]:
        return artifact_links(self.artifacts, self.experiment)

    def load(self) -> tuple[Stages, LiveMentors]:
        return load_live(self.artifacts, self.engine, strict=self.strict, get_encoder=self.encoder.get,
                         refresh_interval=self.refresh_interval, experiment=self.experiment, mmap=self.mmap)


def _version(manifest: Mapping[str, Any]) -> str:
    """The short build name of an artifact's manifest (``Manifest.version``)."""
    return getattr(manifest, "version", "unpublished")
