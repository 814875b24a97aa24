# METADATA
# title: Obligations
# description: |
#   docs/policy.md §4: what the query engine must apply to an allowed request: geometry
#   generalisation, minimum cell size, row filter (extent) and the grant relied on.
package citygate.obligations

import data.citygate.tiers

# H3 resolution public geometry is generalised to.
_public_h3_resolution := 8

# METADATA
# description: Geometry effect; h3Resolution only when the effect is generalise.
geometry := {"effect": "generalise", "h3Resolution": _public_h3_resolution} if {
	tiers.tier == "public"
} else := {"effect": "deny"} if {
	tiers.tier == "auditor"
} else := {"effect": "allow"}

# METADATA
# description: |
#   Minimum cell size for aggregates. A dataset whose personal level is anything but `none`
#   (including a missing one) gets 10 for granted and department. The public gets 1 only on a fully
#   open, non-personal dataset (see _fully_open_non_personal), 10 everywhere else.
min_cell := 1 if {
	tiers.tier == "owner"
} else := 1 if {
	tiers.tier == "public"
	_fully_open_non_personal
} else := 10 if {
	tiers.tier in {"public", "auditor"}
} else := 1 if {
	input.dataset.personal == "none"
} else := 10

# METADATA
# description: |
#   Row filter: g*.extent for tier granted when non-empty, otherwise null (no filter). A g* whose
#   extent is not a list leaves this undefined (denied), never null.
extent := null if {
	tiers.tier != "granted"
} else := null if {
	is_array(tiers.grant.extent)
	count(tiers.grant.extent) == 0
} else := tiers.grant.extent if {
	is_array(tiers.grant.extent)
}

# METADATA
# description: The id of g* for tier granted, otherwise null.
grant_id := null if {
	tiers.tier != "granted"
} else := tiers.grant.id

# The dataset is open without conditions and holds nothing personal, and so does every requested field
# (checked field by field as well, so that a catalogue whose dataset-level class understates one of its
# fields cannot lower the public's minimum cell).
_fully_open_non_personal if {
	input.dataset.openClass == "unconditional"
	input.dataset.personal == "none"
	every f in input.fields {
		f.openClass == "unconditional"
		f.personal == "none"
		f.grade != "core"
	}
}
