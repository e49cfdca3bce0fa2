"""The container's settings and catalog load as shipped."""

from pathlib import Path

from governance.catalog import load_catalog
from governance.settings import load_settings

CONFIG = Path(__file__).resolve().parents[1] / "docker" / "config"


def test_container_settings_and_catalog_load(monkeypatch):
    """docker/config holds valid settings and a catalog reading its source from the env."""
    monkeypatch.setenv("GOV_CUSTOMERS_URL", "postgresql+asyncpg://reader@db/crm")

    settings = load_settings(CONFIG / "govproxy.yaml")
    catalog = load_catalog(CONFIG / "catalog.yaml")

    assert settings.server.host == "0.0.0.0"  # noqa: S104 - the container listens on all
    assert catalog.sources["demo"] == "postgresql+asyncpg://reader@db/crm"


def test_container_catalog_is_the_demo_catalog_on_another_source():
    """The image ships the demo catalog; only where customers live differs."""
    demo = (CONFIG.parents[1] / "governance" / "demo" / "catalog.yaml").read_text(
        "utf-8"
    )
    shipped = (CONFIG / "catalog.yaml").read_text("utf-8")

    assert shipped == demo.replace(
        "url: sqlite+aiosqlite:///customers.db", "url: ${GOV_CUSTOMERS_URL}"
    )
