# METADATA
# title: Requester tier and grant choice
# description: |
#   docs/policy.md §1: the tier a requester falls in for one dataset (first match wins) and g*, the
#   grant a `granted` decision relies on.
package citygate.tiers

# Roles that make an authenticated member of an organisation a department user.
_department_roles := {"analyst", "owner", "admin"}

# Roles that make a member of the owning organisation an owner.
_owner_roles := {"owner", "analyst"}

# METADATA
# description: |
#   The requester's tier: auditor, owner, granted, department or public (first match wins; everyone
#   else is public).
tier := "auditor" if {
	"auditor" in input.requester.roles
} else := "owner" if {
	_member_with_role(_owner_roles)
	input.requester.org == input.dataset.ownerOrg
} else := "granted" if {
	_member_with_role(_department_roles)
	_has_grant_for_purpose
} else := "department" if {
	_member_with_role(_department_roles)
} else := "public"

# METADATA
# description: |
#   g*: among the grants for the request's purpose, the one whose fields cover the most requested
#   fields that are not `unconditional`; ties go to the smallest id (string order), then to the first
#   in input order. Defined only for tier granted.
grant := input.grants[_chosen_index] if tier == "granted"

# An authenticated requester with an organisation and one of the given roles.
_member_with_role(roles) if {
	input.requester.authenticated == true
	is_string(input.requester.org)
	input.requester.org != ""
	some role in input.requester.roles
	role in roles
}

_has_grant_for_purpose if {
	is_string(input.purpose)
	some g in input.grants
	g.purpose == input.purpose
}

# Names of the requested fields a grant has to cover (conditional and closed ones).
_restricted_fields := {f.name | some f in input.fields; f.openClass != "unconditional"}

# Index in input.grants -> how many restricted requested fields that grant covers.
_coverage[i] := count(_restricted_fields & {name | some name in g.fields}) if {
	is_string(input.purpose)
	some i, g in input.grants
	g.purpose == input.purpose
}

_best_coverage := max({c | some c in _coverage})

_best_indices := {i | some i, c in _coverage; c == _best_coverage}

_best_id := min({input.grants[i].id | some i in _best_indices})

_chosen_index := min({i | some i in _best_indices; input.grants[i].id == _best_id})
