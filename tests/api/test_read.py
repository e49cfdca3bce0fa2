"""Governed single-record reads: consented, decided, masked, audited."""

import re
import sqlite3
from contextlib import closing

import pytest
from factories import auth, customer, recorded_as_adult, subjects

RECORD = "/v1/datasets/customers/records/{}"
QUERY = "/v1/datasets/customers/query"
CONSENT = {
    "notice_version": "2026.01",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
    "declared_frequency": "4/month",
}


def grant(client, keys, subject_id, purpose="marketing_push", frequency="4/month"):
    """Record the subject's own consent for `purpose` through the API."""
    response = client.post(
        f"/v1/subjects/{subject_id}/consents",
        json={"purpose": purpose, **CONSENT, "declared_frequency": frequency},
        headers=auth(keys["brand-app"]),
    )
    assert response.status_code == 201, response.text


def granted_as_adult(client, keys, demo_dir, child, purpose="marketing_push"):
    """The child's own consent, recorded while the store gave an adult's birth date
    (corrected since): what the policy must still refuse at every read."""
    frequency = "4/month" if purpose == "marketing_push" else None
    with recorded_as_adult(demo_dir, child):
        grant(client, keys, child, purpose, frequency=frequency)


def adult(demo_dir):
    """An adult demo customer."""
    return subjects(demo_dir, minor=False)[3]


class TestMarketingRead:
    def test_when_consented_then_only_permitted_fields_leave_masked(
        self, client, keys, demo_dir
    ):
        """The SMS sender sees name masked, mobile kept, and nothing its purpose may not see."""
        sid = adult(demo_dir)
        grant(client, keys, sid)
        raw = customer(demo_dir, sid)

        response = client.get(
            RECORD.format(sid), headers=auth(keys["campaign-sms"], "marketing_push")
        )

        body = response.json()
        assert response.status_code == 200
        assert body["record"]["mobile"] == raw["mobile"]
        assert body["record"]["name"] == raw["name"][0] + "*" * (len(raw["name"]) - 1)
        assert re.fullmatch(r".\*\*\*@[a-z.]+", body["record"]["email"])
        assert {
            "id_number",
            "address",
            "bank_card",
            "service_note",
            "birth_date",
        }.isdisjoint(body["record"])
        assert body["obligations"]["id_number"] == "withhold"
        assert body["decision_id"] == response.headers["X-Decision-Id"]

    def test_when_fields_named_then_only_those_are_returned(
        self, client, keys, demo_dir
    ):
        """Naming fields narrows the answer to them."""
        sid = adult(demo_dir)
        grant(client, keys, sid)

        response = client.get(
            RECORD.format(sid) + "?fields=nickname,mobile",
            headers=auth(keys["campaign-sms"], "marketing_push"),
        )

        assert response.status_code == 200
        assert set(response.json()["record"]) == {"nickname", "mobile"}

    def test_when_named_field_outside_purpose_then_policy_denied(
        self, client, keys, demo_dir
    ):
        """Explicitly asking for a field the purpose may not see is refused, with the reason."""
        sid = adult(demo_dir)
        grant(client, keys, sid)

        response = client.get(
            RECORD.format(sid) + "?fields=mobile,bank_card",
            headers=auth(keys["campaign-sms"], "marketing_push"),
        )

        assert response.status_code == 403
        assert response.json()["code"] == "policy_denied"
        assert "sensitive_field_not_permitted:bank_card" in response.json()["reasons"]

    def test_when_never_consented_then_consent_missing(self, client, keys, demo_dir):
        """A subject without any consent event is refused for a consent-based purpose."""
        sid = adult(demo_dir)
        client.post(
            f"/v1/subjects/{sid}/consents/marketing_push/withdraw",
            headers=auth(keys["brand-app"]),
        )
        fresh = next(
            s
            for s in subjects(demo_dir, minor=False)
            if client.get(
                f"/v1/subjects/{s}/consents", headers=auth(keys["brand-app"])
            ).json()["consents"]
            == []
        )

        response = client.get(
            RECORD.format(fresh), headers=auth(keys["campaign-sms"], "marketing_push")
        )

        assert response.status_code == 403
        assert response.json()["code"] == "consent_missing"

    def test_when_subject_is_minor_then_marketing_is_refused(
        self, client, keys, demo_dir
    ):
        """A child's own consent is not enough: marketing needs a guardian's (M-01, M-02)."""
        child = subjects(demo_dir, minor=True)[0]
        granted_as_adult(client, keys, demo_dir, child)

        response = client.get(
            RECORD.format(child), headers=auth(keys["campaign-sms"], "marketing_push")
        )

        assert response.status_code == 403
        assert response.json()["reasons"] == [
            "guardian_consent_required",
            "subject_is_minor",
        ]

    def test_a_childs_own_consent_is_not_recorded_over_a_guardians(
        self, client, keys, demo_dir
    ):
        """A child's own grant is refused (422), and the guardian's stays in force."""
        child = subjects(demo_dir, minor=True)[2]
        guardian = {"kind": "guardian", "grantor": "guardian"}
        body = {"purpose": "marketing_push", **CONSENT}
        url = f"/v1/subjects/{child}/consents"
        by_guardian = client.post(
            url, json=body | guardian, headers=auth(keys["brand-app"])
        )

        own = client.post(url, json=body, headers=auth(keys["brand-app"]))

        read = client.get(
            RECORD.format(child), headers=auth(keys["campaign-sms"], "marketing_push")
        )
        assert by_guardian.status_code == 201
        assert (own.status_code, own.json()["code"]) == (422, "invalid_request")
        assert "receipt" not in own.json()
        assert read.status_code == 200

    def test_a_childs_id_number_beside_an_adults_birth_date_counts_as_a_child(
        self, client, keys, demo_dir
    ):
        """Either age signal saying under 14 makes a minor (M-01's minor signal): a
        birth date typed as 1990 next to a child's ID number neither lets the child
        consent alone nor lets a consent recorded as an adult's reach them. The
        birth date used to decide alone whenever it was readable."""
        child = subjects(demo_dir, minor=True)[3]
        granted_as_adult(client, keys, demo_dir, child)  # both said adult then
        with closing(sqlite3.connect(demo_dir / "customers.db")) as conn, conn:
            (born,) = conn.execute(
                "SELECT birth_date FROM customers WHERE customer_id = ?", (child,)
            ).fetchone()
            conn.execute(
                "UPDATE customers SET birth_date = '1990-01-01' WHERE customer_id = ?",
                (child,),
            )
        try:
            read = client.get(
                RECORD.format(child),
                headers=auth(keys["campaign-sms"], "marketing_push"),
            )
            own = client.post(
                f"/v1/subjects/{child}/consents",
                json={"purpose": "personalised_recommendation", **CONSENT},
                headers=auth(keys["brand-app"]),
            )
        finally:
            with closing(sqlite3.connect(demo_dir / "customers.db")) as conn, conn:
                conn.execute(
                    "UPDATE customers SET birth_date = ? WHERE customer_id = ?",
                    (born, child),
                )

        assert read.status_code == 403
        assert "guardian_consent_required" in read.json()["reasons"]
        assert (own.status_code, own.json()["code"]) == (422, "invalid_request")
        assert "under 14" in own.json()["detail"]

    def test_when_guardian_consented_then_child_may_be_reached(
        self, client, keys, demo_dir
    ):
        """A guardian's consent lifts the exclusion of a child from marketing (M-01)."""
        child = subjects(demo_dir, minor=True)[1]
        response = client.post(
            f"/v1/subjects/{child}/consents",
            json={"purpose": "marketing_push", **CONSENT, "kind": "guardian",
                  "grantor": "guardian"},
            headers=auth(keys["brand-app"]),
        )  # fmt: skip

        read = client.get(
            RECORD.format(child), headers=auth(keys["campaign-sms"], "marketing_push")
        )

        assert response.status_code == 201
        assert read.status_code == 200


