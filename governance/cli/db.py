"""`govproxy db upgrade|current`: the store's schema revision.

The proxy upgrades its store when it starts; `db upgrade` does it alone, for a
deployment that migrates once before rolling out new instances.
"""

import argparse
import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine
from governance.cli.admin import settings_of, with_store
from governance.schema import current, head


def add_parser(sub: Any) -> None:
    """Register `db` and its subcommands."""
    db = sub.add_parser("db", help="the store's schema")
    dsub = db.add_subparsers(dest="db_command", required=True)
    dsub.add_parser(
        "upgrade", help="bring the store to the newest revision"
    ).set_defaults(run=upgrade)
    dsub.add_parser("current", help="print the store's revision").set_defaults(
        run=show_current
    )


async def _revision(store: AsyncEngine) -> str | None:
    async with store.connect() as conn:
        return await conn.run_sync(current)


def upgrade(args: argparse.Namespace) -> int:
    """Open (and so upgrade) the store, then report its revision."""
    revision = with_store(settings_of(args), _revision)
    print(f"store at revision {revision} (newest {head()})")
    return 0


def show_current(args: argparse.Namespace) -> int:
    """Print the store's revision without changing it; exit 1 if it is not the newest."""

    async def read() -> str | None:
        engine = create_engine(settings_of(args).store_url)
        try:
            return await _revision(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(read())
    print(revision or "none (not stamped: a store of a release before migrations)")
    return 0 if revision == head() else 1
