# METADATA
# title: Tag registration
# description: >-
#   Which marketing tag names may be registered in the catalog. Profiles must not
#   characterise people by disease, ethnicity or religion, nor express discrimination
#   (GB/T 35273 7.4, AlgoRec 10; S-03). The catalog loader asks `registration` for
#   every tag of the catalog and refuses to start if any is rejected; the access
#   policy refuses such a tag too (access/tag_names.rego).
#   A name is rejected when it contains a listed term (case-insensitive) outside the
#   allowed phrases, which keep ordinary words such as 民族风 (a clothing style) or
#   水族箱 (an aquarium) apart from the terms they contain.
#   Data: data.governance.tag_names {"denied": {group: [term]}, "allowed": [phrase]}.
package governance.tags

import rego.v1

_names := data.governance.tag_names

# METADATA
# title: Rules valid
# description: >-
#   The term lists are present and well formed: each group a non-empty list of
#   literal terms in lower case (letters a-z, digits, Chinese characters), so that
#   they can be matched as one regular expression per group.
rules_valid if {
	is_object(_names.denied)
	every terms in _names.denied {
		is_array(terms)
		count(terms) > 0
		every term in terms {
			is_string(term)
			term != ""
		}
		not regex.match(`[^a-z0-9\p{Han}|]`, concat("|", terms))
	}
	is_array(_names.allowed)
	every phrase in _names.allowed {
		is_string(phrase)
	}
}

# Allowed phrases, lower-cased, each to be blanked out of a name; empty unless the
# rules are valid (regorus raises, where OPA is undefined, on a builtin given the
# wrong type).
_allowed := {lower(phrase): "|" |
	rules_valid
	some phrase in _names.allowed
}

# The name, lower-cased, with every allowed phrase blanked out.
_scrubbed(tag) := strings.replace_n(_allowed, lower(tag))

# METADATA
# title: Findings
# description: The "group:term" entries a tag name matches, sorted; empty if none.
findings(tag) := sort([sprintf("%s:%s", [group, term]) |
	rules_valid
	is_string(tag)
	scrubbed := _scrubbed(tag)
	some group, terms in _names.denied
	some term in terms
	contains(scrubbed, term)
])

# METADATA
# title: Discriminatory
# description: >-
#   Whether a tag name matches a listed term: the same test as findings, one
#   regular expression per group, cheap enough for every access decision.
discriminatory(tag) if {
	rules_valid
	is_string(tag)
	scrubbed := _scrubbed(tag)
	some terms in _names.denied
	regex.match(concat("|", terms), scrubbed)
}

# METADATA
# title: Registration decision
# description: >-
#   Input {"tags": [name]}. Result {"valid", "rejected": {name: [finding]}, "error"}:
#   valid is true iff nothing is rejected; a malformed input or term list yields
#   the default, which rejects the whole registration with an error.
# entrypoint: true
default registration := {"valid": false, "rejected": {}, "error": "malformed input or tag name rules"}

registration := {"valid": count(_rejected) == 0, "rejected": _rejected, "error": null} if {
	rules_valid
	is_array(input.tags)
	every name in input.tags {
		is_string(name)
	}
}

# regorus errors (OPA is undefined) on `some .. in` over a non-collection: guard it.
_input_tags := [name | some name in input.tags; is_string(name)] if is_array(input.tags)

_rejected := {name: found |
	some name in _input_tags
	found := findings(name)
	count(found) > 0
}
