# METADATA
# title: Whole-request allow and reasons
# description: |
#   docs/policy.md §3: a request is allowed when the dataset is open to the tier in this mode and
#   every requested field's effect fits the mode; §4 `reasons`: the tier, then every refusal.
package citygate.request

import data.citygate.effects
import data.citygate.tiers

# Mode -> the field effects that may leave in that mode.
_fitting_effects := {
	"raw": {"allow", "mask", "generalise"},
	"aggregate": {"allow", "mask", "generalise", "aggregate-only"},
	"sandbox": {"allow"},
	"encrypted": {"allow"},
}

# METADATA
# description: True when the request may proceed as a whole; false (never undefined) otherwise.
default allow := false

allow if {
	_fitting_effects[input.mode]
	dataset_open
	every f in input.fields {
		fits_mode(effects.decisions[f.name].effect)
	}
}

# METADATA
# description: The dataset is open to the requester's tier in the request's mode.
dataset_open if tiers.tier == "owner"

dataset_open if {
	input.dataset.openClass == "closed"
	tiers.tier == "granted"
	input.mode in {"sandbox", "encrypted"}
}

dataset_open if {
	input.dataset.openClass == "conditional"
	tiers.tier == "granted"
}

dataset_open if {
	input.dataset.openClass == "conditional"
	tiers.tier == "public"
	input.mode == "aggregate"
}

dataset_open if {
	input.dataset.openClass == "unconditional"
	tiers.tier in {"granted", "department"}
}

dataset_open if {
	input.dataset.openClass == "unconditional"
	tiers.tier == "public"
	input.mode in {"raw", "aggregate"}
}

# METADATA
# description: A field effect may leave in the request's mode.
fits_mode(effect) if effect in _fitting_effects[input.mode]

# METADATA
# description: |
#   "tier:<tier>", then one string per refusal in sorted order: "dataset:<why>" when the dataset is
#   not open, "field:<name>:<reason>" for a denied field, "field:<name>:<effect>-not-for-<mode>" for
#   an effect that does not fit the mode, "field:<name>:undefined" for a field without a decision.
#   Field names are catalogue metadata, never data values.
reasons := array.concat([concat(":", ["tier", tiers.tier])], sort(_refusals))

_refusals contains concat(":", ["dataset", _dataset_refusal]) if not dataset_open

_refusals contains concat(":", ["field", name, d.reason]) if {
	some name, d in effects.decisions
	d.effect == "deny"
}

_refusals contains concat(":", ["field", name, concat("-", [d.effect, "not-for", input.mode])]) if {
	some name, d in effects.decisions
	d.effect != "deny"
	not fits_mode(d.effect)
}

_refusals contains concat(":", ["field", f.name, "undefined"]) if {
	some f in input.fields
	not effects.decisions[f.name]
}

# Why the dataset is not open to the tier in this mode (only used when it is not).
_dataset_refusal := "auditor-metadata-only" if {
	tiers.tier == "auditor"
} else := "closed-sandbox-or-encrypted-only" if {
	input.dataset.openClass == "closed"
	tiers.tier == "granted"
} else := "closed" if {
	input.dataset.openClass == "closed"
} else := "needs-grant" if {
	input.dataset.openClass == "conditional"
	tiers.tier == "department"
} else := "conditional-public-aggregates" if {
	input.dataset.openClass == "conditional"
	tiers.tier == "public"
} else := "mode-not-for-public" if {
	input.dataset.openClass == "unconditional"
	tiers.tier == "public"
} else := "not-open"
