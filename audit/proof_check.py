"""Check a proof document offline: only the document and the audit public key(s).

`check_proof(doc, public_keys)` takes an inclusion or consistency proof (see
`audit.proof`) or a bare checkpoint document, never raises, and returns a
`ProofCheck`. Its reasons, checked in this order:

```
malformed       not a proof document: a field missing, extra or of the wrong type
unknown_format  `format` names no known document
bad_public_key  a given PEM is not an Ed25519 public key
key_mismatch    a checkpoint is signed by a key not among the given ones
bad_signature   a checkpoint's signature does not cover it (it was changed)
event_altered   the event's columns do not give its hash (it was changed); an
                event purged by retention must hold the emptied values
bad_proof       the path does not lead to the signed root(s)
```

A valid proof of an event purged by retention (a tombstone) shows only that
its leaf is in the checkpoint: the columns that gave its hash are gone, so its
summary names the leaf, never the event id, kind or time the document claims.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from audit.chain import holds_its_hash
from audit.checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    check_checkpoint,
    key_ring,
    parse_checkpoint,
)
from audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from audit.proof import CONSISTENCY_FORMAT, INCLUSION_FORMAT
from audit.purges import tombstone_of

_HEX64 = re.compile(r"[0-9a-f]{64}")
_INCLUSION_FIELDS = frozenset({"format", "event", "leaf_index", "path", "checkpoint"})
_CONSISTENCY_FIELDS = frozenset({"format", "first", "second", "path"})
# A tombstone's hash is the leaf's, but what that hash covered is gone: the
# event id, kind, instant and purge id it still shows are covered by nothing
# a proof holds, so they are not repeated as if checked.
_PURGED = (
    "an event purged by retention; its content is not in the proof (the event"
    " id, kind, time and purge record it shows are not checked)"
)


@dataclass(frozen=True)
class ProofCheck:
    """The outcome: `reason` is None exactly when `ok`; `summary` says what was shown."""

    ok: bool
    reason: str | None
    summary: str


def check_proof(doc: Any, public_keys: Sequence[str]) -> ProofCheck:
    """Check a proof or checkpoint document with the given public keys (PEM)."""
    kind = doc.get("format") if isinstance(doc, dict) else None
    ring = key_ring(public_keys)
    if kind == INCLUSION_FORMAT:
        return _inclusion(doc, ring)
    if kind == CONSISTENCY_FORMAT:
        return _consistency(doc, ring)
    if kind == CHECKPOINT_FORMAT:
        return _signed(doc, ring, "checkpoint") or ProofCheck(
            True, None, _describe(doc)
        )
    if isinstance(kind, str):
        return ProofCheck(False, "unknown_format", f"unknown format {kind[:80]!r}")
    return ProofCheck(False, "malformed", "not a proof document")


def _inclusion(doc: dict[str, Any], ring: dict[str, str] | None) -> ProofCheck:
    event = doc.get("event")
    if (
        set(doc) != _INCLUSION_FIELDS
        or not _count(doc["leaf_index"])
        or not _path(doc["path"])
        or not isinstance(event, dict)
        or not _hex(event.get("hash"))
    ):
        return ProofCheck(False, "malformed", "not an inclusion proof")
    failed = _signed(doc["checkpoint"], ring, "checkpoint")
    if failed is not None:
        return failed
    try:
        holds = holds_its_hash(event)
    except KeyError:
        return ProofCheck(False, "malformed", "the event lacks hashed columns")
    if not holds:
        return ProofCheck(
            False, "event_altered", "the event's columns do not give its hash"
        )
    head = _head(doc["checkpoint"])
    leaf = leaf_hash(bytes.fromhex(event["hash"]))
    path = [bytes.fromhex(h) for h in doc["path"]]
    root = bytes.fromhex(head.root_hash)
    if not verify_inclusion(doc["leaf_index"], head.tree_size, leaf, path, root):
        return ProofCheck(
            False, "bad_proof", "the path does not lead to the checkpoint's root"
        )
    place = f"leaf {doc['leaf_index']} of {_describe(doc['checkpoint'])}"
    if tombstone_of(event) is not None:
        return ProofCheck(True, None, f"{place} is {_PURGED}")
    return ProofCheck(
        True,
        None,
        f"event {event['event_id']} ({event['kind']}, {event['ts']}) is {place}",
    )


def _consistency(doc: dict[str, Any], ring: dict[str, str] | None) -> ProofCheck:
    if set(doc) != _CONSISTENCY_FIELDS or not _path(doc["path"]):
        return ProofCheck(False, "malformed", "not a consistency proof")
    for which in ("first", "second"):
        failed = _signed(doc[which], ring, f"{which} checkpoint")
        if failed is not None:
            return failed
    old, new = _head(doc["first"]), _head(doc["second"])
    if not verify_consistency(
        old.tree_size,
        new.tree_size,
        bytes.fromhex(old.root_hash),
        bytes.fromhex(new.root_hash),
        [bytes.fromhex(h) for h in doc["path"]],
    ):
        return ProofCheck(
            False,
            "bad_proof",
            f"checkpoint {new.number} does not extend checkpoint {old.number}",
        )
    return ProofCheck(
        True,
        None,
        f"{_describe(doc['first'])} is a prefix of {_describe(doc['second'])}",
    )


def _signed(doc: Any, ring: dict[str, str] | None, name: str) -> ProofCheck | None:
    """None when `doc` is a checkpoint signed by a key of `ring`, else the failure."""
    reason = check_checkpoint(doc, ring)
    if reason is None:
        return None
    return ProofCheck(False, reason, f"{name}: {reason.replace('_', ' ')}")


def _head(doc: Any) -> Checkpoint:
    head = parse_checkpoint(doc)
    assert head is not None  # noqa: S101 - called only after check_checkpoint passed
    return head


def _describe(doc: dict[str, Any]) -> str:
    head = _head(doc)
    return (
        f"checkpoint {head.number} (tree size {head.tree_size}, sealed "
        f"{head.sealed_at}), signed by {doc['key_id']}"
    )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _hex(value: Any) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def _path(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 64 and all(map(_hex, value))
