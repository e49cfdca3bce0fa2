# METADATA
# title: Governance access
# description: >-
#   Decides whether a caller may read fields of a dataset for a purpose under PIPL
#   (role, declared purpose, consent, sensitive PI, minors, S-01 classification)
#   and which obligation applies to each requested field. Every gap fails closed.
#   Input: caller, purpose, dataset, fields, explicit_fields, tags, consent, subject.
#   Data: data.governance.obligations.{default, by_purpose}.
package governance.access

import rego.v1

# METADATA
# title: Access decision
# description: >-
#   The one decision object: {"allow", "reasons", "obligations"}. allow is true iff
#   reasons (sorted deny codes, `code` or `code:name`) is empty; obligations maps every
#   input field name to keep, mask, pseudonymise or withhold, also when denied.
#   A malformed input yields the default, which denies with reason no_decision.
# scope: document
# entrypoint: true
default decision := {"allow": false, "reasons": ["no_decision"], "obligations": {}}

decision := {
	"allow": count(_reasons) == 0,
	"reasons": _reasons,
	"obligations": _obligations,
} if {
	_well_formed
}

_reasons := sort(_deny)

# Guarded: duplicate field names would make the comprehension a conflict error.
_obligations := {item.name: _obligation(item) | some item in input.fields} if _well_formed

_tags := object.get(input, "tags", [])

_obligation_kinds := {"keep", "mask", "pseudonymise", "withhold"}

# Shape checks the rest of the policy relies on; failing any of them leaves the default.
_well_formed if {
	is_object(input.caller)
	is_object(input.purpose)
	_named_items(input.fields)
	_named_items(_tags)
	count({item.name | some item in input.fields}) == count(input.fields)
}

_named_items(items) if {
	is_array(items)
	every item in items {
		is_string(item.name)
	}
}

_classified(item) if {
	is_string(item.category)
	item.category != ""
}

# A field or tag is permitted by the purpose's categories only when it is explicitly
# non-sensitive; anything else (sensitive or unmarked) needs a sensitive category.
_permitted(item) if {
	_classified(item)
	item.sensitive == false
	item.category in input.purpose.categories
}

_permitted(item) if {
	_classified(item)
	not item.sensitive == false
	item.category in input.purpose.sensitive_categories
}

_not_permitted_reason(kind, item) := sprintf("%s_not_permitted:%s", [kind, item.name]) if {
	item.sensitive == false
} else := sprintf("sensitive_%s_not_permitted:%s", [kind, item.name])

_obligation(item) := "withhold" if {
	not _permitted(item)
} else := kind if {
	kind := data.governance.obligations.by_purpose[input.purpose.name][item.category]
	kind in _obligation_kinds
} else := kind if {
	kind := data.governance.obligations.default[item.category]
	kind in _obligation_kinds
} else := "withhold"

_consent_required if not input.consent.required == false

_explicit_fields if not input.explicit_fields == false

_excludes_minors if not input.purpose.excludes_minors == false

_is_service if input.caller.role == "service"

# METADATA
# title: Role not permitted
# description: Only callers with the service role may read subject data.
# custom:
#   code: role_not_permitted
_deny contains "role_not_permitted" if {
	not _is_service
}

# METADATA
# title: Purpose not permitted
# description: The requested purpose is not among the caller's declared purposes.
# custom:
#   code: purpose_not_permitted
_deny contains "purpose_not_permitted" if {
	not input.purpose.name in input.caller.purposes
}

# METADATA
# title: Consent withdrawn
# description: The purpose needs consent and the subject has withdrawn it.
# custom:
#   code: consent_withdrawn
_deny contains "consent_withdrawn" if {
	_consent_required
	input.consent.state == "withdrawn"
}

# METADATA
# title: Consent missing
# description: The purpose needs consent and it is neither granted nor withdrawn.
# custom:
#   code: consent_missing
_deny contains "consent_missing" if {
	_consent_required
	not input.consent.state in {"granted", "withdrawn"}
}

# METADATA
# title: Field not permitted
# description: >-
#   An explicitly requested field falls outside the purpose (field_not_permitted)
#   or is sensitive PI the purpose does not cover (sensitive_field_not_permitted).
# custom:
#   code: field_not_permitted
_deny contains _not_permitted_reason("field", item) if {
	_explicit_fields
	some item in input.fields
	_classified(item)
	not _permitted(item)
}

# METADATA
# title: Tag not permitted
# description: >-
#   A tag used in an audience filter falls outside the purpose (tag_not_permitted)
#   or is sensitive PI the purpose does not cover (sensitive_tag_not_permitted).
# custom:
#   code: tag_not_permitted
_deny contains _not_permitted_reason("tag", item) if {
	some item in _tags
	_classified(item)
	not _permitted(item)
}

# METADATA
# title: Unclassified field or tag
# description: A field or tag without a category is denied by default (PIPL S-01).
# custom:
#   code: unclassified
_deny contains sprintf("unclassified:%s", [item.name]) if {
	some items in [input.fields, _tags]
	some item in items
	not _classified(item)
}

# METADATA
# title: Subject is a minor
# description: The purpose excludes minors and the subject is one.
# custom:
#   code: subject_is_minor
_deny contains "subject_is_minor" if {
	_excludes_minors
	input.subject.minor == true
}

# METADATA
# title: Subject age unknown
# description: The purpose excludes minors and the subject's minority is unknown.
# custom:
#   code: subject_age_unknown
_deny contains "subject_age_unknown" if {
	_excludes_minors
	not is_boolean(input.subject.minor)
}
