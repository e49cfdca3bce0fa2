"""Generalisation forms: birth year and age band, address levels, location grid, amount bands."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from masking_strategies import addresses, birth_dates

from governance.masking.generalisers import generaliser
from governance.masking.params import GeneraliseParams

TODAY = date(2026, 1, 1)


def form(to: str, **params):
    """The generaliser of one form, on a fixed day."""
    return generaliser(GeneraliseParams(to, **params), lambda: TODAY)


class TestYear:
    @pytest.mark.parametrize(
        "value",
        [
            "1990-03-07",
            "1990/3/7",
            "1990.03.07",
            "19900307",
            "1990年3月7日",
            "１９９０－０３－０７",
            "1990-03-07T08:00:00+08:00",
            date(1990, 3, 7),
            datetime(1990, 3, 7, 8, 0),
        ],
        ids=str,
    )
    def test_when_birth_date_then_year(self, value):
        """Every usual way of writing a birth date becomes its year."""
        assert form("year")(value) == "1990"

    @pytest.mark.parametrize(
        "value",
        ["1990-02-30", "not a date", "", "90-3-7", 19900307, ["1990"], None],
        ids=str,
    )
    def test_when_not_a_date_then_none(self, value):
        """What does not parse as a date shows nothing."""
        assert form("year")(value) is None


class TestAgeBand:
    @pytest.mark.parametrize(
        ("birth", "band"),
        [
            ("2020-06-01", "<14"),
            ("2012-01-02", "<14"),  # 13 on 2026-01-01, a day short of 14
            ("2012-01-01", "14-17"),
            ("2008-01-01", "18-29"),
            ("1996-01-02", "18-29"),
            ("1996-01-01", "30-44"),
            ("1950-01-01", "60+"),
        ],
    )
    def test_when_birth_date_then_band_of_age_today(self, birth, band):
        """Age is counted in whole years on today's date, as minority is."""
        assert form("age_band")(birth) == band

    def test_when_bands_configured_then_labels_follow(self):
        """One-year bands show their single age; the last band is open."""
        bands = form("age_band", bands=(14, 15, 40))

        assert [bands(b) for b in ("2012-01-01", "2000-01-01", "1980-01-01")] == [
            "14",
            "15-39",
            "40+",
        ]

    @pytest.mark.parametrize("value", ["2027-01-01", "1800-01-01", "x"])
    def test_when_future_implausible_or_unreadable_then_none(self, value):
        """A birth date in the future or over 150 years ago shows nothing."""
        assert form("age_band")(value) is None


class TestAddressLevels:
    ADDRESS = "浙江省杭州市西湖区文三路100号"

    @pytest.mark.parametrize(
        ("to", "expected"),
        [
            ("province", "浙江省"),
            ("city", "浙江省杭州市"),
            ("district", "浙江省杭州市西湖区"),
        ],
    )
    def test_when_full_address_then_level_kept(self, to, expected):
        """Each level keeps the address down to that level and drops the rest."""
        assert form(to)(self.ADDRESS) == expected

    @pytest.mark.parametrize(
        ("value", "to", "expected"),
        [
            ("北京市朝阳区建国路1号", "city", "北京市"),
            ("北京市朝阳区建国路1号", "district", "北京市朝阳区"),
            ("中国 浙江省 杭州市 西湖区", "district", "浙江省杭州市西湖区"),
            ("浙江省杭州市文三路100号", "district", "浙江省杭州市"),
            ("浙江省文三路100号", "city", "浙江省"),
        ],
        ids=[
            "municipality",
            "municipality-district",
            "spaces",
            "no-district",
            "no-city",
        ],
    )
    def test_when_level_missing_then_the_one_above(self, value, to, expected):
        """A level that cannot be found falls back to the coarser one above it."""
        assert form(to)(value) == expected

    @pytest.mark.parametrize("value", ["文三路100号", "1600 Example Avenue", ""])
    def test_when_no_province_then_none(self, value):
        """Without a province nothing is shown."""
        assert form("district")(value) is None


class TestGrid:
    @pytest.mark.parametrize(
        ("value", "decimals", "expected"),
        [
            ("30.274150,120.155150", 1, "30.3,120.2"),
            ("(30.27415, 120.15515)", 2, "30.27,120.16"),
            ([30.27415, 120.15515], 0, "30,120"),
            ("-33.86785,151.20732", 1, "-33.9,151.2"),
        ],
    )
    def test_when_coordinates_then_rounded(self, value, decimals, expected):
        """Coordinates are rounded to the configured number of decimals."""
        assert form("grid", decimals=decimals)(value) == expected

    @pytest.mark.parametrize("value", ["91,0", "0,181", "30.2", "北京", [1, "x"], 7])
    def test_when_not_coordinates_then_none(self, value):
        """Out-of-range or unreadable coordinates show nothing."""
        assert form("grid")(value) is None


class TestAmountBand:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (0, "<100"),
            (99.99, "<100"),
            (100, "100-500"),
            ("499", "100-500"),
            (Decimal("500"), "500-1000.5"),
            ("1,000.50", "1000.5+"),
            (-20, "<100"),
        ],
        ids=str,
    )
    def test_when_amount_then_band(self, value, expected):
        """Bands include their lower edge and exclude their upper one."""
        assert form("band", bands=(100, 500, 1000.5))(value) == expected

    @pytest.mark.parametrize("value", ["lots", "nan", "inf", True, None, [1]], ids=str)
    def test_when_not_an_amount_then_none(self, value):
        """What is not a finite number shows nothing."""
        assert form("band", bands=(100,))(value) is None


class TestIdempotence:
    """A value already generalised comes back unchanged."""

    @given(birth_dates, st.sampled_from(["year", "age_band"]))
    def test_birth_dates(self, value, to):
        """Years and age bands are their own generalisation."""
        once = form(to)(value)

        assert form(to)(once) == once

    @given(addresses, st.sampled_from(["province", "city", "district"]))
    def test_addresses(self, value, to):
        """An address cut to a level stays cut there."""
        once = form(to)(value)

        assert form(to)(once) == once

    @given(
        st.floats(-90, 90),
        st.floats(-180, 180),
        st.integers(0, 2),
    )
    def test_grid(self, lat, lon, decimals):
        """A rounded point rounds to itself."""
        once = form("grid", decimals=decimals)(f"{lat:.6f},{lon:.6f}")

        assert form("grid", decimals=decimals)(once) == once

    @given(st.floats(allow_nan=False, allow_infinity=False))
    def test_amounts(self, amount):
        """A band label is its own band."""
        once = form("band", bands=(0, 10.5, 1000))(amount)

        assert form("band", bands=(0, 10.5, 1000))(once) == once
