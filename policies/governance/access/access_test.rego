# METADATA
# title: Governance access tests
# description: >-
#   One test_ rule per behaviour of data.governance.access.decision. The helpers here
#   (_base, _decide, _reasons, _field…) serve every *_test.rego of this package, one
#   file per rule family: impact_test, pricing_test, sharing_test, bulk_test,
#   tag_names_test.
package governance.access_test

import rego.v1

import data.governance.access

# A marketing push that every check lets through; each test patches one part of it.
_base := {
	"caller": {"name": "sms-sender", "role": "service", "purposes": ["marketing_push"]},
	"purpose": {
		"name": "marketing_push",
		"legal_basis": "consent",
		"categories": ["identity.customer_id", "profile.nickname", "contact.phone"],
		"sensitive_categories": [],
		"excludes_minors": true,
		"marketing": true,
		"pricing": false,
		"third_party": false,
		"recipients": [],
		"impact_assessment": null,
	},
	"dataset": "customers",
	"fields": [
		_field("customer_id", "identity.customer_id", false),
		_field("mobile", "contact.phone", false),
	],
	"explicit_fields": true,
	"tags": [],
	"consent": {
		"required": true,
		"state": "granted",
		"kind": "general",
		"grantor": "self",
		"scope": ["identity.customer_id", "profile.nickname", "contact.phone"],
	},
	"subject": {"minor": false},
	"recipient": {
		"requested": false,
		"registered": false,
		"name": null,
		"country": null,
		"cross_border": null,
		"transfer_mechanism": null,
	},
	"bulk": {"size": 1, "threshold": null, "approved": false},
}

_obligations_fixture := {
	"default": {"contact.phone": "mask", "identity.customer_id": "mask"},
	"by_purpose": {"marketing_push": {"contact.phone": "keep"}},
}

_decide(patch) := decision if {
	decision := access.decision with input as object.union(_base, patch)
}

_reasons(patch) := _decide(patch).reasons

_field(name, category, sensitive) := {"name": name, "category": category, "sensitive": sensitive, "derived_from": []}

# A field or tag whose lineage holds one input of the given category and sensitivity.
_derived(name, category, source_category, source_sensitive) := object.union(
	_field(name, category, false),
	{"derived_from": [{"category": source_category, "sensitive": source_sensitive}]},
)

# A purpose that may use the pregnancy stage, under an impact assessment.
_sensitive_purpose := {"purpose": {
	"categories": ["contact.phone"],
	"sensitive_categories": ["health.pregnancy"],
	"impact_assessment": "PIA-2026-001",
}}

# Neither marketing nor excluding minors: only consent rules apply to a child.
_minors_allowed := {"purpose": {"excludes_minors": false, "marketing": false}}

# A granted consent of the given kind covering the phone and the pregnancy stage.
_sensitive_consent(kind) := {"consent": {"kind": kind, "scope": ["contact.phone", "health.pregnancy"]}}

_stage := _field("stage", "health.pregnancy", true)

_pregnancy_tag := _field("孕期", "health.pregnancy", true)

# What the proxy sends for a purpose whose basis is not consent (e.g. a contract).
_contract := {
	"purpose": {"legal_basis": "contract"},
	"consent": {"required": false, "state": "not_required", "kind": null, "grantor": null, "scope": []},
}

_guardian_grant := {"consent": {"grantor": "guardian"}}

# Obligations that would release the pregnancy stage, so a withhold can only come from consent.
_stage_obligations := {"default": {"contact.phone": "keep", "health.pregnancy": "mask"}, "by_purpose": {}}

# Allow path

test_allow_when_every_check_passes if {
	_decide({}) == {
		"allow": true,
		"reasons": [],
		"obligations": {"customer_id": "keep", "mobile": "keep"},
	}
}

