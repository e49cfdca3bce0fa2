# METADATA
# title: Impact assessment for sensitive PI
# description: >-
#   Part of governance.access (see access.rego). Using sensitive personal information
#   (a sensitive field or tag, including one derived from sensitive inputs) needs a
#   personal information protection impact assessment (个人信息保护影响评估): the
#   purpose must name its id (PIPL 55-56, L-03, S-02). Applies whatever the legal basis.
#   Input: purpose.impact_assessment (a non-empty string, or null).
package governance.access

import rego.v1

_has_impact_assessment if {
	is_string(input.purpose.impact_assessment)
	input.purpose.impact_assessment != ""
}

# The sensitive items the purpose permits, under a purpose that names no assessment.
_lacking_impact_assessment := {item |
	not _has_impact_assessment
	some item in _permitted_sensitive_items
}

# METADATA
# title: Impact assessment required
# description: >-
#   A sensitive tag or explicitly requested sensitive field is permitted by the
#   purpose, but the purpose references no impact assessment. Such an implicit field
#   is withheld without a denial. Third-party sharing needs one too (sharing.rego).
# custom:
#   code: impact_assessment_required
_deny contains sprintf("impact_assessment_required:%s", [item.name]) if {
	some item in _checked
	item in _lacking_impact_assessment
}
