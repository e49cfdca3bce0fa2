"""Every personal value and secret of a demo deployment, and a detector for them in text.

A value can reach a log or a scrape as written, JSON-escaped (`\\u5f20`, as
`json.dumps` writes Chinese), percent-encoded (as it travels in a path or
query) or as a header's UTF-8 bytes read as Latin-1 (as ASGI servers decode
headers), so `leaks` looks for every one of these forms.
"""

import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

PERSONAL_COLUMNS = (
    "customer_id",
    "name",
    "nickname",
    "mobile",
    "id_number",
    "email",
    "address",
    "birth_date",
    "bank_card",
)


def demo_personal_values(demo_dir: Path) -> set[str]:
    """Every customer's personal values, every caller key and its secret, every key."""
    with closing(sqlite3.connect(demo_dir / "customers.db")) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM customers").fetchall()
    values = {row[column] for row in rows for column in PERSONAL_COLUMNS}
    creds = json.loads((demo_dir / "demo-credentials.json").read_text(encoding="utf-8"))
    for caller in creds:
        values |= {caller["key"], caller["key"].split("_", 2)[2]}  # gp_<id>_<secret>
    keys = json.loads((demo_dir / "keys.json").read_text(encoding="utf-8"))["keys"]
    values |= {secret for versions in keys.values() for secret in versions.values()}
    return values


def forms(value: str) -> set[str]:
    """How `value` may be written: as is, percent-encoded, as Latin-1; JSON-escaped."""
    plain = {
        value,
        quote(value),
        quote(value, safe=""),
        value.encode().decode("latin-1"),
    }
    return plain | {json.dumps(form)[1:-1] for form in plain}


def leaks(text: str, values: Iterable[str]) -> list[str]:
    """The values of `values` that appear in `text` in any of their forms, sorted."""
    return sorted(v for v in values if any(f in text for f in forms(v)))
