# METADATA
# title: Tests for citygate.effects
# description: |
#   docs/policy.md §2 as a decision table. Every combination of tier × mode × grade × open class ×
#   personal level × (field in g*.fields) is covered by exactly one row, and the policy must give that
#   row's decision. The tier and g* are mocked, so these tests do not depend on citygate.tiers.
package citygate.effects_test

import data.citygate.effects

_tiers := {"auditor", "owner", "granted", "department", "public"}

_modes := {"raw", "aggregate", "sandbox", "encrypted"}

_plain := {"raw", "aggregate"}

_shielded := {"sandbox", "encrypted"}

_grades := {"general", "important", "core"}

_not_core := {"general", "important"}

_opens := {"unconditional", "conditional", "closed"}

_personals := {"none", "personal", "sensitive"}

_either := {false, true}

_allow(reason) := {"effect": "allow", "reason": reason}

_aggregate_only(reason) := {"effect": "aggregate-only", "reason": reason}

_deny(reason) := {"effect": "deny", "reason": reason}

_masked := {"effect": "mask", "mask": "hash", "reason": "personal-masked"}

# Each row: tiers, modes, grades, open classes, personal levels, in g*.fields -> want.
_rows := [
	# 1. auditor
	_row({"auditor"}, _modes, _grades, _opens, _personals, _either, _deny("auditor-metadata-only")),
	# 2. owner: every field of its own datasets, in every mode
	_row({"owner"}, _modes, _grades, _opens, _personals, _either, _allow("owner")),
	# 3. core
	_row({"granted", "department", "public"}, _plain, {"core"}, _opens, _personals, _either, _deny("core-never-leaves-raw")),
	_row({"granted"}, _shielded, {"core"}, _opens, _personals, {true}, _allow("granted")),
	_row({"granted"}, _shielded, {"core"}, _opens, _personals, {false}, _deny("core-needs-grant")),
	_row({"department", "public"}, _shielded, {"core"}, _opens, _personals, _either, _deny("core-needs-grant")),
	# 4. sandbox / encrypted
	_row({"public"}, _shielded, _not_core, _opens, _personals, _either, _deny("mode-not-for-public")),
	_row({"granted", "department"}, _shielded, _not_core, {"unconditional"}, _personals, _either, _allow("unconditional")),
	_row({"granted"}, _shielded, _not_core, {"conditional", "closed"}, _personals, {true}, _allow("granted")),
	_row({"granted"}, _shielded, _not_core, {"conditional", "closed"}, _personals, {false}, _deny("needs-grant")),
	_row({"department"}, _shielded, _not_core, {"conditional", "closed"}, _personals, _either, _deny("needs-grant")),
	# 5. raw / aggregate: closed
	_row({"granted"}, _plain, _not_core, {"closed"}, _personals, _either, _deny("closed-sandbox-or-encrypted-only")),
	_row({"public", "department"}, _plain, _not_core, {"closed"}, _personals, _either, _deny("closed")),
	# 5. raw / aggregate: conditional
	_row({"public"}, _plain, _not_core, {"conditional"}, _personals, _either, _aggregate_only("conditional-public-aggregates")),
	_row({"department"}, _plain, _not_core, {"conditional"}, _personals, _either, _deny("needs-grant")),
	_row({"granted"}, _plain, _not_core, {"conditional"}, {"none"}, {true}, _allow("granted")),
	_row({"granted"}, _plain, _not_core, {"conditional"}, {"sensitive"}, {true}, _aggregate_only("sensitive-personal")),
	_row({"granted"}, _plain, _not_core, {"conditional"}, {"personal"}, {true}, _masked),
	_row({"granted"}, _plain, _not_core, {"conditional"}, _personals, {false}, _deny("not-in-grant")),
	# 5. raw / aggregate: unconditional, then 6. the personal rule
	_row({"public", "department", "granted"}, _plain, _not_core, {"unconditional"}, {"none"}, _either, _allow("unconditional")),
	_row({"public", "department", "granted"}, _plain, _not_core, {"unconditional"}, {"sensitive"}, _either, _aggregate_only("sensitive-personal")),
	_row({"public"}, _plain, _not_core, {"unconditional"}, {"personal"}, _either, _aggregate_only("personal-public")),
	_row({"department", "granted"}, _plain, _not_core, {"unconditional"}, {"personal"}, _either, _masked),
]

_row(tiers, modes, grades, opens, personals, in_grant, want) := {
	"tiers": tiers,
	"modes": modes,
	"grades": grades,
	"opens": opens,
	"personals": personals,
	"in_grant": in_grant,
	"want": want,
}

# Every combination, once.
_cases contains {
	"tier": tier,
	"mode": mode,
	"grade": grade,
	"open": open,
	"personal": personal,
	"in_grant": in_grant,
} if {
	some tier in _tiers
	some mode in _modes
	some grade in _grades
	some open in _opens
	some personal in _personals
	some in_grant in _either
}

