"""Load the catalog file into a checked, immutable `Catalog`.

Input: a YAML file shaped like `CatalogSpec`, and optionally a `TagScreen` that
refuses discriminatory tag names (S-03). Output: a `Catalog`, or a
`ConfigurationError` whose message names the file, the entry (as a dotted path)
and what is wrong, one line per fault.
"""

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from pydantic import ValidationError

from governance.catalog.catalog import Catalog
from governance.catalog.lineage import lineage_faults
from governance.catalog.models import (
    IDENTIFIER,
    NAME,
    RECIPIENT_SCOPE,
    CatalogSpec,
    DatasetSpec,
    FieldSpec,
    MaskingSpec,
    NoticeSpec,
    PurposeSpec,
)
from governance.catalog.registration import TagScreen, screen_faults
from governance.errors import ConfigurationError, MaskingParamsError
from governance.masking.params import generalise_params, mask_params

_CHINA = timezone(timedelta(hours=8))  # notices are dated in China Standard Time

_BIRTH_DATE = "identity.birth_date"
RESERVED_PURPOSE = "personalisation"
_UNSET_VAR = re.compile(r"\$\{?(\w+)\}?")


def load_catalog(path: Path, *, screen: TagScreen | None = None) -> Catalog:
    """Read, validate and cross-check the catalog at `path`.

    With `screen`, every tag name is also screened at registration (S-03). The
    access policy refuses a discriminatory tag in any case; the screen makes such
    a catalog fail to load instead, naming the tag.
    """
    spec = _parse(path)
    faults = list(_cross_check(spec))
    if screen is not None:
        faults += screen_faults(spec.tags, screen)
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
    faults += [
        f"tags.{name}.category: unknown category '{tag.category}'"
        for name, tag in spec.tags.items()
        if tag.category not in spec.categories
    ]
    faults += lineage_faults(spec)
    for name in spec.recipients:
        if not re.fullmatch(NAME, name):
            faults.append(f"recipients.{name}: name must match {NAME}")
    for name, purpose in spec.purposes.items():
        faults += _check_purpose(spec, name, purpose)
    faults += _check_detokenise_domains(spec)
    faults += _check_notices(spec)
    faults += _check_masking(spec, "masking", spec.masking)
    return faults


def _check_masking(
    spec: CatalogSpec, at: str, masking: dict[str, MaskingSpec]
) -> list[str]:
    """Operator parameters name known categories and are valid for them."""
    faults = []
    for category, entry in masking.items():
        where = f"{at}.{category}"
        if category not in spec.categories:
            faults.append(f"{where}: unknown category '{category}'")
            continue
        for op, raw, check in (
            ("mask", entry.mask, mask_params),
            ("generalise", entry.generalise, generalise_params),
        ):
            try:
                if raw is not None:
                    check(category, raw)
            except MaskingParamsError as exc:
                faults.append(f"{where}.{op}: {exc}")
    return faults


def _check_notices(spec: CatalogSpec) -> list[str]:
    """Each consent purpose has a current notice; notices cover what the purpose
    uses and are published (in China Standard Time) by today."""
    faults = []
    today = datetime.now(_CHINA).date()
    for name, purpose in spec.purposes.items():
        active = [n for n in spec.notices.get(name, []) if not n.retired]
        if purpose.legal_basis == "consent" and not active:
            faults.append(f"notices.{name}: a consent purpose needs an active notice")
    for name, versions in spec.notices.items():
        owner = spec.purposes.get(name)
        if owner is None:
            faults.append(f"notices.{name}: no consent purpose of that name")
            continue
        recipients = {RECIPIENT_SCOPE + r for r in owner.recipients}
        allowed = set(owner.categories) | set(owner.sensitive_categories) | recipients
        seen: set[str] = set()
        for i, notice in enumerate(versions):
            at = f"notices.{name}[{i}]"
            if notice.version in seen:
                faults.append(f"{at}.version: '{notice.version}' appears twice")
            if notice.published > today:
                faults.append(
                    f"{at}.published: {notice.published} is to come; a notice is"
                    " current from when subjects can read it: add it on that day"
                    " (until then it would make every consent stale, C-05)"
                )
            seen.add(notice.version)
            outside = sorted(set(notice.categories) - allowed)
            if outside:
                faults.append(f"{at}.categories: not used by the purpose: {outside}")
            faults += _check_notice_recipients(at, notice, recipients)
            if owner.messaging and not notice.retired and notice.frequency is None:
                faults.append(
                    f"{at}.frequency: a messaging purpose's notice states how"
                    " often messages come, like '4/month' (MSG-02)"
                )
            if notice.frequency is not None and not owner.messaging:
                faults.append(
                    f"{at}.frequency: only a messaging purpose sends messages"
                )
            sensitive = [
                c for c in notice.categories if c in owner.sensitive_categories
            ]
            if sensitive and notice.kind != "separate":
                faults.append(
                    f"{at}.kind: covers sensitive {sensitive}; must be separate"
                )
    return faults


