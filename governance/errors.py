"""Errors that end a request, each with a stable snake_case `code` and HTTP `status`.

```
* GovernanceError                      .code, .status; message never holds a personal value
  x AuthenticationFailed        401    unauthenticated
  x AccessDenied                403
    + ForbiddenRole                    forbidden_role
    + PurposeNotPermitted              purpose_not_permitted
    + ConsentMissing                   consent_missing
    + ConsentWithdrawn                 consent_withdrawn
    + ConsentExpired                   consent_expired
    + ConsentStale                     consent_stale (notice changed since; C-05)
    + PersonalisationOptedOut          personalisation_opted_out (A-01)
    + PolicyDenied                     policy_denied (carries the policy's reasons)
    + DetokeniseNotPermitted           detokenise_not_permitted
  x NotFound                    404
    + UnknownDataset                   unknown_dataset
    + UnknownSubject                   unknown_subject
    + UnknownCaller                    unknown_caller
  x InvalidRequest              422    invalid_request
    + InvalidFilter                    invalid_filter (an audit filter's value is malformed)
    + UnknownFilter                    unknown_filter (an audit query names an unknown
                                       parameter, or one twice)
    + InvalidCursor                    invalid_cursor (malformed, or issued for other filters)
    + InvalidTimeRange                 invalid_time_range (since not before until; a
                                       bound an export or breach query needs is missing)
    + TimeRangeTooWide                 time_range_too_wide (an export or breach query
                                       over more than 366 days)
  x Conflict                    409    conflict
  x RateLimited                 429    rate_limited (the caller's budget is spent; .retry_after_s)
  x DependencyUnavailable       503    dependency_unavailable (fail closed)
    + PolicyEngineUnavailable, DataSourceUnavailable, AuditWriteFailed,
      StoreUnavailable
      + AuthenticationUnavailable      authentication_unavailable (key not checkable)
    + CountersUnavailable              counters_unavailable (the shared counters cannot
                                       be reached, so no budget can be checked)
* ConfigurationError(ValueError)       startup only: names the file, the entry, the fault
* MaskingParamsError(ValueError)       an operator's parameters are invalid
```
413 `payload_too_large` is answered by `governance.api.limits.RequestLimits` before any
handler runs, so it has no class here.
"""

from typing import ClassVar


class GovernanceError(Exception):
    """Base of every error that ends a request with a problem+json answer."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, *, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reasons = reasons
        self.decision_id: str | None = None


class AuthenticationFailed(GovernanceError):
    """No valid credential was presented."""

    code = "unauthenticated"
    status = 401
    title = "Authentication required"


class AccessDenied(GovernanceError):
    """The caller is known but may not do this."""

    code = "access_denied"
    status = 403
    title = "Access denied"


class ForbiddenRole(AccessDenied):
    """The caller's role does not allow this endpoint."""

    code = "forbidden_role"
    title = "Role not allowed"


class PurposeNotPermitted(AccessDenied):
    """The caller may not act for the declared purpose."""

    code = "purpose_not_permitted"
    title = "Purpose not permitted"


class ConsentMissing(AccessDenied):
    """The subject never granted consent for the purpose."""

    code = "consent_missing"
    title = "No consent for this purpose"


class ConsentWithdrawn(AccessDenied):
    """The subject withdrew consent for the purpose."""

    code = "consent_withdrawn"
    title = "Consent withdrawn"


class ConsentExpired(AccessDenied):
    """The subject's consent for the purpose has passed its expiry."""

    code = "consent_expired"
    title = "Consent expired"


class ConsentStale(AccessDenied):
    """The purpose's notice changed after the consent was given (C-05)."""

    code = "consent_stale"
    title = "Consent must be renewed"


class PersonalisationOptedOut(AccessDenied):
    """The subject turned personalisation off (A-01)."""

    code = "personalisation_opted_out"
    title = "Personalisation turned off"


class PolicyDenied(AccessDenied):
    """The policy refused the access; `reasons` holds its reason codes."""

    code = "policy_denied"
    title = "Refused by policy"


