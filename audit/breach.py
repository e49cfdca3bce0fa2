"""The breach kit (K-06, PIPL 57): which subjects and fields did caller X receive, t1 to t2.

Only what was released counts: the caller's `allowed` events in
`[since, until)`. Denied and failed events released nothing.

* `access.read`: the event's subject, and each requested field whose
  obligation let something leave: every obligation but `withhold` (a field
  without one was left out too). A field is reported with the obligations it
  left under, so `mask` means the caller received it masked.
* `access.query`: every subject the query released, from the event's
  `detail.subject_refs` (under the hash chain, unlike the `audit_subjects`
  index that holds the same references), with the fields and obligations of
  the query's shape decision. A subject's own decision can only withhold more
  than the shape's, so for a query this is what the subject may have received
  at most: the safe side for a notification.
* `access.detokenise`: a token names no subject, so tokens opened are counted
  per category only.

Subjects are keyed references (`s_…`); `audit.breach_subjects` turns them
back into ids when asked. The answer is one keyset scan over the caller's
events in the range (the `(caller, ts)` index). Events that released the same
fields under the same obligations share one *profile*, so a subject costs a
counter and a set of profile numbers, whatever the number of events.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import RowMapping, case
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.query import EVENTS, scan
from audit.record import SUBJECT_REFS

READ, QUERY, DETOKENISE = "access.read", "access.query", "access.detokenise"
WITHHOLD = "withhold"
PAGE = 5000
SubjectKey = tuple[str, str]  # (dataset, subject_ref)
_COLUMNS = (
    *(EVENTS.c[n] for n in ("kind", "dataset", "purpose", "subject_ref")),
    *(EVENTS.c[n] for n in ("fields", "obligations", "ts")),
    # Only queries and detokenising need their detail; a read's is left unread.
    case((EVENTS.c.kind == READ, None), else_=EVENTS.c.detail).label("detail"),
)


@dataclass(frozen=True)
class Profile:
    """What one kind of release gave: the dataset, purpose and (field, obligation)s."""

    dataset: str
    purpose: str | None
    released: tuple[tuple[str, str], ...]


@dataclass
class Seen:
    """What one subject's data went through: events, first and last, profiles."""

    first: str
    last: str
    events: int = 0
    profiles: set[int] = field(default_factory=set)


@dataclass
class BreachReport:
    """Everything caller `caller` received in `[since, until)`."""

    caller: str
    since: str
    until: str
    events: Counter[str] = field(default_factory=Counter)
    subjects: dict[SubjectKey, Seen] = field(default_factory=dict)
    profiles: list[Profile] = field(default_factory=list)
    tokens: int = 0
    token_categories: Counter[str] = field(default_factory=Counter)

    def datasets(self) -> dict[str, set[str]]:
        """The subject references released, by dataset."""
        found: dict[str, set[str]] = {}
        for dataset, ref in self.subjects:
            found.setdefault(dataset, set()).add(ref)
        return found

    def to_json(
        self,
        *,
        categories: Mapping[str, Mapping[str, str]],
        subject_ids: Mapping[SubjectKey, str] | None = None,
    ) -> dict[str, Any]:
        """The report as JSON: a summary per field, then one record per subject.

        Args:
            categories: dataset -> field -> category, from the catalog.
            subject_ids: resolved subject ids; with it, each record has a
                `subject_id` (null when not found) and `resolved` counts them.
        """
        records = [
            self._record(key, seen, subject_ids) for key, seen in self.subjects.items()
        ]
        records.sort(
            key=lambda r: (r["dataset"], r.get("subject_id") or "", r["subject_ref"])
        )
        body: dict[str, Any] = {
            "caller": self.caller,
            "since": self.since,
            "until": self.until,
            "events": dict(sorted(self.events.items())),
            "subjects": len(records),
            "fields": _field_summary(records, categories),
            "detokenised": {
                "tokens": self.tokens,
                "categories": dict(sorted(self.token_categories.items())),
            },
            "records": records,
        }
        if subject_ids is not None:
            found = sum(1 for r in records if r["subject_id"] is not None)
            body["resolved"] = {"found": found, "not_found": len(records) - found}
        return body

    def _record(
        self, key: SubjectKey, seen: Seen, subject_ids: Mapping[SubjectKey, str] | None
    ) -> dict[str, Any]:
        fields: dict[str, set[str]] = {}
        purposes: set[str] = set()
        for number in seen.profiles:
            profile = self.profiles[number]
            purposes.update([profile.purpose] if profile.purpose else [])
            for name, obligation in profile.released:
                fields.setdefault(name, set()).add(obligation)
        record: dict[str, Any] = {"dataset": key[0], "subject_ref": key[1]}
        if subject_ids is not None:
            record["subject_id"] = subject_ids.get(key)
        return record | {
            "fields": {f: sorted(o) for f, o in sorted(fields.items())},
            "purposes": sorted(purposes),
            "events": seen.events,
            "first": seen.first,
            "last": seen.last,
        }


