"""Helpers that find demo subjects with given facts, straight from the demo store."""

import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

from governance.subjects import age_on, china_date


def subjects(
    demo_dir: Path, *, minor: bool | None = None, tag: str | None = None
) -> list[str]:
    """Customer ids of the demo store, filtered by minority and tag."""
    sql = "SELECT c.customer_id, c.birth_date FROM customers c"
    params: tuple[str, ...] = ()
    if tag:
        sql += " JOIN customer_tags t ON t.customer_id = c.customer_id AND t.tag = ?"
        params = (tag,)
    with closing(sqlite3.connect(demo_dir / "customers.db")) as conn:
        rows = conn.execute(sql + " ORDER BY c.customer_id", params).fetchall()
    today = china_date(datetime.now(UTC))
    return [
        cid
        for cid, birth in rows
        if minor is None or (age_on(date.fromisoformat(birth), today) < 14) == minor
    ]


def customer(demo_dir: Path, subject_id: str) -> dict[str, str]:
    """The raw stored row of one customer."""
    with closing(sqlite3.connect(demo_dir / "customers.db")) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute(
            "SELECT * FROM customers WHERE customer_id = ?", (subject_id,)
        ).fetchone()
    return dict(row)


def auth(key: str, purpose: str | None = None) -> dict[str, str]:
    """Request headers for a caller key and an optional purpose."""
    headers = {"Authorization": f"Bearer {key}"}
    if purpose:
        headers["X-Purpose"] = purpose
    return headers
