"""Load the catalog file into a checked, immutable `Catalog`.

Input: a YAML file shaped like `CatalogSpec`. Output: a `Catalog`, or a
`ConfigurationError` whose message names the file, the entry (as a dotted path)
and what is wrong, one line per fault.
"""

import os
import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from governance.catalog.catalog import Catalog
from governance.catalog.models import (
    IDENTIFIER,
    NAME,
    CatalogSpec,
    DatasetSpec,
    FieldSpec,
    PurposeSpec,
)
from governance.errors import ConfigurationError

_BIRTH_DATE = "identity.birth_date"
RESERVED_PURPOSE = "personalisation"
_UNSET_VAR = re.compile(r"\$\{?(\w+)\}?")


def load_catalog(path: Path) -> Catalog:
    """Read, validate and cross-check the catalog at `path`."""
    spec = _parse(path)
    faults = list(_cross_check(spec))
    if faults:
        raise ConfigurationError("\n".join(f"{path}: {f}" for f in faults))
    return Catalog.build(spec, base_dir=path.parent, expand=os.path.expandvars)


def _parse(path: Path) -> CatalogSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(
            f"{path}: cannot read catalog: {exc.strerror}"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from None
    try:
        return CatalogSpec.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigurationError("\n".join(f"{path}: {ln}" for ln in lines)) from None


def _cross_check(spec: CatalogSpec) -> list[str]:
    faults: list[str] = []
    for name in spec.categories:
        if not re.fullmatch(NAME, name):
            faults.append(f"categories.{name}: name must match {NAME}")
    for name, source in spec.sources.items():
        unset = _UNSET_VAR.findall(os.path.expandvars(source.url))
        if unset:
            faults.append(
                f"sources.{name}.url: environment variable {unset[0]} is not set"
            )
    for name, ds in spec.datasets.items():
        faults += _check_dataset(spec, name, ds)
    for name, tag in spec.tags.items():
        if tag.category not in spec.categories:
            faults.append(f"tags.{name}.category: unknown category '{tag.category}'")
    for name, purpose in spec.purposes.items():
        faults += _check_purpose(spec, name, purpose)
    faults += _check_notices(spec)
    return faults


def _check_notices(spec: CatalogSpec) -> list[str]:
    """Each consent purpose has a current notice; notices cover what the purpose uses."""
    faults = []
    for name, purpose in spec.purposes.items():
        active = [n for n in spec.notices.get(name, []) if not n.retired]
        if purpose.legal_basis == "consent" and not active:
            faults.append(f"notices.{name}: a consent purpose needs an active notice")
    for name, versions in spec.notices.items():
        owner = spec.purposes.get(name)
        if owner is None:
            faults.append(f"notices.{name}: no consent purpose of that name")
            continue
        allowed = set(owner.categories) | set(owner.sensitive_categories)
        seen: set[str] = set()
        for i, notice in enumerate(versions):
            at = f"notices.{name}[{i}]"
            if notice.version in seen:
                faults.append(f"{at}.version: '{notice.version}' appears twice")
            seen.add(notice.version)
            outside = sorted(set(notice.categories) - allowed)
            if outside:
                faults.append(f"{at}.categories: not used by the purpose: {outside}")
            sensitive = [
                c for c in notice.categories if c in owner.sensitive_categories
            ]
            if sensitive and notice.kind != "separate":
                faults.append(
                    f"{at}.kind: covers sensitive {sensitive}; must be separate"
                )
    return faults


def _check_dataset(spec: CatalogSpec, name: str, ds: DatasetSpec) -> list[str]:
    at = f"datasets.{name}"
    faults = []
    if not re.fullmatch(NAME, name):
        faults.append(f"{at}: dataset name must match {NAME}")
    if ds.source not in spec.sources:
        faults.append(f"{at}.source: unknown source '{ds.source}'")
    if ds.subject_key not in ds.fields:
        faults.append(f"{at}.subject_key: '{ds.subject_key}' is not one of its fields")
    for fname, field in ds.fields.items():
        faults += _check_field(spec, f"{at}.fields.{fname}", fname, field)
    birth = [f for f, s in ds.fields.items() if s.category == _BIRTH_DATE]
    if len(birth) > 1:
        faults.append(f"{at}.fields: more than one {_BIRTH_DATE} field: {birth}")
    return faults


def _check_field(spec: CatalogSpec, at: str, fname: str, field: FieldSpec) -> list[str]:
    if not re.fullmatch(IDENTIFIER, fname):
        return [f"{at}: field name must match {IDENTIFIER}"]
    category = spec.categories.get(field.category)
    if category is None:
        return [f"{at}.category: unknown category '{field.category}'"]
    if category.sensitive and field.sensitive is False:
        return [f"{at}.sensitive: category '{field.category}' is sensitive"]
    return []


def _check_purpose(spec: CatalogSpec, name: str, purpose: PurposeSpec) -> list[str]:
    at = f"purposes.{name}"
    faults = [] if re.fullmatch(NAME, name) else [f"{at}: name must match {NAME}"]
    if name == RESERVED_PURPOSE:
        faults.append(f"{at}: '{RESERVED_PURPOSE}' is reserved for the opt-out (A-01)")
    for cat in purpose.categories:
        if cat not in spec.categories:
            faults.append(f"{at}.categories: unknown category '{cat}'")
        elif spec.categories[cat].sensitive:
            faults.append(
                f"{at}.categories: '{cat}' is sensitive; list it under"
                " sensitive_categories"
            )
    for cat in purpose.sensitive_categories:
        if cat not in spec.categories:
            faults.append(f"{at}.sensitive_categories: unknown category '{cat}'")
    return faults
