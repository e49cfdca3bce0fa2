"""Operator parameters: checked once, at load, with a message naming the parameter."""

import re
from importlib import resources
from pathlib import Path

import pytest
import yaml

from governance.catalog import load_catalog
from governance.errors import ConfigurationError, MaskingParamsError
from governance.masking.params import (
    CategoryMasking,
    GeneraliseParams,
    MaskParams,
    generalise_params,
    mask_params,
)


class TestMaskParams:
    @pytest.mark.parametrize(
        ("category", "raw", "expected"),
        [
            ("contact.phone", {}, MaskParams("mobile")),
            ("contact.phone", {"keep_head": 0}, MaskParams("mobile", keep_head=0)),
            ("custom.account", {}, MaskParams("generic")),
            (
                "custom.account",
                {"style": "bank_card", "keep_tail": 3, "char": "#"},
                MaskParams("bank_card", keep_tail=3, char="#"),
            ),
        ],
        ids=["category-default", "one-override", "unknown-category", "chosen-style"],
    )
    def test_when_valid_then_style_and_defaults_filled(self, category, raw, expected):
        """Unset parameters take the category's style and that style's defaults."""
        actual = mask_params(category, raw)

        assert expected == actual

    @pytest.mark.parametrize(
        ("raw", "names"),
        [
            ({"style": "stars"}, "style"),
            ({"keep_head": -1}, "keep_head"),
            ({"keep_head": True}, "keep_head"),
            ({"keep_head": "3"}, "keep_head"),
            ({"keep_head": 4, "keep_tail": 4}, "keep_head + keep_tail"),
            ({"keep_tail": 8}, "keep_tail"),
            ({"char": "**"}, "char"),
            ({"char": "x"}, "char"),
            ({"char": "7"}, "char"),
            ({"char": " "}, "char"),
            ({"char": "\n"}, "char"),
            ({"char": "@"}, "char"),
            ({"style": "name", "keep_head": 1}, "keep_head"),
            ({"style": "email", "keep_tail": 1}, "keep_tail"),
            ({"style": "email", "keep_head": 4}, "keep_head"),
            ({"head": 3}, "unknown parameter 'head'"),
        ],
        ids=lambda v: str(v),
    )
    def test_when_invalid_then_refused_naming_the_parameter(self, raw, names):
        """Each bad parameter raises MaskingParamsError naming it."""
        with pytest.raises(MaskingParamsError, match="^" + re.escape(names)):
            mask_params("contact.phone", raw)

    def test_when_built_directly_then_checked_the_same(self):
        """Code that builds parameters directly gets the same checks."""
        with pytest.raises(MaskingParamsError):
            MaskParams("mobile", keep_head=7, keep_tail=1)


