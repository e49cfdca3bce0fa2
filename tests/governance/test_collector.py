"""The cyclic garbage collector leaves a serving app's startup objects alone.

Full collections used to walk everything startup built, in pauses that set the
p99 of governed reads (`bench/load_bench.py`, RESULTS.md). A running app keeps
those objects frozen out of the collector's sight, and gives them back at
shutdown so that a process building many apps can still reclaim them.
"""

import gc

from fastapi.testclient import TestClient

from governance.app import GC_YOUNG_THRESHOLD, create_app
from governance.settings import Settings


def test_a_running_app_freezes_its_startup_objects_and_thaws_them_at_shutdown(
    demo_settings: Settings,
) -> None:
    """Frozen while serving (tens of thousands of objects), none after it stops."""
    gc.unfreeze()
    with TestClient(create_app(demo_settings)) as client:
        assert client.get("/healthz").status_code == 200
        serving = gc.get_freeze_count()
        threshold = gc.get_threshold()[0]

    assert serving > 10_000
    assert threshold == GC_YOUNG_THRESHOLD
    assert gc.get_freeze_count() == 0
