"""Bulk inserts on PostgreSQL by COPY, inside a transaction an `AsyncConnection` has begun.

COPY streams the rows and runs no statement per row: a batch of 256 audit
events commits 1.5-2x faster than by executemany on this machine (see
`bench/RESULTS.md`, issue #6). asyncpg's errors come out as SQLAlchemy's
(`IntegrityError`, `DataError`, `OperationalError`), as they would from a
statement, so callers handle both paths alike.
"""

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection


async def copy_rows(
    conn: AsyncConnection,
    table: str,
    columns: Sequence[str],
    records: Sequence[tuple[Any, ...]],
) -> None:
    """COPY `records` into `table` in `conn`'s transaction, which a statement began.

    Raises:
        RuntimeError: no transaction is open, so the rows would commit on their own.
    """
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("COPY must run inside a transaction a statement began")
    statement = f"COPY {table}"
    try:
        await driver.copy_records_to_table(
            table, records=records, columns=list(columns)
        )
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(statement, None, exc) from None
    except asyncpg.DataError as exc:
        raise DataError(statement, None, exc) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise OperationalError(statement, None, exc) from None
