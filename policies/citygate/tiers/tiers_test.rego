# METADATA
# title: Tests for citygate.tiers
# description: Table-driven tests of the tier (first match wins) and of the choice of g*.
package citygate.tiers_test

import data.citygate.tiers

_dataset := {"id": "d1", "ownerOrg": "health", "grade": "general", "personal": "none", "openClass": "conditional"}

_field(name, open_class) := {
	"name": name,
	"grade": "general",
	"personal": "none",
	"openClass": open_class,
	"maskKind": "redact",
}

_grant(id, purpose, fields) := {"id": id, "purpose": purpose, "fields": fields, "extent": []}

_research := _grant("g1", "research", ["a"])

# authenticated, org, roles, purpose, grants -> input
_input(authenticated, org, roles, purpose, grants) := {
	"requester": {"authenticated": authenticated, "org": org, "roles": roles},
	"purpose": purpose,
	"mode": "raw",
	"dataset": _dataset,
	"fields": [_field("a", "conditional")],
	"grants": grants,
}

_tier_cases := [
	# auditor first, whatever else the requester holds
	{"name": "auditor alone", "input": _input(true, "audit", ["auditor"], null, []), "want": "auditor"},
	{"name": "auditor who is also owner", "input": _input(true, "health", ["owner", "auditor"], null, []), "want": "auditor"},
	{"name": "auditor with a grant", "input": _input(true, "planning", ["analyst", "auditor"], "research", [_research]), "want": "auditor"},
	{"name": "auditor via api key", "input": _input(false, null, ["auditor"], null, []), "want": "auditor"},
	# owner
	{"name": "owner role of owner org", "input": _input(true, "health", ["owner"], null, []), "want": "owner"},
	{"name": "analyst of owner org", "input": _input(true, "health", ["analyst"], null, []), "want": "owner"},
	{"name": "owner org ignores grants", "input": _input(true, "health", ["analyst"], "research", [_research]), "want": "owner"},
	{"name": "admin of owner org is not owner", "input": _input(true, "health", ["admin"], null, []), "want": "department"},
	{"name": "admin of owner org with grant", "input": _input(true, "health", ["admin"], "research", [_research]), "want": "granted"},
	{"name": "owner org, public role only", "input": _input(true, "health", ["public"], null, []), "want": "public"},
	{"name": "owner org, not authenticated", "input": _input(false, "health", ["owner"], null, []), "want": "public"},
	{"name": "owner role of another org", "input": _input(true, "planning", ["owner"], null, []), "want": "department"},
	# granted
	{"name": "analyst with grant for purpose", "input": _input(true, "planning", ["analyst"], "research", [_research]), "want": "granted"},
	{"name": "admin with grant for purpose", "input": _input(true, "planning", ["admin"], "research", [_research]), "want": "granted"},
	{"name": "owner role elsewhere with grant", "input": _input(true, "planning", ["owner"], "research", [_research]), "want": "granted"},
	{
		"name": "one of several grants matches",
		"input": _input(true, "planning", ["analyst"], "research", [_grant("g0", "statistics", ["a"]), _research]),
		"want": "granted",
	},
	# department
	{"name": "grant for another purpose", "input": _input(true, "planning", ["analyst"], "statistics", [_research]), "want": "department"},
	{"name": "no purpose given", "input": _input(true, "planning", ["analyst"], null, [_research]), "want": "department"},
	{"name": "no grants", "input": _input(true, "planning", ["analyst"], "research", []), "want": "department"},
	{"name": "admin without grant", "input": _input(true, "planning", ["admin"], null, []), "want": "department"},
	# public
	{"name": "anonymous", "input": _input(false, null, [], null, []), "want": "public"},
	{"name": "api key with roles and a grant", "input": _input(false, "planning", ["analyst"], "research", [_research]), "want": "public"},
	{"name": "authenticated without org", "input": _input(true, null, ["analyst"], "research", [_research]), "want": "public"},
	{"name": "authenticated with empty org", "input": _input(true, "", ["analyst"], "research", [_research]), "want": "public"},
	{"name": "authenticated with no roles", "input": _input(true, "planning", [], "research", [_research]), "want": "public"},
	{"name": "public role only", "input": _input(true, "planning", ["public"], "research", [_research]), "want": "public"},
	{"name": "authenticated not strictly true", "input": _input("true", "planning", ["analyst"], null, []), "want": "public"},
	{"name": "empty input", "input": {}, "want": "public"},
]

