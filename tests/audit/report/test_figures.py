"""The self-check's figures over the seeded March 2026 (`report_trail`), known by hand."""

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

from report_trail import (
    SUBJECT_REF,
    append,
    cst,
    forge_allowed_read,
    query,
    report_of,
    sqlite_url,
)

from governance.store import open_store


def test_accesses_are_counted_by_outcome_purpose_caller_and_day(seeded, catalog):
    """1,699 accesses: 8 refused, all by campaign-sms; days in Beijing time; 52 subjects."""
    a = report_of(sqlite_url(seeded), catalog).accesses

    assert (a.total.total, a.total.allowed, a.total.denied, a.total.error) == (
        1699, 1691, 8, 0,
    )  # fmt: skip
    assert a.subjects == 52  # C000000..C000049, W000001 and W000005
    assert [(r.key, r.allowed, r.denied) for r in a.by_caller] == [
        ("campaign-sms", 1056, 8),
        ("brand-app", 620, 0),
        ("refund-svc", 8, 0),
        ("ticket-mailer", 5, 0),
        ("care-app", 2, 0),
    ]
    assert [(r.key, r.total) for r in a.by_purpose] == [
        ("marketing_push", 1064),
        ("order_fulfilment", 620),
        ("refund_processing", 8),
        ("customer_service", 5),
        ("maternal_care_recommendation", 2),
    ]
    days = {d.key: (d.allowed, d.denied) for d in a.by_day}
    assert len(days) == 31
    assert days["2026-03-10"] == (170, 0)
    assert days["2026-03-05"] == (51, 2)
    assert days["2026-03-31"] == (50, 0)


def test_sensitive_fields_released_and_sensitive_tag_filters_are_found(seeded, catalog):
    """bank_card masked for refunds counts (7), withheld does not; 孕期 filters by outcome."""
    report = report_of(sqlite_url(seeded), catalog)

    assert [
        (u.category, u.purpose, u.caller, u.events, u.fields) for u in report.sensitive
    ] == [("financial.bank_card", "refund_processing", "refund-svc", 7, ("bank_card",))]
    assert [
        (t.tag, t.category, t.purpose, t.outcome, t.events)
        for t in report.sensitive_tags
    ] == [
        ("孕期", "health.fertility", "marketing_push", "denied", 3),
        ("孕期", "health.fertility", "maternal_care_recommendation", "allowed", 2),
    ]


def test_denials_are_counted_by_reason_and_by_the_policys_reasons(seeded, catalog):
    """5 policy refusals (2 bank_card reads, 3 孕期 queries) and 3 refusals after withdrawal."""
    d = report_of(sqlite_url(seeded), catalog).denials

    assert [(r.key, r.count) for r in d.by_reason] == [
        ("policy_denied", 5),
        ("consent_withdrawn", 3),
    ]
    assert [(r.key, r.count) for r in d.policy_reasons] == [
        ("sensitive_tag_not_permitted:孕期", 3),
        ("sensitive_field_not_permitted:bank_card", 2),
    ]


def test_consent_changes_and_the_delay_until_withdrawals_took_effect(seeded, catalog):
    """4 withdrawals; refusals 90 s and 30 s after two of them; none allowed after."""
    c = report_of(sqlite_url(seeded), catalog).consent

    assert [(r.purpose, r.granted, r.withdrawn, r.expired) for r in c.changes] == [
        ("marketing_push", 2, 3, 1),
        ("partner_sharing", 0, 1, 0),
    ]
    lat = c.latency
    assert (lat.withdrawals, lat.refused) == (4, 2)
    assert (lat.median_s, lat.p95_s, lat.max_s) == (60.0, 90.0, 90.0)
    assert (c.violations, c.listed) == (0, ())  # W000005 read after granting again


def test_a_forged_chained_read_after_a_withdrawal_is_a_finding(seeded, catalog):
    """A read allowed after W000004 withdrew passes chain verification, not the self-check."""

    async def forge() -> None:
        store = await open_store(sqlite_url(seeded))
        try:
            await forge_allowed_read(store, SUBJECT_REF, "W000004", cst(20, 15))
        finally:
            await store.dispose()

    asyncio.run(forge())
    report = report_of(sqlite_url(seeded), catalog)

    assert report.chain.ok is True
    assert report.consent.violations == 1
    (finding,) = report.consent.listed
    assert (finding.ts, finding.kind, finding.caller, finding.purpose) == (
        cst(20, 15), "access.read", "campaign-sms", "marketing_push",
    )  # fmt: skip
    assert finding.subject_ref == SUBJECT_REF("W000004")
    assert finding.withdrawn_at == cst(10, 8, month=2)


