# METADATA
# title: Tests for citygate.obligations
# description: docs/policy.md §4 for every tier, with the tier and g* mocked.
package citygate.obligations_test

import data.citygate.obligations

_geometry_cases := [
	{"tier": "public", "want": {"effect": "generalise", "h3Resolution": 8}},
	{"tier": "auditor", "want": {"effect": "deny"}},
	{"tier": "owner", "want": {"effect": "allow"}},
	{"tier": "granted", "want": {"effect": "allow"}},
	{"tier": "department", "want": {"effect": "allow"}},
]

test_geometry_table if {
	failures := {c.tier |
		some c in _geometry_cases
		got := obligations.geometry with data.citygate.tiers.tier as c.tier
		got != c.want
	}
	print("failing tiers:", failures)
	failures == set()
}

# tier, dataset personal level -> minCell
_min_cell_cases := [
	["owner", "none", 1],
	["owner", "personal", 1],
	["owner", "sensitive", 1],
	["public", "none", 10],
	["public", "personal", 10],
	["public", "sensitive", 10],
	["auditor", "none", 10],
	["auditor", "sensitive", 10],
	["granted", "none", 1],
	["granted", "personal", 10],
	["granted", "sensitive", 10],
	["department", "none", 1],
	["department", "personal", 10],
	["department", "sensitive", 10],
	["department", null, 10],
	["granted", "unknown", 10],
]

test_min_cell_table if {
	failures := {c |
		some c in _min_cell_cases
		[tier, personal, want] := c
		got := obligations.min_cell with data.citygate.tiers.tier as tier
			with input as {"dataset": {"personal": personal}}
		got != want
	}
	print("failing [tier, personal, want]:", failures)
	failures == set()
}

test_min_cell_without_dataset_personal_is_strict if {
	obligations.min_cell == 10 with data.citygate.tiers.tier as "department"
		with input as {"dataset": {}}
}

_grant(extent) := {"id": "g7", "purpose": "research", "fields": ["a"], "extent": extent}

test_extent_is_the_grants_when_granted_and_not_empty if {
	obligations.extent == ["district-1", "community-9"] with data.citygate.tiers.tier as "granted"
		with data.citygate.tiers.grant as _grant(["district-1", "community-9"])
}

test_extent_is_null_for_a_whole_city_grant if {
	obligations.extent == null with data.citygate.tiers.tier as "granted"
		with data.citygate.tiers.grant as _grant([])
}

test_extent_is_null_unless_granted if {
	every tier in {"auditor", "owner", "department", "public"} {
		obligations.extent == null with data.citygate.tiers.tier as tier
			with data.citygate.tiers.grant as _grant(["district-1"])
	}
}

test_extent_undefined_for_a_malformed_grant if {
	# never fall back to null (no row filter) when the grant's extent is not a list
	not _has_extent(object.remove(_grant([]), ["extent"]))
	not _has_extent(_grant("district-1"))
}

_has_extent(grant) if {
	obligations.extent with data.citygate.tiers.tier as "granted"
		with data.citygate.tiers.grant as grant
}

test_grant_id_when_granted if {
	obligations.grant_id == "g7" with data.citygate.tiers.tier as "granted"
		with data.citygate.tiers.grant as _grant([])
}

test_grant_id_null_unless_granted if {
	every tier in {"auditor", "owner", "department", "public"} {
		obligations.grant_id == null with data.citygate.tiers.tier as tier
			with data.citygate.tiers.grant as _grant([])
	}
}

_open_field := {"name": "a", "grade": "general", "personal": "none", "openClass": "unconditional"}

_open_dataset := {"personal": "none", "openClass": "unconditional"}

test_public_min_cell_is_one_on_a_fully_open_non_personal_dataset if {
	obligations.min_cell == 1 with data.citygate.tiers.tier as "public"
		with input as {"dataset": _open_dataset, "fields": [_open_field]}
	obligations.min_cell == 1 with data.citygate.tiers.tier as "public"
		with input as {"dataset": _open_dataset, "fields": []}
}

test_public_min_cell_stays_ten_for_anything_personal_or_conditional if {
	every input_case in [
		{"dataset": object.union(_open_dataset, {"personal": "personal"}), "fields": []},
		{"dataset": object.union(_open_dataset, {"personal": "sensitive"}), "fields": []},
		{"dataset": object.union(_open_dataset, {"openClass": "conditional"}), "fields": []},
		{"dataset": object.union(_open_dataset, {"openClass": "closed"}), "fields": []},
		{"dataset": {"personal": "none"}, "fields": []},
		{"dataset": {"openClass": "unconditional"}, "fields": []},
		# a field the dataset-level class understates
		{"dataset": _open_dataset, "fields": [object.union(_open_field, {"personal": "personal"})]},
		{"dataset": _open_dataset, "fields": [object.union(_open_field, {"openClass": "conditional"})]},
		{"dataset": _open_dataset, "fields": [_open_field, object.union(_open_field, {"grade": "core"})]},
	] {
		obligations.min_cell == 10 with data.citygate.tiers.tier as "public"
			with input as input_case
	}
}

test_auditor_min_cell_stays_ten_on_a_fully_open_dataset if {
	obligations.min_cell == 10 with data.citygate.tiers.tier as "auditor"
		with input as {"dataset": _open_dataset, "fields": [_open_field]}
}
