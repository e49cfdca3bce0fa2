"""The rules the shipped bundle enforces, through the real app (issue #4).

One class per rule. Where a rule only shows on a catalog the demo does not ship
(a purpose without its impact assessment, a marketing purpose that forgets to
exclude minors), the test edits its own copy of the demo catalog and starts a
proxy on it: the rule must hold whatever the catalog says.
"""

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from factories import auth, customer, recorded_as_adult, subjects
from fastapi.testclient import TestClient

from governance.app import create_app
from governance.errors import ConfigurationError
from governance.settings import load_settings

RECORD = "/v1/datasets/customers/records/{}"
QUERY = "/v1/datasets/customers/query"
GRANT = {
    "notice_version": "2026.01",
    "method": "click",
    "channel": "app",
    "evidence": {"screen": "opt-in-v3"},
}
SHARED = ["identity.customer_id", "identity.name", "contact.phone"]


@contextmanager
def proxy_on(
    demo_dir: Path, edit: Callable[[dict[str, Any]], None]
) -> Iterator[TestClient]:
    """A proxy over this test's demo, its catalog changed by `edit` first."""
    path = demo_dir / "catalog.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    settings = load_settings(demo_dir / "govproxy.yaml", env="test")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def query(client, key, purpose, body, **headers):
    """POST a governed query with extra headers (X-Recipient, X-Approval-Ref)."""
    return client.post(QUERY, json=body, headers=auth(key, purpose) | headers)


def read(client, key, purpose, subject_id, fields=None, **headers):
    """GET one record with extra headers."""
    suffix = f"?fields={fields}" if fields else ""
    return client.get(
        RECORD.format(subject_id) + suffix, headers=auth(key, purpose) | headers
    )


def grant(client, keys, subject_id, purpose, **extra):
    """Record a consent through the API as the brand's app; fail the test if refused."""
    response = client.post(
        f"/v1/subjects/{subject_id}/consents",
        json={"purpose": purpose, **GRANT, **extra},
        headers=auth(keys["brand-app"]),
    )
    assert response.status_code == 201, response.text


def denied(response) -> list[str]:
    """The policy's reasons of a 403 policy_denied problem."""
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "policy_denied"
    reasons: list[str] = response.json()["reasons"]
    return reasons


def audit_event(client, keys, response) -> dict[str, Any]:
    """The audit event of a governed answer, found by its decision id."""
    events = client.get(
        "/v1/audit/events",
        params={"limit": 200},
        headers=auth(keys["compliance-officer"]),
    ).json()["events"]
    wanted = response.headers["X-Decision-Id"]
    event: dict[str, Any] = next(e for e in events if e["decision_id"] == wanted)
    return event


