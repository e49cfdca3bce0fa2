"""The figures of a monthly self-check report, as frozen values.

`collect` and `build` fill them from the trail and the consent ledger; the HTML
and JSON renderers only lay them out. Nothing here ever holds a personal value:
subjects appear only as counts or as the trail's keyed references (`s_…`).
Instants are the trail's UTC text; days are dates in Beijing time.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutcomeCounts:
    """Accesses of one purpose, caller or day, by how they ended."""

    key: str
    allowed: int = 0
    denied: int = 0
    error: int = 0
    total: int = field(init=False)
    """Every access counted here."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.allowed + self.denied + self.error)


@dataclass(frozen=True)
class Accesses:
    """Governed data accesses (`access.*` events) of the month."""

    total: OutcomeCounts
    subjects: int
    """Distinct subjects whose data was released (reads and audience queries)."""
    by_purpose: tuple[OutcomeCounts, ...]
    by_caller: tuple[OutcomeCounts, ...]
    by_day: tuple[OutcomeCounts, ...]


@dataclass(frozen=True)
class SensitiveUse:
    """Allowed accesses that released fields of one sensitive category."""

    category: str
    purpose: str
    caller: str
    events: int
    fields: tuple[str, ...]


@dataclass(frozen=True)
class SensitiveTagUse:
    """Audience queries that filtered on one sensitive tag."""

    tag: str
    category: str
    purpose: str
    outcome: str
    events: int


@dataclass(frozen=True)
class Counted:
    """A code or name and how often it occurred."""

    key: str
    count: int


@dataclass(frozen=True)
class KindCount(Counted):
    """Events of one kind (`count`), and how many of them ended each way."""

    allowed: int = 0
    denied: int = 0
    error: int = 0


@dataclass(frozen=True)
class Refusal:
    """Refused requests that were not data accesses, of one kind, reason and caller.

    A service key probing the audit trail (`caller.role`), unauthenticated or
    throttled requests (`caller.unauthenticated`, `caller.throttled`), a spent
    budget (`caller.budget`), a refused consent grant: none of these read data,
    but each is something an officer follows up.
    """

    kind: str
    reason: str
    caller: str
    """The caller's name, or `(none)` when the request named no valid key."""
    count: int


@dataclass(frozen=True)
class Denials:
    """Refused accesses by reason code, the policy's own reasons, and refusals of
    everything else."""

    by_reason: tuple[Counted, ...]
    policy_reasons: tuple[Counted, ...]
    outside_access: tuple[Refusal, ...] = ()
    """Denied events that are not `access.*`, largest group first."""


@dataclass(frozen=True)
class ConsentChanges:
    """Consent ledger events of one purpose recorded during the month."""

    purpose: str
    granted: int = 0
    withdrawn: int = 0
    expired: int = 0


@dataclass(frozen=True)
class Latency:
    """From each withdrawal of the month to the first refused access (seconds)."""

    withdrawals: int
    refused: int
    """Withdrawals followed by a refused access for the same subject and purpose."""
    median_s: float | None
    p95_s: float | None
    max_s: float | None


@dataclass(frozen=True)
class AllowedAfterWithdrawal:
    """An access allowed after the subject withdrew consent for its purpose: a finding."""

    event_id: str
    ts: str
    kind: str
    caller: str | None
    purpose: str
    subject_ref: str
    withdrawn_at: str


@dataclass(frozen=True)
class Consent:
    """Grants and withdrawals, how fast withdrawals took effect, and any breach."""

    changes: tuple[ConsentChanges, ...]
    latency: Latency
    violations: int
    """Accesses allowed after a withdrawal (must be zero)."""
    listed: tuple[AllowedAfterWithdrawal, ...]
    """The first of them, oldest first (at most `LISTED_FINDINGS`)."""


@dataclass(frozen=True)
class VolumeFlag:
    """A day whose access volume departs from the caller's baseline."""

    caller: str
    day: str
    count: int
    median: float
    score: float
    direction: str
    """`spike` or `drop`."""


@dataclass(frozen=True)
class CallerBaseline:
    """A caller's usual daily volume and its days this month."""

    caller: str
    baseline_days: int
    median: float
    mad: float
    month_total: int
    daily: tuple[int, ...]
    """Accesses per day of the month (Beijing time)."""
    status: str
    """`scored`, `new` (no access before this month) or `short` (baseline too short)."""


@dataclass(frozen=True)
class Anomalies:
    """Callers whose volume departs from their usual pattern, and new callers."""

    rule: str
    flags: tuple[VolumeFlag, ...]
    callers: tuple[CallerBaseline, ...]
    new_callers: tuple[str, ...] = field(init=False)
    """Callers with no access before this month."""

    def __post_init__(self) -> None:
        new = tuple(c.caller for c in self.callers if c.status == "new")
        object.__setattr__(self, "new_callers", new)


@dataclass(frozen=True)
class Revision:
    """A policy bundle revision that decided events during the month."""

    revision: str
    first_seen: str
    last_seen: str
    decisions: int


@dataclass(frozen=True)
class ChainCheck:
    """`audit.verify.verify_trail` over the whole trail when the report was built."""

    ok: bool
    events: int
    chains: int
    first_bad: dict[str, object] | None


@dataclass(frozen=True)
class SelfCheckReport:
    """Everything the monthly self-check shows, for one month."""

    month: str
    period_start: str
    period_end: str
    complete: bool
    generated_at: str
    chain: ChainCheck
    accesses: Accesses
    sensitive: tuple[SensitiveUse, ...]
    sensitive_tags: tuple[SensitiveTagUse, ...]
    denials: Denials
    consent: Consent
    anomalies: Anomalies
    revisions: tuple[Revision, ...]
    events_by_kind: tuple[KindCount, ...]
    purpose_titles: dict[str, str] = field(default_factory=dict)
    """Purpose name -> its Chinese title, from the catalog."""
    category_titles: dict[str, str] = field(default_factory=dict)
    """Data category -> its Chinese label."""
