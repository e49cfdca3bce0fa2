"""Check the subject index against the events it indexes (a step of `verify`).

A query's audit event lists the subjects it released in `detail.subject_refs`
(covered by the event's hash); `audit_subjects` holds one row per listed
subject (subject, the event's ts, chain, seq), which the officer's search by
subject and the consent center's "who accessed my data" read. A row deleted
there hides an access from both; a row added names an access that did not
happen. Nothing hashes the index, so it is compared with the events: in pages
of events that list subjects, in (chain, seq) order, every index row in the
page's span must be one the events list, and none may lie past the last.
"""

from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from audit.chain import ChainFault
from audit.record import SUBJECT_REFS

_PAGE = 200  # events; each lists at most a query page of subjects
_LISTING = text(
    "SELECT chain_id, seq, event_id, ts, detail FROM audit_events"  # noqa: S608
    " WHERE (chain_id, seq) > (:chain, :seq) AND detail LIKE '%\"subject_refs\"%'"
    f" ORDER BY chain_id, seq LIMIT {_PAGE}"
)
_ROWS = text(
    "SELECT chain_id, seq, ts, subject_ref FROM audit_subjects"
    " WHERE (chain_id, seq) > (:chain, :seq) AND (chain_id, seq) <= (:to_chain, :to_seq)"
)
_PAST = text(
    "SELECT chain_id, seq FROM audit_subjects WHERE (chain_id, seq) > (:chain, :seq)"
    " ORDER BY chain_id, seq LIMIT 1"
)

Key = tuple[Any, Any]


async def index_fault(conn: AsyncConnection) -> ChainFault | None:
    """The first event whose index rows are not the subjects it lists (a row
    missing, added, or at another instant), or an index row of an event that
    lists none (`index_mismatch`)."""
    after: Key = ("", 0)
    while True:
        events = (
            await conn.execute(_LISTING, {"chain": after[0], "seq": after[1]})
        ).all()
        if not events:
            break
        listed = {(c, s): (e, _listed(ts, d)) for c, s, e, ts, d in events}
        last = (events[-1][0], events[-1][1])
        found: dict[Key, set[tuple[str, str]]] = defaultdict(set)
        span = {
            "chain": after[0],
            "seq": after[1],
            "to_chain": last[0],
            "to_seq": last[1],
        }
        for chain, seq, ts, ref in await conn.execute(_ROWS, span):
            found[chain, seq].add((ts, ref))
        for key in sorted(listed.keys() | found.keys()):
            event_id, refs = listed.get(key, (None, set()))
            if found.get(key, set()) != refs:
                return ChainFault(key[0], key[1], event_id, "index_mismatch")
        after = last
    past = (await conn.execute(_PAST, {"chain": after[0], "seq": after[1]})).first()
    return ChainFault(past[0], past[1], None, "index_mismatch") if past else None


def _listed(ts: str, detail: str) -> set[tuple[str, str]]:
    """(ts, subject_ref) of each subject `detail` lists."""
    try:
        refs = orjson.loads(detail).get(SUBJECT_REFS, ())
    except (orjson.JSONDecodeError, AttributeError):
        return set()
    return {(ts, ref) for ref in refs if isinstance(ref, str)}
