"""Locust users for the REST service (``pip install -e '.[load]'``), as an alternative to
``scripts/loadtest.py``'s own clients, e.g. against ``make serve``:

    MM_KEY=mm_... MM_MENTEES=1-2000 .venv/bin/locust -f scripts/locustfile.py --headless \\
        -H http://127.0.0.1:8000 -u 32 -r 32 -t 20s KnownMentee

``MM_KEY``: a read key (scripts/apikey.py create --scopes read); ``MM_MENTEES``: the mentee
ids to ask for (``first-last``); ``MM_PROFILES``: a JSON file of ad-hoc profiles (a list of
``{"goals": ..., ...}``) for ``AdHocProfile`` (default: one generic profile).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

KEY = os.environ.get("MM_KEY", "")
FIRST, _, LAST = os.environ.get("MM_MENTEES", "1-100").partition("-")
MENTEES = range(int(FIRST), int(LAST or FIRST) + 1)
PROFILES = (
    json.loads(Path(os.environ["MM_PROFILES"]).read_text()) if os.environ.get("MM_PROFILES")
    else [{"goals": "Grow from backend engineer to tech lead", "current_level": "mid"}]
)
HEADERS = {"Authorization": f"Bearer {KEY}"}


class KnownMentee(FastHttpUser):
    """``GET /v1/mentees/{id}/recommendations`` for random known mentees, back to back."""

    wait_time = constant(0)

    @task
    def recommendations(self) -> None:
        mentee = random.choice(MENTEES)
        self.client.get(f"/v1/mentees/{mentee}/recommendations?k=10", headers=HEADERS,
                        name="/v1/mentees/{id}/recommendations")


class AdHocProfile(FastHttpUser):
    """``POST /v1/recommendations`` with random profiles, back to back."""

    wait_time = constant(0)

    @task
    def recommendations(self) -> None:
        self.client.post("/v1/recommendations", json={"profile": random.choice(PROFILES), "k": 10}, headers=HEADERS)
