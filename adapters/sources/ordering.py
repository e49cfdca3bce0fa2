"""Text compared by code point, with no padding, on every engine.

Keyset pages (`WHERE key > :after ORDER BY key LIMIT n`) neither skip nor
repeat rows only when the comparison and the order are one total order with no
ties between distinct keys; identical answers on every engine need that order
to be the same everywhere. Unicode code point order is the one all engines can
give (UTF-8 bytes sort in it), and it is Python's `sorted`:

- SQLite: `COLLATE BINARY` (a column declared `NOCASE` would fold case).
- PostgreSQL: `COLLATE "C"`. A database or column with a linguistic collation
  (`en_US.UTF-8`, `zh-x-icu`, …) sorts `a1` before `B2` and looks past
  punctuation. The index is still used when the column, or an index on
  `(key COLLATE "C")`, has that collation.
- MySQL and MariaDB: default collations ignore case and accents and pad with
  spaces (`C1` = `c1` = `C1 `). A column declared with a no-pad binary
  collation (`utf8mb4_nopad_bin`, `utf8mb4_0900_bin`) or as `VARBINARY` is
  compared as it stands, and keeps its index (MariaDB uses none for an explicit
  `COLLATE`); any other is compared as `CAST(column AS BINARY)`. The column's
  collation is read from `information_schema` once per column.

Equality on a key read by `fetch_record` is checked in Python instead (see
`SqlDataSource`), so that point reads keep the index on every engine.
"""

import re
from typing import Any

from sqlalchemy import ColumnClause, ColumnElement, bindparam, cast, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import BINARY

_NO_PAD_BINARY = re.compile(r"_(nopad_bin|0900_bin)$")
_COLLATION = text(
    "SELECT collation_name, data_type FROM information_schema.columns"
    " WHERE table_schema = COALESCE(:schema, DATABASE())"
    " AND table_name = :table AND column_name = :column"
).bindparams(bindparam("schema"), bindparam("table"), bindparam("column"))


class CodePointText:
    """Makes text columns compare in code point order, per engine."""

    def __init__(self) -> None:
        # MySQL-family columns already in a no-pad binary collation, by
        # (engine, schema, table, column); read once, then reused.
        self._native: dict[tuple[AsyncEngine, str | None, str, str], bool] = {}

    async def of(
        self, conn: AsyncConnection, column: ColumnClause[Any]
    ) -> ColumnElement[Any]:
        """`column` as an expression compared by code point on `conn`'s engine."""
        dialect = conn.dialect.name
        if dialect == "postgresql":
            return column.collate("C")
        if dialect == "sqlite":
            return column.collate("binary")
        if await self._is_native(conn, column):
            return column
        return cast(column, BINARY)

    async def _is_native(
        self, conn: AsyncConnection, column: ColumnClause[Any]
    ) -> bool:
        table = column.table
        schema = getattr(table, "schema", None)
        name = getattr(table, "name", "")
        key = (conn.engine, schema, name, column.name)
        native = self._native.get(key)
        if native is None:
            found = (
                await conn.execute(
                    _COLLATION, {"schema": schema, "table": name, "column": column.name}
                )
            ).first()
            native = found is not None and (
                found[1] == "varbinary"
                if found[0] is None
                else bool(_NO_PAD_BINARY.search(found[0]))
            )
            self._native[key] = native
        return native
