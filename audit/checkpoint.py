"""Signed checkpoints: a Merkle tree head of the audit trail, checkable offline.

A checkpoint document is what the sealer stores and hands out:

```
{"format": "govproxy-audit-checkpoint/1",
 "checkpoint": {"number": 7, "tree_size": 1234, "root_hash": "<hex>",
                "sealed_at": "2026-…Z", "previous": "<hex digest of checkpoint 6>" | null,
                "heads": [{"chain_id": …, "seq": …, "hash": …}, …]},
 "key_id": "ed25519:<16 hex>", "signature": "<base64url>"}
```

The signature covers `canonical_bytes({format, key_id, checkpoint})`
(`signed_payload`). `previous` is the SHA-256 of the previous checkpoint's
signed payload, so the checkpoints form a chain of their own; `heads` names, for
every chain that advanced since the previous checkpoint, its last sealed event
(the heads of all chains are the union over the checkpoints).

`check_checkpoint(doc, keys)` needs only the document and public keys, never
raises, and returns None or the reason it fails, checked in this order:

```
malformed       not a checkpoint document: a field missing, extra or of the wrong type
unknown_format  `format` is not CHECKPOINT_FORMAT
bad_public_key  a given PEM is not an Ed25519 public key
key_mismatch    signed by a key that is not among the given ones
bad_signature   the signature does not cover this document (a field was changed)
```
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.record import canonical_bytes
from audit.signing import AuditSigner
from governance.ports import KeyProvider
from governance.signing import Signer, check_signature, key_id_of, load_public_key

CHECKPOINT_FORMAT = "govproxy-audit-checkpoint/1"
_DOC_FIELDS = frozenset({"format", "checkpoint", "key_id", "signature"})
_BODY_FIELDS = frozenset(
    {"number", "tree_size", "root_hash", "sealed_at", "previous", "heads"}
)
_HEAD_FIELDS = frozenset({"chain_id", "seq", "hash"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Head:
    """A chain's last sealed event at a checkpoint."""

    chain_id: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """The signed part of a checkpoint document."""

    number: int
    tree_size: int
    root_hash: str
    sealed_at: str
    previous: str | None
    heads: tuple[Head, ...]

    def body(self) -> dict[str, Any]:
        """The `checkpoint` object of the document."""
        return {
            "number": self.number,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "sealed_at": self.sealed_at,
            "previous": self.previous,
            "heads": [
                {"chain_id": h.chain_id, "seq": h.seq, "hash": h.hash}
                for h in self.heads
            ],
        }


def sign_checkpoint(signer: Signer, checkpoint: Checkpoint) -> dict[str, Any]:
    """The signed document of `checkpoint`."""
    doc = {
        "format": CHECKPOINT_FORMAT,
        "checkpoint": checkpoint.body(),
        "key_id": signer.key_id,
    }
    return doc | {"signature": signer.sign_bytes(signed_payload(doc))}


def signed_payload(doc: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers."""
    return canonical_bytes({k: doc[k] for k in ("format", "key_id", "checkpoint")})


def checkpoint_digest(doc: Mapping[str, Any]) -> str:
    """What the next checkpoint names as `previous`: SHA-256 of the signed payload, hex."""
    return hashlib.sha256(signed_payload(doc)).hexdigest()


def parse_checkpoint(doc: Any) -> Checkpoint | None:
    """The checkpoint in document `doc`, or None if `doc` is not shaped like one."""
    if not isinstance(doc, dict) or set(doc) != _DOC_FIELDS:
        return None
    if not all(isinstance(doc[k], str) for k in ("format", "key_id", "signature")):
        return None
    body = doc["checkpoint"]
    if not isinstance(body, dict) or set(body) != _BODY_FIELDS:
        return None
    heads = body["heads"]
    if not (
        _count(body["number"], 1)
        and _count(body["tree_size"], 1)
        and _hex(body["root_hash"])
        and isinstance(body["sealed_at"], str)
        and (body["previous"] is None or _hex(body["previous"]))
        and isinstance(heads, list)
        and all(_head(h) for h in heads)
    ):
        return None
    return Checkpoint(
        number=body["number"],
        tree_size=body["tree_size"],
        root_hash=body["root_hash"],
        sealed_at=body["sealed_at"],
        previous=body["previous"],
        heads=tuple(Head(h["chain_id"], h["seq"], h["hash"]) for h in heads),
    )


def public_keys_of(keys: KeyProvider) -> list[tuple[str, str]]:
    """(key id, PEM) of every version of the audit signing key, the current first."""
    return [(s.key_id, s.public_pem()) for s in AuditSigner.every_version(keys)]


def key_ring(public_key_pems: Sequence[str]) -> dict[str, str] | None:
    """Key id -> PEM of each given public key; None if any is not an Ed25519 key."""
    ring = {}
    for pem in public_key_pems:
        key = load_public_key(pem)
        if key is None:
            return None
        ring[key_id_of(key)] = pem
    return ring


def check_checkpoint(doc: Any, ring: Mapping[str, str] | None) -> str | None:
    """None when `doc` is a checkpoint signed by a key of `ring`, else why not.

    Args:
        doc: a parsed JSON document.
        ring: from `key_ring`; None stands for a bad public key.
    """
    if parse_checkpoint(doc) is None:
        return "malformed"
    if doc["format"] != CHECKPOINT_FORMAT:
        return "unknown_format"
    if ring is None:
        return "bad_public_key"
    pem = ring.get(doc["key_id"])
    if pem is None:
        return "key_mismatch"
    return check_signature(
        signed_payload(doc),
        signature=doc["signature"],
        key_id=doc["key_id"],
        public_key_pem=pem,
    )


def _count(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _hex(value: Any) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def _head(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == _HEAD_FIELDS
        and isinstance(value["chain_id"], str)
        and _count(value["seq"], 1)
        and _hex(value["hash"])
    )
