"""The same seeded trail gives the same report on PostgreSQL as on SQLite."""

import asyncio

import pytest
from pg import pg_url  # noqa: F401 - fixture
from report_trail import SUBJECT_REF, report_of, seed_march, sqlite_url

from audit.report.document import report_document
from governance.store import open_store


@pytest.mark.postgres
def test_postgresql_and_sqlite_agree_on_every_figure(pg_url, seeded, catalog):  # noqa: F811
    """Seeded the same way, both stores give an identical report document."""

    async def seed() -> None:
        store = await open_store(pg_url)
        try:
            await seed_march(store, SUBJECT_REF)
        finally:
            await store.dispose()

    asyncio.run(seed())
    on_pg = report_document(report_of(pg_url, catalog))
    on_sqlite = report_document(report_of(sqlite_url(seeded), catalog))

    assert on_pg["accesses"]["total"]["total"] == 1699
    assert on_pg == on_sqlite
