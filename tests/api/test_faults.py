"""Faults at the HTTP edge: bad credentials, bad input, hostile values, broken dependencies.

Every refusal must be RFC 9457 problem+json with its documented `code`, never a
500, never a stack trace or a source path, and never a personal value of the
subject. A broken policy engine or audit store fails closed (503) and the proxy
recovers by itself once the store is writable again.
"""

import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest
from factories import auth, customer, subjects
from fastapi.testclient import TestClient

from governance.app import create_app
from governance.settings import Settings

READ = "/v1/datasets/{dataset}/records/{subject}"
QUERY = "/v1/datasets/{dataset}/query"
CONSENTS = "/v1/subjects/{subject}/consents"
WITHDRAW = "/v1/subjects/{subject}/consents/{purpose}/withdraw"
EVENTS = "/v1/audit/events"
VERIFY = "/v1/audit/verify"

PROBLEM_JSON = "application/problem+json"
MAX_BODY = 1 << 20
PHONE = "13800138000"  # synthetic mobile number planted in bad bodies
PERSONAL_FIELDS = ("name", "mobile", "id_number", "email", "bank_card")
GRANT = {
    "purpose": "marketing_push",
    "notice_version": "2026.01",
    "declared_frequency": "4/month",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
}
POLICIES = Path(__file__).resolve().parents[2] / "policies"
DEMO_CUSTOMERS = 400

HOSTILE = {
    "quote-or-true": "' OR 1=1 --",
    "drop-table": "C000001'; DROP TABLE customers;--",
    "percent": "%",
    "underscore": "_",
    "unicode": "客户😀ü",
    "control-chars": "a\x01\x07\x1b\x7fb",
}
TOO_LONG = "x" * 10_000

Send = Callable[[TestClient, dict[str, str], str, str], httpx.Response]


# --- helpers -----------------------------------------------------------------------------


def assert_problem(
    response: httpx.Response,
    status: int,
    code: str,
    personal: list[str] | tuple[str, ...] = (),
) -> None:
    """The response is a clean problem+json with this status and code, leaking nothing."""
    text = response.text

    assert response.status_code == status, text[:300]
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["code"] == code
    assert "Traceback" not in text
    assert ".py" not in text
    assert [v for v in personal if v in text] == []


def read(
    client: TestClient,
    key: str,
    purpose: str | bytes | None = "order_fulfilment",
    *,
    subject: str,
    dataset: str = "customers",
    fields: str | None = None,
) -> httpx.Response:
    """GET one record; path parts are percent-encoded as a client library would."""
    headers: dict[str, Any] = auth(key)
    if purpose is not None:
        headers["X-Purpose"] = purpose
    url = READ.format(dataset=quote(dataset, safe=""), subject=quote(subject, safe=""))
    params = {"fields": fields} if fields is not None else None
    return client.get(url, params=params, headers=headers)


def query(
    client: TestClient,
    key: str,
    purpose: str | bytes | None = "marketing_push",
    *,
    body: dict[str, Any] | None = None,
    dataset: str = "customers",
) -> httpx.Response:
    """POST a governed query (default body: names of the first page)."""
    headers: dict[str, Any] = auth(key)
    if purpose is not None:
        headers["X-Purpose"] = purpose
    url = QUERY.format(dataset=quote(dataset, safe=""))
    return client.post(
        url, json={"fields": ["name"]} if body is None else body, headers=headers
    )


