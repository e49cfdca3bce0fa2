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

A query filtered on tags (`detail.tags`) revealed, for each subject it
returned, that the subject carries them: a `孕期` filter tells the caller each
returned subject's `health.fertility`, whatever fields it released. So every
subject is listed with the tags it was selected by, and each tag with its
catalog category and whether that is sensitive. An event that provided data to
a third party (`detail.recipient`) names the recipient and whether the data
went abroad, which a notification has to say (PIPL 39, 57).

Retention may have emptied events of the range into tombstones, which keep
their kind and outcome but no caller. They cannot be attributed, so they are
not tallied; `purged_events` counts the allowed, releasing ones in the range,
so "0 subjects" over a purged range is never read as "nothing was released".

The caller must be a name the proxy knows (registered, revoked ones
included, or one of its own actors): a misspelt name would otherwise answer
"0 subjects", which reads as "nothing was received".

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
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import RowMapping, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from audit.purges import TOMBSTONE_PREFIX
from audit.query import EVENTS, scan
from audit.record import SUBJECT_REFS
from governance.auth.models import Caller
from governance.types import Actor

READ, QUERY, DETOKENISE = "access.read", "access.query", "access.detokenise"
WITHHOLD = "withhold"
PAGE = 2000
RELEASING = (READ, QUERY, DETOKENISE)
RECIPIENT = "recipient"
SubjectKey = tuple[str, str]  # (dataset, subject_ref)
Recipient = tuple[str, bool | None]  # (name, cross_border)
_COLUMNS = (
    *(EVENTS.c[n] for n in ("kind", "dataset", "purpose", "subject_ref")),
    *(EVENTS.c[n] for n in ("fields", "obligations", "ts")),
    # Queries and detokenising need their detail; a read's is read only when
    # it names a recipient (a third-party read), the rest are left unparsed.
    case(
        (
            and_(
                EVENTS.c.kind == READ,
                EVENTS.c.detail.not_like(f'%"{RECIPIENT}"%'),
            ),
            None,
        ),
        else_=EVENTS.c.detail,
    ).label("detail"),
)


@dataclass(frozen=True)
class Profile:
    """What one kind of release gave: the purpose, each (field, obligation), the
    tags a query selected its subjects by, and the third party it went to."""

    purpose: str | None
    released: tuple[tuple[str, str], ...]
    tags: tuple[str, ...] = ()
    recipient: Recipient | None = None


