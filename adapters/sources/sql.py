"""SQL data source over SQLAlchemy Core (async): SQLite, PostgreSQL, MySQL and MariaDB.

Only columns the catalog declares are ever selected, table and column names come
from the catalog (never from a request), and every value is a bound parameter.
Every engine gives the same answers for the same rows:

- a record is the row whose subject key equals the requested id exactly: the
  store's own equality may fold case or ignore trailing spaces (MySQL's default
  collations do), so the key is compared again here;
- pages run in code point order of the subject key and tag values match
  exactly (`adapters.sources.ordering`).

Reads by key on SQLite and PostgreSQL run the compiled statement on a plain
connection (`adapters.sources.by_key`); scans, and MySQL and MariaDB, go
through the engine. Each read is answered within the connect bound plus the
statement bound (`adapters.sources.engines.Timeouts`), however many wait for
the same source; an engine read cut off at that deadline finishes closing its
connection in the background (see `_within`). Driver errors and timeouts become
`DataSourceUnavailable`, which names the source and never its URL; the
pipeline answers 503.
"""

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    Integer,
    Select,
    String,
    TableClause,
    and_,
    bindparam,
    column,
    exists,
    select,
    table,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sources.by_key import DRIVER_ERRORS, KeyReader, key_reader
from adapters.sources.engines import DEFAULT_TIMEOUTS, Timeouts, create_source_engine
from adapters.sources.ordering import CodePointText
from governance.catalog import Dataset
from governance.errors import ConfigurationError, DataSourceUnavailable
from governance.types import Record

_STATEMENT_CACHE = 1024
T = TypeVar("T")
# Reads cut off at their deadline, still closing their connections.
_CLOSING: set[asyncio.Task[Any]] = set()


class SqlDataSource:
    """Reads datasets from the SQL sources named in the catalog."""

    def __init__(
        self,
        engines: Mapping[str, AsyncEngine],
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        by_key: Mapping[str, KeyReader] | None = None,
    ) -> None:
        self._engines = engines
        self._by_key_readers = dict(by_key or {})
        # SQLite runs inline and never yields mid-statement, so a deadline on the
        # loop could not fire; its progress handler bounds the statement instead.
        self._deadlines = {
            name: None if engine.dialect.name == "sqlite" else timeouts.deadline_s
            for name, engine in engines.items()
        }
        self._text = CodePointText()
        # Statements by (dataset, columns), built once: reads bind the key only.
        self._by_key: dict[tuple[str, tuple[str, ...]], _ByKey] = {}
        self._scans: dict[_ScanShape, Select[Any]] = {}

    @classmethod
    def from_urls(
        cls, urls: Mapping[str, str], timeouts: Timeouts = DEFAULT_TIMEOUTS
    ) -> "SqlDataSource":
        """One bounded engine per source URL.

        Raises:
            ConfigurationError: A URL names a driver sources cannot use.
        """
        engines, readers = {}, {}
        for name, url in urls.items():
            try:
                engines[name] = create_source_engine(url, timeouts)
            except ConfigurationError as exc:
                raise ConfigurationError(f"sources.{name}.url: {exc}") from None
            reader = key_reader(url, timeouts)
            if reader is not None:
                readers[name] = reader
        return cls(engines, timeouts, readers)

    async def close(self) -> None:
        """Dispose of every engine and by-key reader."""
        for reader in self._by_key_readers.values():
            await reader.close()
        for engine in self._engines.values():
            await engine.dispose()

    async def fetch_record(
        self, dataset: Dataset, subject_id: str, columns: Sequence[str]
    ) -> Record | None:
        """The subject's row, restricted to `columns`, or None."""
        key = (dataset.name, tuple(columns))
        by_key = self._by_key.get(key)
        if by_key is None:
            by_key = self._statement(dataset, columns)
            if len(self._by_key) < _STATEMENT_CACHE:
                self._by_key[key] = by_key
        reader = self._by_key_readers.get(dataset.source)

        async def read() -> Sequence[Sequence[Any]]:
            async with self._engines[dataset.source].connect() as conn:
                found: Sequence[Row[Any]] = (
                    await conn.execute(by_key.stmt, {"subject_id": subject_id})
                ).all()
                return found

        try:
            rows = (  # a by-key reader bounds its own reads
                await reader.rows(by_key.sql, subject_id)
                if reader is not None
                else await _within(self._deadlines[dataset.source], read())
            )
        except (SQLAlchemyError, *DRIVER_ERRORS) as exc:
            raise _unavailable(dataset, exc) from None
        for row in rows:  # the store's `=` may fold case or spaces: compare again
            if row[0] == subject_id:
                return {c: row[i] for c, i in by_key.positions}
        return None

    def _statement(self, dataset: Dataset, columns: Sequence[str]) -> "_ByKey":
        t = _table(dataset)
        wanted = list(dict.fromkeys([dataset.subject_key, *columns]))
        stmt = select(*[t.c[c] for c in wanted]).where(
            t.c[dataset.subject_key] == bindparam("subject_id")
        )
        dialect = self._engines[dataset.source].dialect
        positions = tuple((c, wanted.index(c)) for c in columns)
        return _ByKey(stmt, str(stmt.compile(dialect=dialect)), positions)

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
        tagged = dataset.tags is not None and bool(tags_any or tags_all)
        shape = _ScanShape(
            dataset.name,
            tuple(columns),
            after is not None,
            tagged and bool(tags_any),
            len(tags_all) if tagged else 0,
        )
        params: dict[str, Any] = {"limit": limit}
        if shape.after:
            params["after"] = after
        if shape.tags_any:
            params["tags_any"] = list(tags_any)
        params |= {f"tag_all_{i}": n for i, n in enumerate(tags_all[: shape.tags_all])}

        async def read() -> Sequence[Row[Any]]:
            async with self._engines[dataset.source].connect() as conn:
                stmt = self._scans.get(shape)
                if stmt is None:
                    stmt = await self._scan_statement(conn, dataset, shape)
                    if len(self._scans) < _STATEMENT_CACHE:
                        self._scans[shape] = stmt
                found: Sequence[Row[Any]] = (await conn.execute(stmt, params)).all()
                return found

        try:
            rows = await _within(self._deadlines[dataset.source], read())
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise _unavailable(dataset, exc) from None
        return [dict(r._mapping) for r in rows]

    async def _scan_statement(
        self, conn: AsyncConnection, dataset: Dataset, shape: "_ScanShape"
    ) -> Select[Any]:
        """The scan of `shape`, every value a bound parameter (built once per shape)."""
        t = _table(dataset)
        key = t.c[dataset.subject_key]
        order = await self._text.of(conn, key)
        stmt = (
            select(*[t.c[c] for c in shape.columns])
            .order_by(order)
            .limit(bindparam("limit", type_=Integer()))
        )
        if shape.after:
            stmt = stmt.where(order > bindparam("after", type_=String()))
        if dataset.tags is None or not (shape.tags_any or shape.tags_all):
            return stmt
        spec = dataset.tags
        tt = table(
            spec.table,
            column(spec.subject_key),
            column(spec.column),
            schema=dataset.schema,
        )
        # The tag's owner is the subject by code point, as keys are everywhere:
        # under a folding collation `c1` or `C1 ` would lend their tags (孕期 …)
        # to `C1`. The plain equality stays so that the owner's index is used.
        owner_column = tt.c[spec.subject_key]
        owner = and_(
            owner_column == key, await self._text.of(conn, owner_column) == order
        )
        tag = await self._text.of(conn, tt.c[spec.column])
        if shape.tags_any:
            among = tag.in_(bindparam("tags_any", type_=String(), expanding=True))
            stmt = stmt.where(exists(select(1).where(owner, among)))
        for i in range(shape.tags_all):
            name = bindparam(f"tag_all_{i}", type_=String())
            stmt = stmt.where(exists(select(1).where(owner, tag == name)))
        return stmt


