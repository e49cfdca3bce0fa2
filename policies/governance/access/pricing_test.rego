# METADATA
# title: Price fairness tests
# description: >-
#   Pricing and coupon purposes may not use sensitive or willingness-to-pay data (A-03).
#   Helpers come from access_test.rego (same package).
package governance.access_test

import rego.v1

import data.governance.access

# A coupon purpose that (wrongly) lists consumption.level among its categories.
_coupon := {
	"purpose": {
		"name": "coupon_targeting",
		"pricing": true,
		"categories": ["identity.customer_id", "contact.phone", "consumption.level", "interest.shopping"],
	},
	"caller": {"purposes": ["coupon_targeting"]},
	"consent": {"scope": ["identity.customer_id", "contact.phone", "consumption.level", "interest.shopping"]},
}

_wtp := {"willingness_to_pay": ["consumption.level"]}

test_pricing_purpose_may_use_plain_tags if {
	decision := _decide(object.union(_coupon, {"tags": [_field("母婴", "interest.shopping", false)]})) with data.governance.pricing as _wtp
	decision.allow
}

test_pricing_purpose_may_not_use_willingness_to_pay_tag_even_when_listed if {
	patch := object.union(_coupon, {"tags": [_field("高消费", "consumption.level", false)]})
	_reasons(patch) == ["price_discrimination_risk:高消费"] with data.governance.pricing as _wtp
	_decide(object.union(patch, {"purpose": {"pricing": false}})).allow with data.governance.pricing as _wtp
}

test_pricing_purpose_may_not_use_sensitive_tag_even_when_permitted if {
	patch := object.union_n([_coupon, {
		"purpose": {"sensitive_categories": ["health.pregnancy"], "impact_assessment": "PIA-2026-001"},
		"consent": {"kind": "separate", "scope": ["identity.customer_id", "contact.phone", "health.pregnancy"]},
		"tags": [_pregnancy_tag],
	}])
	_decide(object.union(patch, {"purpose": {"pricing": false}})).allow
	_reasons(patch) == ["price_discrimination_risk:孕期"]
}

test_pricing_purpose_sensitive_tag_not_permitted_reports_both if {
	patch := object.union(_coupon, {"tags": [_pregnancy_tag]})
	_reasons(patch) == ["price_discrimination_risk:孕期", "sensitive_tag_not_permitted:孕期"]
}

test_pricing_purpose_may_not_use_tag_derived_from_willingness_to_pay if {
	tag := _derived("会员档位", "interest.shopping", "consumption.level", false)
	_reasons(object.union(_coupon, {"tags": [tag]})) == ["price_discrimination_risk:会员档位"] with data.governance.pricing as _wtp
}

test_pricing_named_field_denied_implicit_field_withheld if {
	level := _field("level", "consumption.level", false)
	named := object.union(_coupon, {"fields": [_field("mobile", "contact.phone", false), level]})
	_reasons(named) == ["price_discrimination_risk:level"] with data.governance.pricing as _wtp
	implicit := object.union(named, {"explicit_fields": false})
	decision := _decide(implicit) with data.governance.pricing as _wtp
	decision.allow
	decision.obligations.level == "withhold"
}

test_pricing_list_comes_from_bundle_data if {
	patch := object.union(_coupon, {"tags": [_field("价格敏感", "consumption.price_sensitivity", false)]})
	reasons := _reasons(object.union(patch, {"purpose": {"categories": ["consumption.price_sensitivity"]}}))
	"price_discrimination_risk:价格敏感" in reasons
}

test_absent_pricing_flag_counts_as_pricing if {
	patch := object.union(_coupon, {"tags": [_field("高消费", "consumption.level", false)]})
	inp := json.remove(object.union(_base, patch), ["purpose/pricing"])
	decision := access.decision with input as inp with data.governance.pricing as _wtp
	decision.reasons == ["price_discrimination_risk:高消费"]
}

test_missing_pricing_data_denies_every_pricing_use if {
	decision := _decide(object.union(_coupon, {"tags": [_field("母婴", "interest.shopping", false)]})) with data.governance.pricing as {}
	decision.reasons == [
		"policy_data_missing:pricing.willingness_to_pay",
		"price_discrimination_risk:customer_id",
		"price_discrimination_risk:mobile",
		"price_discrimination_risk:母婴",
	]
}

test_missing_pricing_data_does_not_touch_other_purposes if {
	_decide({}).allow with data.governance.pricing as {}
}
