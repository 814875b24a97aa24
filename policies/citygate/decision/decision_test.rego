# METADATA
# title: Tests for the citygate/decision entrypoint
# description: |
#   End to end, nothing mocked: the whole PolicyOutput for representative requests of each tier, and
#   the shape of the package document (exactly the eight PolicyOutput keys).
package citygate.decision_test

import data.citygate.decision

_field(name, grade, personal, open_class, mask_kind) := {
	"name": name,
	"grade": grade,
	"personal": personal,
	"openClass": open_class,
	"maskKind": mask_kind,
}

_ward := _field("ward", "general", "none", "unconditional", "redact")

_street := _field("street", "general", "personal", "unconditional", "truncate")

_visits := _field("visits", "important", "none", "conditional", "redact")

_patient := _field("patient", "important", "personal", "conditional", "hash")

_diagnosis := _field("diagnosis", "important", "sensitive", "closed", "redact")

_beds := _field("beds", "core", "none", "unconditional", "redact")

_anonymous := {"authenticated": false, "org": null, "roles": []}

_planning_analyst := {"authenticated": true, "org": "planning", "roles": ["analyst"]}

_health_owner := {"authenticated": true, "org": "health", "roles": ["owner"]}

_auditor := {"authenticated": true, "org": "audit-office", "roles": ["auditor"]}

_dataset(grade, personal, open_class) := {
	"id": "clinic-visits",
	"ownerOrg": "health",
	"grade": grade,
	"personal": personal,
	"openClass": open_class,
}

_grants := [
	{"id": "g1", "purpose": "research", "fields": ["patient"], "extent": []},
	{"id": "g2", "purpose": "research", "fields": ["patient", "visits", "diagnosis"], "extent": ["district-3"]},
	{"id": "g0", "purpose": "statistics", "fields": ["patient", "visits", "diagnosis", "ward"], "extent": []},
]

_request(requester, purpose, mode, dataset, fields) := {
	"requester": requester,
	"purpose": purpose,
	"mode": mode,
	"dataset": dataset,
	"fields": fields,
	"grants": _grants,
}

_public_obligations := {"geometry": {"effect": "generalise", "h3Resolution": 8}, "minCell": 10, "extent": null, "grantId": null}

test_public_raw_personal_field_refuses_the_request if {
	got := decision with input as _request(_anonymous, null, "raw", _dataset("general", "personal", "unconditional"), [_ward, _street])
	got == object.union(_public_obligations, {
		"allow": false,
		"tier": "public",
		"fields": {
			"ward": {"effect": "allow", "reason": "unconditional"},
			"street": {"effect": "aggregate-only", "reason": "personal-public"},
		},
		"reasons": ["tier:public", "field:street:aggregate-only-not-for-raw"],
	})
}

test_public_aggregate_of_conditional_dataset if {
	got := decision with input as _request(_anonymous, null, "aggregate", _dataset("important", "personal", "conditional"), [_ward, _street, _patient])
	got == object.union(_public_obligations, {
		"allow": true,
		"tier": "public",
		"fields": {
			"ward": {"effect": "allow", "reason": "unconditional"},
			"street": {"effect": "aggregate-only", "reason": "personal-public"},
			"patient": {"effect": "aggregate-only", "reason": "conditional-public-aggregates"},
		},
		"reasons": ["tier:public"],
	})
}

test_public_sandbox_is_refused if {
	got := decision with input as _request(_anonymous, null, "sandbox", _dataset("general", "none", "unconditional"), [_ward])
	got == object.union(_public_obligations, {
		"minCell": 1, # fully open and non-personal (§4)
		"allow": false,
		"tier": "public",
		"fields": {"ward": {"effect": "deny", "reason": "mode-not-for-public"}},
		"reasons": ["tier:public", "dataset:mode-not-for-public", "field:ward:mode-not-for-public"],
	})
}

test_granted_raw_on_closed_dataset_is_refused if {
	got := decision with input as _request(_planning_analyst, "research", "raw", _dataset("important", "sensitive", "closed"), [_ward, _visits, _patient, _diagnosis])
	got == {
		"allow": false,
		"tier": "granted",
		"fields": {
			"ward": {"effect": "allow", "reason": "unconditional"},
			"visits": {"effect": "allow", "reason": "granted"},
			"patient": {"effect": "mask", "mask": "hash", "reason": "personal-masked"},
			"diagnosis": {"effect": "deny", "reason": "closed-sandbox-or-encrypted-only"},
		},
		"geometry": {"effect": "allow"},
		"minCell": 10,
		"extent": ["district-3"],
		"grantId": "g2",
		"reasons": [
			"tier:granted",
			"dataset:closed-sandbox-or-encrypted-only",
			"field:diagnosis:closed-sandbox-or-encrypted-only",
		],
	}
}

