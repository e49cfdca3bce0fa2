"""`check_bundle(root, catalog)`: every fault of a bundle as a located, coded finding."""

import json
from importlib import resources
from pathlib import Path

import pytest
from rego_bundles import ACCESS, ACCESS_REGO, OBLIGATIONS, write_bundle

from adapters.rego.lint import Finding, check_bundle
from governance.catalog import Catalog, load_catalog

POLICIES = Path(__file__).resolve().parents[3] / "policies"
BROKEN = "governance/broken.rego"


def module(package: str, body: str) -> str:
    """A module: package on line 1, import on line 3, `body` from line 5 on."""
    return f"package {package}\n\nimport rego.v1\n\n{body}"


def obligations(**tables: dict[str, object]) -> str:
    """An obligations document with both tables the small bundle reads."""
    return json.dumps({"default": {}, "by_purpose": {}, **tables}, indent=2)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    with resources.as_file(
        resources.files("governance.demo").joinpath("catalog.yaml")
    ) as path:
        return load_catalog(path)


def located(root: Path, findings: list[Finding]) -> list[tuple[str, int | None, str]]:
    """(file relative to root, line, code) of each finding."""
    return [(str(Path(f.file).relative_to(root)), f.line, f.code) for f in findings]


def test_the_shipped_bundle_is_fit_for_the_demo_catalog(catalog):
    """`policies/` has no finding against the demo catalog it is deployed with."""
    assert check_bundle(POLICIES, catalog) == []


def test_the_small_bundle_is_fit(tmp_path, catalog):
    """The test bundle itself is clean, so each case below breaks one thing only."""
    assert check_bundle(write_bundle(tmp_path), catalog) == []


BAD_BUNDLES = {
    "syntax-error": (
        {BROKEN: module("governance.broken", "broken if {\n\tinput.a ==\n}\n")},
        [(BROKEN, 7, "syntax_error")],
    ),
    "unsafe-variable": (
        {BROKEN: module("governance.broken", "broken if {\n\ty > 1\n}\n")},
        [(BROKEN, 6, "unsafe_variable")],
    ),
    "conflicting-rule": (
        {BROKEN: module("governance.broken", "level := 1\n\nlevel := 2\n")},
        [(BROKEN, 7, "rule_conflict")],
    ),
    "conflict-on-input": (
        {
            BROKEN: module(
                "governance.broken",
                "level := 1 if input.purpose\n\nlevel := 2 if input.caller\n",
            )
        },
        [(BROKEN, 7, "rule_conflict")],
    ),
    "missing-data-document": (
        {OBLIGATIONS: None},
        [(ACCESS, 20, "missing_data"), (ACCESS, 22, "missing_data")],
    ),
    "non-boolean-allow": (
        {ACCESS: ACCESS_REGO.replace('"allow": count(_deny) == 0', '"allow": "yes"')},
        [(ACCESS, 7, "malformed_decision")],
    ),
    "unknown-obligation-value": (
        {ACCESS: ACCESS_REGO.replace('else := "withhold"', 'else := "drop"')},
        [(ACCESS, 7, "malformed_decision")],
    ),
    "package-outside-root": (
        {"marketing/x.rego": module("marketing.x", "allow := true\n")},
        [("marketing/x.rego", 1, "outside_root")],
    ),
    "data-outside-root": (
        {"other/data.json": '{"a": 1}'},
        [("other/data.json", None, "outside_root")],
    ),
    "invalid-json": (
        {OBLIGATIONS: '{\n  "default": {,\n}'},
        [(OBLIGATIONS, 2, "invalid_json")],
    ),
    "data-not-an-object": (
        {OBLIGATIONS: "[]"},
        [(OBLIGATIONS, 1, "data_not_object")],
    ),
    "invalid-manifest": (
        {".manifest": '{"roots": "governance"}'},
        [(".manifest", None, "invalid_manifest")],
    ),
    "missing-entrypoint": (
        {ACCESS: module("governance.access", "allow := false\n")},
        [(".", None, "missing_entrypoint")],
    ),
    "input-contract-mismatch": (
        {ACCESS: ACCESS_REGO.replace("is_object(input.purpose)", "input.version == 2")},
        [(ACCESS, 7, "default_decision")],
    ),
    "unknown-category-in-data": (
        {OBLIGATIONS: obligations(default={"contact.phon": "mask"})},
        [(OBLIGATIONS, 3, "unknown_category")],
    ),
    "unknown-purpose-in-data": (
        {OBLIGATIONS: obligations(by_purpose={"marketing_psh": {}})},
        [(OBLIGATIONS, 4, "unknown_purpose")],
    ),
    "unknown-obligation-in-data": (
        {OBLIGATIONS: obligations(default={"contact.phone": "redact"})},
        # The smoke decision carries the unknown obligation, so it is malformed too.
        [(ACCESS, 7, "malformed_decision"), (OBLIGATIONS, 3, "unknown_obligation")],
    ),
    "unknown-purpose-in-policy": (
        {
            BROKEN: module(
                "governance.broken",
                '_pricing := {"pricing"}\n\npricing if input.purpose.name in _pricing\n',
            )
        },
        [(BROKEN, 5, "unknown_purpose")],
    ),
    "unknown-purpose-compared": (
        {BROKEN: module("governance.broken", 'p if input.purpose.name == "coupons"\n')},
        [(BROKEN, 5, "unknown_purpose")],
    ),
    "unknown-category-compared": (
        {
            BROKEN: module(
                "governance.broken",
                'debt if {\n\tsome t in input.tags\n\tt.category == "debt"\n}\n',
            )
        },
        [(BROKEN, 7, "unknown_category")],
    ),
    "unknown-category-in-scope": (
        {
            BROKEN: module(
                "governance.broken", 'c if "health.preg" in input.consent.scope\n'
            )
        },
        [(BROKEN, 5, "unknown_category")],
    ),
    "category-typo-in-a-literal": (
        {
            BROKEN: module(
                "governance.broken", '_wtp := {"consumption.price_sensitive"}\n'
            )
        },
        [(BROKEN, 5, "unknown_category")],
    ),
}


