"""API keys (scripts/apikey.py and service.keys) and the rate limiter, without a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from db import get_engine
from db.loading import create_schema
from db.schema import api_keys
from mentor_match.errors import InvalidParameterError
from service.keys import KeyStore, check_scopes, create_key, hash_key, revoke_key
from service.ratelimit import RateLimiter

ROOT = Path(__file__).resolve().parents[2]


def _apikey(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "apikey.py"), *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)


def test_the_script_creates_lists_and_revokes_keys_storing_only_hashes(sqlite_url):
    engine = get_engine(sqlite_url)
    create_schema(engine)
    made = _apikey("--db-url", sqlite_url, "create", "--scopes", "feedback,read", "--name", "app")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("mm_") and len(key) == 3 + 43  # 32 random bytes
    with engine.connect() as conn:
        row = conn.execute(select(api_keys)).one()
    assert row.key_hash == hash_key(key) and key not in str(tuple(row)) and row.scopes == ["read", "feedback"]
    listed = _apikey("--db-url", sqlite_url, "list")
    assert listed.stdout.startswith(key[3:11]) and "read,feedback" in listed.stdout and "active" in listed.stdout
    assert KeyStore(engine, 0).find(key).revoked is False
    revoked = _apikey("--db-url", sqlite_url, "revoke", key[3:11])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert KeyStore(engine, 0).find(key).revoked is True
    assert "revoked" in _apikey("--db-url", sqlite_url, "list").stdout
    unknown = _apikey("--db-url", sqlite_url, "revoke", "nosuchpf")
    assert unknown.returncode == 1 and "No API key has prefix" in unknown.stderr
    bad = _apikey("--db-url", sqlite_url, "create", "--scopes", "write")
    assert bad.returncode == 1 and "scopes must be one or more of read, feedback, admin" in bad.stderr
    engine.dispose()


def test_a_wrong_key_with_a_real_prefix_is_not_found_and_the_cache_expires(sqlite_url):
    engine = get_engine(sqlite_url)
    create_schema(engine)
    key, row = create_key(engine, ["read"])
    store = KeyStore(engine, cache_seconds=3600)
    assert store.find(key) == row
    assert store.find(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    revoke_key(engine, row.prefix)
    assert store.find(key).revoked is False  # cached for an hour
    assert KeyStore(engine, cache_seconds=0).find(key).revoked is True
    with pytest.raises(InvalidParameterError):
        check_scopes([])
    engine.dispose()


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("storage", ["memory://", pytest.param("redis://127.0.0.1:6379", marks=pytest.mark.skipif(
    not _redis_up(), reason="no Redis at 127.0.0.1:6379"))])
def test_the_limiter_allows_the_limit_then_says_how_long_to_wait(storage):
    limiter = RateLimiter(storage, {"read": "3/minute", "admin": "1/hour"})
    name = f"test-{os.getpid()}-{id(limiter)}"
    assert [limiter.hit(name, "read") for _ in range(3)] == [None, None, None]
    wait = limiter.hit(name, "read")
    assert wait is not None and 1 <= wait <= 60
    assert limiter.hit(name, "admin") is None and 1 <= limiter.hit(name, "admin") <= 3600
    assert limiter.hit(name + "-other", "read") is None  # per key
    assert limiter.check()


def test_an_unparsable_limit_is_refused():
    with pytest.raises(InvalidParameterError, match="50/second"):
        RateLimiter("memory://", {"read": "lots"})
