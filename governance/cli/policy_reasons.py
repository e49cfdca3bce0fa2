"""Reason codes in plain words, for `govproxy policy explain`.

A reason is `code` or `code:name` (the field or tag it is about). Its words come
from the bundle first: a rule's `# METADATA` block with `custom.code`, `title`
and `description` (so a new rule explains itself), then from the table below,
which also covers the refusals the proxy makes before it asks the policy.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

_METADATA = re.compile(r"^# METADATA\n((?:#.*\n)+)", re.MULTILINE)


@dataclass(frozen=True)
class Explained:
    """One reason, split and put into words."""

    reason: str
    code: str
    subject: str | None
    title: str
    text: str


# Codes the bundle's METADATA may not name: variants of one rule, the rule's
# default, and the checks the proxy makes before the policy is asked.
BUILTIN: Mapping[str, tuple[str, str]] = {
    "no_decision": (
        "No decision",
        "The policy could not decide from this input (it is malformed); it denies.",
    ),
    "role_not_permitted": (
        "Role not permitted",
        "Only callers with the service role may read subject data.",
    ),
    "forbidden_role": (
        "Role not allowed",
        "The caller's role may not use the data endpoints; only service callers may.",
    ),
    "purpose_not_permitted": (
        "Purpose not permitted",
        "The purpose is not among the purposes the caller is registered for.",
    ),
    "consent_missing": (
        "Consent missing",
        "The purpose needs the subject's consent and the subject has not given it.",
    ),
    "consent_withdrawn": (
        "Consent withdrawn",
        "The subject withdrew consent for this purpose.",
    ),
    "consent_expired": (
        "Consent expired",
        "The subject's consent for this purpose has passed its expiry date.",
    ),
    "consent_stale": (
        "Consent must be renewed",
        "The purpose's notice changed in substance since the subject agreed to it.",
    ),
    "personalisation_opted_out": (
        "Personalisation turned off",
        "The subject turned personalisation off, and the purpose is personalised"
        " or picks subjects for marketing by their tags.",
    ),
    "field_not_permitted": (
        "Field not permitted",
        "A requested field's category is not among the purpose's categories.",
    ),
    "sensitive_field_not_permitted": (
        "Sensitive field not permitted",
        "A requested field is sensitive personal information (PIPL Art. 28) and the "
        "purpose does not list its category among its sensitive categories.",
    ),
    "tag_not_permitted": (
        "Tag not permitted",
        "A tag in the audience filter has a category the purpose may not use.",
    ),
    "sensitive_tag_not_permitted": (
        "Sensitive tag not permitted",
        "A tag in the audience filter is sensitive personal information (PIPL "
        "Art. 28) and the purpose does not list its category among its sensitive "
        "categories.",
    ),
}


def bundle_reasons(policies: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """code -> (title, description) from the METADATA blocks of the policy modules."""
    found: dict[str, tuple[str, str]] = {}
    for _name, text in policies:
        for block in _METADATA.findall(text):
            meta = _parse(block)
            custom = meta.get("custom")
            code = custom.get("code") if isinstance(custom, dict) else None
            if isinstance(code, str):
                title = str(meta.get("title") or code)
                found[code] = (
                    title,
                    " ".join(str(meta.get("description", "")).split()),
                )
    return found


def _parse(block: str) -> dict[str, Any]:
    """A METADATA comment block as YAML; an unreadable block says nothing."""
    text = "\n".join(
        line[2:] if line.startswith("# ") else line[1:] for line in block.splitlines()
    )
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


def explain_reason(reason: str, table: Mapping[str, tuple[str, str]]) -> Explained:
    """Split `code:name` and look the code up in `table`, then in `BUILTIN`."""
    code, _, subject = reason.partition(":")
    title, text = (
        table.get(code)
        or BUILTIN.get(code)
        or (
            code,
            "No explanation is recorded for this code; see the rule that emits it.",
        )
    )
    return Explained(reason, code, subject or None, title, text)
