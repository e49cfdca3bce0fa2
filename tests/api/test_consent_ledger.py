"""The consent ledger as the law needs it: notices, scope, separate and guardian consent,
staleness, expiry, supersession, the personalisation opt-out, as-of and receipts."""

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from factories import auth, subjects
from fastapi.testclient import TestClient

from adapters.keys.local import LocalKeyProvider
from governance.app import create_app
from governance.consent.receipts import ReceiptSigner, verify_receipt
from governance.services import subject_referencer

MARKETING = {
    "purpose": "marketing_push",
    "notice_version": "2026.01",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
    "declared_frequency": "4/month",
}
MATERNAL = {
    "purpose": "maternal_care_recommendation",
    "notice_version": "2026.01",
    "method": "checkbox",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "mini_program",
    "kind": "separate",
}


def fresh_adult(client, keys, demo_dir, index):
    """An adult with no consent events at all (withdrawn ones would leave history)."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        seen = {
            r[0] for r in conn.execute("SELECT DISTINCT subject_id FROM consent_events")
        }
    return [s for s in subjects(demo_dir, minor=False) if s not in seen][index]


def grant(client, keys, sid, body):
    """POST a consent for `sid` as the brand app."""
    return client.post(
        f"/v1/subjects/{sid}/consents", json=body, headers=auth(keys["brand-app"])
    )


def read(client, keys, sid, purpose="marketing_push", fields=None):
    """A governed read of `sid` for `purpose` by the caller allowed that purpose."""
    caller = "campaign-sms" if purpose == "marketing_push" else "brand-app"
    query = f"?fields={fields}" if fields else ""
    return client.get(
        f"/v1/datasets/customers/records/{sid}{query}",
        headers=auth(keys[caller], purpose),
    )


def events(demo_dir, sid, purpose):
    """(action, notice_version) of the subject's ledger events for `purpose`, in order."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        return conn.execute(
            "SELECT action, notice_version FROM consent_events"
            " WHERE subject_id = ? AND purpose = ? ORDER BY id",
            (sid, purpose),
        ).fetchall()


class TestReceipts:
    def test_grant_answers_with_a_receipt_that_verifies_offline(
        self, client, keys, demo_dir
    ):
        """The receipt verifies with the public key alone, and names the grant."""
        sid = fresh_adult(client, keys, demo_dir, 0)
        body = grant(
            client, keys, sid, MARKETING | {"evidence": {"ip": "192.0.2.7"}}
        ).json()
        pem = ReceiptSigner.from_keys(
            LocalKeyProvider(demo_dir / "keys.json")
        ).public_pem()

        check = verify_receipt(body["receipt"], pem)

        receipt = body["receipt"]["receipt"]
        assert check.ok
        assert (receipt["receipt_id"], receipt["subject_id"]) == (body["event_id"], sid)
        assert receipt["declared_frequency"] == "4/month"
        assert len(receipt["evidence_hash"]) == 64
        assert "192.0.2.7" not in str(body)

    def test_a_changed_receipt_no_longer_verifies(self, client, keys, demo_dir):
        """Editing any field of a receipt breaks its signature."""
        sid = fresh_adult(client, keys, demo_dir, 1)
        doc = grant(client, keys, sid, MARKETING).json()["receipt"]
        pem = ReceiptSigner.from_keys(
            LocalKeyProvider(demo_dir / "keys.json")
        ).public_pem()
        doc["receipt"]["purpose"] = "analytics"

        assert verify_receipt(doc, pem).reason == "bad_signature"

    def test_an_expiry_given_in_beijing_time_is_signed_as_the_same_instant(
        self, client, keys, demo_dir
    ):
        """The receipt states the instant the ledger keeps, in UTC, not the local
        clock reading with a Z appended."""
        sid = fresh_adult(client, keys, demo_dir, 4)
        body = MARKETING | {"expires_at": "2030-01-01T12:00:00+08:00"}

        doc = grant(client, keys, sid, body).json()["receipt"]
        listed = client.get(
            f"/v1/subjects/{sid}/consents", headers=auth(keys["brand-app"])
        ).json()

        stated = datetime.fromisoformat(doc["receipt"]["expires_at"])
        assert stated == datetime(2030, 1, 1, 4, tzinfo=UTC)
        assert any(
            datetime.fromisoformat(c["expires_at"]) == stated
            for c in listed["consents"]
            if c.get("expires_at")
        )

    def test_the_receipt_states_the_instant_the_ledger_records(
        self, client, keys, demo_dir
    ):
        """granted_at is the grant's recorded_at to the microsecond (it was read from
        a second clock a few milliseconds apart, a day apart around midnight)."""
        sid = fresh_adult(client, keys, demo_dir, 12)

        answer = grant(client, keys, sid, MARKETING).json()
        with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
            (recorded,) = conn.execute(
                "SELECT recorded_at FROM consent_events WHERE event_id = ?",
                (answer["event_id"],),
            ).fetchone()

        stated = datetime.fromisoformat(answer["receipt"]["receipt"]["granted_at"])
        assert stated == datetime.fromisoformat(recorded).replace(tzinfo=UTC)


