# METADATA
# title: Governance access tests
# description: One test_ rule per behaviour of data.governance.access.decision.
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
	},
	"dataset": "customers",
	"fields": [
		{"name": "customer_id", "category": "identity.customer_id", "sensitive": false},
		{"name": "mobile", "category": "contact.phone", "sensitive": false},
	],
	"explicit_fields": true,
	"tags": [],
	"consent": {"required": true, "state": "granted"},
	"subject": {"minor": false},
}

_obligations_fixture := {
	"default": {"contact.phone": "mask", "identity.customer_id": "mask"},
	"by_purpose": {"marketing_push": {"contact.phone": "keep"}},
}

_decide(patch) := decision if {
	decision := access.decision with input as object.union(_base, patch)
}

_reasons(patch) := _decide(patch).reasons

_field(name, category, sensitive) := {"name": name, "category": category, "sensitive": sensitive}

_sensitive_purpose := {"purpose": {
	"categories": ["contact.phone"],
	"sensitive_categories": ["health.pregnancy"],
}}

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
	decision := _decide({
		"purpose": {"legal_basis": "contract"},
		"consent": {"required": false, "state": "not_required"},
	})
	decision.allow
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
	patch := object.union(_sensitive_purpose, {"fields": [_field("stage", "health.pregnancy", true)]})
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
	patch := object.union(_sensitive_purpose, {"fields": [{"name": "stage", "category": "health.pregnancy"}]})
	_decide(patch).allow
}

test_absent_explicit_fields_counts_as_explicit if {
	inp := json.remove(object.union(_base, {"fields": [_field("email", "contact.email", false)]}), ["explicit_fields"])
	decision := access.decision with input as inp
	decision.reasons == ["field_not_permitted:email"]
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
	patch := object.union(_sensitive_purpose, {
		"fields": [_field("mobile", "contact.phone", false)],
		"tags": [_field("孕期", "health.pregnancy", true)],
	})
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

# Minors

test_subject_is_minor if {
	_reasons({"subject": {"minor": true}}) == ["subject_is_minor"]
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

test_minority_ignored_when_purpose_does_not_exclude_minors if {
	_decide({"purpose": {"excludes_minors": false}, "subject": {"minor": true}}).allow
	_decide({"purpose": {"excludes_minors": false}, "subject": {"minor": null}}).allow
}

test_absent_excludes_minors_counts_as_excluding if {
	inp := json.remove(object.union(_base, {"subject": {"minor": true}}), ["purpose/excludes_minors"])
	decision := access.decision with input as inp
	decision.reasons == ["subject_is_minor"]
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
		"purpose_not_permitted",
		"role_not_permitted",
		"subject_is_minor",
		"tag_not_permitted:高消费",
		"unclassified:notes",
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
