"""The signed manifest of an export: what was exported, and the digest of every byte of it.

```
{"format": "govproxy-audit-export/2",
 "manifest": {"decision_id": "<the audit.export event's decision id>",
              "created_at": "2026-03-01T08:00:00.000000Z",
              "exporter": "compliance-officer",
              "filters": {"caller": "campaign-sms", "subject_ref": "s_…"},
              "range": {"since": "…Z", "until": "…Z"},
              "order": ["ts", "chain_id", "seq"],
              "count": 1234,
              "complete": false,
              "checkpoint": {"number": 7, "tree_size": 1200, "root_hash": "<hex>"},
              "chains": [{"chain_id": "…", "first": 5, "last": 1203, "events": 1199,
                          "skipped": [[9, 9]]}, …],
              "files": [{"name": "events.jsonl", "format": "jsonl",
                         "bytes": 567890, "sha256": "<hex>"}]},
 "key_id": "ed25519:<16 hex>",
 "signature": "<Ed25519, base64url without padding>"}
```

`complete` is true when no filter but the range was given: the file then holds
every event of the range, and per chain every seq from `first` to `last` but
those in `skipped` (events of the chain whose `ts` is outside the range,
which the exporter read and checked to link). So `verify-export` names a seq
missing from a complete export. A filtered export leaves out whatever did not
match, so its gaps say nothing (`skipped` is absent). `checkpoint` is the
latest signed checkpoint when the export began (null: none yet): each exported
event it sealed was checked against its leaf, and none of them may be missing
(`audit.export`). Version 1 manifests, written before these three fields, still
verify; they cannot show a missing event.

The signature (the key file's `audit_signing` key, `audit.signing.AuditSigner`)
covers the canonical JSON of `format`, `key_id` and `manifest`, so changing
any of them, or any byte of the file the manifest digests, is detected with
nothing but the public key (`audit.export_verify`). Filters name a subject
only by its keyed reference, never by its id.
"""

import bisect
import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from audit.checkpoint import key_ring
from audit.record import canonical_bytes
from governance.signing import Signer, check_signature

MANIFEST_FORMAT = "govproxy-audit-export/2"
LEGACY_FORMAT = "govproxy-audit-export/1"  # no complete, checkpoint or chains
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


@dataclass
class Run:
    """Consecutive seqs `first`..`last` of one chain, each linked to the one before."""

    first: int
    last: int
    prev_hash: str  # of `first`
    hash: str  # of `last`


@dataclass
class _Chain:
    first: int
    last: int
    events: int = 0
    runs: list[Run] = field(default_factory=list)


class ChainSeqs:
    """The seqs of each chain met in an export, in any order, checked to link.

    Complete (unfiltered), it keeps each chain's maximal runs of consecutive
    seqs, so a gap between runs is a left-out seq and a seq arriving out of
    order (`ts` is stamped before the seq is given) still joins its
    neighbours; memory holds one run per gap, not one entry per event.
    Filtered, gaps are expected and runs could be one per event, so only the
    first, last and count are kept, and a seq is checked against the line
    before it of its chain when it follows it.
    """

    def __init__(self, *, complete: bool) -> None:
        self.complete = complete
        self._chains: dict[str, _Chain] = {}
        self._previous: dict[str, tuple[int, str]] = {}  # filtered: last line's

    def add(self, chain_id: str, seq: int, prev_hash: str, hash_: str) -> str | None:
        """Account for one event; None, or `duplicate` / `broken_link`."""
        chain = self._chains.get(chain_id)
        if chain is None:
            chain = self._chains[chain_id] = _Chain(seq, seq)
        chain.first, chain.last = min(chain.first, seq), max(chain.last, seq)
        chain.events += 1
        if not self.complete:
            before = self._previous.get(chain_id)
            self._previous[chain_id] = (seq, hash_)
            if before is not None and before[0] + 1 == seq and before[1] != prev_hash:
                return "broken_link"
            return None
        return _place(chain.runs, Run(seq, seq, prev_hash, hash_))

    def runs(self) -> Iterator[tuple[str, list[Run]]]:
        """Each chain (by id) and its runs, in seq order (complete only)."""
        for chain_id in sorted(self._chains):
            yield chain_id, self._chains[chain_id].runs

    def summary(self) -> list[dict[str, Any]]:
        """The manifest's `chains`: per chain its first, last and count of events,
        and (complete) the seqs between them that the file does not hold."""
        found = []
        for chain_id in sorted(self._chains):
            chain = self._chains[chain_id]
            entry: dict[str, Any] = {
                "chain_id": chain_id,
                "first": chain.first,
                "last": chain.last,
                "events": chain.events,
            }
            if self.complete:
                entry["skipped"] = [
                    [a.last + 1, b.first - 1] for a, b in itertools.pairwise(chain.runs)
                ]
            found.append(entry)
        return found


def _place(runs: list[Run], new: Run) -> str | None:
    """Insert a one-seq run into `runs` (sorted, disjoint), merging neighbours."""
    at = bisect.bisect_right(runs, new.first, key=lambda r: r.first)
    left = runs[at - 1] if at else None
    right = runs[at] if at < len(runs) else None
    if left is not None and left.last >= new.first:
        return "duplicate"
    if left is not None and left.last + 1 != new.first:
        left = None
    if right is not None and right.first != new.last + 1:
        right = None
    if (left is not None and left.hash != new.prev_hash) or (
        right is not None and right.prev_hash != new.hash
    ):
        return "broken_link"
    if left is not None and right is not None:
        left.last, left.hash = right.last, right.hash
        del runs[at]
    elif left is not None:
        left.last, left.hash = new.last, new.hash
    elif right is not None:
        right.first, right.prev_hash = new.first, new.prev_hash
    else:
        runs.insert(at, new)
    return None


@dataclass(frozen=True)
class Coverage:
    """What the exported events are of the trail: the manifest's `complete`,
    `checkpoint` and `chains`."""

    complete: bool
    checkpoint: dict[str, Any] | None
    chains: list[dict[str, Any]]


def signed_manifest(
    signer: Signer,
    meta: ExportMeta,
    *,
    name: str,
    fmt: str,
    digest: Digest,
    coverage: Coverage,
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
        "complete": coverage.complete,
        "checkpoint": coverage.checkpoint,
        "chains": coverage.chains,
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
    if doc["format"] not in (MANIFEST_FORMAT, LEGACY_FORMAT):
        return "unknown_format"
    if doc["format"] == MANIFEST_FORMAT and not _covered(doc["manifest"]):
        return "malformed"
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


def _covered(manifest: dict[str, Any]) -> bool:
    """Whether a version 2 manifest's `complete`, `checkpoint` and `chains` are
    there, of the right types."""
    chains = manifest.get("chains")
    return (
        type(manifest.get("complete")) is bool
        and (
            manifest.get("checkpoint") is None
            or isinstance(manifest["checkpoint"], dict)
        )
        and isinstance(chains, list)
        and all(_chain_entry(c, complete=manifest["complete"]) for c in chains)
    )


def _chain_entry(entry: Any, *, complete: bool) -> bool:
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("chain_id"), str)
        and all(type(entry.get(k)) is int for k in ("first", "last", "events"))
    ):
        return False
    skipped = entry.get("skipped")
    if not complete:
        return skipped is None
    return isinstance(skipped, list) and all(
        isinstance(s, list) and len(s) == 2 and all(type(n) is int for n in s)
        for s in skipped
    )
