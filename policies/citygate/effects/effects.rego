# METADATA
# title: Field effects
# description: |
#   docs/policy.md §2: the effect for each requested field, rules evaluated in order (first match
#   wins). A field with an unknown classification, or a request in an unknown mode, gets no decision,
#   which the caller treats as a denial.
package citygate.effects

import data.citygate.tiers

# Modes in which data leaves in the clear.
_plain_modes := {"raw", "aggregate"}

# Modes in which data never leaves as records.
_shielded_modes := {"sandbox", "encrypted"}

_grades := {"general", "important", "core"}

_personal_levels := {"none", "personal", "sensitive"}

_open_classes := {"unconditional", "conditional", "closed"}

_mask_kinds := {"redact", "hash", "truncate"}

# METADATA
# description: The decision for every requested field, keyed by field name.
decisions := {f.name: d | some f in input.fields; d := effect(f)}

# METADATA
# description: The decision ({effect, mask?, reason}) for one requested field.
effect(f) := _effect(f) if {
	is_string(f.name)
	f.grade in _grades
	f.personal in _personal_levels
	f.openClass in _open_classes
	f.maskKind in _mask_kinds
	input.mode in (_plain_modes | _shielded_modes)
}

# §2, steps 1 to 6, in order.
_effect(f) := _deny("auditor-metadata-only") if {
	tiers.tier == "auditor"
} else := _allow("owner") if {
	# The owner's own data does not leave when the owner reads it: every field, in every mode.
	tiers.tier == "owner"
} else := _deny("core-never-leaves-raw") if {
	f.grade == "core"
	input.mode in _plain_modes
} else := _allow("granted") if {
	f.grade == "core"
	_in_grant(f)
} else := _deny("core-needs-grant") if {
	f.grade == "core"
} else := _deny("mode-not-for-public") if {
	input.mode in _shielded_modes
	tiers.tier == "public"
} else := _allow("unconditional") if {
	input.mode in _shielded_modes
	f.openClass == "unconditional"
} else := _allow("granted") if {
	input.mode in _shielded_modes
	_in_grant(f)
} else := _deny("needs-grant") if {
	input.mode in _shielded_modes
} else := _deny("closed-sandbox-or-encrypted-only") if {
	# From here on the mode is raw or aggregate.
	f.openClass == "closed"
	tiers.tier == "granted"
} else := _deny("closed") if {
	f.openClass == "closed"
} else := _aggregate_only("conditional-public-aggregates") if {
	f.openClass == "conditional"
	tiers.tier == "public"
} else := _deny("needs-grant") if {
	f.openClass == "conditional"
	tiers.tier == "department"
} else := _personal_rule(f, "granted") if {
	f.openClass == "conditional"
	_in_grant(f)
} else := _deny("not-in-grant") if {
	f.openClass == "conditional"
	tiers.tier == "granted"
} else := _personal_rule(f, "unconditional") if {
	f.openClass == "unconditional"
}

# §2 step 6, for tiers other than owner; `reason` says why a non-personal field is allowed.
_personal_rule(f, reason) := _allow(reason) if {
	f.personal == "none"
} else := _aggregate_only("sensitive-personal") if {
	f.personal == "sensitive"
} else := _aggregate_only("personal-public") if {
	f.personal == "personal"
	tiers.tier == "public"
} else := {"effect": "mask", "mask": f.maskKind, "reason": "personal-masked"} if {
	f.personal == "personal"
}

# The field is in g*.fields (only tier granted has a g*).
_in_grant(f) if {
	tiers.tier == "granted"
	f.name in tiers.grant.fields
}

_allow(reason) := {"effect": "allow", "reason": reason}

_aggregate_only(reason) := {"effect": "aggregate-only", "reason": reason}

_deny(reason) := {"effect": "deny", "reason": reason}
