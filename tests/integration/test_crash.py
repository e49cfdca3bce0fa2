"""Crash safety: SIGKILL the proxy under load, restart it on the same store, account for answers.

`govproxy serve` runs as its own process over a copy of the demo deployment,
its store on SQLite or on PostgreSQL. Several client connections send governed
reads, answered 200 or 403, until the process is killed mid-load; a second
process then answers more reads on the same store. An answer leaves only after
its audit event is committed, so every answer any client received must have
exactly one event with its decision id and the outcome it told the client; no
event may be stored twice, and the trail must verify across the crash. Reads
in flight at the kill may or may not have an event: their clients got no
answer.
"""

import asyncio
import os
import random
import shutil
import signal
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from factories import auth, subjects
from pg import fresh_database
from serving import keys_of, serving
from sqlalchemy import insert, select, text

from audit.verify import VerifyReport, verify_trail
from governance.auth.models import Caller
from governance.store import open_store

CLIENTS = 6
KILL_AFTER = 150  # answers received before the first process is killed
AFTER_RESTART = 30  # answers from the second process
OUTCOMES = {200: "allowed", 403: "denied"}


@dataclass
class Load:
    """What the clients saw: each answer's status and decision id, and requests cut off."""

    answers: list[tuple[int, str]] = field(default_factory=list)
    cut: int = 0


def requests(folder: Path) -> list[tuple[str, dict[str, str]]]:
    """Governed reads the demo answers 200 (contract reads) or 403 (a bank card for SMS)."""
    keys = keys_of(folder)
    allowed = auth(keys["brand-app"], "order_fulfilment")
    denied = auth(keys["campaign-sms"], "marketing_push")
    adults = subjects(folder, minor=False)[:50]
    return [(f"/v1/datasets/customers/records/{s}", allowed) for s in adults] + [
        (f"/v1/datasets/customers/records/{s}?fields=mobile,bank_card", denied)
        for s in adults
    ]


async def drive(
    base: str, mix: list[tuple[str, dict[str, str]]], *, until: int, kill: Any = None
) -> Load:
    """CLIENTS connections read until `until` answers came back, or until the server dies.

    With `kill`, the process is sent SIGKILL the moment the answer count reaches
    `until`, while the other connections still have reads in flight.
    """
    load = Load()

    async def client(n: int) -> None:
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            while len(load.answers) < until or kill is not None:
                path, headers = rng.choice(mix)
                try:
                    response = await http.get(path, headers=headers)
                except httpx.TransportError:
                    load.cut += 1
                    return
                load.answers.append(
                    (response.status_code, response.headers["X-Decision-Id"])
                )
                if kill is not None and len(load.answers) == until:
                    os.kill(kill.pid, signal.SIGKILL)

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return load


async def copy_callers(db: Path, url: str) -> None:
    """Create the store at `url` holding the demo store's callers, keys included."""
    source, target = (
        await open_store(f"sqlite+aiosqlite:///{db}"),
        await open_store(url),
    )
    try:
        async with source.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(select(Caller))]
        async with target.begin() as conn:
            await conn.execute(insert(Caller), rows)
    finally:
        await source.dispose()
        await target.dispose()


async def stored(url: str) -> tuple[list[tuple[str, str]], VerifyReport]:
    """(decision id, outcome) of every stored event that has one, and the verification."""
    store = await open_store(url)
    try:
        async with store.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT decision_id, outcome FROM audit_events"
                    " WHERE decision_id IS NOT NULL"
                )
            )
            events = [(r[0], r[1]) for r in rows]
        return events, await verify_trail(store)
    finally:
        await store.dispose()


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def crash(
    request: pytest.FixtureRequest,
    demo_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """Load, SIGKILL, restart, more load: what the clients saw and what the store holds."""
    root = tmp_path_factory.mktemp("crash")
    folder, log = root / "demo", root / "serve.log"
    shutil.copytree(demo_template, folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOV_")}
    with fresh_database() if request.param == "postgresql" else nullcontext() as url:
        if url is not None:
            asyncio.run(copy_callers(folder / "governance.db", url))
            env["GOV_STORE_URL"] = url
        store_url = url or f"sqlite+aiosqlite:///{folder / 'governance.db'}"
        mix = requests(folder)
        with serving(folder, env, log) as (first, base):
            killed = asyncio.run(drive(base, mix, until=KILL_AFTER, kill=first))
            first.wait(timeout=10)
        with serving(folder, env, log) as (_, base):
            restarted = asyncio.run(drive(base, mix, until=AFTER_RESTART))
        events, report = asyncio.run(stored(store_url))
        yield {
            "killed": killed,
            "restarted": restarted,
            "exit": first.returncode,
            "answers": killed.answers + restarted.answers,
            "events": events,
            "report": report,
        }


class TestCrashUnderLoad:
    """Every answer a client received survives a SIGKILL of the proxy, exactly once."""

    def test_the_proxy_was_killed_with_reads_in_flight(self, crash):
        """The first process died of SIGKILL mid-load and the second one served reads."""
        assert crash["exit"] == -signal.SIGKILL
        assert len(crash["killed"].answers) >= KILL_AFTER
        assert crash["killed"].cut >= 1
        assert len(crash["restarted"].answers) >= AFTER_RESTART

    def test_clients_got_allowed_and_denied_answers_only(self, crash):
        """The load mixed 200s and 403s, and nothing failed: no 5xx under load."""
        assert {status for status, _ in crash["answers"]} == {200, 403}

    def test_every_answer_has_exactly_one_event_with_its_outcome(self, crash):
        """Each received decision id is stored once, with the outcome the client was told."""
        stored: dict[str, list[str]] = {}
        for decision_id, outcome in crash["events"]:
            stored.setdefault(decision_id, []).append(outcome)

        wrong = [
            (status, decision_id, stored.get(decision_id))
            for status, decision_id in crash["answers"]
            if stored.get(decision_id) != [OUTCOMES[status]]
        ]

        assert wrong == []

    def test_no_event_is_stored_twice(self, crash):
        """No decision id appears on two stored events."""
        ids = [decision_id for decision_id, _ in crash["events"]]

        assert len(ids) == len(set(ids))

    def test_the_trail_verifies_across_the_crash(self, crash):
        """Every chain, the killed process's included, verifies against its head."""
        assert crash["report"].ok, crash["report"]
        assert crash["report"].events >= len(crash["answers"])
