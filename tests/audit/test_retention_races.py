"""Overlapping purge runs (cron on two instances) leave a trail that still verifies.

Each run has its own engine and audit writer, as two `govproxy audit purge`
processes would, and both plan the same old rows at the same instant.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg import pg_url
from sealed_trails import PUBLIC_KEY, SIGNER, sqlite_url
from sqlalchemy import update
from sqlmodel import col

from audit.models import AuditChain
from audit.record import AuditDraft
from audit.retention import Purger, PurgeReport, RetentionPolicy
from audit.verify import VerifyReport, verify_trail
from audit.writer import AuditWriter
from governance.store import open_store

__all__ = ["pg_url"]  # fixture: imported so that pytest finds it

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OLD, YOUNG = 12, 3


def _ts(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Instance:
    """One proxy instance's purge run: an engine and an audit writer of its own."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> Purger:
        self.store = await open_store(self.url)
        self.writer = AuditWriter(self.store)
        await self.writer.start()
        return Purger(
            self.store,
            self.writer,
            SIGNER,
            policy=RetentionPolicy(),
            third_party_purposes=frozenset(),
            subject_ref=lambda s: s,
            batch=5,
        )

    async def __aexit__(self, *_: object) -> None:
        await self.writer.stop()
        await self.store.dispose()


async def _race(url: str) -> tuple[list[PurgeReport], VerifyReport]:
    """Write OLD purgeable and YOUNG kept accesses, purge twice at once, verify."""
    store = await open_store(url)
    writer = AuditWriter(store)
    await writer.start()
    try:
        for days in [400] * OLD + [10] * YOUNG:
            await writer.append(
                AuditDraft(
                    kind="access.read", outcome="allowed", caller="x", ts=_ts(days)
                )
            )
        # A trail written over the years: its chain began before its events.
        async with store.begin() as conn:
            await conn.execute(
                update(AuditChain)
                .where(col(AuditChain.chain_id) == writer.chain_id)
                .values(started_at=_ts(1000))
            )
    finally:
        await writer.stop()
    try:
        async with _Instance(url) as one, _Instance(url) as two:
            reports = await asyncio.gather(one.run(now=NOW), two.run(now=NOW))
        return list(reports), await verify_trail(store, public_keys=[PUBLIC_KEY])
    finally:
        await store.dispose()


def _assert_one_purge_of_each_row(
    reports: list[PurgeReport], verified: VerifyReport
) -> None:
    assert verified.purge_fault is None
    assert verified.ok
    assert sum(r.events for r in reports) == OLD


def test_two_purges_at_once_on_sqlite_keep_the_trail_verifiable(
    tmp_path: Path,
) -> None:
    """Both runs finish; each old event is tombstoned by exactly one of them."""
    reports, verified = asyncio.run(_race(sqlite_url(tmp_path / "governance.db")))

    _assert_one_purge_of_each_row(reports, verified)


@pytest.mark.postgres
def test_two_purges_at_once_on_postgres_keep_the_trail_verifiable(
    pg_url: str,
) -> None:
    """The same on PostgreSQL, where the two commits really run side by side."""
    reports, verified = asyncio.run(_race(pg_url))

    _assert_one_purge_of_each_row(reports, verified)
