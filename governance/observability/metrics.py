"""The proxy's Prometheus metrics, defined once per process.

Every label value is a fixed word, a route template, a status, a problem code
or a bundle revision: never a path, a header or anything from a record, so no
personal value can reach a scrape. Hot-path code increments
children bound here once (`.labels()` takes a lock and builds a tuple per call).

Under `govproxy serve --workers N` prometheus_client runs in multiprocess mode
(`PROMETHEUS_MULTIPROC_DIR`): values live in files shared by the workers and a
scrape sums them. A gauge then says how its workers' values combine (`aggregate`).
"""

from typing import Literal

from prometheus_client import (
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    values,
)

# Chosen by prometheus_client at import, from PROMETHEUS_MULTIPROC_DIR.
MULTIPROCESS = values.ValueClass is not values.MutexValue
# `_created` samples exist only in one process; leave them out there too, so a
# scrape looks the same with one worker or several.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LIVE: dict[str, Literal["livemin", "livemax", "livesum"]] = {
    "min": "livemin",
    "max": "livemax",
    "sum": "livesum",
}
_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


def gauge(
    name: str,
    documentation: str,
    *,
    aggregate: Literal["min", "max", "sum"] = "max",
    labelnames: tuple[str, ...] = (),
) -> Gauge:
    """Register a gauge of the proxy, for `/metrics`; call once per process, at import.

    Args:
        name: the metric name, `govproxy_` first.
        documentation: its HELP text; say what 1 and 0 mean for a state.
        aggregate: how the values of several worker processes combine in a
            scrape (`min`: all must be up; `max`; `sum`). A worker that stopped
            no longer counts: one that died from the next scrape (`exposition`).
        labelnames: fixed label names; their values must never be personal.

    Returns:
        The gauge; `.set()` it (or `.labels(...).set()`) where the state changes.
    """
    return Gauge(
        name,
        documentation,
        labelnames,
        multiprocess_mode=_LIVE[aggregate],
    )


REQUESTS = Counter(
    "govproxy_requests",
    "HTTP requests answered, by route template (`unmatched`: no route, or refused "
    "before routing), method, status and problem code (empty when none).",
    ("route", "method", "status", "code"),
)
REQUEST_SECONDS = Histogram(
    "govproxy_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template.",
    ("route", "method"),
    buckets=_LATENCY,
)
DECISIONS = Counter(
    "govproxy_policy_decisions",
    "Policy decisions, by whether the decision cache (per access shape and "
    "revision) answered (`hit`) or the engine was asked (`miss`).",
    ("cache",),
)
CACHE_HITS = DECISIONS.labels("hit")
CACHE_MISSES = DECISIONS.labels("miss")
EVALUATION_SECONDS = Histogram(
    "govproxy_policy_evaluation_seconds",
    "Time the policy engine took per evaluation (decision-cache misses), failures too.",
    buckets=_FAST,
)
REVISION = gauge(
    "govproxy_policy_revision_info",
    "1 for each policy bundle revision a worker decides with now, else 0.",
    labelnames=("revision",),
)
CONSENT_LOOKUPS = Counter(
    "govproxy_consent_lookups",
    "Consent state reads from the store, one per governed read or query page. "
    "There is no consent cache, on purpose: every decision reads the current "
    "state, so a withdrawal holds on the very next request.",
)
AUDIT_QUEUED = gauge(
    "govproxy_audit_queue_depth",
    "Audit events handed to the writers and not yet committed (their requests wait).",
    aggregate="sum",
)
AUDIT_COMMIT_SECONDS = Histogram(
    "govproxy_audit_commit_seconds",
    "Time of one group commit of the audit writer (one transaction, many events).",
    buckets=_LATENCY,
)
AUDIT_COMMITTED = Counter(
    "govproxy_audit_events_committed",
    "Audit events durably committed.",
)
AUDIT_FAILED = Counter(
    "govproxy_audit_commit_failures",
    "Group commits that failed; their requests got 503 and nothing was returned.",
)
