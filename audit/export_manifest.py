"""The signed manifest of an export: what was exported, and the digest of every byte of it.

```
{"format": "govproxy-audit-export/1",
 "manifest": {"decision_id": "<the audit.export event's decision id>",
              "created_at": "2026-03-01T08:00:00.000000Z",
              "exporter": "compliance-officer",
              "filters": {"caller": "campaign-sms", "subject_ref": "s_…"},
              "range": {"since": "…Z", "until": "…Z"},
              "order": ["ts", "chain_id", "seq"],
              "count": 1234,
              "files": [{"name": "events.jsonl", "format": "jsonl",
                         "bytes": 567890, "sha256": "<hex>"}]},
 "key_id": "ed25519:<16 hex>",
 "signature": "<Ed25519, base64url without padding>"}
```

The signature (the key file's `audit_signing` key, `audit.signing.AuditSigner`)
covers the canonical JSON of `format`, `key_id` and `manifest`, so changing
any of them, or any byte of the file the manifest digests, is detected with
nothing but the public key (`audit.export_verify`). Filters name a subject
only by its keyed reference, never by its id.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from audit.checkpoint import key_ring
from audit.record import canonical_bytes
from governance.signing import Signer, check_signature

MANIFEST_FORMAT = "govproxy-audit-export/1"
MANIFEST_FILE = "manifest.json"
ORDER = ("ts", "chain_id", "seq")
_DOC_FIELDS = frozenset({"format", "manifest", "key_id", "signature"})


@dataclass
class Digest:
    """A running SHA-256, byte count and event count of one export file."""

    count: int = 0
    size: int = 0
    _sha: Any = field(default_factory=hashlib.sha256)

    def add(self, chunk: bytes, events: int) -> None:
        """Account for `chunk`, which holds `events` events."""
        self._sha.update(chunk)
        self.size += len(chunk)
        self.count += events

    @property
    def sha256(self) -> str:
        """The hex digest of every byte added so far."""
        return str(self._sha.hexdigest())


@dataclass(frozen=True)
class ExportMeta:
    """Who exported what, when, and the audit event that recorded it."""

    decision_id: str
    created_at: str
    exporter: str
    filters: dict[str, str]
    since: str
    until: str


def signed_manifest(
    signer: Signer, meta: ExportMeta, *, name: str, fmt: str, digest: Digest
) -> dict[str, Any]:
    """The signed manifest document of one finished export file."""
    manifest = {
        "decision_id": meta.decision_id,
        "created_at": meta.created_at,
        "exporter": meta.exporter,
        "filters": meta.filters,
        "range": {"since": meta.since, "until": meta.until},
        "order": list(ORDER),
        "count": digest.count,
        "files": [
            {
                "name": name,
                "format": fmt,
                "bytes": digest.size,
                "sha256": digest.sha256,
            }
        ],
    }
    payload = signed_bytes(MANIFEST_FORMAT, signer.key_id, manifest)
    doc: dict[str, Any] = orjson.loads(payload)
    doc["signature"] = signer.sign_bytes(payload)
    return doc


def signed_bytes(fmt: str, key_id: str, manifest: Any) -> bytes:
    """The bytes a manifest signature covers.

    Raises:
        TypeError: a value cannot be written as JSON.
    """
    return canonical_bytes({"format": fmt, "key_id": key_id, "manifest": manifest})


def manifest_problem(doc: Any, public_key_pems: Sequence[str]) -> str | None:
    """None when `doc` is a manifest signed by one of the keys, else the reason it is not.

    Several keys may be given (every version of a rotated key); the manifest's
    `key_id` picks one. Reasons: `malformed`, `unknown_format`,
    `bad_public_key` (a given PEM is not an Ed25519 key), `key_mismatch`
    (signed by none of them), then those of
    `governance.signing.check_signature`. Never raises.
    """
    if not (
        isinstance(doc, dict)
        and doc.keys() == _DOC_FIELDS
        and all(isinstance(doc[k], str) for k in ("format", "key_id", "signature"))
        and _well_formed(doc["manifest"])
    ):
        return "malformed"
    if doc["format"] != MANIFEST_FORMAT:
        return "unknown_format"
    ring = key_ring(public_key_pems)
    if not ring:
        return "bad_public_key"
    pem = ring.get(doc["key_id"])
    if pem is None:
        return "key_mismatch"
    try:
        payload = signed_bytes(doc["format"], doc["key_id"], doc["manifest"])
    except TypeError:
        return "malformed"
    return check_signature(
        payload, signature=doc["signature"], key_id=doc["key_id"], public_key_pem=pem
    )


def _well_formed(manifest: Any) -> bool:
    """Whether the parts a verifier reads are there, of the right types."""
    if not isinstance(manifest, dict) or type(manifest.get("count")) is not int:
        return False
    files = manifest.get("files")
    return (
        isinstance(files, list)
        and len(files) == 1
        and isinstance(files[0], dict)
        and all(isinstance(files[0].get(k), str) for k in ("name", "format", "sha256"))
    )