test_allow_with_permitted_tag if {
	decision := _decide({
		"purpose": {"categories": ["identity.customer_id", "contact.phone", "consumption.level"]},
		"tags": [_field("高消费", "consumption.level", false)],
		"consent": {"scope": ["identity.customer_id", "contact.phone", "consumption.level"]},
	})
	decision.allow
	decision.reasons == []
}

# Caller

test_role_not_permitted if {
	_reasons({"caller": {"role": "officer"}}) == ["role_not_permitted"]
}

test_missing_role_is_not_permitted if {
	inp := json.remove(_base, ["caller/role"])
	decision := access.decision with input as inp
	decision.reasons == ["role_not_permitted"]
}

test_purpose_not_permitted if {
	_reasons({"caller": {"purposes": ["analytics"]}}) == ["purpose_not_permitted"]
}

# Consent

test_consent_missing if {
	_reasons({"consent": {"state": "none"}}) == ["consent_missing"]
}

test_consent_withdrawn if {
	_reasons({"consent": {"state": "withdrawn"}}) == ["consent_withdrawn"]
}

test_consent_not_required_state_counts_as_missing_when_required if {
	_reasons({"consent": {"state": "not_required"}}) == ["consent_missing"]
}

test_consent_not_required_allows if {
	decision := _decide(_contract)
	decision.allow
	decision.obligations == {"customer_id": "keep", "mobile": "keep"}
}

test_absent_consent_fails_closed if {
	inp := json.remove(_base, ["consent"])
	decision := access.decision with input as inp
	decision.reasons == ["consent_missing"]
}

# Fields

test_field_not_permitted_when_explicit if {
	decision := _decide({"fields": [_field("email", "contact.email", false)]})
	decision.reasons == ["field_not_permitted:email"]
	decision.obligations == {"email": "withhold"}
}

test_field_not_permitted_is_withheld_silently_when_implicit if {
	decision := _decide({
		"explicit_fields": false,
		"fields": [_field("mobile", "contact.phone", false), _field("email", "contact.email", false)],
	})
	decision.allow
	decision.obligations == {"mobile": "keep", "email": "withhold"}
}

test_sensitive_field_not_permitted_via_categories if {
	patch := {
		"purpose": {"categories": ["contact.phone", "health.pregnancy"]},
		"fields": [_field("stage", "health.pregnancy", true)],
	}
	decision := _decide(patch)
	decision.reasons == ["sensitive_field_not_permitted:stage"]
	decision.obligations == {"stage": "withhold"}
}

test_sensitive_field_permitted_via_sensitive_categories if {
	patch := object.union_n([_sensitive_purpose, _sensitive_consent("separate"), {"fields": [_stage]}])
	decision := _decide(patch)
	decision.allow

	# Permitted, but no obligation is configured for the category: fail closed.
	decision.obligations == {"stage": "withhold"}
}

test_non_sensitive_field_not_permitted_via_sensitive_categories if {
	patch := object.union(_sensitive_purpose, {"fields": [_field("stage", "health.pregnancy", false)]})
	_reasons(patch) == ["field_not_permitted:stage"]
}

test_field_without_sensitive_flag_is_treated_as_sensitive if {
	_reasons({"fields": [{"name": "mobile", "category": "contact.phone"}]}) == ["sensitive_field_not_permitted:mobile"]
}

test_field_without_sensitive_flag_is_permitted_via_sensitive_categories if {
	patch := object.union_n([
		_sensitive_purpose,
		_sensitive_consent("separate"),
		{"fields": [{"name": "stage", "category": "health.pregnancy"}]},
	])
	_decide(patch).allow
}

test_field_without_sensitive_flag_needs_separate_consent if {
	patch := object.union(_sensitive_purpose, {"fields": [{"name": "stage", "category": "health.pregnancy"}]})
	_reasons(patch) == ["separate_consent_required:stage"]
}

test_absent_explicit_fields_counts_as_explicit if {
	inp := json.remove(object.union(_base, {"fields": [_field("email", "contact.email", false)]}), ["explicit_fields"])
	decision := access.decision with input as inp
	decision.reasons == ["field_not_permitted:email"]
}

