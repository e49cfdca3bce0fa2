"""The request log: X-Request-Id, and one canonical line per request with what it did."""

import pytest
from factories import auth, subjects
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from governance.observability.request_log import RequestLog

READ = "/v1/datasets/customers/records/{}"
RECORDS = "/v1/datasets/{dataset}/records/{subject_id}"
UUID = "123e4567-e89b-12d3-a456-426614174000"


def request_lines(logs):
    """The canonical lines among captured log entries."""
    return [entry for entry in logs if entry["event"] == "request"]


def is_new_id(value):
    """Whether `value` is an id the proxy made: 32 lower-case hexadecimal digits."""
    return len(value) == 32 and set(value) <= set("0123456789abcdef")


class TestRequestId:
    @pytest.mark.parametrize(
        "incoming",
        [UUID, UUID.replace("-", ""), UUID.upper()],
        ids=["uuid", "32-hex", "upper-case"],
    )
    def test_when_the_incoming_id_is_well_formed_then_it_is_echoed(
        self, client, incoming
    ):
        """A UUID, or 32 hexadecimal digits, comes back as it was sent."""
        response = client.get("/healthz", headers={"X-Request-Id": incoming})

        assert response.headers["X-Request-Id"] == incoming

    @pytest.mark.parametrize(
        "incoming",
        ["13812345678", "11010519491231002X", "order 42", UUID + "0", ""],
        ids=["mobile", "id-number", "free-text", "too-long", "empty"],
    )
    def test_when_the_incoming_id_is_anything_else_then_a_new_one_replaces_it(
        self, client, incoming
    ):
        """A free-form id could carry a personal value into the logs: it is replaced."""
        response = client.get("/healthz", headers={"X-Request-Id": incoming})

        assert is_new_id(response.headers["X-Request-Id"])

    def test_each_request_without_one_gets_its_own(self, client):
        """Two requests, two different ids."""
        first, second = (client.get("/healthz") for _ in range(2))

        assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


class TestCanonicalLine:
    def test_an_allowed_read_logs_one_line_with_its_decision(
        self, client, keys, demo_dir
    ):
        """One line: route template, status, decision id, caller, purpose, outcome."""
        sid = subjects(demo_dir, minor=False)[0]
        with capture_logs() as logs:
            response = client.get(
                READ.format(sid), headers=auth(keys["brand-app"], "order_fulfilment")
            )

        [line] = request_lines(logs)
        assert response.status_code == 200
        assert line["duration_ms"] > 0
        assert {k: v for k, v in line.items() if k != "duration_ms"} == {
            "event": "request",
            "log_level": "info",
            "request_id": response.headers["X-Request-Id"],
            "method": "GET",
            "route": RECORDS,
            "status": 200,
            "code": None,
            "decision_id": response.headers["X-Decision-Id"],
            "caller": "brand-app",
            "purpose": "order_fulfilment",
            "kind": "access.read",
            "outcome": "allowed",
        }

    def test_a_refusal_logs_its_problem_code(self, client, keys, demo_dir):
        """A refusal is logged as denied, with the code of the problem answered."""
        sid = subjects(demo_dir, minor=False)[0]
        with capture_logs() as logs:
            response = client.get(
                READ.format(sid) + "?fields=mobile,bank_card",
                headers=auth(keys["campaign-sms"], "marketing_push"),
            )

        [line] = request_lines(logs)
        assert response.status_code == 403
        assert (line["status"], line["code"], line["outcome"]) == (
            403,
            response.json()["code"],
            "denied",
        )

    def test_an_unknown_path_is_logged_as_unmatched_without_the_path(self, client):
        """No route: the line says `unmatched`; the path itself is nowhere."""
        with capture_logs() as logs:
            client.get("/v1/customers/13812345678")

        [line] = request_lines(logs)
        assert (line["route"], line["status"], line["code"]) == (
            "unmatched",
            404,
            "not_found",
        )
        assert "13812345678" not in repr(logs)

    def test_a_body_over_the_limit_is_logged_with_its_code(self, client, keys):
        """The 413 of the body limit, refused before routing, has its line too."""
        with capture_logs() as logs:
            client.post(
                "/v1/text/redact",
                content=b"x" * (1024 * 1024 + 1),
                headers=auth(keys["campaign-sms"], "marketing_push"),
            )

        [line] = request_lines(logs)
        assert (line["status"], line["code"]) == (413, "payload_too_large")

    def test_lines_logged_during_a_request_carry_its_request_id(self, client):
        """A warning inside the request (a forged consent-center link) names its id."""
        with capture_logs(processors=[merge_contextvars]) as logs:
            response = client.get("/consent-center/forged-token")

        [refused] = [e for e in logs if e["event"] == "center_link_refused"]
        assert refused["request_id"] == response.headers["X-Request-Id"]

    def test_when_the_app_fails_then_the_line_says_500_internal_error(self):
        """An exception escaping the app is logged as 500 `internal_error`, then re-raised."""

        async def failing(scope: Scope, receive: Receive, send: Send) -> None:
            raise RuntimeError("boom")

        http = TestClient(RequestLog(failing), raise_server_exceptions=False)
        with capture_logs() as logs:
            assert http.get("/anything").status_code == 500

        [line] = request_lines(logs)
        assert (line["route"], line["status"], line["code"]) == (
            "unmatched",
            500,
            "internal_error",
        )
