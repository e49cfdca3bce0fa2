"""A seeded month (see `report_trail`) in an SQLite store, built once, copied per test."""

import asyncio
import shutil
from pathlib import Path

import pytest
from report_trail import SUBJECT_REF, demo_catalog, seed_march, sqlite_url

from governance.catalog import Catalog
from governance.store import open_store


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The demo catalog: bank_card and the 孕期/糖尿病/负债 tags are sensitive."""
    return demo_catalog()


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded store, written once per session."""
    db = tmp_path_factory.mktemp("report-trail") / "governance.db"

    async def seed() -> None:
        store = await open_store(sqlite_url(db))
        try:
            await seed_march(store, SUBJECT_REF)
        finally:
            await store.dispose()

    asyncio.run(seed())
    return db


@pytest.fixture
def seeded(seeded_template: Path, tmp_path: Path) -> Path:
    """This test's own copy of the seeded store."""
    for part in seeded_template.parent.glob(seeded_template.name + "*"):
        shutil.copy(part, tmp_path / part.name)
    return tmp_path / seeded_template.name
