"""The consent API: grant and withdraw through the API, effective on the very next request."""

import sqlite3
from contextlib import closing

import pytest
from factories import auth, subjects

EVIDENCE = {
    "notice_version": "2026.01",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "mini_program",
    "declared_frequency": "4/month",
}


def consent_rows(demo_dir, subject_id):
    """Every consent event stored for the subject."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        return conn.execute(
            "SELECT purpose, action FROM consent_events WHERE subject_id = ? ORDER BY id",
            (subject_id,),
        ).fetchall()


def read(client, keys, subject_id):
    """A marketing read of the subject by the SMS sender."""
    return client.get(
        f"/v1/datasets/customers/records/{subject_id}",
        headers=auth(keys["campaign-sms"], "marketing_push"),
    )


def test_when_withdrawn_then_the_very_next_read_is_refused(client, keys, demo_dir):
    """Grant -> read allowed; withdraw -> the next read is consent_withdrawn."""
    sid = subjects(demo_dir, minor=False)[10]
    app = auth(keys["brand-app"])

    granted = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "marketing_push", **EVIDENCE},
        headers=app,
    )
    before = read(client, keys, sid)
    withdrawn = client.post(
        f"/v1/subjects/{sid}/consents/marketing_push/withdraw", headers=app
    )
    after = read(client, keys, sid)

    assert granted.status_code == 201
    assert before.status_code == 200
    assert withdrawn.status_code == 200
    assert withdrawn.json()["changed"] is True
    assert after.status_code == 403
    assert after.json()["code"] == "consent_withdrawn"


def test_when_withdrawn_then_contract_purposes_still_work(client, keys, demo_dir):
    """Withdrawing marketing consent never blocks order fulfilment (C-10)."""
    sid = subjects(demo_dir, minor=False)[11]
    client.post(
        f"/v1/subjects/{sid}/consents/marketing_push/withdraw",
        headers=auth(keys["brand-app"]),
    )

    response = client.get(
        f"/v1/datasets/customers/records/{sid}",
        headers=auth(keys["brand-app"], "order_fulfilment"),
    )

    assert response.status_code == 200


def test_when_listing_then_state_and_history_are_shown(client, keys, demo_dir):
    """The consent list shows the current state per purpose and every event behind it."""
    sid = subjects(demo_dir, minor=False)[12]
    app = auth(keys["brand-app"])
    client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "analytics", **EVIDENCE},
        headers=app,
    )
    client.post(f"/v1/subjects/{sid}/consents/analytics/withdraw", headers=app)

    body = client.get(
        f"/v1/subjects/{sid}/consents", headers=auth(keys["compliance-officer"])
    ).json()

    analytics = next(c for c in body["consents"] if c["purpose"] == "analytics")
    assert analytics["state"] == "withdrawn"
    assert analytics["notice_version"] == "2026.01"
    assert [e["action"] for e in body["events"] if e["purpose"] == "analytics"][
        -2:
    ] == [
        "granted",
        "withdrawn",
    ]


def test_when_withdrawing_twice_then_second_changes_nothing(client, keys, demo_dir):
    """A repeated withdrawal is answered but appends no new ledger event."""
    sid = subjects(demo_dir, minor=False)[13]
    app = auth(keys["brand-app"])
    client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "marketing_push", **EVIDENCE},
        headers=app,
    )
    client.post(f"/v1/subjects/{sid}/consents/marketing_push/withdraw", headers=app)
    count = len(consent_rows(demo_dir, sid))

    again = client.post(
        f"/v1/subjects/{sid}/consents/marketing_push/withdraw", headers=app
    )

    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert len(consent_rows(demo_dir, sid)) == count


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"method": "pre_ticked"}, "invalid_request"),
        ({"method": "bundled"}, "invalid_request"),
        ({"method": "implied"}, "invalid_request"),
        ({"channel": "carrier_pigeon"}, "invalid_request"),
        ({"purpose": "order_fulfilment"}, "invalid_request"),
        ({"purpose": "no_such_purpose"}, "invalid_request"),
        ({"notice_version": "v1; DROP TABLE"}, "invalid_request"),
    ],
    ids=[
        "pre-ticked",
        "bundled",
        "implied",
        "unknown-channel",
        "contract-purpose",
        "unknown-purpose",
        "bad-notice-version",
    ],
)
def test_when_consent_is_not_valid_then_nothing_is_recorded(
    client, keys, demo_dir, change, code
):
    """Consent that is not an affirmative act, or not for a consent purpose, is refused whole."""
    sid = subjects(demo_dir, minor=False)[14]
    before = consent_rows(demo_dir, sid)
    body = {"purpose": "marketing_push", **EVIDENCE} | change

    response = client.post(
        f"/v1/subjects/{sid}/consents", json=body, headers=auth(keys["brand-app"])
    )

    assert response.status_code == 422
    assert response.json()["code"] == code
    assert consent_rows(demo_dir, sid) == before


class TestWhoMayGiveConsent:
    """Only the app that asks subjects (records_consent) may say a subject agreed;
    any service may record that a subject said no to its own purposes."""

    def test_when_a_data_user_re_grants_after_a_withdrawal_then_refused(
        self, client, keys, demo_dir
    ):
        """The SMS sender cannot undo the subject's withdrawal by granting itself."""
        sid = subjects(demo_dir, minor=False)[15]
        app, sms = auth(keys["brand-app"]), auth(keys["campaign-sms"])
        grant = {"purpose": "marketing_push", **EVIDENCE}
        client.post(f"/v1/subjects/{sid}/consents", json=grant, headers=app)
        client.post(f"/v1/subjects/{sid}/consents/marketing_push/withdraw", headers=app)
        before = consent_rows(demo_dir, sid)

        regrant = client.post(f"/v1/subjects/{sid}/consents", json=grant, headers=sms)

        assert regrant.status_code == 403
        assert regrant.json()["code"] == "forbidden_role"
        assert consent_rows(demo_dir, sid) == before
        assert read(client, keys, sid).json()["code"] == "consent_withdrawn"

    def test_a_data_user_may_still_record_a_withdrawal_of_its_purpose(
        self, client, keys, demo_dir
    ):
        """An SMS sender handling a 退订 reply withdraws marketing_push itself."""
        sid = subjects(demo_dir, minor=False)[17]
        client.post(
            f"/v1/subjects/{sid}/consents",
            json={"purpose": "marketing_push", **EVIDENCE},
            headers=auth(keys["brand-app"]),
        )

        response = client.post(
            f"/v1/subjects/{sid}/consents/marketing_push/withdraw",
            json={"method": "sms_reply", "channel": "sms"},
            headers=auth(keys["campaign-sms"]),
        )

        assert response.status_code == 200
        assert response.json()["changed"] is True

    def test_a_data_user_may_opt_a_subject_out_but_not_back_in(
        self, client, keys, demo_dir
    ):
        """Opting out narrows processing; opting in is the subject's agreement."""
        sid = subjects(demo_dir, minor=False)[18]
        url = f"/v1/subjects/{sid}/personalisation"
        partner = auth(keys["partner-gateway"])

        off = client.post(url, json={"enabled": False}, headers=partner)
        on = client.post(url, json={"enabled": True}, headers=partner)
        by_app = client.post(
            url, json={"enabled": True}, headers=auth(keys["brand-app"])
        )

        assert off.status_code == 200
        assert (on.status_code, on.json()["code"]) == (403, "forbidden_role")
        assert by_app.status_code == 200
        assert consent_rows(demo_dir, sid)[-2:] == [
            ("personalisation", "opted_out"),
            ("personalisation", "opted_in"),
        ]

    @pytest.mark.parametrize(
        ("subject", "channel", "status", "code"),
        [
            ("C999999", "app", 404, "unknown_subject"),
            (None, "totally-made-up", 422, "invalid_request"),
        ],
        ids=["unknown-subject", "unknown-channel"],
    )
    def test_a_personalisation_change_names_a_real_subject_and_channel(
        self, client, keys, demo_dir, subject, channel, status, code
    ):
        """Nothing is recorded for nobody, or through a channel that does not exist."""
        sid = subject or subjects(demo_dir, minor=False)[19]
        before = consent_rows(demo_dir, sid)

        response = client.post(
            f"/v1/subjects/{sid}/personalisation",
            json={"enabled": False, "channel": channel},
            headers=auth(keys["brand-app"]),
        )

        assert (response.status_code, response.json()["code"]) == (status, code)
        assert consent_rows(demo_dir, sid) == before

    def test_only_the_asking_app_may_open_a_subjects_consent_center(
        self, client, keys, demo_dir
    ):
        """A consent-center link lets its holder act as the subject."""
        sid = subjects(demo_dir, minor=False)[20]
        url = f"/v1/subjects/{sid}/consent-center-link"

        by_sms = client.post(url, headers=auth(keys["campaign-sms"]))
        by_app = client.post(url, headers=auth(keys["brand-app"]))

        assert (by_sms.status_code, by_sms.json()["code"]) == (403, "forbidden_role")
        assert "url" not in by_sms.json()
        assert by_app.status_code == 201


