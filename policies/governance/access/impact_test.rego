# METADATA
# title: Impact assessment tests
# description: >-
#   Sensitive PI needs a purpose that names its impact assessment (L-03, S-02).
#   Helpers come from access_test.rego (same package).
package governance.access_test

import rego.v1

import data.governance.access

# A separate consent and a purpose permitting the pregnancy stage, as in _sensitive_purpose.
_pregnancy_access := object.union_n([
	_sensitive_purpose,
	_sensitive_consent("separate"),
	{"fields": [_field("mobile", "contact.phone", false)], "tags": [_pregnancy_tag]},
])

_without_assessment(patch) := object.union(patch, {"purpose": {"impact_assessment": null}})

test_sensitive_tag_allowed_with_impact_assessment if {
	_decide(_pregnancy_access).allow
}

test_sensitive_tag_needs_impact_assessment if {
	_reasons(_without_assessment(_pregnancy_access)) == ["impact_assessment_required:孕期"]
}

test_empty_or_malformed_impact_assessment_counts_as_none if {
	_reasons(object.union(_pregnancy_access, {"purpose": {"impact_assessment": ""}})) == ["impact_assessment_required:孕期"]
	_reasons(object.union(_pregnancy_access, {"purpose": {"impact_assessment": true}})) == ["impact_assessment_required:孕期"]
}

test_absent_impact_assessment_counts_as_none if {
	inp := json.remove(object.union(_base, _pregnancy_access), ["purpose/impact_assessment"])
	decision := access.decision with input as inp
	decision.reasons == ["impact_assessment_required:孕期"]
}

test_named_sensitive_field_needs_impact_assessment if {
	patch := _without_assessment(object.union(_pregnancy_access, {"fields": [_stage], "tags": []}))
	decision := _decide(patch)
	decision.reasons == ["impact_assessment_required:stage"]
	decision.obligations == {"stage": "withhold"}
}

test_implicit_sensitive_field_withheld_without_impact_assessment if {
	patch := object.union(_pregnancy_access, {
		"explicit_fields": false,
		"fields": [_field("mobile", "contact.phone", false), _stage],
		"tags": [],
	})
	released := _decide(patch) with data.governance.obligations as _stage_obligations
	released.obligations == {"mobile": "keep", "stage": "mask"}
	withheld := _decide(_without_assessment(patch)) with data.governance.obligations as _stage_obligations
	withheld.allow
	withheld.obligations == {"mobile": "keep", "stage": "withhold"}
}

test_impact_assessment_needed_whatever_the_legal_basis if {
	patch := _without_assessment(object.union(_pregnancy_access, _contract))
	_reasons(patch) == ["impact_assessment_required:孕期"]
}

test_derived_sensitive_tag_needs_impact_assessment if {
	patch := object.union_n([
		_pregnancy_access,
		{"purpose": {"sensitive_categories": ["interest.diet"], "impact_assessment": null}},
		{"consent": {"scope": ["contact.phone", "interest.diet"]}},
		{"tags": [_derived("控糖", "interest.diet", "health.condition", true)]},
	])
	_reasons(patch) == ["impact_assessment_required:控糖"]
}

test_plain_data_needs_no_impact_assessment if {
	_decide({"purpose": {"impact_assessment": null}}).allow
}

test_not_permitted_sensitive_tag_keeps_its_own_reason if {
	patch := _without_assessment(object.union(_pregnancy_access, {"purpose": {"sensitive_categories": []}}))
	_reasons(patch) == ["sensitive_tag_not_permitted:孕期"]
}