class TestContractPurposes:
    def test_when_purpose_needs_no_consent_then_read_allowed_without_it(
        self, client, keys, demo_dir
    ):
        """Order fulfilment works on contract, so no consent is needed (C-10)."""
        sid = adult(demo_dir)
        raw = customer(demo_dir, sid)

        response = client.get(
            RECORD.format(sid), headers=auth(keys["brand-app"], "order_fulfilment")
        )

        record = response.json()["record"]
        assert response.status_code == 200
        assert record == {
            "customer_id": sid,
            "name": raw["name"],
            "mobile": raw["mobile"],
            "address": raw["address"],
        }

    def test_when_purpose_allows_sensitive_field_then_it_is_masked_to_last_four(
        self, client, keys, demo_dir
    ):
        """Refunds may see the bank card, but only its last four digits."""
        sid = adult(demo_dir)
        card = customer(demo_dir, sid)["bank_card"]

        response = client.get(
            RECORD.format(sid), headers=auth(keys["brand-app"], "refund_processing")
        )

        assert (
            response.json()["record"]["bank_card"] == "*" * (len(card) - 4) + card[-4:]
        )

    def test_when_customer_service_reads_then_contact_data_is_masked(
        self, client, keys, demo_dir
    ):
        """Customer service sees the ID number and phone masked, the address cut to the city."""
        sid = adult(demo_dir)
        raw = customer(demo_dir, sid)

        record = client.get(
            RECORD.format(sid), headers=auth(keys["brand-app"], "customer_service")
        ).json()["record"]

        assert (
            record["id_number"]
            == raw["id_number"][:6] + "*" * 8 + raw["id_number"][-4:]
        )
        assert record["mobile"] == raw["mobile"][:3] + "****" + raw["mobile"][-4:]
        assert (
            raw["address"].startswith(record["address"]) or record["address"] == "***"
        )
        assert record["address"] != raw["address"]

    def test_when_customer_service_reads_a_note_then_personal_values_in_it_are_masked(
        self, client, keys, demo_dir
    ):
        """The free-text note (`redact_text`) comes back readable, its phone and name masked."""
        sid, raw = next(
            (s, row)
            for s in subjects(demo_dir, minor=False)
            if (row := customer(demo_dir, s))["mobile"] in row["service_note"]
        )

        record = client.get(
            RECORD.format(sid), headers=auth(keys["brand-app"], "customer_service")
        ).json()["record"]

        note = record["service_note"]
        assert raw["mobile"] not in note
        assert raw["name"] not in note
        assert raw["mobile"][:3] + "****" + raw["mobile"][-4:] in note
        assert len(note) == len(raw["service_note"])  # masked in place, rest kept