# Consent scope (C-01, C-03)

test_field_inside_consent_scope_allowed if {
	decision := _decide({"consent": {"scope": ["contact.phone", "identity.customer_id", "contact.email"]}})
	decision.allow
	decision.obligations == {"customer_id": "keep", "mobile": "keep"}
}

test_field_outside_consent_scope_denies_when_explicit if {
	decision := _decide({"consent": {"scope": ["identity.customer_id"]}})
	decision.reasons == ["outside_consent_scope:mobile"]
	decision.obligations == {"customer_id": "keep", "mobile": "withhold"}
}

test_field_outside_consent_scope_is_withheld_silently_when_implicit if {
	decision := _decide({"explicit_fields": false, "consent": {"scope": ["identity.customer_id"]}})
	decision.allow
	decision.obligations == {"customer_id": "keep", "mobile": "withhold"}
}

test_empty_consent_scope_withholds_every_implicit_field if {
	decision := _decide({"explicit_fields": false, "consent": {"scope": []}})
	decision.allow
	decision.obligations == {"customer_id": "withhold", "mobile": "withhold"}
}

test_tag_outside_consent_scope_denies if {
	patch := {
		"purpose": {"categories": ["identity.customer_id", "contact.phone", "consumption.level"]},
		"tags": [_field("高消费", "consumption.level", false)],
	}
	_reasons(patch) == ["outside_consent_scope:高消费"]
}

test_tag_outside_consent_scope_denies_when_fields_implicit if {
	patch := {
		"explicit_fields": false,
		"purpose": {"categories": ["identity.customer_id", "contact.phone", "consumption.level"]},
		"tags": [_field("高消费", "consumption.level", false)],
	}
	decision := _decide(patch)
	decision.reasons == ["outside_consent_scope:高消费"]
	decision.obligations == {"customer_id": "keep", "mobile": "keep"}
}

test_field_not_permitted_keeps_its_reason_outside_consent_scope if {
	decision := _decide({"fields": [_field("email", "contact.email", false)], "consent": {"scope": []}})
	decision.reasons == ["field_not_permitted:email"]
}

test_tag_not_permitted_keeps_its_reason_outside_consent_scope if {
	_reasons({"tags": [_field("高消费", "consumption.level", false)]}) == ["tag_not_permitted:高消费"]
}

test_unclassified_field_keeps_its_reason_outside_consent_scope if {
	_reasons({"fields": [_field("notes", "", false)], "consent": {"scope": []}}) == ["unclassified:notes"]
}

test_consent_scope_not_checked_unless_granted if {
	_reasons({"consent": {"state": "withdrawn", "scope": []}}) == ["consent_withdrawn"]
	_reasons({"consent": {"state": "none", "scope": []}}) == ["consent_missing"]
}

test_consent_scope_ignored_when_consent_not_required if {
	decision := _decide(object.union(_contract, {"tags": [_field("昵称", "profile.nickname", false)]}))
	decision.allow
	decision.obligations == {"customer_id": "keep", "mobile": "keep"}
}

# Separate consent for sensitive PI (SC-01)

test_sensitive_field_with_general_consent_denies_when_explicit if {
	patch := object.union_n([_sensitive_purpose, _sensitive_consent("general"), {"fields": [_stage]}])
	decision := _decide(patch)
	decision.reasons == ["separate_consent_required:stage"]
	decision.obligations == {"stage": "withhold"}
}

test_sensitive_field_with_general_consent_is_withheld_silently_when_implicit if {
	patch := object.union_n([
		_sensitive_purpose,
		_sensitive_consent("general"),
		{"explicit_fields": false, "fields": [_field("mobile", "contact.phone", false), _stage]},
	])
	decision := _decide(patch) with data.governance.obligations as _stage_obligations
	decision.allow
	decision.obligations == {"mobile": "keep", "stage": "withhold"}
}