class TestNotices:
    @pytest.mark.parametrize(
        ("change", "fragment"),
        [
            ({"notice_version": "2099.01"}, "no notice"),
            ({"notice_version": "2025.06"}, "retired"),
            ({"declared_frequency": None}, "declared_frequency"),
            ({"kind": "guardian"}, "guardian"),
            ({"scope": ["financial.debt"]}, "scope"),
            ({"evidence": {"blob": "x" * 20_000}}, "evidence"),
            ({"expires_at": "2020-01-01T00:00:00+08:00"}, "future"),
            ({"expires_at": "13812345678"}, "does not match"),  # not a Unix time
            ({"expires_at": 1893456000}, "does not match"),
        ],
        ids=[
            "unknown-notice",
            "retired-notice",
            "no-frequency",
            "guardian-by-self",
            "scope-outside-notice",
            "oversized-evidence",
            "expired-already",
            "expiry-digits",
            "expiry-number",
        ],
    )
    def test_when_consent_is_not_valid_then_refused_and_nothing_stored(
        self, client, keys, demo_dir, change, fragment
    ):
        """Each fault is a 422 naming it, and the ledger is unchanged."""
        sid = fresh_adult(client, keys, demo_dir, 2)

        response = grant(client, keys, sid, MARKETING | change)

        assert response.status_code == 422
        assert fragment in response.json()["detail"]
        assert events(demo_dir, sid, "marketing_push") == []

    @pytest.mark.parametrize(
        "evidence",
        [
            '{"ip": "\\ud800"}',  # a lone surrogate: no UTF-8 for it
            '{"\\udfff": 1}',
            '{"n": 123456789012345678901234567890}',
            '{"n": -123456789012345678901234567890}',
            '{"n": ' + "[" * 300 + "]" * 300 + "}",
            '{"n": NaN}',  # would hash as null
            '{"n": [Infinity]}',
        ],
        ids=["surrogate", "surrogate-key", "big", "big-negative", "deep", "nan", "inf"],
    )
    def test_when_evidence_is_not_plain_json_then_refused_and_nothing_stored(
        self, client, keys, demo_dir, evidence
    ):
        """Evidence the canonical encoding cannot hash faithfully is a 422, not a 500."""
        sid = fresh_adult(client, keys, demo_dir, 2)
        terms = json.dumps(MARKETING)[:-1]

        response = client.post(
            f"/v1/subjects/{sid}/consents",
            content=f'{terms}, "evidence": {evidence}}}',
            headers=auth(keys["brand-app"]) | {"Content-Type": "application/json"},
        )

        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_request"
        assert "plain JSON" in response.json()["detail"]
        assert events(demo_dir, sid, "marketing_push") == []

    def test_when_expiry_falls_past_year_9999_in_utc_then_refused(
        self, client, keys, demo_dir
    ):
        """A time the store cannot hold is the caller's error (422), not an outage."""
        sid = fresh_adult(client, keys, demo_dir, 2)

        response = grant(
            client, keys, sid, MARKETING | {"expires_at": "9999-12-31T23:59:59-14:00"}
        )

        assert response.status_code == 422
        assert response.json()["detail"] == "expires_at is out of range"
        assert events(demo_dir, sid, "marketing_push") == []

    def test_when_subject_is_unknown_then_404(self, client, keys):
        """Consent for someone no dataset holds is refused."""
        response = grant(client, keys, "C999999", MARKETING)

        assert response.status_code == 404
        assert response.json()["code"] == "unknown_subject"

    def test_when_notice_changed_since_consent_then_stale_until_renewed(
        self, client, keys, demo_dir
    ):
        """A consent on the retired 2025.06 notice (fewer categories) is stale (C-05)."""
        with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
            stale = [
                r[0]
                for r in conn.execute(
                    "SELECT subject_id FROM consent_events WHERE purpose = 'marketing_push'"
                    " GROUP BY subject_id HAVING MAX(id) = MAX(CASE WHEN action = 'granted'"
                    " AND notice_version = '2025.06' THEN id END)"
                )
            ]
        sid = next(s for s in stale if s in set(subjects(demo_dir, minor=False)))

        before = read(client, keys, sid)
        renewed = grant(client, keys, sid, MARKETING)
        after = read(client, keys, sid)

        assert before.json()["code"] == "consent_stale"
        assert renewed.json()["superseded"] is True
        assert after.status_code == 200