test_granted_raw_on_conditional_fields_is_allowed if {
	got := decision with input as _request(_planning_analyst, "research", "raw", _dataset("important", "personal", "conditional"), [_ward, _visits, _patient])
	got == {
		"allow": true,
		"tier": "granted",
		"fields": {
			"ward": {"effect": "allow", "reason": "unconditional"},
			"visits": {"effect": "allow", "reason": "granted"},
			"patient": {"effect": "mask", "mask": "hash", "reason": "personal-masked"},
		},
		"geometry": {"effect": "allow"},
		"minCell": 10,
		"extent": ["district-3"],
		"grantId": "g2",
		"reasons": ["tier:granted"],
	}
}

test_granted_sandbox_on_closed_dataset_is_allowed if {
	got := decision with input as _request(_planning_analyst, "research", "sandbox", _dataset("important", "sensitive", "closed"), [_ward, _patient, _diagnosis])
	got == {
		"allow": true,
		"tier": "granted",
		"fields": {
			"ward": {"effect": "allow", "reason": "unconditional"},
			"patient": {"effect": "allow", "reason": "granted"},
			"diagnosis": {"effect": "allow", "reason": "granted"},
		},
		"geometry": {"effect": "allow"},
		"minCell": 10,
		"extent": ["district-3"],
		"grantId": "g2",
		"reasons": ["tier:granted"],
	}
}

test_grant_choice_depends_on_requested_fields if {
	# only patient is restricted here: g1 and g2 tie, g1 is the smaller id and covers the whole city
	got := decision with input as _request(_planning_analyst, "research", "raw", _dataset("important", "personal", "conditional"), [_ward, _patient])
	got.grantId == "g1"
	got.extent == null
	got.allow == true
}

test_department_without_grant_for_purpose if {
	got := decision with input as _request(_planning_analyst, "urban-planning", "raw", _dataset("important", "personal", "conditional"), [_ward, _street, _visits])
	got == {
		"allow": false,
		"tier": "department",
		"fields": {
			"ward": {"effect": "allow", "reason": "unconditional"},
			"street": {"effect": "mask", "mask": "truncate", "reason": "personal-masked"},
			"visits": {"effect": "deny", "reason": "needs-grant"},
		},
		"geometry": {"effect": "allow"},
		"minCell": 10,
		"extent": null,
		"grantId": null,
		"reasons": ["tier:department", "dataset:needs-grant", "field:visits:needs-grant"],
	}
}

test_department_on_unconditional_dataset if {
	got := decision with input as _request(_planning_analyst, null, "raw", _dataset("general", "none", "unconditional"), [_ward])
	got == {
		"allow": true,
		"tier": "department",
		"fields": {"ward": {"effect": "allow", "reason": "unconditional"}},
		"geometry": {"effect": "allow"},
		"minCell": 1,
		"extent": null,
		"grantId": null,
		"reasons": ["tier:department"],
	}
}

test_owner_reads_its_own_core_field_raw if {
	got := decision with input as _request(_health_owner, null, "raw", _dataset("core", "sensitive", "closed"), [_beds, _diagnosis])
	got == {
		"allow": true,
		"tier": "owner",
		"fields": {
			"beds": {"effect": "allow", "reason": "owner"},
			"diagnosis": {"effect": "allow", "reason": "owner"},
		},
		"geometry": {"effect": "allow"},
		"minCell": 1,
		"extent": null,
		"grantId": null,
		"reasons": ["tier:owner"],
	}
}

test_owner_core_field_in_encrypted_mode if {
	got := decision with input as _request(_health_owner, null, "encrypted", _dataset("core", "sensitive", "closed"), [_beds, _diagnosis])
	got == {
		"allow": true,
		"tier": "owner",
		"fields": {
			"beds": {"effect": "allow", "reason": "owner"},
			"diagnosis": {"effect": "allow", "reason": "owner"},
		},
		"geometry": {"effect": "allow"},
		"minCell": 1,
		"extent": null,
		"grantId": null,
		"reasons": ["tier:owner"],
	}
}