test_sensitive_tag_with_general_consent_denies if {
	patch := object.union_n([
		_sensitive_purpose,
		_sensitive_consent("general"),
		{"fields": [_field("mobile", "contact.phone", false)], "tags": [_pregnancy_tag]},
	])
	_reasons(patch) == ["separate_consent_required:孕期"]
}

test_sensitive_tag_with_general_consent_denies_when_fields_implicit if {
	patch := object.union_n([
		_sensitive_purpose,
		_sensitive_consent("general"),
		{"explicit_fields": false, "fields": [_field("mobile", "contact.phone", false)], "tags": [_pregnancy_tag]},
	])
	_reasons(patch) == ["separate_consent_required:孕期"]
}

test_separate_consent_outside_its_scope_is_reported_once if {
	patch := object.union_n([
		_sensitive_purpose,
		{"consent": {"kind": "separate", "scope": ["contact.phone"]}},
		{"fields": [_field("mobile", "contact.phone", false), _stage], "tags": [_pregnancy_tag]},
	])
	decision := _decide(patch)
	decision.reasons == ["separate_consent_required:stage", "separate_consent_required:孕期"]
	decision.obligations == {"mobile": "keep", "stage": "withhold"}
}

test_separate_consent_outside_its_scope_withholds_implicit_field if {
	patch := object.union_n([
		_sensitive_purpose,
		{"consent": {"kind": "separate", "scope": ["contact.phone"]}},
		{"explicit_fields": false, "fields": [_field("mobile", "contact.phone", false), _stage]},
	])
	decision := _decide(patch) with data.governance.obligations as _stage_obligations
	decision.allow
	decision.obligations == {"mobile": "keep", "stage": "withhold"}
}

test_guardian_consent_counts_as_separate_consent if {
	patch := object.union_n([
		_sensitive_purpose,
		_sensitive_consent("guardian"),
		{"fields": [_field("mobile", "contact.phone", false), _stage], "tags": [_pregnancy_tag]},
	])
	decision := _decide(patch) with data.governance.obligations as _stage_obligations
	decision.allow
	decision.obligations == {"mobile": "keep", "stage": "mask"}
}

test_separate_consent_releases_implicit_sensitive_field if {
	patch := object.union_n([
		_sensitive_purpose,
		_sensitive_consent("separate"),
		{"explicit_fields": false, "fields": [_field("mobile", "contact.phone", false), _stage]},
	])
	decision := _decide(patch) with data.governance.obligations as _stage_obligations
	decision.allow
	decision.obligations == {"mobile": "keep", "stage": "mask"}
}

test_separate_consent_missing_kind_counts_as_general if {
	patch := object.union_n([_sensitive_purpose, _sensitive_consent("separate"), {"fields": [_stage]}])
	inp := json.remove(object.union(_base, patch), ["consent/kind"])
	decision := access.decision with input as inp
	decision.reasons == ["separate_consent_required:stage"]
}

test_separate_consent_unknown_kind_counts_as_general if {
	patch := object.union_n([_sensitive_purpose, _sensitive_consent("Separate"), {"fields": [_stage]}])
	_reasons(patch) == ["separate_consent_required:stage"]
}

test_separate_consent_kind_counts_only_when_granted if {
	patch := object.union_n([
		_sensitive_purpose,
		_sensitive_consent("separate"),
		{"consent": {"state": "withdrawn"}, "fields": [_stage]},
	])
	_reasons(patch) == ["consent_withdrawn", "separate_consent_required:stage"]
}

test_sensitive_not_permitted_keeps_its_reason_without_separate_consent if {
	patch := {
		"purpose": {"categories": ["contact.phone", "health.pregnancy"]},
		"fields": [_stage],
		"tags": [_pregnancy_tag],
	}
	_reasons(patch) == ["sensitive_field_not_permitted:stage", "sensitive_tag_not_permitted:孕期"]
}

