"""Logs and metrics of a real `govproxy serve --workers 2`: complete, and free of personal data.

One proxy runs as its own process with two workers over a copy of the demo
deployment, logging JSON. First, governed reads go to it until both workers
have served some (each worker audits on its own chain); a scrape must count
exactly the reads made, whichever worker answers it. Then every kind of
request runs once or more: allowed and denied reads, queries, consent grant,
history and withdrawal, the consent-center page and its one-tap action, text
redaction, audit queries, and bad input built from demo subjects' own values
(a mobile as subject id, a name as purpose, an ID number in broken JSON and as
`X-Request-Id`, a name as raw UTF-8 in a query string the HTTP parser refuses;
a method it does not know). After a last scrape the proxy stops; nothing any worker
logged, and nothing scraped, may hold a personal value or a secret of the
deployment.

A second proxy loses a worker to SIGKILL: uvicorn starts another, the bundle
then changes, and the scrape must name only the revision the live workers
decide with, not the one the dead worker held when it died.
"""

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from accounting import chains
from factories import auth, customer, subjects
from personal_values import demo_personal_values, leaks
from prometheus_client.parser import text_string_to_metric_families
from served import STARTUP_S, keys_of, serving

RECORDS = "/v1/datasets/{dataset}/records/{subject_id}"
MAX_READS = 400  # reads to wait for the second worker; it takes a handful
EVIDENCE = {
    "notice_version": "2026.01",
    "method": "click",
    "channel": "app",
    "evidence": {"screen": "opt-in-v3"},
}
POLICIES = Path(__file__).resolve().parents[2] / "policies"
# A change the bundle's own tests accept (a reload runs them), as in
# tests/api/test_policy_reload.py.
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


@dataclass
class Observed:
    """What the clients sent and got, what the scrapes said, what the proxy logged."""

    reads: int
    chains: int
    responses: list[httpx.Response]
    unread: list[bytes]  # heads of the answers to requests the parser refused
    scrapes: list[str]
    log: str
    secrets: set[str]
    metric_dirs: tuple[int, int]  # serve's metrics directories while up, after stop


