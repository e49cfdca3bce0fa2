"""One audited action: collect what happened, then commit its audit event before answering.

`audited()` runs a governed step and appends exactly one audit event for it,
allowed or denied. Statements the step leaves in `trail.also` (a consent event)
commit in the same transaction as the event, and only if the step succeeded.
If that event cannot be committed, the caller gets `AuditWriteFailed` (503)
instead of the answer: nothing leaves unaudited. A step that finds the store
unusable (`adapters.sql.engine.STORE_FAULTS`: refused, reset, or silent past
its bounds) fails with `StoreUnavailable` (503), not a 500. An event the policy decided
names its decision shape (revision, input, result: the decision log entry).
The request's canonical log line names the action's decision id, caller,
purpose and outcome (`governance.observability.request_log`).
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from sqlalchemy.sql import Executable

from adapters.sql.engine import STORE_FAULTS
from audit.record import AuditDraft, DecisionShape
from audit.writer import AuditWriter
from governance.errors import (
    AppendRejected,
    Conflict,
    GovernanceError,
    StoreUnavailable,
)
from governance.observability.request_log import note_access
from governance.policy.decision_log import decision_shape
from governance.types import Decision, Outcome

T = TypeVar("T")
CHANGE_ATTEMPTS = 32  # of one consent change, while others change the same consent


@dataclass
class Trail:
    """What is known so far about one access; becomes its audit event."""

    kind: str
    decision_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    caller: str | None = None
    purpose: str | None = None
    dataset: str | None = None
    subject_ref: str | None = None
    fields: tuple[str, ...] = ()
    obligations: dict[str, str] = field(default_factory=dict)
    policy_revision: str | None = None
    decision: DecisionShape | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    also: list[Executable] = field(default_factory=list)

    def decided(self, decision: Decision, policy_input: dict[str, Any]) -> None:
        """Record the policy's decision and the input it was asked."""
        self.policy_revision = decision.revision
        self.decision = decision_shape(decision, policy_input)
        self.obligations = {k: v.value for k, v in decision.obligations.items()}
        if decision.reasons:
            self.detail["reasons"] = list(decision.reasons)

    def draft(self, outcome: Outcome, reason: str | None) -> AuditDraft:
        """The audit event for this access."""
        return AuditDraft(
            kind=self.kind,
            outcome=outcome.value,
            caller=self.caller,
            purpose=self.purpose,
            dataset=self.dataset,
            subject_ref=self.subject_ref,
            fields=self.fields,
            obligations=self.obligations,
            reason=reason,
            decision_id=self.decision_id,
            policy_revision=self.policy_revision,
            decision=self.decision,
            detail=self.detail,
        )


async def audited(
    audit: AuditWriter, trail: Trail, step: Callable[[], Awaitable[T]]
) -> T:
    """Run `step`, audit its outcome durably, then return or re-raise.

    A store fault escaping `step` is raised as `StoreUnavailable`, naming only
    its type (its text may quote a statement or a value).
    """
    try:
        result = await _run(step)
    except GovernanceError as exc:
        outcome = Outcome.DENIED if exc.status < 500 else Outcome.ERROR
        exc.decision_id = trail.decision_id
        await _commit(audit, trail, outcome, exc.code)
        raise
    except Exception:
        await _commit(audit, trail, Outcome.ERROR, "internal_error")
        raise
    await _commit(audit, trail, Outcome.ALLOWED, None, also=trail.also)
    return result


async def _run(step: Callable[[], Awaitable[T]]) -> T:
    try:
        return await step()
    except STORE_FAULTS as exc:
        raise StoreUnavailable(
            f"the governance store could not be used ({type(exc).__name__})"
        ) from None


async def audited_retrying(
    audit: AuditWriter,
    trail: Trail,
    step: Callable[[], Awaitable[T]],
    *,
    attempts: int,
) -> T:
    """`audited()`, run again (the trail's detail and statements reset) while
    the store rejects what the step prepared (`AppendRejected`: a unique index
    or a guard another commit broke first; nothing stored), at most `attempts`
    times in all. Each run decides from what committed meanwhile; the last
    rejection is raised."""
    detail = dict(trail.detail)
    for _ in range(attempts - 1):
        try:
            return await audited(audit, trail, step)
        except AppendRejected:
            trail.detail, trail.also = dict(detail), []
    return await audited(audit, trail, step)


async def audited_change(
    audit: AuditWriter, trail: Trail, step: Callable[[], Awaitable[T]]
) -> T:
    """`audited()` for a consent change: run again while the store refuses it.

    A change is made from the state it read; when another change of the same
    consent committed in between (a double tap, a grant racing a withdrawal),
    the store refuses the second to follow the same event (`AppendRejected`,
    nothing stored). The step then runs again on a fresh trail and decides from
    the state the first left: a repeated withdrawal becomes a no-op, a grant
    supersedes the grant that won. Of n changes racing, one commits per round,
    so the last needs n attempts; past `CHANGE_ATTEMPTS` the change is refused
    (409 `conflict`) and audited as such.
    """
    detail = dict(trail.detail)
    try:
        return await audited_retrying(audit, trail, step, attempts=CHANGE_ATTEMPTS)
    except AppendRejected:
        trail.detail, trail.also = dict(detail), []

    async def refuse() -> T:
        raise Conflict(
            "this consent kept changing while the change was made: nothing was"
            " changed; try again"
        )

    return await audited(audit, trail, refuse)


async def _commit(
    audit: AuditWriter,
    trail: Trail,
    outcome: Outcome,
    reason: str | None,
    *,
    also: list[Executable] | None = None,
) -> None:
    try:
        await audit.append(trail.draft(outcome, reason), also=also or ())
    except GovernanceError as exc:
        exc.decision_id = trail.decision_id
        raise
    finally:
        note_access(
            kind=trail.kind,
            decision_id=trail.decision_id,
            caller=trail.caller,
            purpose=trail.purpose,
            outcome=outcome.value,
        )


async def refused(
    audit: AuditWriter,
    kind: str,
    caller: str | None,
    route: str,
    error: GovernanceError,
    **detail: Any,
) -> NoReturn:
    """Audit `error` as `caller`'s denial at `route` (a template, never its values),
    with `detail`, then raise it: for refusals that come before any handler's own
    trail. `caller` is None when the request named no valid key."""

    async def refuse() -> None:
        raise error

    trail = Trail(kind=kind, caller=caller)
    trail.detail |= {"route": route, **detail}
    await audited(audit, trail, refuse)
    raise error  # audited() has raised it already; this says so to type checkers
