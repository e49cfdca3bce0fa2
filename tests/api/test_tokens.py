"""Tokenised reads and `POST /v1/tokens/detokenise`: allowed purposes only, audited."""

import re

import pytest
from factories import auth, customer, subjects

from adapters.keys.local import LocalKeyProvider
from governance.masking.operators.tokenise import Tokenise
from governance.types import FieldFact

RECORD = "/v1/datasets/customers/records/{}"
DETOKENISE = "/v1/tokens/detokenise"


def service(keys, purpose="customer_service"):
    """Headers of the brand app acting for `purpose`."""
    return auth(keys["brand-app"], purpose)


def email_token(client, keys, sid):
    """The e-mail token customer service reads for subject `sid`."""
    response = client.get(RECORD.format(sid), headers=service(keys))
    assert response.status_code == 200, response.text
    return response.json()["record"]["email"]


def events(client, keys, **params):
    """Audit events the officer sees."""
    return client.get(
        "/v1/audit/events", params=params, headers=auth(keys["compliance-officer"])
    ).json()["events"]


def tokeniser(demo_dir, domain):
    """A tokeniser over the deployment's own tokenise key, for `domain`."""
    provider = LocalKeyProvider(demo_dir / "keys.json")
    current, _ = provider.key("tokenise")
    return Tokenise(keys=provider.versions("tokenise"), current=current, domain=domain)


class TestTokenisedRead:
    def test_customer_service_reads_email_as_a_stable_token(
        self, client, keys, demo_dir
    ):
        """The obligation is tokenise: the agent sees a token, the same on every read."""
        sid = subjects(demo_dir, minor=False)[2]

        first = client.get(RECORD.format(sid), headers=service(keys)).json()
        second = email_token(client, keys, sid)

        assert first["obligations"]["email"] == "tokenise"
        assert re.fullmatch(r"tk1_[A-Za-z0-9_-]+", first["record"]["email"])
        assert first["record"]["email"] == second
        assert customer(demo_dir, sid)["email"] not in str(first)