def grant(
    client: TestClient, key: str, *, subject: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    """POST a consent grant (default: marketing_push by click in the app)."""
    url = CONSENTS.format(subject=quote(subject, safe=""))
    return client.post(url, json=GRANT if body is None else body, headers=auth(key))


def audit_events(client: TestClient, key: str, **params: str) -> httpx.Response:
    """GET the officer's view of the trail with these filters."""
    return client.get(EVENTS, params=params, headers=auth(key))


def consent_rows(demo_dir: Path, subject_id: str | None = None) -> int:
    """How many consent events the governance store holds (for one subject, if given)."""
    sql = "SELECT count(*) FROM consent_events"
    args: tuple[str, ...] = ()
    if subject_id is not None:
        sql, args = sql + " WHERE subject_id = ?", (subject_id,)
    with closing(sqlite3.connect(demo_dir / "governance.db")) as db:
        return int(db.execute(sql, args).fetchone()[0])


def customer_rows(demo_dir: Path) -> int:
    """How many rows the demo customers table holds."""
    with closing(sqlite3.connect(demo_dir / "customers.db")) as db:
        return int(db.execute("SELECT count(*) FROM customers").fetchone()[0])


@pytest.fixture
def subject(demo_dir: Path) -> str:
    """An adult demo customer (a minor would be refused by policy for marketing)."""
    return subjects(demo_dir, minor=False)[0]


@pytest.fixture
def personal(demo_dir: Path, subject: str) -> list[str]:
    """The subject's raw personal values, none of which may appear in an error body."""
    row = customer(demo_dir, subject)
    return [row[f] for f in PERSONAL_FIELDS]


# --- 1. authentication and role ------------------------------------------------------------

ENDPOINTS: dict[
    str, tuple[str, Callable[[TestClient, dict[str, str], str], httpx.Response]]
] = {
    # name: (caller whose key is the base of a forged key, request with the given auth headers)
    "read-record": (
        "brand-app",
        lambda c, h, s: c.get(
            READ.format(dataset="customers", subject=s),
            headers={**h, "X-Purpose": "order_fulfilment"},
        ),
    ),
    "query": (
        "campaign-sms",
        lambda c, h, s: c.post(
            QUERY.format(dataset="customers"),
            json={"fields": ["name"]},
            headers={**h, "X-Purpose": "marketing_push"},
        ),
    ),
    "grant-consent": (
        "brand-app",
        lambda c, h, s: c.post(CONSENTS.format(subject=s), json=GRANT, headers=h),
    ),
    "audit-events": ("compliance-officer", lambda c, h, s: c.get(EVENTS, headers=h)),
    "audit-verify": ("compliance-officer", lambda c, h, s: c.get(VERIFY, headers=h)),
}


def _other_last_char(key: str) -> str:
    return key[:-1] + ("B" if key.endswith("A") else "A")


BAD_CREDENTIALS: dict[str, Callable[[str], dict[str, str]]] = {
    "missing": lambda key: {},
    "basic-scheme": lambda key: {"Authorization": f"Basic {key}"},
    "bearer-without-key": lambda key: {"Authorization": "Bearer"},
    "malformed-key": lambda key: {"Authorization": "Bearer not-a-governance-key"},
    "truncated-key": lambda key: {"Authorization": f"Bearer {key[:-5]}"},
    "wrong-secret": lambda key: {"Authorization": f"Bearer {_other_last_char(key)}"},
    "unknown-well-formed-key": lambda key: {
        "Authorization": f"Bearer gp_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"
    },
}

ROLE_MISMATCHES = {
    "officer-reads-record": ("compliance-officer", "read-record"),
    "admin-reads-record": ("platform-admin", "read-record"),
    "officer-queries": ("compliance-officer", "query"),
    "officer-grants-consent": ("compliance-officer", "grant-consent"),
    "service-lists-audit-events": ("campaign-sms", "audit-events"),
    "service-verifies-audit": ("brand-app", "audit-verify"),
}


class TestAuthentication:
    """Who may call at all, and with which role."""

    @pytest.mark.parametrize(
        "credentials", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS)
    )
    @pytest.mark.parametrize("endpoint", list(ENDPOINTS), ids=list(ENDPOINTS))
    def test_when_the_key_is_missing_or_invalid_then_401_with_bearer_challenge(
        self, client, keys, subject, personal, endpoint, credentials
    ):
        """A request without a valid bearer key gets 401 unauthenticated and a Bearer challenge."""
        caller, send = ENDPOINTS[endpoint]
        headers = BAD_CREDENTIALS[credentials](keys[caller])

        response = send(client, headers, subject)

        assert_problem(response, 401, "unauthenticated", personal)
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_when_the_key_was_revoked_then_401(self, client, keys, subject, personal):
        """A key revoked by an admin is refused on its next request like an unknown key."""
        revoked = client.post(
            "/v1/callers/brand-app/revoke", headers=auth(keys["platform-admin"])
        )

        response = read(client, keys["brand-app"], subject=subject)

        assert revoked.status_code == 200
        assert_problem(response, 401, "unauthenticated", personal)
        assert response.headers["WWW-Authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        ("caller", "endpoint"),
        list(ROLE_MISMATCHES.values()),
        ids=list(ROLE_MISMATCHES),
    )
    def test_when_the_role_does_not_fit_the_endpoint_then_403_forbidden_role(
        self, client, keys, subject, personal, caller, endpoint
    ):
        """Officers and admins may not read data; services may not read the audit trail."""
        _, send = ENDPOINTS[endpoint]

        response = send(client, auth(keys[caller]), subject)

        assert_problem(response, 403, "forbidden_role", personal)
        assert "WWW-Authenticate" not in response.headers


# --- 2. purpose ---------------------------------------------------------------------------

PURPOSE_FAULTS = {
    "absent": (None, 422, "invalid_request"),
    "empty": ("", 422, "invalid_request"),
    "undeclared": ("telemarketing", 422, "invalid_request"),
    "declared-but-not-the-callers": ("order_fulfilment", 403, "purpose_not_permitted"),
}