def test_an_audience_query_releasing_a_withdrawn_subject_is_a_finding(seeded, catalog):
    """A query that released W000004 (indexed in audit_subjects) is caught too."""
    released = query(
        SUBJECT_REF, cst(21, 9), "campaign-sms", "marketing_push", ["高消费"],
        ["C000001", "W000004"],
    )  # fmt: skip

    async def write() -> None:
        store = await open_store(sqlite_url(seeded))
        try:
            await append(store, [released])
        finally:
            await store.dispose()

    asyncio.run(write())
    c = report_of(sqlite_url(seeded), catalog).consent

    assert c.violations == 1
    assert [(f.kind, f.subject_ref) for f in c.listed] == [
        ("access.query", SUBJECT_REF("W000004"))
    ]


def test_the_volume_spike_and_the_new_callers_are_reported(seeded, catalog):
    """campaign-sms's 150 reads on 03-10 against a steady 30 a day; two new callers."""
    an = report_of(sqlite_url(seeded), catalog).anomalies

    assert [(f.caller, f.day, f.count, f.median, f.direction) for f in an.flags] == [
        ("campaign-sms", "2026-03-10", 150, 30.0, "spike")
    ]
    assert an.new_callers == ("care-app", "ticket-mailer")
    statuses = {c.caller: (c.status, c.baseline_days, c.median) for c in an.callers}
    assert statuses["brand-app"] == ("scored", 28, 20.0)
    assert statuses["refund-svc"] == ("scored", 28, 1.0)


def test_policy_revisions_in_force_with_first_and_last_decision(seeded, catalog):
    """rev-a decided 896 events up to 03-15, rev-b 800 from 03-16."""
    revisions = report_of(sqlite_url(seeded), catalog).revisions

    assert [
        (r.revision, r.first_seen, r.last_seen, r.decisions) for r in revisions
    ] == [
        ("rev-a", cst(1, 9), cst(15, 9, 58), 896),
        ("rev-b", cst(16, 9), cst(31, 9, 58), 800),
    ]


def test_every_event_of_the_month_is_counted_by_kind(seeded, catalog):
    """Accesses and the consent changes' own events; February's are not in March."""
    kinds = report_of(sqlite_url(seeded), catalog).events_by_kind

    assert [(k.key, k.count) for k in kinds] == [
        ("access.read", 1690),
        ("access.query", 9),
        ("consent.withdrawn", 4),
        ("consent.granted", 2),
        ("consent.expired", 1),
    ]


def test_a_tampered_trail_is_reported_with_its_first_bad_event(seeded, catalog):
    """Turning a refusal into an allowance breaks the chain, and the report says where."""
    with closing(sqlite3.connect(seeded)) as conn:
        conn.execute(
            "UPDATE audit_events SET outcome = 'allowed' WHERE reason = 'consent_withdrawn'"
            " AND ts = ?",
            (cst(6, 10, 0, 30),),
        )
        conn.commit()
    chain = report_of(sqlite_url(seeded), catalog).chain

    assert chain.ok is False
    assert chain.first_bad is not None
    assert chain.first_bad["problem"] == "altered"


def test_a_month_without_events_has_zero_figures(seeded, catalog):
    """January 2026 precedes the seeded trail: every count is zero, every day listed."""
    report = report_of(sqlite_url(seeded), catalog, "2026-01")

    assert report.accesses.total.total == 0
    assert len(report.accesses.by_day) == 31
    assert (report.sensitive, report.revisions, report.anomalies.callers) == (
        (),
        (),
        (),
    )
    assert report.consent.latency.withdrawals == 0


def test_the_report_writes_nothing_to_the_store(seeded, catalog):
    """Building the report leaves every table as it was (its temporary table included)."""

    def snapshot(db: Path) -> list[tuple[str, int]]:
        with closing(sqlite3.connect(db)) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                )
            ]
            count = 'SELECT count(*) FROM "{}"'
            return [(n, conn.execute(count.format(n)).fetchone()[0]) for n in names]

    before = snapshot(seeded)
    report_of(sqlite_url(seeded), catalog)

    assert snapshot(seeded) == before
