"""`govproxy policy explain`: the proxy's decision for an access, in plain words.

The strongest check is agreement: for real demo subjects, explain's verdict,
reasons and obligations are the ones the running proxy answers with.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from factories import auth, customer, recorded_as_adult, subjects

from adapters.rego.bundle import load_bundle
from governance.cli.main import main

RECORD = "/v1/datasets/customers/records/{}"


@pytest.fixture
def config(demo_dir: Path) -> Path:
    return demo_dir / "govproxy.yaml"


def explain(
    capsys: pytest.CaptureFixture[str], config: Path, *args: str
) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `policy explain` on the demo deployment."""
    capsys.readouterr()  # drop what ran before, e.g. the proxy's access log lines
    code = main(["--config", str(config), "policy", "explain", *args])
    out, err = capsys.readouterr()
    return code, out, err


def explain_json(
    capsys: pytest.CaptureFixture[str], config: Path, *args: str
) -> dict[str, Any]:
    code, out, err = explain(capsys, config, *args, "--json")
    document: dict[str, Any] = json.loads(out)
    assert code == (0 if document["allow"] else 1), err
    return document


SMS = ("--caller", "campaign-sms", "--purpose", "marketing_push")


class TestAgreesWithTheProxy:
    """Explain reaches the proxy's own answer, reason for reason."""

    @pytest.mark.parametrize("fields", [None, "nickname,mobile", "mobile,bank_card"])
    def test_reads_of_demo_subjects(
        self, client, keys, config, demo_dir, capsys, fields
    ):
        """Consented, unconsented, withdrawn, stale and minor subjects: same verdicts."""
        query = f"?fields={fields}" if fields else ""
        field_args = ("--fields", fields) if fields else ()
        minors = subjects(demo_dir, minor=True)[:3]
        cases = [*subjects(demo_dir, minor=False)[:12], *minors]
        with recorded_as_adult(demo_dir, minors[0]):
            grant = client.post(  # a child's own consent: the policy must see minority
                f"/v1/subjects/{minors[0]}/consents",
                json={
                    "purpose": "marketing_push",
                    "notice_version": "2026.01",
                    "method": "click",
                    "evidence": {"screen": "opt-in-v3"},
                    "channel": "app",
                    "declared_frequency": "4/month",
                },
                headers=auth(keys["brand-app"]),
            )
        assert grant.status_code == 201, grant.text
        seen = set()
        for sid in cases:
            response = client.get(
                RECORD.format(sid) + query,
                headers=auth(keys["campaign-sms"], "marketing_push"),
            )
            body = response.json()
            doc = explain_json(
                capsys,
                config,
                *SMS,
                "--dataset",
                "customers",
                "--subject",
                sid,
                *field_args,
            )

            assert doc["allow"] == (response.status_code == 200), sid
            if response.status_code == 200:
                assert doc["policy"]["obligations"] == body["obligations"]
            elif body["code"] == "policy_denied":
                assert [r["reason"] for r in doc["policy"]["reasons"]] == body[
                    "reasons"
                ]
            else:
                assert doc["refused_before_policy"][0]["code"] == body["code"]
            seen.add(body.get("code", "allowed"))
        assert len(seen) >= 3, seen  # the sample covers several outcomes

    @pytest.mark.parametrize(
        "tags", ["高消费,母婴", "孕期", "价格敏感"], ids=["allowed", "sensitive", "wtp"]
    )
    def test_an_audience_query_shape(self, client, keys, config, capsys, tags):
        """With --tags and an assumed granted consent, explain decides the query's shape."""
        response = client.post(
            "/v1/datasets/customers/query",
            json={"fields": ["mobile"], "where": {"tags_any": tags.split(",")}},
            headers=auth(keys["campaign-sms"], "marketing_push"),
        )
        doc = explain_json(
            capsys,
            config,
            *SMS,
            "--dataset",
            "customers",
            "--fields",
            "mobile",
            "--tags",
            tags,
            "--consent",
            "granted",
        )

        if response.status_code == 200:
            assert doc["policy"]["allow"]
            assert doc["input"]["fields"][0]["name"] == "customer_id"
        else:
            reasons = [r["reason"] for r in doc["policy"]["reasons"]]
            assert reasons == response.json()["reasons"]


