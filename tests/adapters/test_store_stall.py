"""A PostgreSQL store that stops answering: statements give up on the client side.

The server's `statement_timeout` and `lock_timeout` need a server that answers.
Here a `relay.Relay` stands between the store's engine and the real server and
then holds every answer (`delay_s` past any wait), which is what a stopped
server process or a network path dropping every packet looks like to the
client: the connection stays open and nothing comes back. The client's bound
(`PG_COMMAND_S`, shortened here) must end the statement, and the proxy must
answer 503 for it, not a 500 and not never.
"""

import asyncio
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pg import ADMIN_URL, require_postgres
from relay import Relay
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import engine as engines
from audit.writer import AuditWriter
from governance.errors import StoreUnavailable
from governance.store import open_store
from governance.trail import Trail, audited

pytestmark = pytest.mark.postgres
T = TypeVar("T")
COMMAND_S = 0.5  # the client's bound on one statement, for these tests
PATIENCE_S = 4.0  # past this, a test calls the statement hung
STALLED_S = 600.0  # how long the relay holds each answer: for ever, to the client


@pytest.fixture
def relayed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Relay, str]]:
    """A relay to the test server and the admin URL pointed at it."""
    require_postgres()
    monkeypatch.setattr(engines, "PG_COMMAND_S", COMMAND_S)
    target = make_url(ADMIN_URL)
    relay = Relay((target.host or "127.0.0.1", target.port or 5432))
    try:
        url = target.set(host="127.0.0.1", port=relay.port)
        yield relay, url.render_as_string(hide_password=False)
    finally:
        relay.close()


async def settled(work: Awaitable[T]) -> tuple[float, T | BaseException]:
    """How long `work` took and what it returned or raised; fails the test past
    `PATIENCE_S` (the statement hung)."""
    started = time.monotonic()
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=PATIENCE_S)
    if not done:
        task.cancel()
        pytest.fail(f"still waiting for the stalled store after {PATIENCE_S} s")
    elapsed = time.monotonic() - started
    error = task.exception()
    return elapsed, error if error is not None else task.result()


async def select_one(engine: AsyncEngine) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT 1"))).scalar_one()


class TestStalledServer:
    """Statements on a connection whose server went silent end at `PG_COMMAND_S`."""

    def test_a_statement_on_a_silent_connection_raises_timeout_error(self, relayed):
        """The pooled connection's next statement raises `TimeoutError`, in bounded time."""
        relay, url = relayed

        async def scenario() -> tuple[Any, float, Any]:
            engine = engines.create_engine(url)
            try:
                before = await select_one(engine)
                relay.delay_s = STALLED_S
                elapsed, outcome = await settled(select_one(engine))
                return before, elapsed, outcome
            finally:
                relay.stop()  # every relayed connection reset: dispose cannot wait
                await engine.dispose()

        before, elapsed, outcome = asyncio.run(scenario())

        assert before == 1
        assert isinstance(outcome, TimeoutError), repr(outcome)
        assert COMMAND_S <= elapsed < COMMAND_S + 2

    def test_an_audited_read_of_a_silent_store_is_store_unavailable(
        self, relayed, tmp_path: Path
    ):
        """A step reading the silent store fails with `StoreUnavailable` (503), audited."""
        relay, url = relayed

        async def scenario() -> Any:
            audit_store = await open_store(f"sqlite+aiosqlite:///{tmp_path}/audit.db")
            writer = AuditWriter(audit_store)
            await writer.start()
            engine = engines.create_engine(url)
            try:
                await select_one(engine)
                relay.delay_s = STALLED_S
                trail = Trail(kind="audit.checkpoints", caller="officer")
                _, outcome = await settled(
                    audited(writer, trail, lambda: select_one(engine))
                )
                return outcome
            finally:
                relay.stop()
                await engine.dispose()
                await writer.stop()
                await audit_store.dispose()

        outcome = asyncio.run(scenario())

        assert isinstance(outcome, StoreUnavailable), repr(outcome)
        assert outcome.status == 503
        assert outcome.code == "dependency_unavailable"
        assert str(outcome) == "the governance store could not be used (TimeoutError)"
        assert outcome.decision_id is not None
