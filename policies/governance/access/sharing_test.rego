# METADATA
# title: Third-party sharing tests
# description: >-
#   Providing to a recipient needs a third-party purpose naming it, registration,
#   separate consent naming it and an impact assessment; abroad, also a transfer
#   mechanism (SC-02, SC-04, L-03). Helpers come from access_test.rego.
package governance.access_test

import rego.v1

import data.governance.access

_recipient(name, country, mechanism) := {"recipient": {
	"requested": true,
	"registered": true,
	"name": name,
	"country": country,
	"cross_border": country != "CN",
	"transfer_mechanism": mechanism,
}}

# Sharing with a domestic co-brand partner that every check lets through.
_sharing := object.union_n([
	{
		"purpose": {
			"name": "partner_sharing",
			"third_party": true,
			"recipients": ["cobrand-bank", "hq-analytics-sg"],
			"impact_assessment": "PIA-2026-004",
		},
		"caller": {"purposes": ["partner_sharing"]},
		"consent": {
			"kind": "separate",
			"scope": ["identity.customer_id", "contact.phone", "recipient:cobrand-bank", "recipient:hq-analytics-sg"],
		},
	},
	_recipient("cobrand-bank", "CN", null),
])

_abroad := _recipient("hq-analytics-sg", "SG", "standard_contract")

test_sharing_allowed_with_registered_recipient_and_its_consent if {
	_decide(_sharing).allow
	_decide(object.union(_sharing, _abroad)).allow
}

test_sharing_needs_a_recipient if {
	patch := object.union(_sharing, {"recipient": {"requested": false, "registered": false, "name": null}})
	_reasons(patch) == ["recipient_required"]
}

test_unregistered_recipient_denied if {
	patch := object.union(_sharing, {"recipient": {"registered": false, "name": null, "country": null}})
	_reasons(patch) == ["recipient_not_registered"]
}

test_recipient_the_purpose_does_not_name_denied if {
	patch := object.union(_sharing, _recipient("ads-platform-cn", "CN", null))
	_reasons(patch) == ["recipient_not_permitted:ads-platform-cn"]
}

test_recipient_on_a_purpose_that_does_not_share_denied if {
	_reasons(_recipient("cobrand-bank", "CN", null)) == ["recipient_not_permitted:cobrand-bank"]
}

test_consent_must_name_the_recipient if {
	patch := object.union(_sharing, {"consent": {"scope": ["identity.customer_id", "contact.phone", "recipient:hq-analytics-sg"]}})
	_reasons(patch) == ["recipient_consent_required:cobrand-bank"]
}

test_consent_naming_the_recipient_must_be_separate if {
	_reasons(object.union(_sharing, {"consent": {"kind": "general"}})) == ["recipient_consent_required:cobrand-bank"]
}

test_withdrawn_consent_no_longer_names_the_recipient if {
	patch := object.union(_sharing, {"consent": {"state": "withdrawn"}})
	_reasons(patch) == ["consent_withdrawn", "recipient_consent_required:cobrand-bank"]
}

test_sharing_needs_consent_whatever_the_legal_basis if {
	_reasons(object.union(_sharing, _contract)) == ["recipient_consent_required:cobrand-bank"]
}

test_sharing_needs_impact_assessment if {
	patch := object.union(_sharing, {"purpose": {"impact_assessment": null}})
	_reasons(patch) == ["impact_assessment_required:cobrand-bank"]
}

test_cross_border_needs_transfer_mechanism if {
	patch := object.union_n([_sharing, _abroad, {"recipient": {"transfer_mechanism": null}}])
	_reasons(patch) == ["transfer_mechanism_required:hq-analytics-sg"]
	_reasons(object.union(patch, {"recipient": {"transfer_mechanism": "verbal_promise"}})) == ["transfer_mechanism_required:hq-analytics-sg"]
}

test_each_recorded_transfer_mechanism_counts if {
	every mechanism in ["standard_contract", "certification", "security_assessment"] {
		_decide(object.union_n([_sharing, _abroad, {"recipient": {"transfer_mechanism": mechanism}}])).allow
	}
}

test_missing_transfer_mechanism_counts_as_none if {
	inp := json.remove(object.union_n([_base, _sharing, _abroad]), ["recipient/transfer_mechanism"])
	decision := access.decision with input as inp
	decision.reasons == ["transfer_mechanism_required:hq-analytics-sg"]
}

test_hong_kong_recipient_is_cross_border if {
	patch := object.union_n([_sharing, _recipient("hq-analytics-sg", "HK", null)])
	_reasons(patch) == ["transfer_mechanism_required:hq-analytics-sg"]
}

test_cross_border_flag_or_country_alone_makes_a_recipient_cross_border if {
	flagged := object.union(_sharing, {"recipient": {"cross_border": true}})
	_reasons(flagged) == ["transfer_mechanism_required:cobrand-bank"]
	unflagged := object.union(_sharing, {"recipient": {"country": "SG", "cross_border": false}})
	_reasons(unflagged) == ["transfer_mechanism_required:cobrand-bank"]
}

test_missing_country_counts_as_cross_border if {
	inp := json.remove(object.union(_base, _sharing), ["recipient/country"])
	decision := access.decision with input as inp
	decision.reasons == ["transfer_mechanism_required:cobrand-bank"]
}

test_absent_recipient_or_flags_fail_closed if {
	without_recipient := access.decision with input as json.remove(_base, ["recipient"])
	without_recipient.reasons == ["recipient_not_registered"]
	without_flag := access.decision with input as json.remove(_base, ["purpose/third_party"])
	without_flag.reasons == ["recipient_required"]
}
