"""POST /v1/text/redact: free text masked in place, entities reported, every call audited."""

import json

import pytest
from factories import auth

URL = "/v1/text/redact"
MOBILE = "13812345678"  # synthetic
ID_NUMBER = "11010519491231002X"  # synthetic, valid check character
TEXT = f"客户张伟来电，手机{MOBILE}，身份证{ID_NUMBER}，邮箱 zhang.wei@mail.example"
PROBLEM_JSON = "application/problem+json"


def post(client, keys, body, *, caller="campaign-sms", purpose="marketing_push", **kw):
    """POST a body (a dict as JSON, or raw bytes) as `caller` for `purpose`."""
    headers = {**auth(keys[caller], purpose), "Content-Type": "application/json"}
    if isinstance(body, bytes):
        return client.post(URL, content=body, headers=headers, **kw)
    return client.post(URL, json=body, headers=headers, **kw)


def events(client, keys, kind="text.redact"):
    """Audit events of `kind`, newest first, as the officer sees them."""
    listed = client.get(
        "/v1/audit/events",
        params={"limit": 50},
        headers=auth(keys["compliance-officer"]),
    ).json()["events"]
    return [e for e in listed if e["kind"] == kind]


class TestRedact:
    def test_when_text_holds_personal_data_then_it_comes_back_masked(
        self, client, keys
    ):
        """Mobile, ID, name and e-mail are masked in place; the rest of the text is kept."""
        response = post(client, keys, {"text": TEXT})

        body = response.json()
        assert response.status_code == 200
        assert body["text"] == (
            "客户张*来电，手机138****5678，身份证110105********002X，邮箱 z***@mail.example"
        )
        assert body["decision_id"] == response.headers["X-Decision-Id"]

    def test_entities_give_type_and_span_in_the_original_text_never_the_value(
        self, client, keys
    ):
        """Each entity is {type, start, end, score}; its span indexes the text sent."""
        body = post(client, keys, {"text": TEXT}).json()

        spans = {e["type"]: TEXT[e["start"] : e["end"]] for e in body["entities"]}
        assert spans == {
            "PERSON": "张伟",
            "CN_MOBILE": MOBILE,
            "CN_ID_CARD": ID_NUMBER,
            "EMAIL_ADDRESS": "zhang.wei@mail.example",
        }
        assert all(
            set(e) == {"type", "start", "end", "score"} for e in body["entities"]
        )

    def test_when_text_has_no_personal_data_then_it_is_returned_unchanged(
        self, client, keys
    ):
        """Order numbers after 订单号 and prices are not personal data."""
        text = "订单号13812345678已发货，实付¥138.00"

        body = post(client, keys, {"text": text}).json()

        assert body == {
            "text": text,
            "entities": [],
            "decision_id": body["decision_id"],
        }

    def test_when_text_is_empty_then_empty_text_comes_back(self, client, keys):
        """An empty text is valid and masks to itself."""
        body = post(client, keys, {"text": ""}).json()

        assert (body["text"], body["entities"]) == ("", [])

    def test_when_a_zero_width_joiner_splits_a_number_then_the_whole_number_is_masked(
        self, client, keys
    ):
        """Invisible characters inside a number neither hide it nor survive in pieces."""
        text = "电话138\u200d1234\u200d5678谢谢"

        body = post(client, keys, {"text": text}).json()

        assert body["text"] == "电话138****5678谢谢"
        assert body["entities"][0]["start"] == 2
        assert body["entities"][0]["end"] == 15


class TestAudit:
    def test_every_redaction_is_audited_with_counts_by_type_and_no_value(
        self, client, keys
    ):
        """The event names caller, purpose and counts; no masked value is in it."""
        post(client, keys, {"text": TEXT + "，备用手机13987654321"})

        (event,) = events(client, keys)
        assert event["caller"] == "campaign-sms"
        assert event["purpose"] == "marketing_push"
        assert event["outcome"] == "allowed"
        assert event["detail"]["entities"] == {
            "PERSON": 1,
            "CN_MOBILE": 2,
            "CN_ID_CARD": 1,
            "EMAIL_ADDRESS": 1,
        }
        recorded = json.dumps(event, ensure_ascii=False)
        assert [
            v for v in (MOBILE, ID_NUMBER, "张伟", "zhang.wei") if v in recorded
        ] == []

    def test_when_purpose_is_not_the_callers_then_403_and_audited_as_denied(
        self, client, keys
    ):
        """campaign-sms may not act for analytics: refused, and the refusal is audited."""
        response = post(client, keys, {"text": TEXT}, purpose="analytics")

        assert response.status_code == 403
        assert response.json()["code"] == "purpose_not_permitted"
        assert MOBILE not in response.text
        assert [e["outcome"] for e in events(client, keys)] == ["denied"]


class TestRefusals:
    @pytest.mark.parametrize(
        ("caller", "status", "code"),
        [(None, 401, "unauthenticated"), ("compliance-officer", 403, "forbidden_role")],
        ids=["no-key", "officer"],
    )
    def test_when_caller_is_not_a_service_then_refused(
        self, client, keys, caller, status, code
    ):
        """Only service callers may redact."""
        headers = {"X-Purpose": "marketing_push"}
        if caller:
            headers |= auth(keys[caller])

        response = client.post(URL, json={"text": TEXT}, headers=headers)

        assert (response.status_code, response.json()["code"]) == (status, code)

    def test_when_x_purpose_is_missing_then_422(self, client, keys):
        """The purpose header is required, as on every governed access."""
        response = client.post(
            URL, json={"text": TEXT}, headers=auth(keys["campaign-sms"])
        )

        assert (response.status_code, response.json()["code"]) == (
            422,
            "invalid_request",
        )

    @pytest.mark.parametrize(
        "body",
        [
            b'{"text": "\\ud800 13812345678"}',
            b'{"text": 13812345678}',
            b'{"text": "a", "extra": 1}',
            b"{}",
            b'{"text": "\xff\xfe"}',
            b"not json",
        ],
        ids=[
            "lone-surrogate",
            "not-a-string",
            "unknown-key",
            "no-text",
            "bad-utf8",
            "not-json",
        ],
    )
    def test_when_body_is_malformed_then_422_problem_without_the_input(
        self, client, keys, body
    ):
        """Bad input is a clean problem+json that echoes nothing of what was sent."""
        response = post(client, keys, body)

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["code"] == "invalid_request"
        assert MOBILE not in response.text

    def test_when_body_exceeds_1_mib_then_413(self, client, keys):
        """The configured body limit applies to texts too."""
        text = ("客户张伟，电话13812345678。" * 60_000)[: (1 << 20)]

        response = post(client, keys, {"text": text})

        assert (response.status_code, response.json()["code"]) == (
            413,
            "payload_too_large",
        )

    def test_when_text_is_just_under_1_mib_then_it_is_masked_whole(self, client, keys):
        """A text near the limit is scanned (off the event loop) and fully masked."""
        line = "客户张伟，电话13812345678。"
        text = line * ((1 << 20) // len((line).encode()) - 1)

        response = post(client, keys, {"text": text})

        body = response.json()
        assert response.status_code == 200
        assert MOBILE not in body["text"]
        assert len(body["entities"]) == 2 * text.count(line)
