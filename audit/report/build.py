"""Build the monthly self-check report (合规自查) from the store.

`build_report(store, catalog, month, subject_ref)` reads the month's trail and
the consent ledger with aggregate queries on one connection (on PostgreSQL in
one REPEATABLE READ snapshot, so the figures agree with each other) while
`audit.verify.verify_trail` walks every chain: the two run at the same time.
On PostgreSQL the server aggregates while this process hashes; on SQLite the
aggregates run on a connection of their own in aiosqlite's worker thread (the
store's own connections run inline on the event loop), so SQLite's C code
sorts while the chain walk hashes, on two cores, and a long aggregate does not
hold up the event loop of a serving proxy.

It writes nothing but a temporary table on its own connection; recording that
the report was made (`audit.report`) is the caller's job, as reading the trail
is for `/v1/audit/events`.
"""

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel import col

from audit.models import AuditEventRow
from audit.report import accesses, collect
from audit.report.anomalies import CallerDays, detect
from audit.report.figures import (
    Accesses,
    Anomalies,
    ChainCheck,
    Consent,
    Denials,
    KindCount,
    Revision,
    SelfCheckReport,
    SensitiveTagUse,
    SensitiveUse,
)
from audit.report.month import ReportMonth, trail_instant
from audit.report.sensitive import sensitive_tags, sensitive_uses
from audit.report.withdrawals import consent_figures
from audit.verify import verify_trail
from governance.catalog import Catalog
from governance.center.labels import CATEGORY_LABELS, purpose_title

E = AuditEventRow


@dataclass(frozen=True)
class _Figures:
    """Everything but the chain check."""

    accesses: Accesses
    sensitive: tuple[SensitiveUse, ...]
    sensitive_tags: tuple[SensitiveTagUse, ...]
    denials: Denials
    consent: Consent
    anomalies: Anomalies
    revisions: tuple[Revision, ...]
    events_by_kind: tuple[KindCount, ...]


async def build_report(
    store: AsyncEngine,
    catalog: Catalog,
    month: ReportMonth,
    subject_ref: Callable[[str], str],
    public_keys: Sequence[str] | None = None,
) -> SelfCheckReport:
    """Every figure of the self-check for `month`, and the trail's verification
    (checkpoint and purge signatures too, given the audit public keys)."""
    async with _reader(store) as reader:
        figures, verified = await asyncio.gather(
            _figures(reader, catalog, month, subject_ref),
            verify_trail(store, public_keys=public_keys),
        )
    fault = verified.first_bad or verified.checkpoint_fault or verified.purge_fault
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
            asdict(fault) if fault else None,
        ),
        accesses=figures.accesses,
        sensitive=figures.sensitive,
        sensitive_tags=figures.sensitive_tags,
        denials=figures.denials,
        consent=figures.consent,
        anomalies=figures.anomalies,
        revisions=figures.revisions,
        events_by_kind=figures.events_by_kind,
        purpose_titles={
            name: purpose_title(p.description, name)
            for name, p in catalog.purposes.items()
        },
        category_titles=dict(CATEGORY_LABELS),
    )


@asynccontextmanager
async def _reader(store: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The engine the aggregates run on: SQLite's in a worker thread, else the store."""
    if store.dialect.name != "sqlite":
        yield store
        return
    threaded = create_async_engine(
        store.url, connect_args={"timeout": 5.0}, hide_parameters=True
    )
    try:
        yield threaded
    finally:
        await threaded.dispose()


async def _figures(
    engine: AsyncEngine,
    catalog: Catalog,
    month: ReportMonth,
    subject_ref: Callable[[str], str],
) -> _Figures:
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
            # A month's distinct subjects and shapes are hashed in memory, not
            # sorted on disk (4 MB by default); for this transaction only.
            await conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        shapes = await collect.shapes(conn, month)
        tags = await collect.detail_lists(
            conn, month, "tags", [col(E.kind) == "access.query"]
        )
        refused = [
            collect.is_access(),
            col(E.outcome) == "denied",
            col(E.reason) == "policy_denied",
        ]
        policy = await collect.detail_lists(conn, month, "reasons", refused)
        figures = Accesses(
            total=accesses.total(shapes),
            subjects=await collect.released_subjects(conn, month),
            by_purpose=accesses.by_key(shapes, "purpose"),
            by_caller=accesses.by_key(shapes, "caller"),
            by_day=accesses.daily(shapes, month.days()),
        )
        return _Figures(
            accesses=figures,
            sensitive=sensitive_uses(shapes, catalog),
            sensitive_tags=sensitive_tags(tags, catalog),
            denials=accesses.denials(shapes, policy),
            consent=await consent_figures(conn, month, subject_ref),
            anomalies=await _anomalies(conn, month, shapes),
            revisions=accesses.revisions(shapes),
            events_by_kind=accesses.kinds(shapes),
        )


async def _anomalies(
    conn: AsyncConnection, month: ReportMonth, shapes: list[collect.Shape]
) -> Anomalies:
    per_day: defaultdict[str, defaultdict[date, int]] = defaultdict(
        lambda: defaultdict(int)
    )
    for h in await collect.baseline_hours(conn, month):
        per_day[h.caller][accesses.china_day(h.hour)] += h.count
    for s in shapes:
        if s.access and s.caller is not None:
            per_day[s.caller][accesses.china_day(s.hour)] += s.count
    callers = []
    for caller, days in per_day.items():
        first = await collect.first_access(conn, caller, trail_instant(month.start))
        first_day = accesses.china_day(first[:13]) if first else None
        callers.append(CallerDays(caller, days, first_day))
    return detect(callers, month)