class TestDetokenise:
    def test_allowed_purpose_gets_the_values_in_order(self, client, keys, demo_dir):
        """Customer service (detokenise: true) turns its tokens back into addresses."""
        sids = subjects(demo_dir, minor=False)[:3]
        tokens = [email_token(client, keys, s) for s in sids]

        response = client.post(
            DETOKENISE, json={"tokens": tokens}, headers=service(keys)
        )

        assert response.status_code == 200, response.text
        assert response.json()["values"] == [
            customer(demo_dir, s)["email"] for s in sids
        ]
        assert response.headers["X-Decision-Id"] == response.json()["decision_id"]
        assert response.headers["Cache-Control"] == "no-store"

    def test_detokenising_is_audited_with_counts_never_values(
        self, client, keys, demo_dir
    ):
        """The event names caller, purpose, how many tokens and categories; no value."""
        sid = subjects(demo_dir, minor=False)[0]
        token = email_token(client, keys, sid)

        response = client.post(
            DETOKENISE, json={"tokens": [token, token]}, headers=service(keys)
        )

        decision_id = response.headers["X-Decision-Id"]
        found = [e for e in events(client, keys) if e["decision_id"] == decision_id]
        assert len(found) == 1
        event = found[0]
        assert (event["kind"], event["outcome"]) == ("access.detokenise", "allowed")
        assert (event["caller"], event["purpose"]) == ("brand-app", "customer_service")
        assert event["detail"]["tokens"] == 2
        assert event["detail"]["categories"] == {"contact.email": 2}
        assert token not in str(event)
        assert customer(demo_dir, sid)["email"] not in str(event)

    def test_purpose_not_allowed_to_detokenise_is_refused_and_audited(
        self, client, keys, demo_dir
    ):
        """A purpose without `detokenise: true` gets 403, audited as denied."""
        token = email_token(client, keys, subjects(demo_dir, minor=False)[0])

        response = client.post(
            DETOKENISE,
            json={"tokens": [token]},
            headers=service(keys, "order_fulfilment"),
        )

        assert response.status_code == 403
        assert response.json()["code"] == "detokenise_not_permitted"
        decision_id = response.headers["X-Decision-Id"]
        event = next(e for e in events(client, keys) if e["decision_id"] == decision_id)
        assert (event["outcome"], event["reason"]) == (
            "denied",
            "detokenise_not_permitted",
        )

    @pytest.mark.parametrize(
        "make",
        [
            lambda token: token[:-3],
            lambda token: "tk1_" + "QUJD" * 10,
            lambda token: "tk7_" + token[4:],
            lambda token: "13812345678",
        ],
        ids=["truncated", "forged", "unknown-version", "a-raw-value"],
    )
    def test_bad_token_is_422_without_echoing_it(self, client, keys, demo_dir, make):
        """A token that does not open is refused by position, never echoed."""
        good = email_token(client, keys, subjects(demo_dir, minor=False)[0])
        bad = make(good)

        response = client.post(
            DETOKENISE, json={"tokens": [good, bad]}, headers=service(keys)
        )

        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"
        assert "tokens[1]" in response.json()["detail"]
        assert bad not in response.text
        assert good not in response.text

    def test_token_of_another_domain_does_not_open(self, client, keys, demo_dir):
        """A token made for another pseudonym domain is as good as forged."""
        raw = customer(demo_dir, subjects(demo_dir, minor=False)[0])["email"]
        foreign = tokeniser(demo_dir, "analytics").apply(
            raw, FieldFact("email", "contact.email", False)
        )

        response = client.post(
            DETOKENISE, json={"tokens": [foreign]}, headers=service(keys)
        )

        assert response.status_code == 422
        assert raw not in response.text

    def test_category_outside_the_purpose_is_refused(self, client, keys, demo_dir):
        """Even in its own domain, a purpose only opens categories it may use."""
        card = customer(demo_dir, subjects(demo_dir, minor=False)[0])["bank_card"]
        token = tokeniser(demo_dir, "customer_service").apply(
            card, FieldFact("bank_card", "financial.bank_card", True)
        )

        response = client.post(
            DETOKENISE, json={"tokens": [token]}, headers=service(keys)
        )

        assert response.status_code == 403
        assert response.json()["reasons"] == [
            "category_not_permitted:financial.bank_card"
        ]
        assert card not in response.text

    @pytest.mark.parametrize(
        ("headers", "body", "status", "code"),
        [
            (None, {"tokens": ["tk1_AAAA"]}, 401, "unauthenticated"),
            ("officer", {"tokens": ["tk1_AAAA"]}, 403, "forbidden_role"),
            ("no-purpose", {"tokens": ["tk1_AAAA"]}, 422, "invalid_request"),
            ("sms", {"tokens": ["tk1_AAAA"]}, 403, "purpose_not_permitted"),
            ("service", {"tokens": []}, 422, "invalid_request"),
            ("service", {"tokens": ["x"] * 1001}, 422, "invalid_request"),
            ("service", {"tokens": ["tk1_" + "A" * 9000]}, 422, "invalid_request"),
            ("service", {"tokens": "tk1_AAAA"}, 422, "invalid_request"),
            ("service", {"tokens": ["tk1_AAAA"], "why": 1}, 422, "invalid_request"),
        ],
        ids=[
            "no-key",
            "officer",
            "no-purpose",
            "purpose-not-held",
            "empty",
            "too-many",
            "too-long",
            "not-a-list",
            "unknown-key",
        ],
    )
    def test_bad_requests_are_problems(self, client, keys, headers, body, status, code):
        """Callers, purposes and bodies are checked before any token is opened."""
        chosen = {
            "officer": auth(keys["compliance-officer"], "customer_service"),
            "no-purpose": auth(keys["brand-app"]),
            "sms": auth(keys["campaign-sms"], "customer_service"),
            "service": service(keys),
        }.get(headers, {})

        response = client.post(DETOKENISE, json=body, headers=chosen)

        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code