test_separate_consent_not_needed_when_consent_not_required if {
	patch := object.union_n([
		_contract,
		_sensitive_purpose,
		{"fields": [_field("mobile", "contact.phone", false), _stage], "tags": [_pregnancy_tag]},
	])
	decision := _decide(patch) with data.governance.obligations as _stage_obligations
	decision.allow
	decision.obligations == {"mobile": "keep", "stage": "mask"}
}

test_minor_sensitive_field_needs_both_guardian_grantor_and_separate_kind if {
	minor := object.union_n([_sensitive_purpose, _minors_allowed, {"fields": [_stage], "subject": {"minor": true}}])
	_reasons(object.union_n([minor, _sensitive_consent("separate")])) == ["guardian_consent_required"]
	_reasons(object.union_n([minor, _sensitive_consent("general"), _guardian_grant])) == ["separate_consent_required:stage"]
	_decide(object.union_n([minor, _sensitive_consent("guardian"), _guardian_grant])).allow
}

# Malformed consent

test_consent_without_scope_is_malformed if {
	inp := json.remove(_base, ["consent/scope"])
	decision := access.decision with input as inp
	decision.reasons == ["consent_malformed", "outside_consent_scope:customer_id", "outside_consent_scope:mobile"]
	decision.obligations == {"customer_id": "withhold", "mobile": "withhold"}
}

test_consent_with_null_scope_is_malformed if {
	"consent_malformed" in _reasons({"consent": {"scope": null}})
}

test_consent_with_object_scope_is_malformed_and_covers_nothing if {
	decision := _decide({
		"explicit_fields": false,
		"consent": {"scope": {"a": "identity.customer_id", "b": "contact.phone"}},
	})
	decision.reasons == ["consent_malformed"]
	decision.obligations == {"customer_id": "withhold", "mobile": "withhold"}
}

test_consent_with_string_scope_is_malformed if {
	_reasons({"explicit_fields": false, "consent": {"scope": "contact.phone"}}) == ["consent_malformed"]
}

test_malformed_scope_reported_when_consent_not_granted if {
	_reasons({"consent": {"state": "withdrawn", "scope": null}}) == ["consent_malformed", "consent_withdrawn"]
}

test_malformed_scope_ignored_when_consent_not_required if {
	_decide(object.union(_contract, {"consent": {"scope": null}})).allow
}

# Tags

test_tag_not_permitted if {
	_reasons({"tags": [_field("高消费", "consumption.level", false)]}) == ["tag_not_permitted:高消费"]
}

test_sensitive_tag_not_permitted if {
	patch := {
		"purpose": {"categories": ["identity.customer_id", "contact.phone", "health.pregnancy"]},
		"tags": [_field("孕期", "health.pregnancy", true)],
	}
	_reasons(patch) == ["sensitive_tag_not_permitted:孕期"]
}

test_sensitive_tag_permitted_via_sensitive_categories if {
	patch := object.union_n([
		_sensitive_purpose,
		_sensitive_consent("separate"),
		{
			"fields": [_field("mobile", "contact.phone", false)],
			"tags": [_pregnancy_tag],
		},
	])
	_decide(patch).allow
}

test_tag_not_permitted_denies_when_fields_implicit if {
	patch := {"explicit_fields": false, "tags": [_field("高消费", "consumption.level", false)]}
	_reasons(patch) == ["tag_not_permitted:高消费"]
}

# Classification (S-01)

test_unclassified_field if {
	decision := _decide({"fields": [_field("notes", "", false)]})
	decision.reasons == ["unclassified:notes"]
	decision.obligations == {"notes": "withhold"}
}

test_field_without_category_is_unclassified if {
	_reasons({"fields": [{"name": "notes", "sensitive": false}]}) == ["unclassified:notes"]
}

test_unclassified_field_denies_when_fields_implicit if {
	_reasons({"explicit_fields": false, "fields": [_field("notes", "", false)]}) == ["unclassified:notes"]
}

test_unclassified_tag if {
	_reasons({"tags": [{"name": "新标签", "sensitive": false}]}) == ["unclassified:新标签"]
}