def fresh_adults(demo_dir: Path) -> list[str]:
    """Adults without any consent event, so each test sets their consent itself."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        seen = {r[0] for r in conn.execute("SELECT subject_id FROM consent_events")}
    return [s for s in subjects(demo_dir, minor=False) if s not in seen]


def tagged_fresh_adult(demo_dir: Path, tag: str) -> str:
    """The first adult carrying `tag` who has no consent event yet."""
    fresh = set(fresh_adults(demo_dir))
    return next(s for s in subjects(demo_dir, minor=False, tag=tag) if s in fresh)


class TestClassification:
    """S-01, S-04: only classified tags are usable; derived tags inherit sensitivity."""

    def test_when_tag_is_not_in_the_catalog_then_it_cannot_filter(self, client, keys):
        """A tag the catalog does not classify is refused before anything is read."""
        response = query(
            client,
            keys["campaign-sms"],
            "marketing_push",
            {"where": {"tags_any": ["新标签"]}},
        )

        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"

    def test_when_tag_derives_from_a_sensitive_tag_then_the_catalog_says_sensitive(
        self, client, keys
    ):
        """控糖 is filed under interest.diet but derives from 糖尿病, so it is sensitive."""
        body = client.get("/v1/datasets", headers=auth(keys["brand-app"])).json()

        tags = {t["name"]: t for t in body["datasets"][0]["tags"]}
        assert tags["控糖"]["category"] == "interest.diet"
        assert tags["控糖"]["sensitive"] is True
        assert tags["控糖"]["derived_from"] == ["health.condition"]

    def test_when_purpose_lists_the_category_then_derived_sensitive_tag_still_refused(
        self, demo_dir, keys
    ):
        """A purpose allowed interest.diet may filter on a plain diet tag, not on 控糖."""

        def edit(doc):
            doc["tags"]["轻食"] = {"category": "interest.diet"}
            doc["purposes"]["customer_service"]["categories"].append("interest.diet")

        with proxy_on(demo_dir, edit) as client:
            key = keys["brand-app"]
            plain = query(
                client, key, "customer_service", {"where": {"tags_any": ["轻食"]}}
            )
            derived = query(
                client, key, "customer_service", {"where": {"tags_any": ["控糖"]}}
            )

        assert plain.status_code == 200
        assert denied(derived) == ["sensitive_tag_not_permitted:控糖"]


class TestSensitiveTags:
    """SC-01, S-02, L-03: sensitive data needs its category, separate consent, a PIA."""

    def test_when_all_three_hold_then_the_audience_is_served(
        self, client, keys, demo_dir
    ):
        """Maternal care (PIA-2026-001) reaches pregnant subjects who consented separately."""
        chosen = tagged_fresh_adult(demo_dir, "孕期")
        grant(client, keys, chosen, "maternal_care_recommendation", kind="separate")

        response = query(
            client,
            keys["brand-app"],
            "maternal_care_recommendation",
            {"fields": ["nickname"], "where": {"tags_any": ["孕期"]}, "limit": 500},
        )

        assert response.status_code == 200
        assert chosen in [r["subject_id"] for r in response.json()["records"]]
        assert audit_event(client, keys, response)["detail"]["impact_assessment"] == (
            "PIA-2026-001"
        )

    def test_when_purpose_names_no_impact_assessment_then_sensitive_tag_refused(
        self, demo_dir, keys
    ):
        """Without its impact assessment the same audience is refused."""

        def edit(doc):
            purpose = doc["purposes"]["maternal_care_recommendation"]
            del purpose["impact_assessment"]
            purpose["personalised"] = False  # else the catalog refuses it at load

        with proxy_on(demo_dir, edit) as client:
            response = query(
                client,
                keys["brand-app"],
                "maternal_care_recommendation",
                {"fields": ["nickname"], "where": {"tags_any": ["孕期"]}},
            )

        assert denied(response) == ["impact_assessment_required:孕期"]

    def test_when_refunds_lack_an_impact_assessment_then_the_card_is_withheld(
        self, demo_dir, keys
    ):
        """A contract needs no consent, but a PIA still: named card refused, else withheld."""
        sid = subjects(demo_dir, minor=False)[3]

        def edit(doc):
            del doc["purposes"]["refund_processing"]["impact_assessment"]

        with proxy_on(demo_dir, edit) as client:
            key = keys["brand-app"]
            named = read(client, key, "refund_processing", sid, fields="bank_card")
            implicit = read(client, key, "refund_processing", sid)

        assert denied(named) == ["impact_assessment_required:bank_card"]
        assert implicit.status_code == 200
        assert "bank_card" not in implicit.json()["record"]
        assert implicit.json()["obligations"]["bank_card"] == "withhold"

    def test_when_consent_does_not_cover_the_tag_then_the_subject_is_left_out(
        self, client, keys, demo_dir
    ):
        """Separate consent that leaves out 孕期 does not admit its subject; counted by why."""
        pregnant = subjects(demo_dir, minor=False, tag="孕期")
        chosen = tagged_fresh_adult(demo_dir, "孕期")
        scope = ["identity.customer_id", "profile.nickname", "interest.shopping"]
        grant(
            client,
            keys,
            chosen,
            "maternal_care_recommendation",
            kind="separate",
            scope=scope,
        )

        response = query(
            client,
            keys["brand-app"],
            "maternal_care_recommendation",
            {"fields": ["nickname"], "where": {"tags_any": ["孕期"]}, "limit": 500},
        )

        returned = {r["subject_id"] for r in response.json()["records"]}
        assert response.status_code == 200
        assert chosen not in returned
        assert response.json()["excluded"]["separate_consent_required:孕期"] == 1
        assert sum(response.json()["excluded"].values()) == len(pregnant) - len(
            returned
        )


class TestMinors:
    """M-01: children are excluded from marketing unless a guardian consented."""

    def test_when_marketing_purpose_forgets_excludes_minors_then_children_still_refused(
        self, demo_dir, keys
    ):
        """excludes_minors: false does not open a marketing purpose to a child."""
        child = subjects(demo_dir, minor=True)[0]

        def edit(doc):
            doc["purposes"]["marketing_push"]["excludes_minors"] = False

        with proxy_on(demo_dir, edit) as client:
            with recorded_as_adult(demo_dir, child):
                grant(
                    client, keys, child, "marketing_push", declared_frequency="4/month"
                )
            single = read(client, keys["campaign-sms"], "marketing_push", child)
            audience = query(
                client,
                keys["campaign-sms"],
                "marketing_push",
                {"fields": ["nickname"], "limit": 500},
            )

        assert denied(single) == ["guardian_consent_required", "subject_is_minor"]
        assert child not in {r["subject_id"] for r in audience.json()["records"]}

    def test_when_guardian_consented_then_child_is_in_the_audience(
        self, client, keys, demo_dir
    ):
        """A guardian's consent admits the child to the audience, like the single read."""
        child = subjects(demo_dir, minor=True)[2]
        grant(
            client,
            keys,
            child,
            "marketing_push",
            declared_frequency="4/month",
            kind="guardian",
            grantor="guardian",
        )

        audience = query(
            client,
            keys["campaign-sms"],
            "marketing_push",
            {"fields": ["nickname"], "limit": 500},
        )
        single = read(client, keys["campaign-sms"], "marketing_push", child)

        assert child in {r["subject_id"] for r in audience.json()["records"]}
        assert single.status_code == 200


