# METADATA
# title: Discriminatory tag tests (access)
# description: >-
#   A discriminatory tag that reached the catalog still cannot be used (S-03).
#   Registration itself is tested in governance/tags/tags_test.rego.
package governance.access_test

import rego.v1

test_discriminatory_tag_cannot_be_used if {
	patch := {
		"purpose": {"categories": ["identity.customer_id", "contact.phone", "interest.shopping"]},
		"consent": {"scope": ["identity.customer_id", "contact.phone", "interest.shopping"]},
		"tags": [_field("回族", "interest.shopping", false)],
	}
	_reasons(patch) == ["discriminatory_tag:回族"]
}

test_missing_tag_name_rules_deny_tag_use if {
	patch := {"purpose": {"categories": ["identity.customer_id", "contact.phone", "interest.shopping"]},
		"consent": {"scope": ["identity.customer_id", "contact.phone", "interest.shopping"]},
		"tags": [_field("母婴", "interest.shopping", false)]}
	_decide(patch).allow
	_reasons(patch) == ["policy_data_missing:tag_names"] with data.governance.tag_names as {}
	_decide({}).allow with data.governance.tag_names as {}
}
