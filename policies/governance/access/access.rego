# METADATA
# title: Governance access
# description: >-
#   Decides whether a caller may read fields of a dataset for a purpose under PIPL
#   (role, declared purpose, consent and its scope, separate consent for sensitive PI,
#   minors and guardian consent, S-01 classification, S-04 derived tags) and which
#   obligation applies to each requested field. Every gap fails closed. The rules of
#   the other files of this package: impact.rego (PIPIA for sensitive PI, L-03),
#   pricing.rego (A-03), sharing.rego (third parties, SC-02/SC-04), bulk.rego (K-02),
#   tag_names.rego (S-03).
#   Input: caller, purpose {name, legal_basis, categories, sensitive_categories,
#   excludes_minors, marketing, pricing, third_party, recipients, impact_assessment},
#   dataset, fields and tags (each {name, category, sensitive, derived_from}),
#   explicit_fields, subject, consent {required, state, kind, grantor, scope},
#   recipient {requested, registered, name, country, cross_border, transfer_mechanism}
#   and bulk {size, threshold, approved}.
#   Data: data.governance.obligations.{default, by_purpose},
#   data.governance.pricing.willingness_to_pay, data.governance.tag_names.
package governance.access

import rego.v1

# METADATA
# title: Access decision
# description: >-
#   The one decision object: {"allow", "reasons", "obligations"}. allow is true iff
#   reasons (sorted deny codes, `code` or `code:name`) is empty; obligations maps every
#   input field name to an obligation (keep, mask, pseudonymise, tokenise, generalise,
#   redact_text or withhold), also when denied.
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

# Every field is withheld unless released, when it takes the obligation set for its
# category. Guarded: duplicate field names would make a comprehension a conflict error.
_obligations := object.union(
	{item.name: "withhold" | some item in input.fields},
	{item.name: _obligation(item.category) | some item in _released_fields},
) if _well_formed

_tags := object.get(input, "tags", [])

_obligation_kinds := {"keep", "mask", "pseudonymise", "tokenise", "generalise", "redact_text", "withhold"}

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

# What the rules know about the fields and tags is held in sets of items, combined
# with | (union), & (intersection) and - (difference).
# Performance: a set is worked out once per decision; a function at every call.

# The fields and the tags; empty for a part that is not an array (the input is then
# malformed and the decision is the default anyway).
_fields := {item | is_array(input.fields); some item in input.fields}

_tag_items := {item | is_array(_tags); some item in _tags}

_items := _fields | _tag_items

# The fields and tags with a category; any other is denied by default (S-01).
_classified_items := {item |
	some item in _items
	is_string(item.category)
	item.category != ""
}

# Sensitive unless marked otherwise, and whatever its own mark says when anything it
# is derived from is sensitive (S-04): a derived tag cannot be laundered by its flag.
# derived_from lists the catalog's lineage of the item ([] for a plain field or tag);
# anything but an array counts as sensitive lineage.
_plain_items := {item |
	some item in _items
	item.sensitive == false
	is_array(item.derived_from)
	every source in item.derived_from {
		source.sensitive == false
	}
}

_sensitive_items := _items - _plain_items

# The item's lineage when it is an array, else none (the item counts as sensitive).
_lineage(item) := item.derived_from if {
	is_array(object.get(item, "derived_from", null))
} else := []

# A field or tag is permitted by the purpose's categories only when it is not
# sensitive; anything sensitive (or unmarked) needs a sensitive category.
_permitted_plain_items := {item |
	some item in _classified_items & _plain_items
	item.category in input.purpose.categories
}

_permitted_sensitive_items := {item |
	some item in _classified_items & _sensitive_items
	item.category in input.purpose.sensitive_categories
}

_permitted_items := _permitted_plain_items | _permitted_sensitive_items

_not_permitted_reason(kind, item) := sprintf("%s_not_permitted:%s", [kind, item.name]) if {
	item in _plain_items
} else := sprintf("sensitive_%s_not_permitted:%s", [kind, item.name])

# The permitted fields that leave; every other field is withheld (_obligations).
_released_fields := _fields & (_permitted_items - _withheld_items)

