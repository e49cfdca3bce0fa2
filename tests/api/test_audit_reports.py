"""GET /v1/audit/reports/self-check: the monthly self-check for officers, audited."""

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from factories import auth
from fastapi.testclient import TestClient
from report_trail import seed_march

from adapters.keys.local import LocalKeyProvider
from governance.app import create_app
from governance.services import subject_referencer
from governance.settings import Settings
from governance.store import open_store
from governance.subjects import CHINA_TZ

PATH = "/v1/audit/reports/self-check"


@pytest.fixture
def reports(demo_settings: Settings) -> Iterator[TestClient]:
    """A proxy over the demo deployment whose store also holds the seeded March 2026."""
    key = LocalKeyProvider(demo_settings.keys_file).key("subject_ref")[1]

    async def seed() -> None:
        store = await open_store(demo_settings.store_url)
        try:
            await seed_march(store, subject_referencer(key))
        finally:
            await store.dispose()

    asyncio.run(seed())
    with TestClient(create_app(demo_settings), raise_server_exceptions=False) as c:
        yield c


def officer(keys: dict[str, str]) -> dict[str, str]:
    """Headers of the compliance officer."""
    return auth(keys["compliance-officer"])


def report_events(
    demo_dir: Path,
) -> list[tuple[str, str, str | None, dict[str, object]]]:
    """(caller, outcome, reason, detail) of every `audit.report` event in the store."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        rows = conn.execute(
            "SELECT caller, outcome, reason, detail FROM audit_events"
            " WHERE kind = 'audit.report' ORDER BY ts"
        ).fetchall()
    return [(c, o, r, orjson.loads(d)) for c, o, r, d in rows]


def this_month() -> str:
    """The running month in Beijing time."""
    return datetime.now(UTC).astimezone(CHINA_TZ).strftime("%Y-%m")


def test_an_officer_gets_the_seeded_months_figures_as_json(reports, keys, demo_dir):
    """March 2026 as seeded: its figures, the schema, and an audited `audit.report`."""
    response = reports.get(PATH, params={"month": "2026-03"}, headers=officer(keys))
    body = response.json()

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert (body["schema"], body["month"]) == ("govproxy.audit.self-check/1", "2026-03")
    assert body["accesses"]["total"]["total"] == 1699
    assert body["consent"]["latency"]["median_s"] == 60.0
    assert body["anomalies"]["new_callers"] == ["care-app", "ticket-mailer"]
    assert body["chain"]["ok"] is True
    assert report_events(demo_dir) == [
        (
            "compliance-officer",
            "allowed",
            None,
            {
                "month": "2026-03",
                "format": "json",
                "chain_ok": True,
                "allowed_after_withdrawal": 0,
            },
        )
    ]


def test_the_running_month_counts_what_the_proxy_just_did(reports, keys):
    """Two reads allowed and one refused through the API show up in this month's report."""
    app = keys["brand-app"]
    for purpose in ("order_fulfilment", "order_fulfilment", "analytics"):
        reports.get(
            "/v1/datasets/customers/records/C000001", headers=auth(app, purpose)
        )

    body = reports.get(
        PATH, params={"month": this_month()}, headers=officer(keys)
    ).json()

    assert body["complete"] is False
    assert body["accesses"]["total"] == {
        "key": "total", "allowed": 2, "denied": 1, "error": 0, "total": 3,
    }  # fmt: skip
    assert body["denials"]["by_reason"] == [{"key": "consent_missing", "count": 1}]
    assert [c["key"] for c in body["accesses"]["by_caller"]] == ["brand-app"]


def test_the_html_page_comes_with_a_strict_content_security_policy(reports, keys):
    """format=html: one page in Chinese, served with CSP, nosniff and no-store."""
    response = reports.get(
        PATH, params={"month": "2026-03", "format": "html"}, headers=officer(keys)
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"].startswith("default-src 'none';")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "个人信息保护合规自查报告" in response.text
    assert "2026年3月" in response.text


@pytest.mark.parametrize(
    "month",
    ["2026-13", "abc", "2026-3", "2099-01"],
    ids=["month-13", "letters", "one-digit", "future"],
)
def test_when_the_month_is_bad_then_422_invalid_month_and_audited(
    client, keys, demo_dir, month
):
    """problem+json with the stable code `invalid_month`; the refusal is audited too."""
    response = client.get(PATH, params={"month": month}, headers=officer(keys))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_month"
    assert month not in response.json()["detail"]
    assert [(c, o, r) for c, o, r, _ in report_events(demo_dir)] == [
        ("compliance-officer", "denied", "invalid_month")
    ]


@pytest.mark.parametrize(
    "params",
    [{}, {"month": "2026-03", "format": "pdf"}, {"month": "2026-03-01T00:00:00" * 2}],
    ids=["no-month", "unknown-format", "too-long"],
)
def test_when_the_request_is_malformed_then_422_invalid_request(client, keys, params):
    """A missing month, an unknown format or an overlong month never reach the store."""
    response = client.get(PATH, params=params, headers=officer(keys))

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_only_officers_may_ask(client, keys):
    """A service caller is refused (403) and an anonymous one asked to authenticate (401)."""
    service = client.get(
        PATH, params={"month": "2026-03"}, headers=auth(keys["campaign-sms"])
    )
    anonymous = client.get(PATH, params={"month": "2026-03"})

    assert (service.status_code, service.json()["code"]) == (403, "forbidden_role")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")


@pytest.mark.parametrize(
    "query",
    ["month=2026-03&month=2026-02", "month=2026-03&format=json&format=html",
     "month=2026-03&caller=brand-app"],
    ids=["month-twice", "format-twice", "unknown-parameter"],
)  # fmt: skip
def test_a_repeated_or_unknown_parameter_is_422_unknown_filter_and_audited(
    client, keys, demo_dir, query
):
    """Which month a report covers is never guessed; a filter it has not is not ignored."""
    response = client.get(f"{PATH}?{query}", headers=officer(keys))

    assert response.status_code == 422
    assert response.json()["code"] == "unknown_filter"
    assert [(c, o, r) for c, o, r, _ in report_events(demo_dir)] == [
        ("compliance-officer", "denied", "unknown_filter")
    ]
