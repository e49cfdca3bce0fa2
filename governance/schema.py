"""The store's schema: Alembic revisions, applied when the store opens or on demand.

`migrate()` brings any store to the newest revision, inside the caller's
transaction:

```
no tables at all            create the newest schema directly, stamp it head
tables, no revision         a store of a release before migrations (or whose
                            first migration failed part way): stamp the
                            baseline (0001), then upgrade
a revision                  upgrade from it
```

and then creates anything still missing (idempotent), which also installs the
consent projection's trigger and fills the projection of a store that predates
it. `open_store` runs it on every start (on PostgreSQL under an advisory lock,
so instances starting together take turns); `govproxy db upgrade` runs it alone
and `govproxy db current` reports the revision.
"""

import functools
import threading

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

BASELINE = "0001"
# Made by raw DDL beside the models (governance/consent/models.py), not by them.
UNMANAGED = frozenset({"ix_consent_current_covering"})
# Tables every release since the first has made: their presence marks a store.
_MARKERS = frozenset({"audit_events", "callers", "consent_events"})
_ALEMBIC = threading.Lock()


class MigrationRefused(RuntimeError):
    """A migration found data it cannot carry forward, and changed nothing.

    Its message says what was found (counts, never a stored value) and how to
    find it; `govproxy db upgrade` prints it and exits 2.
    """


def alembic_config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "governance:migrations")
    config.attributes["connection"] = conn
    return config


def managed(_obj: object, name: str | None, type_: str, *_args: object) -> bool:
    """Alembic's `include_object`: leave what the models do not describe alone."""
    return not (type_ == "index" and name in UNMANAGED)


@functools.cache
def head() -> str:
    """The newest revision this release knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError("no migration revisions are installed")
    return revision


def current(conn: Connection) -> str | None:
    """The revision the store is at (None: not stamped)."""
    return MigrationContext.configure(conn).get_current_revision()


def migrate(conn: Connection) -> None:
    """Bring the store on `conn` to the newest revision (see the module doc).

    Alembic keeps its running migration in module globals, so one process
    migrates one store at a time; a store already at the newest revision only
    gets the idempotent `create_all`.
    """
    if current(conn) != head():
        with _ALEMBIC:
            _upgrade(conn, set(inspect(conn).get_table_names()))
    SQLModel.metadata.create_all(conn)


def _upgrade(conn: Connection, tables: set[str]) -> None:
    config = alembic_config(conn)
    # An empty `alembic_version` is a first migration that failed part way (SQLite
    # commits DDL as it goes): the store is judged by its tables, as if unstamped.
    if current(conn) is not None:
        command.upgrade(config, "head")
    elif tables & _MARKERS:
        command.stamp(config, BASELINE)
        command.upgrade(config, "head")
    else:
        SQLModel.metadata.create_all(conn)
        command.stamp(config, "head")
