"""The catalog entries behind the bundle's rules: lineage, recipients, tag screening.

Derived tags inherit sensitivity at load (S-04), recipients and third-party
purposes are cross-checked (SC-02, SC-04), and tag names are screened by the
policy bundle's registration rule (S-03). Faults name file, entry and fault.
"""

import shutil
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.rego.bundle import load_bundle
from adapters.rego.registration import RegoTagScreen
from governance.catalog import Catalog, DerivedInput, load_catalog
from governance.errors import ConfigurationError

Doc = dict[str, Any]
POLICIES = Path(__file__).resolve().parents[3] / "policies"


def demo_doc() -> Doc:
    """The demo catalog as plain YAML data."""
    text = (
        resources.files("governance.demo").joinpath("catalog.yaml").read_text("utf-8")
    )
    doc: Doc = yaml.safe_load(text)
    return doc


def write(folder: Path, doc: Doc) -> Path:
    """Write `doc` as `catalog.yaml` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def load(folder: Path, doc: Doc, **kwargs: Any) -> Catalog:
    """Load `doc` written to `folder`."""
    return load_catalog(write(folder, doc), **kwargs)


def load_error(path: Path, **kwargs: Any) -> list[str]:
    """The lines of the `ConfigurationError` that loading `path` raises."""
    with pytest.raises(ConfigurationError) as caught:
        load_catalog(path, **kwargs)
    return str(caught.value).splitlines()


@pytest.fixture(scope="module")
def screen() -> RegoTagScreen:
    """The shipped bundle's tag registration rule."""
    return RegoTagScreen(load_bundle(POLICIES))


class TestLineage:
    """A tag derived from anything sensitive is sensitive, whatever its category (S-04)."""

    def test_demo_derived_tag_is_sensitive_through_its_source_tag(self, tmp_path):
        """控糖 (interest.diet) derives from 糖尿病 (health.condition)."""
        tag = load(tmp_path, demo_doc()).tags["控糖"]

        assert (tag.category, tag.sensitive) == ("interest.diet", True)
        assert tag.derived_from == (DerivedInput("health.condition", True),)

    def test_lineage_follows_tags_fields_and_categories(self, tmp_path):
        """Inputs are gathered through tags; a field input brings its own sensitivity."""
        doc = demo_doc()
        doc["tags"]["分期"] = {
            "category": "consumption.level",
            "derived_from": {"fields": ["customers.bank_card"]},
        }
        doc["tags"]["会员档位"] = {
            "category": "lifecycle.stage",
            "derived_from": {"tags": ["分期"], "categories": ["interest.shopping"]},
        }

        tags = load(tmp_path, doc).tags

        assert tags["分期"].sensitive
        assert tags["会员档位"].sensitive
        assert tags["会员档位"].derived_from == (
            DerivedInput("consumption.level", True),
            DerivedInput("financial.bank_card", True),
            DerivedInput("interest.shopping", False),
        )

    def test_tag_derived_from_plain_inputs_stays_plain(self, tmp_path):
        """Lineage of general data only keeps the tag general, lineage recorded."""
        doc = demo_doc()
        doc["tags"]["轻食"] = {
            "category": "interest.diet",
            "derived_from": {"tags": ["运动"], "fields": ["customers.nickname"]},
        }

        tag = load(tmp_path, doc).tags["轻食"]

        assert not tag.sensitive
        assert {i.category for i in tag.derived_from} == {
            "interest.shopping",
            "profile.nickname",
        }


def _tag(name: str, derived: Doc) -> Callable[[Doc], None]:
    return lambda d: d["tags"].update({name: {"category": "interest.diet", **derived}})


def _purpose(name: str, **changes: Any) -> Callable[[Doc], None]:
    return lambda d: d["purposes"][name].update(changes)


def _notice_categories(purpose: str, categories: list[str]) -> Callable[[Doc], None]:
    return lambda d: d["notices"][purpose][0].update(categories=categories)


