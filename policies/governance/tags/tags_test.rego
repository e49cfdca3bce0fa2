# METADATA
# title: Tag registration tests
# description: Which tag names data.governance.tags.registration accepts and rejects (S-03).
package governance.tags_test

import rego.v1

import data.governance.tags

_register(names) := result if {
	result := tags.registration with input as {"tags": names}
}

test_legitimate_tags_are_accepted if {
	# Sensitive (孕期, 糖尿病, 清真) is not discriminatory; 族 alone is no ethnicity.
	names := [
		"孕期", "糖尿病", "控糖", "负债", "清真", "母婴", "高消费", "价格敏感", "上班族",
		"月光族", "追星族", "民族风", "民族乐器", "水族箱", "美白族", "收藏族", "宠物",
	]
	_register(names) == {"valid": true, "rejected": {}, "error": null}
}

test_discrimination_by_disease_is_rejected if {
	_register(["乙肝歧视"]).rejected == {"乙肝歧视": ["discrimination:歧视"]}
	_register(["乙肝携带者", "HIV阳性"]).rejected == {
		"乙肝携带者": ["disease:乙肝携带"],
		"HIV阳性": ["disease:hiv"],
	}
}

test_ethnicity_is_rejected if {
	result := _register(["回族", "少数民族", "维吾尔族客户", "水族"])
	not result.valid
	result.rejected == {
		"回族": ["ethnicity:回族"],
		"少数民族": ["ethnicity:民族"],
		"维吾尔族客户": ["ethnicity:维吾尔族"],
		"水族": ["ethnicity:水族"],
	}
}

test_religion_is_rejected if {
	_register(["信教", "基督徒", "穆斯林用户", "佛教徒"]).rejected == {
		"信教": ["religion:信教"],
		"基督徒": ["religion:基督徒"],
		"穆斯林用户": ["religion:穆斯林"],
		"佛教徒": ["religion:教徒"],
	}
}

test_allowed_phrase_does_not_hide_another_term if {
	_register(["民族风回族服饰"]).rejected == {"民族风回族服饰": ["ethnicity:回族"]}
}

test_accepted_and_rejected_are_reported_together if {
	result := _register(["母婴", "信教"])
	result == {"valid": false, "rejected": {"信教": ["religion:信教"]}, "error": null}
}

test_discriminatory_agrees_with_findings if {
	names := ["回族", "孕期", "乙肝歧视", "hiv阳性", "HIV阳性", "民族风", "民族风回族服饰", "水族箱", "水族", "上班族", "基督徒", ""]
	every name in names {
		_agree(name)
	}
	tags.discriminatory("回族")
	not tags.discriminatory("孕期")
}

_agree(name) if {
	tags.discriminatory(name)
	count(tags.findings(name)) > 0
}

_agree(name) if {
	not tags.discriminatory(name)
	count(tags.findings(name)) == 0
}

test_terms_must_be_lower_case_literals if {
	not tags.rules_valid with data.governance.tag_names as {"denied": {"disease": ["HIV"]}, "allowed": []}
	not tags.rules_valid with data.governance.tag_names as {"denied": {"x": ["a.*"]}, "allowed": []}
	not tags.rules_valid with data.governance.tag_names as {"denied": {"x": []}, "allowed": []}
	tags.rules_valid with data.governance.tag_names as {"denied": {"x": ["hiv", "回族"]}, "allowed": []}
}

test_malformed_input_is_an_error if {
	_register("回族").error != null
	_register([1]).error != null
	result := tags.registration with input as {}
	not result.valid
}

test_missing_or_malformed_rules_are_an_error if {
	result := _register(["母婴"]) with data.governance.tag_names as {}
	not result.valid
	result.error != null
	bad := {"denied": {"ethnicity": "回族"}, "allowed": []}
	malformed := _register(["母婴"]) with data.governance.tag_names as bad
	malformed.error != null
	not tags.rules_valid with data.governance.tag_names as {"denied": {"x": [""]}, "allowed": []}
}
