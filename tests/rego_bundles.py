"""Small, self-contained Rego bundles written to a temporary directory.

`write_bundle(root, files)` writes a tiny but complete bundle (a decision rule that the
proxy accepts, an obligations document, one passing test) so that a test can
break exactly one thing in it, independently of the shipped `policies/`.
"""

import json
from pathlib import Path
from typing import Any

ACCESS = "governance/access/access.rego"
ACCESS_TEST = "governance/access/access_test.rego"
OBLIGATIONS = "governance/obligations/data.json"

ACCESS_REGO = """\
package governance.access

import rego.v1

default decision := {"allow": false, "reasons": ["no_decision"], "obligations": {}}

decision := {
	"allow": count(_deny) == 0,
	"reasons": sort(_deny),
	"obligations": {f.name: _obligation(f) | some f in input.fields},
} if {
	is_object(input.purpose)
}

_deny contains "purpose_not_permitted" if {
	not input.purpose.name in input.caller.purposes
}

_obligation(f) := kind if {
	kind := data.governance.obligations.by_purpose[input.purpose.name][f.category]
} else := kind if {
	kind := data.governance.obligations.default[f.category]
} else := "withhold"
"""

ACCESS_TEST_REGO = """\
package governance.access_test

import rego.v1

import data.governance.access

test_allows_a_declared_purpose if {
	access.decision.allow with input as {
		"caller": {"purposes": ["marketing_push"]},
		"purpose": {"name": "marketing_push"},
		"fields": [],
	}
}
"""

OBLIGATIONS_DATA: dict[str, Any] = {
    "default": {"contact.phone": "mask"},
    "by_purpose": {"marketing_push": {"contact.phone": "keep"}},
}


def write_bundle(root: Path, files: dict[str, str | None] | None = None) -> Path:
    """Write the small bundle under `root`; `files` (path -> text) add or replace
    files, and a None text leaves that file out."""
    contents: dict[str, str | None] = {
        ACCESS: ACCESS_REGO,
        ACCESS_TEST: ACCESS_TEST_REGO,
        OBLIGATIONS: json.dumps(OBLIGATIONS_DATA, indent=2),
        ".manifest": json.dumps({"roots": ["governance"]}),
        **(files or {}),
    }
    for name, text in contents.items():
        if text is not None:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return root
