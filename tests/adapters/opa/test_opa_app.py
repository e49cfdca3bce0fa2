"""The proxy configured with `policy_engine: opa` decides through the sidecar, or refuses.

Each test runs the demo deployment with its decisions taken by the stand-in
sidecar of `tests/opa_server.py` (real HTTP, real OPA engine): a governed read is
allowed or denied as the bundle says, and a sidecar that is down or answers
garbage makes the read a 503 `dependency_unavailable` that releases nothing.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import auth, customer, subjects
from fastapi.testclient import TestClient
from opa_server import Mode, OpaTestServer, closed_port_url

from adapters.rego.bundle import load_bundle
from governance.app import create_app
from governance.settings import Settings

RECORD = "/v1/datasets/customers/records/{}"
QUERY = "/v1/datasets/customers/query"
GRANT = {
    "purpose": "marketing_push",
    "notice_version": "2026.01",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
    "declared_frequency": "4/month",
}
POLICIES = Path(__file__).resolve().parents[3] / "policies"
PERSONAL = ("name", "mobile", "id_number", "email", "bank_card")


def opa_app(settings: Settings, url: str) -> TestClient:
    """A client of the demo proxy deciding through the sidecar at `url`."""
    opa = settings.model_copy(
        update={"policy_engine": "opa", "opa_url": url, "opa_timeout_ms": 500}
    )
    return TestClient(create_app(opa), raise_server_exceptions=False)


@pytest.fixture
def client(demo_settings: Settings, sidecar: OpaTestServer) -> Iterator[TestClient]:
    """The demo proxy, its policy decided by a healthy sidecar."""
    with opa_app(demo_settings, sidecar.url) as c:
        yield c


@pytest.fixture
def consented(client: TestClient, keys: dict[str, str], demo_dir: Path) -> str:
    """An adult demo customer who granted marketing_push."""
    subject = subjects(demo_dir, minor=False)[3]
    response = client.post(
        f"/v1/subjects/{subject}/consents", json=GRANT, headers=auth(keys["brand-app"])
    )
    assert response.status_code == 201, response.text
    return subject


def sms_read(client: TestClient, keys: dict[str, str], subject: str, query: str = ""):
    """The SMS sender reads one customer for marketing_push."""
    return client.get(
        RECORD.format(subject) + query,
        headers=auth(keys["campaign-sms"], "marketing_push"),
    )


def assert_unavailable(response, detail: str, personal: list[str]) -> None:
    """A clean 503 problem naming the fault, with none of the subject's values."""
    body = response.json()

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert body["code"] == "dependency_unavailable"
    assert body["detail"] == detail
    assert "record" not in body
    assert [v for v in personal if v in response.text] == []


class TestThroughTheSidecar:
    """Governed reads decided by OPA."""

    def test_when_consented_then_read_allowed_and_masked(
        self, client, keys, consented, demo_dir, sidecar
    ):
        """The sidecar allows; the mobile is kept, the name masked, the rest withheld."""
        raw = customer(demo_dir, consented)

        response = sms_read(client, keys, consented)

        body = response.json()
        assert response.status_code == 200, response.text
        assert body["record"]["mobile"] == raw["mobile"]
        assert body["record"]["name"] == raw["name"][0] + "*" * (len(raw["name"]) - 1)
        assert "bank_card" not in body["record"]
        assert body["obligations"]["bank_card"] == "withhold"
        assert sidecar.paths  # the sidecar, not an in-process engine, decided

    def test_when_field_outside_purpose_then_policy_denied(
        self, client, keys, consented
    ):
        """Asking for the bank card for marketing is refused with the policy's reason."""
        response = sms_read(client, keys, consented, "?fields=mobile,bank_card")

        assert response.status_code == 403
        assert response.json()["code"] == "policy_denied"
        assert response.json()["reasons"] == ["sensitive_field_not_permitted:bank_card"]

    def test_audit_event_names_the_bundle_revision(self, client, keys, consented):
        """The decision is audited under the revision of the bundle the sidecar serves."""
        decision_id = sms_read(client, keys, consented).headers["X-Decision-Id"]

        events = client.get(
            "/v1/audit/events",
            params={"subject_id": consented},
            headers=auth(keys["compliance-officer"]),
        ).json()["events"]

        [event] = [e for e in events if e["decision_id"] == decision_id]
        assert event["outcome"] == "allowed"
        assert event["policy_revision"] == load_bundle(POLICIES).revision