class TestPurpose:
    """The declared purpose must exist and be one of the caller's."""

    @pytest.mark.parametrize(
        ("purpose", "status", "code"),
        list(PURPOSE_FAULTS.values()),
        ids=list(PURPOSE_FAULTS),
    )
    def test_when_a_read_declares_a_bad_purpose_then_it_is_refused(
        self, client, keys, subject, personal, purpose, status, code
    ):
        """campaign-sms reading a record with a missing, unknown or foreign purpose is refused."""
        response = read(client, keys["campaign-sms"], purpose, subject=subject)

        assert_problem(response, status, code, personal)

    @pytest.mark.parametrize(
        ("purpose", "status", "code"),
        list(PURPOSE_FAULTS.values()),
        ids=list(PURPOSE_FAULTS),
    )
    def test_when_a_query_declares_a_bad_purpose_then_it_is_refused(
        self, client, keys, personal, purpose, status, code
    ):
        """campaign-sms querying with a missing, unknown or foreign purpose is refused."""
        response = query(client, keys["campaign-sms"], purpose)

        assert_problem(response, status, code, personal)

    def test_when_a_service_records_consent_for_a_foreign_purpose_then_403(
        self, client, keys, subject, personal, demo_dir
    ):
        """A service may record consent only for its own purposes, and nothing is stored."""
        recorder = client.post(
            "/v1/callers",
            json={
                "name": "crm-app",
                "role": "service",
                "purposes": ["marketing_push"],
                "records_consent": True,
            },
            headers=auth(keys["platform-admin"]),
        ).json()["key"]
        before = consent_rows(demo_dir)

        response = grant(
            client, recorder, subject=subject, body={**GRANT, "purpose": "analytics"}
        )

        assert_problem(response, 403, "purpose_not_permitted", personal)
        assert consent_rows(demo_dir) == before


# --- 3. unknown resources and fields --------------------------------------------------------

