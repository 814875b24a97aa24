# METADATA
# title: Tests for citygate.request
# description: |
#   docs/policy.md §3 and §4 `reasons`: dataset openness for every tier × open class × mode, effect
#   fit for every mode × effect, and whole-request allow. Tier and field decisions are mocked.
package citygate.request_test

import data.citygate.request

_tiers := {"auditor", "owner", "granted", "department", "public"}

_modes := {"raw", "aggregate", "sandbox", "encrypted"}

_opens := {"unconditional", "conditional", "closed"}

_effects := {"allow", "mask", "generalise", "aggregate-only", "deny"}

# [tier, open class, mode] for which the dataset is open; every other combination is not.
_open_combinations := {
	["owner", "unconditional", "raw"],
	["owner", "unconditional", "aggregate"],
	["owner", "unconditional", "sandbox"],
	["owner", "unconditional", "encrypted"],
	["owner", "conditional", "raw"],
	["owner", "conditional", "aggregate"],
	["owner", "conditional", "sandbox"],
	["owner", "conditional", "encrypted"],
	["owner", "closed", "raw"],
	["owner", "closed", "aggregate"],
	["owner", "closed", "sandbox"],
	["owner", "closed", "encrypted"],
	["granted", "closed", "sandbox"],
	["granted", "closed", "encrypted"],
	["granted", "conditional", "raw"],
	["granted", "conditional", "aggregate"],
	["granted", "conditional", "sandbox"],
	["granted", "conditional", "encrypted"],
	["public", "conditional", "aggregate"],
	["granted", "unconditional", "raw"],
	["granted", "unconditional", "aggregate"],
	["granted", "unconditional", "sandbox"],
	["granted", "unconditional", "encrypted"],
	["department", "unconditional", "raw"],
	["department", "unconditional", "aggregate"],
	["department", "unconditional", "sandbox"],
	["department", "unconditional", "encrypted"],
	["public", "unconditional", "raw"],
	["public", "unconditional", "aggregate"],
}

# [tier, open class, mode] -> why the dataset is not open.
_expected_refusal(["auditor", _, _]) := "auditor-metadata-only"

_expected_refusal(["granted", "closed", _]) := "closed-sandbox-or-encrypted-only"

_expected_refusal([tier, "closed", _]) := "closed" if tier in {"public", "department"}

_expected_refusal(["department", "conditional", _]) := "needs-grant"

_expected_refusal(["public", "conditional", _]) := "conditional-public-aggregates"

_expected_refusal(["public", "unconditional", _]) := "mode-not-for-public"

_combinations contains [tier, open, mode] if {
	some tier in _tiers
	some open in _opens
	some mode in _modes
}

_is_open([tier, open, mode]) if {
	request.dataset_open with data.citygate.tiers.tier as tier
		with input as {"mode": mode, "dataset": {"openClass": open}}
} else := false

test_dataset_open_table if {
	count(_combinations) == 60
	failures := {[c, want] |
		some c in _combinations
		want := c in _open_combinations
		want != _is_open(c)
	}
	print("failures [combination, want]:", failures)
	failures == set()
}

test_dataset_refusal_reason_table if {
	failures := {[c, got] |
		some c in _combinations
		not c in _open_combinations
		[tier, open, mode] := c
		got := _refusals_for(tier, {"mode": mode, "dataset": {"openClass": open}, "fields": []}, {})
		got != [concat(":", ["dataset", _expected_refusal(c)])]
	}
	print("failures [combination, got]:", failures)
	failures == set()
}

test_no_dataset_refusal_when_open if {
	every c in _open_combinations {
		_refusals_for(c[0], {"mode": c[2], "dataset": {"openClass": c[1]}, "fields": []}, {}) == []
	}
}

test_dataset_refusal_for_unknown_open_class if {
	_refusals_for("department", {"mode": "raw", "dataset": {"openClass": "secret"}, "fields": []}, {}) == ["dataset:not-open"]
}

# [mode, effect] that fit; every other combination does not.
_fitting := {
	["raw", "allow"],
	["raw", "mask"],
	["raw", "generalise"],
	["aggregate", "allow"],
	["aggregate", "mask"],
	["aggregate", "generalise"],
	["aggregate", "aggregate-only"],
	["sandbox", "allow"],
	["encrypted", "allow"],
}

_fits(mode, effect) if {
	request.fits_mode(effect) with input as {"mode": mode}
} else := false

test_effect_fits_mode_table if {
	failures := {[mode, effect] |
		some mode in _modes
		some effect in _effects
		want := [mode, effect] in _fitting
		want != _fits(mode, effect)
	}
	print("failures [mode, effect]:", failures)
	failures == set()
}