# Derived tags (S-04)

test_tag_derived_from_sensitive_input_is_sensitive_whatever_its_flag if {
	patch := {
		"purpose": {"categories": ["identity.customer_id", "contact.phone", "interest.diet"]},
		"consent": {"scope": ["identity.customer_id", "contact.phone", "interest.diet"]},
		"tags": [_derived("控糖", "interest.diet", "health.condition", true)],
	}
	_reasons(patch) == ["sensitive_tag_not_permitted:控糖"]
}

test_tag_derived_from_plain_inputs_is_plain if {
	patch := {
		"purpose": {"categories": ["identity.customer_id", "contact.phone", "interest.diet"]},
		"consent": {"scope": ["identity.customer_id", "contact.phone", "interest.diet"]},
		"tags": [_derived("轻食", "interest.diet", "interest.shopping", false)],
	}
	_decide(patch).allow
}

test_derived_sensitive_tag_permitted_like_any_sensitive_tag if {
	patch := object.union_n([
		_sensitive_purpose,
		{"purpose": {"sensitive_categories": ["interest.diet"]}},
		{"consent": {"kind": "separate", "scope": ["contact.phone", "interest.diet"]}},
		{"fields": [_field("mobile", "contact.phone", false)], "tags": [_derived("控糖", "interest.diet", "health.condition", true)]},
	])
	_decide(patch).allow
	_reasons(object.union(patch, {"consent": {"kind": "general"}})) == ["separate_consent_required:控糖"]
}

test_derived_input_without_sensitive_flag_counts_as_sensitive if {
	tag := object.union(_field("控糖", "interest.diet", false), {"derived_from": [{"category": "health.condition"}]})
	patch := {"purpose": {"categories": ["identity.customer_id", "contact.phone", "interest.diet"]}, "tags": [tag]}
	_reasons(patch) == ["sensitive_tag_not_permitted:控糖"]
}

test_missing_or_malformed_lineage_counts_as_sensitive if {
	purpose := {"purpose": {"categories": ["identity.customer_id", "contact.phone", "interest.diet"]}}
	missing := {"name": "控糖", "category": "interest.diet", "sensitive": false}
	_reasons(object.union(purpose, {"tags": [missing]})) == ["sensitive_tag_not_permitted:控糖"]
	malformed := object.union(missing, {"derived_from": "health.condition"})
	_reasons(object.union(purpose, {"tags": [malformed]})) == ["sensitive_tag_not_permitted:控糖"]
}

test_field_with_sensitive_lineage_is_withheld_when_implicit if {
	patch := {
		"explicit_fields": false,
		"fields": [_field("mobile", "contact.phone", false), _derived("score", "contact.phone", "financial.debt", true)],
	}
	decision := _decide(patch)
	decision.allow
	decision.obligations == {"mobile": "keep", "score": "withhold"}
}

# Minors

test_subject_is_minor if {
	patch := object.union(_contract, {"subject": {"minor": true}})
	_reasons(patch) == ["subject_is_minor"]
}

test_minor_with_own_consent_needs_guardian_consent if {
	_reasons({"subject": {"minor": true}}) == ["guardian_consent_required", "subject_is_minor"]
}

test_minor_with_guardian_consent_allowed if {
	patch := object.union(_guardian_grant, {"subject": {"minor": true}})
	_decide(patch) == {
		"allow": true,
		"reasons": [],
		"obligations": {"customer_id": "keep", "mobile": "keep"},
	}
}

test_guardian_consent_required_when_purpose_does_not_exclude_minors if {
	patch := object.union(_minors_allowed, {"subject": {"minor": true}})
	_reasons(patch) == ["guardian_consent_required"]
	_decide(object.union(patch, _guardian_grant)).allow
}

test_guardian_consent_missing_grantor_counts_as_self if {
	inp := json.remove(object.union(_base, {"subject": {"minor": true}}), ["consent/grantor"])
	decision := access.decision with input as inp
	decision.reasons == ["guardian_consent_required", "subject_is_minor"]
}