class TestPseudonymisedRead:
    def test_when_analytics_reads_then_ids_are_stable_pseudonyms(
        self, client, keys, demo_dir
    ):
        """Analytics gets keyed pseudonyms: stable per subject, never the raw id."""
        sid = adult(demo_dir)
        grant(client, keys, sid, "analytics")
        headers = auth(keys["brand-app"], "analytics")

        first = client.get(RECORD.format(sid), headers=headers).json()["record"]
        second = client.get(RECORD.format(sid), headers=headers).json()["record"]

        assert first == second
        assert first["customer_id"] != sid
        assert re.fullmatch(r"pv1_[0-9a-f]{24}", first["customer_id"])
        assert customer(demo_dir, sid)["mobile"] not in str(first)


@pytest.mark.parametrize(
    ("path", "code", "status"),
    [
        ("/v1/datasets/nope/records/C000001", "unknown_dataset", 404),
        ("/v1/datasets/customers/records/C999999", "unknown_subject", 404),
        (
            "/v1/datasets/customers/records/C000001?fields=mobile,shoe_size",
            "invalid_request",
            422,
        ),
    ],
    ids=["unknown-dataset", "unknown-subject", "unknown-field"],
)
def test_when_target_unknown_then_problem_with_code(client, keys, path, code, status):
    """Unknown datasets, subjects and fields are named problems, still audited with an id."""
    response = client.get(path, headers=auth(keys["brand-app"], "order_fulfilment"))

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.headers["X-Decision-Id"] == response.json()["decision_id"]


def test_when_subject_has_not_consented_then_membership_is_not_told(
    client, keys, demo_dir
):
    """A caller the subject never agreed to gets the same answer for a member and a
    stranger: whether the brand holds someone is itself personal information."""
    member = next(
        s
        for s in subjects(demo_dir, minor=False)
        if client.get(
            RECORD.format(s), headers=auth(keys["campaign-sms"], "marketing_push")
        )
        .json()
        .get("code")
        == "consent_missing"
    )
    headers = auth(keys["campaign-sms"], "marketing_push")

    known = client.get(RECORD.format(member), headers=headers)
    stranger = client.get(RECORD.format("C999999"), headers=headers)

    assert known.status_code == stranger.status_code == 403
    assert known.json()["code"] == stranger.json()["code"] == "consent_missing"


def test_an_opt_out_does_not_tell_a_member_from_a_stranger(client, keys, demo_dir):
    """Only members can turn personalisation off; to a caller the subject never
    agreed to, the opted-out member still answers as a stranger does."""
    headers = auth(keys["brand-app"], "personalised_recommendation")
    member = next(
        s
        for s in subjects(demo_dir, minor=False)
        if client.get(RECORD.format(s), headers=headers).json().get("code")
        == "consent_missing"
    )
    switched = client.post(
        f"/v1/subjects/{member}/personalisation",
        json={"enabled": False, "channel": "app"},
        headers=auth(keys["brand-app"]),
    )

    known = client.get(RECORD.format(member), headers=headers)
    stranger = client.get(RECORD.format("C999999"), headers=headers)

    assert switched.status_code == 200
    assert known.json()["code"] == stranger.json()["code"] == "consent_missing"


def test_every_read_is_audited_with_its_decision(client, keys, demo_dir):
    """Allowed and denied reads each leave one event carrying their decision id and revision."""
    sid = adult(demo_dir)
    allowed = client.get(
        RECORD.format(sid), headers=auth(keys["brand-app"], "order_fulfilment")
    )
    denied = client.get(
        RECORD.format(sid) + "?fields=bank_card",
        headers=auth(keys["brand-app"], "order_fulfilment"),
    )

    events = client.get(
        "/v1/audit/events",
        params={"subject_id": sid},
        headers=auth(keys["compliance-officer"]),
    ).json()["events"]

    by_id = {e["decision_id"]: e for e in events}
    ok, no = (
        by_id[allowed.headers["X-Decision-Id"]],
        by_id[denied.headers["X-Decision-Id"]],
    )
    assert (ok["outcome"], ok["reason"], ok["kind"]) == ("allowed", None, "access.read")
    assert ok["obligations"]["name"] == "keep"
    assert ok["policy_revision"].startswith("sha256:")
    assert (no["outcome"], no["reason"]) == ("denied", "policy_denied")
    assert sid not in str(events)


