"""Screening tag names at registration (S-03): the interface and the faults it yields.

A `TagScreen` takes the catalog's tag names and returns, for each name it
rejects, what it matched (e.g. `ethnicity:回族`). The screen that ships is the
policy bundle's `data.governance.tags.registration` rule, evaluated by the
policy engine (`adapters.rego.registration`), so the word list is policy a
compliance officer edits and tests with the other rules. The catalog stays free
of any engine: `load_catalog` only turns the screen's answer into faults.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol


class TagScreen(Protocol):
    """Says which tag names may not be registered, and why."""

    def __call__(self, names: Sequence[str]) -> Mapping[str, Sequence[str]]:
        """Map each rejected name to its findings (`group:term`); omit the others.

        Raises:
            ConfigurationError: the screen itself cannot decide (fail closed).
        """
        ...


def screen_faults(names: Iterable[str], screen: TagScreen) -> list[str]:
    """One fault line per rejected tag, naming the entry and what it matched."""
    ordered = list(names)
    rejected = screen(ordered)
    return [
        f"tags.{name}: a tag may not characterise people by disease, ethnicity or"
        " religion, nor express discrimination (S-03); matched "
        + ", ".join(_describe(f) for f in rejected[name])
        for name in ordered
        if rejected.get(name)
    ]


def _describe(finding: str) -> str:
    group, _, term = finding.partition(":")
    return f"{group} term '{term}'"
