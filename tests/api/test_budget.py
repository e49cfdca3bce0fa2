"""The per-caller request budget through the API, on in-process counters and on real Redis.

A caller over its budget gets 429 `rate_limited` with `Retry-After`; when Redis
cannot be reached every charged request gets 503 `counters_unavailable`; both
are audited like any denial, and `/healthz` names the counters and their state.
Redis faults come from `Relay` (tests/redis_server.py), never from stopping the
shared server; every Redis test uses a prefix of its own.
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
from redis_server import REDIS_URL, fresh_prefix, redis_prefix, relay

from governance.app import create_app
from governance.settings import load_settings

__all__ = ["redis_prefix", "relay"]  # fixtures, imported for pytest
PROBLEM_JSON = "application/problem+json"


@contextmanager
def proxy(demo_dir: Path, budget: int, **redis: Any) -> Iterator[TestClient]:
    """A running proxy over `demo_dir` with this budget and these Redis settings.

    Redis gets a generous timeout unless the test sets one: a loaded machine can
    delay an answer by tens of milliseconds, and only the hang test is about that.
    """
    redis.setdefault("timeout_ms", 2000)
    settings = load_settings(
        demo_dir / "govproxy.yaml",
        env="test",
        limits={"caller_requests_per_minute": budget},
        redis=redis,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def read(client: TestClient, demo_dir: Path, key: str) -> Any:
    """One contract read of an adult's record by `key`'s caller."""
    subject = subjects(demo_dir, minor=False)[0]
    return client.get(
        f"/v1/datasets/customers/records/{subject}",
        headers=auth(key, "order_fulfilment"),
    )


def budget_events(demo_dir: Path) -> list[dict[str, Any]]:
    """The audit events of budget refusals, straight from the demo store."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        rows = conn.execute(
            "SELECT kind, caller, outcome, reason, decision_id, detail"
            " FROM audit_events WHERE kind = 'caller.budget' ORDER BY ts"
        ).fetchall()
    names = ("kind", "caller", "outcome", "reason", "decision_id", "detail")
    return [dict(zip(names, r, strict=True)) for r in rows]


def events_with(demo_dir: Path, decision_id: str) -> int:
    """How many audit events carry `decision_id`."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM audit_events WHERE decision_id = ?", (decision_id,)
        ).fetchone()
    return int(count)


class TestInProcessBudget:
    """The embedded default: one process counts its callers' requests."""

    def test_when_the_budget_is_spent_then_429_rate_limited_with_retry_after(
        self, demo_dir, keys
    ):
        """Three reads pass; the fourth is a 429 problem naming when to retry."""
        with proxy(demo_dir, 3) as client:
            answers = [read(client, demo_dir, keys["brand-app"]) for _ in range(4)]

        refused = answers[-1]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert refused.headers["content-type"] == PROBLEM_JSON
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["X-Decision-Id"] == refused.json()["decision_id"]

    def test_a_refusal_is_audited_as_a_denial_naming_the_route_template(
        self, demo_dir, keys
    ):
        """The 429 has exactly one audit event: denied, `rate_limited`, no subject id."""
        with proxy(demo_dir, 1) as client:
            read(client, demo_dir, keys["brand-app"])
            refused = read(client, demo_dir, keys["brand-app"])

        events = budget_events(demo_dir)
        assert len(events) == 1
        event = events[0]
        assert (event["caller"], event["outcome"], event["reason"]) == (
            "brand-app",
            "denied",
            "rate_limited",
        )
        assert event["decision_id"] == refused.headers["X-Decision-Id"]
        assert events_with(demo_dir, event["decision_id"]) == 1
        assert json.loads(event["detail"]) == {
            "route": "GET /v1/datasets/{dataset}/records/{subject_id}"
        }

    def test_each_caller_has_a_budget_of_its_own(self, demo_dir, keys):
        """One caller spending its budget leaves another caller's untouched."""
        with proxy(demo_dir, 2) as client:
            spent = [read(client, demo_dir, keys["brand-app"]) for _ in range(3)]
            other = client.get("/v1/datasets", headers=auth(keys["campaign-sms"]))

        assert spent[-1].status_code == 429
        assert other.status_code == 200

    def test_requests_without_a_valid_key_are_not_counted(self, demo_dir, keys):
        """Unknown keys get 401 and charge nobody's budget."""
        with proxy(demo_dir, 2) as client:
            strangers = [read(client, demo_dir, "not-a-key") for _ in range(3)]
            answers = [read(client, demo_dir, keys["brand-app"]) for _ in range(2)]

        assert {a.status_code for a in strangers} == {401}
        assert [a.status_code for a in answers] == [200, 200]

    def test_healthz_names_the_in_process_counters(self, demo_dir):
        """`/healthz` reports the in-process backend, up, needed by the budget."""
        with proxy(demo_dir, 5) as client:
            health = client.get("/healthz").json()

        assert health["status"] == "ok"
        assert health["counters"] == {
            "backend": "in-process",
            "up": True,
            "last_error": None,
            "required": True,
        }