test_guardian_grantor_counts_only_when_granted if {
	patch := object.union(_guardian_grant, {"consent": {"state": "withdrawn"}, "subject": {"minor": true}})
	_reasons(patch) == ["consent_withdrawn", "guardian_consent_required", "subject_is_minor"]
}

test_guardian_grantor_ignored_when_consent_not_required if {
	patch := object.union_n([_contract, {"consent": {"grantor": "guardian"}}, {"subject": {"minor": true}}])
	_reasons(patch) == ["subject_is_minor"]
}

test_guardian_consent_does_not_lift_unknown_age if {
	patch := object.union(_guardian_grant, {"subject": {"minor": null}})
	_reasons(patch) == ["subject_age_unknown"]
}

test_subject_age_unknown_when_null if {
	_reasons({"subject": {"minor": null}}) == ["subject_age_unknown"]
}

test_subject_age_unknown_when_absent if {
	inp := json.remove(_base, ["subject/minor"])
	decision := access.decision with input as inp
	decision.reasons == ["subject_age_unknown"]
}

test_adult_subject_allowed if {
	_decide({"subject": {"minor": false}}).allow
}

test_minority_ignored_when_purpose_does_not_exclude_minors_nor_rest_on_own_consent if {
	guardian := object.union(_minors_allowed, _guardian_grant)
	_decide(object.union(guardian, {"subject": {"minor": null}})).allow
	contract := object.union(_contract, _minors_allowed)
	_decide(object.union(contract, {"subject": {"minor": true}})).allow
	_decide(object.union(contract, {"subject": {"minor": null}})).allow
}

# A child with an empty birth date is not an adult: their own consent may be no consent.
test_subject_age_unknown_when_purpose_rests_on_own_consent if {
	_reasons(object.union(_minors_allowed, {"subject": {"minor": null}})) == ["subject_age_unknown"]
	_decide(object.union(_minors_allowed, {"subject": {"minor": false}})).allow
}

test_marketing_purpose_excludes_minors_whatever_excludes_minors_says if {
	patch := object.union_n([_contract, {"purpose": {"excludes_minors": false}}, {"subject": {"minor": true}}])
	_reasons(patch) == ["subject_is_minor"]
	_reasons(object.union(patch, {"subject": {"minor": null}})) == ["subject_age_unknown"]
}

test_marketing_minor_with_guardian_consent_allowed_whatever_excludes_minors_says if {
	patch := object.union_n([{"purpose": {"excludes_minors": false}}, _guardian_grant, {"subject": {"minor": true}}])
	_decide(patch).allow
}

test_absent_marketing_counts_as_excluding_minors if {
	patch := object.union_n([_contract, {"purpose": {"excludes_minors": false}}, {"subject": {"minor": true}}])
	inp := json.remove(object.union(_base, patch), ["purpose/marketing"])
	decision := access.decision with input as inp
	decision.reasons == ["subject_is_minor"]
}

test_absent_excludes_minors_counts_as_excluding if {
	patch := object.union_n([_contract, {"purpose": {"marketing": false}}, {"subject": {"minor": true}}])
	inp := json.remove(object.union(_base, patch), ["purpose/excludes_minors"])
	decision := access.decision with input as inp
	decision.reasons == ["subject_is_minor"]
}

test_absent_excludes_minors_lifted_by_guardian_consent if {
	inp := json.remove(object.union_n([_base, _guardian_grant, {"subject": {"minor": true}}]), ["purpose/excludes_minors"])
	decision := access.decision with input as inp
	decision.allow
}

# Obligations

test_obligation_by_purpose_beats_default if {
	decision := _decide({}) with data.governance.obligations as _obligations_fixture
	decision.obligations.mobile == "keep"
}

test_obligation_falls_back_to_default if {
	decision := _decide({}) with data.governance.obligations as _obligations_fixture
	decision.obligations.customer_id == "mask"
}