SHARED = ["identity.customer_id", "identity.name", "contact.phone"]
FAULTS: list[tuple[str, Callable[[Doc], None], str, str]] = [
    (
        "derived-unknown-category",
        _tag("x", {"derived_from": {"categories": ["health.genes"]}}),
        "tags.x.derived_from.categories",
        "unknown category 'health.genes'",
    ),
    (
        "derived-unknown-tag",
        _tag("x", {"derived_from": {"tags": ["糖尿"]}}),
        "tags.x.derived_from.tags",
        "unknown tag '糖尿'",
    ),
    (
        "derived-unknown-field",
        _tag("x", {"derived_from": {"fields": ["customers.salary"]}}),
        "tags.x.derived_from.fields",
        "'customers.salary' names no field",
    ),
    (
        "derived-field-without-dataset",
        _tag("x", {"derived_from": {"fields": ["bank_card"]}}),
        "tags.x.derived_from.fields",
        "'bank_card' names no field",
    ),
    (
        "derived-from-itself",
        lambda d: d["tags"].update(
            a={"category": "interest.diet", "derived_from": {"tags": ["b"]}},
            b={"category": "interest.diet", "derived_from": {"tags": ["a"]}},
        ),
        "tags.a.derived_from",
        "derives from itself",
    ),
    (
        "recipient-unknown",
        _purpose("partner_sharing", recipients=["cobrand-bank", "unknown-bank"]),
        "purposes.partner_sharing.recipients",
        "unknown recipient 'unknown-bank'",
    ),
    (
        "third-party-without-recipients",
        _purpose("partner_sharing", recipients=[]),
        "purposes.partner_sharing.recipients",
        "a third-party purpose names its recipients",
    ),
    (
        "recipients-without-third-party",
        _purpose("partner_sharing", third_party=False),
        "purposes.partner_sharing.recipients",
        "only a third_party purpose has recipients",
    ),
    (
        "third-party-on-contract",
        _purpose("order_fulfilment", third_party=True, recipients=["cobrand-bank"]),
        "purposes.order_fulfilment.legal_basis",
        "separate consent (PIPL 23)",
    ),
    (
        "notice-does-not-name-a-recipient",
        _notice_categories("partner_sharing", [*SHARED, "recipient:cobrand-bank"]),
        "notices.partner_sharing[0].categories",
        "does not name recipients ['recipient:hq-analytics-sg']",
    ),
    (
        "notice-names-recipient-not-shared-with",
        _notice_categories(
            "marketing_push", ["contact.phone", "recipient:cobrand-bank"]
        ),
        "notices.marketing_push[0].categories",
        "not used by the purpose: ['recipient:cobrand-bank']",
    ),
    (
        "recipient-notice-not-separate",
        lambda d: d["notices"]["partner_sharing"][0].update(kind="general"),
        "notices.partner_sharing[0].kind",
        "names recipients; must be separate",
    ),
    (
        "recipient-name-not-a-name",
        lambda d: d["recipients"].update(
            {"Cobrand Bank": d["recipients"]["cobrand-bank"]}
        ),
        "recipients.Cobrand Bank",
        "name must match",
    ),
    (
        "recipient-country-not-a-code",
        lambda d: d["recipients"]["hq-analytics-sg"].update(country="Singapore"),
        "recipients.hq-analytics-sg.country",
        "String should match pattern",
    ),
    (
        "transfer-mechanism-unknown",
        lambda d: d["recipients"]["hq-analytics-sg"]["transfer_mechanism"].update(
            type="promise"
        ),
        "recipients.hq-analytics-sg.transfer_mechanism.type",
        "Input should be 'standard_contract'",
    ),
    (
        "impact-assessment-not-an-id",
        _purpose("maternal_care_recommendation", impact_assessment="see the wiki"),
        "purposes.maternal_care_recommendation.impact_assessment",
        "String should match pattern",
    ),
    (
        "bulk-threshold-zero",
        lambda d: d["datasets"]["customers"].update(bulk_threshold=0),
        "datasets.customers.bulk_threshold",
        "greater than or equal to 1",
    ),
]


