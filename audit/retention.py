"""Retention: purge what the trail no longer needs, never before the law allows.

An event past its retention period is not deleted but **tombstoned**: the row
keeps its chain place (`chain_id`, `seq`), `event_id`, `ts`, `kind`,
`outcome` and both hashes, and loses everything else (caller, purpose, subject,
fields, decision, detail). Its `detail` then reads `{"purged_by": <purge id>}`.
So the chain still links, checkpoint leaves (which hold row hashes) still
verify, and nothing personal remains. The periods, by what an event records:

```
consent.* about a subject and purpose   while that consent's ledger history is kept:
                                        `consent_days_after_lapse` after it lapsed (C-11),
                                        then with it
other consent.* (imports, links,        consent_days_after_lapse after the event
  withdrawing all marketing at once)
events that record a recipient, or of   provision_days (L-04, at least 3 years)
  a purpose the catalog marks third-party
everything else (accesses, admin)       access_days (L-05, at least 180 days)
```

An event is a provision record by what it records itself: an access naming a
recipient keeps `detail.recipient` (governance/pipeline.py), and that decides,
whatever the catalog calls or flags its purpose today. A purpose renamed, or no
longer third-party, must not shorten the 3 years of what was provided under it.
Today's catalog can only add to the class (a third-party purpose's events that
name no recipient, such as refusals for the lack of one), never take from it.

The floors are enforced here too, not only in the settings: a policy built with
a shorter period is raised to the floor. One purge run works in batches; each
batch is one transaction holding the tombstones, the deleted consent
histories, the deleted subject-index rows, a signed purge record and the
`audit.purge` event that reports it. A batch is all stored or not at all.

Runs may overlap (cron on two instances). A batch only empties rows still
whole and commits only if it emptied every row it planned; otherwise (another
run got there first) it stores nothing and the run plans again from what is
left. So each tombstone names the one record whose digest covers it, and
verification holds after any interleaving, on SQLite and on PostgreSQL alike.

Each batch's purge record (audit/purges.py) is signed with the `audit_signing`
key and commits to exactly the rows it tombstoned, so a tombstone cannot be
forged to hide an event without that key.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
)
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from audit.models import AuditEventRow, AuditPurgeRow, AuditSubjectRow
from audit.purges import EMPTIED, PURGED_BY, purge_digest, record_payload
from audit.record import AuditDraft, canonical_json
from audit.signing import AuditSigner
from audit.writer import AuditWriter
from governance.consent.retention import LapsedPair, deletions, lapsed_pairs
from governance.errors import AuditWriteFailed
from governance.settings import (
    ACCESS_LOG_FLOOR_DAYS,
    CONSENT_FLOOR_DAYS,
    PROVISION_FLOOR_DAYS,
    RetentionSettings,
)
from governance.types import Actor

_TS = "%Y-%m-%dT%H:%M:%S.%fZ"
_BATCH = 5000
# Rows named per tombstoning statement: two parameters each, well under the
# bound parameters SQLite and asyncpg take in one statement.
_CHUNK = 500
# How an access that named a recipient records it in its canonical `detail`
# (a key; inside a JSON string the quotes would be escaped).
_RECIPIENT_KEY = '"recipient":{'


@dataclass(frozen=True)
class RetentionPolicy:
    """Retention periods in days, each at least its legal floor."""

    access_days: int = ACCESS_LOG_FLOOR_DAYS
    provision_days: int = PROVISION_FLOOR_DAYS
    consent_days: int = CONSENT_FLOOR_DAYS

    def __post_init__(self) -> None:
        for name, floor in (
            ("access_days", ACCESS_LOG_FLOOR_DAYS),
            ("provision_days", PROVISION_FLOOR_DAYS),
            ("consent_days", CONSENT_FLOOR_DAYS),
        ):
            object.__setattr__(self, name, max(getattr(self, name), floor))

    @classmethod
    def of(cls, settings: RetentionSettings) -> "RetentionPolicy":
        """The policy the settings ask for."""
        return cls(
            settings.access_days,
            settings.provision_days,
            settings.consent_days_after_lapse,
        )


@dataclass(frozen=True)
class PurgeReport:
    """What one purge run removed (or, dry, would remove)."""

    events: int
    consent_histories: int
    batches: int
    purge_ids: tuple[str, ...]


_TOMB_COLUMNS = tuple(
    col(getattr(AuditEventRow, name))
    for name in ("chain_id", "seq", "ts", "kind", "outcome", "hash")
)


@dataclass(frozen=True)
class _Tomb:
    chain_id: str
    seq: int
    ts: str
    kind: str
    outcome: str
    hash: str


class Purger:
    """Runs retention over one store: plan a batch, commit it, repeat."""

    def __init__(
        self,
        store: AsyncEngine,
        writer: AuditWriter,
        signer: AuditSigner,
        *,
        policy: RetentionPolicy,
        third_party_purposes: frozenset[str],
        subject_ref: Callable[[str], str],
        batch: int = _BATCH,
    ) -> None:
        self._store = store
        self._writer = writer
        self._signer = signer
        self._policy = policy
        self._third_party = sorted(third_party_purposes)
        self._subject_ref = subject_ref
        self._batch = batch

    async def run(self, *, now: datetime, dry_run: bool = False) -> PurgeReport:
        """Purge every batch due at `now`; with `dry_run`, only count them."""
        if dry_run:
            return await self._count(now)
        events = histories = 0
        ids: list[str] = []
        while True:
            pairs = await lapsed_pairs(
                self._store,
                now=now,
                keep_days=self._policy.consent_days,
                limit=self._batch,
            )
            tombs = await self._consent_tombs(now, pairs) + await self._aged_tombs(now)
            if not tombs and not pairs:
                return PurgeReport(events, histories, len(ids), tuple(ids))
            try:
                ids.append(await self._commit(now, tombs, pairs))
            except AuditWriteFailed:
                if not await self._taken(tombs):
                    raise
                continue  # another run purged some of them first: plan again
            events, histories = events + len(tombs), histories + len(pairs)

    async def _count(self, now: datetime) -> PurgeReport:
        pairs = await lapsed_pairs(
            self._store, now=now, keep_days=self._policy.consent_days, limit=None
        )
        consent = 0
        for start in range(0, len(pairs), self._batch):
            consent += len(
                await self._consent_tombs(now, pairs[start : start + self._batch])
            )
        stmt = select(func.count()).select_from(AuditEventRow).where(self._aged(now))
        async with self._store.connect() as conn:
            aged = int((await conn.execute(stmt)).scalar_one())
        return PurgeReport(consent + aged, len(pairs), 0, ())

    def _aged(self, now: datetime) -> ColumnElement[bool]:
        """Rows whose own age puts them past retention at `now`."""
        p, ev = self._policy, AuditEventRow
        access = _instant(now - timedelta(days=p.access_days))
        provision = _instant(now - timedelta(days=p.provision_days))
        consent = _instant(now - timedelta(days=p.consent_days))
        is_consent = col(ev.kind).startswith("consent.")
        # Never NULL (a NULL purpose would make `~third` NULL: never purged).
        third = or_(
            col(ev.detail).contains(_RECIPIENT_KEY),
            and_(col(ev.purpose).is_not(None), col(ev.purpose).in_(self._third_party)),
        )
        return and_(
            _whole(),
            or_(
                and_(~is_consent, ~third, col(ev.ts) < access),
                and_(~is_consent, third, col(ev.ts) < provision),
                and_(
                    is_consent,
                    or_(col(ev.subject_ref).is_(None), col(ev.purpose).is_(None)),
                    col(ev.ts) < consent,
                ),
            ),
        )

    async def _aged_tombs(self, now: datetime) -> list[_Tomb]:
        return await self._select(self._aged(now), limit=self._batch)

    async def _consent_tombs(
        self, now: datetime, pairs: Sequence[LapsedPair]
    ) -> list[_Tomb]:
        """The consent events of these lapsed pairs older than the consent period.

        Each pair lapsed before that cutoff, so this takes its whole story up to
        and including the event that ended it (whose audit event follows the
        ledger event by moments).
        """
        if not pairs:
            return []
        ev = AuditEventRow
        refs = {(self._subject_ref(p.subject_id), p.purpose) for p in pairs}
        cutoff = _instant(now - timedelta(days=self._policy.consent_days))
        return await self._select(
            and_(
                _whole(),
                col(ev.kind).startswith("consent."),
                col(ev.ts) < cutoff,
                tuple_(col(ev.subject_ref), col(ev.purpose)).in_(list(refs)),
            ),
            limit=None,
        )

    async def _select(
        self, where: ColumnElement[bool], *, limit: int | None
    ) -> list[_Tomb]:
        ev = AuditEventRow
        stmt = (
            select(*_TOMB_COLUMNS)
            .where(where)
            .order_by(col(ev.chain_id), col(ev.seq))
            .limit(limit)
        )
        async with self._store.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_Tomb(*r) for r in rows]

    async def _taken(self, tombs: list[_Tomb]) -> bool:
        """Whether another run tombstoned any of these rows since they were planned."""
        ev = AuditEventRow
        keys = [(t.chain_id, t.seq) for t in tombs]
        async with self._store.connect() as conn:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                stmt = select(func.count()).where(
                    ~_whole(), tuple_(col(ev.chain_id), col(ev.seq)).in_(chunk)
                )
                if (await conn.execute(stmt)).scalar_one():
                    return True
        return False

    async def _commit(
        self, now: datetime, tombs: list[_Tomb], pairs: list[LapsedPair]
    ) -> str:
        purge_id = uuid.uuid4().hex
        record: dict[str, Any] = {
            "purge_id": purge_id,
            "purged_at": _instant(now),
            "cutoffs": canonical_json(
                {
                    "access_days": self._policy.access_days,
                    "provision_days": self._policy.provision_days,
                    "consent_days": self._policy.consent_days,
                }
            ),
            "events": len(tombs),
            "digest": purge_digest(t.__dict__ for t in tombs),
            "key_id": self._signer.key_id,
        }
        record["signature"] = self._signer.sign_bytes(record_payload(record))
        also: list[Any] = [insert(AuditPurgeRow).values(**record)]
        if tombs:
            also.append(_Tombstoning(purge_id, [(t.chain_id, t.seq) for t in tombs]))
        also += deletions(pairs)
        await self._writer.append(
            AuditDraft(
                kind="audit.purge",
                outcome="allowed",
                caller=Actor.RETENTION,
                detail={
                    "purge_id": purge_id,
                    "events": len(tombs),
                    "consent_histories": len(pairs),
                },
            ),
            also=also,
        )
        return purge_id


class _Raced(Exception):
    """Another run tombstoned a row of this batch first: the batch must not commit."""


@dataclass(frozen=True)
class _Tombstoning:
    """Empties the planned rows, in the batch's transaction, if all are still whole.

    A row another run emptied already is left alone (its tombstone names that
    run's record), and the missing count aborts this batch, whose record would
    otherwise claim a row it did not empty.
    """

    purge_id: str
    keys: list[tuple[str, int]]

    def __call__(self, conn: Connection) -> None:
        """Run on the writer's connection, inside its open transaction."""
        ev, sub = AuditEventRow, AuditSubjectRow
        detail = canonical_json({PURGED_BY: self.purge_id})
        emptied = 0
        for start in range(0, len(self.keys), _CHUNK):
            chunk = self.keys[start : start + _CHUNK]
            conn.execute(
                delete(sub).where(tuple_(col(sub.chain_id), col(sub.seq)).in_(chunk))
            )
            result = conn.execute(
                sql_update(ev)
                .where(tuple_(col(ev.chain_id), col(ev.seq)).in_(chunk), _whole())
                .values(**EMPTIED, detail=detail)
            )
            emptied += result.rowcount
        if emptied != len(self.keys):
            raise _Raced("another purge run emptied rows of this batch first")


def _whole() -> ColumnElement[bool]:
    """Rows not tombstoned yet."""
    return ~col(AuditEventRow.detail).startswith('{"purged_by":')


def _instant(moment: datetime) -> str:
    return moment.strftime(_TS)
