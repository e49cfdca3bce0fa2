"""The policy bundle where it is kept, as the hot reload sees it (a port).

`PolicyReloader` watches a `PolicyBundles` (its digest), and on a change asks it
to check the bundle against the live catalog and load it (`read`). What a
bundle is, how it is linted and how an engine is built from it belong to the
adapter (`adapters.rego.directory.RegoBundleDirectory`); the reloader sees the
findings, the revision and a way to build the engine.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from governance.catalog import Catalog
from governance.policy.live import ClosableDecider


@dataclass(frozen=True)
class Finding:
    """One fault of a bundle: where, a stable snake_case code, and what is wrong."""

    file: str
    line: int | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.code}: {self.message}"

    def sort_key(self) -> tuple[str, int, str, str]:
        """Order of a report: by file, line, code."""
        return (self.file, self.line or 0, self.code, self.message)


@dataclass(frozen=True)
class BundleRead:
    """One check and load of the bundle as it is now."""

    digest: str | None  # of the files checked; None when they changed meanwhile
    findings: list[Finding]
    revision: str
    # Builds the engine of the loaded bundle (None when it did not load); call it
    # on the thread that will use and close the engine.
    build: Callable[[], ClosableDecider] | None


class PolicyBundles(Protocol):
    """Where the policy bundle is kept."""

    @property
    def location(self) -> str:
        """Where, for findings that concern the whole bundle."""
        ...

    def digest(self) -> str:
        """A digest of every bundle file as it is now; OSError when unreadable."""
        ...

    def read(self, catalog: Catalog) -> BundleRead:
        """Check the bundle against `catalog`, run its tests, and load it.

        Blocking (the reloader calls it in a worker thread); OSError when unreadable.
        """
        ...
