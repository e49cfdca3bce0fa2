"""Hot bundle reload: pick up a changed bundle without a restart, or keep the old one.

`PolicyReloader` watches the policy bundle (`PolicyBundles`: a digest of every
bundle file, every `interval` seconds; 0 turns the watch off), and reloads on
request (`POST /v1/policy/reload`) or on SIGHUP. A reload:

1. checks the bundle against the live catalog, runs its own Rego tests (a test
   that fails or errors is a finding) and loads it (`PolicyBundles.read`, in a
   worker thread: the checker builds and drops its own engines there, and the
   event loop serves between the engine's calls, which hold the GIL for up to
   ~0.1 s while a bundle compiles);
2. if the files changed meanwhile, stops and lets the next poll try again;
3. if the revision is the one in force, changes nothing;
4. if there is any finding, or the engine does not build, keeps the bundle in
   force, records `last_error`, logs `policy_rejected` and audits
   `policy.rejected` (the rejected revision and the findings' codes);
5. otherwise audits `policy.activated` (old and new revision) and swaps the
   engine (`LiveDecider.swap`). If that event cannot be written, nothing is
   swapped (a bundle never decides unaudited) and the next poll tries again.

Engines are built on the event loop's thread, the one that uses and closes them.
"""

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog

from audit.record import AuditDraft
from audit.writer import AuditWriter
from governance.catalog import Catalog
from governance.errors import ConfigurationError, RestartRequired
from governance.policy.bundles import Finding, PolicyBundles
from governance.policy.live import ClosableDecider, LiveDecider
from governance.types import Outcome

_log = structlog.get_logger("governance.policy")


class ReloadOutcome(StrEnum):
    """What one reload attempt did."""

    ACTIVATED = "activated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"
    CHANGING = "changing"  # files changed while being checked; the next poll retries


@dataclass(frozen=True)
class Rejection:
    """Why the last bundle found on disk is not in force."""

    revision: str
    at: str
    findings: tuple[Finding, ...]

    @property
    def codes(self) -> list[str]:
        """The distinct finding codes, sorted: what `/healthz` shows."""
        return sorted({f.code for f in self.findings})


@dataclass(frozen=True)
class ReloadResult:
    """The outcome of one attempt and the revision in force after it."""

    outcome: ReloadOutcome
    revision: str
    previous: str | None = None
    rejection: Rejection | None = None


