"""Helpers for the service tests that start uvicorn themselves: a world with its artifacts,
a served process on a free loopback port, and a plain HTTP client (urllib)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from db import get_engine
from eval.training_run import run_training
from index import build_index_from_db
from synthetic import generate_world, write_world

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"random_forest": {"n_estimators": 20}, "xgboost_classifier": {"n_estimators": 20},
         "xgboost_ranker": {"n_estimators": 60}}
START_TIMEOUT = 90.0
WORLD = {"n_mentors": 80, "n_mentees": 60, "interactions_per_mentee": 5}


class Answer:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def code(self) -> str:
        return self.json()["error"]["code"]


def call(
    base: str, method: str, path: str, key: str | None = None, body=None, timeout: float = 60,
    raw: bytes | None = None,
) -> Answer:
    """One request: ``body`` sent as JSON, or ``raw`` bytes as they are (malformed JSON)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_small_world(db_url: str, seed: int = 5) -> None:
    engine = get_engine(db_url)
    write_world(engine, generate_world(**WORLD, seed=seed), progress=False)
    engine.dispose()


def build_artifacts(db_url: str, artifacts: Path, encoder, seed: int = 5) -> None:
    """An index and a small ranker (the four models, few trees) over the database's world."""
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=seed, encoder=encoder, progress=False, n_jobs=1, params=SMALL)


@contextmanager
def serve(db_url: str, artifacts: Path, log_file: Path, **env_overrides: str) -> Iterator[str]:
    """Run ``uvicorn --factory service.app:create_app`` on a free port; yield its base URL,
    terminate it afterwards. The key cache is off unless ``env_overrides`` set it."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MENTOR_MATCH_DB_URL": db_url,
           "MENTOR_MATCH_ARTIFACTS": str(artifacts), "MENTOR_MATCH_KEY_CACHE_SECONDS": "0",
           "MENTOR_MATCH_RATE_LIMIT_READ": "10000/second", "MENTOR_MATCH_RATE_LIMIT_FEEDBACK": "10000/second",
           "MENTOR_MATCH_RATE_LIMIT_ADMIN": "1000/minute",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", **env_overrides}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(log_file, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"uvicorn exited: {log_file.read_text()[-3000:]}")
            try:
                if call(base, "GET", "/healthz", timeout=5).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"uvicorn did not start in {START_TIMEOUT} s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