class TestPriceFairness:
    """A-03: coupon and pricing purposes may not use sensitive or willingness-to-pay tags."""

    @pytest.mark.parametrize(
        "tag",
        ["价格敏感", "高消费", "孕期", "控糖"],
        ids=["wtp", "spend", "health", "derived"],
    )
    def test_when_coupon_purpose_filters_on_risky_tag_then_refused(
        self, client, keys, tag
    ):
        """Willingness-to-pay and sensitive tags are refused as price discrimination risks."""
        response = query(
            client,
            keys["brand-app"],
            "coupon_targeting",
            {"where": {"tags_any": [tag]}},
        )

        assert f"price_discrimination_risk:{tag}" in denied(response)

    def test_when_coupon_purpose_filters_on_interest_then_served(
        self, client, keys, demo_dir
    ):
        """An interest tag is fair game: consenting adults tagged 母婴 are returned."""
        chosen = tagged_fresh_adult(demo_dir, "母婴")
        grant(client, keys, chosen, "coupon_targeting")

        response = query(
            client,
            keys["brand-app"],
            "coupon_targeting",
            {"fields": ["nickname"], "where": {"tags_any": ["母婴"]}, "limit": 500},
        )

        assert response.status_code == 200
        assert [r["subject_id"] for r in response.json()["records"]] == [chosen]

    def test_when_catalog_lets_pricing_use_spending_level_then_still_refused(
        self, demo_dir, keys
    ):
        """Listing consumption.level for the coupon purpose and its notice changes nothing."""

        def edit(doc):
            purpose = doc["purposes"]["coupon_targeting"]
            notice = doc["notices"]["coupon_targeting"][0]
            purpose["categories"].append("consumption.level")
            notice["categories"].append("consumption.level")

        with proxy_on(demo_dir, edit) as client:
            response = query(
                client,
                keys["brand-app"],
                "coupon_targeting",
                {"where": {"tags_any": ["高消费"]}},
            )

        assert denied(response) == ["price_discrimination_risk:高消费"]


