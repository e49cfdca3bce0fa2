"""Tests for the deterministic synthetic demo customer store."""

import os
import random
import re
import sqlite3
from collections import Counter
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from stdnum import luhn
from stdnum.cn import ric

from governance.demo import dataset
from governance.demo.dataset import (
    DEMO_TAGS,
    EMAIL_DOMAINS,
    REFERENCE_DATE,
    Customer,
    generate_customers,
    write_demo_store,
)
from governance.pii import EntityType, redact, scan

SEED = 20260101
COUNT = 2000
SENSITIVE_TAGS = ("孕期", "糖尿病", "负债")
CUSTOMER_COLUMNS = tuple(f.name for f in fields(Customer) if f.name != "tags")
ELEVEN_DIGITS = re.compile(r"(?<!\d)\d{11}(?!\d)")


@pytest.fixture(scope="module")
def customers() -> list[Customer]:
    return generate_customers(seed=SEED, count=COUNT)


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _share(customers: list[Customer], tag: str) -> float:
    return sum(tag in c.tags for c in customers) / len(customers)


def _rows(path: Path, sql: str, *params: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


class TestGenerateCustomers:
    def test_when_seed_and_count_repeat_then_list_is_identical(
        self, customers: list[Customer]
    ) -> None:
        """The same seed and count give exactly the same customers."""
        again = generate_customers(seed=SEED, count=COUNT)

        assert again == customers

    def test_when_seed_differs_then_data_differs(
        self, customers: list[Customer]
    ) -> None:
        """Another seed gives different people under the same customer IDs."""
        other = generate_customers(seed=SEED + 1, count=200)

        assert [c.customer_id for c in other] == [
            c.customer_id for c in customers[:200]
        ]
        assert {c.mobile for c in other}.isdisjoint(c.mobile for c in customers)
        assert [c.name for c in other] != [c.name for c in customers[:200]]

    def test_when_count_is_smaller_then_result_is_a_prefix(
        self, customers: list[Customer]
    ) -> None:
        """A smaller count yields the first customers of a larger one."""
        assert generate_customers(seed=SEED, count=50) == customers[:50]

    def test_global_random_state_does_not_matter(self) -> None:
        """Reseeding the global random module leaves the output unchanged."""
        random.seed(1)
        first = generate_customers(seed=SEED, count=20)
        random.seed(2)

        assert generate_customers(seed=SEED, count=20) == first

    @pytest.mark.parametrize("count", [-1, dataset.MAX_COUNT + 1], ids=["neg", "big"])
    def test_when_count_out_of_range_then_value_error(self, count: int) -> None:
        """Counts the customer ID format cannot number are refused."""
        with pytest.raises(ValueError, match="count"):
            generate_customers(seed=SEED, count=count)

    def test_when_count_is_zero_then_empty(self) -> None:
        """Zero customers is a valid, empty store."""
        assert generate_customers(seed=SEED, count=0) == []

    def test_customer_ids_are_sequential(self, customers: list[Customer]) -> None:
        """IDs run C000001, C000002, ... in order."""
        expected = [f"C{n:06d}" for n in range(1, COUNT + 1)]

        assert [c.customer_id for c in customers] == expected

    def test_customer_is_frozen(self, customers: list[Customer]) -> None:
        """A customer value cannot be changed after creation."""
        with pytest.raises(AttributeError):
            customers[0].name = "x"  # type: ignore[misc]

    def test_ten_thousand_customers_are_generated(self) -> None:
        """A full 10,000-customer demo store is produced with unique identifiers."""
        many = generate_customers(seed=SEED, count=10_000)

        assert len(many) == 10_000
        assert many[-1].customer_id == "C010000"
        for field in ("mobile", "id_number", "email", "bank_card"):
            assert len({getattr(c, field) for c in many}) == 10_000, field


class TestIdentifiers:
    def test_every_id_number_validates_with_stdnum(
        self, customers: list[Customer]
    ) -> None:
        """Every resident ID passes stdnum's checksum, birth date and region checks."""
        invalid = [c.id_number for c in customers if not ric.is_valid(c.id_number)]

        assert invalid == []

    def test_id_number_birth_date_matches_birth_date(
        self, customers: list[Customer]
    ) -> None:
        """The birth date encoded in each ID is the customer's birth date."""
        for c in customers:
            assert ric.get_birth_date(c.id_number) == c.birth_date, c.customer_id

    def test_every_bank_card_is_unionpay_and_luhn_valid(
        self, customers: list[Customer]
    ) -> None:
        """Cards have 16 or 19 digits, start with 62 and pass the Luhn check."""
        for c in customers:
            assert len(c.bank_card) in (16, 19), c.customer_id
            assert c.bank_card.startswith("62"), c.customer_id
            assert luhn.is_valid(c.bank_card), c.customer_id

    def test_mobiles_match_the_mainland_pattern(
        self, customers: list[Customer]
    ) -> None:
        """Every mobile number is 11 digits of the form 1[3-9]XXXXXXXXX."""
        bad = [
            c.mobile for c in customers if not re.fullmatch(r"1[3-9]\d{9}", c.mobile)
        ]

        assert bad == []

    def test_every_mobile_is_found_by_the_phone_recognizer(
        self, customers: list[Customer]
    ) -> None:
        """Each mobile standing alone is found whole as a mobile (allocated prefix)."""
        missed = [
            c.mobile
            for c in customers
            if [(e.type, e.start, e.end) for e in scan(c.mobile)]
            != [(EntityType.CN_MOBILE, 0, 11)]
        ]

        assert missed == []

    def test_emails_use_example_domains_only(self, customers: list[Customer]) -> None:
        """Every email has a non-empty local part on an RFC 2606 example domain."""
        for c in customers:
            local, _, domain = c.email.partition("@")
            assert local, c.customer_id
            assert domain in EMAIL_DOMAINS, c.customer_id

    def test_addresses_start_with_a_province_level_name(
        self, customers: list[Customer]
    ) -> None:
        """Addresses open with a province, municipality or region name."""
        pattern = re.compile(r"^\w+?(省|市|自治区|特别行政区)")

        assert all(pattern.match(c.address) for c in customers)


class TestAges:
    def test_some_customers_are_under_14(self, customers: list[Customer]) -> None:
        """About one customer in twenty is a child under 14 on the reference date."""
        minors = [c for c in customers if _age_on(c.birth_date, REFERENCE_DATE) < 14]

        assert 0.02 <= len(minors) / COUNT <= 0.08

    def test_everyone_else_is_18_to_75(self, customers: list[Customer]) -> None:
        """No customer is 14 to 17 or older than 75 on the reference date."""
        ages = [_age_on(c.birth_date, REFERENCE_DATE) for c in customers]

        assert [a for a in ages if 14 <= a < 18 or a > 75] == []


class TestTags:
    def test_demo_tags_map_tags_to_categories(self) -> None:
        """The tag catalogue holds exactly the twelve demo tags."""
        assert len(DEMO_TAGS) == 12
        assert DEMO_TAGS["孕期"] == "health.fertility"
        assert DEMO_TAGS["糖尿病"] == "health.condition"
        assert DEMO_TAGS["负债"] == "financial.debt"
        assert DEMO_TAGS["高消费"] == "consumption.level"

    def test_demo_tags_are_read_only(self) -> None:
        """The tag catalogue cannot be modified at runtime."""
        with pytest.raises(TypeError):
            DEMO_TAGS["新"] = "x"  # type: ignore[index]

    def test_tags_are_known_distinct_and_at_most_four(
        self, customers: list[Customer]
    ) -> None:
        """Each customer has 0–4 distinct tags, all from DEMO_TAGS."""
        for c in customers:
            assert len(c.tags) <= 4, c.customer_id
            assert len(set(c.tags)) == len(c.tags), c.customer_id
            assert set(c.tags) <= DEMO_TAGS.keys(), c.customer_id

    def test_some_customers_have_no_tags(self, customers: list[Customer]) -> None:
        """Untagged customers exist, as in a real CRM."""
        assert any(not c.tags for c in customers)

    @pytest.mark.parametrize("tag", SENSITIVE_TAGS)
    def test_sensitive_tag_is_rare_but_present(
        self, customers: list[Customer], tag: str
    ) -> None:
        """Each sensitive tag sits on roughly 3–6% of customers."""
        assert 0.03 <= _share(customers, tag) <= 0.06

    @pytest.mark.parametrize("tag", ["高消费", "母婴"])
    def test_headline_tag_is_common(self, customers: list[Customer], tag: str) -> None:
        """高消费 and 母婴 each sit on roughly a quarter of customers."""
        assert 0.20 <= _share(customers, tag) <= 0.30

    def test_at_most_one_lifecycle_stage(self, customers: list[Customer]) -> None:
        """A customer is in at most one lifecycle stage."""
        stages = Counter(
            sum(DEMO_TAGS[t] == "lifecycle.stage" for t in c.tags) for c in customers
        )

        assert set(stages) <= {0, 1}


class TestServiceNotes:
    def test_some_notes_contain_the_customers_own_mobile(
        self, customers: list[Customer]
    ) -> None:
        """A noticeable share of free-text notes leak the customer's mobile number."""
        leaking = [c for c in customers if c.mobile in c.service_note]

        assert len(leaking) / COUNT >= 0.1

    def test_about_one_note_in_five_mentions_mobile_or_name(
        self, customers: list[Customer]
    ) -> None:
        """Roughly 20% of notes carry the customer's own mobile or name inline."""
        leaking = [
            c
            for c in customers
            if c.mobile in c.service_note or c.name in c.service_note
        ]

        assert 0.15 <= len(leaking) / COUNT <= 0.25

    def test_no_redacted_note_shows_the_customers_mobile(
        self, customers: list[Customer]
    ) -> None:
        """Free-text redaction removes the customer's mobile from every note holding it."""
        leaking = [
            c.customer_id
            for c in customers
            if c.mobile in c.service_note and c.mobile in redact(c.service_note).text
        ]

        assert leaking == []

    def test_notes_only_ever_mention_the_own_mobile(
        self, customers: list[Customer]
    ) -> None:
        """Any 11-digit number in a note is that customer's own mobile."""
        for c in customers:
            assert set(ELEVEN_DIGITS.findall(c.service_note)) <= {c.mobile}


class TestWriteDemoStore:
    def test_when_written_then_tables_hold_every_row(self, tmp_path: Path) -> None:
        """The store has one customers row per customer and one row per tag."""
        target = tmp_path / "demo.db"
        expected = generate_customers(seed=SEED, count=300)

        write_demo_store(target, seed=SEED, count=300)

        assert _rows(target, "SELECT count(*) FROM customers") == [(300,)]
        tag_count = sum(len(c.tags) for c in expected)
        assert _rows(target, "SELECT count(*) FROM customer_tags") == [(tag_count,)]

    def test_when_written_then_rows_round_trip(self, tmp_path: Path) -> None:
        """Stored columns equal the generated values, with ISO birth dates."""
        target = tmp_path / "demo.db"
        first = generate_customers(seed=SEED, count=5)[0]

        write_demo_store(target, seed=SEED, count=5)

        row = _rows(target, "SELECT * FROM customers WHERE customer_id = ?", "C000001")
        tags = _rows(
            target, "SELECT tag FROM customer_tags WHERE customer_id = ?", "C000001"
        )

        stored = dict(zip(CUSTOMER_COLUMNS, row[0], strict=True))
        assert stored == {
            **{col: getattr(first, col) for col in CUSTOMER_COLUMNS},
            "birth_date": first.birth_date.isoformat(),
        }
        assert sorted(t for (t,) in tags) == sorted(first.tags)

    def test_when_written_then_tag_index_exists(self, tmp_path: Path) -> None:
        """customer_tags is indexed by (tag, customer_id) for audience queries."""
        target = tmp_path / "demo.db"

        write_demo_store(target, seed=SEED, count=10)

        indexes = _rows(
            target, "SELECT name FROM pragma_index_list(?)", "customer_tags"
        )
        columns = [
            [
                col
                for (col,) in _rows(target, "SELECT name FROM pragma_index_info(?)", n)
            ]
            for (n,) in indexes
        ]

        assert ["tag", "customer_id"] in columns

    def test_when_written_then_no_temp_file_is_left(self, tmp_path: Path) -> None:
        """Only the store itself remains in the directory."""
        write_demo_store(tmp_path / "demo.db", seed=SEED, count=10)

        assert os.listdir(tmp_path) == ["demo.db"]

    def test_when_store_exists_then_it_is_replaced(self, tmp_path: Path) -> None:
        """Writing over an existing store swaps in the complete new one."""
        target = tmp_path / "demo.db"
        write_demo_store(target, seed=SEED, count=50)

        write_demo_store(target, seed=SEED + 1, count=30)

        assert _rows(target, "SELECT count(*) FROM customers") == [(30,)]
        newest = generate_customers(seed=SEED + 1, count=1)[0]
        assert _rows(target, "SELECT name FROM customers LIMIT 1") == [(newest.name,)]
        assert os.listdir(tmp_path) == ["demo.db"]

    def test_when_write_fails_then_old_store_survives_and_temp_is_removed(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A crash before the rename keeps the old store and leaves no temp file."""
        target = tmp_path / "demo.db"
        write_demo_store(target, seed=SEED, count=50)
        before = target.read_bytes()

        def crash(src: object, dst: object) -> None:
            raise OSError("simulated crash")

        monkeypatch.setattr(os, "replace", crash)
        with pytest.raises(OSError, match="simulated crash"):
            write_demo_store(target, seed=SEED + 1, count=30)

        assert target.read_bytes() == before
        assert os.listdir(tmp_path) == ["demo.db"]
