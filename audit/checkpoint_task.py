"""Sealing in a running proxy: at start, every `interval` seconds, and at stop.

`Sealer.start()` starts a background task that seals at once and then every
`interval` seconds (0: only at start and stop); `stop()` ends it and seals what
the writer committed last. Each round seals checkpoint after checkpoint until
nothing is left (`audit.seal.MAX_LEAVES` events each, yielding to requests in
between), and logs each checkpoint made (`audit_checkpoint_sealed`: number,
tree size and root, a witness kept outside the store). A failed round is
logged (`audit_seal_failed`, the error's type only) and the next round tries
again; it never stops the proxy. `status()` is what `/healthz` shows: the
latest checkpoint this process has seen and its age.
"""

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.checkpoint import Checkpoint, public_keys_of
from audit.seal import SealResult, seal
from audit.signing import AuditSigner
from governance.ports import KeyProvider


def _log() -> Any:
    """A logger bound to the logging configuration in force now (not the first one)."""
    return structlog.get_logger(__name__)


class Sealer:
    """Seals the trail of `engine` with `signer`, periodically and on demand."""

    def __init__(
        self,
        engine: AsyncEngine,
        keys: KeyProvider,
        *,
        interval: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine, self._interval, self._now = engine, interval, now
        self._signer = AuditSigner.from_keys(keys)
        self.public_keys = public_keys_of(keys)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._latest: Checkpoint | None = None
        self._last_error: str | None = None

    async def start(self) -> None:
        """Start sealing in the background: now, then every `interval` seconds."""
        self._task = asyncio.create_task(self._run(), name="audit-sealer")

    async def stop(self) -> None:
        """Stop the background task, then seal whatever is left."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._round()

    async def seal_now(self) -> list[SealResult]:
        """Seal until nothing is left; one result per checkpoint made (or one empty)."""
        async with self._lock:
            results = []
            while True:
                result = await seal(self._engine, self._signer)
                self._latest, self._last_error = result.latest, None
                results.append(result)
                if result.document is None:
                    return results
                await asyncio.sleep(0)  # let requests through between checkpoints

    def status(self) -> dict[str, Any]:
        """The latest checkpoint seen, its age in seconds, and the last failure."""
        latest = self._latest
        age = None
        if latest is not None:
            sealed = datetime.strptime(latest.sealed_at, "%Y-%m-%dT%H:%M:%S.%fZ")
            age = round((self._now() - sealed.replace(tzinfo=UTC)).total_seconds(), 1)
        return {
            "latest": latest.number if latest else None,
            "tree_size": latest.tree_size if latest else None,
            "sealed_at": latest.sealed_at if latest else None,
            "age_seconds": age,
            "last_error": self._last_error,
        }

    async def _run(self) -> None:
        while True:
            await self._round()
            if self._interval <= 0:
                return
            await asyncio.sleep(self._interval)

    async def _round(self) -> None:
        """One logged round: a failure is kept for `status` and retried next time."""
        try:
            results = await self.seal_now()
        except Exception as exc:  # the proxy must outlive any store or key fault
            self._last_error = type(exc).__name__
            _log().warning("audit_seal_failed", error=type(exc).__name__)
            return
        for made in (r.latest for r in results if r.document is not None):
            assert made is not None  # noqa: S101 - a document always has its checkpoint
            _log().info(
                "audit_checkpoint_sealed",
                number=made.number,
                tree_size=made.tree_size,
                root_hash=made.root_hash,
            )
