"""The FastAPI app over :class:`retrieval.Recommender`: ``create_app`` builds it.

Run it with ``make serve`` (uvicorn, 2 workers, ``--factory service.app:create_app``). The
recommender, the key store and the rate limiter are made when the app starts (each worker
its own) and the recommender is closed when it stops, which writes what its log still holds.
Endpoints are plain functions, run in uvicorn's thread pool: the recommender is thread-safe.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import Engine, text

from db.connection import connect
from db.engine import get_engine
from mentor_match.errors import DatabaseUnavailableError, DataValidationError, UnknownEntityError
from retrieval import Recommender
from service.config import MAX_K, Settings
from service.errors import ApiError, error_response, install_error_handlers
from service.keys import ApiKey, KeyStore
from service.metrics import Metrics, mark_process_dead
from service.models import (
    ErrorBody,
    Mentor,
    OutcomeOut,
    OutcomeRequest,
    ProfileRequest,
    RecommendationList,
)
from service.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

MAX_ID = 2**31 - 1
"""The largest id a request may name (the database's INTEGER)."""
Id = Annotated[int, Path(ge=0, le=MAX_ID)]

_ERROR_WHEN = {
    400: "A value the library refuses (invalid_parameter).",
    401: "No API key, or not a key of this service (missing_key, invalid_key).",
    403: "The key was revoked or lacks the endpoint's scope (revoked_key, missing_scope).",
    404: "An unknown id (unknown_mentee, unknown_mentor, not_found).",
    409: "An outcome that contradicts what is recorded (conflict).",
    422: "A body or query that breaks the schema (invalid_request, unknown_parameter).",
    429: "The key's rate limit is reached (rate_limited); Retry-After says when to retry.",
    503: "The database or the rate limit storage does not answer, or the service is not ready.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of an endpoint's error answers (all ``ErrorBody``)."""
    return {status: {"model": ErrorBody, "description": _ERROR_WHEN[status]} for status in statuses}


KEYED = (401, 403, 422, 429, 503)
"""What every endpoint behind a key may answer (422: an unknown query parameter)."""


class ServiceState:
    """What the endpoints share: settings, recommender, key store, limiter, metrics."""

    def __init__(self, settings: Settings, recommender: Recommender, engine: Engine, metrics: Metrics) -> None:
        self.settings = settings
        self.recommender = recommender
        self.engine = engine
        self.keys = KeyStore(engine, settings.key_cache_seconds)
        self.limiter = RateLimiter(settings.rate_limit_storage, settings.rate_limits)
        self.metrics = metrics


def state(request: Request) -> ServiceState:
    return request.app.state.service

def require(scope: str, *query: str) -> Callable[..., ApiKey]:
    """A dependency: the request's key has ``scope`` and is within its rate limit, and
    the request names no query parameter but ``query``."""

    def check(request: Request) -> ApiKey:
        unknown = sorted(set(request.query_params) - set(query))
        if unknown:
            allowed = f"; allowed: {', '.join(query)}" if query else "; this endpoint takes none"
            raise ApiError(422, "unknown_parameter", f"Unknown query parameter(s) {', '.join(unknown)}{allowed}.")
        presented = _presented_key(request)
        if presented is None:
            raise ApiError(401, "missing_key", "Send an API key: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                           {"WWW-Authenticate": "Bearer"})
        s = state(request)
        key = s.keys.find(presented)
        if key is None:
            raise ApiError(401, "invalid_key", "The API key is not valid; check it, or create one with scripts/apikey.py.",
                           {"WWW-Authenticate": "Bearer"})
        if key.revoked:
            raise ApiError(403, "revoked_key", f"The API key {key.prefix} was revoked; ask for a new one.")
        if scope not in key.scopes:
            raise ApiError(403, "missing_scope",
                           f"The API key {key.prefix} lacks the scope {scope!r} (it has {', '.join(key.scopes)}).")
        try:
            wait = s.limiter.hit(key.prefix, scope)
        except Exception as exc:  # noqa: BLE001 - the limiter's storage is down
            raise ApiError(503, "rate_limit_unavailable", f"The rate limit storage does not answer ({exc}).",
                           {"Retry-After": "5"}) from None
        if wait is not None:
            raise ApiError(429, "rate_limited",
                           f"Rate limit of scope {scope!r} ({s.settings.rate_limits[scope]}) reached; retry in {wait} s.",
                           {"Retry-After": str(wait)})
        return key

    return check

ReadK = Annotated[ApiKey, Depends(require("read", "k"))]
Read = Annotated[ApiKey, Depends(require("read"))]
Feedback = Annotated[ApiKey, Depends(require("feedback"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]


def create_app(settings: Settings | None = None, recommender: Recommender | None = None) -> FastAPI:
    """The service. ``settings`` default to :meth:`Settings.from_env`; ``recommender`` to one
    loaded at start-up from the settings' artifacts and database (a given one is not closed)."""
    settings = Settings.from_env() if settings is None else settings
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = get_engine(settings.db_url)
        owned = recommender is None
        rec = recommender or Recommender.load(
            settings.artifacts, settings.db_url, experiment=settings.experiment,
            refresh_interval=settings.refresh_interval,
        )
        app.state.service = ServiceState(settings, rec, engine, metrics)
        logger.info("serving %s from %s", settings.artifacts, engine.url.render_as_string(hide_password=True))
        watch = ArtifactWatch(rec, settings.watch_interval, metrics) if settings.watch_interval else None
        try:
            yield
        finally:
            if watch is not None:
                watch.stop()
            if owned:
                rec.close()  # writes what the log still holds
            engine.dispose()
            mark_process_dead(os.getpid())

    app = FastAPI(title="mentor-match", version="1", lifespan=lifespan)
    install_error_handlers(app)

    @app.middleware("http")
    async def measure(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "unmatched")
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        return response

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Alive."""
        return {"status": "ok"}

    @app.get("/readyz", responses=errors(503))
    def readyz(request: Request) -> Any:
        """Ready: artifacts loaded, database answering, log queue below saturation."""
        s: ServiceState | None = getattr(request.app.state, "service", None)
        problems = []
        if s is None:
            return error_response(503, "not_ready", "The artifacts are not loaded yet.")
        try:
            with connect(s.engine) as conn:
                conn.execute(text("SELECT 1"))
        except DatabaseUnavailableError as exc:
            problems.append(f"database: {exc}")
        stats = s.recommender.log_stats
        if stats is not None and stats.pending >= s.settings.log_saturation:
            problems.append(f"log: {stats.pending} lists waiting (saturation {s.settings.log_saturation})")
        if problems:
            return error_response(503, "not_ready", "; ".join(problems), {"Retry-After": "5"})
        return {"status": "ready", "log_pending": 0 if stats is None else stats.pending}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics_endpoint(request: Request) -> Response:
        s: ServiceState | None = getattr(request.app.state, "service", None)
        if s is not None:
            metrics.update_log(s.recommender.log_stats)
            metrics.update_catalogue(s.recommender.catalogue_age)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/v1/mentees/{mentee_id}/recommendations", response_model=RecommendationList,
             responses=errors(400, 404, *KEYED))
    def mentee_recommendations(
        request: Request, mentee_id: Id, _: ReadK, k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    ) -> RecommendationList:
        """The top ``k`` mentors for a known mentee (logged: post outcomes with its list id)."""
        s = state(request)
        try:
            shown = s.recommender.recommend(mentee_id=mentee_id, k=k)
        except UnknownEntityError:
            raise ApiError(404, "unknown_mentee", f"No mentee has id {mentee_id}.") from None
        return _list(s, mentee_id, shown)

    @app.post("/v1/recommendations", response_model=RecommendationList, responses=errors(400, *KEYED))
    def profile_recommendations(
        request: Request, body: ProfileRequest, _: Read,
    ) -> RecommendationList:
        """The top ``k`` mentors for an ad-hoc profile (served by the experiment's control)."""
        s = state(request)
        try:
            shown = s.recommender.recommend(profile=body.profile.model_dump(exclude_none=True), k=body.k)
        except DataValidationError as exc:  # e.g. a timezone that does not parse: the request's fault
            raise ApiError(400, "invalid_parameter", str(exc)) from None
        return _list(s, None, shown)

    @app.post("/v1/outcomes", response_model=OutcomeOut, status_code=201,
              responses={200: {"model": OutcomeOut, "description": "The event id was already recorded (a retry)."},
                         **errors(400, 404, 409, *KEYED)})
    def outcomes(request: Request, body: OutcomeRequest, _: Feedback) -> Any:
        """Record an outcome; the same event id again is a no-op (200, ``recorded`` false)."""
        s = state(request)
        for name in ("mentor_id", "mentee_id"):
            value = getattr(body, name)
            if value is not None and not 0 <= value <= MAX_ID:
                raise ApiError(422, "invalid_request", f"{name} must be an id between 0 and {MAX_ID}. Got {value}.")
        result = s.recommender.record_outcome(**body.model_dump())
        metrics.outcomes.labels(body.kind, str(result.recorded).lower()).inc()
        return JSONResponse(OutcomeOut(**result._asdict()).model_dump(), status_code=201 if result.recorded else 200)

    @app.get("/v1/mentors/{mentor_id}", response_model=Mentor, responses=errors(404, *KEYED))
    def mentor(request: Request, mentor_id: Id, _: Read) -> Mentor:
        """What a client shows of a mentor."""
        catalogue = state(request).recommender.stages.catalogue
        row = int(catalogue.rows_of([mentor_id])[0])
        if row < 0:
            raise ApiError(404, "unknown_mentor", f"No mentor with id {mentor_id} is served.")
        fields = catalogue.fields

        def value(name: str) -> Any:
            if name not in fields:
                return None
            v = fields[name][row]
            if isinstance(v, float) and math.isnan(v):
                return None
            return v.item() if hasattr(v, "item") else v

        def strings(name: str) -> list[str]:
            v = fields[name][row] if name in fields else None
            return [] if v is None or (isinstance(v, float) and math.isnan(v)) else [str(x) for x in v]

        return Mentor(
            mentor_id=mentor_id, name=str(value("name")), industry=value("industry"), domains=strings("domains"),
            skills=strings("skills"), mentorship_style=value("mentorship_style"), timezone=value("timezone"),
            availability=strings("availability"), experience_years=value("experience_years"),
            rating=value("rating"), bio=value("bio"), accepting_mentees=bool(catalogue.eligible[row]),
        )

    @app.post("/v1/admin/reload", responses=errors(*KEYED))
    def reload(request: Request, _: Admin) -> dict[str, Any]:
        """Pick up newly published artifacts; requests in flight finish on the old ones."""
        s = state(request)
        started = time.perf_counter()
        try:
            s.recommender.reload()
        except BaseException:
            s.metrics.reloads.labels("admin", "failed").inc()
            raise
        s.metrics.reloads.labels("admin", "ok").inc()
        return {"status": "reloaded", "seconds": round(time.perf_counter() - started, 3)}

    return app


class ArtifactWatch:
    """A daemon thread that looks at the artifact links every ``interval`` seconds and reloads
    the recommender when one was published anew (requests in flight finish on the old
    stages). A failed reload is logged and counted; the service goes on with what it has."""

    def __init__(self, recommender: Recommender, interval: float, metrics: Metrics) -> None:
        self.recommender = recommender
        self.interval = interval
        self.metrics = metrics
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="artifact-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if self.recommender.reload_if_published():
                    logger.info("reloaded newly published artifacts")
                    self.metrics.reloads.labels("watch", "ok").inc()
            except Exception as exc:  # noqa: BLE001 - keep serving the last good stages
                logger.warning("reloading newly published artifacts failed; serving the previous ones: %s", exc)
                self.metrics.reloads.labels("watch", "failed").inc()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None
    return request.headers.get("x-api-key") or None


def _list(s: ServiceState, mentee_id: int | None, shown) -> RecommendationList:
    first = shown[0] if shown else None
    variant = first.variant if first else None
    if first is not None:
        s.metrics.lists.labels(variant or "none").inc()
    return RecommendationList(
        mentee_id=mentee_id, list_id=first.list_id if first else None, variant=variant,
        recommendations=[
            {"mentor": {"mentor_id": r.mentor_id, "name": r.name}, "rank": r.rank, "score": r.score,
             "similarity": r.similarity, "reasons": r.reasons, "list_id": r.list_id, "variant": r.variant}
            for r in shown
        ],
    )
