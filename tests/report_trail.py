"""A month of audit trail and consent ledger whose self-check figures are known by hand.

`seed_march(store, subject_ref)` writes, through the real `AuditWriter` (so the
chain verifies), February 2026 (the baseline) and March 2026 (the reported
month), Beijing time, for these callers:

| caller        | purpose                      | Feb, per day | March                          |
|---------------|------------------------------|--------------|--------------------------------|
| campaign-sms  | marketing_push               | 30 reads     | 30 reads a day; 150 on 3-10    |
| brand-app     | order_fulfilment             | 20 reads     | 20 reads a day                 |
| refund-svc    | refund_processing            | 1 read       | 7 reads releasing bank_card    |
|               |                              |              | (3-03), 1 withholding it (3-04)|
| ticket-mailer | customer_service             | -            | 5 reads on 3-12 (new)          |
| care-app      | maternal_care_recommendation | -            | 2 queries on 孕期, 3-09 (new)  |

and campaign-sms's special cases in March: 2 reads refused by the policy
(bank_card, 3-06), 3 queries on 孕期 refused (3-07), 4 allowed queries on
高消费/母婴 (3-08). Consent (marketing_push unless said):

- W000001 withdraws on 3-05 10:00; an allowed read at 09:00 before it; refused
  90 s after it and again at 11:00;
- W000002 withdraws on 3-06 10:00; refused 30 s after;
- W000003 withdraws on 3-07 10:00; never accessed again;
- W000004 withdrew on 2-10 and never granted again (`forge_*` add breaches);
- W000005 withdrew on 2-10, granted again on 2-20, read on 3-11 (no breach);
- W000006/7 grant on 3-02; W000008's grant expires on 3-20;
- W000009 withdraws partner_sharing on 3-15.

Policy revision `rev-a` decides up to 3-15 and `rev-b` from 3-16. Reads use
subjects C000000..C000049.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable
from sqlmodel import col

from audit.chain import link
from audit.models import AuditChain, AuditEventRow
from audit.record import SUBJECT_REFS, AuditDraft
from audit.report.build import build_report
from audit.report.figures import SelfCheckReport
from audit.report.month import parse_month, trail_instant
from audit.writer import AuditWriter
from governance.catalog import Catalog, load_catalog
from governance.consent.ledger import ConsentAction, ConsentChange
from governance.consent.models import ConsentEvent
from governance.services import subject_referencer
from governance.store import open_store
from governance.subjects import CHINA_TZ

MONTH = "2026-03"
SUBJECT_REF = subject_referencer(b"report-tests-subject-key-0123456")
NOW = datetime(2026, 4, 5, 3, 0, tzinfo=UTC)
Ref = Callable[[str], str]

SMS_FIELDS = ("customer_id", "mobile", "nickname")
SMS_KEEP = dict.fromkeys(SMS_FIELDS, "keep")
APP_FIELDS = ("customer_id", "name", "mobile", "address")
APP_OBLIGATIONS = {
    "customer_id": "keep",
    "name": "mask",
    "mobile": "keep",
    "address": "generalise",
}
REFUND_FIELDS = ("customer_id", "name", "bank_card")
REFUND_MASKED = {"customer_id": "keep", "name": "mask", "bank_card": "mask"}
REFUND_WITHHELD = {"customer_id": "keep", "name": "mask", "bank_card": "withhold"}


def cst(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> str:
    """A trail instant given in Beijing time in 2026."""
    return trail_instant(
        datetime(2026, month, day, hour, minute, second, tzinfo=CHINA_TZ)
    )


def revision(ts: str) -> str:
    """The bundle revision in force at `ts`."""
    return "rev-a" if ts < cst(16, 0) else "rev-b"


def read(
    ref: Ref,
    ts: str,
    caller: str,
    purpose: str,
    subject: str,
    *,
    fields: tuple[str, ...] = SMS_FIELDS,
    obligations: dict[str, str] | None = None,
    outcome: str = "allowed",
    reason: str | None = None,
    reasons: tuple[str, ...] = (),
) -> AuditDraft:
    """An `access.read` event as the pipeline writes it."""
    decided = reason in (None, "policy_denied")
    return AuditDraft(
        kind="access.read",
        outcome=outcome,
        caller=caller,
        purpose=purpose,
        dataset="customers",
        subject_ref=ref(subject),
        fields=fields,
        obligations=(SMS_KEEP if obligations is None else obligations)
        if decided
        else {},
        reason=reason,
        policy_revision=revision(ts) if decided else None,
        detail={"reasons": list(reasons)} if reasons else {},
        ts=ts,
    )


def query(
    ref: Ref,
    ts: str,
    caller: str,
    purpose: str,
    tags: list[str],
    released: list[str],
    *,
    outcome: str = "allowed",
    reasons: tuple[str, ...] = (),
) -> AuditDraft:
    """An `access.query` event; an allowed one lists the subjects it released."""
    detail: dict[str, Any] = {"tags": tags}
    if outcome == "allowed":
        detail |= {"excluded": {}, SUBJECT_REFS: [ref(s) for s in released]}
    else:
        detail["reasons"] = list(reasons)
    return AuditDraft(
        kind="access.query",
        outcome=outcome,
        caller=caller,
        purpose=purpose,
        dataset="customers",
        fields=("customer_id", "nickname"),
        obligations={"customer_id": "keep", "nickname": "keep"},
        reason=None if outcome == "allowed" else "policy_denied",
        policy_revision=revision(ts),
        detail=detail,
        ts=ts,
    )


def volume(ref: Ref, day: int, month: int, caller: str, count: int) -> list[AuditDraft]:
    """`count` allowed reads of one caller on one day, from 09:00 two minutes apart."""
    purpose, fields, obligations = {
        "campaign-sms": ("marketing_push", SMS_FIELDS, SMS_KEEP),
        "brand-app": ("order_fulfilment", APP_FIELDS, APP_OBLIGATIONS),
        "refund-svc": ("refund_processing", REFUND_FIELDS, REFUND_MASKED),
        "ticket-mailer": ("customer_service", SMS_FIELDS, SMS_KEEP),
    }[caller]
    start = datetime(2026, month, day, 9, tzinfo=CHINA_TZ)
    return [
        read(
            ref,
            trail_instant(start + timedelta(minutes=2 * n)),
            caller,
            purpose,
            f"C{n % 50:06d}",
            fields=fields,
            obligations=obligations,
        )
        for n in range(count)
    ]


def consent(
    ref: Ref,
    ts: str,
    subject: str,
    action: ConsentAction,
    purpose: str = "marketing_push",
) -> tuple[AuditDraft, Executable]:
    """A consent change: its ledger row and the audit event it commits with."""
    change = ConsentChange(
        subject, purpose, action, "2026.01", "click", "app", "brand-app"
    )
    at = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    row = change.values(str(uuid.uuid4()), at)
    draft = AuditDraft(
        kind=f"consent.{action.value}",
        outcome="allowed",
        caller="brand-app",
        purpose=purpose,
        subject_ref=ref(subject),
        ts=ts,
    )
    return draft, insert(ConsentEvent).values(**row)


GRANTED, WITHDRAWN, EXPIRED = (
    ConsentAction.GRANTED,
    ConsentAction.WITHDRAWN,
    ConsentAction.EXPIRED,
)
CONSENTS = [  # (day, hour, month, subject, action, purpose)
    (1, 8, 2, "W000004", GRANTED, "marketing_push"),
    (1, 8, 2, "W000005", GRANTED, "marketing_push"),
    (1, 8, 2, "W000008", GRANTED, "marketing_push"),
    (10, 8, 2, "W000004", WITHDRAWN, "marketing_push"),
    (10, 8, 2, "W000005", WITHDRAWN, "marketing_push"),
    (15, 8, 2, "W000001", GRANTED, "marketing_push"),
    (15, 8, 2, "W000002", GRANTED, "marketing_push"),
    (15, 8, 2, "W000003", GRANTED, "marketing_push"),
    (15, 8, 2, "W000009", GRANTED, "partner_sharing"),
    (20, 8, 2, "W000005", GRANTED, "marketing_push"),
    (2, 8, 3, "W000006", GRANTED, "marketing_push"),
    (2, 8, 3, "W000007", GRANTED, "marketing_push"),
    (5, 10, 3, "W000001", WITHDRAWN, "marketing_push"),
    (6, 10, 3, "W000002", WITHDRAWN, "marketing_push"),
    (7, 10, 3, "W000003", WITHDRAWN, "marketing_push"),
    (15, 10, 3, "W000009", WITHDRAWN, "partner_sharing"),
    (20, 10, 3, "W000008", EXPIRED, "marketing_push"),
]


def special(ref: Ref) -> list[AuditDraft]:
    """March's refusals, queries and reads around withdrawals."""
    sms, push = "campaign-sms", "marketing_push"
    withdrawn = {"outcome": "denied", "reason": "consent_withdrawn"}
    card = ("sensitive_field_not_permitted:bank_card",)
    pregnancy = ("sensitive_tag_not_permitted:孕期",)
    return [
        read(ref, cst(5, 9), sms, push, "W000001"),
        read(ref, cst(5, 10, 1, 30), sms, push, "W000001", **withdrawn),
        read(ref, cst(5, 11), sms, push, "W000001", **withdrawn),
        read(ref, cst(6, 10, 0, 30), sms, push, "W000002", **withdrawn),
        *[
            read(
                ref,
                cst(6, 12, n),
                sms,
                push,
                "C000010",
                fields=("mobile", "bank_card"),
                obligations={},
                outcome="denied",
                reason="policy_denied",
                reasons=card,
            )
            for n in range(2)
        ],
        *[
            query(
                ref,
                cst(7, 12, n),
                sms,
                push,
                ["孕期"],
                [],
                outcome="denied",
                reasons=pregnancy,
            )
            for n in range(3)
        ],
        *[
            query(
                ref,
                cst(8, 12, n),
                sms,
                push,
                ["高消费", "母婴"],
                ["C000001", "C000002", "C000003"],
            )
            for n in range(4)
        ],
        *[
            query(
                ref,
                cst(9, 12, n),
                "care-app",
                "maternal_care_recommendation",
                ["孕期"],
                ["C000004"],
            )
            for n in range(2)
        ],
        read(ref, cst(11, 9), sms, push, "W000005"),
        *[
            read(
                ref,
                cst(4 if n == 7 else 3, 14, n),
                "refund-svc",
                "refund_processing",
                "C000020",
                fields=REFUND_FIELDS,
                obligations=REFUND_WITHHELD if n == 7 else REFUND_MASKED,
            )
            for n in range(8)
        ],
        *volume(ref, 12, 3, "ticket-mailer", 5),
    ]