test_tier_table if {
	failures := {c.name | some c in _tier_cases; not _tier_is(c.input, c.want)}
	print("failing cases:", failures)
	failures == set()
}

_tier_is(given, want) if {
	tiers.tier == want with input as given
}

# requested fields: a, b conditional; c closed; u unconditional
_grant_fields := [_field("a", "conditional"), _field("b", "conditional"), _field("c", "closed"), _field("u", "unconditional")]

_grant_input(grants) := object.union(
	_input(true, "planning", ["analyst"], "research", grants),
	{"fields": _grant_fields},
)

_grant_cases := [
	{"name": "single grant", "grants": [_grant("g1", "research", [])], "want": "g1"},
	{
		"name": "most covered restricted fields wins",
		"grants": [_grant("g1", "research", ["a"]), _grant("g2", "research", ["a", "c"])],
		"want": "g2",
	},
	{
		"name": "unconditional fields do not count",
		"grants": [_grant("g1", "research", ["a", "u"]), _grant("g2", "research", ["b"])],
		"want": "g1",
	},
	{
		"name": "unconditional fields do not count (more of them)",
		"grants": [_grant("g1", "research", ["u", "x", "y"]), _grant("g2", "research", ["b"])],
		"want": "g2",
	},
	{
		"name": "unrequested fields do not count",
		"grants": [_grant("g1", "research", ["x", "y", "z"]), _grant("g2", "research", ["c"])],
		"want": "g2",
	},
	{
		"name": "a field listed twice counts once",
		"grants": [_grant("g1", "research", ["a", "a", "a"]), _grant("g2", "research", ["a", "b"])],
		"want": "g2",
	},
	{
		"name": "grants for other purposes are ignored",
		"grants": [_grant("g1", "statistics", ["a", "b", "c"]), _grant("g2", "research", ["a"])],
		"want": "g2",
	},
	{
		"name": "tie goes to the smallest id",
		"grants": [_grant("g2", "research", ["a"]), _grant("g1", "research", ["b"])],
		"want": "g1",
	},
	{
		"name": "ids compare as strings",
		"grants": [_grant("g9", "research", ["a"]), _grant("g10", "research", ["b"])],
		"want": "g10",
	},
	{
		"name": "tie with no coverage goes to the smallest id",
		"grants": [_grant("z", "research", []), _grant("m", "research", ["x"])],
		"want": "m",
	},
	{
		"name": "coverage beats id order",
		"grants": [_grant("a", "research", []), _grant("b", "research", ["a"])],
		"want": "b",
	},
]

test_grant_choice_table if {
	failures := {c.name | some c in _grant_cases; not _grant_is(_grant_input(c.grants), c.want)}
	print("failing cases:", failures)
	failures == set()
}

_grant_is(given, want) if {
	tiers.grant.id == want with input as given
}

test_same_id_tie_goes_to_first_in_input_order if {
	g := tiers.grant with input as _grant_input([
		{"id": "g1", "purpose": "research", "fields": ["a"], "extent": ["first"]},
		{"id": "g1", "purpose": "research", "fields": ["b"], "extent": ["second"]},
	])
	g.extent == ["first"]
}

test_grant_is_the_whole_grant if {
	g := tiers.grant with input as _grant_input([{"id": "g1", "purpose": "research", "fields": ["a"], "extent": ["d1"]}])
	g == {"id": "g1", "purpose": "research", "fields": ["a"], "extent": ["d1"]}
}

test_no_grant_unless_tier_granted if {
	not _has_grant(_input(true, "health", ["analyst"], "research", [_research])) # owner
	not _has_grant(_input(true, "planning", ["analyst"], "statistics", [_research])) # department
	not _has_grant(_input(true, "audit", ["auditor", "analyst"], "research", [_research])) # auditor
	not _has_grant(_input(false, "planning", ["analyst"], "research", [_research])) # public
}

_has_grant(given) if {
	tiers.grant with input as given
}
