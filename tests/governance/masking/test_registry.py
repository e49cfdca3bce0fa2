"""`build_operators`: every purpose's operators, with its parameters and pseudonym domain."""

from datetime import date
from importlib import resources
from pathlib import Path

import pytest
import yaml

from adapters.keys.local import LocalKeyProvider
from governance.catalog import Catalog, load_catalog
from governance.masking.apply import mask_record
from governance.masking.registry import build_operators
from governance.types import FieldFact, Obligation

BIRTH = FieldFact("birth_date", "identity.birth_date", False)
PHONE = FieldFact("mobile", "contact.phone", False)
NOTE = FieldFact("service_note", "text.free", False)
TODAY = date(2026, 1, 1)


def demo_catalog(tmp_path: Path, change=None) -> Catalog:
    """The demo catalog, changed by `change(doc)` first if given."""
    doc = yaml.safe_load(
        resources.files("governance.demo").joinpath("catalog.yaml").read_text("utf-8")
    )
    if change:
        change(doc)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_catalog(path)


@pytest.fixture
def keys(tmp_path):
    """A fresh local key file."""
    return LocalKeyProvider(tmp_path / "keys.json")


class Upper:
    """A redactor that upper-cases, so its use is visible."""

    def redact(self, text: str) -> str:
        """Return `text` upper-cased."""
        return text.upper()


class TestBuildOperators:
    def test_every_purpose_has_every_obligation_but_redact_text(self, tmp_path, keys):
        """Without a redactor, redact_text has no operator (and so withholds)."""
        catalog = demo_catalog(tmp_path)

        table = build_operators(keys, catalog)

        expected = set(Obligation) - {Obligation.REDACT_TEXT}
        for purpose in catalog.purposes:
            assert set(table.for_purpose(purpose)) == expected

    def test_when_redactor_given_then_redact_text_uses_it(self, tmp_path, keys):
        """The wiring's redactor carries out redact_text for every purpose."""
        table = build_operators(keys, demo_catalog(tmp_path), redactor=Upper())

        operator = table.for_purpose("customer_service")[Obligation.REDACT_TEXT]

        assert operator.apply("abc", NOTE) == "ABC"

    def test_purpose_parameters_override_the_catalogs(self, tmp_path, keys):
        """Analytics generalises birth dates to age bands; others to the catalog's year."""
        table = build_operators(keys, demo_catalog(tmp_path), today=lambda: TODAY)

        def generalise(purpose: str) -> str:
            ops = table.for_purpose(purpose)
            return ops[Obligation.GENERALISE].apply("1990-03-07", BIRTH)

        assert generalise("analytics") == "35-44"
        assert generalise("marketing_push") == "1990"

    def test_purposes_in_different_domains_cannot_join(self, tmp_path, keys):
        """Pseudonyms and tokens of one value differ between domains."""
        table = build_operators(keys, demo_catalog(tmp_path))

        def both(purpose: str, obligation: Obligation) -> str:
            return table.for_purpose(purpose)[obligation].apply("13812345678", PHONE)

        for obligation in (Obligation.PSEUDONYMISE, Obligation.TOKENISE):
            assert both("analytics", obligation) != both("partner_sharing", obligation)

    def test_purposes_sharing_a_domain_join(self, tmp_path, keys):
        """Two purposes configured into one domain get the same pseudonyms and tokens."""

        def share(doc):
            doc["purposes"]["partner_sharing"]["pseudonym_domain"] = "analytics"

        table = build_operators(keys, demo_catalog(tmp_path, share))

        record = {"mobile": "13812345678"}

        def masked(purpose: str, obligation: Obligation) -> dict:
            return mask_record(
                record,
                obligations={"mobile": obligation},
                fields={"mobile": PHONE},
                operators=table.for_purpose(purpose),
            )

        for obligation in (Obligation.PSEUDONYMISE, Obligation.TOKENISE):
            assert masked("analytics", obligation) == masked(
                "partner_sharing", obligation
            )
        assert table.tokeniser("partner_sharing").domain == "analytics"

    def test_pseudonyms_are_stable_across_restarts(self, tmp_path, keys):
        """The same key file gives the same pseudonyms in a new process."""
        catalog = demo_catalog(tmp_path)
        first = build_operators(keys, catalog)
        again = build_operators(LocalKeyProvider(tmp_path / "keys.json"), catalog)

        def pseudonym(table) -> str:
            ops = table.for_purpose("analytics")
            return ops[Obligation.PSEUDONYMISE].apply("13812345678", PHONE)

        assert pseudonym(first) == pseudonym(again)
