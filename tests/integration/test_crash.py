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
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounting import stored, unaudited
from served import Load, demo_copy, drive, governed_reads, proxy_env, serving

KILL_AFTER = 150  # answers received before the first process is killed
AFTER_RESTART = 30  # answers from the second process


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
    with demo_copy(demo_template, root, request.param) as (folder, url):
        env, log, mix = proxy_env(url), root / "serve.log", governed_reads(folder)
        with serving(folder, env, log) as (first, base):

            async def kill(_load: Load) -> None:
                os.kill(first.pid, signal.SIGKILL)

            killed = asyncio.run(drive(base, mix, until=KILL_AFTER, then=kill))
            first.wait(timeout=10)
        with serving(folder, env, log) as (_, base):
            restarted = asyncio.run(drive(base, mix, until=AFTER_RESTART))
        events, report = asyncio.run(stored(url))
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
        assert len(crash["killed"].cut) >= 1
        assert len(crash["restarted"].answers) >= AFTER_RESTART

    def test_clients_got_allowed_and_denied_answers_only(self, crash):
        """The load mixed 200s and 403s, and nothing failed: no 5xx under load."""
        assert {a.status for a in crash["answers"]} == {200, 403}

    def test_every_answer_has_exactly_one_event_with_its_outcome(self, crash):
        """Each received decision id is stored once, with the outcome the client was told."""
        assert unaudited(crash["answers"], crash["events"]) == []

    def test_no_event_is_stored_twice(self, crash):
        """No decision id appears on two stored events."""
        ids = [e.decision_id for e in crash["events"]]

        assert len(ids) == len(set(ids))

    def test_the_trail_verifies_across_the_crash(self, crash):
        """Every chain, the killed process's included, verifies against its head."""
        assert crash["report"].ok, crash["report"]
        assert crash["report"].events >= len(crash["answers"])
