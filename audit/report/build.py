"""Build the monthly self-check report (合规自查) from the store.

`build_report(store, catalog, month, subject_ref)` reads the month's trail and
the consent ledger with aggregate queries on one connection (on PostgreSQL in
one REPEATABLE READ snapshot, so the figures agree with each other), then
verifies every chain with `audit.verify.verify_trail`. It writes nothing but a
temporary table that lives as long as the query that needs it; recording that
the report was made (`audit.report`) is the caller's job, as reading the trail
is for `/v1/audit/events`.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from audit.models import AuditEventRow
from audit.report import accesses, collect
from audit.report.anomalies import CallerDays, detect
from audit.report.figures import Accesses, Anomalies, ChainCheck, SelfCheckReport
from audit.report.month import ReportMonth, trail_instant
from audit.report.sensitive import sensitive_tags, sensitive_uses
from audit.report.withdrawals import consent_figures
from audit.verify import verify_trail
from governance.catalog import Catalog
from governance.center.labels import CATEGORY_LABELS, purpose_title

E = AuditEventRow


async def build_report(
    store: AsyncEngine,
    catalog: Catalog,
    month: ReportMonth,
    subject_ref: Callable[[str], str],
) -> SelfCheckReport:
    """Every figure of the self-check for `month`, and the trail's verification."""
    async with store.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        shapes = await collect.shapes(conn, month)
        hours = await collect.hourly(conn, month)
        in_month = [
            h for h in hours if accesses.china_day(h.hour) >= month.start.date()
        ]
        figures = Accesses(
            total=accesses.total(shapes),
            subjects=await collect.released_subjects(conn, month),
            by_purpose=accesses.by_key(shapes, "purpose"),
            by_caller=accesses.by_key(shapes, "caller"),
            by_day=accesses.daily(in_month, month.days()),
        )
        tags = await collect.detail_lists(
            conn, month, "tags", [col(E.kind) == "access.query"]
        )
        policy = await collect.detail_lists(
            conn,
            month,
            "reasons",
            [
                collect.is_access(),
                col(E.outcome) == "denied",
                col(E.reason) == "policy_denied",
            ],
        )
        consent = await consent_figures(conn, month, subject_ref)
        anomalies = await _anomalies(conn, month, hours)
    verified = await verify_trail(store)
    return SelfCheckReport(
        month=month.label,
        period_start=trail_instant(month.start),
        period_end=trail_instant(month.end),
        complete=month.complete,
        generated_at=trail_instant(month.now),
        chain=ChainCheck(
            verified.ok,
            verified.events,
            verified.chains,
            asdict(verified.first_bad) if verified.first_bad else None,
        ),
        accesses=figures,
        sensitive=sensitive_uses(shapes, catalog),
        sensitive_tags=sensitive_tags(tags, catalog),
        denials=accesses.denials(shapes, policy),
        consent=consent,
        anomalies=anomalies,
        revisions=accesses.revisions(shapes),
        events_by_kind=accesses.kinds(shapes),
        purpose_titles={
            name: purpose_title(p.description, name)
            for name, p in catalog.purposes.items()
        },
        category_titles=dict(CATEGORY_LABELS),
    )


async def _anomalies(
    conn: AsyncConnection, month: ReportMonth, hours: list[collect.HourCount]
) -> Anomalies:
    per_day: defaultdict[str, defaultdict[date, int]] = defaultdict(
        lambda: defaultdict(int)
    )
    for h in hours:
        per_day[h.caller][accesses.china_day(h.hour)] += h.count
    callers = []
    for caller, days in per_day.items():
        first = await collect.first_access(conn, caller, trail_instant(month.start))
        first_day = accesses.china_day(first[:13]) if first else None
        callers.append(CallerDays(caller, days, first_day))
    return detect(callers, month)