@pytest.mark.parametrize(
    ("files", "expected"), list(BAD_BUNDLES.values()), ids=list(BAD_BUNDLES)
)
def test_when_a_bundle_is_broken_then_the_fault_is_found_where_it_is(
    tmp_path, catalog, files, expected
):
    """Each broken bundle gets exactly the findings that name its fault."""
    root = write_bundle(tmp_path / "bundle", files)

    assert located(root, check_bundle(root, catalog)) == expected


def test_a_missing_data_document_is_reported_for_every_path_read(tmp_path, catalog):
    """Both obligation tables the policy reads are named, each at its line."""
    root = write_bundle(tmp_path / "bundle", {OBLIGATIONS: None})

    messages = [f.message for f in check_bundle(root, catalog)]

    assert messages == [
        "data.governance.obligations.by_purpose is read but no data document "
        "or rule defines it",
        "data.governance.obligations.default is read but no data document "
        "or rule defines it",
    ]


def test_data_read_through_an_import_alias_is_checked(tmp_path, catalog):
    """`import data.governance.rules as r` then `r.limits` names a missing document."""
    body = "import data.governance.rules as r\n\nbig if input.n > r.limits.bulk\n"
    root = write_bundle(
        tmp_path / "bundle", {BROKEN: module("governance.broken", body)}
    )

    assert located(root, check_bundle(root, catalog)) == [(BROKEN, 5, "missing_data")]


def test_strings_outside_the_catalogs_namespaces_are_not_categories(tmp_path, catalog):
    """A dotted string such as a transfer mechanism's id is not taken for a category."""
    body = '_mechanisms := {"scc.standard_contract", "cert.pipl_38"}\n'
    root = write_bundle(
        tmp_path / "bundle", {BROKEN: module("governance.broken", body)}
    )

    assert check_bundle(root, catalog) == []


def test_a_missing_directory_is_one_finding(tmp_path, catalog):
    """No directory, no bundle: said once, not as a crash."""
    assert [f.code for f in check_bundle(tmp_path / "nowhere", catalog)] == [
        "bundle_missing"
    ]


def test_a_finding_reads_file_line_code_message(tmp_path, catalog):
    """The printed form is `file:line: code: message`, without a Rust backtrace."""
    root = write_bundle(
        tmp_path / "bundle",
        {BROKEN: module("governance.broken", "broken if {\n\ty > 1\n}\n")},
    )

    (finding,) = check_bundle(root, catalog)

    assert str(finding) == (
        f"{root / BROKEN}:6: unsafe_variable: use of undefined variable `y` is unsafe"
    )


def test_findings_are_sorted_by_file_and_line(tmp_path, catalog):
    """Several faults come out in file order, then line order."""
    root = write_bundle(
        tmp_path / "bundle",
        {
            OBLIGATIONS: obligations(
                default={"contact.phon": "mask"}, by_purpose={"adverts": {}}
            ),
            "marketing/x.rego": module("marketing.x", "allow := true\n"),
        },
    )

    assert located(root, check_bundle(root, catalog)) == [
        (OBLIGATIONS, 3, "unknown_category"),
        (OBLIGATIONS, 6, "unknown_purpose"),
        ("marketing/x.rego", 1, "outside_root"),
    ]