def requests_counted(scrape: str, route: str) -> float:
    """The sum of `govproxy_requests_total` over every series of `route`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(scrape)
        if family.name == "govproxy_requests"
        for sample in family.samples
        if sample.name == "govproxy_requests_total" and sample.labels["route"] == route
    )


def chains_serving(folder: Path, decision_ids: list[str]) -> int:
    """How many audit chains (one per worker process) hold these decisions."""
    with closing(sqlite3.connect(folder / "governance.db")) as conn:
        return int(
            conn.execute(
                "SELECT COUNT(DISTINCT chain_id) FROM audit_events"
                " WHERE decision_id IN (SELECT value FROM json_each(?))",
                (json.dumps(decision_ids),),
            ).fetchone()[0]
        )


def read_until_both_workers_served(base: str, folder: Path) -> tuple[list, int]:
    """Allowed reads on fresh connections until two chains hold them (or MAX_READS)."""
    headers = auth(keys_of(folder)["brand-app"], "order_fulfilment")
    adults = subjects(folder, minor=False)
    responses: list[httpx.Response] = []
    chains = 0
    while chains < 2 and len(responses) < MAX_READS:
        for sid in adults[len(responses) % 50 :][:10]:
            url = f"{base}/v1/datasets/customers/records/{sid}"
            responses.append(httpx.get(url, headers=headers))  # a new connection each
        chains = chains_serving(folder, [r.headers["X-Decision-Id"] for r in responses])
    return responses, chains


def consented_adults(folder: Path) -> list[str]:
    """Adults whose marketing_push consent holds (granted, current notice)."""
    with closing(sqlite3.connect(folder / "governance.db")) as conn:
        granted = {
            row[0]
            for row in conn.execute(
                "SELECT subject_id FROM consent_current WHERE purpose = 'marketing_push'"
                " AND action = 'granted' AND notice_version = '2026.01'"
            )
        }
    return [s for s in subjects(folder, minor=False) if s in granted]


def exercise(base: str, folder: Path) -> tuple[list[httpx.Response], set[str]]:
    """Every kind of request once or more; the responses, and link tokens seen."""
    keys = keys_of(folder)
    sms, app = auth(keys["campaign-sms"], "marketing_push"), auth(keys["brand-app"])
    officer = auth(keys["compliance-officer"])
    sid = consented_adults(folder)[0]
    other = subjects(folder, minor=False)[4]
    person = customer(folder, other)
    records = f"{base}/v1/datasets/customers/records"
    note = (
        f"客户{person['name']}来电，手机{person['mobile']}，身份证{person['id_number']}，"
        f"邮箱 {person['email']}，住址{person['address']}"
    )
    now = datetime.now(UTC)
    window = {"since": (now - timedelta(days=1)).isoformat(), "until": now.isoformat()}
    with httpx.Client(base_url=base, timeout=30) as http:
        sent = [
            http.get("/v1/datasets", headers=sms),
            http.get(f"{records}/{sid}", headers=sms),
            http.get(f"{records}/{sid}?fields=mobile,bank_card", headers=sms),
            http.post(
                "/v1/datasets/customers/query",
                json={
                    "fields": ["mobile", "nickname"],
                    "where": {"tags_any": ["高消费"]},
                },
                headers=sms,
            ),
            http.post(
                f"/v1/subjects/{sid}/consents",
                json={"purpose": "analytics", **EVIDENCE},
                headers=app,
            ),
            http.get(f"/v1/subjects/{sid}/consents", headers=app),
            http.post(f"/v1/subjects/{sid}/consents/analytics/withdraw", headers=app),
            http.post("/v1/text/redact", json={"text": note}, headers=sms),
            http.get("/v1/audit/events", params={"subject_id": sid}, headers=officer),
            http.get(
                "/v1/audit/breach",
                params={"caller": "campaign-sms", "resolve": "true", **window},
                headers=officer,
            ),
            # Bad input, made of the demo subjects' own values.
            http.get(f"{records}/{person['mobile']}", headers=sms),
            http.get(
                f"{records}/{person['mobile']}",
                headers={**app, "X-Purpose": "order_fulfilment"},
            ),
            http.get(
                f"{records}/{sid}",
                headers={**app, "X-Purpose": person["name"].encode()},
            ),
            http.get(f"{records}/{sid}?fields={person['email']}", headers=sms),
            http.post(
                "/v1/datasets/customers/query",
                content=f'{{"fields": ["{person["id_number"]}"'.encode(),
                headers={**sms, "Content-Type": "application/json"},
            ),
            http.get(
                f"/v1/no/such/{person['address']}",
                headers={"X-Request-Id": person["id_number"]},
            ),
        ]
        link = http.post(f"/v1/subjects/{sid}/consent-center-link", headers=app)
        page = link.json()["url"]
        sent += [
            link,
            http.get(page),
            http.post(f"{page}/withdraw/marketing_push", follow_redirects=False),
            http.get(f"{records}/{sid}", headers=sms),  # withdrawn: refused
        ]
    return sent, {page.removeprefix("/consent-center/")}


def unreadable(base: str, folder: Path) -> list[bytes]:
    """Requests the HTTP parser refuses, each on a raw connection; the answers' heads."""
    name = customer(folder, subjects(folder, minor=False)[5])["name"]
    requests = [
        b"GET /v1/datasets?q=" + name.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"FOO /v1/datasets HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    url = urlsplit(base)
    heads = []
    for request in requests:
        address = (url.hostname or "127.0.0.1", url.port or 80)
        with socket.create_connection(address, timeout=10) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        heads.append(answer.partition(b"\r\n\r\n")[0])
    return heads


def header(head: bytes, name: str) -> str | None:
    """The value of header `name` in a raw response head, if it has one."""
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


@pytest.fixture(scope="module")
def observed(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Observed:
    """Reads until both workers served, scrape, every kind of request, scrape, stop."""
    root = tmp_path_factory.mktemp("observed")
    folder, log = root / "demo", root / "serve.log"
    shutil.copytree(demo_template, folder)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GOV_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env["GOV_LOG_FORMAT"] = "json"
    env["TMPDIR"] = str(tmp := root / "tmp")  # where serve makes its metrics directory
    tmp.mkdir()
    with serving(folder, env, log, workers=2) as (_, base):
        reads, chains = read_until_both_workers_served(base, folder)
        first = httpx.get(f"{base}/metrics")
        sent, tokens = exercise(base, folder)
        unread = unreadable(base, folder)
        last = httpx.get(f"{base}/metrics")
        during = len(list(tmp.glob("govproxy-metrics-*")))
    return Observed(
        reads=len(reads),
        chains=chains,
        responses=[*reads, first, *sent, last],
        unread=unread,
        scrapes=[first.text, last.text],
        log=log.read_text(encoding="utf-8"),
        secrets=demo_personal_values(folder) | tokens,
        metric_dirs=(during, len(list(tmp.glob("govproxy-metrics-*")))),
    )


@dataclass
class Crashed:
    """A worker killed, then the bundle changed: revisions and scrapes."""

    killed: int
    workers: set[int]  # worker pids before the kill
    revisions: tuple[str, str]  # in force before the change, after it
    scrape: str  # the last scrape


def worker_pids(url: str, before: set[str]) -> set[int]:
    """Pids of the audit writers registered since `before` (one per worker started)."""
    writers = asyncio.run(chains(url))
    return {int(w.rpartition(":")[2]) for c, w in writers.items() if c not in before}


def wait_for_workers(url: str, before: set[str], count: int) -> set[int]:
    """Wait until `count` workers have started since `before`; their pids."""
    deadline = time.monotonic() + STARTUP_S
    while len(pids := worker_pids(url, before)) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} workers did not start within {STARTUP_S:.0f} s")
        time.sleep(0.2)
    return pids


def revisions_at_one(scrape: str) -> set[str]:
    """The revisions `govproxy_policy_revision_info` reports as in force."""
    return {
        sample.labels["revision"]
        for family in text_string_to_metric_families(scrape)
        if family.name == "govproxy_policy_revision_info"
        for sample in family.samples
        if sample.value == 1
    }


def wait_for_reload(base: str, bundle: Path) -> str:
    """Change the bundle; the revision a worker reloads it as (within 30 s)."""
    old = httpx.get(f"{base}/healthz").json()["policy"]["revision"]
    with (bundle / "governance/access/access.rego").open("a") as rego:
        rego.write(PAUSE_RULE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        revision: str = httpx.get(f"{base}/healthz").json()["policy"]["revision"]
        if revision != old:
            return revision
        time.sleep(0.2)
    pytest.fail("no worker reloaded the changed bundle within 30 s")


@pytest.fixture(scope="module")
def crashed(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Crashed:
    """Two workers; SIGKILL one; change the bundle and scrape until the scrape
    names the new revision alone (30 s). Whether uvicorn's replacement for the
    killed worker has started by then does not matter: it reloads the bundle too."""
    root = tmp_path_factory.mktemp("crashed")
    folder, bundle = root / "demo", root / "policies"
    shutil.copytree(demo_template, folder)
    shutil.copytree(POLICIES, bundle)
    url = f"sqlite+aiosqlite:///{folder / 'governance.db'}"
    before = set(asyncio.run(chains(url)))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GOV_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(GOV_POLICY_DIR=str(bundle), GOV_POLICY_RELOAD_SECONDS="0.2")
    env["TMPDIR"] = str(tmp := root / "tmp")
    tmp.mkdir()
    with serving(folder, env, root / "serve.log", workers=2) as (_, base):
        first = wait_for_workers(url, before, 2)
        old = httpx.get(f"{base}/healthz").json()["policy"]["revision"]
        killed = min(first)
        os.kill(killed, signal.SIGKILL)
        new = wait_for_reload(base, bundle)
        scrape, deadline = httpx.get(f"{base}/metrics").text, time.monotonic() + 30
        while revisions_at_one(scrape) != {new} and time.monotonic() < deadline:
            time.sleep(0.2)
            scrape = httpx.get(f"{base}/metrics").text
    return Crashed(killed, first, (old, new), scrape)


class TestAWorkerKilled:
    """A worker that died without stopping leaves no gauge of its own behind."""

    def test_the_scrape_names_only_the_revision_live_workers_decide_with(self, crashed):
        """The revision the dead worker held is 0, not 1 forever."""
        old, new = crashed.revisions

        assert crashed.killed in crashed.workers
        assert new != old
        assert revisions_at_one(crashed.scrape) == {new}


class TestMetricsOfSeveralWorkers:
    """A scrape answered by one worker counts the requests of both."""

    def test_both_workers_served_reads(self, observed):
        """The reads were answered by two worker processes (two audit chains)."""
        assert observed.chains == 2

    def test_the_request_counter_equals_the_reads_made(self, observed):
        """`govproxy_requests_total` for the record route is exactly the number of reads."""
        assert requests_counted(observed.scrapes[0], RECORDS) == observed.reads

    def test_the_last_scrape_counts_the_exercise_too(self, observed):
        """Later reads (allowed, denied, bad) add to the same series."""
        records = [r for r in observed.responses if "/records/" in str(r.url)]

        assert requests_counted(observed.scrapes[1], RECORDS) == len(records)

    def test_requests_the_parser_refused_are_counted(self, observed):
        """Each counts as `unmatched`, `OTHER`, 400 `bad_http_request`."""
        counted = sum(
            sample.value
            for family in text_string_to_metric_families(observed.scrapes[1])
            if family.name == "govproxy_requests"
            for sample in family.samples
            if sample.name == "govproxy_requests_total"
            and sample.labels
            == {
                "route": "unmatched",
                "method": "OTHER",
                "status": "400",
                "code": "bad_http_request",
            }
        )

        assert counted == len(observed.unread) == 2

    def test_serve_made_one_metrics_directory_and_removed_it_at_exit(self, observed):
        """Without PROMETHEUS_MULTIPROC_DIR, serve makes a fresh one and cleans up."""
        assert observed.metric_dirs == (1, 0)


class TestCanonicalRequestLine:
    """Each request is one JSON line with its request id, route template and outcome."""

    def lines(self, observed):
        """Every `request` line the workers logged."""
        rows = [json.loads(ln) for ln in observed.log.splitlines() if ln[:1] == "{"]
        return [row for row in rows if row["event"] == "request"]

    def test_every_response_has_exactly_one_line_with_its_status(self, observed):
        """Each response's X-Request-Id names one line, with the status sent."""
        by_id: dict[str, list[dict]] = {}
        for line in self.lines(observed):
            by_id.setdefault(line["request_id"], []).append(line)

        for response in observed.responses:
            found = by_id.get(response.headers["X-Request-Id"], [])
            assert [line["status"] for line in found] == [response.status_code]

    def test_a_request_the_parser_refused_has_its_line_and_id(self, observed):
        """Its answer's new X-Request-Id names one line: OTHER, unmatched, 400."""
        by_id = {line["request_id"]: line for line in self.lines(observed)}

        for head in observed.unread:
            request_id = header(head, "x-request-id")
            assert head.startswith(b"HTTP/1.1 400 ")
            assert request_id is not None
            assert len(request_id) == 32
            line = by_id[request_id]
            assert (line["method"], line["route"], line["status"], line["code"]) == (
                "OTHER",
                "unmatched",
                400,
                "bad_http_request",
            )

    def test_every_line_any_worker_wrote_is_json(self, observed):
        """uvicorn's plain-text warning of a request it could not parse is not one."""
        lines = observed.log.splitlines()

        assert [ln for ln in lines if ln[:1] != "{"] == []
        assert all(isinstance(json.loads(ln), dict) for ln in lines)

    def test_governed_answers_log_their_decision_caller_and_purpose(self, observed):
        """A governed read's line carries its X-Decision-Id, caller, purpose, outcome."""
        lines = {line["request_id"]: line for line in self.lines(observed)}
        read = observed.responses[0]

        line = lines[read.headers["X-Request-Id"]]

        assert line["decision_id"] == read.headers["X-Decision-Id"]
        assert (line["route"], line["caller"], line["purpose"], line["outcome"]) == (
            RECORDS,
            "brand-app",
            "order_fulfilment",
            "allowed",
        )

    def test_problems_log_their_code(self, observed):
        """Refusals and bad input are logged with their problem code."""
        codes = {line["code"] for line in self.lines(observed)}

        assert {
            "policy_denied",
            "unknown_subject",
            "invalid_request",
            "not_found",
            "consent_withdrawn",
        } <= codes

    def test_an_id_that_is_not_a_uuid_is_replaced(self, observed):
        """An `X-Request-Id` holding an ID number is not echoed: a new id is."""
        replaced = next(r for r in observed.responses if "/v1/no/such/" in str(r.url))

        assert len(replaced.headers["X-Request-Id"]) == 32


class TestNoPersonalValues:
    """No personal value or secret of the deployment reaches logs or metrics."""

    def test_the_exercise_touched_every_outcome(self, observed):
        """Allowed, created, redirected, refused, missing and malformed requests all ran."""
        statuses = {r.status_code for r in observed.responses}

        assert {200, 201, 303, 403, 404, 422} <= statuses

    def test_no_personal_value_in_any_log_line(self, observed):
        """Every line any worker wrote, start to stop, is free of them."""
        assert leaks(observed.log, observed.secrets) == []

    def test_no_personal_value_in_any_scrape(self, observed):
        """Neither scrape holds one, in labels or anywhere else."""
        assert leaks("\n".join(observed.scrapes), observed.secrets) == []


class TestLeakDetector:
    """The detector finds a planted value in each form it can take."""

    @pytest.mark.parametrize(
        "written",
        [
            '{"name": "张伟", "status": 200}',
            '{"name": "\\u5f20\\u4f1f", "status": 200}',
            "GET /v1/datasets/customers/records/%E5%BC%A0%E4%BC%9F",
        ],
        ids=["as-is", "json-escaped", "percent-encoded"],
    )
    def test_when_a_value_is_planted_then_it_is_found(self, written):
        """张伟 is found raw, JSON-escaped and percent-encoded."""
        assert leaks(written, {"张伟", "13812345678"}) == ["张伟"]

    def test_when_the_demo_values_are_planted_then_each_is_found(self, demo_template):
        """Any one of the demo deployment's values, planted in a log line, is found."""
        values = demo_personal_values(demo_template)
        planted = sorted(values)[::97]

        found = leaks(json.dumps({"event": "request", "x": planted}), values)

        assert set(planted) <= set(found)
