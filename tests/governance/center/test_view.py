"""Cards of the consent center, derived from ledger events as the access path derives them."""

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from governance.catalog import load_catalog
from governance.center.view import build_cards
from governance.consent.models import ConsentEvent

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """The demo catalog."""
    path = Path(tmp_path_factory.mktemp("catalog")) / "catalog.yaml"
    text = (
        resources.files("governance.demo").joinpath("catalog.yaml").read_text("utf-8")
    )
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


def event(action, at, **kw):
    """A marketing_push ledger event recorded at `at`."""
    scope = ["contact.phone", "identity.customer_id", "profile.nickname"]
    return ConsentEvent(
        id=None, event_id=f"e-{action}-{at.timestamp()}", subject_id="C1",
        purpose="marketing_push", action=action, notice_version=kw.pop("version", "2026.01"),
        method="click", channel="app", scope=json.dumps(scope), recorded_at=at,
        recorded_by="brand-app", **kw,
    )  # fmt: skip


def marketing(catalog, events):
    """The marketing_push card."""
    cards = {c.purpose: c for c in build_cards(catalog, events, NOW)}
    return cards["marketing_push"]


def test_when_nothing_recorded_then_every_consent_purpose_is_none(catalog):
    """Six consent purposes, none agreed, each explained by its current notice."""
    cards = build_cards(catalog, [], NOW)

    assert [(c.purpose, c.state) for c in cards] == [
        ("marketing_push", "none"),
        ("personalised_recommendation", "none"),
        ("maternal_care_recommendation", "none"),
        ("coupon_targeting", "none"),
        ("partner_sharing", "none"),
        ("analytics", "none"),
    ]
    assert all(c.agreed_at is None and not c.withdrawable for c in cards)


def test_when_grant_passed_its_expiry_then_expired_at_that_instant(catalog):
    """A grant past expires_at reads 已过期 and says when it ran out."""
    granted = NOW - timedelta(days=40)
    ends = NOW - timedelta(days=10)

    card = marketing(catalog, [event("granted", granted, expires_at=ends)])

    assert card.state == "expired"
    assert card.ended_at == ends
    assert card.agreed_at == granted
    assert not card.withdrawable


def test_when_withdrawn_then_the_agreed_notice_and_scope_stay_visible(catalog):
    """After withdrawal the card still shows what was agreed, when, and when it ended."""
    granted, withdrawn = NOW - timedelta(days=3), NOW - timedelta(days=1)

    card = marketing(
        catalog, [event("granted", granted), event("withdrawn", withdrawn)]
    )

    assert card.state == "withdrawn"
    assert (card.agreed_at, card.ended_at) == (granted, withdrawn)
    assert card.categories == ("会员号", "昵称", "手机号")
    assert card.notice_version == "2026.01"


def test_when_grant_cites_a_retired_notice_then_stale_with_that_notice(catalog):
    """A 2025.06 grant is 需重新确认, shows the 2025.06 summary, and can be withdrawn."""
    card = marketing(catalog, [event("granted", NOW, version="2025.06")])

    assert card.state == "stale"
    assert card.notice_version == "2025.06"
    assert "优惠活动短信" in card.summary
    assert card.withdrawable
