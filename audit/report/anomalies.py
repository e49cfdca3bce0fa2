"""Callers whose daily access volume departs from their own usual pattern.

The rule, per caller (days in Beijing time, accesses = `access.*` events):

1. **New caller**: no access at all before the month. Listed, not scored: it
   has no usual pattern yet, and a new tool reading personal data is itself
   something an officer checks.
2. **Baseline**: the caller's daily counts over the 28 days (four weeks)
   before the month, silent days counting as 0, from the caller's first
   access if that came later. With fewer than 7 such days the baseline is too
   short (`short`): listed, not scored.
3. **Robust spread**: the baseline median *m* and median absolute deviation
   *MAD*; the spread is s = max(1.4826 x MAD, 10% of m, 1). 1.4826 x MAD
   estimates a standard deviation without letting a few odd days inflate it;
   the floors keep a caller with a perfectly steady volume (MAD 0) from being
   flagged for a handful of events.
4. **Flag** a finished day of the month (today is not judged until it is over)
   when |count - m| / s > 3.5 (the modified z-score cut-off of Iglewicz and
   Hoaglin) and |count - m| >= 20 events: a `spike` above the baseline or a
   `drop` below it.
"""

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from audit.report.figures import Anomalies, CallerBaseline, VolumeFlag
from audit.report.month import BASELINE_DAYS, ReportMonth

THRESHOLD = 3.5
MIN_DEVIATION = 20
MIN_BASELINE_DAYS = 7
MAD_TO_SD = 1.4826
RELATIVE_FLOOR = 0.10
RULE = (
    f"baseline: daily accesses over the {BASELINE_DAYS} days before the month"
    f" (>= {MIN_BASELINE_DAYS} days, else 'short'); spread s = max({MAD_TO_SD} x MAD,"
    f" {RELATIVE_FLOOR:.0%} of median, 1); flag a finished day when"
    f" |count - median| / s > {THRESHOLD} and |count - median| >= {MIN_DEVIATION};"
    " callers with no access before the month are 'new'"
)


@dataclass(frozen=True)
class CallerDays:
    """A caller's accesses per day, and the day of its first access ever (if before the month)."""

    caller: str
    per_day: Mapping[date, int]
    first_day: date | None


def detect(callers: list[CallerDays], month: ReportMonth) -> Anomalies:
    """Score every caller against its baseline; flag the days that depart from it."""
    rows, flags = [], []
    for c in sorted(callers, key=lambda c: c.caller):
        row, found = _score(c, month)
        rows.append(row)
        flags += found
    flags.sort(key=lambda f: (-abs(f.score), f.day, f.caller))
    return Anomalies(RULE, tuple(flags), tuple(rows))


def _score(
    c: CallerDays, month: ReportMonth
) -> tuple[CallerBaseline, list[VolumeFlag]]:
    daily = tuple(c.per_day.get(d, 0) for d in month.days())
    baseline = _baseline(c, month.start.date()) if c.first_day is not None else []
    status = "new" if c.first_day is None else "short"
    if len(baseline) < MIN_BASELINE_DAYS:
        return CallerBaseline(
            c.caller, len(baseline), 0.0, 0.0, sum(daily), daily, status
        ), []
    median = float(statistics.median(baseline))
    mad = float(statistics.median(abs(x - median) for x in baseline))
    spread = max(MAD_TO_SD * mad, RELATIVE_FLOOR * median, 1.0)
    flags = []
    for day in month.finished_days():
        count = c.per_day.get(day, 0)
        deviation = count - median
        score = deviation / spread
        if abs(score) > THRESHOLD and abs(deviation) >= MIN_DEVIATION:
            direction = "spike" if deviation > 0 else "drop"
            flags.append(
                VolumeFlag(
                    c.caller, day.isoformat(), count, median, round(score, 1), direction
                )
            )
    row = CallerBaseline(
        c.caller, len(baseline), median, mad, sum(daily), daily, "scored"
    )
    return row, flags


def _baseline(c: CallerDays, month_start: date) -> list[int]:
    """Daily counts of the baseline days on which the caller already existed."""
    first = month_start - timedelta(days=BASELINE_DAYS)
    if c.first_day is not None and c.first_day > first:
        first = c.first_day
    days = (month_start - first).days
    return [c.per_day.get(first + timedelta(days=n), 0) for n in range(max(days, 0))]
