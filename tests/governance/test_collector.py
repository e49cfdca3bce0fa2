"""The cyclic garbage collector leaves a serving app's startup objects alone.

Full collections used to walk everything startup built, in pauses that set the
p99 of governed reads (`bench/load_bench.py`, RESULTS.md). A running app keeps
those objects frozen out of the collector's sight, and gives them back at
`env: test` deployments skip it: a test process builds and drops many apps.
"""

import gc

from fastapi.testclient import TestClient

from governance.app import GC_YOUNG_THRESHOLD, create_app
from governance.settings import Settings


def test_a_served_app_freezes_its_startup_objects(demo_settings: Settings) -> None:
    """A dev or prod app: tens of thousands of objects frozen while it serves."""
    before = gc.get_freeze_count()
    try:
        app = create_app(demo_settings.model_copy(update={"env": "dev"}))
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            serving = gc.get_freeze_count()
            threshold = gc.get_threshold()[0]
    finally:
        gc.unfreeze()

    assert serving > before + 10_000
    assert threshold == GC_YOUNG_THRESHOLD


def test_a_test_app_leaves_the_collector_alone(demo_settings: Settings) -> None:
    """`env: test`: nothing frozen, so dropped apps are collected."""
    before = gc.get_freeze_count()
    with TestClient(create_app(demo_settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == before
