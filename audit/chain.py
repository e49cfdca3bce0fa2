"""Hash chaining: each event's hash covers its columns and the previous event's hash.

`link()` places a draft at a chain position; `verify_chain()` (or a `ChainWalk`
fed page by page) walks stored rows in order and names the first one that was
altered, removed, inserted or reordered, dated before its chain began, and
whether the tail was cut off.

Hashes are not secret, so anyone who can write the store can append a
well-linked event; what its links cannot say is when it was made. A chain is
one writer's from the moment it registers (`started_at`), and every draft it
commits is made while it runs, so an event dated before its chain began was
not written by that writer (`before_chain_start`). The sealer holds such an
event back and `verify` names it; a checkpoint's `sealed_at` bounds its events
from above the same way (`audit.checkpoint_verify`). Both bounds allow
`CLOCK_SKEW`: hosts' clocks differ and a clock may be stepped back, while a
forgery that matters (a consent dated months before the trail) is far outside.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from audit.purges import EMPTIED, tombstone_of
from audit.record import AuditDraft, canonical_bytes

_HASHED = (
    "chain_id",
    "seq",
    "event_id",
    "ts",
    "kind",
    "caller",
    "purpose",
    "dataset",
    "subject_ref",
    "fields",
    "obligations",
    "outcome",
    "reason",
    "decision_id",
    "policy_revision",
    "decision_shape",
    "detail",
    "prev_hash",
)
_TS = "%Y-%m-%dT%H:%M:%S.%fZ"  # the trail's fixed width: instants compare as text
CLOCK_SKEW = timedelta(minutes=5)
"""How far an event's instant may stray past its chain's start or its seal: the
clock difference Kerberos also tolerates between hosts."""


def genesis_hash(chain_id: str) -> str:
    """The `prev_hash` of a chain's first event, bound to the chain's id."""
    return hashlib.sha256(b"govproxy-audit-chain\x00" + chain_id.encode()).hexdigest()


def row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical encoding of a row's hashed columns."""
    return _digest({k: row[k] for k in _HASHED})


def _digest(columns: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(columns)).hexdigest()


def shifted(instant: str, by: timedelta) -> str:
    """`instant` moved by `by`, in the trail's fixed width, to compare as text with
    the trail's instants; an instant that does not parse is returned as it is."""
    try:
        moved = datetime.strptime(instant, _TS) + by
    except (TypeError, ValueError):
        return instant
    return moved.strftime(_TS)


def dated_before(ts: object, earliest: str) -> bool:
    """Whether an event's `ts` is before `earliest` (or is not an instant at all)."""
    return not isinstance(ts, str) or ts < earliest


def dated_after(ts: object, latest: str) -> bool:
    """Whether an event's `ts` is after `latest` (or is not an instant at all)."""
    return not isinstance(ts, str) or ts > latest


def link(
    draft: AuditDraft, *, chain_id: str, seq: int, prev_hash: str
) -> dict[str, Any]:
    """Return the full stored row of `draft` at position `seq` after `prev_hash`."""
    row = draft.columns() | {"chain_id": chain_id, "seq": seq, "prev_hash": prev_hash}
    # The row holds exactly the hashed columns (until "hash"): `row_hash` without
    # its copy, which is a tenth of a bulk import's linking.
    row["hash"] = _digest(row)
    return row


@dataclass(frozen=True)
class ChainFault:
    """The first bad place in a chain."""

    chain_id: str
    seq: int
    event_id: str | None
    problem: str


def verify_chain(
    chain_id: str, rows: Iterable[Mapping[str, Any]], *, head_seq: int, head_hash: str
) -> tuple[int, ChainFault | None]:
    """Check rows (ordered by seq) against their links and the recorded head.

    Returns:
        The number of rows checked and the first fault, if any.
    """
    walk = ChainWalk(chain_id)
    for row in rows:
        fault = walk.check(row)
        if fault:
            return walk.count, fault
    return walk.count, walk.finish(head_seq=head_seq, head_hash=head_hash)


def holds_its_hash(row: Mapping[str, Any]) -> bool:
    """Whether the row holds what its hash covers. A tombstone (audit/retention.py)
    keeps its hash but not what it covered: its successor's hash still covers it
    and its purge record vouches for it, so it must hold the emptied values and
    nothing else. A value of a type the trail never stores (a blob) is altered."""
    try:
        if tombstone_of(row) is None:
            return bool(row_hash(row) == row["hash"])
    except (TypeError, AttributeError):
        return False
    return all(row[k] == v for k, v in EMPTIED.items())


class ChainWalk:
    """Checks one chain's rows as they stream in, in seq order; then its head.

    Given the chain's registered `started_at`, a row dated more than
    `CLOCK_SKEW` before it is a fault (`before_chain_start`); without it (a
    chain known from rows alone) instants are not checked.
    """

    __slots__ = ("_earliest", "_expected", "_prev", "chain_id", "count")

    def __init__(self, chain_id: str, started_at: str | None = None) -> None:
        self.chain_id = chain_id
        self.count = 0
        self._prev, self._expected = genesis_hash(chain_id), 1
        self._earliest = (
            None if started_at is None else shifted(started_at, -CLOCK_SKEW)
        )

    @property
    def next_seq(self) -> int:
        """The seq the next row must have."""
        return self._expected

    def check(self, row: Mapping[str, Any]) -> ChainFault | None:
        """Check the next row; the first fault ends the walk."""
        self.count += 1
        seq, event_id = row["seq"], row["event_id"]
        if seq != self._expected:
            problem = "missing" if seq > self._expected else "out_of_order"
            found = None if seq > self._expected else event_id
            return ChainFault(self.chain_id, self._expected, found, problem)
        if row["prev_hash"] != self._prev:
            return ChainFault(self.chain_id, seq, event_id, "broken_link")
        if not holds_its_hash(row):
            return ChainFault(self.chain_id, seq, event_id, "altered")
        if self._earliest is not None and dated_before(row["ts"], self._earliest):
            return ChainFault(self.chain_id, seq, event_id, "before_chain_start")
        self._prev, self._expected = row["hash"], seq + 1
        return None

    def finish(self, *, head_seq: int, head_hash: str) -> ChainFault | None:
        """After the last row: the chain must end at the recorded head."""
        last = self._expected - 1
        if last != head_seq or self._prev != head_hash:
            problem = "truncated" if last < head_seq else "head_mismatch"
            return ChainFault(self.chain_id, self._expected, None, problem)
        return None
