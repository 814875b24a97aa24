# METADATA
# title: CityGate access decision
# description: |
#   The wasm entrypoint citygate/decision. This package's document is the PolicyOutput of
#   src/access/decision.ts, so it holds exactly the eight rules below and nothing else: the logic
#   lives in citygate.tiers, citygate.effects, citygate.request and citygate.obligations. Input is a
#   PolicyInput. Anything left undefined here is a denial in the caller.
# entrypoint: true
package citygate.decision

import data.citygate.effects
import data.citygate.obligations
import data.citygate.request
import data.citygate.tiers

# METADATA
# description: The request may proceed as a whole (docs/policy.md §3).
allow := request.allow

# METADATA
# description: auditor, owner, granted, department or public (docs/policy.md §1).
tier := tiers.tier

# METADATA
# description: Requested field name -> {effect, mask?, reason} (docs/policy.md §2).
fields := effects.decisions

# METADATA
# description: "{effect, h3Resolution?} (docs/policy.md §4)."
geometry := obligations.geometry

# METADATA
# description: Minimum cell size for aggregates (docs/policy.md §4).
minCell := obligations.min_cell

# METADATA
# description: Row filter, null for none (docs/policy.md §4).
extent := obligations.extent

# METADATA
# description: The grant relied on, null unless tier granted (docs/policy.md §4).
grantId := obligations.grant_id

# METADATA
# description: The tier, then one string per refusal (docs/policy.md §4).
reasons := request.reasons
