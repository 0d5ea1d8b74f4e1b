"""Schemathesis over the service's own OpenAPI schema (``/openapi.json``), against a real
uvicorn process: every operation but the admin reload, a bounded number of generated
requests each (valid and invalid ones), all of Schemathesis' checks: no 500, responses,
status codes, content types and headers as the schema declares them, invalid input refused.

Left out: ``positive_data_acceptance`` (a schema-valid request must get 2xx/404/409), since
some valid-looking requests are refused by rules a schema does not state (an outcome needs
a ``list_id`` or a ``mentee_id``; 400 ``invalid_parameter``)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from db import get_engine
from service.keys import create_key
from tests.service.support import build_artifacts, call, serve, write_small_world

MAX_EXAMPLES = 20
REQUEST_TIMEOUT = 60.0
PARAMETERLESS = ("/healthz", "/readyz", "/metrics")


@pytest.fixture(scope="module")
def served(tmp_path_factory, encoder):
    """(base URL, key with every scope but admin) of a service over a small world."""
    folder = tmp_path_factory.mktemp("schema")
    db_url = f"sqlite:///{folder / 'mm.db'}"
    write_small_world(db_url)
    build_artifacts(db_url, folder / "artifacts", encoder)
    engine = get_engine(db_url)
    key = create_key(engine, ["read", "feedback"], "schemathesis")[0]
    engine.dispose()
    with serve(db_url, folder / "artifacts", folder / "uvicorn.log") as base:
        # The first ad-hoc profile loads MiniLM in the server: do it before the timed requests.
        warm = call(base, "POST", "/v1/recommendations", key=key, body={"profile": {"goals": "learn Go"}, "k": 1},
                    timeout=120)
        assert warm.status == 200, warm.body
        yield base, key


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_service_conforms_to_its_schema(served, mode):
    base, key = served
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json").exclude(path="/v1/admin/reload")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7  # healthz, readyz, metrics and the four /v1 endpoints
    headers = {"Authorization": f"Bearer {key}"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.path in PARAMETERLESS:
            continue  # nothing to make invalid: Hypothesis would find no case

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance],
                                 timeout=REQUEST_TIMEOUT)

        check()
