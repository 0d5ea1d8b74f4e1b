"""Every error the service answers, as ``{"error": {"code": ..., "message": ...}}``.

The codes are stable (clients branch on them); the messages say what to fix.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mentor_match.errors import (
    DatabaseUnavailableError,
    DataValidationError,
    InvalidParameterError,
    UnknownEntityError,
)

logger = logging.getLogger(__name__)

DB_RETRY_AFTER = 5
"""Seconds a client is told to wait while the database is unreachable."""

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 401: "unauthorized",
               403: "forbidden", 413: "too_large", 415: "unsupported_media_type"}


class ApiError(Exception):
    """An answer other than success: HTTP status, stable code, message, extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts) + ". See /docs for the request's schema."


def install_error_handlers(app: FastAPI) -> None:
    """Map the project's exceptions and FastAPI's own to the one error shape."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        if exc.status_code == 404:
            message = "No such endpoint; the endpoints are listed at /docs."
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(UnknownEntityError)
    async def _unknown(_: Request, exc: UnknownEntityError) -> JSONResponse:
        return error_response(404, "not_found", str(exc))

    @app.exception_handler(InvalidParameterError)
    async def _parameter(_: Request, exc: InvalidParameterError) -> JSONResponse:
        return error_response(400, "invalid_parameter", str(exc))

    @app.exception_handler(DataValidationError)
    async def _conflict(_: Request, exc: DataValidationError) -> JSONResponse:
        return error_response(409, "conflict", str(exc))

    @app.exception_handler(DatabaseUnavailableError)
    async def _database(_: Request, exc: DatabaseUnavailableError) -> JSONResponse:
        logger.warning("database unavailable: %s", exc)
        return error_response(503, "database_unavailable",
                              f"The database is unreachable; retry in a few seconds. ({exc})",
                              {"Retry-After": str(DB_RETRY_AFTER)})

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "An internal error; it has been logged.")
