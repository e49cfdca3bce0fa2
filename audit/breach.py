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
events in the range (the `(caller, ts)` index). It has to stay fast when one
audience query released thousands of subjects, so the tally is by *profile*,
not by subject: events that released the same fields under the same
obligations for the same purpose share a profile, and each profile keeps the
set of subjects it reached. An event then costs a few set and counter
updates done in C, whatever its number of subjects; per-subject records are
assembled once, at the end, from the profiles each subject is in.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import RowMapping, case
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.query import EVENTS, scan
from audit.record import SUBJECT_REFS

READ, QUERY, DETOKENISE = "access.read", "access.query", "access.detokenise"
WITHHOLD = "withhold"
PAGE = 2000
SubjectKey = tuple[str, str]  # (dataset, subject_ref)
_COLUMNS = (
    *(EVENTS.c[n] for n in ("kind", "dataset", "purpose", "subject_ref")),
    *(EVENTS.c[n] for n in ("fields", "obligations", "ts")),
    # Only queries and detokenising need their detail; a read's is left unread.
    case((EVENTS.c.kind == READ, None), else_=EVENTS.c.detail).label("detail"),
)


@dataclass(frozen=True)
class Profile:
    """What one kind of release gave: the purpose and each (field, obligation)."""

    purpose: str | None
    released: tuple[tuple[str, str], ...]


@dataclass
class Released:
    """What one dataset's subjects received, subject by subject."""

    # subject reference -> [events, first, last, profiles as a bit mask];
    # events arrive oldest first.
    seen: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, refs: Iterable[str], ts: str, profile: int) -> None:
        """`refs` received `profile` at `ts`."""
        seen, bit = self.seen, 1 << profile
        for ref in refs:
            mark = seen.get(ref)
            if mark is None:
                seen[ref] = [1, ts, ts, bit]
            else:
                mark[0] += 1
                mark[2] = ts
                mark[3] |= bit