class TestOutput:
    """What a compliance officer reads."""

    def test_a_refusal_lists_each_reason_in_words_and_each_obligation(
        self, config, capsys
    ):
        """Asking for the bank card for SMS marketing: reason, words, obligations."""
        code, out, _ = explain(
            capsys,
            config,
            *SMS,
            "--dataset",
            "customers",
            "--fields",
            "mobile,bank_card",
            "--consent",
            "granted",
        )

        assert code == 1
        assert out.startswith("decision: DENY\n")
        assert f"bundle:   {load_bundle(Path('policies')).revision}\n" in out
        assert "  sensitive_field_not_permitted:bank_card\n" in out
        assert "Sensitive field not permitted (bank_card): " in out
        assert "bank_card  withhold" in out
        assert "consent   granted (general consent by self, notice 2026.01)" in out

    def test_without_a_subject_consent_is_assumed_absent_and_said_so(
        self, config, capsys
    ):
        """The proxy would refuse before asking the policy; explain says so and why."""
        code, out, _ = explain(capsys, config, *SMS, "--dataset", "customers")

        assert code == 1
        assert "consent   absent (assumed; see --consent)" in out
        assert (
            "refused by the proxy before the policy (answer: consent_missing):" in out
        )

    def test_a_contract_purpose_needs_no_consent(self, config, capsys):
        """Order fulfilment is allowed without consent; every field has its obligation."""
        code, out, _ = explain(
            capsys,
            config,
            "--caller",
            "brand-app",
            "--purpose",
            "order_fulfilment",
            "--dataset",
            "customers",
            "--fields",
            "name,mobile",
        )

        assert code == 0
        assert out.startswith("decision: ALLOW\n")
        assert "consent   not required (legal basis: contract)" in out
        assert "the policy allows\n" in out

    def test_a_caller_that_is_not_a_service_is_refused_by_role(self, config, capsys):
        """The officer's key cannot read data: forbidden_role before the policy."""
        doc = explain_json(
            capsys,
            config,
            "--caller",
            "compliance-officer",
            "--purpose",
            "order_fulfilment",
            "--dataset",
            "customers",
        )

        assert [r["code"] for r in doc["refused_before_policy"]][:1] == [
            "forbidden_role"
        ]

    def test_json_carries_the_input_and_no_personal_value(
        self, config, capsys, demo_dir
    ):
        """The input is facts only: no subject id, name, phone or birth date."""
        sid = subjects(demo_dir, minor=False)[0]
        raw = customer(demo_dir, sid)

        _, out, _ = explain(
            capsys, config, *SMS, "--dataset", "customers", "--subject", sid, "--json"
        )
        doc = json.loads(out)

        assert set(doc) == {
            "allow",
            "revision",
            "access",
            "refused_before_policy",
            "policy",
            "input",
        }
        assert set(doc["input"]) >= {
            "caller",
            "purpose",
            "fields",
            "consent",
            "subject",
        }
        for value in (
            sid,
            raw["name"],
            raw["mobile"],
            raw["birth_date"],
            raw["id_number"],
        ):
            assert value not in out


class TestBadInput:
    """Unknown names are one line on stderr and exit 2, never a stack trace."""

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ("--caller", "nobody", "--purpose", "marketing_push"),
                "unknown caller 'nobody' (registered: brand-app, campaign-sms,",
            ),
            (
                ("--caller", "campaign-sms", "--purpose", "telemarketing"),
                "unknown purpose 'telemarketing' (declared: analytics,",
            ),
            (
                (*SMS, "--dataset", "orders"),
                "unknown dataset 'orders' (declared: customers)",
            ),
            (
                (*SMS, "--dataset", "customers", "--fields", "mobile,salary"),
                "fields must name one or more fields of the dataset "
                "(fields of customers: customer_id,",
            ),
            (
                (*SMS, "--dataset", "customers", "--tags", "不存在"),
                "where names a tag that is not declared in the catalog "
                "(declared tags: 高消费,",
            ),
            (
                (*SMS, "--dataset", "customers", "--subject", "C999999"),
                "dataset customers holds no such subject",
            ),
        ],
        ids=["caller", "purpose", "dataset", "field", "tag", "subject"],
    )
    def test_when_a_name_is_unknown_then_exit_2(self, config, capsys, args, message):
        """The message names what is unknown (not the subject id) and what exists."""
        full = args if "--dataset" in args else (*args, "--dataset", "customers")

        code, out, err = explain(capsys, config, *full)

        assert code == 2
        assert out == ""
        assert err.startswith(f"govproxy: {message}")
        assert "Traceback" not in err
        assert "C999999" not in err

    def test_when_the_caller_is_revoked_then_exit_2(self, config, capsys):
        """A revoked caller's key is refused by the proxy; explain says so."""
        assert main(["--config", str(config), "callers", "revoke", "campaign-sms"]) == 0
        capsys.readouterr()

        code, _, err = explain(capsys, config, *SMS, "--dataset", "customers")

        assert code == 2
        assert "caller 'campaign-sms' is revoked" in err
