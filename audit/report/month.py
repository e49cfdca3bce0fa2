"""The month a self-check report covers, counted in China Standard Time.

`parse_month("2026-11", now=...)` checks the text and returns a `ReportMonth`:
the first instant of the month and of the next one in Beijing time (UTC+8,
where the officer and the subjects are), also as the trail's fixed-width UTC
strings, so every figure is a range scan on `audit_events.ts`. A month that has
not begun yet is refused like a malformed one (`invalid_month`, 422); the
current month is allowed and covers the trail up to now.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from governance.errors import InvalidRequest
from governance.subjects import CHINA_TZ

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_FIRST_YEAR = 2000
BASELINE_DAYS = 28
"""How many days before the month make a caller's usual volume (four weeks)."""


class InvalidMonth(InvalidRequest):
    """The month is not `YYYY-MM`, does not exist, or has not begun."""

    code = "invalid_month"
    title = "Invalid report month"


def trail_instant(moment: datetime) -> str:
    """`moment` as the fixed-width UTC text the trail stores and sorts by."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ReportMonth:
    """One calendar month in China Standard Time, and when the report was asked for."""

    year: int
    month: int
    now: datetime

    @property
    def label(self) -> str:
        """`YYYY-MM`."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        """Midnight of the 1st, Beijing time."""
        return datetime(self.year, self.month, 1, tzinfo=CHINA_TZ)

    @property
    def end(self) -> datetime:
        """Midnight of the 1st of the next month, Beijing time (exclusive)."""
        year, month = divmod(self.year * 12 + self.month, 12)
        return datetime(year, month + 1, 1, tzinfo=CHINA_TZ)

    @property
    def baseline_start(self) -> datetime:
        """The first instant of the four weeks a caller's usual volume is taken from."""
        return self.start - timedelta(days=BASELINE_DAYS)

    @property
    def complete(self) -> bool:
        """Whether the month is over (else the report covers it up to now)."""
        return self.now >= self.end

    def days(self) -> list[date]:
        """The month's days, Beijing time."""
        first = self.start.date()
        return [first + timedelta(days=n) for n in range((self.end - self.start).days)]

    def finished_days(self) -> list[date]:
        """The month's days that are over: a day still running is not judged yet."""
        today = self.now.astimezone(CHINA_TZ).date()
        return [d for d in self.days() if d < today]


def parse_month(text: str, *, now: datetime) -> ReportMonth:
    """The month `text` (`YYYY-MM`) names, if it exists and has begun by `now`."""
    found = _MONTH.fullmatch(text.strip())
    if found is None:
        raise InvalidMonth("month must be given as YYYY-MM, e.g. 2026-11")
    year, month = int(found[1]), int(found[2])
    if not 1 <= month <= 12 or year < _FIRST_YEAR:
        raise InvalidMonth(f"month must be a calendar month from {_FIRST_YEAR} on")
    chosen = ReportMonth(year, month, now.astimezone(UTC))
    if chosen.start > now:
        raise InvalidMonth("the month has not begun yet")
    return chosen