class PolicyReloader:
    """Keeps `live` deciding with the newest bundle of `bundles` that passes its checks."""

    def __init__(
        self,
        *,
        bundles: PolicyBundles,
        catalog: Catalog,
        live: LiveDecider,
        audit: AuditWriter,
        interval: float,
        now: Callable[[], datetime],
    ) -> None:
        self._bundles, self._catalog, self._live = bundles, catalog, live
        self._audit = audit
        self._interval, self._now = interval, now
        self._lock = asyncio.Lock()
        self._seen: str | None = None  # digest of the files last checked
        self._activated_at = self._stamp()
        self._last_reload_at: str | None = None
        self._rejection: Rejection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._signal = False

    def status(self, *, findings: bool = False) -> dict[str, Any]:
        """Revision in force, when it was activated, the last attempt and its error.

        `findings=True` lists each finding (`file[:line]: code: message`); the
        public `/healthz` shows codes only.
        """
        error: dict[str, Any] | None = None
        if self._rejection is not None:
            error = {
                "revision": self._rejection.revision,
                "at": self._rejection.at,
                "codes": self._rejection.codes,
            }
            if findings:
                error["findings"] = [str(f) for f in self._rejection.findings]
        return {
            "revision": self._live.revision,
            "activated_at": self._activated_at,
            "last_reload_at": self._last_reload_at,
            "last_error": error,
        }

    async def start(self) -> None:
        """Remember the bundle in force, start the watch, listen for SIGHUP."""
        self._seen = await asyncio.to_thread(self._bundles.digest)
        if self._interval > 0:
            self._spawn(self._watch())
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            # Only the main thread may handle signals (not so under a test client).
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, lambda: self._spawn(self._reload_logged("signal"))
            )
            self._signal = True

    async def stop(self) -> None:
        """Stop watching and listening."""
        if self._signal:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def reload(self, *, trigger: str, caller: str | None = None) -> ReloadResult:
        """Check the bundle on disk and activate it if it passes; one at a time."""
        async with self._lock:
            self._last_reload_at = self._stamp()
            return await self._attempt(trigger, caller)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                digest = await asyncio.to_thread(self._bundles.digest)
            except OSError as exc:
                _log.warning("policy_watch_failed", error=type(exc).__name__)
                continue
            if digest != self._seen:
                await self._reload_logged("watch")

    async def _reload_logged(self, trigger: str) -> None:
        """A reload nobody waits for: a failure is logged, and the next one retries."""
        try:
            await self.reload(trigger=trigger)
        except Exception as exc:  # the watch and the signal handler must survive
            _log.warning(
                "policy_reload_failed", trigger=trigger, error=type(exc).__name__
            )

    async def _attempt(self, trigger: str, caller: str | None) -> ReloadResult:
        try:
            read = await asyncio.to_thread(self._bundles.read, self._catalog)
        except OSError as exc:
            where = self._bundles.location
            finding = Finding(where, None, "unreadable", type(exc).__name__)
            return await self._reject(None, "unknown", [finding], trigger, caller)
        digest, findings, revision = read.digest, read.findings, read.revision
        if digest is None:
            return ReloadResult(ReloadOutcome.CHANGING, self._live.revision)
        if read.build is not None and not findings and revision == self._live.revision:
            self._seen, self._rejection = digest, None
            return ReloadResult(ReloadOutcome.UNCHANGED, revision)
        engine = self._engine(read.build, findings)
        if engine is None:
            return await self._reject(digest, revision, findings, trigger, caller)
        try:
            await self._audit.append(
                _event(
                    "policy.activated",
                    Outcome.ALLOWED,
                    revision,
                    caller,
                    {"previous": self._live.revision, "trigger": trigger},
                )
            )
        except BaseException:
            engine.close()
            raise
        previous = self._live.swap(engine)
        self._seen, self._rejection = digest, None
        self._activated_at = self._stamp()
        _log.info("policy_activated", revision=revision, previous=previous)
        return ReloadResult(ReloadOutcome.ACTIVATED, revision, previous)

    def _engine(
        self, build: Callable[[], ClosableDecider] | None, findings: list[Finding]
    ) -> ClosableDecider | None:
        """The engine of a checked bundle (built here, on the loop's thread), or None."""
        if build is None or findings:
            return None
        try:
            return build()
        except ConfigurationError as exc:
            code = (
                "restart_required" if isinstance(exc, RestartRequired) else "load_error"
            )
            findings.append(Finding(self._bundles.location, None, code, str(exc)))
            return None

    async def _reject(
        self,
        digest: str | None,
        revision: str,
        findings: list[Finding],
        trigger: str,
        caller: str | None,
    ) -> ReloadResult:
        rejection = Rejection(revision, self._stamp(), tuple(findings))
        self._rejection = rejection
        _log.warning(
            "policy_rejected",
            revision=revision,
            kept=self._live.revision,
            codes=rejection.codes,
            findings=len(findings),
        )
        await self._audit.append(
            _event(
                "policy.rejected",
                Outcome.DENIED,
                self._live.revision,
                caller,
                {"revision": revision, "codes": rejection.codes, "trigger": trigger},
                reason="policy_rejected",
            )
        )
        self._seen = digest  # audited: the watch need not try these files again
        return ReloadResult(
            ReloadOutcome.REJECTED, self._live.revision, rejection=rejection
        )

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _stamp(self) -> str:
        return self._now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event(
    kind: str,
    outcome: Outcome,
    revision: str,
    caller: str | None,
    detail: dict[str, Any],
    *,
    reason: str | None = None,
) -> AuditDraft:
    """The audit event of an activation or a rejection; `revision` is the one in force."""
    return AuditDraft(
        kind=kind,
        outcome=outcome.value,
        caller=caller,
        reason=reason,
        policy_revision=revision,
        detail=detail,
    )
