"""Report months: `YYYY-MM` in Beijing time, refused when malformed, impossible or not begun."""

from datetime import UTC, datetime

import pytest

from audit.report.month import InvalidMonth, parse_month, trail_instant

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # 23:00 on 12-04 in Beijing


def test_a_month_spans_its_days_in_beijing_time():
    """March 2026 starts at 16:00 UTC on 02-28 and ends at 16:00 UTC on 03-31."""
    month = parse_month("2026-03", now=NOW)

    assert (trail_instant(month.start), trail_instant(month.end)) == (
        "2026-02-28T16:00:00.000000Z",
        "2026-03-31T16:00:00.000000Z",
    )
    assert trail_instant(month.baseline_start) == "2026-01-31T16:00:00.000000Z"
    assert (len(month.days()), month.complete, month.label) == (31, True, "2026-03")


def test_december_ends_at_the_next_new_year():
    """The month after December is January of the next year."""
    month = parse_month("2025-12", now=NOW)

    assert trail_instant(month.end) == "2025-12-31T16:00:00.000000Z"


def test_the_current_month_is_allowed_and_judged_only_up_to_yesterday():
    """In the month still running, only the days already over are finished."""
    month = parse_month("2026-12", now=NOW)

    assert month.complete is False
    assert [d.isoformat() for d in month.finished_days()] == [
        "2026-12-01",
        "2026-12-02",
        "2026-12-03",
    ]


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-00", "abc", "2026-3", "2026/03", "", "２０２６-０３", "1999-12", "2027-01"],
    ids=[
        "month-13", "month-0", "letters", "one-digit", "slash", "empty",
        "fullwidth-digits", "before-2000", "future",
    ],
)  # fmt: skip
def test_when_the_month_is_bad_then_invalid_month(text):
    """Malformed, impossible and not-yet-begun months are refused with `invalid_month` (422)."""
    with pytest.raises(InvalidMonth) as caught:
        parse_month(text, now=NOW)

    assert (caught.value.code, caught.value.status) == ("invalid_month", 422)
    assert not text or text not in caught.value.detail
