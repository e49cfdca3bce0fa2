"""Alembic migrations of the governance store (see governance/schema.py)."""