def set_birth(demo_dir, subject_id, *, birth_date, id_number=None):
    """Overwrite a stored customer's birth date (and ID number) in the source."""
    with closing(sqlite3.connect(demo_dir / "customers.db")) as conn, conn:
        conn.execute(
            "UPDATE customers SET birth_date = ?,"
            " id_number = coalesce(?, id_number) WHERE customer_id = ?",
            (birth_date, id_number, subject_id),
        )


class TestUnknownBirthDate:
    """Age from the birth date, else from the ID number; unknown age never reads as adult."""

    @pytest.mark.parametrize("birth_date", ["", "not a date"])
    def test_when_child_has_no_usable_birth_date_then_the_id_number_tells(
        self, client, keys, demo_dir, birth_date
    ):
        """A child with an empty birth date is still a child: the ID says so (M-02)."""
        child = subjects(demo_dir, minor=True)[0]
        granted_as_adult(client, keys, demo_dir, child, "analytics")
        set_birth(demo_dir, child, birth_date=birth_date)

        response = client.get(
            RECORD.format(child), headers=auth(keys["brand-app"], "analytics")
        )

        assert response.status_code == 403
        assert response.json()["reasons"] == ["guardian_consent_required"]

    def test_when_neither_birth_date_nor_id_tells_then_own_consent_is_not_enough(
        self, client, keys, demo_dir
    ):
        """Analytics admits children by a guardian's consent, so a subject of unknown
        age who consented themselves is refused, not taken for an adult (M-01)."""
        child = subjects(demo_dir, minor=True)[0]
        set_birth(demo_dir, child, birth_date="", id_number="unreadable")
        grant(client, keys, child, "analytics", frequency=None)

        response = client.get(
            RECORD.format(child), headers=auth(keys["brand-app"], "analytics")
        )

        assert response.status_code == 403
        assert response.json()["reasons"] == ["subject_age_unknown"]

    def test_when_adult_has_no_birth_date_then_the_id_number_admits_them(
        self, client, keys, demo_dir
    ):
        """An adult whose birth date is blank is no longer refused for marketing."""
        sid = adult(demo_dir)
        grant(client, keys, sid)
        set_birth(demo_dir, sid, birth_date="")

        response = client.get(
            RECORD.format(sid), headers=auth(keys["campaign-sms"], "marketing_push")
        )

        assert response.status_code == 200

    def test_when_query_meets_a_child_without_birth_date_then_it_is_left_out(
        self, client, keys, demo_dir
    ):
        """The analytics audience counts such a child as a minor, not an adult."""
        child = subjects(demo_dir, minor=True)[0]
        granted_as_adult(client, keys, demo_dir, child, "analytics")
        headers = auth(keys["brand-app"], "analytics")
        query = {"fields": ["customer_id"], "limit": 500}
        before = client.post(QUERY, json=query, headers=headers).json()
        set_birth(demo_dir, child, birth_date="")

        after = client.post(QUERY, json=query, headers=headers).json()

        assert after["records"] == before["records"]
        assert after["excluded"] == before["excluded"]
        assert before["excluded"]["guardian_consent_required"] >= 1


@pytest.mark.parametrize(
    ("caller", "purpose", "reason"),
    [
        ("campaign-sms", "analytics", "purpose_not_permitted"),
        ("compliance-officer", "marketing_push", "forbidden_role"),
    ],
    ids=["purpose-not-held", "wrong-role"],
)
def test_a_refused_attempt_is_found_by_subject_and_purpose(
    client, keys, demo_dir, caller, purpose, reason
):
    """An attempt to read a named customer for a purpose the caller does not hold
    (or with the wrong role) is in that subject's trail, under that purpose."""
    sid = adult(demo_dir)
    refused = client.get(RECORD.format(sid), headers=auth(keys[caller], purpose))

    events = client.get(
        "/v1/audit/events",
        params={"subject_id": sid, "outcome": "denied"},
        headers=auth(keys["compliance-officer"]),
    ).json()["events"]

    assert refused.status_code == 403
    found = [e for e in events if e["decision_id"] == refused.headers["X-Decision-Id"]]
    assert [e["reason"] for e in found] == [reason]
    if reason == "purpose_not_permitted":  # a role refusal is decided before it
        assert found[0]["purpose"] == purpose