@dataclass(frozen=True)
class _Merged:
    """What the profiles of one bit mask gave, together."""

    fields: dict[str, list[str]]
    purposes: list[str]
    tags: tuple[str, ...]
    recipients: tuple[Recipient, ...]


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
    purged: int = 0
    """Allowed releasing events of the range emptied by retention (no caller left)."""

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
        tags: Mapping[str, tuple[str, bool]] | None = None,
        subject_ids: Mapping[SubjectKey, str] | None = None,
    ) -> dict[str, Any]:
        """The report as JSON: summaries per field, tag and recipient, then one
        record per subject.

        Args:
            categories: dataset -> field -> category, from the catalog.
            tags: tag -> (category, sensitive), from the catalog; a tag no
                longer declared shows neither (null).
            subject_ids: resolved subject ids; with it, each record has a
                `subject_id` (null when not found) and `resolved` counts them.
        """
        facts = _tag_facts(tags or {})
        merged: dict[int, _Merged] = {}
        records = [
            record
            for name in sorted(self.released)
            for record in self._records(name, subject_ids, merged, facts)
        ]
        body: dict[str, Any] = {
            "caller": self.caller,
            "since": self.since,
            "until": self.until,
            "events": dict(sorted(self.events.items())),
            "purged_events": self.purged,
            "subjects": len(records),
            "fields": {
                name: self._field_summary(name, categories.get(name, {}))
                for name in sorted(self.released)
            },
            "tags": {
                name: self._tag_summary(name, merged, facts)
                for name in sorted(self.released)
            },
            "recipients": self._recipient_summary(merged),
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
        self,
        dataset: str,
        subject_ids: Mapping[SubjectKey, str] | None,
        merged: dict[int, _Merged],
        facts: "_TagFacts",
    ) -> list[dict[str, Any]]:
        """One record per subject of `dataset`, by subject id (if resolved), then reference."""
        seen = self.released[dataset].seen
        if subject_ids is None:
            ids = None
            order = sorted(seen)
        else:
            ids = {ref: subject_ids.get((dataset, ref)) for ref in seen}
            order = sorted(seen, key=lambda ref: (ids[ref] or "", ref))
        shown: dict[int, dict[str, Any]] = {}  # the JSON of each mask, made once
        records = []
        for ref in order:
            events, first, last, mask = seen[ref]
            if mask not in shown:
                m = self._merged(mask, merged)
                shown[mask] = {
                    "fields": m.fields,
                    "purposes": m.purposes,
                    "selected_by": {t: facts(t) for t in m.tags},
                    "recipients": [
                        {"name": n, "cross_border": c} for n, c in m.recipients
                    ],
                }
            record: dict[str, Any] = {"dataset": dataset, "subject_ref": ref}
            if ids is not None:
                record["subject_id"] = ids[ref]
            record |= shown[mask]
            record |= {"events": events, "first": first, "last": last}
            records.append(record)
        return records

    def _profiles_in(self, mask: int) -> list[Profile]:
        return [p for n, p in enumerate(self.profiles) if mask >> n & 1]

    def _merged(self, mask: int, merged: dict[int, _Merged]) -> _Merged:
        """What the profiles in `mask` gave together, worked out once per mask."""
        if mask in merged:
            return merged[mask]
        fields: dict[str, set[str]] = {}
        purposes: set[str] = set()
        tags: set[str] = set()
        recipients: set[Recipient] = set()
        for profile in self._profiles_in(mask):
            purposes.update([profile.purpose] if profile.purpose else [])
            tags.update(profile.tags)
            recipients.update([profile.recipient] if profile.recipient else [])
            for name, obligation in profile.released:
                fields.setdefault(name, set()).add(obligation)
        merged[mask] = _Merged(
            {f: sorted(o) for f, o in sorted(fields.items())},
            sorted(purposes),
            tuple(sorted(tags)),
            tuple(sorted(recipients, key=lambda r: (r[0], str(r[1])))),
        )
        return merged[mask]

    def _masks(self, dataset: str) -> Counter[int]:
        """How many subjects of `dataset` received each combination of profiles."""
        return Counter(mark[3] for mark in self.released[dataset].seen.values())

    def _field_summary(
        self, dataset: str, categories: Mapping[str, str]
    ) -> dict[str, dict[str, Any]]:
        """Field -> its category, and how many subjects got it under each obligation."""
        counts: dict[str, Counter[str]] = {}
        for mask, n in self._masks(dataset).items():
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

    def _tag_summary(
        self, dataset: str, merged: dict[int, _Merged], facts: "_TagFacts"
    ) -> dict[str, dict[str, Any]]:
        """Tag -> its category, whether sensitive, and how many subjects it selected."""
        counts: Counter[str] = Counter()
        for mask, n in self._masks(dataset).items():
            counts.update(dict.fromkeys(self._merged(mask, merged).tags, n))
        return {t: facts(t) | {"subjects": counts[t]} for t in sorted(counts)}

    def _recipient_summary(self, merged: dict[int, _Merged]) -> list[dict[str, Any]]:
        """Each third party data went to, whether abroad, and to how many subjects."""
        counts: Counter[Recipient] = Counter()
        for name in self.released:
            for mask, n in self._masks(name).items():
                counts.update(dict.fromkeys(self._merged(mask, merged).recipients, n))
        return [
            {"name": r[0], "cross_border": r[1], "subjects": counts[r]}
            for r in sorted(counts, key=lambda r: (r[0], str(r[1])))
        ]