def test_when_officer_records_consent_then_forbidden_role(client, keys, demo_dir):
    """Officers review; they do not record consent."""
    response = client.post(
        "/v1/subjects/C000001/consents",
        json={"purpose": "analytics", **EVIDENCE},
        headers=auth(keys["compliance-officer"]),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden_role"


def test_consent_change_and_its_audit_event_are_stored_together(client, keys, demo_dir):
    """Each ledger event has exactly one audit event naming it."""
    sid = subjects(demo_dir, minor=False)[16]
    granted = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "analytics", **EVIDENCE},
        headers=auth(keys["brand-app"]),
    ).json()

    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        details = [
            r[0]
            for r in conn.execute(
                "SELECT detail FROM audit_events WHERE kind = 'consent.granted' AND detail LIKE ?",
                (f"%{granted['event_id']}%",),
            )
        ]

    assert len(details) == 1


@pytest.mark.parametrize("evidence", [None, {}], ids=["absent", "empty"])
def test_a_grant_without_evidence_is_refused(client, keys, demo_dir, evidence):
    """C-02: a consent an auditor cannot see proof of is not recorded (422)."""
    sid = subjects(demo_dir, minor=False)[40]
    body = {k: v for k, v in EVIDENCE.items() if k != "evidence"}
    if evidence is not None:
        body["evidence"] = evidence

    response = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "marketing_push", **body},
        headers=auth(keys["brand-app"]),
    )

    assert response.status_code == 422
    assert "evidence" in response.text
