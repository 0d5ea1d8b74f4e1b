"""The service under faults and changes: on PostgreSQL through a TCP proxy
(tests/db/proxy.py) a database outage answers 503 ``database_unavailable`` (and ``/readyz``
503), and the same process serves again once the database is back, without a restart; a
ranker published while it serves is picked up by an admin reload under load, or by the
watch on the artifact links."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from db import get_engine
from db.schema import recommendation_lists
from eval.training_run import run_training
from ranking.models import Ranker
from service.keys import create_key
from tests.db.proxy import TcpProxy
from tests.service.support import SMALL, build_artifacts, call, serve, write_small_world

RECOVERY_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def pg_served(tmp_path_factory, encoder, new_pg_database):
    """(base URL, read key, admin key, proxy, db URL, artifacts) of a service whose database
    connections pass the proxy."""
    folder = tmp_path_factory.mktemp("robust")
    db_url = new_pg_database()
    write_small_world(db_url)
    build_artifacts(db_url, folder / "artifacts", encoder)
    engine = get_engine(db_url)
    key = create_key(engine, ["read"], "robustness")[0]
    admin = create_key(engine, ["admin"], "robustness-admin")[0]
    engine.dispose()
    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with serve(proxied, folder / "artifacts", folder / "uvicorn.log",
                   MENTOR_MATCH_REFRESH_INTERVAL="none", MENTOR_MATCH_WATCH_INTERVAL="off") as base:
            yield base, key, admin, proxy, db_url, folder / "artifacts"
    finally:
        proxy.stop()


@pytest.mark.postgres
def test_a_database_outage_is_503_then_recovers_on_its_own(pg_served):
    base, key, _, proxy, _, _ = pg_served
    path = "/v1/mentees/3/recommendations?k=5"
    assert call(base, "GET", path, key=key).status == 200
    proxy.stop()
    try:
        down = call(base, "GET", path, key=key, timeout=30)
        assert (down.status, down.code) == (503, "database_unavailable"), down.body
        assert int(down.headers["Retry-After"]) > 0
        ready = call(base, "GET", "/readyz", timeout=30)
        assert (ready.status, ready.code) == (503, "not_ready")
    finally:
        proxy.start()
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while True:
        answer = call(base, "GET", path, key=key, timeout=30)
        if answer.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer.status == 200, answer.body
    assert len(answer.json()["recommendations"]) == 5
    assert call(base, "GET", "/readyz").status == 200


def _logged_version(db_url: str, list_id: str) -> str:
    engine = get_engine(db_url)
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    try:
        while True:
            with engine.connect() as conn:
                version = conn.execute(select(recommendation_lists.c.model_version)
                                       .where(recommendation_lists.c.list_id == list_id)).scalar()
            if version is not None or time.monotonic() > deadline:
                return version
            time.sleep(0.2)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_reload_under_load_serves_a_newly_published_ranker(pg_served, encoder):
    """A ranker trained with another seed is published into the served artifacts; four
    clients ask for lists while an admin reloads: no request fails, and the lists served
    afterwards are logged with the new ranker's model_version."""
    base, key, admin, _, db_url, artifacts = pg_served
    path = "/v1/mentees/4/recommendations?k=5"
    before = call(base, "GET", path, key=key).json()
    old_version = _logged_version(db_url, before["list_id"])
    assert old_version == Ranker.load(artifacts / "ranker").manifest.version
    run_training(db_url, artifacts, seed=6, encoder=encoder, progress=False, n_jobs=1, params=SMALL)

    def client(n: int) -> list[int]:
        return [call(base, "GET", f"/v1/mentees/{1 + (n * 7 + i) % 50}/recommendations?k=5", key=key).status
                for i in range(25)]

    with ThreadPoolExecutor(5) as pool:
        clients = [pool.submit(client, n) for n in range(4)]
        time.sleep(0.05)
        reload = pool.submit(call, base, "POST", "/v1/admin/reload", admin)
        statuses = [status for c in clients for status in c.result()]
        assert reload.result().status == 200, reload.result().body
    assert statuses == [200] * 100
    after = call(base, "GET", path, key=key).json()
    new_version = _logged_version(db_url, after["list_id"])
    published = Ranker.load(artifacts / "ranker").manifest.version
    assert new_version == published != old_version


def test_a_ranker_published_while_serving_is_picked_up_by_the_watch(tmp_path, encoder):
    """No admin call: the service looks at the artifact links every half second and serves
    the newly published ranker; the reload is counted in /metrics."""
    db_url = f"sqlite:///{tmp_path / 'mm.db'}"
    write_small_world(db_url)
    artifacts = tmp_path / "artifacts"
    build_artifacts(db_url, artifacts, encoder)
    engine = get_engine(db_url)
    key = create_key(engine, ["read"], "watch")[0]
    engine.dispose()
    path = "/v1/mentees/4/recommendations?k=5"
    with serve(db_url, artifacts, tmp_path / "uvicorn.log", MENTOR_MATCH_WATCH_INTERVAL="0.5") as base:
        old_version = _logged_version(db_url, call(base, "GET", path, key=key).json()["list_id"])
        run_training(db_url, artifacts, seed=6, encoder=encoder, progress=False, n_jobs=1, params=SMALL)
        published = Ranker.load(artifacts / "ranker").manifest.version
        assert published != old_version
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while True:
            answer = call(base, "GET", path, key=key)
            assert answer.status == 200, answer.body
            version = _logged_version(db_url, answer.json()["list_id"])
            if version == published or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert version == published
        metrics = call(base, "GET", "/metrics").body.decode()
    assert 'mentor_match_reloads_total{result="ok",trigger="watch"} 1.0' in metrics or \
        'mentor_match_reloads_total{trigger="watch",result="ok"} 1.0' in metrics