_TagFacts = Callable[[str], dict[str, Any]]


def _tag_facts(tags: Mapping[str, tuple[str, bool]]) -> _TagFacts:
    """A tag's category and sensitivity as JSON; null for a tag no longer declared."""

    def fact(name: str) -> dict[str, Any]:
        category, sensitive = tags.get(name, (None, None))
        return {"category": category, "sensitive": sensitive}

    return fact


async def known_caller(engine: AsyncEngine, name: str) -> bool:
    """Whether `name` is a caller the proxy knows: registered (revoked or not),
    one of its own actors, or named by an event of the trail."""
    if name in frozenset(Actor):
        return True
    registered = select(col(Caller.name)).where(col(Caller.name) == name).limit(1)
    in_trail = select(EVENTS.c.caller).where(EVENTS.c.caller == name).limit(1)
    async with engine.connect() as conn:
        for stmt in (registered, in_trail):
            if (await conn.execute(stmt)).first() is not None:
                return True
    return False


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
    report.purged = await purged_events(engine, since=since, until=until)
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
        EVENTS.c.kind.in_(RELEASING),
    ]
    return scan(engine, conds, _COLUMNS, page=PAGE)


async def purged_events(engine: AsyncEngine, *, since: str, until: str) -> int:
    """Tombstones in `[since, until)` of allowed events that could release data.

    A tombstone keeps its kind and outcome but not its caller, so these may or
    may not have been the investigated caller's: one range scan on the
    `(caller, ts)` index, the caller being null.
    """
    stmt = select(func.count()).where(
        EVENTS.c.caller.is_(None),
        EVENTS.c.ts >= since,
        EVENTS.c.ts < until,
        EVENTS.c.outcome == "allowed",
        EVENTS.c.kind.in_(RELEASING),
        EVENTS.c.detail.startswith(TOMBSTONE_PREFIX, autoescape=True),
    )
    async with engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


class _Tally:
    """Folds event rows into a report, numbering each distinct profile once."""

    def __init__(self, report: BreachReport) -> None:
        self._report = report
        self._numbers: dict[tuple[Any, ...], int | None] = {}

    def add_all(self, rows: Iterable[RowMapping]) -> None:
        """Fold `rows` into the report."""
        for row in rows:
            self.add(row)

    def add(self, row: RowMapping) -> None:
        """Fold one event row into the report."""
        report, kind = self._report, row["kind"]
        report.events[kind] += 1
        detail = orjson.loads(row["detail"]) if row["detail"] is not None else {}
        if kind == DETOKENISE:
            report.tokens += detail.get("tokens", 0)
            report.token_categories.update(detail.get("categories", {}))
            return
        number = self._profile(row, detail)
        if number is None:
            return
        refs = detail.get(SUBJECT_REFS, []) if kind == QUERY else [row["subject_ref"]]
        released = report.released.get(row["dataset"])
        if released is None:
            released = report.released[row["dataset"]] = Released()
        released.add(refs, row["ts"], number)

    def _profile(self, row: RowMapping, detail: Mapping[str, Any]) -> int | None:
        """The number of the row's profile; None when it released no field."""
        tags = tuple(sorted(map(str, t))) if (t := detail.get("tags")) else ()
        recipient = _recipient(r) if (r := detail.get(RECIPIENT)) else None
        key = (row["purpose"], row["fields"], row["obligations"], tags, recipient)
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
            profile = Profile(row["purpose"], released, tags, recipient)
            self._report.profiles.append(profile)
        self._numbers[key] = number
        return number


def _recipient(noted: Any) -> Recipient | None:
    """(name, cross_border) of the recipient an event names; None when it names none."""
    if not isinstance(noted, dict) or "name" not in noted:
        return None
    cross_border = noted.get("cross_border")
    return str(noted["name"]), cross_border if isinstance(cross_border, bool) else None