class TestSharing:
    """SC-02, SC-04: a registered recipient, consent naming it, a mechanism abroad."""

    def consent_naming(self, client, keys, subject_id, *recipients):
        """Separate consent to share with exactly these recipients."""
        scope = SHARED + [f"recipient:{r}" for r in recipients]
        grant(client, keys, subject_id, "partner_sharing", kind="separate", scope=scope)

    def test_when_consent_names_the_recipient_then_data_goes_to_it(
        self, client, keys, demo_dir
    ):
        """The co-brand bank gets the phone of a subject who agreed to share with it."""
        sid = fresh_adults(demo_dir)[0]
        self.consent_naming(client, keys, sid, "cobrand-bank")

        response = read(
            client,
            keys["partner-gateway"],
            "partner_sharing",
            sid,
            **{"X-Recipient": "cobrand-bank"},
        )

        assert response.status_code == 200
        assert response.json()["record"]["mobile"] == customer(demo_dir, sid)["mobile"]
        recipient = audit_event(client, keys, response)["detail"]["recipient"]
        assert recipient["name"] == "cobrand-bank"
        assert recipient["cross_border"] is False

    def test_when_recipient_abroad_then_the_transfer_is_flagged_in_the_audit_event(
        self, client, keys, demo_dir
    ):
        """A transfer to Singapore is served under its standard contract and flagged."""
        sid = fresh_adults(demo_dir)[1]
        self.consent_naming(client, keys, sid, "cobrand-bank", "hq-analytics-sg")

        response = read(
            client,
            keys["partner-gateway"],
            "partner_sharing",
            sid,
            **{"X-Recipient": "hq-analytics-sg"},
        )

        assert response.status_code == 200
        assert audit_event(client, keys, response)["detail"]["recipient"] == {
            "name": "hq-analytics-sg",
            "registered": True,
            "country": "SG",
            "cross_border": True,
            "transfer_mechanism": "standard_contract",
            "mechanism_reference": "SCC-2025-0412",
        }

    def test_when_consent_names_another_recipient_then_refused(
        self, client, keys, demo_dir
    ):
        """Consent to share with the bank is no consent to share with the group abroad."""
        sid = fresh_adults(demo_dir)[2]
        self.consent_naming(client, keys, sid, "cobrand-bank")

        response = read(
            client,
            keys["partner-gateway"],
            "partner_sharing",
            sid,
            **{"X-Recipient": "hq-analytics-sg"},
        )

        assert denied(response) == ["recipient_consent_required:hq-analytics-sg"]

    @pytest.mark.parametrize(
        ("headers", "reasons"),
        [
            ({}, ["recipient_required"]),
            ({"X-Recipient": "unknown-partner"}, ["recipient_not_registered"]),
            (
                {"X-Recipient": "ads-platform-us"},
                [
                    "recipient_not_permitted:ads-platform-us",
                    "transfer_mechanism_required:ads-platform-us",
                ],
            ),
        ],
        ids=["no-recipient", "unregistered", "not-on-purpose-and-no-mechanism"],
    )
    def test_when_recipient_is_missing_unknown_or_not_allowed_then_refused(
        self, client, keys, demo_dir, headers, reasons
    ):
        """Sharing is refused without a registered recipient the purpose names."""
        sid = fresh_adults(demo_dir)[3]
        self.consent_naming(client, keys, sid, "cobrand-bank", "hq-analytics-sg")

        response = read(
            client, keys["partner-gateway"], "partner_sharing", sid, **headers
        )

        assert denied(response) == reasons

    def test_when_mechanism_is_not_recorded_then_transfer_abroad_refused(
        self, demo_dir, keys
    ):
        """A recipient abroad on the purpose still needs its transfer mechanism (SC-04)."""
        sid = fresh_adults(demo_dir)[4]

        def edit(doc):
            del doc["recipients"]["hq-analytics-sg"]["transfer_mechanism"]

        with proxy_on(demo_dir, edit) as client:
            self.consent_naming(client, keys, sid, "hq-analytics-sg")
            response = read(
                client,
                keys["partner-gateway"],
                "partner_sharing",
                sid,
                **{"X-Recipient": "hq-analytics-sg"},
            )

        assert denied(response) == ["transfer_mechanism_required:hq-analytics-sg"]

    def test_when_marketing_read_names_a_recipient_then_refused(self, client, keys):
        """A purpose that does not provide data to third parties cannot be used to."""
        response = query(
            client,
            keys["campaign-sms"],
            "marketing_push",
            {"limit": 5},
            **{"X-Recipient": "cobrand-bank"},
        )

        assert denied(response) == ["recipient_not_permitted:cobrand-bank"]

    def test_when_sharing_an_audience_then_only_subjects_naming_the_recipient_leave(
        self, client, keys, demo_dir
    ):
        """A shared audience holds those whose consent names the recipient; others counted."""
        both, bank_only = fresh_adults(demo_dir)[5:7]
        self.consent_naming(client, keys, both, "cobrand-bank", "hq-analytics-sg")
        self.consent_naming(client, keys, bank_only, "cobrand-bank")

        response = query(
            client,
            keys["partner-gateway"],
            "partner_sharing",
            {"fields": ["mobile"], "limit": 500},
            **{"X-Recipient": "hq-analytics-sg"},
        )

        body = response.json()
        assert response.status_code == 200
        assert [r["subject_id"] for r in body["records"]] == [both]
        assert body["excluded"]["recipient_consent_required:hq-analytics-sg"] == 1
        assert audit_event(client, keys, response)["detail"]["recipient"][
            "cross_border"
        ]

    def test_when_recipient_header_is_malformed_then_invalid_request(
        self, client, keys
    ):
        """X-Recipient must be a catalog name; anything else is 422, never echoed."""
        response = query(
            client,
            keys["partner-gateway"],
            "partner_sharing",
            {"limit": 5},
            **{"X-Recipient": "Robert'); DROP"},
        )

        assert response.status_code == 422
        assert "DROP" not in response.text


