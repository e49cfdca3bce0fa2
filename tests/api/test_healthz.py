"""`/healthz` checks the governance store: 200 only while it answers, 503 `degraded` when not.

One proxy runs over a copy of the demo deployment whose store is a fresh
PostgreSQL database reached through a `relay.Relay`, so the store can be taken
away (connections reset, new ones refused) or made silent (every answer held)
without touching the shared server.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from relay import Relay
from served import demo_copy
from sqlalchemy.engine import make_url

from governance.api.routes.health import STORE_PROBE_S
from governance.app import create_app
from governance.settings import load_settings

pytestmark = pytest.mark.postgres
STALLED_S = 600.0  # how long the relay holds each answer: for ever, to the probe


@pytest.fixture(scope="module")
def relayed_proxy(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Relay, str]]:
    """A proxy whose PostgreSQL store is reached through a relay; and the store's URL."""
    with demo_copy(demo_template, tmp_path_factory.mktemp("healthz"), "postgresql") as (
        folder,
        url,
    ):
        target = make_url(url)
        relay = Relay((target.host or "127.0.0.1", target.port or 5432))
        relayed = target.set(host="127.0.0.1", port=relay.port)
        settings = load_settings(
            folder / "govproxy.yaml",
            env="test",
            store_url=relayed.render_as_string(hide_password=False),
        )
        try:
            app = create_app(settings)
            with TestClient(app, raise_server_exceptions=False) as client:
                yield client, relay, url
        finally:
            relay.close()


def health(client: TestClient) -> tuple[int, dict[str, Any], str]:
    """`/healthz`'s status code, document and raw text."""
    answer = client.get("/healthz")
    return answer.status_code, answer.json(), answer.text


def assert_store_down(status: int, doc: dict[str, Any], raw: str, url: str) -> None:
    """503 `degraded`, naming the store and its error's type, nothing of where it is."""
    target = make_url(url)
    assert status == 503, raw
    assert doc["status"] == "degraded"
    assert doc["store"]["up"] is False
    assert doc["store"]["error"].isidentifier()  # a type name, not a message
    assert str(target.port) not in raw
    assert str(target.database) not in raw
    assert "postgresql" not in raw


class TestHealthzStore:
    """The store's state decides `/healthz`'s status and answer code."""

    def test_while_the_store_answers_then_200_ok(self, relayed_proxy):
        """The store answers: 200, `status: ok`, `store.up`."""
        client, _, _ = relayed_proxy

        status, doc, _ = health(client)

        assert (status, doc["status"]) == (200, "ok")
        assert doc["store"] == {"up": True, "error": None}

    def test_when_the_store_is_gone_then_503_degraded_then_ok_again(
        self, relayed_proxy
    ):
        """Connections reset and refused: 503 `degraded`; back to 200 once it returns."""
        client, relay, url = relayed_proxy
        relay.stop()
        try:
            down = health(client)
        finally:
            relay.start()
        back = health(client)

        assert_store_down(*down, url)
        assert (back[0], back[1]["status"], back[1]["store"]["up"]) == (200, "ok", True)

    def test_when_the_store_is_silent_then_503_within_the_probe_bound(
        self, relayed_proxy
    ):
        """A store that holds every answer: 503 after `STORE_PROBE_S`, not a hung probe."""
        client, relay, url = relayed_proxy
        relay.delay_s = STALLED_S
        try:
            started = time.monotonic()
            down = health(client)
            elapsed = time.monotonic() - started
        finally:
            relay.delay_s = 0.0
            relay.stop()  # the held connections are reset, as after a restart
            relay.start()
        back = health(client)

        assert_store_down(*down, url)
        assert down[1]["store"]["error"] == "TimeoutError"
        assert STORE_PROBE_S <= elapsed < STORE_PROBE_S + 1.5
        assert back[0] == 200, back[2]