@dataclass(frozen=True)
class _ScanShape:
    """What a scan's statement depends on; its values are bound per scan."""

    dataset: str
    columns: tuple[str, ...]
    after: bool
    tags_any: bool
    tags_all: int  # how many tags every subject must have


@dataclass(frozen=True)
class _ByKey:
    """A by-key select: for the engine, compiled for a by-key reader, and where
    each asked-for column sits in a selected row (the key is always first)."""

    stmt: Select[Any]
    sql: str
    positions: tuple[tuple[str, int], ...]


async def _within(deadline: float | None, read: Coroutine[Any, Any, T]) -> T:
    """The result of `read`, or `TimeoutError` at `deadline`, never later.

    A read cancelled mid-statement closes its connection before it ends, and
    SQLAlchemy first asks an asyncpg connection to close gracefully, waiting up
    to 2 s for a server that may never answer: on the request's time, that
    would triple a 1 s deadline. So the read runs as a task of its own; at the
    deadline the request is answered and the cancelled task finishes closing
    in the background. Without a deadline (SQLite, bounded inline) it runs here.
    """
    if deadline is None:
        return await read
    task = asyncio.ensure_future(read)
    _CLOSING.add(task)
    task.add_done_callback(_settled)
    try:
        async with asyncio.timeout(deadline):
            return await asyncio.shield(task)
    finally:
        task.cancel()  # a no-op once it is done


def _settled(task: asyncio.Task[Any]) -> None:
    """Forget a finished read; its failure, if any, was raised to the request already."""
    _CLOSING.discard(task)
    if not task.cancelled():
        task.exception()


def _unavailable(dataset: Dataset, exc: BaseException) -> DataSourceUnavailable:
    """The error a failed read raises: names the source, never its URL."""
    return DataSourceUnavailable(
        f"data source '{dataset.source}' failed ({type(exc).__name__})"
    )


def _table(dataset: Dataset) -> TableClause:
    return table(
        dataset.table, *[column(f) for f in dataset.fields], schema=dataset.schema
    )
