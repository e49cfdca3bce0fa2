"""The officer's filters: names, values, time ranges and page sizes, checked before any SQL."""

import pytest

from audit.filters import (
    LISTING,
    MAX_PAGE,
    bounded,
    event_filter,
    page_limit,
    single_values,
)
from audit.query import EventFilter
from governance.errors import (
    InvalidFilter,
    InvalidTimeRange,
    TimeRangeTooWide,
    UnknownFilter,
)


def ref(subject_id: str) -> str:
    """A stand-in subject referencer."""
    return f"s_{subject_id.lower()}"


class TestParameterNames:
    """Which query parameters an operation takes."""

    def test_when_a_parameter_is_unknown_then_unknown_filter_without_echoing_it(self):
        """A typo such as `subjectid` is refused, not ignored, and not repeated back."""
        with pytest.raises(UnknownFilter) as caught:
            single_values([("caller", "brand-app"), ("subjectid", "C1")], LISTING)

        assert "subjectid" not in caught.value.detail
        assert "subject_id" in caught.value.detail

    def test_when_a_parameter_is_given_twice_then_unknown_filter(self):
        """`caller=a&caller=b` is refused rather than silently keeping one."""
        with pytest.raises(UnknownFilter, match="more than once"):
            single_values([("caller", "a-app"), ("caller", "b-app")], LISTING)

    def test_known_parameters_are_returned_by_name(self):
        """Each allowed parameter given once comes back as given."""
        given = [("caller", "brand-app"), ("limit", "5")]

        assert single_values(given, LISTING) == {"caller": "brand-app", "limit": "5"}


MALFORMED = {
    "caller-sql": {"caller": "' OR 1=1 --"},
    "caller-upper": {"caller": "Brand-App"},
    "caller-blank": {"caller": ""},
    "purpose-space": {"purpose": "marketing push"},
    "dataset-wildcard": {"dataset": "%"},
    "outcome-unknown": {"outcome": "maybe"},
    "reason-dash": {"reason": "consent-missing"},
    "kind-double-dot": {"kind": "access..read"},
    "kind-too-long": {"kind": "access." + "x" * 40},
    "since-words": {"since": "yesterday"},
    "until-month-13": {"until": "2026-13-01"},
    "subject-blank": {"subject_id": ""},
    "subject-129": {"subject_id": "C" * 129},
}


class TestValues:
    """Each filter's value is checked against its rule."""

    @pytest.mark.parametrize("values", list(MALFORMED.values()), ids=list(MALFORMED))
    def test_when_a_value_is_malformed_then_invalid_filter(self, values):
        """A malformed or blank value is refused with `invalid_filter`."""
        with pytest.raises(InvalidFilter):
            event_filter(values, ref)

    def test_well_formed_values_become_the_filter(self):
        """Names pass through, instants become UTC, the subject becomes its reference."""
        values = {
            "subject_id": "C000004",
            "caller": "campaign-sms",
            "purpose": "marketing_push",
            "dataset": "customers",
            "outcome": "denied",
            "reason": "consent_missing",
            "kind": "access.read",
            "since": "2026-03-01T08:00:00+08:00",
            "until": "2026-03-02",
        }

        assert event_filter(values, ref) == EventFilter(
            subject_ref="s_c000004",
            caller="campaign-sms",
            purpose="marketing_push",
            dataset="customers",
            outcome="denied",
            reason="consent_missing",
            kind="access.read",
            since="2026-03-01T00:00:00.000000Z",
            until="2026-03-02T00:00:00.000000Z",
        )

    def test_a_subject_id_of_odd_text_is_taken_literally(self):
        """Subject ids are arbitrary text: quotes and wildcards are matched through the hash."""
        chosen = event_filter({"subject_id": "C1' OR '1'='1 %_"}, ref)

        assert chosen.subject_ref == "s_c1' or '1'='1 %_"


class TestTimeRanges:
    """`since` before `until`; exports and breach queries need a closed, bounded range."""

    @pytest.mark.parametrize(
        ("since", "until"),
        [("2026-03-02", "2026-03-01"), ("2026-03-01", "2026-03-01")],
        ids=["reversed", "empty"],
    )
    def test_when_since_is_not_before_until_then_invalid_time_range(self, since, until):
        """A reversed or empty range is refused, not answered with nothing."""
        with pytest.raises(InvalidTimeRange):
            event_filter({"since": since, "until": until}, ref)

    def test_when_an_offset_makes_the_range_reversed_then_it_is_refused(self):
        """Ranges compare as instants: 09:00+08:00 is before 02:00Z."""
        with pytest.raises(InvalidTimeRange):
            event_filter(
                {"since": "2026-03-01T02:00:00Z", "until": "2026-03-01T09:00+08:00"},
                ref,
            )

    @pytest.mark.parametrize(
        "given", [{"since": "2026-03-01"}, {}], ids=["open", "none"]
    )
    def test_when_a_bound_is_missing_then_bounded_refuses(self, given):
        """An export or breach query needs both bounds."""
        with pytest.raises(InvalidTimeRange, match="both"):
            bounded(event_filter(given, ref))

    def test_when_the_range_spans_more_than_366_days_then_too_wide(self):
        """0001 to 9999 is refused with `time_range_too_wide`."""
        with pytest.raises(TimeRangeTooWide):
            bounded(event_filter({"since": "0001-01-01", "until": "9999-12-31"}, ref))

    def test_a_leap_year_of_366_days_is_allowed(self):
        """All of 2028, a leap year, is one export."""
        chosen = event_filter({"since": "2028-01-01", "until": "2029-01-01"}, ref)

        assert bounded(chosen) == (
            "2028-01-01T00:00:00.000000Z",
            "2029-01-01T00:00:00.000000Z",
        )

    def test_a_listing_takes_any_range(self):
        """Listings page in bounded steps, so a wide range is fine there."""
        chosen = event_filter({"since": "0001-01-01", "until": "9999-12-31"}, ref)

        assert chosen.since == "0001-01-01T00:00:00.000000Z"


class TestPageLimit:
    """How many events a page holds."""

    @pytest.mark.parametrize(
        "value", ["0", "1001", "-1", "ten", "１０", "9" * 5000, ""], ids=repr
    )
    def test_when_the_limit_is_not_1_to_1000_then_invalid_filter(self, value):
        """Zero, too many, words, full-width digits, huge numbers: all refused."""
        with pytest.raises(InvalidFilter):
            page_limit(value)

    def test_absent_means_100_and_1000_is_the_most(self):
        """The default and the maximum page sizes."""
        assert (page_limit(None), page_limit(str(MAX_PAGE))) == (100, 1000)
