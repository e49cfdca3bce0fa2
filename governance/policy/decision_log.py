"""The decision log: one OPA-shaped entry per audited policy decision.

Storage is built for throughput. A policy input holds facts only (caller,
purpose, field and tag classes, consent state, minority; see
`governance.policy.input`), never a personal value, and equal inputs get equal
decisions under one bundle revision. So each distinct (revision, input, result)
is stored once, as a `DecisionShape` in `decision_shapes`, by the audit writer
in the transaction of the first event that uses it; each audit event names its
shape in `decision_shape`, under the hash chain.

An entry is rebuilt by joining an event with its shape, in the shape of an OPA
decision log event (`decision_id`, `path`, `input`, `result`, `bundles` and
`revision`, `labels`, `timestamp`, `requested_by`), plus `audit` (the event
it belongs to) and, for an audience query, `admissions`. A query has one entry:
its shape decision (decided as if for a consenting adult), which is what
allowed or refused the query. Each subject is then admitted on its own facts;
those per-subject decisions are counted in `admissions`
(`{"admitted": n, "excluded": {reason: n}}`), never listed by subject.

Events whose access was refused before the policy was asked (role, purpose,
consent, unknown subject) have no decision and no entry. An event whose shape
is no longer stored (deleted behind the proxy's back) keeps its entry, with
`input` and `result` null and the revision its event recorded, so the gap
shows instead of the decision silently dropping out of the log; it is not
intact (`entry_intact`).
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from audit.models import AuditEventRow, DecisionShapeRow
from audit.query import beyond, decode_cursor, encode_cursor
from audit.record import SUBJECT_REFS, DecisionShape, canonical_json, shape_id
from governance.types import Decision

DECISION_PATH = "governance/access/decision"
BUNDLE_NAME = "governance"
QUERY_KIND = "access.query"
_PAGE = 1000


def decision_shape(decision: Decision, policy_input: dict[str, Any]) -> DecisionShape:
    """The shape of one decision: its revision, the input it was asked, its result."""
    result = {
        "allow": decision.allow,
        "reasons": list(decision.reasons),
        "obligations": {k: v.value for k, v in decision.obligations.items()},
    }
    return DecisionShape.of(decision.revision, policy_input, result)


@dataclass(frozen=True)
class DecisionFilter:
    """Which decisions to list; every field optional, instants as the trail writes them."""

    caller: str | None = None
    since: str | None = None
    until: str | None = None


async def list_decisions(
    engine: AsyncEngine, f: DecisionFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of entries, newest first, and the cursor of the next page."""
    after = decode_cursor(cursor) if cursor else None
    async with engine.connect() as conn:
        rows = await _rows(conn, f, after=after, limit=limit + 1, newest_first=True)
    page = [entry(r) for r in rows[:limit]]
    return page, encode_cursor(rows[limit - 1]) if len(rows) > limit else None


async def export_decisions(
    engine: AsyncEngine, f: DecisionFilter
) -> AsyncIterator[dict[str, Any]]:
    """Every matching entry, oldest first, read in pages."""
    after: tuple[str, str, int] | None = None
    async with engine.connect() as conn:
        while True:
            rows = await _rows(conn, f, after=after, limit=_PAGE, newest_first=False)
            for row in rows:
                yield entry(row)
            if len(rows) < _PAGE:
                return
            after = (rows[-1]["ts"], rows[-1]["chain_id"], rows[-1]["seq"])


def entry(row: dict[str, Any]) -> dict[str, Any]:
    """The OPA-shaped entry of one event joined with its decision shape (input
    and result null if the shape is not stored)."""
    detail = orjson.loads(row["detail"])
    stored = row["shape_id"] is not None
    revision = row["revision"] if stored else row["policy_revision"]
    found: dict[str, Any] = {
        "decision_id": row["decision_id"],
        "path": DECISION_PATH,
        "input": orjson.loads(row["input"]) if stored else None,
        "result": orjson.loads(row["result"]) if stored else None,
        "revision": revision,
        "bundles": {BUNDLE_NAME: {"revision": revision}},
        "labels": {"app": "govproxy", "id": row["chain_id"]},
        "timestamp": row["ts"],
        "requested_by": row["caller"],
        "audit": {
            "event_id": row["event_id"],
            "kind": row["kind"],
            "outcome": row["outcome"],
            "reason": row["reason"],
            "decision_shape": row["decision_shape"],
        },
    }
    if row["kind"] == QUERY_KIND:
        found["admissions"] = {
            "admitted": len(detail.get(SUBJECT_REFS, ())),
            "excluded": detail.get("excluded", {}),
        }
    return found


def entry_intact(found: dict[str, Any]) -> bool:
    """Whether an entry's revision, input and result are those its event names
    (an entry whose shape is missing has neither input nor result)."""
    if found["input"] is None or found["result"] is None:
        return False
    expected = shape_id(
        found["revision"],
        canonical_json(found["input"]),
        canonical_json(found["result"]),
    )
    return bool(expected == found["audit"]["decision_shape"])


_COLUMNS = (
    col(AuditEventRow.chain_id),
    col(AuditEventRow.seq),
    col(AuditEventRow.event_id),
    col(AuditEventRow.ts),
    col(AuditEventRow.kind),
    col(AuditEventRow.caller),
    col(AuditEventRow.outcome),
    col(AuditEventRow.reason),
    col(AuditEventRow.decision_id),
    col(AuditEventRow.decision_shape),
    col(AuditEventRow.detail),
    col(AuditEventRow.policy_revision),
    col(DecisionShapeRow.shape_id),
    col(DecisionShapeRow.revision),
    col(DecisionShapeRow.input),
    col(DecisionShapeRow.result),
)


async def _rows(
    conn: AsyncConnection,
    f: DecisionFilter,
    *,
    after: tuple[str, str, int] | None,
    limit: int,
    newest_first: bool,
) -> list[dict[str, Any]]:
    conds = _conditions(f)
    if after is not None:
        conds.append(beyond(after, newest_first=newest_first))
    keys = (
        col(AuditEventRow.ts),
        col(AuditEventRow.chain_id),
        col(AuditEventRow.seq),
    )
    order = [k.desc() for k in keys] if newest_first else [k.asc() for k in keys]
    stmt = (
        select(*_COLUMNS)
        .outerjoin(  # an event whose shape is gone is listed, marked
            DecisionShapeRow,
            col(DecisionShapeRow.shape_id) == col(AuditEventRow.decision_shape),
        )
        .where(col(AuditEventRow.decision_shape).is_not(None), *conds)
        .order_by(*order)
        .limit(limit)
    )
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


def _conditions(f: DecisionFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.caller is not None:
        conds.append(col(AuditEventRow.caller) == f.caller)
    if f.since is not None:
        conds.append(col(AuditEventRow.ts) >= f.since)
    if f.until is not None:
        conds.append(col(AuditEventRow.ts) < f.until)
    return conds
