"""Alembic environment: migrate the connection `governance.schema` hands over.

The store is never reached through a URL here: `governance.schema.migrate`
passes its open connection in `config.attributes["connection"]`, inside the
transaction (and, on PostgreSQL, the advisory lock) that `open_store` holds.
SQLite alters tables in batch mode (copy and swap), as it must.
"""

from alembic import context
from sqlmodel import SQLModel

from governance.schema import managed

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=managed,
)
with context.begin_transaction():
    context.run_migrations()
