"""A messaging consent declares no more messages than its notice promised (MSG-02)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from governance.catalog import load_catalog
from governance.consent.grant import GrantRequest, validate_grant
from governance.errors import ConfigurationError, InvalidRequest

DEMO_CATALOG = Path(__file__).parents[3] / "governance" / "demo" / "catalog.yaml"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog():
    """The demo catalog: marketing_push's notice promises at most 4 a month."""
    return load_catalog(DEMO_CATALOG)


def grant(catalog, frequency):
    request = GrantRequest(
        "C000001", "marketing_push", "2026.01", "click", "app",
        declared_frequency=frequency,
    )  # fmt: skip
    return validate_grant(catalog, request, recorded_by="t", now=NOW)


@pytest.mark.parametrize("frequency", ["5/month", "1/day", "1/week", "999/day"])
def test_a_consent_to_more_messages_than_the_notice_promised_is_refused(
    catalog, frequency
):
    """The subject agreed to what the notice told them ("每月不超过 4 次"); a
    receipt saying 999/day used to be signed for it."""
    with pytest.raises(InvalidRequest, match=r"more often than notice 2026.01"):
        grant(catalog, frequency)


@pytest.mark.parametrize("frequency", ["4/month", "1/month", "3/month"])
def test_a_consent_within_the_notices_promise_is_recorded(catalog, frequency):
    assert grant(catalog, frequency).declared_frequency == frequency


def write(tmp_path, change):
    spec = yaml.safe_load(DEMO_CATALOG.read_text(encoding="utf-8"))
    change(spec)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def test_a_messaging_notice_without_a_frequency_is_refused(tmp_path):
    path = write(tmp_path, lambda s: s["notices"]["marketing_push"][1].pop("frequency"))

    with pytest.raises(ConfigurationError, match=r"frequency: a messaging purpose"):
        load_catalog(path)


def test_a_frequency_on_a_purpose_that_sends_nothing_is_refused(tmp_path):
    path = write(
        tmp_path, lambda s: s["notices"]["analytics"][0].update(frequency="1/day")
    )

    with pytest.raises(ConfigurationError, match=r"only a messaging purpose"):
        load_catalog(path)