test_auditor_sees_no_values if {
	got := decision with input as _request(_auditor, "research", "aggregate", _dataset("general", "none", "unconditional"), [_ward])
	got == {
		"allow": false,
		"tier": "auditor",
		"fields": {"ward": {"effect": "deny", "reason": "auditor-metadata-only"}},
		"geometry": {"effect": "deny"},
		"minCell": 10,
		"extent": null,
		"grantId": null,
		"reasons": ["tier:auditor", "dataset:auditor-metadata-only", "field:ward:auditor-metadata-only"],
	}
}

test_unknown_field_classification_is_left_undefined_and_refused if {
	odd := object.union(_ward, {"name": "odd", "personal": "maybe"})
	got := decision with input as _request(_health_owner, null, "raw", _dataset("general", "none", "unconditional"), [_ward, odd])
	got.allow == false
	got.fields == {"ward": {"effect": "allow", "reason": "owner"}}
	got.reasons == ["tier:owner", "field:odd:undefined"]
}

test_document_has_exactly_the_policy_output_keys if {
	every given in [
		{},
		_request(_anonymous, null, "raw", _dataset("general", "none", "unconditional"), []),
		_request(_planning_analyst, "research", "sandbox", _dataset("important", "sensitive", "closed"), [_patient]),
	] {
		keys := object.keys(decision) with input as given
		keys == {"allow", "tier", "fields", "geometry", "minCell", "extent", "grantId", "reasons"}
	}
}

test_empty_input_is_a_public_refusal if {
	got := decision with input as {}
	got == object.union(_public_obligations, {"allow": false, "tier": "public", "fields": {}, "reasons": ["tier:public", "dataset:not-open"]})
}

# §5, the public floor: a department without a grant gets exactly the public's aggregate decision, and the
# reasons say it was asked outside any grant.
test_department_without_grant_gets_the_public_aggregate if {
	ds := _dataset("important", "personal", "conditional")
	fields := [_ward, _street, _patient]
	public := decision with input as _request(_anonymous, null, "aggregate", ds, fields)
	got := decision with input as _request(_planning_analyst, "urban-planning", "aggregate", ds, fields)
	public.allow == true
	got == object.union(public, {"reasons": ["tier:public", "outside-grant:department"]})
	got.geometry == {"effect": "generalise", "h3Resolution": 8}
	got.minCell == 10
	got.extent == null
	got.grantId == null
}

# A granted department whose grant does not cover a requested conditional field: the public's answer
# (no extent, no grant), never its grant's.
test_granted_outside_its_grant_gets_the_public_aggregate if {
	ds := _dataset("important", "personal", "conditional")
	public := decision with input as _request(_anonymous, null, "aggregate", ds, [_ward, _visits])
	got := decision with input as _request(_planning_analyst, "research", "aggregate", object.union(ds, {"id": "x"}), [_ward, _visits]) with input.grants as [_grants[0]]
	got.allow == true
	got.tier == "public"
	got.fields == public.fields
	got.minCell == 10
	got.extent == null
	got.grantId == null
	got.reasons == ["tier:public", "outside-grant:granted"]
}

# Where its own tier answers, a department keeps its own decision (exact geometry, its own cells).
test_department_keeps_its_own_allowed_aggregate if {
	got := decision with input as _request(_planning_analyst, null, "aggregate", _dataset("general", "none", "unconditional"), [_ward])
	got.tier == "department"
	got.geometry == {"effect": "allow"}
	got.reasons == ["tier:department"]
}

# No floor outside aggregates, where the public refuses too, and never for an auditor.
test_the_public_floor_does_not_open_other_modes_or_auditors if {
	ds := _dataset("important", "personal", "conditional")
	every mode in ["raw", "sandbox", "encrypted"] {
		got := decision with input as _request(_planning_analyst, "urban-planning", mode, ds, [_ward, _visits])
		got.allow == false
		got.tier == "department"
	}
	auditor := decision with input as _request(_auditor, null, "aggregate", ds, [_ward])
	auditor.allow == false
	auditor.tier == "auditor"
}

# What the public is refused stays refused to a department without a grant (a closed field, a closed dataset).
test_the_public_floor_is_no_higher_than_the_public if {
	closed_field := decision with input as _request(_planning_analyst, null, "aggregate", _dataset("important", "sensitive", "conditional"), [_ward, _diagnosis])
	closed_field.allow == false
	closed_field.tier == "department"
	closed_ds := decision with input as _request(_planning_analyst, null, "aggregate", _dataset("important", "sensitive", "closed"), [_ward])
	closed_ds.allow == false
	closed_ds.tier == "department"
}
