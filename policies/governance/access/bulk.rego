# METADATA
# title: Bulk reads
# description: >-
#   Part of governance.access (see access.rego). A read of more records at once than
#   the dataset's bulk threshold needs an approval reference (K-02). A threshold of
#   null means the dataset has none; anything malformed needs approval.
#   Input: bulk {size, threshold, approved}.
package governance.access

import rego.v1

_bulk_within if {
	is_number(input.bulk.size)
	input.bulk.threshold == null
}

_bulk_within if {
	is_number(input.bulk.size)
	is_number(input.bulk.threshold)
	input.bulk.size <= input.bulk.threshold
}

# METADATA
# title: Approval required
# description: The read exceeds the bulk threshold and carries no approval reference.
# custom:
#   code: approval_required
_deny contains "approval_required" if {
	not _bulk_within
	not input.bulk.approved == true
}
