"""Import consents from a CSV file (`govproxy consent import`): all rows, or none.

The file is UTF-8 (a BOM is fine) or, with `--encoding gbk`, GBK/GB18030. Its
first line names the columns, in any order:

  subject_id,purpose,notice_version,method,channel,granted_at,kind,grantor,
  scope,expires_at,declared_frequency,evidence_hash

  subject_id          required; a subject some catalogued dataset holds
  purpose             required; a declared purpose whose legal basis is consent
  notice_version      required; a current (not retired) notice of that purpose
  method              required; an affirmative act (click, checkbox, signature,
                      sms_reply, voice_recorded, import, user_request)
  channel             required; app, mini_program, web, h5, sms, store,
                      call_center, wecom, api or import
  granted_at          required; when the subject consented, ISO 8601 with an
                      offset (2026-03-01T08:00:00+08:00); not in the future, not
                      before the notice was published
  kind                general (default), separate or guardian
  grantor             self (default) or guardian (with kind guardian)
  scope               categories separated by | (default: the notice's)
  expires_at          ISO 8601 with an offset; in the future, after granted_at
  declared_frequency  like 4/month; required for messaging purposes
  evidence_hash       SHA-256 (64 hex digits) of the SCRM's evidence

Every row is checked as the API checks a grant. A subject and purpose may appear
once per file. If any row is bad, every bad row is reported as `line N: reason`
and nothing is imported. Otherwise all rows are stored in ONE transaction with
one `consent.granted` audit event each and one `consent.imported` event for the
file (its row count and SHA-256). A consent's `recorded_at` is its `granted_at`,
its `recorded_by` is `import:<file name>`.

Against the ledger: a live grant of the same subject and purpose is superseded
(a `superseded` event, as the API records) even if it is newer, since the ledger's
latest event decides; a row whose `granted_at` precedes a withdrawal the ledger
already holds is refused, so an import never undoes a later withdrawal. If a
grant the file supersedes is ended between the check and the commit (by the
API, the consent center or the expiry sweep), or a subject in the file gives
or withdraws consent meanwhile (every grant names the state it follows, which
only one event may), the store refuses the commit and nothing is imported
(exit 2): run the import again.

Limits: 200 MB per file, 64 KiB per row. The whole file is checked before
anything is written and committed as one transaction, so it is held in memory
(about 5 KB per row while committing).
"""

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from audit.writer import AuditWriter
from governance.catalog import Catalog
from governance.consent.csvfile import CsvFile, Encoding, Problem, read_csv
from governance.consent.import_lookups import (
    LedgerState,
    existing_subjects,
    last_withdrawals,
    latest_states,
)
from governance.consent.import_records import records
from governance.consent.import_rows import ImportRow, RowValidator
from governance.consent.ledger import ConsentAction
from governance.consent.models import bulk_append
from governance.errors import AppendRejected, Conflict, InvalidRequest
from governance.subjects import china_date


