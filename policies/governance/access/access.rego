# METADATA
# title: Governance access
# description: >-
#   Decides whether a caller may read fields of a dataset for a purpose under PIPL
#   (role, declared purpose, consent and its scope, separate consent for sensitive PI,
#   minors and guardian consent, S-01 classification) and which obligation applies to
#   each requested field. Every gap fails closed.
#   Input: caller, purpose, dataset, fields, explicit_fields, tags, subject, and
#   consent {required, state, kind, grantor, scope}.
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
} else := "withhold" if {
	_consent_withholds(item)
} else := kind if {
	kind := data.governance.obligations.by_purpose[input.purpose.name][item.category]
	kind in _obligation_kinds
} else := kind if {
	kind := data.governance.obligations.default[item.category]
	kind in _obligation_kinds
} else := "withhold"

_consent_required if not input.consent.required == false

# Consent (C-01, C-03, SC-01, M-01). The grant's kind, grantor and scope count only while
# the purpose requires consent and the subject has granted it. When consent is not
# required they are null or empty and ignored; a missing kind or grantor counts as null.
_consent_granted if {
	_consent_required
	input.consent.state == "granted"
}

# A scope that is not an array covers nothing, and is reported as consent_malformed.
_in_consent_scope(item) if {
	is_array(input.consent.scope)
	item.category in input.consent.scope
}

# Guardian consent counts as separate consent: a guardian's consent to process a child's
# PI (PIPL 31) must itself be a separate consent for that processing (PIPL 29, SC-06).
_separate_kinds := {"separate", "guardian"}

_sensitive(item) if not item.sensitive == false

# A permitted, non-sensitive field or tag that the granted consent does not cover (C-01,
# C-03). Sensitive items are checked by _needs_separate_consent instead, so an item
# gets one consent reason, and an item the purpose does not permit keeps its own.
_outside_consent_scope(item) if {
	_consent_granted
	_permitted(item)
	not _sensitive(item)
	not _in_consent_scope(item)
}

# A sensitive field or tag that the purpose permits (via sensitive_categories) needs a
# granted separate (or guardian) consent whose scope holds its category (SC-01).
_needs_separate_consent(item) if {
	_consent_required
	_permitted(item)
	_sensitive(item)
	not _separate_consent_covers(item)
}

_separate_consent_covers(item) if {
	_consent_granted
	input.consent.kind in _separate_kinds
	_in_consent_scope(item)
}

_consent_withholds(item) if _outside_consent_scope(item)

_consent_withholds(item) if _needs_separate_consent(item)

# The items whose consent gaps deny: every tag, and the fields when they were named
# explicitly. Implicit fields with a consent gap are withheld instead (_obligation).
_consent_checked contains item if {
	some item in _tags
}

_consent_checked contains item if {
	_explicit_fields
	some item in input.fields
}

# Minors (M-01, M-02): only a granted consent given by the guardian is valid.
_guardian_consent if {
	_consent_granted
	input.consent.grantor == "guardian"
}

_explicit_fields if not input.explicit_fields == false

_excludes_minors if not input.purpose.excludes_minors == false

_is_service if input.caller.role == "service"

# Portability: OPA reads `not f(x)` (and `not x in y`) with x undefined as undefined, where
# regorus reads it as true; each such test is a helper rule, so `not` sees a missing key.
_purpose_declared if input.purpose.name in input.caller.purposes

_consent_given_or_withdrawn if input.consent.state in {"granted", "withdrawn"}

_consent_scope_listed if is_array(input.consent.scope)

_age_known if is_boolean(input.subject.minor)

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
	not _purpose_declared
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
	not _consent_given_or_withdrawn
}

# METADATA
# title: Consent malformed
# description: >-
#   The purpose needs consent and the consent's scope is not an array; the scope then
#   covers nothing. An absent consent is reported as consent_missing only.
# custom:
#   code: consent_malformed
_deny contains "consent_malformed" if {
	_consent_required
	object.get(input, "consent", null) != null
	not _consent_scope_listed
}

# METADATA
# title: Outside consent scope
# description: >-
#   The consent is granted but its scope lacks the category of a permitted tag or of an
#   explicitly requested field. Such an implicit field is withheld without a denial.
# custom:
#   code: outside_consent_scope
_deny contains sprintf("outside_consent_scope:%s", [item.name]) if {
	some item in _consent_checked
	_outside_consent_scope(item)
}

# METADATA
# title: Separate consent required
# description: >-
#   A sensitive tag or explicitly requested sensitive field is permitted by the purpose,
#   but no granted separate or guardian consent covers its category (PIPL 29, SC-01).
#   Such an implicit field is withheld without a denial. Not applied without consent.
# custom:
#   code: separate_consent_required
_deny contains sprintf("separate_consent_required:%s", [item.name]) if {
	some item in _consent_checked
	_needs_separate_consent(item)
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
# description: >-
#   The purpose excludes minors and the subject is one, unless the guardian granted
#   the consent (M-02).
# custom:
#   code: subject_is_minor
_deny contains "subject_is_minor" if {
	_excludes_minors
	input.subject.minor == true
	not _guardian_consent
}

# METADATA
# title: Guardian consent required
# description: >-
#   The purpose needs consent and the subject is a minor, so only a granted consent
#   whose grantor is the guardian is valid (PIPL 31, M-01).
# custom:
#   code: guardian_consent_required
_deny contains "guardian_consent_required" if {
	_consent_required
	input.subject.minor == true
	not _guardian_consent
}

# METADATA
# title: Subject age unknown
# description: The purpose excludes minors and the subject's minority is unknown.
# custom:
#   code: subject_age_unknown
_deny contains "subject_age_unknown" if {
	_excludes_minors
	not _age_known
}
