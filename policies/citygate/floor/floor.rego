# METADATA
# title: The public floor
# description: |
#   docs/policy.md §5: no one but an auditor gets less than the public. An aggregate that the
#   requester's own tier (department or granted) refuses, and that an anonymous caller may ask, is
#   decided as the public's: the public's effects and obligations, nothing more.
package citygate.floor

import data.citygate.effects
import data.citygate.obligations
import data.citygate.request
import data.citygate.tiers

# §5: the tiers that fall back to the public's decision (never auditors, who see no values; owners are
# never refused one).
_falls_back := {"department", "granted"}

# An anonymous caller: no organisation, no roles, no grants.
_anonymous := {"authenticated": false, "org": null, "roles": []}

# METADATA
# description: |
#   The whole decision an anonymous caller would get for the same request (purpose, mode, dataset,
#   fields).
public_decision := d if {
	d := {
		"allow": request.allow,
		"tier": tiers.tier,
		"fields": effects.decisions,
		"geometry": obligations.geometry,
		"minCell": obligations.min_cell,
		"extent": obligations.extent,
		"grantId": obligations.grant_id,
		"reasons": request.reasons,
	} with input.requester as _anonymous
		with input.grants as []
}

# METADATA
# description: |
#   The requester's own tier refuses an aggregate that the public may ask: it gets the public's
#   answer, with the public's obligations (generalised geometry, the public's minimum cell, no
#   extent, no grant).
applies if {
	tiers.tier in _falls_back
	input.mode == "aggregate"
	not request.allow
	public_decision.tier == "public"
	public_decision.allow == true
}
