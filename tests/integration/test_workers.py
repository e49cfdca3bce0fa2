"""Many workers and instances on one store: consent holds everywhere, SIGTERM loses nothing.

`govproxy serve --workers 2` runs as real processes over a copy of the demo
deployment: one instance on SQLite, or two instances (four workers, two ports)
on one PostgreSQL database. Each worker has its own audit writer and chain.

Consent: a grant made through the last instance, then a withdrawal made
through the first, are enforced by every worker of every instance on the very
next requests (many reads on fresh connections, so that every worker answers
some; the chain of each answer's event names the worker that served it).

Graceful shutdown: six client connections send governed reads (200 and 403)
to every instance. Mid-load the audit table is locked from outside
(`breakers`) for a moment shorter than the store's lock wait, so every client
has a read in flight, waiting for its audit commit, when each supervisor gets
SIGTERM. Those reads must still be answered (the workers drain them); each
answer must have exactly one audit event with the outcome it told; no event
may exist for a read that was not answered (nothing cut after it was audited);
every chain must verify with `govproxy audit verify` and be sealed by a last
checkpoint; and every supervisor must exit 0 well before the 30 s drain limit.
Reads sent after the signal may be refused: the server is going away.
"""

import asyncio
import io
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, redirect_stdout
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from accounting import Answer, Event, chains, events_at, stored, unaudited
from breakers import AUDIT_UNWRITABLE
from factories import auth, subjects
from net import wait_until_up
from served import (
    CLIENTS,
    READ,
    REQUEST_S,
    Load,
    answer_of,
    crowd,
    demo_copy,
    drive,
    governed_reads,
    keys_of,
    proxy_env,
    serving,
    wait_for_writers,
)

from governance.cli.main import main

WORKERS = 2
FLEETS = {"sqlite": 1, "postgresql": 2}  # instances of WORKERS workers on each store
HITS = 8  # reads per instance in each wave after a consent change
COVER_S = 30.0  # waves go on this long at most, until every worker has answered
PAUSE_S = 0.05  # between waves: a worker busy with the last one gets back to accept
SIGTERM_AFTER = 60  # answers received before the audit table is locked
SETTLE_S = 0.4  # once every client waits for a read: the servers have read them
HOLD_S = 0.8  # the lock is held this long after SIGTERM: below every lock wait
EXIT_S = 15.0  # a supervisor exits within this of SIGTERM (the drain limit is 30 s)
GRANT = {
    "purpose": "marketing_push",
    "notice_version": "2026.01",
    "declared_frequency": "4/month",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
}


async def send(
    base: str, method: str, path: str, headers: dict[str, str], **kw: Any
) -> tuple[Answer, httpx.Response]:
    """One request on a connection of its own; its answer and the response."""
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_S) as http:
        sent = time.monotonic()
        response = await http.request(method, path, headers=headers, **kw)
    return answer_of(response, sent), response


async def hit(
    bases: Sequence[str],
    path: str,
    headers: dict[str, str],
    workers: set[str],
    url: str,
) -> list[Answer]:
    """Reads of `path` until every worker of every instance has answered one.

    Each wave sends `HITS` reads at once to each instance, each on a new
    connection. Which worker accepts a connection is the kernel's and the
    event loop's choice (a worker woken first may accept a whole wave), so
    waves go on, for at most `COVER_S`, until the chains of the answers'
    events cover `workers`.
    """
    answers: list[Answer] = []
    deadline = time.monotonic() + COVER_S
    while True:
        waves = await asyncio.gather(*(crowd(b, path, headers, HITS) for b in bases))
        answers += [a for wave in waves for a in wave]
        covered = served_by(await events_at(url), answers) >= workers
        if covered or time.monotonic() > deadline:
            return answers
        await asyncio.sleep(PAUSE_S)


def served_by(events: list[Event], answers: list[Answer]) -> set[str | None]:
    """The chains (the workers) whose events record `answers`."""
    chain_of = {e.decision_id: e.chain_id for e in events}
    return {chain_of.get(a.decision_id or "") for a in answers}


async def change_consent(
    folder: Path, bases: Sequence[str], workers: set[str], url: str
) -> dict[str, Any]:
    """Grant through the last instance, withdraw through the first; read after each."""
    keys = keys_of(folder)
    marketing = auth(keys["campaign-sms"], "marketing_push")
    service = auth(keys["brand-app"])
    probes = []
    for subject in subjects(folder, minor=False):  # one who never consented
        path = READ.format(subject=subject) + "?fields=mobile"
        probes.append(await send(bases[0], "GET", path, marketing))
        first = probes[-1][1]
        if first.status_code == 403 and first.json()["code"] == "consent_missing":
            break
    granted = await send(
        bases[-1], "POST", f"/v1/subjects/{subject}/consents", service, json=GRANT
    )
    after_grant = await hit(bases, path, marketing, workers, url)
    withdrawn = await send(
        bases[0],
        "POST",
        f"/v1/subjects/{subject}/consents/marketing_push/withdraw",
        service,
    )
    after_withdrawal = await hit(bases, path, marketing, workers, url)
    return {
        "probes": probes,
        "granted": granted,
        "after_grant": after_grant,
        "withdrawn": withdrawn,
        "after_withdrawal": after_withdrawal,
    }


def sigterm_in_flight(
    kind: str, url: str, procs: Sequence[subprocess.Popen[bytes]]
) -> Any:
    """Lock the audit table, SIGTERM every supervisor with reads waiting, release."""

    async def then(load: Load) -> None:
        with AUDIT_UNWRITABLE[kind](url):
            await load.all_waiting(CLIENTS)
            await asyncio.sleep(SETTLE_S)
            load.signal()
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(HOLD_S)

    return then


