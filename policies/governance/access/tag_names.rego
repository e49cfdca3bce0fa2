# METADATA
# title: Discriminatory tag names
# description: >-
#   Part of governance.access (see access.rego). A tag whose name characterises people
#   by disease, ethnicity or religion is refused at registration (data.governance.tags);
#   should a catalog hold one anyway, it cannot be used either (S-03).
package governance.access

import rego.v1

# data.governance.tags is named by its full path, not imported: with an import,
# regorus mis-binds the argument of tags.discriminatory once tags.rules_valid is
# negated in the same package (the call receives the whole item).

# METADATA
# title: Discriminatory tag
# description: The tag's name matches the bundle's list of discriminatory terms.
# custom:
#   code: discriminatory_tag
_deny contains sprintf("discriminatory_tag:%s", [item.name]) if {
	some item in _tags
	data.governance.tags.discriminatory(item.name)
}

# METADATA
# title: Policy data missing
# description: The list of discriminatory terms is missing or malformed.
# custom:
#   code: policy_data_missing
_deny contains "policy_data_missing:tag_names" if {
	count(_tags) > 0
	not data.governance.tags.rules_valid
}
