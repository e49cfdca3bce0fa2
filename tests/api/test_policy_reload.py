"""Hot bundle reload: a running proxy takes a changed bundle, or keeps the old one and says why.

Every test runs a proxy over its own copy of the shipped bundle and changes
real files in it.
"""

import functools
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from factories import auth, customer, recorded_as_adult, subjects
from fastapi.testclient import TestClient
from net import free_port

from adapters.rego.bundle import load_bundle
from governance.app import create_app
from governance.settings import load_settings

POLICIES = Path(__file__).resolve().parents[2] / "policies"
ACCESS = Path("governance/access/access.rego")
OBLIGATIONS = Path("governance/obligations/data.json")
RECORD = "/v1/datasets/customers/records/{}"
# A change the bundle's own tests accept (a reload runs them): it pauses one caller,
# whom no Rego test names.
PAUSE_RULE = """

# METADATA
# title: Marketing paused
# description: The SMS campaign is paused while its rules are reviewed.
# custom:
#   code: marketing_paused
_deny contains "marketing_paused" if {
	input.purpose.name == "marketing_push"
	input.caller.name == "campaign-sms"
}
"""
CONSENT = {
    "purpose": "marketing_push",
    "notice_version": "2026.01",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
    "declared_frequency": "4/month",
}


# The reviewer's repro: the rules that keep children out of marketing stop holding
# for every caller; the bundle parses and lints clean, but its own tests fail.
MINOR_RULES = ('"subject_is_minor" if {\n', '"guardian_consent_required" if {\n')
NOBODY = '\tinput.caller.name == "nobody-at-all"\n'


def edit(bundle: Path, name: Path, change: Callable[[str], str]) -> None:
    """Rewrite one file of the bundle."""
    path = bundle / name
    path.write_text(change(path.read_text("utf-8")), "utf-8")


def exempt_minors(bundle: Path) -> None:
    """Make both minor rules hold for a caller that does not exist (tests now fail)."""

    def change(text: str) -> str:
        for head in MINOR_RULES:
            assert text.count(head) == 1, f"access.rego changed: {head!r}"
            text = text.replace(head, head + NOBODY)
        return text

    edit(bundle, ACCESS, change)


def pause_marketing(bundle: Path) -> None:
    """Add a rule that refuses campaign-sms every marketing_push access."""
    edit(bundle, ACCESS, lambda text: text + PAUSE_RULE)


def mask_nicknames(bundle: Path) -> None:
    """Mask nicknames for marketing_push instead of keeping them."""
    path = bundle / OBLIGATIONS
    data = json.loads(path.read_text("utf-8"))
    data["by_purpose"]["marketing_push"]["profile.nickname"] = "mask"
    path.write_text(json.dumps(data, indent=2), "utf-8")


BREAKAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "syntax-error": (
        lambda b: edit(b, ACCESS, lambda t: t + "\n_broken := {\n"),
        "syntax_error",
    ),
    "non-boolean-allow": (
        lambda b: edit(
            b,
            ACCESS,
            lambda t: t.replace('"allow": count(_reasons) == 0', '"allow": "yes"'),
        ),
        "malformed_decision",
    ),
    "missing-data-document": (lambda b: (b / OBLIGATIONS).unlink(), "missing_data"),
    "failing-rego-tests": (exempt_minors, "test_failed"),
}


def revision(bundle: Path) -> str:
    """The revision of the bundle as it is on disk now."""
    return load_bundle(bundle).revision


def events(demo_dir: Path, where: str = "1=1", *args: Any) -> list[dict[str, Any]]:
    """Audit events of the demo store, oldest first."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            f"SELECT * FROM audit_events WHERE {where} ORDER BY ts, seq",  # noqa: S608 - fixed test SQL
            args,
        ).fetchall()
    return [dict(r) | {"detail": json.loads(r["detail"])} for r in rows]


def revision_of(demo_dir: Path, decision_id: str) -> str:
    """The bundle revision the audit event of `decision_id` names."""
    (event,) = events(demo_dir, "decision_id = ?", decision_id)
    return str(event["policy_revision"])


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """This test's own copy of the shipped bundle."""
    return Path(shutil.copytree(POLICIES, tmp_path / "bundle"))


