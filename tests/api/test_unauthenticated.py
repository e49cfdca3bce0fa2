"""Requests without a valid key: each refused and audited, up to a budget per address.

Past `limits.unauthenticated_per_minute` from one address, a request without a
valid key gets 429 `rate_limited` with no audit event of its own; the first such
refusal of the window is audited once as `caller.throttled`. A valid key from
the same address is never held back by it.

The address is counted, and named in the trail, in its canonical form: an IPv6
client by its /64, an IPv4-mapped address as IPv4, and anything that is not an
address (a forwarded header's free text) as the one shared bucket `invalid`.
Forwarded headers come through uvicorn's own `ProxyHeadersMiddleware`, trusting
the loopback hop the test client connects from, as `govproxy serve` does.
"""

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from factories import auth, subjects
from fastapi.testclient import TestClient
from personal_values import leaks
from redis_server import redis_prefix, relay
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from governance.app import create_app
from governance.settings import load_settings

__all__ = ["redis_prefix", "relay"]  # fixtures, imported for pytest
ANONYMOUS = (
    "SELECT kind, outcome, reason, detail FROM audit_events WHERE caller IS NULL"
)


@contextmanager
def proxy(demo_dir: Path, per_minute: int, **redis: Any) -> Iterator[TestClient]:
    """A running proxy over `demo_dir` admitting `per_minute` keyless requests
    per address, started early enough in a minute to finish inside it."""
    app = started(demo_dir, per_minute, redis)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@contextmanager
def behind_a_proxy(demo_dir: Path, per_minute: int) -> Iterator[TestClient]:
    """`proxy`, reached through a trusted reverse proxy on loopback: the client
    address is what `X-Forwarded-For` says, as uvicorn applies it."""
    app = ProxyHeadersMiddleware(started(demo_dir, per_minute, {}), "127.0.0.1")
    with TestClient(
        app, raise_server_exceptions=False, client=("127.0.0.1", 50000)
    ) as client:
        yield client


def started(demo_dir: Path, per_minute: int, redis: dict[str, Any]) -> Any:
    """The proxy's app, built early enough in a minute for a test to finish inside it."""
    if 60 - time.time() % 60 < 15:  # the windows are calendar minutes
        time.sleep(60 - time.time() % 60)
    settings = load_settings(
        demo_dir / "govproxy.yaml",
        env="test",
        limits={"unauthenticated_per_minute": per_minute},
        redis=redis,
    )
    return create_app(settings)


def anonymous_events(demo_dir: Path) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The audit events of requests that named no valid caller."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        return [(k, o, r, json.loads(d)) for k, o, r, d in conn.execute(ANONYMOUS)]


def keyless_read(client: TestClient, subject: str, forwarded_for: str = "") -> Any:
    headers = auth("gk_not-a-key", "order_fulfilment")
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    return client.get(f"/v1/datasets/customers/records/{subject}", headers=headers)


def throttled_peers(demo_dir: Path) -> list[str]:
    """The address each `caller.throttled` event names, in order."""
    return [
        d["peer"] for k, *_, d in anonymous_events(demo_dir) if k == "caller.throttled"
    ]


def test_past_the_address_budget_keyless_requests_get_429_and_one_event(demo_dir, keys):
    """Three refusals audited one by one, then 429s that add one event in all,
    while a valid key from the same address still reads."""
    subject = subjects(demo_dir, minor=False)[0]
    with proxy(demo_dir, per_minute=3) as client:
        refused = [keyless_read(client, subject) for _ in range(3)]
        throttled = [keyless_read(client, subject) for _ in range(4)]
        valid = client.get(
            f"/v1/datasets/customers/records/{subject}",
            headers=auth(keys["brand-app"], "order_fulfilment"),
        )

    events = anonymous_events(demo_dir)

    assert [r.status_code for r in refused] == [401] * 3
    assert [r.status_code for r in throttled] == [429] * 4
    assert {r.json()["code"] for r in throttled} == {"rate_limited"}
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in throttled)
    assert valid.status_code == 200
    assert [e[:3] for e in events] == [
        *[("access.read", "denied", "unauthenticated")] * 3,
        ("caller.throttled", "denied", "rate_limited"),
    ]
    assert events[3][3] == {
        "route": "GET /v1/datasets/{dataset}/records/{subject_id}",
        "peer": "invalid",  # the test client's host is a name, not an address
        "per_minute": 3,
    }


