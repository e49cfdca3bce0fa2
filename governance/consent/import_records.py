"""The rows a consent import stores: ledger events and their audit events, in file order.

Built as plain dicts for one executemany: each row's stored columns are its
validated terms (shared by all rows with the same terms) plus its own ids,
subject, expiry, evidence hash and `recorded_at` (= `granted_at`). A grant
replacing a live one is preceded by a `superseded` event naming it, as
`changes_for_grant` records through the API. All audit events of one import
carry the same `ts`: they commit in one transaction.
"""

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from audit.record import AuditDraft, utc_now_iso
from governance.consent.import_lookups import LedgerState
from governance.consent.import_rows import ImportRow
from governance.consent.ledger import ConsentChange, first_grant_claim
from governance.types import Outcome

_ALLOWED = Outcome.ALLOWED.value
_COUNTER = 1 << 30  # ids per call: the counter bits of `time_ordered_ids`


def records(
    rows: Sequence[ImportRow],
    supersedes: Mapping[int, LedgerState],
    after: Mapping[int, str],
    subject_ref: Callable[[str], str],
    *,
    caller: str,
    summary: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[AuditDraft]]:
    """The consent rows and audit drafts: one `consent.granted` per row, a summary.

    A row's grant follows (`refers_to`) the withdrawal or expiry of its pair that
    `after` names, or is its pair's first (`first_grant_claim`), unless it
    supersedes a live grant, which its `superseded` event names.
    """
    ts = utc_now_iso()  # one transaction, one instant
    ids = time_ordered_ids(2 * len(rows) + len(supersedes) + 1)
    consents: list[dict[str, Any]] = []
    drafts: list[AuditDraft] = []
    endings: dict[tuple[int, str], dict[str, Any]] = {}
    refs: dict[str, str] = {}  # a file names each subject for several purposes
    for row in rows:
        change = row.terms.change
        live = supersedes.get(row.line)
        if live is None:
            written = [next(ids)]
        else:
            written = [next(ids), next(ids)]
            key = (id(row.terms), live.notice_version)
            ending = endings.get(key)
            if ending is None:
                ending = endings[key] = _ending_columns(change, live.notice_version)
            consents.append(
                ending
                | {
                    "event_id": written[0],
                    "subject_id": row.subject_id,
                    "refers_to": live.event_id,
                    "recorded_at": row.granted_at,
                }
            )
        follows = (
            None  # its `superseded` event names the grant it follows
            if live is not None
            else after.get(row.line)
            or first_grant_claim(row.subject_id, change.purpose)
        )
        consents.append(row.columns(written[-1], follows))
        detail = {
            "notice_version": change.notice_version,
            "kind": change.kind,
            "source": "csv",
            "line": row.line,
            "consent_event_ids": written,
        }
        ref = refs.get(row.subject_id)
        if ref is None:
            ref = refs[row.subject_id] = subject_ref(row.subject_id)
        drafts.append(
            AuditDraft(
                kind="consent.granted",
                outcome=_ALLOWED,
                caller=caller,
                purpose=change.purpose,
                subject_ref=ref,
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


def _ending_columns(change: ConsentChange, notice_version: str) -> dict[str, Any]:
    """The stored columns of the `superseded` event `change` records for a live grant
    under `notice_version`, but those of the row (ids, subject, instant): the same
    for every row with these terms, so built once for them."""
    columns = change.ending(None, notice_version).values("", datetime.min)
    for column in ("event_id", "subject_id", "refers_to", "recorded_at"):
        del columns[column]
    return columns


def time_ordered_ids(count: int) -> Iterator[str]:
    """`count` UUIDs of version 7 (RFC 9562), each greater than the one before.

    A 48-bit Unix time in milliseconds, then a 30-bit counter (RFC 9562's
    "fixed-length dedicated counter"), then 44 random bits. Ids made in
    order go into the unique indexes of the ledger and of the audit trail at
    one end instead of at random places, the cheaper insert for a bulk commit.
    """
    if count > _COUNTER:
        raise ValueError(f"at most {_COUNTER} ids at once")
    ms = f"{time.time_ns() // 1_000_000:012x}"
    prefix = f"{ms[:8]}-{ms[8:]}-7"
    noise = os.urandom(6 * count).hex()  # 11 of every 12 digits used
    for block in range(0, count, 16):
        # counter bits 29-18 | variant 0b10, bits 17-4 | bits 3-0, 44 random bits;
        # all but the last four counter bits are shared by 16 ids in a row
        head = f"{prefix}{block >> 18:03x}-{0x8000 | (block >> 4) & 0x3FFF:04x}-"
        for i in range(block, min(block + 16, count)):
            yield f"{head}{i & 15:x}{noise[12 * i : 12 * i + 11]}"