class TestTagRegistration:
    """S-03: discriminatory tag names stop startup; legitimate sensitive ones do not."""

    @pytest.mark.parametrize("name", ["乙肝歧视", "回族", "信教"])
    def test_when_catalog_registers_discriminatory_tag_then_proxy_does_not_start(
        self, demo_dir, name
    ):
        """The error names the catalog file, the tag and what it matched."""

        def edit(doc):
            doc["tags"][name] = {"category": "interest.shopping"}

        with pytest.raises(ConfigurationError) as caught, proxy_on(demo_dir, edit):
            pass

        message = str(caught.value)
        assert str(demo_dir / "catalog.yaml") in message
        assert f"tags.{name}:" in message
        assert "S-03" in message

    def test_when_catalog_registers_sensitive_but_fair_tags_then_proxy_starts(
        self, demo_dir, keys
    ):
        """孕期 or 清真 are sensitive, not discriminatory: they load and stay governed."""

        def edit(doc):
            doc["categories"]["religion.belief"] = {"sensitive": True}
            doc["tags"]["清真"] = {"category": "religion.belief"}
            doc["tags"]["上班族"] = {"category": "lifecycle.stage"}

        with proxy_on(demo_dir, edit) as client:
            response = query(
                client,
                keys["campaign-sms"],
                "marketing_push",
                {"where": {"tags_any": ["清真"]}},
            )

        assert denied(response) == ["sensitive_tag_not_permitted:清真"]


class TestBulkReads:
    """K-02: pages above the dataset's bulk threshold (500) need an approval reference."""

    def test_when_page_exceeds_threshold_without_approval_then_refused(
        self, client, keys
    ):
        """501 records at once need approval; 500 do not."""
        key = keys["campaign-sms"]

        over = query(
            client, key, "marketing_push", {"fields": ["nickname"], "limit": 501}
        )
        at = query(
            client, key, "marketing_push", {"fields": ["nickname"], "limit": 500}
        )

        assert denied(over) == ["approval_required"]
        assert at.status_code == 200

    def test_when_approved_then_served_and_the_reference_is_audited(self, client, keys):
        """With X-Approval-Ref the page is served and the reference kept as evidence."""
        response = query(
            client,
            keys["campaign-sms"],
            "marketing_push",
            {"fields": ["nickname"], "limit": 1000},
            **{"X-Approval-Ref": "OA-2026-0315"},
        )

        assert response.status_code == 200
        assert audit_event(client, keys, response)["detail"]["approval_ref"] == (
            "OA-2026-0315"
        )

    def test_when_approval_reference_is_malformed_then_invalid_request(
        self, client, keys
    ):
        """The reference is an identifier, not free text."""
        response = query(
            client,
            keys["campaign-sms"],
            "marketing_push",
            {"limit": 1000},
            **{"X-Approval-Ref": "approved by the boss"},
        )

        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"
