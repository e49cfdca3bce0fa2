"""SQL data source over SQLAlchemy Core (async): SQLite via aiosqlite, PostgreSQL via asyncpg.

Only columns the catalog declares are ever selected, table and column names come
from the catalog (never from a request), and every value is a bound parameter.
Driver errors become `DataSourceUnavailable`; the pipeline answers 503.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    TableClause,
    bindparam,
    column,
    exists,
    select,
    table,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine
from governance.catalog import Dataset
from governance.errors import DataSourceUnavailable
from governance.types import Record

_STATEMENT_CACHE = 1024


class SqlDataSource:
    """Reads datasets from the SQL sources named in the catalog."""

    def __init__(self, engines: Mapping[str, AsyncEngine]) -> None:
        self._engines = engines
        # Statements by (dataset, columns), built once: reads bind the key only.
        self._by_key: dict[tuple[str, tuple[str, ...]], Select[Any]] = {}

    @classmethod
    def from_urls(cls, urls: Mapping[str, str]) -> "SqlDataSource":
        """One engine per source URL."""
        return cls({name: create_engine(url) for name, url in urls.items()})

    async def close(self) -> None:
        """Dispose of every engine."""
        for engine in self._engines.values():
            await engine.dispose()

    async def fetch_record(
        self, dataset: Dataset, subject_id: str, columns: Sequence[str]
    ) -> Record | None:
        """The subject's row, restricted to `columns`, or None."""
        key = (dataset.name, tuple(columns))
        stmt = self._by_key.get(key)
        if stmt is None:
            t = _table(dataset)
            stmt = select(*[t.c[c] for c in columns]).where(
                t.c[dataset.subject_key] == bindparam("subject_id")
            )
            if len(self._by_key) < _STATEMENT_CACHE:
                self._by_key[key] = stmt
        rows = await self._run(dataset, stmt, {"subject_id": subject_id})
        return rows[0] if rows else None

    async def scan(
        self,
        dataset: Dataset,
        *,
        columns: Sequence[str],
        tags_any: Sequence[str],
        tags_all: Sequence[str],
        after: str | None,
        limit: int,
    ) -> list[Record]:
        """Rows in subject-key order after `after`, filtered by tags."""
        t = _table(dataset)
        key = t.c[dataset.subject_key]
        stmt = select(*[t.c[c] for c in columns]).order_by(key).limit(limit)
        if after is not None:
            stmt = stmt.where(key > after)
        return await self._run(
            dataset, _with_tags(stmt, dataset, key, tags_any, tags_all)
        )

    async def _run(
        self, dataset: Dataset, stmt: Select[Any], params: dict[str, Any] | None = None
    ) -> list[Record]:
        try:
            async with self._engines[dataset.source].connect() as conn:
                result = await conn.execute(stmt, params)
                return [dict(r._mapping) for r in result.all()]
        except (SQLAlchemyError, OSError) as exc:
            raise DataSourceUnavailable(
                f"data source '{dataset.source}' failed ({type(exc).__name__})"
            ) from None


def _table(dataset: Dataset) -> TableClause:
    return table(
        dataset.table, *[column(f) for f in dataset.fields], schema=dataset.schema
    )


def _with_tags(
    stmt: Select[Any],
    dataset: Dataset,
    key: ColumnElement[Any],
    tags_any: Sequence[str],
    tags_all: Sequence[str],
) -> Select[Any]:
    if dataset.tags is None or not (tags_any or tags_all):
        return stmt
    spec = dataset.tags
    tt = table(
        spec.table, column(spec.subject_key), column(spec.column), schema=dataset.schema
    )
    owner, tag = tt.c[spec.subject_key], tt.c[spec.column]
    if tags_any:
        stmt = stmt.where(
            exists(select(1).where(owner == key, tag.in_(list(tags_any))))
        )
    for name in tags_all:
        stmt = stmt.where(exists(select(1).where(owner == key, tag == name)))
    return stmt