@dataclass(frozen=True, repr=False)
class ImportPlan:
    """A checked file: the rows to import, or the problems that stop it.

    It keeps only what the commit needs (the CSV's own rows are freed once
    checked), and its repr names counts only: never a subject, nor every row.
    """

    file_name: str
    sha256: str  # of the file's bytes
    recorded_by: str
    rows: list[ImportRow]
    problems: list[Problem]
    # line -> the live grant in the ledger that the row's grant supersedes
    supersedes: dict[int, LedgerState] = field(default_factory=dict)
    # line -> the ended state event (withdrawal, expiry) the row's grant follows
    after: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the whole file can be imported."""
        return not self.problems

    def __repr__(self) -> str:
        return (
            f"ImportPlan(file={self.file_name!r}, rows={len(self.rows)}, "
            f"problems={len(self.problems)}, supersedes={len(self.supersedes)})"
        )


def importer_name(file_name: str) -> str:
    """Who records the consents of `file_name`: the audit caller and `recorded_by`."""
    return f"import:{file_name}"[:64]


async def check_file(
    path: Path,
    *,
    catalog: Catalog,
    store: AsyncEngine,
    sources: Mapping[str, AsyncEngine],
    encoding: Encoding,
    now: datetime,
) -> ImportPlan:
    """Read and check every row of `path`; write nothing."""
    csv_file = read_csv(path, encoding)
    by = importer_name(csv_file.name)
    reasons: dict[int, list[str]] = defaultdict(list)
    for problem in csv_file.problems:
        reasons[problem.line].append(problem.reason)
    validator = RowValidator(catalog, recorded_by=by, now=now)
    rows: list[ImportRow] = []
    for line, values in csv_file.rows:
        try:
            rows.append(validator.row(line, values))
        except InvalidRequest as exc:
            reasons[line].append(exc.detail)
    _duplicates(csv_file, reasons)
    await _unknown_subjects(catalog, sources, csv_file, reasons, now)
    rows = [r for r in rows if r.line not in reasons]
    supersedes, after = await _against_ledger(store, rows, reasons, now)
    problems = [Problem(n, "; ".join(reasons[n])) for n in sorted(reasons)]
    good = [] if problems else rows
    return ImportPlan(
        csv_file.name,
        csv_file.sha256,
        by,
        good,
        problems,
        {} if problems else supersedes,
        {} if problems else after,
    )


def _duplicates(csv_file: CsvFile, reasons: dict[int, list[str]]) -> None:
    """A subject and purpose may appear once: name the line of the first."""
    seen: dict[tuple[str, str], tuple[int, tuple[str, str]]] = {}
    for line, values in csv_file.rows:
        pair = (values["subject_id"], values["purpose"])
        same = (values["granted_at"], values["notice_version"])
        if not all(pair):
            continue
        first = seen.setdefault(pair, (line, same))
        if first[0] == line:
            continue
        if first[1] == same:
            reasons[line].append(f"duplicate row: same consent as line {first[0]}")
        else:
            reasons[line].append(
                f"duplicate_subject_purpose: this subject and purpose are already on "
                f"line {first[0]}; import one consent per subject and purpose"
            )


async def _unknown_subjects(
    catalog: Catalog,
    sources: Mapping[str, AsyncEngine],
    csv_file: CsvFile,
    reasons: dict[int, list[str]],
    now: datetime,
) -> None:
    ids = {v["subject_id"] for _, v in csv_file.rows if v["subject_id"]}
    known = await existing_subjects(catalog, sources, ids, china_date(now))
    for line, values in csv_file.rows:
        if not values["subject_id"]:
            continue
        if values["subject_id"] not in known:
            reasons[line].append("unknown subject: no catalogued dataset holds it")
        elif known[values["subject_id"]] and values["grantor"] != "guardian":
            reasons[line].append(
                "the subject is under 14: only a guardian can consent for them"
                " (kind guardian, grantor guardian)"
            )


async def _against_ledger(
    store: AsyncEngine,
    rows: list[ImportRow],
    reasons: dict[int, list[str]],
    now: datetime,
) -> tuple[dict[int, LedgerState], dict[int, str]]:
    """Refuse rows older than a recorded withdrawal, whether it is the latest
    state or a grant came after it; find the live grants to supersede, and the
    ended states (withdrawn, expired) the other rows' grants follow."""
    pairs = {(r.subject_id, r.terms.change.purpose) for r in rows}
    latest = await latest_states(store, pairs)
    # Only a row older than a later grant can hide a withdrawal between them.
    hidden = {
        (r.subject_id, r.terms.change.purpose)
        for r in rows
        if (s := latest.get((r.subject_id, r.terms.change.purpose))) is not None
        and s.action != ConsentAction.WITHDRAWN
        and s.recorded_at > r.granted_at
    }
    earlier = await last_withdrawals(store, hidden) if hidden else {}
    supersedes: dict[int, LedgerState] = {}
    after: dict[int, str] = {}
    for row in rows:
        pair = (row.subject_id, row.terms.change.purpose)
        state = latest.get(pair)
        if state is None:
            continue
        withdrawn = (
            state.recorded_at
            if state.action == ConsentAction.WITHDRAWN
            else earlier.get(pair)
        )
        if withdrawn is not None and withdrawn > row.granted_at:
            reasons[row.line].append(
                "the ledger records a withdrawal of this consent after granted_at "
                f"({withdrawn:%Y-%m-%dT%H:%M:%SZ}); the withdrawal stands"
            )
        elif state.live(now):
            supersedes[row.line] = state
        else:
            after[row.line] = state.event_id
    return supersedes, after


async def commit(
    plan: ImportPlan, store: AsyncEngine, subject_ref: Callable[[str], str]
) -> None:
    """Store every row of `plan` with its audit events in one transaction."""
    if not plan.ok or not plan.rows:
        raise InvalidRequest("only a file without problems can be imported")
    consents, drafts = records(
        plan.rows,
        plan.supersedes,
        plan.after,
        subject_ref,
        caller=plan.recorded_by,
        summary={
            "file": plan.file_name,
            "rows": len(plan.rows),
            "sha256": plan.sha256,
            "superseded": len(plan.supersedes),
        },
    )
    writer = AuditWriter(store)
    await writer.start()
    try:
        await writer.append_all(drafts, also=[bulk_append(consents)])
    except AppendRejected:
        raise Conflict(
            "the store refused the import by one of its rules, most likely because"
            " the consent of a subject in the file changed while it was imported:"
            " nothing was imported; import the file again"
        ) from None
    finally:
        await writer.stop()
