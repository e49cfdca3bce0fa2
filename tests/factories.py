"""Helpers that find demo subjects with given facts, straight from the demo store."""

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from stdnum.cn import ric

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


# A well-formed policy input that the shipped bundle allows: a consented read of one
# phone number for marketing_push. Tests of engines bend copies of it.
POLICY_INPUT = {
    "caller": {"name": "sms", "role": "service", "purposes": ["marketing_push"]},
    "purpose": {
        "name": "marketing_push",
        "legal_basis": "consent",
        "categories": ["contact.phone"],
        "sensitive_categories": [],
        "excludes_minors": True,
        "marketing": True,
        "pricing": False,
        "third_party": False,
        "recipients": [],
        "impact_assessment": None,
    },
    "dataset": "customers",
    "fields": [
        {
            "name": "mobile",
            "category": "contact.phone",
            "sensitive": False,
            "derived_from": [],
        }
    ],
    "explicit_fields": True,
    "tags": [],
    "consent": {
        "required": True,
        "state": "granted",
        "kind": "general",
        "grantor": "self",
        "scope": ["contact.phone"],
    },
    "subject": {"minor": False},
    "recipient": {
        "requested": False,
        "registered": False,
        "name": None,
        "country": None,
        "cross_border": None,
        "transfer_mechanism": None,
    },
    "bulk": {"size": 1, "threshold": None, "approved": False},
}


@contextmanager
def recorded_as_adult(demo_dir: Path, subject_id: str) -> Iterator[None]:
    """Within the block the source gives the subject an adult's birth date and ID
    number, as a record later corrected: how a child's own consent reaches the
    ledger, which refuses to record one, so that tests can show every read still
    refuses it."""
    body = "11010119900101123"
    adult_id = body + ric.calc_check_digit(body)
    with closing(sqlite3.connect(demo_dir / "customers.db")) as conn, conn:
        born, number = conn.execute(
            "SELECT birth_date, id_number FROM customers WHERE customer_id = ?",
            (subject_id,),
        ).fetchone()
        conn.execute(
            "UPDATE customers SET birth_date = '1990-01-01', id_number = ?"
            " WHERE customer_id = ?",
            (adult_id, subject_id),
        )
    try:
        yield
    finally:
        with closing(sqlite3.connect(demo_dir / "customers.db")) as conn, conn:
            conn.execute(
                "UPDATE customers SET birth_date = ?, id_number = ?"
                " WHERE customer_id = ?",
                (born, number, subject_id),
            )
