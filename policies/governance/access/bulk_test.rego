# METADATA
# title: Bulk read tests
# description: >-
#   Reads above the dataset's bulk threshold need an approval reference (K-02).
#   Helpers come from access_test.rego (same package).
package governance.access_test

import rego.v1

import data.governance.access

_bulk(size, threshold, approved) := {"bulk": {"size": size, "threshold": threshold, "approved": approved}}

test_read_at_the_threshold_needs_no_approval if {
	_decide(_bulk(500, 500, false)).allow
}

test_read_above_the_threshold_needs_approval if {
	_reasons(_bulk(501, 500, false)) == ["approval_required"]
	_decide(_bulk(501, 500, true)).allow
}

test_no_threshold_needs_no_approval if {
	_decide(_bulk(1000, null, false)).allow
}

test_malformed_bulk_needs_approval if {
	_reasons(_bulk("501", 500, false)) == ["approval_required"]
	_reasons(_bulk(501, "500", false)) == ["approval_required"]
	_reasons(_bulk(501, 500, "yes")) == ["approval_required"]
	_decide(_bulk(501, "500", true)).allow
}

test_absent_bulk_needs_approval if {
	inp := json.remove(_base, ["bulk"])
	decision := access.decision with input as inp
	decision.reasons == ["approval_required"]
}
