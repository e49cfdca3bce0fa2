"""Catalog loading: the demo catalog loads, and every kind of fault stops startup.

A fault is reported as `<file>: <dotted entry>: <what is wrong>`, one line each.
"""

import datetime as dt
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from governance.catalog import Catalog, load_catalog
from governance.errors import ConfigurationError, UnknownDataset

Doc = dict[str, Any]


def demo_doc() -> Doc:
    """The demo catalog as plain YAML data, ready to be broken."""
    text = (
        resources.files("governance.demo").joinpath("catalog.yaml").read_text("utf-8")
    )
    doc: Doc = yaml.safe_load(text)
    return doc


def write_catalog(folder: Path, doc: Doc) -> Path:
    """Write `doc` as `catalog.yaml` in `folder` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def load_error(path: Path) -> list[str]:
    """The lines of the `ConfigurationError` that loading `path` raises."""
    with pytest.raises(ConfigurationError) as caught:
        load_catalog(path)
    return str(caught.value).splitlines()


def _customers(doc: Doc) -> Doc:
    ds: Doc = doc["datasets"]["customers"]
    return ds


def _rename_field(doc: Doc, old: str, new: str) -> None:
    fields = _customers(doc)["fields"]
    fields[new] = fields.pop(old)


FAULTS: list[tuple[str, Callable[[Doc], None], str, str]] = [
    (
        "field-unknown-category",
        lambda d: _customers(d)["fields"]["name"].update(category="identity.nmae"),
        "datasets.customers.fields.name.category",
        "unknown category 'identity.nmae'",
    ),
    (
        "tag-unknown-category",
        lambda d: d["tags"]["高消费"].update(category="consumption.lvl"),
        "tags.高消费.category",
        "unknown category 'consumption.lvl'",
    ),
    (
        "purpose-unknown-category",
        lambda d: d["purposes"]["analytics"]["categories"].append("interest.travel"),
        "purposes.analytics.categories",
        "unknown category 'interest.travel'",
    ),
    (
        "purpose-unknown-sensitive-category",
        lambda d: d["purposes"]["refund_processing"].update(
            sensitive_categories=["financial.card"]
        ),
        "purposes.refund_processing.sensitive_categories",
        "unknown category 'financial.card'",
    ),
    (
        "sensitive-category-under-categories",
        lambda d: d["purposes"]["marketing_push"]["categories"].append(
            "health.fertility"
        ),
        "purposes.marketing_push.categories",
        "'health.fertility' is sensitive; list it under sensitive_categories",
    ),
    (
        "field-not-sensitive-for-sensitive-category",
        lambda d: _customers(d)["fields"]["bank_card"].update(sensitive=False),
        "datasets.customers.fields.bank_card.sensitive",
        "category 'financial.bank_card' is sensitive",
    ),
    (
        "dataset-unknown-source",
        lambda d: _customers(d).update(source="warehouse"),
        "datasets.customers.source",
        "unknown source 'warehouse'",
    ),
    (
        "subject-key-not-a-field",
        lambda d: _customers(d).update(subject_key="member_id"),
        "datasets.customers.subject_key",
        "'member_id' is not one of its fields",
    ),
    (
        "table-not-an-identifier",
        lambda d: _customers(d).update(table="customers; drop table customers"),
        "datasets.customers.table",
        "String should match pattern",
    ),
    (
        "tag-table-not-an-identifier",
        lambda d: _customers(d)["tags"].update(column="tag --"),
        "datasets.customers.tags.column",
        "String should match pattern",
    ),
    (
        "field-name-not-an-identifier",
        lambda d: _rename_field(d, "name", "customers; drop"),
        "datasets.customers.fields.customers; drop",
        "field name must match",
    ),
    (
        "two-birth-date-fields",
        lambda d: _customers(d)["fields"].update(
            dob={"category": "identity.birth_date"}
        ),
        "datasets.customers.fields",
        "more than one identity.birth_date field",
    ),
    (
        "unknown-top-level-key",
        lambda d: d.update(purpsoes=d.pop("purposes")),
        "purpsoes",
        "Extra inputs are not permitted",
    ),
    (
        "unknown-key-in-field",
        lambda d: _customers(d)["fields"]["name"].update(catgory="identity.name"),
        "datasets.customers.fields.name.catgory",
        "Extra inputs are not permitted",
    ),
    (
        "missing-section",
        lambda d: d.pop("sources"),
        "sources",
        "Field required",
    ),
    (
        "wrong-legal-basis",
        lambda d: d["purposes"]["marketing_push"].update(
            legal_basis="legitimate_interest"
        ),
        "purposes.marketing_push.legal_basis",
        "Input should be 'consent'",
    ),
    (
        "marketing-purpose-on-contract",  # C-01: a withdrawal would not stop it
        lambda d: d["purposes"]["order_fulfilment"].update(
            marketing=True, messaging=True
        ),
        "purposes.order_fulfilment.legal_basis",
        "a marketing/messaging purpose rests on the subject's consent",
    ),
    (
        "personalised-purpose-without-impact-assessment",
        lambda d: d["purposes"]["personalised_recommendation"].pop("impact_assessment"),
        "purposes.personalised_recommendation.impact_assessment",
        "a personalised purpose is automated decision-making",
    ),
    (
        "pricing-purpose-without-impact-assessment",
        lambda d: d["purposes"]["coupon_targeting"].pop("impact_assessment"),
        "purposes.coupon_targeting.impact_assessment",
        "a pricing purpose is automated decision-making",
    ),
    (
        "consent-purpose-detokenises",
        lambda d: d["purposes"]["marketing_push"].update(detokenise=True),
        "purposes.marketing_push.detokenise",
        "may not detokenise (a withdrawal would not stop it)",
    ),
    (
        "detokenising-purpose-shares-a-consent-domain",
        lambda d: d["purposes"]["marketing_push"].update(
            pseudonym_domain="customer_service"
        ),
        "purposes.customer_service.detokenise",
        "shares pseudonym domain 'customer_service' with consent purpose"
        " 'marketing_push'",
    ),
    (
        "detokenising-purpose-joins-a-consent-domain",
        lambda d: d["purposes"]["customer_service"].update(
            pseudonym_domain="marketing_push"
        ),
        "purposes.customer_service.detokenise",
        "shares pseudonym domain 'marketing_push' with consent purpose"
        " 'marketing_push'",
    ),
    (
        "notice-published-later",
        lambda d: d["notices"]["marketing_push"].append(
            {
                **d["notices"]["marketing_push"][-1],
                "version": "2999.01",
                "published": dt.date(2999, 1, 1),
            }
        ),
        "notices.marketing_push[2].published",
        "2999-01-01 is to come",
    ),
    (
        "category-name-not-a-name",
        lambda d: d["categories"].update({"Health.Genes": {"sensitive": True}}),
        "categories.Health.Genes",
        "name must match",
    ),
]


class TestDemoCatalog:
    """The catalog shipped with the demo."""

    def test_demo_catalog_loads(self, tmp_path: Path) -> None:
        """The demo catalog loads with its dataset, tags and purposes classified."""
        catalog = load_catalog(write_catalog(tmp_path, demo_doc()))

        customers = catalog.dataset("customers")
        assert isinstance(catalog, Catalog)
        assert customers.subject_key == "customer_id"
        assert customers.birth_date_field == "birth_date"
        assert customers.tags is not None
        assert customers.tags.table == "customer_tags"
        assert customers.fields["bank_card"].sensitive
        assert not customers.fields["name"].sensitive
        assert catalog.tags["孕期"].sensitive
        assert not catalog.tags["高消费"].sensitive
        assert catalog.purposes["marketing_push"].requires_consent
        assert not catalog.purposes["order_fulfilment"].requires_consent
        assert (
            "financial.bank_card"
            in catalog.purposes["refund_processing"].sensitive_categories
        )

    def test_unknown_dataset_is_refused(self, tmp_path: Path) -> None:
        """Asking for an undeclared dataset raises UnknownDataset."""
        catalog = load_catalog(write_catalog(tmp_path, demo_doc()))

        with pytest.raises(UnknownDataset):
            catalog.dataset("orders")


class TestFaults:
    """Each class of invalid catalog stops with a message naming file, entry and fault."""

    @pytest.mark.parametrize(
        ("break_it", "entry", "fault"),
        [pytest.param(f, e, m, id=i) for i, f, e, m in FAULTS],
    )
    def test_fault_names_file_entry_and_fault(
        self, tmp_path: Path, break_it: Callable[[Doc], None], entry: str, fault: str
    ) -> None:
        """The error has a line `<file>: <entry>: ...<fault>...`."""
        doc = demo_doc()
        break_it(doc)
        path = write_catalog(tmp_path, doc)

        lines = load_error(path)

        prefix = f"{path}: {entry}: "
        assert any(ln.startswith(prefix) and fault in ln for ln in lines), lines

    def test_field_name_with_trailing_newline_is_refused(self, tmp_path: Path) -> None:
        """A field name ending in a newline is not an identifier."""
        doc = demo_doc()
        _rename_field(doc, "name", "name\n")

        lines = load_error(write_catalog(tmp_path, doc))

        assert any("field name must match" in ln for ln in lines), lines

    def test_all_faults_are_reported(self, tmp_path: Path) -> None:
        """Several cross-reference faults are reported together, one line each."""
        doc = demo_doc()
        _customers(doc)["fields"]["name"]["category"] = "identity.nmae"
        _customers(doc)["source"] = "warehouse"
        doc["tags"]["宠物"]["category"] = "interest.pets"
        doc["purposes"]["analytics"]["categories"].append("financial.debt")
        path = write_catalog(tmp_path, doc)

        lines = load_error(path)

        assert len(lines) == 4, lines
        assert all(ln.startswith(f"{path}: ") for ln in lines)
        entries = [ln.removeprefix(f"{path}: ").split(": ")[0] for ln in lines]
        assert sorted(entries) == [
            "datasets.customers.fields.name.category",
            "datasets.customers.source",
            "purposes.analytics.categories",
            "tags.宠物.category",
        ]

    def test_all_schema_faults_are_reported(self, tmp_path: Path) -> None:
        """Several shape faults (bad value, missing section) are reported together."""
        doc = demo_doc()
        doc.pop("sources")
        doc["purposes"]["analytics"]["legal_basis"] = "because"
        path = write_catalog(tmp_path, doc)

        lines = load_error(path)

        assert any(ln.startswith(f"{path}: sources: ") for ln in lines), lines
        assert any(
            ln.startswith(f"{path}: purposes.analytics.legal_basis: ") for ln in lines
        )

    def test_when_file_is_not_yaml_then_error_names_file(self, tmp_path: Path) -> None:
        """Text that is not YAML is refused as such."""
        path = tmp_path / "catalog.yaml"
        path.write_text("categories: [identity.name\nsources: {", "utf-8")

        (first, *_) = load_error(path)

        assert first.startswith(f"{path}: not valid YAML")

    @pytest.mark.parametrize(
        "text", ["- a\n- b\n", "", "just text\n"], ids=["list", "empty", "scalar"]
    )
    def test_when_top_level_is_not_a_mapping_then_error_says_so(
        self, tmp_path: Path, text: str
    ) -> None:
        """A YAML document that is not a mapping is reported at the top level."""
        path = tmp_path / "catalog.yaml"
        path.write_text(text, "utf-8")

        lines = load_error(path)

        assert lines[0].startswith(f"{path}: (top level): ")

    def test_when_file_is_missing_then_error_names_file(self, tmp_path: Path) -> None:
        """A missing catalog is reported with its path and the OS reason."""
        path = tmp_path / "nowhere" / "catalog.yaml"

        lines = load_error(path)

        assert lines == [f"{path}: cannot read catalog: No such file or directory"]


class TestSourceUrls:
    """Source URLs are expanded and relative SQLite paths anchored at the catalog."""

    def _with_url(self, folder: Path, url: str) -> Catalog:
        doc = demo_doc()
        doc["sources"]["demo"]["url"] = url
        return load_catalog(write_catalog(folder, doc))

    @pytest.mark.parametrize(
        ("url", "relative"),
        [
            ("sqlite+aiosqlite:///customers.db", "customers.db"),
            ("sqlite+aiosqlite:///data/customers.db", "data/customers.db"),
            ("sqlite:///../shared/customers.db", "../shared/customers.db"),
        ],
        ids=["beside", "subfolder", "parent"],
    )
    def test_relative_sqlite_url_resolves_against_catalog_folder(
        self, tmp_path: Path, url: str, relative: str
    ) -> None:
        """A relative SQLite path names a file beside the catalog, not in the cwd."""
        folder = tmp_path / "conf"

        catalog = self._with_url(folder, url)

        prefix = url.split("///")[0] + "///"
        assert catalog.sources["demo"] == prefix + str((folder / relative).resolve())

    @pytest.mark.parametrize(
        "url",
        [
            "sqlite+aiosqlite:////srv/data/customers.db",
            "sqlite+aiosqlite:///:memory:",
            "postgresql+asyncpg://reader@db.example:5432/crm",
        ],
        ids=["absolute-sqlite", "memory", "postgres"],
    )
    def test_other_urls_are_kept(self, tmp_path: Path, url: str) -> None:
        """Absolute, in-memory and server URLs are used as written."""
        assert self._with_url(tmp_path, url).sources["demo"] == url

    def test_variables_in_source_url_expand(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`${VAR}` in a source URL takes the environment's value."""
        monkeypatch.setenv("CRM_DB_HOST", "db.example")
        monkeypatch.setenv("CRM_DB_USER", "reader")

        catalog = self._with_url(
            tmp_path, "postgresql+asyncpg://${CRM_DB_USER}@${CRM_DB_HOST}:5432/crm"
        )

        assert (
            catalog.sources["demo"] == "postgresql+asyncpg://reader@db.example:5432/crm"
        )

    def test_expanded_relative_sqlite_path_resolves_against_catalog_folder(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A variable that expands to a relative path is anchored like a literal one."""
        monkeypatch.setenv("CRM_DB_FILE", "crm.db")
        folder = tmp_path / "conf"

        catalog = self._with_url(folder, "sqlite+aiosqlite:///${CRM_DB_FILE}")

        assert (
            catalog.sources["demo"]
            == f"sqlite+aiosqlite:///{(folder / 'crm.db').resolve()}"
        )


def test_when_source_url_names_an_unset_variable_then_it_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`${VAR}` that is not set stops loading, naming the source and the variable."""
    monkeypatch.delenv("GOV_TEST_UNSET_URL", raising=False)
    doc = demo_doc()
    doc["sources"]["demo"]["url"] = "${GOV_TEST_UNSET_URL}"
    path = write_catalog(tmp_path, doc)

    assert load_error(path) == [
        f"{path}: sources.demo.url: environment variable GOV_TEST_UNSET_URL is not set"
    ]
