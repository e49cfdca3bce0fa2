"""Refusals that are not data accesses: a service key probing the trail, requests
without a key, throttles, spent budgets, refused consent grants. The self-check
shows them, in its figures, its page and its JSON, and each kind by outcome."""

import asyncio

import orjson
import pytest
from report_trail import append, cst, report_of, sqlite_url

from audit.record import AuditDraft
from audit.report.document import render_json
from audit.report.figures import SelfCheckReport
from audit.report.page import render_html
from governance.store import open_store


def refused(kind: str, caller: str | None, reason: str, ts: str) -> AuditDraft:
    """A denied event of `kind`, as `governance.trail.refused` writes one."""
    return AuditDraft(
        kind=kind,
        outcome="denied",
        caller=caller,
        reason=reason,
        detail={"route": "GET /v1/audit/events"},
        ts=ts,
    )


@pytest.fixture
def probed(seeded, catalog) -> SelfCheckReport:
    """The seeded March, with campaign-sms probing the trail and others refused."""
    drafts = [
        refused("caller.role", "campaign-sms", "forbidden_role", cst(12, 9)),
        refused("caller.role", "campaign-sms", "forbidden_role", cst(12, 10)),
        refused("caller.role", "campaign-sms", "forbidden_role", cst(13, 10)),
        refused("caller.unauthenticated", None, "unauthenticated", cst(14, 3)),
        refused("caller.throttled", None, "rate_limited", cst(14, 3, 1)),
        refused("caller.budget", "brand-app", "rate_limited", cst(15, 11)),
        refused("consent.granted", "brand-app", "invalid_request", cst(16, 11)),
    ]

    async def write() -> None:
        store = await open_store(sqlite_url(seeded))
        try:
            await append(store, drafts)
        finally:
            await store.dispose()

    asyncio.run(write())
    return report_of(sqlite_url(seeded), catalog)


def test_refusals_outside_data_access_are_grouped_by_kind_reason_and_caller(probed):
    """Three role probes by campaign-sms lead; a request without a key shows `(none)`."""
    refusals = [
        (r.kind, r.reason, r.caller, r.count) for r in probed.denials.outside_access
    ]

    assert refusals == [
        ("caller.role", "forbidden_role", "campaign-sms", 3),
        ("caller.budget", "rate_limited", "brand-app", 1),
        ("caller.throttled", "rate_limited", "(none)", 1),
        ("caller.unauthenticated", "unauthenticated", "(none)", 1),
        ("consent.granted", "invalid_request", "brand-app", 1),
    ]


def test_refused_non_accesses_stay_out_of_the_access_denials(probed):
    """The access figures are unchanged: 8 refused accesses, by their two reasons."""
    assert probed.accesses.total.denied == 8
    assert [r.key for r in probed.denials.by_reason] == [
        "policy_denied",
        "consent_withdrawn",
    ]


def test_every_kind_is_broken_down_by_outcome(probed):
    """A refused consent grant is told apart from the month's two granted ones."""
    kinds = {
        k.key: (k.allowed, k.denied, k.error, k.count) for k in probed.events_by_kind
    }

    assert kinds["consent.granted"] == (2, 1, 0, 3)
    assert kinds["caller.role"] == (0, 3, 0, 3)
    assert kinds["access.read"] == (1685, 5, 0, 1690)


def test_the_page_and_the_json_show_the_same_refusals(probed):
    """The page's denials section lists them, and its summary points there; the JSON too."""
    page = render_html(probed)
    document = orjson.loads(render_json(probed))

    assert "数据访问以外的拒绝 Refused outside data access" in page
    assert "角色不符被拒" in page  # caller.role, in the words an officer reads
    assert "7 次数据访问以外的请求被拒绝" in page
    assert document["denials"]["outside_access"][0] == {
        "kind": "caller.role",
        "reason": "forbidden_role",
        "caller": "campaign-sms",
        "count": 3,
    }
    consent = next(
        k for k in document["events_by_kind"] if k["key"] == "consent.granted"
    )
    assert consent == {
        "key": "consent.granted",
        "count": 3,
        "allowed": 2,
        "denied": 1,
        "error": 0,
    }


def test_a_month_without_refusals_says_so(seeded, catalog):
    """The seeded month refused nothing but accesses: the section says there were none."""
    report = report_of(sqlite_url(seeded), catalog)

    assert report.denials.outside_access == ()
    assert "本月没有数据访问以外的拒绝。" in render_html(report)
