# METADATA
# title: Providing to third parties and abroad
# description: >-
#   Part of governance.access (see access.rego). Data may be provided to an
#   independent recipient (PIPL 23) only for a third-party purpose that names it, to
#   a recipient registered in the catalog, with the subject's separate consent naming
#   that recipient (scope entry "recipient:<name>"; SC-02), and under an impact
#   assessment (L-03). A recipient outside mainland China (cross-border, SC-04; Hong
#   Kong, Macao and Taiwan included) also needs a recorded transfer mechanism.
#   Input: purpose.third_party, purpose.recipients and recipient {requested,
#   registered, name, country, cross_border, transfer_mechanism}. A missing flag
#   counts as sharing, a missing country or cross_border flag as cross-border.
package governance.access

import rego.v1

_third_party if not input.purpose.third_party == false

_recipient_requested if not input.recipient.requested == false

_recipient_registered if {
	_recipient_requested
	input.recipient.registered == true
	is_string(input.recipient.name)
}

_recipient := input.recipient.name if _recipient_registered

_recipient_permitted if {
	_recipient_registered
	_recipient in input.purpose.recipients
}

_cross_border if {
	_recipient_registered
	not input.recipient.country == "CN"
}

_cross_border if {
	_recipient_registered
	not input.recipient.cross_border == false
}

_transfer_mechanisms := {"standard_contract", "certification", "security_assessment"}

# A helper rule, so that `not` sees a missing mechanism (see access.rego, Portability).
_transfer_mechanism_recorded if input.recipient.transfer_mechanism in _transfer_mechanisms

# Separate (or a guardian's) consent whose scope names the recipient.
_recipient_consent if {
	_consent_granted
	input.consent.kind in _separate_kinds
	is_array(input.consent.scope)
	concat(":", ["recipient", _recipient]) in input.consent.scope
}

# METADATA
# title: Recipient required
# description: A third-party purpose is used without naming the recipient.
# custom:
#   code: recipient_required
_deny contains "recipient_required" if {
	_third_party
	not _recipient_requested
}

# METADATA
# title: Recipient not registered
# description: The named recipient is not registered in the catalog (SC-02).
# custom:
#   code: recipient_not_registered
_deny contains "recipient_not_registered" if {
	_recipient_requested
	not _recipient_registered
}

# METADATA
# title: Recipient not permitted
# description: The recipient is registered but the purpose does not provide data to it.
# custom:
#   code: recipient_not_permitted
_deny contains sprintf("recipient_not_permitted:%s", [_recipient]) if {
	_recipient_registered
	not _recipient_permitted
}

# METADATA
# title: Recipient consent required
# description: >-
#   The subject has no granted separate consent naming the recipient (PIPL 23, SC-02).
#   Consent is needed whatever the purpose's legal basis says.
# custom:
#   code: recipient_consent_required
_deny contains sprintf("recipient_consent_required:%s", [_recipient]) if {
	_recipient_permitted
	not _recipient_consent
}

# METADATA
# title: Transfer mechanism required
# description: >-
#   The recipient is outside mainland China and no standard contract, certification
#   or security assessment is recorded for it (PIPL 38, SC-04).
# custom:
#   code: transfer_mechanism_required
_deny contains sprintf("transfer_mechanism_required:%s", [_recipient]) if {
	_cross_border
	not _transfer_mechanism_recorded
}

# METADATA
# title: Impact assessment required for sharing
# description: Providing to a recipient needs an impact assessment (PIPL 55(3), L-03).
# custom:
#   code: impact_assessment_required
_deny contains sprintf("impact_assessment_required:%s", [_recipient]) if {
	_recipient_permitted
	not _has_impact_assessment
}