async def seed_march(store: AsyncEngine, ref: Ref) -> None:
    """Write the whole seeded trail and ledger described in the module docstring."""
    drafts: list[AuditDraft] = []
    for day in range(1, 29):
        drafts += volume(ref, day, 2, "campaign-sms", 30)
        drafts += volume(ref, day, 2, "brand-app", 20)
        drafts += volume(ref, day, 2, "refund-svc", 1)
    for day in range(1, 32):
        drafts += volume(ref, day, 3, "campaign-sms", 150 if day == 10 else 30)
        drafts += volume(ref, day, 3, "brand-app", 20)
    drafts += special(ref)
    changes = [
        consent(ref, cst(day, hour, month=month), subject, action, purpose)
        for day, hour, month, subject, action, purpose in CONSENTS
    ]
    writer = AuditWriter(store)
    await writer.start()
    try:
        await writer.append_all(drafts)
        await writer.append_all([d for d, _ in changes], also=[s for _, s in changes])
    finally:
        await writer.stop()
    await begun_by_oldest(store, writer.chain_id, drafts + [d for d, _ in changes])


async def forge_allowed_read(
    store: AsyncEngine, ref: Ref, subject: str, ts: str
) -> None:
    """Append, outside any writer, an allowed read correctly chained after a chain's head.

    The chain still verifies: hashes are not secret, so a forger with write
    access can extend a chain. The self-check must catch the breach anyway.
    """
    draft = read(ref, ts, "campaign-sms", "marketing_push", subject)
    async with store.begin() as conn:
        head = (await conn.execute(select(AuditChain).limit(1))).one()
        row = link(
            draft,
            chain_id=head.chain_id,
            seq=head.head_seq + 1,
            prev_hash=head.head_hash,
        )
        await conn.execute(insert(AuditEventRow).values(**row))
        await conn.execute(
            update(AuditChain)
            .where(col(AuditChain.chain_id) == head.chain_id)
            .values(head_seq=row["seq"], head_hash=row["hash"])
        )