@dataclass
class BreachReport:
    """Everything caller `caller` received in `[since, until)`."""

    caller: str
    since: str
    until: str
    events: Counter[str] = field(default_factory=Counter)
    profiles: list[Profile] = field(default_factory=list)
    released: dict[str, Released] = field(default_factory=dict)  # by dataset
    tokens: int = 0
    token_categories: Counter[str] = field(default_factory=Counter)

    @property
    def subjects(self) -> int:
        """How many subjects received anything (one per dataset and reference)."""
        return sum(len(r.seen) for r in self.released.values())

    def datasets(self) -> dict[str, set[str]]:
        """The subject references released, by dataset."""
        return {name: set(r.seen) for name, r in self.released.items()}

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
            record
            for name in sorted(self.released)
            for record in self._records(name, subject_ids)
        ]
        body: dict[str, Any] = {
            "caller": self.caller,
            "since": self.since,
            "until": self.until,
            "events": dict(sorted(self.events.items())),
            "subjects": len(records),
            "fields": {
                name: self._field_summary(name, categories.get(name, {}))
                for name in sorted(self.released)
            },
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

    def _records(
        self, dataset: str, subject_ids: Mapping[SubjectKey, str] | None
    ) -> list[dict[str, Any]]:
        """One record per subject of `dataset`, by subject id (if resolved), then reference."""
        seen = self.released[dataset].seen
        if subject_ids is None:
            ids = None
            order = sorted(seen)
        else:
            ids = {ref: subject_ids.get((dataset, ref)) for ref in seen}
            order = sorted(seen, key=lambda ref: (ids[ref] or "", ref))
        merged: dict[int, tuple[dict[str, list[str]], list[str]]] = {}
        records = []
        for ref in order:
            events, first, last, mask = seen[ref]
            if mask not in merged:
                merged[mask] = self._merge(mask)
            fields, purposes = merged[mask]
            record: dict[str, Any] = {"dataset": dataset, "subject_ref": ref}
            if ids is not None:
                record["subject_id"] = ids[ref]
            record |= {
                "fields": fields,
                "purposes": purposes,
                "events": events,
                "first": first,
                "last": last,
            }
            records.append(record)
        return records

    def _profiles_in(self, mask: int) -> list[Profile]:
        return [p for n, p in enumerate(self.profiles) if mask >> n & 1]

    def _merge(self, mask: int) -> tuple[dict[str, list[str]], list[str]]:
        """The fields (with every obligation) and purposes of the profiles in `mask`."""
        fields: dict[str, set[str]] = {}
        purposes: set[str] = set()
        for profile in self._profiles_in(mask):
            purposes.update([profile.purpose] if profile.purpose else [])
            for name, obligation in profile.released:
                fields.setdefault(name, set()).add(obligation)
        return {f: sorted(o) for f, o in sorted(fields.items())}, sorted(purposes)

    def _field_summary(
        self, dataset: str, categories: Mapping[str, str]
    ) -> dict[str, dict[str, Any]]:
        """Field -> its category, and how many subjects got it under each obligation."""
        subjects = Counter(mark[3] for mark in self.released[dataset].seen.values())
        counts: dict[str, Counter[str]] = {}
        for mask, n in subjects.items():
            got = {pair for p in self._profiles_in(mask) for pair in p.released}
            for name, obligation in got:
                counts.setdefault(name, Counter())[obligation] += n
        return {
            name: {
                "category": categories.get(name),
                "subjects": dict(sorted(by.items())),
            }
            for name, by in sorted(counts.items())
        }


async def breach_report(
    engine: AsyncEngine, *, caller: str, since: str, until: str
) -> BreachReport:
    """What `caller` received in `[since, until)`, from its allowed events."""
    report = BreachReport(caller, since, until)
    tally = _Tally(report)
    # A page of queries may hold a million references: each page is tallied on
    # a worker thread, off the event loop (the proxy keeps answering), while
    # the next page is read. One page is tallied at a time, in order.
    tallied: asyncio.Future[None] | None = None
    try:
        async for rows in releasing_events(
            engine, caller=caller, since=since, until=until
        ):
            if tallied is not None:
                await tallied
            tallied = asyncio.ensure_future(asyncio.to_thread(tally.add_all, rows))
    finally:
        if tallied is not None:
            await tallied
    return report


def releasing_events(
    engine: AsyncEngine, *, caller: str, since: str, until: str
) -> AsyncIterator[Sequence[RowMapping]]:
    """The caller's allowed events in `[since, until)` that can release data, in pages."""
    conds = [
        EVENTS.c.caller == caller,
        EVENTS.c.ts >= since,
        EVENTS.c.ts < until,
        EVENTS.c.outcome == "allowed",
        EVENTS.c.kind.in_((READ, QUERY, DETOKENISE)),
    ]
    return scan(engine, conds, _COLUMNS, page=PAGE)


class _Tally:
    """Folds event rows into a report, numbering each distinct profile once."""

    def __init__(self, report: BreachReport) -> None:
        self._report = report
        self._numbers: dict[tuple[str | None, str, str], int | None] = {}

    def add_all(self, rows: Iterable[RowMapping]) -> None:
        """Fold `rows` into the report."""
        for row in rows:
            self.add(row)

    def add(self, row: RowMapping) -> None:
        """Fold one event row into the report."""
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
            orjson.loads(row["detail"]).get(SUBJECT_REFS, [])
            if kind == QUERY
            else [row["subject_ref"]]
        )
        released = report.released.get(row["dataset"])
        if released is None:
            released = report.released[row["dataset"]] = Released()
        released.add(refs, row["ts"], number)

    def _profile(self, row: RowMapping) -> int | None:
        """The number of the row's profile; None when it released no field."""
        key = (row["purpose"], row["fields"], row["obligations"])
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
            self._report.profiles.append(Profile(key[0], released))
        self._numbers[key] = number
        return number