class TestScopeAndSeparateConsent:
    def test_when_scope_is_narrower_then_only_it_leaves(self, client, keys, demo_dir):
        """Fields outside what the subject agreed to are withheld, or refused when named."""
        sid = fresh_adult(client, keys, demo_dir, 3)
        scope = ["identity.customer_id", "profile.nickname", "contact.phone"]
        grant(client, keys, sid, MARKETING | {"scope": scope})

        implicit = read(client, keys, sid)
        explicit = read(client, keys, sid, fields="nickname,email")

        assert set(implicit.json()["record"]) == {"customer_id", "nickname", "mobile"}
        assert explicit.json()["reasons"] == ["outside_consent_scope:email"]

    def test_sensitive_purpose_needs_separate_consent(self, client, keys, demo_dir):
        """A purpose covering health tags refuses general consent and accepts separate."""
        sid = fresh_adult(client, keys, demo_dir, 4)

        general = grant(client, keys, sid, MATERNAL | {"kind": "general"})
        separate = grant(client, keys, sid, MATERNAL)

        assert general.status_code == 422
        assert "separate" in general.json()["detail"]
        assert separate.status_code == 201

    def test_sensitive_tag_audience_includes_only_separate_consent(
        self, client, keys, demo_dir
    ):
        """An audience on 孕期 holds only subjects who gave separate consent covering it."""
        pregnant = subjects(demo_dir, minor=False, tag="孕期")
        chosen = pregnant[0]
        grant(client, keys, chosen, MATERNAL)
        body = {"fields": ["nickname"], "where": {"tags_any": ["孕期"]}, "limit": 500}

        result = client.post(
            "/v1/datasets/customers/query",
            json=body,
            headers=auth(keys["brand-app"], "maternal_care_recommendation"),
        ).json()

        ids = {r["subject_id"] for r in result["records"]}
        assert chosen in ids
        assert ids <= set(pregnant)


