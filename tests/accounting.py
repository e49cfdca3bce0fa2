"""What the store holds after a load: events by decision id, writers, verification.

Tests that serve requests (`served`) check each answer a client received
against the audit events the workers stored: exactly one event per answer,
with the outcome the client was told (`unaudited`), and the trail verifying.
"""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.verify import VerifyReport, verify_trail
from governance.store import open_store

OUTCOMES = {200: "allowed", 403: "denied", 503: "error", 504: "error"}


@dataclass(frozen=True)
class Answer:
    """One answer a client received: status, decision id, when sent and received.

    `code` is the problem's code when the answer is problem+json.
    """

    status: int
    decision_id: str | None
    sent: float
    received: float
    code: str | None = None


@dataclass(frozen=True)
class Event:
    """A stored access event: its decision id, outcome, reason and chain."""

    decision_id: str
    outcome: str
    reason: str | None
    chain_id: str


async def stored(url: str) -> tuple[list[Event], VerifyReport]:
    """Every stored event that has a decision id, and the trail's verification."""
    store = await open_store(url)
    try:
        return await events_in(store), await verify_trail(store)
    finally:
        await store.dispose()


async def events_at(url: str) -> list[Event]:
    """Every stored event that has a decision id (no verification)."""
    store = await open_store(url)
    try:
        return await events_in(store)
    finally:
        await store.dispose()


async def events_in(store: AsyncEngine) -> list[Event]:
    """Every event in `store` that has a decision id."""
    async with store.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT decision_id, outcome, reason, chain_id FROM audit_events"
                " WHERE decision_id IS NOT NULL"
            )
        )
        return [Event(*r) for r in rows]


async def chains(url: str) -> dict[str, str]:
    """Chain id -> writer (`host:pid`) of every audit writer registered in the store."""
    store = await open_store(url)
    try:
        async with store.connect() as conn:
            rows = await conn.execute(text("SELECT chain_id, writer FROM audit_chains"))
            return {r[0]: r[1] for r in rows}
    finally:
        await store.dispose()


def unaudited(answers: list[Answer], events: list[Event]) -> list[Answer]:
    """Answers that do not have exactly one stored event with the outcome told."""
    found: dict[str, list[str]] = {}
    for event in events:
        found.setdefault(event.decision_id, []).append(event.outcome)
    return [
        a
        for a in answers
        if a.decision_id is None or found.get(a.decision_id) != [OUTCOMES[a.status]]
    ]
