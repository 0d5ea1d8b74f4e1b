"""The service's settings, read from environment variables (docs/service.md lists them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mentor_match.errors import InvalidParameterError

DEFAULT_LIMITS = {"read": "50/second", "feedback": "50/second", "admin": "10/minute"}
"""Requests per key and scope (the ``limits`` package's notation) unless the env sets them."""
MAX_K = 100
"""The longest list a request may ask for."""


@dataclass(frozen=True)
class Settings:
    """What :func:`service.app.create_app` needs. ``db_url`` None: ``MENTOR_MATCH_DB_URL`` or the
    embedded default, as everywhere else; ``rate_limits``: per scope; ``key_cache_seconds``:
    how long a looked-up key is trusted before it is read again (a revocation takes effect
    within it); ``log_saturation``: pending log rows at which ``/readyz`` says not ready;
    ``watch_interval``: seconds between looks at the artifact links, a newly published index,
    ranker or heads being reloaded (None: only ``POST /v1/admin/reload``)."""

    db_url: str | None = None
    artifacts: Path = Path("artifacts")
    experiment: Path | None = None
    refresh_interval: float | None = 5.0
    rate_limit_storage: str = "memory://"
    rate_limits: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    key_cache_seconds: float = 5.0
    log_saturation: int = 40_000
    watch_interval: float | None = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``MENTOR_MATCH_*`` variables (``env`` default: the process's).

        >>> s = Settings.from_env({"MENTOR_MATCH_RATE_LIMIT_READ": "5/minute"})
        >>> s.rate_limits["read"], s.rate_limits["admin"], s.rate_limit_storage
        ('5/minute', '10/minute', 'memory://')
        """
        env = os.environ if env is None else env
        limits = {
            scope: env.get(f"MENTOR_MATCH_RATE_LIMIT_{scope.upper()}", default)
            for scope, default in DEFAULT_LIMITS.items()
        }
        experiment = env.get("MENTOR_MATCH_EXPERIMENT")
        refresh = env.get("MENTOR_MATCH_REFRESH_INTERVAL", "5")
        watch = env.get("MENTOR_MATCH_WATCH_INTERVAL", "10")
        return cls(
            db_url=env.get("MENTOR_MATCH_DB_URL") or None,
            artifacts=Path(env.get("MENTOR_MATCH_ARTIFACTS", "artifacts")),
            experiment=Path(experiment) if experiment else None,
            refresh_interval=None if _off(refresh) else _number("MENTOR_MATCH_REFRESH_INTERVAL", refresh),
            rate_limit_storage=env.get("MENTOR_MATCH_RATE_LIMIT_STORAGE", "memory://"),
            rate_limits=limits,
            key_cache_seconds=_number("MENTOR_MATCH_KEY_CACHE_SECONDS", env.get("MENTOR_MATCH_KEY_CACHE_SECONDS", "5")),
            watch_interval=None if _off(watch) else _number("MENTOR_MATCH_WATCH_INTERVAL", watch),
            log_saturation=int(_number("MENTOR_MATCH_LOG_SATURATION", env.get("MENTOR_MATCH_LOG_SATURATION", "40000"))),
        )


def _off(text: str) -> bool:
    return text.strip().lower() in ("", "none", "off")


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameterError(f"{name} must be a number >= 0. Got {text!r}.") from None
    if value < 0:
        raise InvalidParameterError(f"{name} must be a number >= 0. Got {text!r}.")
    return value