class TestLifecycle:
    def test_when_consent_expires_then_reads_stop(self, client, keys, demo_dir):
        """Past its expiry a consent no longer supports access (consent_expired)."""
        sid = fresh_adult(client, keys, demo_dir, 5)
        until = datetime.now(UTC) + timedelta(days=30)
        grant(client, keys, sid, MARKETING | {"expires_at": until.isoformat()})
        services = client.app.state.services

        before = read(client, keys, sid)
        client.app.state.services = replace(
            services, now=lambda: until + timedelta(seconds=1)
        )
        after = read(client, keys, sid)
        client.app.state.services = services

        assert before.status_code == 200
        assert after.json()["code"] == "consent_expired"

    def test_withdraw_marketing_ends_every_marketing_consent_only(
        self, client, keys, demo_dir
    ):
        """One tap withdraws all marketing purposes; analytics consent stays."""
        sid = fresh_adult(client, keys, demo_dir, 6)
        grant(client, keys, sid, MARKETING)
        grant(
            client,
            keys,
            sid,
            {
                **MARKETING,
                "purpose": "personalised_recommendation",
                "declared_frequency": None,
            },
        )
        grant(
            client,
            keys,
            sid,
            {**MARKETING, "purpose": "analytics", "declared_frequency": None},
        )

        response = client.post(
            f"/v1/subjects/{sid}/consents/withdraw-marketing",
            headers=auth(keys["brand-app"]),
        )

        assert sorted(response.json()["withdrawn"]) == [
            "marketing_push",
            "personalised_recommendation",
        ]
        assert read(client, keys, sid).json()["code"] == "consent_withdrawn"
        assert read(client, keys, sid, "analytics").status_code == 200

    def test_personalisation_opt_out_excludes_personalised_purposes(
        self, client, keys, demo_dir
    ):
        """Turning personalisation off stops recommendations, not marketing pushes (A-01)."""
        sid = fresh_adult(client, keys, demo_dir, 7)
        grant(client, keys, sid, MARKETING)
        grant(
            client,
            keys,
            sid,
            {
                **MARKETING,
                "purpose": "personalised_recommendation",
                "declared_frequency": None,
            },
        )

        client.post(
            f"/v1/subjects/{sid}/personalisation",
            json={"enabled": False},
            headers=auth(keys["brand-app"]),
        )
        off = read(client, keys, sid, "personalised_recommendation")
        client.post(
            f"/v1/subjects/{sid}/personalisation",
            json={"enabled": True},
            headers=auth(keys["brand-app"]),
        )
        on = read(client, keys, sid, "personalised_recommendation")

        assert off.json()["code"] == "personalisation_opted_out"
        assert read(client, keys, sid).status_code == 200
        assert on.status_code == 200

    def test_turning_personalisation_off_or_on_twice_records_it_once(
        self, client, keys, demo_dir
    ):
        """Off, off, on, on: two events, each opt-in naming the opt-out it reverses;
        a switch already in place answers changed: false."""
        sid = fresh_adult(client, keys, demo_dir, 11)

        def switch(enabled):
            return client.post(
                f"/v1/subjects/{sid}/personalisation",
                json={"enabled": enabled, "channel": "app"},
                headers=auth(keys["brand-app"]),
            ).json()["changed"]

        changed = [switch(False), switch(False), switch(True), switch(True)]
        with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
            stored = conn.execute(
                "SELECT action, event_id, refers_to FROM consent_events"
                " WHERE subject_id = ? AND purpose = 'personalisation' ORDER BY id",
                (sid,),
            ).fetchall()

        assert changed == [True, False, True, False]
        assert [(a, r) for a, _, r in stored] == [
            ("opted_out", None),
            ("opted_in", stored[0][1]),
        ]

    def test_as_of_gives_the_state_at_an_instant_with_its_events(
        self, client, keys, demo_dir
    ):
        """Before the grant: none; between grant and withdrawal: granted; after: withdrawn."""
        sid = fresh_adult(client, keys, demo_dir, 8)
        t0 = datetime.now(UTC)
        grant(client, keys, sid, MARKETING)
        t1 = datetime.now(UTC)
        client.post(
            f"/v1/subjects/{sid}/consents/marketing_push/withdraw",
            headers=auth(keys["brand-app"]),
        )
        t2 = datetime.now(UTC)

        def at(moment):
            return client.get(
                f"/v1/subjects/{sid}/consents/marketing_push/as-of",
                params={"at": moment.isoformat()},
                headers=auth(keys["compliance-officer"]),
            ).json()

        assert [at(t)["state"] for t in (t0, t1, t2)] == [
            "none",
            "granted",
            "withdrawn",
        ]
        assert [e["action"] for e in at(t2)["events"]] == ["granted", "withdrawn"]

    @pytest.mark.parametrize(
        "at",
        [
            "1772330400",
            "13812345678",
            "yesterday",
            "9999-12-31T23:00:00-05:00",
            "0001-01-01T00:00:00+08:00",
        ],
    )
    def test_as_of_takes_iso_8601_text_only(self, client, keys, at):
        """A number is no instant here either: 422, not a Unix time; nor is an
        instant outside years 1-9999 in UTC."""
        response = client.get(
            "/v1/subjects/C000001/consents/marketing_push/as-of",
            params={"at": at},
            headers=auth(keys["compliance-officer"]),
        )

        assert (response.status_code, response.json()["code"]) == (
            422,
            "invalid_request",
        )

    def test_concurrent_grants_and_withdrawals_end_in_the_last_event(
        self, client, keys, demo_dir
    ):
        """Racing grants and withdrawals keep every event; the state is the last one."""
        sid = fresh_adult(client, keys, demo_dir, 9)
        withdraw_url = f"/v1/subjects/{sid}/consents/marketing_push/withdraw"

        def act(i):
            if i % 2:
                return client.post(
                    withdraw_url, headers=auth(keys["brand-app"])
                ).status_code
            return grant(client, keys, sid, MARKETING).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(act, range(24)))

        history = [a for a, _ in events(demo_dir, sid, "marketing_push")]
        state_events = [a for a in history if a in ("granted", "withdrawn")]
        listed = client.get(
            f"/v1/subjects/{sid}/consents", headers=auth(keys["compliance-officer"])
        ).json()
        assert set(statuses) <= {200, 201}
        assert statuses.count(201) == history.count("granted")
        assert listed["consents"][0]["state"] == state_events[-1]
        assert no_event_followed_twice(demo_dir, sid)

    def test_grants_at_once_from_no_consent_leave_one_in_force(
        self, client, keys, demo_dir
    ):
        """Six grants at once for a subject who never consented: each is stored,
        every one but the last is superseded, and the receipts say so."""
        sid = fresh_adult(client, keys, demo_dir, 12)

        with ThreadPoolExecutor(6) as pool:
            answers = list(
                pool.map(lambda _: grant(client, keys, sid, MARKETING), range(6))
            )

        history = [a for a, _ in events(demo_dir, sid, "marketing_push")]
        assert [r.status_code for r in answers] == [201] * 6
        assert history.count("granted") == 6
        assert history.count("superseded") == 5
        assert [r.json()["superseded"] for r in answers].count(False) == 1
        assert no_event_followed_twice(demo_dir, sid)

    def test_a_double_tap_on_withdraw_records_one_withdrawal(
        self, client, keys, demo_dir
    ):
        """Four withdrawals at once: one event, one answer that changed it, and an
        audit event for each request."""
        sid = fresh_adult(client, keys, demo_dir, 10)
        grant(client, keys, sid, MARKETING)
        url = f"/v1/subjects/{sid}/consents/marketing_push/withdraw"

        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(
                    lambda _: client.post(url, headers=auth(keys["brand-app"])),
                    range(4),
                )
            )

        history = [a for a, _ in events(demo_dir, sid, "marketing_push")]
        assert [r.status_code for r in answers] == [200] * 4
        assert sorted(r.json()["changed"] for r in answers) == [False] * 3 + [True]
        assert history == ["granted", "withdrawn"]
        assert withdrawal_audits(demo_dir, sid) == [False] * 3 + [True]


