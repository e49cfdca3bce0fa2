# METADATA
# title: Price fairness (大数据杀熟)
# description: >-
#   Part of governance.access (see access.rego). A pricing or coupon purpose may not
#   use sensitive fields or tags, nor those revealing willingness to pay, directly or
#   through what a tag is derived from (PIPL 24, A-03). This holds even when the
#   purpose lists the category: the catalog cannot opt out of it.
#   Input: purpose.pricing (missing counts as pricing).
#   Data: data.governance.pricing.willingness_to_pay, the categories that reveal it.
package governance.access

import rego.v1

_pricing if not input.purpose.pricing == false

default _wtp_categories := null

_wtp_categories := data.governance.pricing.willingness_to_pay

_wtp_known if is_array(_wtp_categories)

_reveals_willingness_to_pay(item) if {
	_wtp_known
	item.category in _wtp_categories
}

_reveals_willingness_to_pay(item) if {
	_wtp_known
	some source in _lineage(item)
	source.category in _wtp_categories
}

# The fields and tags a pricing purpose may not use.
_price_restricted contains item if {
	_pricing
	some item in _sensitive_items
}

_price_restricted contains item if {
	_pricing
	some item in _items
	_reveals_willingness_to_pay(item)
}

# Without the list nothing can be told apart: a pricing purpose may use nothing.
_price_restricted contains item if {
	_pricing
	not _wtp_known
	some item in _items
	is_object(item)
}

# METADATA
# title: Price discrimination risk
# description: >-
#   A pricing purpose uses a sensitive or willingness-to-pay tag, or names such a
#   field. Such an implicit field is withheld without a denial.
# custom:
#   code: price_discrimination_risk
_deny contains sprintf("price_discrimination_risk:%s", [item.name]) if {
	some item in _checked
	item in _price_restricted
}

# METADATA
# title: Policy data missing
# description: >-
#   A data document a rule needs is missing or malformed, so the rule denies
#   everything it governs.
# custom:
#   code: policy_data_missing
_deny contains "policy_data_missing:pricing.willingness_to_pay" if {
	_pricing
	not _wtp_known
}
