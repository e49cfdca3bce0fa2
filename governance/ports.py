"""Interfaces the core depends on; implementations live in `adapters/` and `audit/`.

The core never imports a database driver, an HTTP client or a Rego engine: it
receives objects that satisfy these Protocols from `governance.app.create_app`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from governance.catalog import Dataset
from governance.types import Decision, Record


@runtime_checkable
class DataSource(Protocol):
    """Reads personal data from a store; only the named catalog columns, ever."""

    async def fetch_record(
        self, dataset: Dataset, subject_id: str, columns: Sequence[str]
    ) -> Record | None:
        """Return the subject's row restricted to `columns`, or None if absent."""
        ...

    async def scan(
        self,
        dataset: Dataset,
        *,
        columns: Sequence[str],
        tags_any: Sequence[str],
        tags_all: Sequence[str],
        after: str | None,
        limit: int,
    ) -> list[Record]:
        """Return up to `limit` rows ordered by subject key, after `after`, by tags."""
        ...


@runtime_checkable
class PolicyDecider(Protocol):
    """Answers one access decision from facts; never sees a personal value."""

    @property
    def revision(self) -> str:
        """The revision of the policy bundle in force."""
        ...

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        """Decide; raise `PolicyEngineUnavailable` when no safe answer exists."""
        ...


@runtime_checkable
class KeyProvider(Protocol):
    """Hands out named secret keys; a key's bytes never leave the process."""

    def key(self, name: str) -> tuple[str, bytes]:
        """Return (version, secret) of the current key called `name`."""
        ...

    def versions(self, name: str) -> Mapping[str, bytes]:
        """Return every version of key `name` (to open what older versions sealed)."""
        ...


@dataclass(frozen=True)
class Hit:
    """A counter after one increment: its value in the current window, and when that ends."""

    count: int
    resets_in_s: float


@dataclass(frozen=True)
class CountersState:
    """Whether the counters can be used; `last_error` is an exception type name only."""

    backend: str
    up: bool
    last_error: str | None


@runtime_checkable
class Counters(Protocol):
    """Fixed-window counters, shared by every process that uses the same backend."""

    async def hit(self, key: str, *, window_s: int) -> Hit:
        """Add one to `key` in the current `window_s`-second window and return it.

        Raises `CountersUnavailable` when the backend cannot answer in time.
        """
        ...

    async def probe(self) -> CountersState:
        """Check the backend now (for `/healthz`) and return its state."""
        ...

    def state(self) -> CountersState:
        """The state seen by the last operation, without asking the backend."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
