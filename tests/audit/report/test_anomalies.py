"""The volume rule: each caller against its own four-week baseline (median and MAD)."""

from datetime import UTC, date, datetime, timedelta

from audit.report.anomalies import CallerDays, detect
from audit.report.month import parse_month

MARCH = parse_month("2026-03", now=datetime(2026, 4, 5, tzinfo=UTC))
FEB_1 = date(2026, 2, 1)


def days(start: date, counts: list[int]) -> dict[date, int]:
    """Daily counts from `start` on."""
    return {start + timedelta(days=n): c for n, c in enumerate(counts)}


def caller(
    name: str, baseline: list[int], march: list[int], first: date | None = FEB_1
) -> CallerDays:
    """A caller with the given February (from 02-01) and March (from 03-01) days."""
    per_day = days(FEB_1, baseline) | days(date(2026, 3, 1), march)
    return CallerDays(name, per_day, first)


def test_a_spike_and_a_drop_are_flagged_against_a_noisy_baseline():
    """Days far from a varied baseline are flagged; ordinary days are not."""
    baseline = [100, 110, 90, 105, 95, 102, 98] * 4
    march = [100] * 31
    march[9], march[19] = 400, 20
    found = detect([caller("sms", baseline, march)], MARCH)

    assert [(f.day, f.count, f.direction) for f in found.flags] == [
        ("2026-03-10", 400, "spike"),
        ("2026-03-20", 20, "drop"),
    ]
    assert found.callers[0].median == 100.0
    assert found.callers[0].mad == 5.0


def test_a_steady_caller_is_not_flagged_for_small_moves():
    """MAD 0: the spread floor (10% of the median) keeps a 30% move unflagged."""
    found = detect([caller("app", [1000] * 28, [1300] * 31)], MARCH)

    assert found.flags == ()
    assert found.callers[0].status == "scored"


def test_small_callers_need_a_real_number_of_events_to_be_flagged():
    """A move of fewer than 20 events is never flagged, however large relatively."""
    found = detect([caller("refund", [1] * 28, [15] * 31)], MARCH)

    assert found.flags == ()


def test_a_caller_new_this_month_is_listed_not_scored():
    """No access before the month: status `new`, in `new_callers`, no flags."""
    found = detect(
        [caller("new-tool", [], [0] * 5 + [500] + [0] * 25, first=None)], MARCH
    )

    assert (found.callers[0].status, found.callers[0].baseline_days) == ("new", 0)
    assert found.new_callers == ("new-tool",)
    assert found.flags == ()


def test_a_baseline_shorter_than_a_week_is_not_scored():
    """A caller that began five days before the month has too short a baseline."""
    late = date(2026, 2, 24)
    found = detect([caller("late", [0] * 23 + [50] * 5, [500] * 31, first=late)], MARCH)

    assert (found.callers[0].status, found.callers[0].baseline_days) == ("short", 5)
    assert found.flags == ()


def test_the_baseline_starts_at_the_callers_first_access():
    """Days before the caller existed are not silent days of its baseline."""
    first = date(2026, 2, 15)
    march = [50] * 31
    found = detect([caller("mid", [0] * 14 + [50] * 14, march, first=first)], MARCH)

    assert (found.callers[0].baseline_days, found.callers[0].median) == (14, 50.0)
    assert found.flags == ()


def test_today_is_not_judged_until_it_is_over():
    """In the running month, a quiet morning is not a drop."""
    running = parse_month("2026-03", now=datetime(2026, 3, 10, 2, tzinfo=UTC))
    march = [100] * 9 + [3] + [0] * 21
    found = detect([caller("sms", [100] * 28, march)], running)

    assert found.flags == ()
    assert found.callers[0].daily[:10] == (100,) * 9 + (3,)