def _check_notice_recipients(
    at: str, notice: NoticeSpec, recipients: set[str]
) -> list[str]:
    """A notice of a third-party purpose names every recipient, as separate consent.

    The subject is told who receives the data (PIPL 23; C-03), and a consent names
    a recipient by holding `recipient:<name>` in its scope (SC-02).
    """
    if not recipients:
        return []
    faults = []
    unnamed = sorted(recipients - set(notice.categories))
    if unnamed and not notice.retired:
        faults.append(f"{at}.categories: does not name recipients {unnamed}")
    if notice.kind != "separate":
        faults.append(f"{at}.kind: names recipients; must be separate (PIPL 23)")
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
    if purpose.detokenise and purpose.legal_basis == "consent":
        # Tokens outlive the read that released them: detokenising is checked
        # against no consent, so after a withdrawal it would still give values.
        faults.append(
            f"{at}.detokenise: a purpose that rests on consent may not detokenise"
            " (a withdrawal would not stop it); keep tokens for contract or legal"
            " purposes"
        )
    faults += _check_masking(spec, f"{at}.masking", purpose.masking)
    return faults + _check_sharing(spec, at, purpose) + _check_profiling(at, purpose)


def _check_profiling(at: str, purpose: PurposeSpec) -> list[str]:
    """Marketing, messaging and personalisation rest on consent (C-01), so that a
    withdrawal stops them; automated decisions about a person (personalisation,
    pricing) name their impact assessment (PIPL 55(2); A-05, L-03)."""
    faults = []
    uses = [
        u for u in ("marketing", "messaging", "personalised") if getattr(purpose, u)
    ]
    if uses and purpose.legal_basis != "consent":
        faults.append(
            f"{at}.legal_basis: a {'/'.join(uses)} purpose rests on the subject's"
            " consent (C-01: contract necessity does not cover it, and only consent"
            " is stopped by a withdrawal); use consent"
        )
    decides = [u for u in ("personalised", "pricing") if getattr(purpose, u)]
    if decides and purpose.impact_assessment is None:
        faults.append(
            f"{at}.impact_assessment: a {'/'.join(decides)} purpose is automated"
            " decision-making and needs an impact assessment first (PIPL 55(2))"
        )
    return faults


def _check_detokenise_domains(spec: CatalogSpec) -> list[str]:
    """A detokenising purpose shares its pseudonym domain with no consent purpose.

    Tokens join within a domain: a token released under consent could be
    opened through the detokenising purpose after the consent is withdrawn.
    """
    domains = {n: p.pseudonym_domain or n for n, p in spec.purposes.items()}
    return [
        f"purposes.{name}.detokenise: shares pseudonym domain '{domains[name]}' with"
        f" consent purpose '{other}', whose tokens it could open after a withdrawal;"
        " give one of them its own pseudonym_domain"
        for name, purpose in spec.purposes.items()
        if purpose.detokenise
        for other, peer in spec.purposes.items()
        if other != name
        and peer.legal_basis == "consent"
        and domains[other] == domains[name]
    ]


def _check_sharing(spec: CatalogSpec, at: str, purpose: PurposeSpec) -> list[str]:
    """A third-party purpose names registered recipients and rests on consent."""
    faults = [
        f"{at}.recipients: unknown recipient '{r}'"
        for r in purpose.recipients
        if r not in spec.recipients
    ]
    if purpose.third_party and not purpose.recipients:
        faults.append(f"{at}.recipients: a third-party purpose names its recipients")
    if purpose.recipients and not purpose.third_party:
        faults.append(f"{at}.recipients: only a third_party purpose has recipients")
    if purpose.third_party and purpose.legal_basis != "consent":
        faults.append(
            f"{at}.legal_basis: providing to a third party needs the subject's"
            " separate consent (PIPL 23); use consent"
        )
    return faults
