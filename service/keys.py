"""API keys: made at random, stored only as a SHA-256 hash with a short lookup prefix.

A key is ``mm_`` plus 43 URL-safe characters (:func:`secrets.token_urlsafe` of 32 bytes: 256
bits). The first :data:`PREFIX_LENGTH` characters after ``mm_`` are its prefix: stored in
clear, shown by ``scripts/apikey.py list`` and used to find the row; the whole key is hashed
and compared with :func:`hmac.compare_digest`. A revoked key stays in the table (its
``revoked_at`` set), so a request with it gets 403 rather than 401.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import NamedTuple

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from db.connection import connect, transaction
from db.schema import SCOPES, api_keys
from mentor_match.errors import InvalidParameterError, UnknownEntityError

KEY_PREFIX = "mm_"
PREFIX_LENGTH = 8


class ApiKey(NamedTuple):
    """One stored key, without its secret."""

    key_id: int
    prefix: str
    name: str | None
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def hash_key(key: str) -> str:
    """The SHA-256 hex digest stored for ``key``.

    >>> len(hash_key("mm_x")), hash_key("mm_x") == hash_key("mm_x")
    (64, True)
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str | None:
    """The lookup prefix of a key as a client sent it; None if it is not shaped like one.

    >>> key_prefix("mm_abcdefgh12345678"), key_prefix("nope")
    ('abcdefgh', None)
    """
    if not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + PREFIX_LENGTH + 8:
        return None
    return key[len(KEY_PREFIX):len(KEY_PREFIX) + PREFIX_LENGTH]


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Scopes, checked against :data:`db.schema.SCOPES`, without repeats, in that order.

    >>> check_scopes(["feedback", "read", "read"])
    ('read', 'feedback')
    """
    scopes = [s.strip() for s in scopes if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidParameterError(
            f"API key scopes must be one or more of {', '.join(SCOPES)}. Got {sorted(set(scopes)) or 'none'}."
        )
    return tuple(s for s in SCOPES if s in scopes)


def create_key(engine: Engine, scopes: Iterable[str], name: str | None = None) -> tuple[str, ApiKey]:
    """A new key with ``scopes``: (the key, shown once and never stored; its row)."""
    scopes = check_scopes(scopes)
    for _ in range(5):  # a prefix clash (1 in 2**48 per pair) draws again
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        prefix = key_prefix(key)
        now = _utc_now()
        try:
            with transaction(engine) as conn:
                key_id = conn.execute(insert(api_keys).values(
                    prefix=prefix, key_hash=hash_key(key), name=name, scopes=list(scopes), created_at=now,
                )).inserted_primary_key[0]
        except IntegrityError:
            continue
        return key, ApiKey(int(key_id), prefix, name, scopes, now, None)
    raise InvalidParameterError("Could not draw an unused key prefix in 5 tries; try again.")


def list_keys(engine: Engine) -> list[ApiKey]:
    """Every key, revoked ones too, oldest first."""
    with connect(engine) as conn:
        rows = conn.execute(select(api_keys).order_by(api_keys.c.key_id)).mappings().all()
    return [_row(r) for r in rows]


def revoke_key(engine: Engine, prefix: str) -> ApiKey:
    """Revoke the key with ``prefix`` (idempotent: a revoked key keeps its first time)."""
    with transaction(engine) as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).mappings().first()
        if row is None:
            raise UnknownEntityError(f"No API key has prefix {prefix!r}; scripts/apikey.py list shows them.")
        if row["revoked_at"] is None:
            conn.execute(update(api_keys).where(api_keys.c.prefix == prefix).values(revoked_at=_utc_now()))
        row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).mappings().first()
    return _row(row)


class KeyStore:
    """Finds the stored key of a presented one, reading its row at most every ``cache_seconds``
    (0: every request), so a revocation takes effect within that time, without a restart."""

    def __init__(self, engine: Engine, cache_seconds: float = 5.0) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, str | None, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def find(self, key: str) -> ApiKey | None:
        """The stored key ``key`` is (revoked or not); None for no such key. Raises
        DatabaseUnavailableError when the table cannot be read."""
        prefix = key_prefix(key)
        if prefix is None:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(prefix)
        if cached is None or now - cached[0] > self._cache_seconds:
            with connect(self._engine) as conn:
                row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).mappings().first()
            cached = (now, None, None) if row is None else (now, row["key_hash"], _row(row))
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[prefix] = cached
        _, stored_hash, stored = cached
        if stored_hash is None or not hmac.compare_digest(stored_hash, hash_key(key)):
            return None
        return stored


def _row(row) -> ApiKey:
    return ApiKey(int(row["key_id"]), row["prefix"], row["name"], tuple(row["scopes"]), row["created_at"], row["revoked_at"])


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