class DetokeniseNotPermitted(AccessDenied):
    """The purpose may not turn tokens back into values, or not of these categories."""

    code = "detokenise_not_permitted"
    title = "Detokenising not permitted"


class NotFound(GovernanceError):
    """A named resource does not exist."""

    code = "not_found"
    status = 404
    title = "Not found"


class UnknownDataset(NotFound):
    """The dataset is not in the catalog."""

    code = "unknown_dataset"
    title = "Unknown dataset"


class UnknownSubject(NotFound):
    """The dataset holds no record for the subject."""

    code = "unknown_subject"
    title = "Unknown subject"


class UnknownCaller(NotFound):
    """No caller has that name."""

    code = "unknown_caller"
    title = "Unknown caller"


class InvalidRequest(GovernanceError):
    """The request is malformed or names something undeclared."""

    code = "invalid_request"
    status = 422
    title = "Invalid request"


class InvalidFilter(InvalidRequest):
    """A filter of an audit query has a malformed value."""

    code = "invalid_filter"
    title = "Invalid filter"


class UnknownFilter(InvalidRequest):
    """An audit query names a parameter it does not take, or one more than once."""

    code = "unknown_filter"
    title = "Unknown filter"


class InvalidCursor(InvalidRequest):
    """A cursor is malformed, or was issued for other filters or another listing."""

    code = "invalid_cursor"
    title = "Invalid cursor"


class InvalidTimeRange(InvalidRequest):
    """`since` is not before `until`, or a bound the operation needs is missing."""

    code = "invalid_time_range"
    title = "Invalid time range"


class TimeRangeTooWide(InvalidRequest):
    """The time range is wider than the operation allows."""

    code = "time_range_too_wide"
    title = "Time range too wide"


class Conflict(GovernanceError):
    """The request conflicts with the current state."""

    code = "conflict"
    status = 409
    title = "Conflict"


class TrailAltered(Conflict):
    """An event to be exported does not hold its own hash: the trail was altered."""

    code = "trail_altered"
    title = "Audit trail altered"


class LastAdmin(Conflict):
    """Revoking this key over the API would leave no active admin."""

    code = "last_admin"
    title = "Last admin key"


class RateLimited(GovernanceError):
    """The caller spent its request budget for the current window."""

    code = "rate_limited"
    status = 429
    title = "Rate limited"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class DependencyUnavailable(GovernanceError):
    """A dependency needed to decide or answer safely is down: fail closed."""

    code = "dependency_unavailable"
    status = 503
    title = "Dependency unavailable"


class PolicyEngineUnavailable(DependencyUnavailable):
    """The policy engine raised or returned no usable decision."""


class DataSourceUnavailable(DependencyUnavailable):
    """The data source could not be read."""


class StoreUnavailable(DependencyUnavailable):
    """The governance store (consent state) could not be read."""


class AuthenticationUnavailable(StoreUnavailable):
    """The presented key could not be checked: the caller registry could not be read.

    Not a 401: the key may well be valid, and the same request can be retried.
    """

    code = "authentication_unavailable"
    title = "Authentication unavailable"


class CountersUnavailable(DependencyUnavailable):
    """The shared counters (Redis) did not answer in time: no budget can be checked."""

    code = "counters_unavailable"
    title = "Counters unavailable"


class AuditWriteFailed(DependencyUnavailable):
    """The audit event could not be committed, so nothing may be answered."""


class AppendRejected(AuditWriteFailed):
    """The store refused what an append carried, by one of its own rules (a
    unique key): nothing of it was stored. A consent change made from a state
    that another change has just left fails so, and is made again."""


class ConfigurationError(ValueError):
    """Configuration is invalid; raised at startup with file, entry and fault."""


class RestartRequired(ConfigurationError):
    """The policy engine cannot take a new bundle while running (the OPA sidecar)."""


class MaskingParamsError(ValueError):
    """A masking operator was given invalid parameters."""