class TestFaults:
    """Each fault names file, entry and what is wrong."""

    @pytest.mark.parametrize(
        ("break_it", "entry", "fault"),
        [pytest.param(f, e, m, id=i) for i, f, e, m in FAULTS],
    )
    def test_fault_names_file_entry_and_fault(self, tmp_path, break_it, entry, fault):
        """The error has a line `<file>: <entry>: ...<fault>...`."""
        doc = demo_doc()
        break_it(doc)
        path = write(tmp_path, doc)

        lines = load_error(path)

        prefix = f"{path}: {entry}: "
        assert any(ln.startswith(prefix) and fault in ln for ln in lines), lines

    def test_retired_notice_need_not_name_new_recipients(self, tmp_path):
        """Only a notice a consent can still cite must name every recipient."""
        doc = demo_doc()
        retired = {
            "version": "2025.06",
            "published": "2025-06-01",
            "retired": True,
            "kind": "separate",
            "summary": "旧版告知",
            "categories": [*SHARED, "recipient:cobrand-bank"],
        }
        doc["notices"]["partner_sharing"].insert(0, retired)

        catalog = load(tmp_path, doc)

        assert catalog.notice("partner_sharing", "2025.06") is not None


class TestRecipients:
    """Recipients and third-party purposes as the pipeline reads them."""

    def test_recipients_and_their_transfer_mechanisms_load(self, tmp_path):
        """Abroad is anything but CN; the mechanism and its reference are kept."""
        catalog = load(tmp_path, demo_doc())

        bank, hq = (
            catalog.recipients["cobrand-bank"],
            catalog.recipients["hq-analytics-sg"],
        )
        assert (bank.cross_border, bank.transfer_mechanism) == (False, None)
        assert (hq.cross_border, hq.transfer_mechanism) == (True, "standard_contract")
        assert hq.mechanism_reference == "SCC-2025-0412"
        sharing = catalog.purposes["partner_sharing"]
        assert sharing.third_party
        assert sharing.recipients == {"cobrand-bank", "hq-analytics-sg"}
        assert sharing.impact_assessment == "PIA-2026-004"

    def test_hong_kong_recipient_is_cross_border(self, tmp_path):
        """Transfers to Hong Kong, Macao or Taiwan are transfers abroad (数据出境)."""
        doc = demo_doc()
        doc["recipients"]["cobrand-bank"]["country"] = "HK"

        assert load(tmp_path, doc).recipients["cobrand-bank"].cross_border

    def test_pricing_purpose_and_bulk_threshold_load(self, tmp_path):
        """The coupon purpose is a pricing purpose; the dataset carries its threshold."""
        catalog = load(tmp_path, demo_doc())

        assert catalog.purposes["coupon_targeting"].pricing
        assert not catalog.purposes["marketing_push"].pricing
        assert catalog.dataset("customers").bulk_threshold == 500