class TestRedisBudget:
    """Counters in the real Redis: one budget for every instance on the same prefix."""

    def test_two_instances_on_one_redis_never_admit_more_than_the_budget(
        self, demo_dir, keys, redis_prefix
    ):
        """Alternating reads between two proxies: 6 admitted in all, then 429s."""
        with (
            proxy(demo_dir, 6, url=REDIS_URL, prefix=redis_prefix) as first,
            proxy(demo_dir, 6, url=REDIS_URL, prefix=redis_prefix) as second,
        ):
            answers = [
                read(c, demo_dir, keys["brand-app"]).status_code
                for _ in range(6)
                for c in (first, second)
            ]

        assert answers.count(200) == 6
        assert answers.count(429) == 6
        assert answers[:6] == [200] * 6

    def test_another_prefix_is_another_deployment_with_its_own_budget(
        self, demo_dir, keys, redis_prefix
    ):
        """A proxy on another prefix is not charged for the first one's reads."""
        with fresh_prefix() as other_prefix:
            with proxy(demo_dir, 2, url=REDIS_URL, prefix=redis_prefix) as first:
                spent = [read(first, demo_dir, keys["brand-app"]) for _ in range(3)]
            with proxy(demo_dir, 2, url=REDIS_URL, prefix=other_prefix) as other:
                fresh = read(other, demo_dir, keys["brand-app"])

        assert spent[-1].status_code == 429
        assert fresh.status_code == 200


class TestRedisDown:
    """Redis refusing or hanging: fail closed, say so, recover without a restart."""

    def test_when_redis_is_down_then_503_audited_degraded_then_recovered(
        self, demo_dir, keys, relay, redis_prefix
    ):
        """Reads fail closed with 503 while Redis is down and pass again once it is back."""
        with proxy(demo_dir, 100, url=relay.url, prefix=redis_prefix) as client:
            before = read(client, demo_dir, keys["brand-app"])
            relay.set("down")
            during = read(client, demo_dir, keys["brand-app"])
            health_down = client.get("/healthz").json()
            metrics_down = client.get("/metrics").text
            relay.set("up")
            after = read(client, demo_dir, keys["brand-app"])
            health_up = client.get("/healthz").json()
            metrics_up = client.get("/metrics").text

        assert (before.status_code, during.status_code, after.status_code) == (
            200,
            503,
            200,
        )
        assert during.json()["code"] == "counters_unavailable"
        assert health_down["status"] == "degraded"
        assert health_down["counters"]["backend"] == "redis"
        assert health_down["counters"]["up"] is False
        assert health_down["counters"]["last_error"] is not None
        assert (health_up["status"], health_up["counters"]["up"]) == ("ok", True)
        assert 'govproxy_counters_up{backend="redis"} 0.0' in metrics_down
        assert 'govproxy_counters_up{backend="redis"} 1.0' in metrics_up
        assert "govproxy_counters_required 1.0" in metrics_up
        assert [(e["outcome"], e["reason"]) for e in budget_events(demo_dir)] == [
            ("error", "counters_unavailable")
        ]

    def test_when_redis_hangs_then_reads_fail_closed_within_the_timeout(
        self, demo_dir, keys, relay, redis_prefix
    ):
        """A silent Redis turns into a 503 after `redis.timeout_ms`, not a hung request."""
        with proxy(
            demo_dir, 100, url=relay.url, prefix=redis_prefix, timeout_ms=50
        ) as client:
            read(client, demo_dir, keys["brand-app"])
            relay.set("silent")
            started = time.monotonic()
            during = read(client, demo_dir, keys["brand-app"])
            elapsed = time.monotonic() - started

        assert during.status_code == 503
        assert during.json()["code"] == "counters_unavailable"
        assert elapsed < 1.0

    def test_when_redis_is_down_a_withdrawal_still_takes_effect(
        self, demo_dir, keys, relay, redis_prefix
    ):
        """Withdrawing stays as easy as consenting (C-08): with Redis down a read
        fails closed, but the brand app's withdrawal of a subject's marketing
        consent is recorded, and the next read for that purpose is refused."""
        subject = subjects(demo_dir, minor=False)[0]
        consent = {"purpose": "marketing_push", "notice_version": "2026.01",
                   "method": "click", "channel": "app", "evidence": {"screen": "opt-in-v3"},
                   "declared_frequency": "4/month"}  # fmt: skip
        base = f"/v1/subjects/{subject}/consents"
        with proxy(demo_dir, 100, url=relay.url, prefix=redis_prefix) as client:
            given = client.post(base, json=consent, headers=auth(keys["brand-app"]))
            relay.set("down")
            one = client.post(
                f"{base}/marketing_push/withdraw", headers=auth(keys["brand-app"])
            )
            every = client.post(
                f"{base}/withdraw-marketing", headers=auth(keys["brand-app"])
            )
            read_down = read(client, demo_dir, keys["brand-app"])
            relay.set("up")
            push = client.get(
                f"/v1/datasets/customers/records/{subject}",
                headers=auth(keys["campaign-sms"], "marketing_push"),
            )

        assert given.status_code == 201
        assert (one.status_code, one.json()["changed"]) == (200, True)
        assert every.status_code == 200
        assert read_down.json()["code"] == "counters_unavailable"
        assert push.json()["code"] == "consent_withdrawn"

    def test_with_no_budget_a_dead_redis_changes_nothing(self, demo_dir, keys, relay):
        """Budget 0: reads pass with Redis down, and /healthz stays `ok`."""
        relay.set("down")
        with proxy(demo_dir, 0, url=relay.url, prefix="govtest:unused:") as client:
            answers = [read(client, demo_dir, keys["brand-app"]) for _ in range(3)]
            health = client.get("/healthz").json()

        assert [a.status_code for a in answers] == [200, 200, 200]
        assert health["status"] == "ok"
        assert health["counters"]["required"] is False
        assert health["counters"]["up"] is False