async def breach_report(
    engine: AsyncEngine, *, caller: str, since: str, until: str
) -> BreachReport:
    """What `caller` received in `[since, until)`, from its allowed events."""
    report = BreachReport(caller, since, until)
    tally = _Tally(report)
    conds = [
        EVENTS.c.caller == caller,
        EVENTS.c.ts >= since,
        EVENTS.c.ts < until,
        EVENTS.c.outcome == "allowed",
        EVENTS.c.kind.in_((READ, QUERY, DETOKENISE)),
    ]
    async for rows in scan(engine, conds, _COLUMNS, page=PAGE):
        for row in rows:
            tally.add(row)
    return report


class _Tally:
    """Folds event rows into a report, numbering each distinct profile once."""

    def __init__(self, report: BreachReport) -> None:
        self._report = report
        self._numbers: dict[tuple[str, str | None, str, str], int | None] = {}

    def add(self, row: RowMapping) -> None:
        report, kind = self._report, row["kind"]
        report.events[kind] += 1
        if kind == DETOKENISE:
            detail = orjson.loads(row["detail"])
            report.tokens += detail.get("tokens", 0)
            report.token_categories.update(detail.get("categories", {}))
            return
        number = self._profile(row)
        if number is None:
            return
        refs = (
            orjson.loads(row["detail"]).get(SUBJECT_REFS, ())
            if kind == QUERY
            else (row["subject_ref"],)
        )
        dataset, ts, subjects = row["dataset"], row["ts"], report.subjects
        for ref in refs:
            seen = subjects.get((dataset, ref))
            if seen is None:
                seen = subjects[(dataset, ref)] = Seen(first=ts, last=ts)
            seen.events += 1
            seen.last = ts  # the scan runs oldest first
            seen.profiles.add(number)

    def _profile(self, row: RowMapping) -> int | None:
        """The number of the row's profile; None when it released no field."""
        key = (row["dataset"], row["purpose"], row["fields"], row["obligations"])
        if key in self._numbers:
            return self._numbers[key]
        obligations = orjson.loads(row["obligations"])
        released = tuple(
            (f, obligations[f])
            for f in orjson.loads(row["fields"])
            if obligations.get(f, WITHHOLD) != WITHHOLD
        )
        number = None
        if released:
            number = len(self._report.profiles)
            self._report.profiles.append(Profile(key[0], key[1], released))
        self._numbers[key] = number
        return number


def _field_summary(
    records: list[dict[str, Any]], categories: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, Any]]:
    """dataset -> field -> its category and how many subjects got it under each obligation."""
    counts: dict[str, dict[str, Counter[str]]] = {}
    for record in records:
        by_field = counts.setdefault(record["dataset"], {})
        for name, obligations in record["fields"].items():
            by_field.setdefault(name, Counter()).update(obligations)
    return {
        dataset: {
            name: {
                "category": categories.get(dataset, {}).get(name),
                "subjects": dict(sorted(tally.items())),
            }
            for name, tally in sorted(by_field.items())
        }
        for dataset, by_field in sorted(counts.items())
    }
