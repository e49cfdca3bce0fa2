r"""What an officer asks of the trail, checked before any SQL runs.

The API and the CLI pass what they were given through these functions, so both
refuse the same input with the same problem (RFC 9457, status 422):

```
unknown_filter      a parameter the operation does not take, or one given twice
invalid_filter      a malformed value (the table below), an empty one included
invalid_time_range  `since` not before `until`; an export or breach query
                    without both bounds
time_range_too_wide an export or breach query over more than 366 days
invalid_cursor      (audit.query) a malformed cursor, or one issued for other filters
```

Values:

```
subject_id        any text of 1-128 characters; matched through its keyed
                  reference (governance.services.subject_referencer), never stored
caller            a caller name            ^[a-z][a-z0-9_-]{1,62}$
purpose, dataset  a catalog name           ^[a-z][a-z0-9_.-]{0,62}$
outcome           allowed, denied or error
reason            a reason code            ^[a-z][a-z0-9_]{0,63}$
kind              an event kind            access.read, audit.export, ... (at most 32)
since, until      ISO 8601 date or time, UTC when no offset; since inclusive,
                  until exclusive
limit             1 to 1000 (listing only)
```

Unknown parameters are refused because FastAPI would ignore them: a typo
(`?subjectid=C1`) would list or export the whole trail while the officer
believes it holds one subject's events. A blank value is refused for the same
reason.

The width rule: a listing takes any range (open or closed), because each page
is a bounded keyset step whatever the range. An export or a breach query does
work in proportion to its range in one request, so it needs both bounds and at
most 366 days: a year of a busy proxy is already tens of millions of events;
longer periods are exported year by year, each file with its own signed
manifest, and a breach is investigated over the incident's window.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from audit.query import EventFilter, parse_instant
from governance.errors import (
    InvalidFilter,
    InvalidTimeRange,
    TimeRangeTooWide,
    UnknownFilter,
)

MAX_SUBJECT_ID = 128
MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_SPAN = timedelta(days=366)
OUTCOMES = ("allowed", "denied", "error")
_PATTERNS = {
    "caller": re.compile(r"[a-z][a-z0-9_-]{1,62}"),
    "purpose": re.compile(r"[a-z][a-z0-9_.-]{0,62}"),
    "dataset": re.compile(r"[a-z][a-z0-9_.-]{0,62}"),
    "reason": re.compile(r"[a-z][a-z0-9_]{0,63}"),
    "kind": re.compile(r"(?=.{1,32}\Z)[a-z][a-z_]*(\.[a-z][a-z_]*)*"),
}
FILTERS = frozenset({"subject_id", *_PATTERNS, "outcome", "since", "until"})
LISTING = FILTERS | {"limit", "cursor"}


def single_values(
    given: Iterable[tuple[str, str]], allowed: frozenset[str]
) -> dict[str, str]:
    """The parameters given, by name, if each is one `allowed` and given once.

    Raises:
        UnknownFilter: a name is not allowed, or given more than once. The name
            is not echoed (it is client input); the allowed names are.
    """
    values: dict[str, str] = {}
    for name, value in given:
        if name not in allowed:
            raise UnknownFilter(
                f"unknown parameter; this operation takes {', '.join(sorted(allowed))}"
            )
        if name in values:
            raise UnknownFilter(f"{name} is given more than once")
        values[name] = value
    return values


def event_filter(
    values: Mapping[str, str], subject_ref: Callable[[str], str]
) -> EventFilter:
    """The filter the checked `values` ask for; names outside FILTERS are ignored.

    Raises:
        InvalidFilter: a value is malformed.
        InvalidTimeRange: `since` is not before `until`.
    """
    for name, pattern in _PATTERNS.items():
        value = values.get(name)
        if value is not None and not pattern.fullmatch(value):
            raise InvalidFilter(f"{name} must match {pattern.pattern}")
    outcome = values.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidFilter(f"outcome must be one of {', '.join(OUTCOMES)}")
    subject = values.get("subject_id")
    if subject is not None and not 1 <= len(subject) <= MAX_SUBJECT_ID:
        raise InvalidFilter(f"subject_id must be 1 to {MAX_SUBJECT_ID} characters")
    since, until = _instant(values, "since"), _instant(values, "until")
    if since is not None and until is not None and since >= until:
        raise InvalidTimeRange("since must be before until")
    return EventFilter(
        subject_ref=subject_ref(subject) if subject is not None else None,
        caller=values.get("caller"),
        purpose=values.get("purpose"),
        dataset=values.get("dataset"),
        outcome=outcome,
        reason=values.get("reason"),
        kind=values.get("kind"),
        since=since,
        until=until,
    )


def bounded(f: EventFilter) -> tuple[str, str]:
    """The closed range of `f`, if it is at most MAX_SPAN wide (exports, breach queries).

    Raises:
        InvalidTimeRange: `since` or `until` is missing.
        TimeRangeTooWide: the range is wider than MAX_SPAN.
    """
    if f.since is None or f.until is None:
        raise InvalidTimeRange("both since and until are required")
    span = datetime.fromisoformat(f.until) - datetime.fromisoformat(f.since)
    if span > MAX_SPAN:
        raise TimeRangeTooWide(
            f"the range may span at most {MAX_SPAN.days} days: split it"
        )
    return f.since, f.until


def page_limit(value: str | None) -> int:
    """The page size asked for: DEFAULT_PAGE when absent.

    Raises:
        InvalidFilter: not a whole number from 1 to MAX_PAGE.
    """
    if value is None:
        return DEFAULT_PAGE
    digits = value.isascii() and value.isdigit() and len(value) <= len(str(MAX_PAGE))
    if not digits or not 1 <= int(value) <= MAX_PAGE:
        raise InvalidFilter(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(value)


def _instant(values: Mapping[str, str], name: str) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    instant = parse_instant(value)
    if instant is None:
        raise InvalidFilter(f"{name} must be an ISO 8601 date or time")
    return instant
