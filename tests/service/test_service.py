"""The REST service against a real uvicorn process on loopback.

One small generated world per database (real MiniLM for the index and training, FAISS,
XGBoost; SQLite, and PostgreSQL when ``MENTOR_MATCH_TEST_PG_URL`` names a server), served by ``uvicorn --factory service.app:create_app`` on a free port.
The process loads MiniLM itself only for the one ad-hoc profile test. Keys are made in the
database as ``scripts/apikey.py`` makes them; the key cache is off (a revocation counts at
the next request) and the admin scope may make one request a minute (the 429 test).
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from db import get_engine
from db.schema import interactions, recommendation_events, recommendation_lists
from retrieval import Recommender
from service.keys import create_key, revoke_key
from tests.service.support import build_artifacts, call, serve, write_small_world


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request, tmp_path_factory, encoder):
    """(folder, db url, artifacts, copy url): a served database and a copy for the Python API
    (the same generated world written twice), on SQLite and on PostgreSQL."""
    folder = tmp_path_factory.mktemp(f"service-{request.param}")
    if request.param == "sqlite":
        db_url, copy_url = f"sqlite:///{folder / 'mm.db'}", f"sqlite:///{folder / 'copy.db'}"
    else:
        make = request.getfixturevalue("new_pg_database")
        db_url, copy_url = make(), make()
    write_small_world(db_url)
    write_small_world(copy_url)
    artifacts = folder / "artifacts"
    build_artifacts(db_url, artifacts, encoder)
    return folder, db_url, artifacts, copy_url


@pytest.fixture(scope="module")
def keys(built):
    engine = get_engine(built[1])
    made = {name: create_key(engine, scopes, name)[0] for name, scopes in {
        "reader": ["read"], "feedback": ["read", "feedback"], "admin": ["admin"], "to_revoke": ["read"],
        "admin2": ["admin"],
    }.items()}
    engine.dispose()
    return made


@pytest.fixture(scope="module")
def server(built, keys):
    """Base URL of a uvicorn process serving the built world (killed at teardown); the admin
    scope may make one request a minute, the others their default limits."""
    folder, db_url, artifacts, _ = built
    with serve(db_url, artifacts, folder / "uvicorn.log", MENTOR_MATCH_RATE_LIMIT_ADMIN="1/minute",
               MENTOR_MATCH_RATE_LIMIT_READ="1000/second", MENTOR_MATCH_RATE_LIMIT_FEEDBACK="50/second") as base:
        yield base


def test_health_and_readiness(server):
    assert call(server, "GET", "/healthz").json() == {"status": "ok"}
    ready = call(server, "GET", "/readyz")
    assert ready.status == 200 and ready.json()["status"] == "ready"


def test_no_key_or_a_wrong_key_is_401(server, keys):
    missing = call(server, "GET", "/v1/mentees/1/recommendations")
    assert (missing.status, missing.code) == (401, "missing_key")
    wrong = call(server, "GET", "/v1/mentees/1/recommendations", key=keys["reader"][:-4] + "AAAA")
    assert (wrong.status, wrong.code) == (401, "invalid_key")
    junk = call(server, "GET", "/v1/mentees/1/recommendations", key="not-a-key")
    assert (junk.status, junk.code) == (401, "invalid_key")


def test_a_missing_scope_is_403(server, keys):
    answer = call(server, "POST", "/v1/outcomes", key=keys["reader"],
                  body={"event_id": "x", "kind": "requested", "mentor_id": 1, "mentee_id": 1})
    assert (answer.status, answer.code) == (403, "missing_scope")
    assert call(server, "POST", "/v1/admin/reload", key=keys["feedback"]).code == "missing_scope"


def test_a_key_revoked_while_the_service_runs_is_403_at_once(server, built, keys):
    assert call(server, "GET", "/v1/mentees/3/recommendations?k=2", key=keys["to_revoke"]).status == 200
    engine = get_engine(built[1])
    revoke_key(engine, keys["to_revoke"][3:11])
    engine.dispose()
    answer = call(server, "GET", "/v1/mentees/3/recommendations?k=2", key=keys["to_revoke"])
    assert (answer.status, answer.code) == (403, "revoked_key")


def test_reload_then_the_admin_rate_limit_gives_429_with_retry_after(server, keys):
    first = call(server, "POST", "/v1/admin/reload", key=keys["admin"])
    assert first.status == 200 and first.json()["status"] == "reloaded"
    second = call(server, "POST", "/v1/admin/reload", key=keys["admin"])
    assert (second.status, second.code) == (429, "rate_limited")
    assert 1 <= int(second.headers["Retry-After"]) <= 60


def test_unknown_mentee_and_mentor_are_404(server, keys):
    mentee = call(server, "GET", "/v1/mentees/999999/recommendations", key=keys["reader"])
    assert (mentee.status, mentee.code) == (404, "unknown_mentee")
    mentor = call(server, "GET", "/v1/mentors/999999", key=keys["reader"])
    assert (mentor.status, mentor.code) == (404, "unknown_mentor")
    route = call(server, "GET", "/v1/nothing", key=keys["reader"])
    assert (route.status, route.code) == (404, "not_found")


@pytest.mark.parametrize("path", [
    "/v1/mentees/1/recommendations?k=false",
    "/v1/mentees/1/recommendations?k=0",
    "/v1/mentees/1/recommendations?k=1.5",
    "/v1/mentees/1/recommendations?k=5&limit=3",
    "/v1/mentees/abc/recommendations",
    "/v1/mentees/99999999999999999999/recommendations",
    "/v1/mentors/1?verbose=1",
])
def test_bad_query_input_is_422_never_500(server, keys, path):
    answer = call(server, "GET", path, key=keys["reader"])
    assert answer.status == 422, answer.body
    assert answer.code in ("invalid_request", "unknown_parameter")


@pytest.mark.parametrize("body", [
    {"event_id": "e", "kind": "requested", "mentor_id": False, "mentee_id": 1},
    {"event_id": "e", "kind": "requested", "mentor_id": "1", "mentee_id": 1},
    {"event_id": "e", "kind": "requested", "mentor_id": 1, "mentee_id": 1, "extra": 1},
    {"event_id": "e", "kind": "liked", "mentor_id": 1, "mentee_id": 1},
    {"event_id": "e", "kind": "ended", "mentor_id": 1, "mentee_id": 1, "success": "yes"},
    {"event_id": "e", "kind": "requested", "mentor_id": 2**40, "mentee_id": 1},
    [1, 2],
])
def test_bad_outcome_bodies_are_422(server, keys, body):
    answer = call(server, "POST", "/v1/outcomes", key=keys["feedback"], body=body)
    assert answer.status == 422, answer.body
    assert set(answer.json()) == {"error"} and answer.json()["error"]["message"]


def test_malformed_json_is_422(server, keys):
    answer = call(server, "POST", "/v1/outcomes", key=keys["feedback"], raw=b"{not json")
    assert (answer.status, answer.code) == (422, "invalid_request")


def test_the_service_serves_the_python_apis_list(server, built, keys, encoder):
    _, _, artifacts, copy_url = built
    with Recommender.load(artifacts, copy_url, log=False, encoder=encoder) as rec:
        for mentee in (3, 4, 5):
            expected = [r.mentor_id for r in rec.recommend(mentee_id=mentee, k=7)]
            answer = call(server, "GET", f"/v1/mentees/{mentee}/recommendations?k=7", key=keys["reader"])
            assert answer.status == 200, answer.body
            served = answer.json()
            assert [r["mentor"]["mentor_id"] for r in served["recommendations"]] == expected
            assert [r["rank"] for r in served["recommendations"]] == list(range(1, 8))
            first = served["recommendations"][0]
            assert set(first) == {"mentor", "rank", "score", "similarity", "reasons", "list_id", "variant"}
            assert first["list_id"] == served["list_id"] and len(served["list_id"]) == 32
            assert first["variant"] == served["variant"] == "control"


def test_an_outcome_posted_over_http_joins_its_list(server, built, keys):
    mentee = 10
    served = call(server, "GET", f"/v1/mentees/{mentee}/recommendations?k=5", key=keys["feedback"]).json()
    list_id, mentor = served["list_id"], served["recommendations"][1]["mentor"]["mentor_id"]
    event = {"event_id": uuid.uuid4().hex, "kind": "requested", "mentor_id": mentor, "list_id": list_id,
             "occurred_at": "2030-01-02T03:04:05Z"}
    first = call(server, "POST", "/v1/outcomes", key=keys["feedback"], body=event)
    assert first.status == 201, first.body
    assert first.json()["recorded"] is True and first.json()["mentee_id"] == mentee
    again = call(server, "POST", "/v1/outcomes", key=keys["feedback"], body=event)
    assert again.status == 200 and again.json()["recorded"] is False  # idempotent on the event id
    clash = call(server, "POST", "/v1/outcomes", key=keys["feedback"], body={**event, "kind": "accepted"})
    assert (clash.status, clash.code) == (409, "conflict")  # an event id reused with other content

    engine = get_engine(built[1])
    with engine.connect() as conn:
        listed = conn.execute(select(recommendation_lists).where(recommendation_lists.c.list_id == list_id)).one()
        events = conn.execute(select(recommendation_events).where(recommendation_events.c.list_id == list_id)).all()
        contact = conn.execute(select(interactions).where(interactions.c.list_id == list_id)).one()
    engine.dispose()
    assert listed.mentee_id == mentee and listed.variant == "control"
    assert [(e.event_id, e.kind, e.mentor_id, e.mentee_id) for e in events] == [(event["event_id"], "requested", mentor, mentee)]
    assert (contact.mentee_id, contact.mentor_id, contact.status) == (mentee, mentor, "pending")
    # The contacted mentor is no longer recommended to that mentee.
    after = call(server, "GET", f"/v1/mentees/{mentee}/recommendations?k=20", key=keys["reader"]).json()
    assert mentor not in [r["mentor"]["mentor_id"] for r in after["recommendations"]]


def test_a_mentor_has_the_fields_a_client_shows(server, keys):
    served = call(server, "GET", "/v1/mentees/30/recommendations?k=1", key=keys["reader"]).json()
    first = served["recommendations"][0]["mentor"]
    answer = call(server, "GET", f"/v1/mentors/{first['mentor_id']}", key=keys["reader"])
    assert answer.status == 200
    mentor = answer.json()
    assert (mentor["mentor_id"], mentor["name"]) == (first["mentor_id"], first["name"])
    assert mentor["accepting_mentees"] is True and mentor["name"] and isinstance(mentor["domains"], list)
    assert {"bio", "industry", "skills", "timezone", "rating", "accepting_mentees"} <= set(mentor)


def test_an_ad_hoc_profile_is_served_and_strictly_checked(server, keys):
    bad = call(server, "POST", "/v1/recommendations", key=keys["reader"],
               body={"profile": {"goals": "learn Rust", "mood": "keen"}, "k": 3})
    assert (bad.status, bad.code) == (422, "invalid_request")
    falsy = call(server, "POST", "/v1/recommendations", key=keys["reader"],
                 body={"profile": {"goals": "learn Rust"}, "k": False})
    assert falsy.status == 422
    answer = call(server, "POST", "/v1/recommendations", key=keys["reader"],
                  body={"profile": {"goals": "I want to learn distributed systems and Go", "timezone": "UTC+1",
                                    "current_level": "mid"}, "k": 3})
    assert answer.status == 200, answer.body
    served = answer.json()
    assert served["mentee_id"] is None and len(served["recommendations"]) == 3


def test_metrics_have_millisecond_buckets_and_count_requests(server, keys):
    call(server, "GET", "/v1/mentees/20/recommendations?k=3", key=keys["reader"])
    text = call(server, "GET", "/metrics").body.decode()
    for bucket in ("0.001", "0.002", "0.003", "0.005", "0.0075", "0.01", "0.015", "0.025", "0.05", "0.1", "0.25", "0.5"):
        assert f'mentor_match_request_duration_seconds_bucket{{endpoint="/v1/mentees/{{mentee_id}}/recommendations",le="{bucket}"}}' in text
    assert 'mentor_match_requests_total{endpoint="/v1/mentees/{mentee_id}/recommendations",method="GET",status="200"}' in text
    assert 'mentor_match_lists_total{variant="control"}' in text
    assert "mentor_match_log_queue_depth" in text and "mentor_match_log_dropped_rows" in text
    assert 'mentor_match_reloads_total{result="ok",trigger="admin"}' in text or \
        'mentor_match_reloads_total{trigger="admin",result="ok"}' in text  # the reload tests ran first
    age = float(next(line.split()[1] for line in text.splitlines()
                     if line.startswith("mentor_match_catalogue_refresh_age_seconds ")))
    assert 0.0 <= age < 600.0  # the catalogue read the database when this module's server started


def test_a_reload_during_load_fails_no_request(server, keys):
    """Four clients ask for lists while an admin reloads (the same artifacts: the stages are
    rebuilt and swapped); every request answers 200."""

    def client(n: int) -> list[int]:
        return [call(server, "GET", f"/v1/mentees/{1 + (n * 7 + i) % 50}/recommendations?k=5",
                     key=keys["reader"]).status for i in range(25)]

    with ThreadPoolExecutor(5) as pool:
        clients = [pool.submit(client, n) for n in range(4)]
        time.sleep(0.05)
        reload = pool.submit(call, server, "POST", "/v1/admin/reload", keys["admin2"])
        statuses = [status for c in clients for status in c.result()]
        assert reload.result().status == 200, reload.result().body
    assert statuses == [200] * 100
