"""Access, denial, revision and event-kind figures, summed from the month's event shapes.

Pure functions over `collect`'s aggregates: no SQL here. An access is an
`access.*` event; it is counted under its purpose, its caller and its outcome
(`allowed`, `denied`, `error`). A refusal is counted under its reason code, and
a policy refusal also under each reason the policy gave. Refusals of anything
else (a role check, a missing key, a throttle or budget, a consent grant) are
counted by kind, reason and caller: they read no data, but a service key
probing the audit trail is as much a finding as a refused read.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime

from audit.report.collect import DetailCount, Shape
from audit.report.figures import (
    Counted,
    Denials,
    KindCount,
    OutcomeCounts,
    Refusal,
    Revision,
)
from governance.subjects import CHINA_TZ

_OUTCOMES = ("allowed", "denied", "error")
UNNAMED = "(none)"
"""The key of accesses without a purpose or caller (refused before either was known)."""


def outcome_counts(key: str, counts: Counter[str]) -> OutcomeCounts:
    """An `OutcomeCounts` from a counter of outcomes."""
    return OutcomeCounts(key, *(counts[o] for o in _OUTCOMES))


def by_key(shapes: Iterable[Shape], attribute: str) -> tuple[OutcomeCounts, ...]:
    """Accesses by purpose or caller, largest first."""
    table: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for s in shapes:
        if s.access:
            table[getattr(s, attribute) or UNNAMED][s.outcome] += s.count
    rows = [outcome_counts(key, counts) for key, counts in table.items()]
    return tuple(sorted(rows, key=lambda r: (-r.total, r.key)))


def total(shapes: Iterable[Shape]) -> OutcomeCounts:
    """Every access of the month by outcome."""
    counts: Counter[str] = Counter()
    for s in shapes:
        if s.access:
            counts[s.outcome] += s.count
    return outcome_counts("total", counts)


def china_day(hour: str) -> date:
    """The Beijing-time date of a UTC hour `YYYY-MM-DDTHH`."""
    moment = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return moment.astimezone(CHINA_TZ).date()


def daily(shapes: Iterable[Shape], days: list[date]) -> tuple[OutcomeCounts, ...]:
    """Accesses per day of the month (Beijing time) by outcome, every day listed."""
    table: defaultdict[date, Counter[str]] = defaultdict(Counter)
    for s in shapes:
        if s.access:
            table[china_day(s.hour)][s.outcome] += s.count
    return tuple(outcome_counts(d.isoformat(), table[d]) for d in days)


def denials(shapes: Iterable[Shape], policy: Iterable[DetailCount]) -> Denials:
    """Refused accesses by reason code, policy refusals by each reason given, and
    refusals outside data access by kind, reason and caller."""
    reasons: Counter[str] = Counter()
    outside: Counter[tuple[str, str, str]] = Counter()
    for s in shapes:
        if s.outcome != "denied":
            continue
        if s.access:
            reasons[s.reason or UNNAMED] += s.count
        else:
            outside[(s.kind, s.reason or UNNAMED, s.caller or UNNAMED)] += s.count
    given: Counter[str] = Counter()
    for d in policy:
        for reason in set(d.values):
            given[reason] += d.count
    refusals = sorted(outside.items(), key=lambda i: (-i[1], i[0]))
    return Denials(
        _ranked(reasons),
        _ranked(given),
        tuple(Refusal(*key, count) for key, count in refusals),
    )


def revisions(shapes: Iterable[Shape]) -> tuple[Revision, ...]:
    """Bundle revisions that decided events this month, in the order they came into force."""
    seen: dict[str, tuple[str, str, int]] = {}
    for s in shapes:
        if s.revision is None:
            continue
        first, last, count = seen.get(s.revision, (s.first, s.last, 0))
        seen[s.revision] = (min(first, s.first), max(last, s.last), count + s.count)
    rows = [Revision(r, first, last, n) for r, (first, last, n) in seen.items()]
    return tuple(sorted(rows, key=lambda r: (r.first_seen, r.revision)))


def kinds(shapes: Iterable[Shape]) -> tuple[KindCount, ...]:
    """Every event of the month by kind, and by outcome within each kind."""
    table: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for s in shapes:
        table[s.kind][s.outcome] += s.count
    rows = [
        KindCount(kind, by.total(), *(by[o] for o in _OUTCOMES))
        for kind, by in table.items()
    ]
    return tuple(sorted(rows, key=lambda r: (-r.count, r.key)))


def _ranked(counts: Counter[str]) -> tuple[Counted, ...]:
    return tuple(
        Counted(k, n) for k, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
    )
