# METADATA
# title: CityGate access decision
# description: |
#   The wasm entrypoint citygate/decision. This package's document is the PolicyOutput of
#   src/access/decision.ts, so it holds exactly the eight rules below and nothing else: the logic
#   lives in citygate.tiers, citygate.effects, citygate.request, citygate.obligations and
#   citygate.floor. Input is a PolicyInput. Anything left undefined here is a denial in the caller.
#   No one but an auditor gets less than the public (docs/policy.md §5): an aggregate that a department
#   or granted tier would refuse, and that an anonymous caller may ask, is decided as the public's.
# entrypoint: true
package citygate.decision

import data.citygate.effects
import data.citygate.floor
import data.citygate.obligations
import data.citygate.request
import data.citygate.tiers

# METADATA
# description: The request may proceed as a whole (docs/policy.md §3).
allow := floor.public_decision.allow if floor.applies

else := request.allow

# METADATA
# description: auditor, owner, granted, department or public (docs/policy.md §1, §5).
tier := floor.public_decision.tier if floor.applies

else := tiers.tier

# METADATA
# description: Requested field name -> {effect, mask?, reason} (docs/policy.md §2).
fields := floor.public_decision.fields if floor.applies

else := effects.decisions

# METADATA
# description: "{effect, h3Resolution?} (docs/policy.md §4)."
geometry := floor.public_decision.geometry if floor.applies

else := obligations.geometry

# METADATA
# description: Minimum cell size for aggregates (docs/policy.md §4).
minCell := floor.public_decision.minCell if floor.applies

else := obligations.min_cell

# METADATA
# description: Row filter, null for none (docs/policy.md §4).
extent := floor.public_decision.extent if floor.applies

else := obligations.extent

# METADATA
# description: The grant relied on, null unless tier granted (docs/policy.md §4).
grantId := floor.public_decision.grantId if floor.applies

else := obligations.grant_id

# METADATA
# description: |
#   The tier, then one string per refusal (docs/policy.md §4); a request decided as the public's ends
#   with "outside-grant:<the requester's own tier>", so the record says it was asked outside any grant.
reasons := array.concat(floor.public_decision.reasons, [concat(":", ["outside-grant", tiers.tier])]) if {
	floor.applies
} else := request.reasons
