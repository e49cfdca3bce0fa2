"""The README's error table names every `code` the API can answer with.

A client branches on `code`; one missing from the table is a code its author
could not know about. The codes are collected from the error classes
themselves (every module of the proxy imported), not from a list kept here.
"""

import importlib
import pkgutil
import re
from pathlib import Path

import adapters
import audit
import governance
from governance.api.problems import _HTTP_CODES
from governance.api.protocol import BAD_HTTP_REQUEST
from governance.errors import AccessDenied, GovernanceError

README = Path(__file__).parents[2] / "README.md"
# Bases of a family, never raised themselves: their subclasses carry the codes.
FAMILY_BASES = {AccessDenied}


def raised_codes() -> set[str]:
    for package in (governance, audit, adapters):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith(("__main__", "migrations.env")):
                importlib.import_module(module.name)
    found, todo = {GovernanceError.code}, [GovernanceError]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub not in FAMILY_BASES:
                found.add(sub.code)
    return found | set(_HTTP_CODES.values()) | {"http_error", BAD_HTTP_REQUEST}


def documented_codes() -> set[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("| status | code | when |")
    table = text[start : text.index("\n\n", start)]
    return {
        code
        for row in table.splitlines()[2:]
        for code in re.findall(r"`([a-z_]+)`", row.split("|")[2])
    }


def test_every_code_the_api_answers_with_is_in_the_readme():
    """Each error class's code has a row in the README's error table."""
    assert raised_codes() - documented_codes() == set()


def test_the_readme_names_no_code_the_api_never_answers_with():
    """No row documents a code that no error carries (a renamed or removed one)."""
    assert documented_codes() - raised_codes() == set()