READ_FAULTS = {
    "unknown-dataset": ({"dataset": "orders"}, 404, "unknown_dataset"),
    "unknown-subject": ({"subject": "C999999"}, 404, "unknown_subject"),
    "subject-id-of-128-chars": ({"subject": "C" * 128}, 404, "unknown_subject"),
    "subject-id-of-129-chars": ({"subject": "C" * 129}, 422, "invalid_request"),
    "unknown-field": ({"fields": "name,shoe_size"}, 422, "invalid_request"),
    "empty-fields": ({"fields": ""}, 422, "invalid_request"),
    "only-commas-in-fields": ({"fields": " , ,"}, 422, "invalid_request"),
}
QUERY_FAULTS = {
    "unknown-dataset": ({"dataset": "orders"}, 404, "unknown_dataset"),
    "unknown-field": ({"body": {"fields": ["shoe_size"]}}, 422, "invalid_request"),
    "empty-fields": ({"body": {"fields": []}}, 422, "invalid_request"),
    "undeclared-tag": (
        {"body": {"where": {"tags_any": ["不存在"]}}},
        422,
        "invalid_request",
    ),
    "forged-cursor": (
        {"body": {"cursor": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
        422,
        "invalid_request",
    ),
}


class TestResources:
    """Datasets, subjects and fields that do not exist."""

    @pytest.mark.parametrize(
        ("change", "status", "code"), list(READ_FAULTS.values()), ids=list(READ_FAULTS)
    )
    def test_when_a_read_names_something_unknown_then_it_is_refused(
        self, client, keys, subject, personal, change, status, code
    ):
        """Unknown datasets and subjects are 404; unknown, empty or oversized names are 422."""
        args = {"subject": subject, **change}

        response = read(client, keys["brand-app"], **args)

        assert_problem(response, status, code, personal)
        assert response.headers["X-Decision-Id"] == response.json()["decision_id"]

    @pytest.mark.parametrize(
        ("change", "status", "code"),
        list(QUERY_FAULTS.values()),
        ids=list(QUERY_FAULTS),
    )
    def test_when_a_query_names_something_unknown_then_it_is_refused(
        self, client, keys, personal, change, status, code
    ):
        """Unknown datasets are 404; unknown fields, empty fields, unknown tags are 422."""
        response = query(client, keys["campaign-sms"], **change)

        assert_problem(response, status, code, personal)


# --- 4. hostile values in every parameter ---------------------------------------------------

TARGETS: dict[str, tuple[Send, int, str]] = {
    # name: (send the value in this parameter, status, code when refused)
    "read-path-subject_id": (
        lambda c, k, s, v: read(c, k["brand-app"], subject=v),
        404,
        "unknown_subject",
    ),
    "read-path-dataset": (
        lambda c, k, s, v: read(c, k["brand-app"], subject=s, dataset=v),
        404,
        "unknown_dataset",
    ),
    "read-query-fields": (
        lambda c, k, s, v: read(c, k["brand-app"], subject=s, fields=v),
        422,
        "invalid_request",
    ),
    "read-header-x_purpose": (
        lambda c, k, s, v: read(c, k["brand-app"], v.encode(), subject=s),
        422,
        "invalid_request",
    ),
    "query-path-dataset": (
        lambda c, k, s, v: query(c, k["campaign-sms"], dataset=v),
        404,
        "unknown_dataset",
    ),
    "query-header-x_purpose": (
        lambda c, k, s, v: query(c, k["campaign-sms"], v.encode()),
        422,
        "invalid_request",
    ),
    "query-body-fields": (
        lambda c, k, s, v: query(c, k["campaign-sms"], body={"fields": ["name", v]}),
        422,
        "invalid_request",
    ),
    "query-body-tags_any": (
        lambda c, k, s, v: query(
            c, k["campaign-sms"], body={"where": {"tags_any": [v]}}
        ),
        422,
        "invalid_request",
    ),
    "query-body-tags_all": (
        lambda c, k, s, v: query(
            c, k["campaign-sms"], body={"where": {"tags_all": ["新客", v]}}
        ),
        422,
        "invalid_request",
    ),
    "query-body-cursor": (
        lambda c, k, s, v: query(c, k["campaign-sms"], body={"cursor": v}),
        422,
        "invalid_request",
    ),
    "consent-body-purpose": (
        lambda c, k, s, v: grant(
            c, k["brand-app"], subject=s, body={**GRANT, "purpose": v}
        ),
        422,
        "invalid_request",
    ),
    "consent-body-notice_version": (
        lambda c, k, s, v: grant(
            c, k["brand-app"], subject=s, body={**GRANT, "notice_version": v}
        ),
        422,
        "invalid_request",
    ),
    "consent-body-method": (
        lambda c, k, s, v: grant(
            c, k["brand-app"], subject=s, body={**GRANT, "method": v}
        ),
        422,
        "invalid_request",
    ),
    "consent-body-channel": (
        lambda c, k, s, v: grant(
            c, k["brand-app"], subject=s, body={**GRANT, "channel": v}
        ),
        422,
        "invalid_request",
    ),
    "withdraw-path-purpose": (
        lambda c, k, s, v: c.post(
            WITHDRAW.format(subject=s, purpose=quote(v, safe="")),
            headers=auth(k["brand-app"]),
        ),
        422,
        "invalid_request",
    ),
    "audit-query-outcome": (
        lambda c, k, s, v: audit_events(c, k["compliance-officer"], outcome=v),
        422,
        "invalid_filter",
    ),
    "audit-query-since": (
        lambda c, k, s, v: audit_events(c, k["compliance-officer"], since=v),
        422,
        "invalid_filter",
    ),
    "audit-query-until": (
        lambda c, k, s, v: audit_events(c, k["compliance-officer"], until=v),
        422,
        "invalid_filter",
    ),
    "audit-query-limit": (
        lambda c, k, s, v: audit_events(c, k["compliance-officer"], limit=v),
        422,
        "invalid_filter",
    ),
    "audit-query-cursor": (
        lambda c, k, s, v: audit_events(c, k["compliance-officer"], cursor=v),
        422,
        "invalid_cursor",
    ),
    # Caller and purpose names have a syntax (callers, catalog): odd text is malformed.
    "audit-query-caller": (
        lambda c, k, s, v: audit_events(c, k["compliance-officer"], caller=v),
        422,
        "invalid_filter",
    ),
    "audit-query-purpose": (
        lambda c, k, s, v: audit_events(c, k["compliance-officer"], purpose=v),
        422,
        "invalid_filter",
    ),
}

# Parameters that accept any short text as a literal: refused only when too long.
LITERALS: dict[str, Send] = {
    "consent-path-subject_id": lambda c, k, s, v: grant(c, k["brand-app"], subject=v),
    "audit-query-subject_id": lambda c, k, s, v: audit_events(
        c, k["compliance-officer"], subject_id=v
    ),
}

# `_` is a well-formed notice version (`^[\w.\-]+$`), so a grant with it rightly succeeds.
WELL_FORMED = {("consent-body-notice_version", "underscore")}
HOSTILE_CASES = [
    pytest.param(target, value, id=f"{target}-{name}")
    for target in TARGETS
    for name, value in HOSTILE.items()
    if (target, name) not in WELL_FORMED
]
SENDERS: dict[str, Send] = {
    **{name: send for name, (send, _, _) in TARGETS.items()},
    **LITERALS,
}
# 10 000 characters are refused everywhere; in a dataset path they just name no dataset.
TOO_LONG_EXPECTED = dict.fromkeys(SENDERS, (422, "invalid_request")) | {
    "read-path-dataset": (404, "unknown_dataset"),
    "query-path-dataset": (404, "unknown_dataset"),
    **{n: (422, "invalid_filter") for n in SENDERS if n.startswith("audit-")},
    "audit-query-cursor": (422, "invalid_cursor"),
}
AUDIT_FILTERS = [n for n in LITERALS if n.startswith("audit-")]


class TestHostileValues:
    """SQL metacharacters, wildcards, odd text and huge values in every parameter."""

    @pytest.mark.parametrize(("target", "value"), HOSTILE_CASES)
    def test_when_a_parameter_holds_a_hostile_value_then_it_is_refused_with_its_code(
        self, client, keys, subject, personal, target, value
    ):
        """Each hostile value is refused with the parameter's documented problem, never a 500."""
        send, status, code = TARGETS[target]

        response = send(client, keys, subject, value)

        assert_problem(response, status, code, personal)

    @pytest.mark.parametrize(
        "target", list(TOO_LONG_EXPECTED), ids=list(TOO_LONG_EXPECTED)
    )
    def test_when_a_parameter_is_10000_characters_then_it_is_refused(
        self, client, keys, subject, personal, target
    ):
        """A 10 000-character value is 422 (404 for a dataset path, which is simply unknown)."""
        status, code = TOO_LONG_EXPECTED[target]

        response = SENDERS[target](client, keys, subject, TOO_LONG)

        assert_problem(response, status, code, personal)

    @pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
    def test_when_a_consent_subject_id_holds_odd_text_then_it_is_looked_up_verbatim(
        self, client, keys, demo_dir, value
    ):
        """A subject id is a bound parameter: no such subject, so 404 and nothing stored."""
        response = grant(client, keys["brand-app"], subject=value)

        assert response.status_code == 404
        assert response.json()["code"] == "unknown_subject"
        assert consent_rows(demo_dir, value) == 0

    @pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
    @pytest.mark.parametrize("target", AUDIT_FILTERS, ids=AUDIT_FILTERS)
    def test_when_an_audit_filter_holds_odd_text_then_no_event_matches(
        self, client, keys, subject, target, value
    ):
        """`' OR 1=1 --`, `%` or `_` in a filter match literally, so no event matches."""
        read(client, keys["brand-app"], subject=subject)  # at least one event exists

        response = LITERALS[target](client, keys, subject, value)

        assert response.status_code == 200
        assert response.json()["events"] == []

    def test_when_every_parameter_was_attacked_then_the_store_is_intact_and_reads_work(
        self, client, keys, subject, demo_dir
    ):
        """After every hostile value in every parameter, 400 customers remain and reads work."""
        statuses = {
            send(client, keys, subject, value).status_code
            for send in SENDERS.values()
            for value in [*HOSTILE.values(), TOO_LONG]
        }

        response = read(
            client, keys["brand-app"], subject=subject, fields="customer_id,mobile"
        )

        assert max(statuses) < 500
        assert customer_rows(demo_dir) == DEMO_CUSTOMERS
        assert response.status_code == 200
        assert (
            response.json()["record"]["mobile"] == customer(demo_dir, subject)["mobile"]
        )


# --- 5. malformed bodies ------------------------------------------------------------------


def _planted(text: str) -> bytes:
    """`text` with the synthetic phone number put where it says PHONE."""
    return text.replace("PHONE", PHONE).encode()


MALFORMED = {
    # name: (url template, raw body)
    "query-truncated-json": (
        QUERY,
        _planted('{"fields": ["mobile"], "cursor": "PHONE'),
    ),
    "query-fields-not-a-list": (QUERY, _planted('{"fields": "PHONE"}')),
    "query-field-not-a-string": (QUERY, _planted('{"fields": [PHONE]}')),
    "query-limit-not-an-int": (QUERY, _planted('{"limit": "PHONEx"}')),
    "query-where-not-an-object": (QUERY, _planted('{"where": "PHONE"}')),
    "query-tags-not-a-list": (QUERY, _planted('{"where": {"tags_any": "PHONE"}}')),
    "query-unknown-key": (QUERY, _planted('{"fields": ["name"], "mobile": "PHONE"}')),
    "query-unknown-where-key": (QUERY, _planted('{"where": {"mobile": "PHONE"}}')),
    "query-array-body": (QUERY, _planted('["PHONE"]')),
    # regression: a body not in UTF-8 was 400 `http_error`
    "query-not-utf8": (QUERY, b'{"fields": ["\xff' + PHONE.encode() + b'"]}'),
    # regression: the `loc` of an unknown key is the key itself, and it was echoed
    "query-phone-as-unknown-key": (QUERY, _planted('{"fields": ["name"], "PHONE": 1}')),
    "consent-truncated-json": (CONSENTS, _planted('{"purpose": "PHONE')),
    "consent-purpose-not-a-string": (
        CONSENTS,
        _planted(
            '{"purpose": PHONE, "notice_version": "1", "method": "click", "channel": "app"}'
        ),
    ),
    "consent-missing-method": (
        CONSENTS,
        _planted(
            '{"purpose": "marketing_push", "notice_version": "PHONE", "channel": "app"}'
        ),
    ),
    "consent-unknown-key": (
        CONSENTS,
        _planted(
            '{"purpose": "marketing_push", "notice_version": "1", "method": "click",'
            ' "channel": "app", "mobile": "PHONE"}'
        ),
    ),
    "withdraw-unknown-key": (
        WITHDRAW,
        _planted('{"method": "click", "mobile": "PHONE"}'),
    ),
    "withdraw-method-not-a-string": (WITHDRAW, _planted('{"method": PHONE}')),
}


class TestMalformedBodies:
    """Bodies that are not JSON, have the wrong types, or carry undeclared keys."""

    @pytest.mark.parametrize(
        ("url", "body"), list(MALFORMED.values()), ids=list(MALFORMED)
    )
    def test_when_a_body_is_malformed_then_422_without_echoing_it(
        self, client, keys, subject, personal, url, body
    ):
        """A malformed body is 422 invalid_request whose text holds none of the submitted values."""
        headers = {
            **auth(keys["brand-app"], "marketing_push"),
            "Content-Type": "application/json",
        }
        target = url.format(
            dataset="customers", subject=subject, purpose="marketing_push"
        )

        response = client.post(target, content=body, headers=headers)

        assert_problem(response, 422, "invalid_request", personal)
        assert PHONE not in response.text


# --- 6. body size -------------------------------------------------------------------------


def _padded(size: int) -> bytes:
    """A valid query body padded with JSON whitespace to exactly `size` bytes."""
    core = b'{"fields": ["name"], "limit": 1}'
    return core + b" " * (size - len(core))


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """`body` as a stream of chunks, so it is sent without a Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


class TestRepeatedHeaders:
    """A header the decision reads, given twice, is refused: no copy is chosen."""

    @pytest.mark.parametrize(
        "name", ["Authorization", "X-Purpose", "X-Recipient", "X-Approval-Ref"]
    )
    def test_when_a_deciding_header_is_repeated_then_422_and_nothing_read(
        self, client, keys, subject, personal, demo_dir, name
    ):
        """Two keys, purposes, recipients or approvals: 422, and no access is made."""
        values = {
            "Authorization": [
                f"Bearer {keys['brand-app']}",
                f"Bearer {keys['campaign-sms']}",
            ],
            "X-Purpose": ["order_fulfilment", "marketing_push"],
            "X-Recipient": ["cobrand-bank", "unknown-partner"],
            "X-Approval-Ref": ["APR-1", "APR-2"],
        }[name]
        headers = [
            (k, v)
            for k, v in auth(keys["brand-app"], "order_fulfilment").items()
            if k.lower() != name.lower()
        ] + [(name, v) for v in values]
        before = _accesses(demo_dir)

        response = client.get(
            f"/v1/datasets/customers/records/{subject}", headers=headers
        )

        assert_problem(response, 422, "invalid_request", personal)
        assert name.lower() in response.json()["detail"]
        assert _accesses(demo_dir) == before

    def test_a_header_given_once_among_others_is_served(self, client, keys, subject):
        """Other repeated headers (Accept, say) are no reason to refuse."""
        headers = [
            *auth(keys["brand-app"], "order_fulfilment").items(),
            ("Accept", "application/json"),
            ("Accept", "*/*"),
        ]

        response = client.get(
            f"/v1/datasets/customers/records/{subject}", headers=headers
        )

        assert response.status_code == 200


def _accesses(demo_dir) -> int:
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        return conn.execute(
            "SELECT count(*) FROM audit_events WHERE kind = 'access.read'"
        ).fetchone()[0]


class TestBodySize:
    """Bodies over 1 MiB are refused whether declared or streamed."""

    @pytest.mark.parametrize("url", [QUERY, CONSENTS], ids=["query", "grant-consent"])
    def test_when_a_declared_body_exceeds_1_mib_then_413(
        self, client, keys, subject, personal, url
    ):
        """A Content-Length over the limit is refused before any handler reads the body."""
        target = url.format(dataset="customers", subject=subject)
        headers = {
            **auth(keys["brand-app"], "marketing_push"),
            "Content-Type": "application/json",
        }

        response = client.post(target, content=_padded(MAX_BODY + 1), headers=headers)

        assert_problem(response, 413, "payload_too_large", personal)

    @pytest.mark.parametrize("url", [QUERY, CONSENTS], ids=["query", "grant-consent"])
    def test_when_a_streamed_body_exceeds_1_mib_then_413(
        self, client, keys, subject, personal, url
    ):
        """A chunked body without Content-Length is refused once over the limit (was 400)."""
        target = url.format(dataset="customers", subject=subject)
        headers = {
            **auth(keys["brand-app"], "marketing_push"),
            "Content-Type": "application/json",
        }

        response = client.post(
            target, content=_chunks(_padded(MAX_BODY + 1)), headers=headers
        )

        assert_problem(response, 413, "payload_too_large", personal)

    @pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
    def test_when_a_body_is_exactly_1_mib_then_it_is_served(
        self, client, keys, streamed
    ):
        """The limit is inclusive: a valid query of exactly 1 MiB is answered."""
        body = _padded(MAX_BODY)
        headers = {
            **auth(keys["campaign-sms"], "marketing_push"),
            "Content-Type": "application/json",
        }

        response = client.post(
            QUERY.format(dataset="customers"),
            content=_chunks(body) if streamed else body,
            headers=headers,
        )

        assert response.status_code == 200
        assert len(response.json()["records"]) <= 1


# --- 7. query limit -----------------------------------------------------------------------

REFUSED_LIMITS = {"zero": 0, "negative": -1, "one-over-maximum": 1001, "huge": 10**9}
SERVED_LIMITS = {"one": 1, "maximum": 1000}


class TestQueryLimit:
    """`limit` must lie in 1..1000."""

    @pytest.mark.parametrize(
        "limit", list(REFUSED_LIMITS.values()), ids=list(REFUSED_LIMITS)
    )
    def test_when_limit_is_outside_1_to_1000_then_422(
        self, client, keys, personal, limit
    ):
        """A limit of 0, below 0 or above 1000 is 422 invalid_request."""
        response = query(client, keys["campaign-sms"], body={"limit": limit})

        assert_problem(response, 422, "invalid_request", personal)

    @pytest.mark.parametrize(
        "limit", list(SERVED_LIMITS.values()), ids=list(SERVED_LIMITS)
    )
    def test_when_limit_is_a_bound_then_the_page_is_served(self, client, keys, limit):
        """The bounds 1 and 1000 themselves are served, with at most `limit` records.

        Above the demo's bulk threshold (500) a page needs an approval reference (K-02).
        """
        headers = auth(keys["campaign-sms"], "marketing_push")
        headers["X-Approval-Ref"] = "K02-2026-001"
        response = client.post(
            QUERY.format(dataset="customers"), json={"limit": limit}, headers=headers
        )

        assert response.status_code == 200
        assert 0 < len(response.json()["records"]) <= limit


# --- 8. policy engine failure -------------------------------------------------------------


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"policy text changed: {old!r} not found once"
    return text.replace(old, new)


_DECISION_BODY = "} if {\n\t_well_formed\n}"
_DEFAULT_DECISION = (
    'default decision := {"allow": false, "reasons": ["no_decision"], '
    '"obligations": {}}\n'
)
BREAKAGES: dict[str, Callable[[str], str]] = {
    # concat() with an object instead of an array of strings: a regorus runtime error
    "builtin-type-error": lambda t: _replace_once(
        t, _DECISION_BODY, '} if {\n\t_well_formed\n\tconcat(",", input.purpose)\n}'
    ),
    # no default and a body that never holds: the decision is undefined
    "undefined-decision": lambda t: _replace_once(
        _replace_once(t, _DEFAULT_DECISION, ""),
        _DECISION_BODY,
        "} if {\n\t_well_formed\n\tfalse\n}",
    ),
}


@pytest.fixture(params=list(BREAKAGES))
def broken_policy(
    request, demo_settings: Settings, tmp_path: Path
) -> Iterator[TestClient]:
    """A client of a proxy whose policy bundle fails at decision time."""
    bundle = tmp_path / "policies"
    shutil.copytree(POLICIES, bundle)
    rule = bundle / "governance" / "access" / "access.rego"
    rule.write_text(
        BREAKAGES[request.param](rule.read_text(encoding="utf-8")), encoding="utf-8"
    )
    settings = demo_settings.model_copy(update={"policy_dir": bundle})
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


class TestPolicyEngineFailure:
    """A policy engine that raises or decides nothing fails closed."""

    def test_when_the_engine_fails_then_a_read_is_503_with_a_decision_id(
        self, broken_policy, keys, subject, personal
    ):
        """The read answers 503 dependency_unavailable, names its decision, releases nothing."""
        response = read(broken_policy, keys["brand-app"], subject=subject)

        assert_problem(response, 503, "dependency_unavailable", personal)
        assert response.headers["X-Decision-Id"] == response.json()["decision_id"]

    def test_when_the_engine_fails_then_a_query_is_503(
        self, broken_policy, keys, personal
    ):
        """A query answers 503 dependency_unavailable and returns no records."""
        response = query(broken_policy, keys["campaign-sms"])

        assert_problem(response, 503, "dependency_unavailable", personal)
        assert "records" not in response.json()

    def test_when_the_engine_fails_then_the_read_is_audited_as_error(
        self, broken_policy, keys, subject
    ):
        """The failed read leaves an audit event with outcome `error` under its decision id."""
        decision_id = read(broken_policy, keys["brand-app"], subject=subject).headers[
            "X-Decision-Id"
        ]

        found = audit_events(
            broken_policy, keys["compliance-officer"], outcome="error"
        ).json()
        matching = [e for e in found["events"] if e["decision_id"] == decision_id]

        assert [(e["kind"], e["reason"]) for e in matching] == [
            ("access.read", "dependency_unavailable")
        ]


# --- 9. audit store failure ---------------------------------------------------------------

FAIL_AUDIT = (
    "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
)


@contextmanager
def audit_store_refusing_writes(demo_dir: Path) -> Iterator[None]:
    """While inside, every insert into audit_events aborts as if the disk were full."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as db:
        db.execute(FAIL_AUDIT)
        db.commit()
        try:
            yield
        finally:
            db.execute("DROP TRIGGER IF EXISTS fail_audit")
            db.commit()


class TestAuditStoreFailure:
    """Nothing leaves, and nothing is half-written, while the audit store cannot be written."""

    @pytest.fixture
    def consented(self, client, keys, subject) -> str:
        """The subject, after granting consent to marketing_push."""
        assert grant(client, keys["brand-app"], subject=subject).status_code == 201
        return subject

    def test_when_audit_cannot_be_written_then_a_consented_read_is_503_without_data(
        self, client, keys, consented, personal, demo_dir
    ):
        """The consented read answers 503 dependency_unavailable and none of the record."""
        with audit_store_refusing_writes(demo_dir):
            response = read(
                client,
                keys["campaign-sms"],
                "marketing_push",
                subject=consented,
                fields="name,mobile",
            )

        assert_problem(response, 503, "dependency_unavailable", personal)
        assert "record" not in response.json()
        assert response.headers["X-Decision-Id"]

    @pytest.mark.parametrize("action", ["grant", "withdraw"])
    def test_when_audit_cannot_be_written_then_a_consent_change_is_503_and_not_stored(
        self, client, keys, consented, personal, demo_dir, action
    ):
        """A grant or withdrawal answers 503 and adds no consent event: both or neither."""
        before = consent_rows(demo_dir)
        send = {
            "grant": lambda: grant(client, keys["brand-app"], subject=consented),
            "withdraw": lambda: client.post(
                WITHDRAW.format(subject=consented, purpose="marketing_push"),
                headers=auth(keys["brand-app"]),
            ),
        }[action]

        with audit_store_refusing_writes(demo_dir):
            response = send()

        assert_problem(response, 503, "dependency_unavailable", personal)
        assert consent_rows(demo_dir) == before

    def test_when_the_audit_store_recovers_then_the_next_read_succeeds(
        self, client, keys, consented, demo_dir
    ):
        """Once writes succeed again the proxy answers without a restart."""
        with audit_store_refusing_writes(demo_dir):
            failed = read(
                client, keys["campaign-sms"], "marketing_push", subject=consented
            )

        response = read(
            client,
            keys["campaign-sms"],
            "marketing_push",
            subject=consented,
            fields="name,mobile",
        )

        assert failed.status_code == 503
        assert response.status_code == 200
        assert (
            response.json()["record"]["mobile"]
            == customer(demo_dir, consented)["mobile"]
        )

    def test_when_the_audit_store_recovers_then_the_trail_verifies(
        self, client, keys, consented, demo_dir
    ):
        """Failed commits leave no gap: after recovery the hash chains still verify."""
        with audit_store_refusing_writes(demo_dir):
            read(client, keys["campaign-sms"], "marketing_push", subject=consented)
            grant(client, keys["brand-app"], subject=consented)
        read(client, keys["campaign-sms"], "marketing_push", subject=consented)

        response = client.get(VERIFY, headers=auth(keys["compliance-officer"]))

        assert response.status_code == 200
        assert response.json()["ok"] is True
        assert response.json()["first_bad"] is None


# --- audit time filters -------------------------------------------------------------------

BAD_INSTANTS = {
    "since-not-a-date": ("since", "yesterday"),
    "until-month-13": ("until", "2026-13-01"),
    # regression: converting these to UTC overflowed (OverflowError -> 500)
    "since-before-year-1-in-utc": ("since", "0001-01-01T00:00:00+14:00"),
    "until-after-year-9999-in-utc": ("until", "9999-12-31T23:59:59-12:00"),
}
GOOD_INSTANTS = {
    "since-date": ("since", "2000-01-01"),
    "until-offset-time": ("until", "9999-12-30T08:00:00+08:00"),
    "since-utc-z": ("since", "2000-01-01T00:00:00Z"),
}


class TestAuditTimeFilters:
    """`since` and `until` accept ISO 8601 instants and refuse anything else with 422."""

    @pytest.mark.parametrize(
        ("name", "value"), list(BAD_INSTANTS.values()), ids=list(BAD_INSTANTS)
    )
    def test_when_a_time_filter_is_invalid_then_422(
        self, client, keys, personal, name, value
    ):
        """An unparsable or unrepresentable instant is 422 invalid_filter, never a 500."""
        response = audit_events(client, keys["compliance-officer"], **{name: value})

        assert_problem(response, 422, "invalid_filter", personal)

    @pytest.mark.parametrize(
        ("name", "value"), list(GOOD_INSTANTS.values()), ids=list(GOOD_INSTANTS)
    )
    def test_when_a_time_filter_is_valid_then_events_are_listed(
        self, client, keys, subject, name, value
    ):
        """Dates, offsets and `Z` are accepted, and the range keeps today's events."""
        read(client, keys["brand-app"], subject=subject)

        response = audit_events(client, keys["compliance-officer"], **{name: value})

        assert response.status_code == 200
        assert response.json()["events"]
