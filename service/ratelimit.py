"""Rate limits per API key and scope, through the ``limits`` package (moving window).

Storage by URL: ``memory://`` (the default: each worker counts apart, so N workers allow N
times the limit) or ``redis://host:port`` (one count for every worker).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from mentor_match.errors import InvalidParameterError


class RateLimiter:
    """``hit(key, scope)``: None if allowed, else the seconds until a request is allowed again."""

    def __init__(self, storage_url: str, limits_by_scope: Mapping[str, str]) -> None:
        try:
            self._limits = {scope: parse(text) for scope, text in limits_by_scope.items()}
        except ValueError as exc:
            raise InvalidParameterError(
                f"A rate limit does not parse ({exc}); write e.g. '50/second' or '1000 per hour'."
            ) from None
        self._storage = storage_from_string(storage_url)
        self._limiter = MovingWindowRateLimiter(self._storage)

    def hit(self, key: str, scope: str) -> int | None:
        limit = self._limits[scope]
        if self._limiter.hit(limit, key, scope):
            return None
        reset, _ = self._limiter.get_window_stats(limit, key, scope)
        return max(1, math.ceil(reset - time.time()))

    def check(self) -> bool:
        """Whether the storage answers."""
        try:
            return bool(self._storage.check())
        except Exception:  # noqa: BLE001 - any failure means not ready
            return False