class TestTagScreen:
    """Tag names are screened at registration by the bundle's rule (S-03)."""

    def test_demo_catalog_passes_the_screen(self, tmp_path, screen):
        """Sensitive tags such as 孕期 or 糖尿病 are not discriminatory."""
        catalog = load(tmp_path, demo_doc(), screen=screen)

        assert {"孕期", "糖尿病", "负债", "控糖"} <= set(catalog.tags)

    @pytest.mark.parametrize(
        ("name", "matched"),
        [
            ("乙肝歧视", "discrimination term '歧视'"),
            ("回族", "ethnicity term '回族'"),
            ("信教", "religion term '信教'"),
            ("HIV携带", "disease term 'hiv'"),
        ],
        ids=["disease-discrimination", "ethnicity", "religion", "disease-case"],
    )
    def test_discriminatory_tag_is_refused_naming_file_and_tag(
        self, tmp_path, screen, name, matched
    ):
        """The fault names the catalog file, the tag entry and the term it matched."""
        doc = demo_doc()
        doc["tags"][name] = {"category": "interest.shopping"}
        path = write(tmp_path, doc)

        lines = load_error(path, screen=screen)

        assert len(lines) == 1, lines
        assert lines[0].startswith(f"{path}: tags.{name}: ")
        assert matched in lines[0]
        assert "S-03" in lines[0]

    def test_every_rejected_tag_is_reported_with_other_faults(self, tmp_path, screen):
        """Screening adds its faults to the cross-checks, one line each."""
        doc = demo_doc()
        doc["tags"]["回族"] = {"category": "interest.shopping"}
        doc["tags"]["穆斯林"] = {"category": "interest.shopping"}
        doc["tags"]["宠物"]["category"] = "interest.pets"
        path = write(tmp_path, doc)

        lines = load_error(path, screen=screen)

        entries = sorted(ln.removeprefix(f"{path}: ").split(": ")[0] for ln in lines)
        assert entries == ["tags.回族", "tags.宠物.category", "tags.穆斯林"]

    def test_without_a_screen_the_catalog_loads(self, tmp_path):
        """Tests and tools may load without the bundle; the access policy still refuses."""
        doc = demo_doc()
        doc["tags"]["回族"] = {"category": "interest.shopping"}

        assert "回族" in load(tmp_path, doc).tags

    def test_when_the_bundle_has_no_registration_rule_then_nothing_loads(
        self, tmp_path
    ):
        """A screen that cannot decide fails closed, naming the bundle and the rule."""
        bundle = tmp_path / "policies"
        shutil.copytree(POLICIES, bundle)
        shutil.rmtree(bundle / "governance" / "tags")
        path = write(tmp_path / "conf", demo_doc())

        (line,) = load_error(path, screen=RegoTagScreen(load_bundle(bundle)))

        assert line.startswith(f"{bundle}: cannot screen tag names")
        assert "data.governance.tags.registration" in line

    def test_when_the_word_list_is_missing_then_nothing_loads(self, tmp_path):
        """Without its data the rule answers with an error, and the load fails."""
        bundle = tmp_path / "policies"
        shutil.copytree(POLICIES, bundle)
        (bundle / "governance" / "tag_names" / "data.json").unlink()
        path = write(tmp_path / "conf", demo_doc())

        (line,) = load_error(path, screen=RegoTagScreen(load_bundle(bundle)))

        assert "malformed input or tag name rules" in line

    @pytest.mark.parametrize(
        "answer",
        [
            '{"valid": "yes", "rejected": {}, "error": null}',
            '{"valid": false, "rejected": {}, "error": null}',
            '{"valid": true}',
            '"ok"',
        ],
        ids=["valid-not-boolean", "invalid-rejecting-nothing", "no-rejected", "string"],
    )
    def test_a_rule_answering_garbage_fails_closed(self, tmp_path, answer):
        """A registration rule of the wrong shape stops the load; nothing is assumed."""
        bundle = tmp_path / "policies"
        shutil.copytree(POLICIES, bundle)
        rule = bundle / "governance" / "tags" / "tags.rego"
        rule.write_text(f"package governance.tags\n\nregistration := {answer}\n")
        path = write(tmp_path / "conf", demo_doc())

        (line,) = load_error(path, screen=RegoTagScreen(load_bundle(bundle)))

        assert line.endswith("the rule gave a malformed answer")

    def test_a_failing_screen_fails_the_load(self, tmp_path):
        """Whatever screen is given, its fault propagates and nothing loads."""

        def broken(names: Sequence[str]) -> Mapping[str, Sequence[str]]:
            raise ConfigurationError("screen down")

        with pytest.raises(ConfigurationError, match="screen down"):
            load(tmp_path, demo_doc(), screen=broken)