def test_keyless_requests_to_officer_and_admin_routes_are_audited(demo_dir):
    """A probe of the trail or the caller registry without a key leaves a trace."""
    with proxy(demo_dir, per_minute=10) as client:
        trail = client.get("/v1/audit/events")
        callers = client.post("/v1/callers", headers={"Authorization": "Bearer x"})

    assert (trail.status_code, callers.status_code) == (401, 401)
    assert [(k, o, r, d["route"]) for k, o, r, d in anonymous_events(demo_dir)] == [
        ("caller.unauthenticated", "denied", "unauthenticated", "GET /v1/audit/events"),
        ("caller.unauthenticated", "denied", "unauthenticated", "POST /v1/callers"),
    ]


def test_with_no_limit_every_keyless_request_is_refused_and_audited(demo_dir):
    subject = subjects(demo_dir, minor=False)[0]
    with proxy(demo_dir, per_minute=0) as client:
        answers = [keyless_read(client, subject).status_code for _ in range(8)]

    assert answers == [401] * 8
    assert len(anonymous_events(demo_dir)) == 8


def test_when_the_counters_are_down_keyless_requests_are_still_401_and_audited(
    demo_dir, relay, redis_prefix
):
    """Counting them is not worth a 503: the request is refused either way."""
    subject = subjects(demo_dir, minor=False)[0]
    relay.set("down")
    with proxy(
        demo_dir, per_minute=1, url=relay.url, prefix=redis_prefix, timeout_ms=200
    ) as client:
        answers = [keyless_read(client, subject).status_code for _ in range(3)]

    assert answers == [401] * 3
    assert len(anonymous_events(demo_dir)) == 3


class TestTheAddressCounted:
    """Whatever a trusted hop forwards, the budget counts and the trail names an
    address in canonical form, never the header's text."""

    def test_free_text_in_x_forwarded_for_shares_one_bucket_named_invalid(
        self, demo_dir
    ):
        """A mobile and an e-mail address, or any other text, as the forwarded
        client count as one `invalid` address, and neither reaches the trail."""
        subject = subjects(demo_dir, minor=False)[0]
        sent = ["13812345678 zhang.wei@example.com", "zhang.wei@example.com", "x"]
        with behind_a_proxy(demo_dir, per_minute=2) as client:
            answers = [keyless_read(client, subject, f).status_code for f in sent]

        trail = json.dumps(
            [e[3] for e in anonymous_events(demo_dir)], ensure_ascii=False
        )

        assert answers == [401, 401, 429]
        assert throttled_peers(demo_dir) == ["invalid"]
        assert leaks(trail, {"13812345678", "zhang.wei@example.com"}) == []

    def test_an_ipv6_client_is_counted_by_its_64_however_it_is_spelled(self, demo_dir):
        """Three spellings and addresses of one /64 spend one budget; another
        /64 has a budget of its own."""
        subject = subjects(demo_dir, minor=False)[0]
        same = ["2001:db8:1:2::1", "2001:DB8:1:2:0:0:0:1", "[2001:db8:1:2:ffff::9]:443"]
        with behind_a_proxy(demo_dir, per_minute=2) as client:
            answers = [keyless_read(client, subject, f).status_code for f in same]
            other = keyless_read(client, subject, "2001:db8:1:3::1").status_code

        assert (answers, other) == ([401, 401, 429], 401)
        assert throttled_peers(demo_dir) == ["2001:db8:1:2::/64"]

    def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(self, demo_dir):
        """`::ffff:192.0.2.7` and `192.0.2.7` are one client, named in IPv4 form."""
        subject = subjects(demo_dir, minor=False)[0]
        with behind_a_proxy(demo_dir, per_minute=1) as client:
            answers = [
                keyless_read(client, subject, f).status_code
                for f in ("192.0.2.7", "::ffff:192.0.2.7")
            ]

        assert answers == [401, 429]
        assert throttled_peers(demo_dir) == ["192.0.2.7"]

    def test_a_zone_index_is_not_part_of_the_address(self, demo_dir):
        """An IPv6 zone is free text: `fe80::1%<mobile>` is named by its /64 alone."""
        subject = subjects(demo_dir, minor=False)[0]
        with behind_a_proxy(demo_dir, per_minute=1) as client:
            answers = [
                keyless_read(client, subject, f).status_code
                for f in ("fe80::1%13812345678", "fe80::2")
            ]

        assert answers == [401, 429]
        assert throttled_peers(demo_dir) == ["fe80::/64"]