def verify_cli(folder: Path, url: str) -> tuple[int, str]:
    """`govproxy audit verify` on the deployment, as an operator runs it: exit, output."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env, redirect_stdout(out):
        env.setenv("GOV_STORE_URL", url)
        code = main(["--config", str(folder / "govproxy.yaml"), "audit", "verify"])
    return code, out.getvalue()


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def fleet(
    request: pytest.FixtureRequest,
    demo_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """Start the instances, change consent, load, SIGTERM: what was seen and stored."""
    kind, root = request.param, tmp_path_factory.mktemp("workers")
    with demo_copy(demo_template, root, kind) as (folder, url), ExitStack() as stack:
        env, before = proxy_env(url), asyncio.run(chains(url))
        logs = [root / f"serve-{n}.log" for n in range(FLEETS[kind])]
        started = [
            stack.enter_context(serving(folder, env, log, workers=WORKERS, wait=False))
            for log in logs
        ]
        for (proc, base), log in zip(started, logs, strict=True):
            wait_until_up(base, proc, log)
        wait_for_writers(url, len(before) + len(started) * WORKERS)
        procs, bases = [p for p, _ in started], [b for _, b in started]
        workers = set(asyncio.run(chains(url))) - set(before)
        consent = asyncio.run(change_consent(folder, bases, workers, url))
        load = asyncio.run(
            drive(bases, governed_reads(folder), until=SIGTERM_AFTER, then=(
                sigterm_in_flight(kind, url, procs)))
        )  # fmt: skip
        exits = [
            (p.wait(timeout=EXIT_S), time.monotonic() - load.signalled) for p in procs
        ]
        events, report = asyncio.run(stored(url))
        yield {
            "consent": consent,
            "load": load,
            "exits": exits,
            "events": [e for e in events if e.chain_id in workers],
            "writers": workers,
            "report": report,
            "verify": verify_cli(folder, url),
        }


class TestConsentAcrossWorkers:
    """A consent change made through one instance holds in every worker at once."""

    def test_a_grant_through_one_instance_is_honoured_by_every_worker(self, fleet):
        """After the grant, every read on every instance is served, by all workers."""
        granted, answers = fleet["consent"]["granted"], fleet["consent"]["after_grant"]

        assert granted[1].status_code == 201, granted[1].text
        assert [a.status for a in answers] == [200] * len(answers)
        assert served_by(fleet["events"], answers) == fleet["writers"]

    def test_a_withdrawal_through_another_is_enforced_by_every_worker(self, fleet):
        """The very next reads after the withdrawal all refuse with consent_withdrawn."""
        withdrawn = fleet["consent"]["withdrawn"]
        answers = fleet["consent"]["after_withdrawal"]

        assert withdrawn[1].status_code == 200, withdrawn[1].text
        assert {(a.status, a.code) for a in answers} == {(403, "consent_withdrawn")}
        assert served_by(fleet["events"], answers) == fleet["writers"]


class TestGracefulShutdown:
    """SIGTERM drains in-flight reads, flushes and seals the trail, and exits 0."""

    def test_every_read_in_flight_at_sigterm_was_answered(self, fleet):
        """Each client had a read waiting at the signal, and each got its answer."""
        load: Load = fleet["load"]
        in_flight = [a for a in load.answers if a.sent < load.signalled < a.received]
        cut = [sent for sent in load.cut if sent < load.signalled]

        assert len(in_flight) == CLIENTS
        assert cut == []

    def test_answers_are_allowed_or_denied_only(self, fleet):
        """Draining does not turn reads into errors: 200s and 403s only."""
        assert {a.status for a in fleet["load"].answers} == {200, 403}

    def test_every_supervisor_exits_0_promptly(self, fleet):
        """Each process exits 0 within seconds of SIGTERM, not at the drain limit."""
        assert [code for code, _ in fleet["exits"]] == [0] * len(fleet["exits"])
        assert max(after for _, after in fleet["exits"]) < EXIT_S


class TestEveryWriter:
    """Each worker's chain holds one event per answer, verifies, and is sealed."""

    def test_every_answer_has_exactly_one_event_with_its_outcome(self, fleet):
        """Each received decision id is stored once, with the outcome the client was told."""
        reads = fleet["consent"]["after_grant"] + fleet["consent"]["after_withdrawal"]

        assert unaudited(reads + fleet["load"].answers, fleet["events"]) == []

    def test_events_and_answers_match_one_to_one(self, fleet):
        """The workers stored exactly one event per answer: none lost, none extra."""
        consent = fleet["consent"]
        answers = [a for a, _ in consent["probes"]]
        answers += [consent["granted"][0], consent["withdrawn"][0]]
        answers += consent["after_grant"] + consent["after_withdrawal"]
        answers += fleet["load"].answers
        told = sorted(a.decision_id or "" for a in answers)
        stored = sorted(e.decision_id for e in fleet["events"])

        assert len(fleet["writers"]) == len(fleet["exits"]) * WORKERS
        assert stored == told

    def test_every_chain_verifies_and_is_sealed(self, fleet):
        """`govproxy audit verify` passes, and the last checkpoint covers every event."""
        code, said = fleet["verify"]

        assert code == 0, said
        assert said.startswith("audit trail intact:")
        assert " 0 not sealed yet" in said
        assert fleet["report"].ok, fleet["report"]
        assert fleet["report"].unsealed == 0
