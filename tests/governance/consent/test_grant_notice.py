"""Which notice a new consent may cite: one whose consents hold today (C-05)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from governance.catalog import load_catalog
from governance.consent.grant import GrantRequest, validate_grant
from governance.errors import InvalidRequest

DEMO_CATALOG = Path(__file__).parents[3] / "governance" / "demo" / "catalog.yaml"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def catalog(tmp_path):
    """The demo catalog with marketing_push's 2025.06 notice (fewer categories)
    still published, not retired."""
    spec = yaml.safe_load(DEMO_CATALOG.read_text(encoding="utf-8"))
    for notice in spec["notices"]["marketing_push"]:
        notice.pop("retired", None)
        notice.setdefault("frequency", "4/month")  # a live messaging notice states it
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return load_catalog(path)


def request(version: str) -> GrantRequest:
    return GrantRequest(
        "C000001",
        "marketing_push",
        version,
        "click",
        "app",
        declared_frequency="4/month",
    )


def test_a_notice_the_current_one_changed_in_substance_is_refused(catalog):
    """A grant citing it would be stale the moment it is stored: refused, not
    answered with a receipt for a consent no read accepts."""
    with pytest.raises(InvalidRequest, match="changed in substance"):
        validate_grant(catalog, request("2025.06"), recorded_by="t", now=NOW)


def test_the_current_notice_is_accepted(catalog):
    change = validate_grant(catalog, request("2026.01"), recorded_by="t", now=NOW)

    assert change.notice_version == "2026.01"
