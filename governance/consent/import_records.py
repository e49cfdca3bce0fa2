"""The rows a consent import stores: ledger events and their audit events, in file order.

Built as plain dicts for one executemany: each row's stored columns are its
validated terms (shared by all rows with the same terms) plus its own ids,
subject, expiry, evidence hash and `recorded_at` (= `granted_at`). A grant
replacing a live one is preceded by a `superseded` event naming it, as
`changes_for_grant` records through the API. All audit events of one import
carry the same `ts`: they commit in one transaction.
"""

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from audit.record import AuditDraft, utc_now_iso
from governance.consent.import_lookups import LedgerState
from governance.consent.import_rows import ImportRow
from governance.types import Outcome

_ALLOWED = Outcome.ALLOWED.value
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}  # RFC 4122 variant


def records(
    rows: Sequence[ImportRow],
    supersedes: Mapping[int, LedgerState],
    subject_ref: Callable[[str], str],
    *,
    caller: str,
    summary: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[AuditDraft]]:
    """The consent rows and audit drafts: one `consent.granted` per row, a summary."""
    ts = utc_now_iso()  # one transaction, one instant
    ids = random_ids(2 * len(rows) + len(supersedes) + 1)
    consents: list[dict[str, Any]] = []
    drafts: list[AuditDraft] = []
    for row in rows:
        change = row.terms.change
        live = supersedes.get(row.line)
        if live is None:
            written = [next(ids)]
        else:
            written = [next(ids), next(ids)]
            ended = replace(change, subject_id=row.subject_id).ending(
                live.event_id, live.notice_version
            )
            consents.append(ended.values(written[0], row.granted_at))
        consents.append(row.columns(written[-1]))
        detail = {
            "notice_version": change.notice_version,
            "kind": change.kind,
            "source": "csv",
            "line": row.line,
            "consent_event_ids": written,
        }
        drafts.append(
            AuditDraft(
                kind="consent.granted",
                outcome=_ALLOWED,
                caller=caller,
                purpose=change.purpose,
                subject_ref=subject_ref(row.subject_id),
                detail=detail,
                ts=ts,
                event_id=next(ids),
            )
        )
    drafts.append(
        AuditDraft(
            kind="consent.imported",
            outcome=_ALLOWED,
            caller=caller,
            detail=summary,
            ts=ts,
            event_id=next(ids),
        )
    )
    return consents, drafts


def random_ids(count: int) -> Iterator[str]:
    """`count` random (version 4) UUIDs as text, from one read of the OS's randomness.

    The same ids `uuid.uuid4()` gives, at a quarter of its cost per id.
    """
    digits = os.urandom(16 * count).hex()
    for i in range(0, 32 * count, 32):
        d = digits[i : i + 32]
        yield f"{d[:8]}-{d[8:12]}-4{d[13:16]}-{_VARIANT[d[16]]}{d[17:20]}-{d[20:]}"