def no_event_followed_twice(demo_dir, sid):
    """Whether every event of `sid` that another follows is followed once."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        return not conn.execute(
            "SELECT refers_to FROM consent_events WHERE subject_id = ?"
            " AND refers_to IS NOT NULL GROUP BY refers_to HAVING count(*) > 1",
            (sid,),
        ).fetchall()


def withdrawal_audits(demo_dir, sid):
    """`detail.changed` of the subject's consent.withdrawn audit events, sorted."""
    ref = subject_ref(demo_dir, sid)
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        details = conn.execute(
            "SELECT detail FROM audit_events WHERE kind = 'consent.withdrawn'"
            " AND subject_ref = ?",
            (ref,),
        ).fetchall()
    return sorted(json.loads(d)["changed"] for (d,) in details)


def subject_ref(demo_dir, sid):
    key = LocalKeyProvider(demo_dir / "keys.json").key("subject_ref")[1]
    return subject_referencer(key)(sid)


def test_withdrawal_through_one_instance_holds_in_another(
    demo_settings, keys, demo_dir
):
    """Two proxies on one store: a withdrawal made on one is enforced by the other at once."""
    sid = subjects(demo_dir, minor=False)[20]
    with (
        TestClient(create_app(demo_settings)) as one,
        TestClient(create_app(demo_settings)) as two,
    ):
        grant(one, keys, sid, MARKETING)
        before = read(two, keys, sid)
        one.post(
            f"/v1/subjects/{sid}/consents/marketing_push/withdraw",
            headers=auth(keys["brand-app"]),
        )
        after = read(two, keys, sid)
        report = one.get("/v1/audit/verify", headers=auth(keys["compliance-officer"]))

    assert before.status_code == 200
    assert after.json()["code"] == "consent_withdrawn"
    assert report.json()["ok"] is True
    assert report.json()["chains"] >= 3
