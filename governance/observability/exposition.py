"""What a scrape of `/metrics` returns, and a worker's goodbye to the shared files.

One process: its default registry (the metrics of `metrics`, plus Python's
process and GC collectors). Several workers (multiprocess mode): the values
every worker wrote to `PROMETHEUS_MULTIPROC_DIR`, summed, whichever worker
answers the scrape. The audit checkpoint gauges are read from the answering
worker's sealer at scrape time: the checkpoints are one tree, shared by all;
so is the counters' state (one Redis for every worker).

A gauge says what a worker holds *now* (its policy revision, its queued audit
events), so only live workers' gauges count. A worker that stops cleanly drops
its own (`worker_stopped`); one that dies (SIGKILL, out of memory) cannot, and
uvicorn starts another in its place under a new pid. So every scrape first
drops the gauge files of pids that are no longer running: a dead worker's
revision or queue depth is gone from the very next scrape. Its counters and
histograms stay, as they must: what it served still happened.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from audit.checkpoint_task import Sealer
from governance.budget import CallerBudget
from governance.observability.metrics import MULTIPROCESS

# prometheus_client's file of one process's `live*` gauges (`metrics.gauge`).
_LIVE_GAUGES = re.compile(r"gauge_live[a-z]+_([1-9][0-9]*)\.db")


class CheckpointCollector:
    """The latest signed checkpoint a worker has seen, read at scrape time."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    def collect(self) -> Iterator[Metric]:
        """Age and size of the latest checkpoint, and whether the last seal failed."""
        status = self._sealer.status()
        failed = GaugeMetricFamily(
            "govproxy_audit_checkpoint_sealing_failed",
            "1 when the last sealing round failed (see /healthz), else 0.",
            value=1 if status["last_error"] else 0,
        )
        yield failed
        if status["age_seconds"] is not None:
            yield GaugeMetricFamily(
                "govproxy_audit_checkpoint_age_seconds",
                "Seconds since the latest signed checkpoint of the audit trail.",
                value=status["age_seconds"],
            )
            yield GaugeMetricFamily(
                "govproxy_audit_checkpoint_tree_size",
                "Audit events covered by the latest signed checkpoint.",
                value=status["tree_size"],
            )


class CountersCollector:
    """Whether the request budget's counters answer, read at scrape time."""

    def __init__(self, budget: CallerBudget) -> None:
        self._budget = budget

    def collect(self) -> Iterator[Metric]:
        """Up (as the last hit or probe found them) and whether requests need them."""
        state = self._budget.counters.state()
        up = GaugeMetricFamily(
            "govproxy_counters_up",
            "1 while the request budget's counters (in process or Redis) answer;"
            " 0 after a failed hit or probe: requests needing them then get 503.",
            labels=["backend"],
        )
        up.add_metric([state.backend], 1 if state.up else 0)
        yield up
        yield GaugeMetricFamily(
            "govproxy_counters_required",
            "1 when a request budget is set, so requests with a key need the counters.",
            value=1 if self._budget.required else 0,
        )


def scrape(sealer: Sealer, budget: CallerBudget) -> bytes:
    """Every metric in the Prometheus text format (0.0.4)."""
    local = CollectorRegistry()
    local.register(CheckpointCollector(sealer))
    local.register(CountersCollector(budget))
    if MULTIPROCESS:
        _forget_dead_workers(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
        MultiProcessCollector(local)  # type: ignore[no-untyped-call]
        return generate_latest(local)
    return generate_latest(REGISTRY) + generate_latest(local)


def _forget_dead_workers(directory: Path) -> None:
    """Remove the live-gauge files of processes that are no longer running.

    Workers scrape concurrently, so a file may already be gone. A pid the
    kernel has since given to another process keeps its file until that one
    ends too: with a few workers, pid reuse is rare and its cost one stale gauge.
    """
    for path in directory.glob("gauge_live*_*.db"):
        found = _LIVE_GAUGES.fullmatch(path.name)
        if found and not _running(int(found[1])):
            path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Whether a process `pid` exists (signal 0 checks without sending one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def worker_stopped() -> None:
    """Drop this worker's live gauges from the shared files (multiprocess mode only)."""
    if MULTIPROCESS:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