def proxy(demo_dir: Path, bundle: Path, **overrides: Any) -> TestClient:
    """A client of a proxy deciding with `bundle`; reload only on request by default."""
    settings = load_settings(
        demo_dir / "govproxy.yaml",
        env="test",
        policy_dir=bundle,
        policy_reload_seconds=overrides.pop("policy_reload_seconds", 0),
        **overrides,
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture
def client(demo_dir: Path, bundle: Path) -> Iterator[TestClient]:
    """A running proxy over the copied bundle."""
    with proxy(demo_dir, bundle) as c:
        yield c


@pytest.fixture
def consented(client: TestClient, keys: dict[str, str], demo_dir: Path) -> str:
    """An adult who consented to marketing_push."""
    sid = subjects(demo_dir, minor=False)[3]
    response = client.post(
        f"/v1/subjects/{sid}/consents", json=CONSENT, headers=auth(keys["brand-app"])
    )
    assert response.status_code == 201, response.text
    return sid


def read(client: TestClient, keys: dict[str, str], sid: str, fields: str = "mobile"):
    """A governed marketing read of one subject."""
    return client.get(
        RECORD.format(sid) + f"?fields={fields}",
        headers=auth(keys["campaign-sms"], "marketing_push"),
    )


def reload(client: TestClient, keys: dict[str, str]) -> dict[str, Any]:
    """Ask the proxy, as the admin, to reload the bundle now."""
    response = client.post("/v1/policy/reload", headers=auth(keys["platform-admin"]))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestActivation:
    def test_when_a_rule_changes_then_the_next_read_is_decided_by_it(
        self, client, keys, consented, bundle, demo_dir
    ):
        """After a reload the new rule refuses, and the audit event names the new revision."""
        old = revision(bundle)
        assert read(client, keys, consented).status_code == 200
        pause_marketing(bundle)

        answer = reload(client, keys)
        response = read(client, keys, consented)

        assert answer["outcome"] == "activated"
        assert (answer["previous"], answer["revision"]) == (old, revision(bundle))
        assert response.status_code == 403
        assert response.json()["reasons"] == ["marketing_paused"]
        assert revision_of(demo_dir, response.json()["decision_id"]) == revision(bundle)

    def test_when_activated_then_the_change_is_audited_with_both_revisions(
        self, client, keys, bundle, demo_dir
    ):
        """`policy.activated` names the admin, the old and the new revision."""
        old = revision(bundle)
        pause_marketing(bundle)

        reload(client, keys)

        (event,) = events(demo_dir, "kind = 'policy.activated'")
        assert (event["caller"], event["outcome"]) == ("platform-admin", "allowed")
        assert event["policy_revision"] == revision(bundle)
        assert event["detail"] == {"previous": old, "trigger": "api"}

    def test_when_the_bundle_changes_on_disk_then_the_watch_activates_it(
        self, demo_dir, bundle, keys
    ):
        """With a poll interval, a changed bundle is taken without anyone asking."""
        with proxy(demo_dir, bundle, policy_reload_seconds=0.05) as client:
            pause_marketing(bundle)
            deadline = time.monotonic() + 10
            while client.get("/healthz").json()["policy"]["revision"] != revision(
                bundle
            ):
                assert time.monotonic() < deadline, "the watch never activated it"
                time.sleep(0.05)

        (event,) = events(demo_dir, "kind = 'policy.activated'")
        assert (event["caller"], event["detail"]["trigger"]) == (None, "watch")

    def test_the_watch_rejects_a_broken_bundle_once_not_at_every_poll(
        self, demo_dir, bundle
    ):
        """A broken bundle left on disk is audited once; the watch waits for a change."""
        with proxy(demo_dir, bundle, policy_reload_seconds=0.02) as client:
            BREAKAGES["syntax-error"][0](bundle)
            deadline = time.monotonic() + 10
            while client.get("/healthz").json()["policy"]["last_error"] is None:
                assert time.monotonic() < deadline, "the watch never checked it"
                time.sleep(0.02)
            time.sleep(0.3)  # fifteen more polls

        assert len(events(demo_dir, "kind = 'policy.rejected'")) == 1

    def test_when_nothing_changed_then_reload_changes_nothing(
        self, client, keys, bundle, demo_dir
    ):
        """A reload of the bundle in force is `unchanged` and records no event."""
        answer = reload(client, keys)

        assert (answer["outcome"], answer["revision"]) == (
            "unchanged",
            revision(bundle),
        )
        assert events(demo_dir, "kind LIKE 'policy.%'") == []

    def test_healthz_names_the_revision_in_force(self, client, bundle):
        """`/healthz` says which bundle decides, with no error."""
        policy = client.get("/healthz").json()["policy"]

        assert policy["revision"] == revision(bundle)
        assert policy["last_error"] is None


@pytest.mark.parametrize("breakage", list(BREAKAGES), ids=list(BREAKAGES))
class TestRejection:
    def test_when_the_new_bundle_is_broken_then_the_old_one_keeps_deciding(
        self, client, keys, consented, bundle, demo_dir, breakage
    ):
        """A bundle that fails its checks is not taken: reads stay allowed, under the old
        revision."""
        old = revision(bundle)
        BREAKAGES[breakage][0](bundle)

        answer = reload(client, keys)
        response = read(client, keys, consented)

        assert (answer["outcome"], answer["revision"]) == ("rejected", old)
        assert response.status_code == 200
        assert revision_of(demo_dir, response.json()["decision_id"]) == old

    def test_when_the_new_bundle_is_broken_then_healthz_says_why(
        self, client, keys, bundle, breakage
    ):
        """`/healthz` names the rejected revision and the codes of its findings."""
        change, code = BREAKAGES[breakage]
        change(bundle)

        reload(client, keys)
        policy = client.get("/healthz").json()["policy"]

        assert code in policy["last_error"]["codes"]
        assert policy["last_error"]["revision"] != policy["revision"]
        assert policy["last_reload_at"] is not None
        assert "findings" not in policy["last_error"]

    def test_when_the_new_bundle_is_broken_then_the_rejection_is_audited(
        self, client, keys, bundle, demo_dir, breakage
    ):
        """`policy.rejected` names the kept and the rejected revision and the codes."""
        old = revision(bundle)
        change, code = BREAKAGES[breakage]
        change(bundle)

        answer = reload(client, keys)

        (event,) = events(demo_dir, "kind = 'policy.rejected'")
        assert (event["outcome"], event["reason"]) == ("denied", "policy_rejected")
        assert event["policy_revision"] == old
        assert event["detail"]["revision"] == answer["rejected_revision"] != old
        assert code in event["detail"]["codes"]

    def test_when_the_broken_bundle_is_fixed_then_it_is_activated(
        self, client, keys, consented, bundle, breakage
    ):
        """Fixing the bundle activates it and clears the error."""
        pristine = {p: (bundle / p).read_text("utf-8") for p in (ACCESS, OBLIGATIONS)}
        BREAKAGES[breakage][0](bundle)
        reload(client, keys)
        for path, text in pristine.items():
            (bundle / path).write_text(text, "utf-8")
        pause_marketing(bundle)

        answer = reload(client, keys)

        assert answer["outcome"] == "activated"
        assert client.get("/healthz").json()["policy"]["last_error"] is None
        assert read(client, keys, consented).status_code == 403


class TestBundleFailingItsOwnTests:
    """A bundle that parses and lints clean but fails its Rego tests never decides."""

    @pytest.fixture
    def child(self, client: TestClient, keys: dict[str, str], demo_dir: Path) -> str:
        """A child whose own consent to marketing_push (no guardian's) is on record:
        given while the store held an adult's birth date, corrected since."""
        sid = subjects(demo_dir, minor=True)[0]
        with recorded_as_adult(demo_dir, sid):
            response = client.post(
                f"/v1/subjects/{sid}/consents",
                json=CONSENT,
                headers=auth(keys["brand-app"]),
            )
        assert response.status_code == 201, response.text
        return sid

    def test_a_childs_mobile_stays_out_of_marketing_after_the_reload(
        self, client, keys, child, bundle
    ):
        """The reload is rejected and the child is still refused, for the same reasons."""
        old = revision(bundle)
        exempt_minors(bundle)

        answer = reload(client, keys)
        response = read(client, keys, child)

        assert (answer["outcome"], answer["revision"]) == ("rejected", old)
        assert response.status_code == 403
        assert "record" not in response.json()
        assert response.json()["reasons"] == [
            "guardian_consent_required",
            "subject_is_minor",
        ]

    def test_the_officer_sees_each_failing_test_by_name(self, client, keys, bundle):
        """`GET /v1/policy` names every failing test where it is defined, and no value."""
        exempt_minors(bundle)
        reload(client, keys)

        body = client.get("/v1/policy", headers=auth(keys["compliance-officer"])).json()

        findings = body["last_error"]["findings"]
        assert body["last_error"]["codes"] == ["test_failed"]
        assert (
            f"{bundle}/governance/access/access_test.rego:570: test_failed: "
            "data.governance.access_test.test_subject_is_minor is undefined"
        ) in findings
        assert all(
            re.fullmatch(r"\S+_test\.rego:\d+: test_failed: data\.\S+ is undefined", f)
            for f in findings
        ), findings

    def test_the_watch_rejects_it_too_and_audits_that_once(self, demo_dir, bundle):
        """Left on disk, the bundle is rejected by the poll, audited once, never swapped."""
        old = revision(bundle)
        with proxy(demo_dir, bundle, policy_reload_seconds=0.02) as client:
            exempt_minors(bundle)
            deadline = time.monotonic() + 20
            while (policy := client.get("/healthz").json()["policy"])[
                "last_error"
            ] is None:
                assert time.monotonic() < deadline, "the watch never checked it"
                time.sleep(0.02)
            time.sleep(0.3)  # more polls

        (event,) = events(demo_dir, "kind LIKE 'policy.%'")
        assert (policy["revision"], policy["last_error"]["codes"]) == (
            old,
            ["test_failed"],
        )
        assert (event["kind"], event["detail"]["trigger"]) == (
            "policy.rejected",
            "watch",
        )
        assert event["detail"]["codes"] == ["test_failed"]


class TestPolicyApi:
    def test_officer_sees_every_finding_of_a_rejected_bundle(
        self, client, keys, bundle
    ):
        """`GET /v1/policy` lists each finding as `file:line: code: message`."""
        BREAKAGES["syntax-error"][0](bundle)
        reload(client, keys)

        body = client.get("/v1/policy", headers=auth(keys["compliance-officer"])).json()

        (finding,) = body["last_error"]["findings"]
        assert finding.startswith(f"{bundle / ACCESS}:")
        assert ": syntax_error: " in finding

    @pytest.mark.parametrize("caller", ["campaign-sms", "compliance-officer"])
    def test_only_an_admin_may_reload(self, client, keys, caller):
        """Services and officers get 403 from `POST /v1/policy/reload`."""
        response = client.post("/v1/policy/reload", headers=auth(keys[caller]))

        assert response.status_code == 403
        assert response.json()["code"] == "forbidden_role"

    def test_a_service_may_not_read_the_policy_status(self, client, keys):
        """`GET /v1/policy` is for officers and admins."""
        response = client.get("/v1/policy", headers=auth(keys["campaign-sms"]))

        assert response.status_code == 403


def test_requests_in_flight_during_a_swap_all_succeed_under_one_revision_each(
    client, keys, bundle, demo_dir
):
    """Reads and queries racing a reload all answer 200, each under the old or the new
    revision, and each is masked as that revision says."""
    old = revision(bundle)
    adults = subjects(demo_dir, minor=False)[:12]
    for sid in adults:
        client.post(
            f"/v1/subjects/{sid}/consents",
            json=CONSENT,
            headers=auth(keys["brand-app"]),
        )
    nickname = functools.cache(lambda sid: customer(demo_dir, sid)["nickname"])
    sms = auth(keys["campaign-sms"], "marketing_push")

    def request(n: int) -> tuple[str, list[tuple[str, str]]]:
        if n % 2:
            response = read(client, keys, adults[n % len(adults)], "nickname,mobile")
            body = response.json()
            records = [(body["subject_id"], body["record"]["nickname"])]
        else:
            response = client.post(
                "/v1/datasets/customers/query",
                headers=sms,
                json={"fields": ["nickname", "mobile"], "limit": 50},
            )
            body = response.json()
            records = [(r["subject_id"], r["nickname"]) for r in body["records"]]
        assert response.status_code == 200, response.text
        return body["decision_id"], records

    with ThreadPoolExecutor(8) as pool:
        before = [pool.submit(request, n) for n in range(40)]
        mask_nicknames(bundle)
        swap = pool.submit(reload, client, keys)
        after = [pool.submit(request, n) for n in range(40, 80)]
        results = [f.result() for f in [*before, *after]]
    new = swap.result()["revision"]

    seen = set()
    for decision_id, records in results:
        rev = revision_of(demo_dir, decision_id)
        seen.add(rev)
        kept = [nick == nickname(sid) for sid, nick in records]
        assert kept == [rev == old] * len(records)
    assert new != old
    assert seen == {old, new}
    deadline = time.monotonic() + 5  # the last pins are released on the loop, soon
    while client.app.state.services.decider.retired:
        assert time.monotonic() < deadline, "the old engine was never closed"
        time.sleep(0.01)


def healthz(base: str) -> dict[str, Any]:
    """`/healthz` of a running server."""
    with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:  # noqa: S310
        body: dict[str, Any] = json.loads(answer.read())
        return body


def test_sighup_reloads_a_served_proxy(demo_dir, bundle, tmp_path):
    """`kill -HUP` makes `govproxy serve` check and activate the bundle on disk."""
    port, log = free_port(), tmp_path / "server.log"
    env = os.environ | {"GOV_POLICY_DIR": str(bundle), "GOV_POLICY_RELOAD_SECONDS": "0"}
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                sys.executable,
                "-m",
                "governance",
                "--config",
                str(demo_dir / "govproxy.yaml"),
                "serve",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                before = healthz(base)["policy"]["revision"]
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        pause_marketing(bundle)
        proc.send_signal(signal.SIGHUP)
        while (now := healthz(base)["policy"]["revision"]) == before:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    assert now == revision(bundle)


def test_when_the_activation_cannot_be_audited_then_the_old_bundle_keeps_deciding(
    client, keys, bundle, demo_dir
):
    """No bundle decides unaudited: the reload answers 503 and a later one activates."""
    old = revision(bundle)
    pause_marketing(bundle)
    db = demo_dir / "governance.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON audit_events"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
        conn.commit()

    refused = client.post("/v1/policy/reload", headers=auth(keys["platform-admin"]))
    kept = client.get("/healthz").json()["policy"]["revision"]
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TRIGGER disk_full")
        conn.commit()

    assert refused.status_code == 503
    assert refused.json()["code"] == "dependency_unavailable"
    assert kept == old
    assert reload(client, keys)["outcome"] == "activated"


def test_a_bundle_deployed_without_its_tests_is_rejected(client, keys, bundle):
    """A deploy that left the test files behind (`rsync --exclude '*_test.rego'`)
    shows nothing about its rules: `no_tests`, and the bundle in force stays."""
    pause_marketing(bundle)  # a real change, whose tests are then left behind
    for test in bundle.rglob("*_test.rego"):
        test.unlink()

    answer = reload(client, keys)

    policy = client.get("/v1/policy", headers=auth(keys["compliance-officer"])).json()
    assert answer["outcome"] == "rejected"
    assert policy["last_error"]["codes"] == ["no_tests"]
