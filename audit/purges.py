"""Purge records: the signed proof that a tombstone was made by retention, not forged.

A retention batch (audit/retention.py) empties old rows into tombstones whose
`detail` is exactly `{"purged_by": <purge id>}`, and stores one record:

```
purge_id, purged_at, cutoffs (the periods in force), events (how many rows),
digest: SHA-256 over "chain_id|seq|ts|kind|outcome|hash\\n" per tombstoned row,
        in (chain_id, seq) order,
key_id, signature: Ed25519 (`audit_signing`) over the canonical JSON of the rest
```

`check_purges()` accepts the tombstones of a store only when every record's
signature holds under one of the given public keys, its digest and count match the rows
that name it, no tombstone names an unknown record, and no tombstoned row is
younger at its purge than its record's own signed cutoffs allow: a `consent.*`
event `consent_days`, any other the shorter of `access_days` and
`provision_days` (a tombstone no longer says whether it recorded a recipient),
and never less than the legal floor. The chain walk then trusts a tombstone's
stored hash, which its successor's hash still covers.
"""

import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from audit.models import AuditEventRow, AuditPurgeRow
from audit.record import canonical_bytes
from governance.settings import ACCESS_LOG_FLOOR_DAYS, CONSENT_FLOOR_DAYS
from governance.signing import check_signature

PURGE_FORMAT = "govproxy-audit-purge/1"
PURGED_BY = "purged_by"
TOMBSTONE_PREFIX = '{"purged_by":'
_LINE = ("chain_id", "seq", "ts", "kind", "outcome", "hash")
# What a tombstone keeps of its event: chain, seq, event id, ts, kind, outcome,
# the hashes and its purge id in `detail`; every other column holds this.
EMPTIED = {
    "caller": None,
    "purpose": None,
    "dataset": None,
    "subject_ref": None,
    "fields": "[]",
    "obligations": "{}",
    "reason": None,
    "decision_id": None,
    "policy_revision": None,
    "decision_shape": None,
}
_TS = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class PurgeFault:
    """Why the tombstones of a store cannot be trusted."""

    purge_id: str
    problem: str


def purge_digest(rows: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 over the tombstoned rows, one line each, in (chain_id, seq) order."""
    digest = hashlib.sha256()
    for r in sorted(rows, key=lambda r: (r["chain_id"], r["seq"])):
        digest.update("|".join(str(r[k]) for k in _LINE).encode() + b"\n")
    return digest.hexdigest()


def record_payload(record: Mapping[str, Any]) -> bytes:
    """The bytes a purge record's signature covers."""
    signed = {
        k: record[k]
        for k in ("purge_id", "purged_at", "cutoffs", "events", "digest", "key_id")
    }
    return canonical_bytes({"format": PURGE_FORMAT, **signed})


def tombstone_of(row: Mapping[str, Any]) -> str | None:
    """The purge id a stored row was tombstoned by, or None for a whole row."""
    detail = row["detail"]
    if not detail.startswith(TOMBSTONE_PREFIX):
        return None
    try:
        value = orjson.loads(detail)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict) and value.keys() == {PURGED_BY}:
        purge_id = value[PURGED_BY]
        return purge_id if isinstance(purge_id, str) else None
    return None


async def check_purges(
    conn: AsyncConnection, public_keys: Sequence[str] | None
) -> PurgeFault | None:
    """None when every tombstone is covered by a purge record that holds.

    Without `public_keys` the signatures are not checked; everything else is.
    """
    records = {
        r.purge_id: dict(r._mapping)
        for r in (await conn.execute(select(AuditPurgeRow))).all()
    }
    if public_keys is not None:
        for record in records.values():
            reason = _signature_fault(record, public_keys)
            if reason is not None:
                return PurgeFault(record["purge_id"], reason)
    found: dict[str, list[dict[str, Any]]] = {}
    async for row in _tombstones(conn):
        purge_id = tombstone_of(row)
        if purge_id is None or purge_id not in records:
            return PurgeFault(str(purge_id), "unknown_purge")
        if _too_young(row, records[purge_id]):
            return PurgeFault(purge_id, "purged_too_young")
        found.setdefault(purge_id, []).append(row)
    for purge_id, record in records.items():
        rows = found.get(purge_id, [])
        if len(rows) != record["events"] or purge_digest(rows) != record["digest"]:
            return PurgeFault(purge_id, "tombstones_changed")
    return None


def _signature_fault(
    record: Mapping[str, Any], public_keys: Sequence[str]
) -> str | None:
    """Why no given key verifies the record's signature (None: one does)."""
    reasons = [
        check_signature(
            record_payload(record),
            signature=record["signature"],
            key_id=record["key_id"],
            public_key_pem=pem,
        )
        for pem in public_keys
    ]
    if None in reasons:
        return None
    named = [r for r in reasons if r != "key_mismatch"]
    return named[0] if named else "key_mismatch"


async def _tombstones(conn: AsyncConnection) -> AsyncIterator[dict[str, Any]]:
    ev = AuditEventRow
    stmt = select(*(col(getattr(ev, k)) for k in (*_LINE, "detail"))).where(
        col(ev.detail).startswith(TOMBSTONE_PREFIX)
    )
    result = await conn.stream(stmt)
    async for row in result:
        yield dict(row._mapping)


def _too_young(row: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether `row` was younger at its purge than its record's cutoffs allow."""
    days = _kept_days(record["cutoffs"], consent=row["kind"].startswith("consent."))
    floor = datetime.strptime(record["purged_at"], _TS) - timedelta(days=days)
    return bool(row["ts"] >= floor.strftime(_TS))


def _kept_days(cutoffs: str, *, consent: bool) -> int:
    """The days a record's own cutoffs kept an event of this class, at least the floor.

    Cutoffs that do not read (only a record altered without its key, which the
    signature check names) leave the legal floor.
    """
    try:
        periods = orjson.loads(cutoffs)
        names = ("consent_days",) if consent else ("access_days", "provision_days")
        days = min(int(periods[n]) for n in names)
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
        days = 0
    return max(days, CONSENT_FLOOR_DAYS if consent else ACCESS_LOG_FLOOR_DAYS)