# The obligation the purpose sets for a category, else the default one.
_obligation(category) := kind if {
	kind := _purpose_obligations[category]
	kind in _obligation_kinds
} else := kind if {
	kind := _default_obligations[category]
	kind in _obligation_kinds
} else := "withhold"

# Performance: named once, as regorus resolves a path into data afresh at every use.
_purpose_obligations := data.governance.obligations.by_purpose[input.purpose.name]

_default_obligations := data.governance.obligations.default

_consent_required if not input.consent.required == false

# Consent (C-01, C-03, SC-01, M-01). The grant's kind, grantor and scope count only while
# the purpose requires consent and the subject has granted it. When consent is not
# required they are null or empty and ignored; a missing kind or grantor counts as null.
_consent_granted if {
	_consent_required
	input.consent.state == "granted"
}

# The categories the consent covers. A scope that is not an array covers nothing, and
# is reported as consent_malformed.
_consent_scope := input.consent.scope if {
	is_array(input.consent.scope)
} else := []

# Guardian consent counts as separate consent: a guardian's consent to process a child's
# PI (PIPL 31) must itself be a separate consent for that processing (PIPL 29, SC-06).
_separate_kinds := {"separate", "guardian"}

# The permitted, non-sensitive fields and tags that the granted consent does not cover
# (C-01, C-03). Sensitive items are checked by _lacking_separate_consent instead, so an
# item gets one consent reason, and an item the purpose does not permit keeps its own.
_outside_consent_scope := {item |
	_consent_granted
	some item in _permitted_plain_items
	not item.category in _consent_scope
}

# The sensitive fields and tags that the purpose permits (via sensitive_categories)
# without a granted separate (or guardian) consent whose scope holds their category
# (SC-01).
_lacking_separate_consent := {item |
	_consent_required
	some item in _permitted_sensitive_items
	not _separate_consent_covers(item)
}

_separate_consent_covers(item) if {
	_consent_granted
	input.consent.kind in _separate_kinds
	item.category in _consent_scope
}

# The permitted items that must not leave all the same, so an implicit field is withheld
# where a named one is denied: consent gaps (here), a missing impact assessment
# (impact.rego) and price fairness (pricing.rego).
_withheld_items := _outside_consent_scope | _lacking_separate_consent | _lacking_impact_assessment | _price_restricted

# The items whose gaps deny: every tag, and the fields when they were named
# explicitly. Implicit fields with a gap are withheld instead (_obligations).
_checked contains item if {
	some item in _tags
}

_checked contains item if {
	_explicit_fields
	some item in input.fields
}

# Minors (M-01, M-02): only a granted consent given by the guardian is valid.
_guardian_consent if {
	_consent_granted
	input.consent.grantor == "guardian"
}

_explicit_fields if not input.explicit_fields == false

# Marketing purposes exclude minors whatever excludes_minors says (M-01); a purpose
# missing either flag counts as excluding them.
_excludes_minors if not input.purpose.excludes_minors == false

_excludes_minors if not input.purpose.marketing == false

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
	some item in _checked
	item in _outside_consent_scope
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
	some item in _checked
	item in _lacking_separate_consent
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
	item in _classified_items
	not item in _permitted_items
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
	item in _classified_items
	not item in _permitted_items
}

# METADATA
# title: Unclassified field or tag
# description: A field or tag without a category is denied by default (PIPL S-01).
# custom:
#   code: unclassified
_deny contains sprintf("unclassified:%s", [item.name]) if {
	some item in _items - _classified_items
}

# METADATA
# title: Subject is a minor
# description: >-
#   The purpose excludes minors (excludes_minors, or any marketing purpose) and the
#   subject is one, unless the guardian granted the consent (M-01, M-02).
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
# description: >-
#   The subject's minority is unknown, and the purpose excludes minors or rests on
#   a consent the subject gave themselves, which is valid only from 14 (PIPL 31, M-01).
# custom:
#   code: subject_age_unknown
_deny contains "subject_age_unknown" if {
	_age_needed
	not _age_known
}

# Whether a subject's age matters: the purpose excludes minors, or its consent is the
# subject's own, which a child cannot give. A guardian's consent holds at any age.
_age_needed if _excludes_minors

_age_needed if {
	_consent_required
	not _guardian_consent
}