class TestGeneraliseParams:
    @pytest.mark.parametrize(
        ("category", "raw", "expected"),
        [
            ("identity.birth_date", {}, GeneraliseParams("year")),
            ("contact.address", {}, GeneraliseParams("city")),
            ("location.precise", {}, GeneraliseParams("district")),
            (
                "identity.birth_date",
                {"to": "age_band"},
                GeneraliseParams("age_band"),
            ),
            (
                "financial.amount",
                {"to": "band", "bands": [100, 500.5]},
                GeneraliseParams("band", bands=(100, 500.5)),
            ),
            (
                "location.precise",
                {"to": "grid", "decimals": 0},
                GeneraliseParams("grid", decimals=0),
            ),
        ],
        ids=["birth", "address", "location", "age-band", "amounts", "grid"],
    )
    def test_when_valid_then_form_filled(self, category, raw, expected):
        """A category's default form applies unless `to` names another."""
        actual = generalise_params(category, raw)

        assert expected == actual

    @pytest.mark.parametrize(
        ("category", "raw", "names"),
        [
            ("financial.amount", {}, "to"),
            ("identity.birth_date", {"to": "decade"}, "to"),
            ("financial.amount", {"to": "band"}, "bands"),
            ("financial.amount", {"to": "band", "bands": [5, 5]}, "bands"),
            ("financial.amount", {"to": "band", "bands": [1e400]}, "bands"),
            ("financial.amount", {"to": "band", "bands": "100,500"}, "bands"),
            ("identity.birth_date", {"to": "age_band", "bands": [14.5]}, "bands"),
            ("identity.birth_date", {"to": "age_band", "bands": [0]}, "bands"),
            ("identity.birth_date", {"to": "year", "bands": [10]}, "bands"),
            ("location.precise", {"to": "grid", "decimals": 3}, "decimals"),
            ("contact.address", {"decimals": 1}, "decimals"),
            ("contact.address", {"level": "city"}, "unknown parameter 'level'"),
        ],
        ids=lambda v: str(v),
    )
    def test_when_invalid_then_refused_naming_the_parameter(self, category, raw, names):
        """Each bad parameter raises MaskingParamsError naming it."""
        with pytest.raises(MaskingParamsError, match="^" + re.escape(names)):
            generalise_params(category, raw)

    def test_band_edges_default_for_age_bands(self):
        """Age bands without bands use the default edges, starting at 14 (minors)."""
        assert GeneraliseParams("age_band").band_edges[0] == 14


def _catalog(tmp_path: Path, change) -> Path:
    doc = yaml.safe_load(
        resources.files("governance.demo").joinpath("catalog.yaml").read_text("utf-8")
    )
    change(doc)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


class TestCatalogMasking:
    def test_demo_catalog_parameters_are_loaded(self, tmp_path):
        """The catalog's and each purpose's parameters are parsed at load."""
        catalog = load_catalog(_catalog(tmp_path, lambda d: None))

        analytics = catalog.purposes["analytics"]
        assert catalog.masking["identity.birth_date"] == CategoryMasking(
            generalise=GeneraliseParams("year")
        )
        assert analytics.masking["identity.birth_date"].generalise == GeneraliseParams(
            "age_band", bands=(14, 18, 25, 35, 45, 60)
        )
        assert analytics.pseudonym_domain == "analytics"
        assert catalog.purposes["marketing_push"].pseudonym_domain == "marketing_push"
        assert catalog.purposes["customer_service"].detokenise
        assert not catalog.purposes["analytics"].detokenise

    @pytest.mark.parametrize(
        ("change", "fault"),
        [
            (
                lambda d: d["masking"].update(
                    {"contact.phone": {"mask": {"keep_head": 9}}}
                ),
                "masking.contact.phone.mask: keep_head: must be a whole number",
            ),
            (
                lambda d: d["masking"].update(
                    {"contact.phon": {"mask": {"keep_head": 1}}}
                ),
                "masking.contact.phon: unknown category 'contact.phon'",
            ),
            (
                lambda d: d["purposes"]["analytics"]["masking"].update(
                    {"identity.birth_date": {"generalise": {"to": "decade"}}}
                ),
                "purposes.analytics.masking.identity.birth_date.generalise: to:",
            ),
            (
                lambda d: d["masking"].update({"contact.phone": {"redact": {}}}),
                "masking.contact.phone.redact: Extra inputs are not permitted",
            ),
            (
                lambda d: d["purposes"]["analytics"].update(
                    {"pseudonym_domain": "Team A"}
                ),
                "purposes.analytics.pseudonym_domain: String should match pattern",
            ),
        ],
        ids=["bad-param", "unknown-category", "purpose-form", "unknown-op", "domain"],
    )
    def test_when_parameter_bad_then_load_fails_naming_the_entry(
        self, tmp_path, change, fault
    ):
        """A bad parameter stops the catalog from loading; the message names the entry."""
        path = _catalog(tmp_path, change)

        with pytest.raises(ConfigurationError) as caught:
            load_catalog(path)

        assert f"{path}: {fault}" in str(caught.value)
