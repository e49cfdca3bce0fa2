"""An audit event before it is chained, and the canonical bytes every hash is taken over.

`AuditDraft` holds what happened; the writer gives it a chain position. The
canonical encoding is JSON with sorted keys and no whitespace (orjson), so the
same event always hashes to the same digest on any machine.

A `DecisionShape` is one distinct policy decision (bundle revision, input,
result). Its id is a digest of all three, so the event that names it (under the
hash chain) also commits to its content; the writer stores each shape once.
"""

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

# The detail key of an event about many subjects (an audience query): the
# references of every subject whose record it released, indexed by the writer.
SUBJECT_REFS = "subject_refs"


def utc_now_iso() -> str:
    """Now, as the fixed-width UTC string the audit trail sorts and hashes by."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Canonical JSON text of `value` (sorted keys, compact, UTF-8)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def canonical_bytes(value: Any) -> bytes:
    """Canonical JSON bytes of `value`."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class DecisionShape:
    """One distinct decision: revision, input and result as canonical JSON text."""

    id: str
    revision: str
    input: str
    result: str

    @classmethod
    def of(cls, revision: str, policy_input: Any, result: Any) -> "DecisionShape":
        """The shape of `result`, decided by `revision` for `policy_input`."""
        text_in, text_out = canonical_json(policy_input), canonical_json(result)
        return cls(shape_id(revision, text_in, text_out), revision, text_in, text_out)


def shape_id(revision: str, input_text: str, result_text: str) -> str:
    """The id of a decision shape: SHA-256 over its three parts, 128 bits in hex."""
    digest = hashlib.sha256(b"govproxy-decision\x00")
    for part in (revision, input_text, result_text):
        digest.update(part.encode() + b"\x00")
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class AuditDraft:
    """What happened in one access or consent change; never a personal value."""

    kind: str
    outcome: str
    caller: str | None = None
    purpose: str | None = None
    dataset: str | None = None
    subject_ref: str | None = None
    fields: tuple[str, ...] = ()
    obligations: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    decision_id: str | None = None
    policy_revision: str | None = None
    decision: DecisionShape | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    ts: str = field(default_factory=utc_now_iso)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def columns(self) -> dict[str, Any]:
        """The stored columns of this event, JSON parts as canonical text."""
        return {
            "event_id": self.event_id,
            "ts": self.ts,
            "kind": self.kind,
            "caller": self.caller,
            "purpose": self.purpose,
            "dataset": self.dataset,
            "subject_ref": self.subject_ref,
            "fields": canonical_json(list(self.fields)),
            "obligations": canonical_json(self.obligations),
            "outcome": self.outcome,
            "reason": self.reason,
            "decision_id": self.decision_id,
            "policy_revision": self.policy_revision,
            "decision_shape": self.decision.id if self.decision else None,
            "detail": canonical_json(self.detail),
        }