# [combination, row index] for every combination each row covers (an array: duplicates are kept).
_expanded := [[c, i] |
	some i, row in _rows
	some tier in row.tiers
	some mode in row.modes
	some grade in row.grades
	some open in row.opens
	some personal in row.personals
	some in_grant in row.in_grant
	c := {"tier": tier, "mode": mode, "grade": grade, "open": open, "personal": personal, "in_grant": in_grant}
]

test_rows_cover_every_combination_exactly_once if {
	count(_cases) == 1080

	# as many (combination, row) pairs as combinations, and every combination among them
	count(_expanded) == count(_cases)
	missing := _cases - {c | some [c, _] in _expanded}
	print("combinations no row covers:", missing)
	missing == set()
}

# [tier, mode, grade, open class, personal, in g*.fields] -> the decision the table wants.
_want := {[c.tier, c.mode, c.grade, c.open, c.personal, c.in_grant]: _rows[i].want | some [c, i] in _expanded}

# One field per grade × open class × personal level, named after its classification.
_fields := [f |
	some grade in _grades
	some open in _opens
	some personal in _personals
	f := {
		"name": concat("/", [grade, open, personal]),
		"grade": grade,
		"personal": personal,
		"openClass": open,
		"maskKind": "hash",
	}
]

_grant_fields(true) := [f.name | some f in _fields]

_grant_fields(false) := ["other"]

# [combination, got, want] for every mismatch among one tier's combinations. The tier and g* are
# mocked; each (mode, in g*) pair is one evaluation of all 27 fields through effects.decisions.
_mismatches(tier) := {[[tier, mode, f.grade, f.openClass, f.personal, in_grant], got, want] |
	some mode in _modes
	some in_grant in _either
	decisions := effects.decisions with data.citygate.tiers.tier as tier
		with data.citygate.tiers.grant as {"id": "g1", "purpose": "research", "fields": _grant_fields(in_grant), "extent": []}
		with input as {"mode": mode, "fields": _fields}
	some f in _fields
	got := object.get(decisions, f.name, "undefined")
	want := _want[[tier, mode, f.grade, f.openClass, f.personal, in_grant]]
	got != want
}

test_effect_table_auditor if {
	failures := _mismatches("auditor")
	print("failures [combination, got, want]:", failures)
	failures == set()
}

test_effect_table_owner if {
	failures := _mismatches("owner")
	print("failures [combination, got, want]:", failures)
	failures == set()
}

test_effect_table_granted if {
	failures := _mismatches("granted")
	print("failures [combination, got, want]:", failures)
	failures == set()
}

test_effect_table_department if {
	failures := _mismatches("department")
	print("failures [combination, got, want]:", failures)
	failures == set()
}

test_effect_table_public if {
	failures := _mismatches("public")
	print("failures [combination, got, want]:", failures)
	failures == set()
}

test_mask_kind_is_the_fields if {
	every kind in {"redact", "hash", "truncate"} {
		d := effects.effect({"name": "f", "grade": "general", "personal": "personal", "openClass": "unconditional", "maskKind": kind}) with data.citygate.tiers.tier as "department"
			with input as {"mode": "raw"}
		d == {"effect": "mask", "mask": kind, "reason": "personal-masked"}
	}
}

_valid := {"name": "f", "grade": "general", "personal": "none", "openClass": "unconditional", "maskKind": "redact"}

test_unknown_classification_has_no_decision if {
	every bad in [
		object.union(_valid, {"grade": "secret"}),
		object.union(_valid, {"personal": "maybe"}),
		object.union(_valid, {"openClass": "open"}),
		object.union(_valid, {"maskKind": "blur"}),
		object.union(_valid, {"name": 7}),
		object.remove(_valid, ["openClass"]),
	] {
		not _has_effect(bad, "raw")
	}
}

test_unknown_mode_has_no_decision if {
	_has_effect(_valid, "raw")
	not _has_effect(_valid, "stream")
	not _has_effect(_valid, null)
}

_has_effect(f, mode) if {
	effects.effect(f) with data.citygate.tiers.tier as "owner"
		with input as {"mode": mode}
}

test_decisions_are_keyed_by_field_name if {
	ds := effects.decisions with data.citygate.tiers.tier as "department"
		with input as {
			"mode": "raw",
			"fields": [
				object.union(_valid, {"name": "a"}),
				object.union(_valid, {"name": "b", "personal": "sensitive"}),
				object.union(_valid, {"name": "c", "grade": "secret"}),
			],
		}
	ds == {"a": {"effect": "allow", "reason": "unconditional"}, "b": {"effect": "aggregate-only", "reason": "sensitive-personal"}}
}