class TestFailClosed:
    """No usable sidecar answer: 503, nothing released, the failure audited."""

    @pytest.fixture
    def subject(self, demo_dir: Path) -> str:
        return subjects(demo_dir, minor=False)[0]

    @pytest.fixture
    def personal(self, demo_dir: Path, subject: str) -> list[str]:
        row = customer(demo_dir, subject)
        return [row[f] for f in PERSONAL]

    def test_when_sidecar_is_down_then_read_is_503(
        self, demo_settings, keys, subject, personal
    ):
        """Connection refused: the read is refused and audited as an error."""
        with opa_app(demo_settings, closed_port_url()) as down:
            response = down.get(
                RECORD.format(subject),
                headers=auth(keys["brand-app"], "order_fulfilment"),
            )
            events = down.get(
                "/v1/audit/events",
                params={"outcome": "error"},
                headers=auth(keys["compliance-officer"]),
            ).json()["events"]

        assert_unavailable(
            response, "policy sidecar is unreachable (ClientConnectorError)", personal
        )
        assert [e["reason"] for e in events] == ["dependency_unavailable"]

    def test_when_sidecar_is_down_then_query_is_503(self, demo_settings, keys):
        """A governed query returns no records when no decision can be had."""
        with opa_app(demo_settings, closed_port_url()) as down:
            response = down.post(
                QUERY,
                json={"fields": ["mobile"]},
                headers=auth(keys["campaign-sms"], "marketing_push"),
            )

        assert response.status_code == 503
        assert response.json()["code"] == "dependency_unavailable"
        assert "records" not in response.json()

    def test_when_sidecar_answers_garbage_then_read_is_503(
        self, client, sidecar, keys, subject, personal
    ):
        """A decision whose allow is the string "true" is never taken as an allow."""
        sidecar.mode = Mode.NON_BOOLEAN_ALLOW

        response = client.get(
            RECORD.format(subject), headers=auth(keys["brand-app"], "order_fulfilment")
        )

        assert_unavailable(response, "policy returned a malformed decision", personal)


class TestReloadWithTheSidecar:
    def test_when_the_bundle_changes_then_reload_is_refused_and_the_old_revision_decides(
        self, demo_settings, keys, demo_dir, tmp_path
    ):
        """The sidecar keeps the bundle it started with, so the proxy refuses a reload
        (restart_required) and goes on labelling decisions with the revision the
        sidecar decides with. It used to label them with the new files' revision."""
        bundle = Path(shutil.copytree(POLICIES, tmp_path / "bundle"))
        old = load_bundle(bundle).revision
        with OpaTestServer(bundle) as sidecar:
            settings = demo_settings.model_copy(
                update={"policy_dir": bundle, "policy_reload_seconds": 0}
            )
            with opa_app(settings, sidecar.url) as client:
                subject = subjects(demo_dir, minor=False)[5]
                client.post(
                    f"/v1/subjects/{subject}/consents",
                    json=GRANT,
                    headers=auth(keys["brand-app"]),
                )
                access = bundle / "governance" / "access" / "access.rego"
                access.write_text(
                    access.read_text(encoding="utf-8") + "\n# reviewed 2026-11\n",
                    encoding="utf-8",
                )
                new = load_bundle(bundle).revision

                answer = client.post(
                    "/v1/policy/reload", headers=auth(keys["platform-admin"])
                ).json()
                health = client.get("/healthz").json()
                response = sms_read(client, keys, subject, "?fields=mobile")
                events = client.get(
                    "/v1/audit/events",
                    params={"caller": "campaign-sms"},
                    headers=auth(keys["compliance-officer"]),
                ).json()["events"]

        assert (answer["outcome"], answer["rejected_revision"]) == ("rejected", new)
        assert "restart_required" in answer["findings"][0]
        assert health["policy"]["last_error"]["codes"] == ["restart_required"]
        assert response.status_code == 200
        (event,) = [
            e for e in events if e["decision_id"] == response.json()["decision_id"]
        ]
        assert event["policy_revision"] == old != new