async def append(store: AsyncEngine, drafts: list[AuditDraft]) -> None:
    """Append `drafts` through a new writer of the store."""
    writer = AuditWriter(store)
    await writer.start()
    try:
        await writer.append_all(drafts)
    finally:
        await writer.stop()
    await begun_by_oldest(store, writer.chain_id, drafts)


async def begun_by_oldest(
    store: AsyncEngine, chain_id: str, drafts: list[AuditDraft]
) -> None:
    """Date the writer's chain from its oldest draft: a trail written over months,
    not today (verify refuses an event older than its chain, `before_chain_start`)."""
    async with store.begin() as conn:
        await conn.execute(
            update(AuditChain)
            .where(col(AuditChain.chain_id) == chain_id)
            .values(started_at=min(d.ts for d in drafts))
        )


def sqlite_url(db: Path) -> str:
    """The store URL of an SQLite file."""
    return f"sqlite+aiosqlite:///{db}"


def demo_catalog() -> Catalog:
    """The catalog the demo ships (and the seeded trail's callers use)."""
    return load_catalog(Path(str(resources.files("governance.demo") / "catalog.yaml")))


def report_of(url: str, catalog: Catalog, month: str = MONTH) -> SelfCheckReport:
    """Build the self-check of `month` over the store at `url`, as of `NOW`."""

    async def build() -> SelfCheckReport:
        store = await open_store(url)
        try:
            return await build_report(
                store, catalog, parse_month(month, now=NOW), SUBJECT_REF
            )
        finally:
            await store.dispose()

    return asyncio.run(build())