# allow with the tier and the field decisions mocked; open = department on an unconditional dataset.
_allow(tier, mode, open, decisions) := a if {
	a := request.allow with data.citygate.tiers.tier as tier
		with data.citygate.effects.decisions as decisions
		with input as {
			"mode": mode,
			"dataset": {"openClass": open},
			"fields": [{"name": name} | some name, _ in decisions],
		}
}

_refusals_for(tier, given, decisions) := [r |
	some r in request.reasons with data.citygate.tiers.tier as tier
		with data.citygate.effects.decisions as decisions
		with input as given
	not startswith(r, "tier:")
]

_d(effect) := {"effect": effect, "reason": "r"}

_allow_cases := [
	{"name": "no fields, open", "tier": "department", "mode": "raw", "open": "unconditional", "fields": {}, "want": true},
	{"name": "no fields, not open", "tier": "department", "mode": "raw", "open": "conditional", "fields": {}, "want": false},
	{"name": "raw, allow and mask", "tier": "department", "mode": "raw", "open": "unconditional", "fields": {"a": _d("allow"), "b": _d("mask")}, "want": true},
	{"name": "raw, generalise", "tier": "public", "mode": "raw", "open": "unconditional", "fields": {"a": _d("generalise")}, "want": true},
	{"name": "raw, one aggregate-only", "tier": "department", "mode": "raw", "open": "unconditional", "fields": {"a": _d("allow"), "b": _d("aggregate-only")}, "want": false},
	{"name": "raw, one deny", "tier": "department", "mode": "raw", "open": "unconditional", "fields": {"a": _d("allow"), "b": _d("deny")}, "want": false},
	{"name": "aggregate, aggregate-only and mask", "tier": "public", "mode": "aggregate", "open": "conditional", "fields": {"a": _d("aggregate-only"), "b": _d("mask")}, "want": true},
	{"name": "aggregate, one deny", "tier": "public", "mode": "aggregate", "open": "conditional", "fields": {"a": _d("aggregate-only"), "b": _d("deny")}, "want": false},
	{"name": "sandbox, all allow", "tier": "granted", "mode": "sandbox", "open": "closed", "fields": {"a": _d("allow"), "b": _d("allow")}, "want": true},
	{"name": "sandbox, one mask", "tier": "granted", "mode": "sandbox", "open": "closed", "fields": {"a": _d("allow"), "b": _d("mask")}, "want": false},
	{"name": "encrypted, one aggregate-only", "tier": "granted", "mode": "encrypted", "open": "conditional", "fields": {"a": _d("aggregate-only")}, "want": false},
	{"name": "fields fit but dataset not open", "tier": "public", "mode": "raw", "open": "conditional", "fields": {"a": _d("allow")}, "want": false},
	{"name": "owner, anything open", "tier": "owner", "mode": "raw", "open": "closed", "fields": {"a": _d("allow")}, "want": true},
	{"name": "auditor, never", "tier": "auditor", "mode": "raw", "open": "unconditional", "fields": {}, "want": false},
	{"name": "unknown mode", "tier": "owner", "mode": "stream", "open": "unconditional", "fields": {}, "want": false},
]

test_allow_table if {
	failures := {c.name | some c in _allow_cases; _allow(c.tier, c.mode, c.open, c.fields) != c.want}
	print("failing cases:", failures)
	failures == set()
}

test_allow_false_when_a_field_has_no_decision if {
	not request.allow with data.citygate.tiers.tier as "owner"
		with data.citygate.effects.decisions as {"a": _d("allow")}
		with input as {"mode": "raw", "dataset": {"openClass": "unconditional"}, "fields": [{"name": "a"}, {"name": "b"}]}
}

test_reasons_tier_then_sorted_refusals if {
	got := request.reasons with data.citygate.tiers.tier as "department"
		with data.citygate.effects.decisions as {
			"zone": {"effect": "deny", "reason": "needs-grant"},
			"age": {"effect": "aggregate-only", "reason": "sensitive-personal"},
			"name": {"effect": "mask", "mask": "hash", "reason": "personal-masked"},
			"count": {"effect": "allow", "reason": "unconditional"},
		}
		with input as {
			"mode": "raw",
			"dataset": {"openClass": "conditional"},
			"fields": [{"name": "zone"}, {"name": "age"}, {"name": "name"}, {"name": "count"}, {"name": "ghost"}],
		}
	got == [
		"tier:department",
		"dataset:needs-grant",
		"field:age:aggregate-only-not-for-raw",
		"field:ghost:undefined",
		"field:zone:needs-grant",
	]
}

test_reasons_only_tier_when_allowed if {
	got := request.reasons with data.citygate.tiers.tier as "granted"
		with data.citygate.effects.decisions as {"a": _d("allow")}
		with input as {"mode": "sandbox", "dataset": {"openClass": "closed"}, "fields": [{"name": "a"}]}
	got == ["tier:granted"]
}