test_obligation_missing_withholds if {
	patch := {"fields": [_field("nick", "profile.nickname", false)]}
	decision := _decide(patch) with data.governance.obligations as _obligations_fixture
	decision.allow
	decision.obligations == {"nick": "withhold"}
}

test_obligation_unknown_kind_withholds if {
	fixture := {
		"default": {"contact.phone": "shout"},
		"by_purpose": {"marketing_push": {"identity.customer_id": "shout"}},
	}
	decision := _decide({}) with data.governance.obligations as fixture
	decision.obligations == {"customer_id": "withhold", "mobile": "withhold"}
}

test_obligations_from_bundle_data if {
	patch := {
		"caller": {"purposes": ["analytics"]},
		"purpose": {"name": "analytics"},
	}
	_decide(patch).obligations == {"customer_id": "pseudonymise", "mobile": "pseudonymise"}
}

test_obligations_listed_for_every_field_when_denied if {
	decision := _decide({"caller": {"role": "officer"}})
	not decision.allow
	decision.obligations == {"customer_id": "keep", "mobile": "keep"}
}

# Reasons

test_reasons_sorted_and_deduplicated if {
	patch := {
		"caller": {"role": "officer", "purposes": []},
		"consent": {"state": "withdrawn"},
		"subject": {"minor": true},
		"fields": [_field("email", "contact.email", false), _field("notes", "", false)],
		"tags": [
			_field("高消费", "consumption.level", false),
			_field("高消费", "consumption.level", false),
		],
	}
	_reasons(patch) == [
		"consent_withdrawn",
		"field_not_permitted:email",
		"guardian_consent_required",
		"purpose_not_permitted",
		"role_not_permitted",
		"subject_is_minor",
		"tag_not_permitted:高消费",
		"unclassified:notes",
	]
}

test_consent_reasons_sorted_and_deduplicated if {
	patch := object.union(_sensitive_purpose, {
		"purpose": {"categories": ["contact.phone", "consumption.level"]},
		"consent": {"scope": []},
		"fields": [_field("mobile", "contact.phone", false), _stage],
		"tags": [
			_field("高消费", "consumption.level", false),
			_field("高消费", "consumption.level", false),
			_pregnancy_tag,
		],
	})
	_reasons(patch) == [
		"outside_consent_scope:mobile",
		"outside_consent_scope:高消费",
		"separate_consent_required:stage",
		"separate_consent_required:孕期",
	]
}

# Default decision

test_default_decision_on_empty_input if {
	decision := access.decision with input as {}
	decision == {"allow": false, "reasons": ["no_decision"], "obligations": {}}
}

test_default_decision_on_duplicate_field_names if {
	fields := [_field("mobile", "contact.phone", false), _field("mobile", "contact.email", false)]
	_reasons({"fields": fields}) == ["no_decision"]
}

test_default_decision_on_malformed_tags if {
	_reasons({"tags": {"name": "高消费"}}) == ["no_decision"]
}

# Portability: a missing key denies in OPA as in regorus (OPA reads `not f(x)` with x
# undefined as undefined, not true; tests/adapters/opa runs these tests on OPA too)

test_purpose_not_permitted_when_caller_lists_no_purposes if {
	inp := json.remove(_base, ["caller/purposes"])
	decision := access.decision with input as inp
	decision.reasons == ["purpose_not_permitted"]
}

test_consent_missing_when_state_absent if {
	inp := json.remove(_base, ["consent/state"])
	decision := access.decision with input as inp
	decision.reasons == ["consent_missing"]
}

test_consent_not_an_object_is_missing_and_malformed if {
	_reasons({"consent": "granted"}) == ["consent_malformed", "consent_missing"]
}

test_subject_age_unknown_when_subject_absent if {
	inp := json.remove(_base, ["subject"])
	decision := access.decision with input as inp
	decision.reasons == ["subject_age_unknown"]
}
