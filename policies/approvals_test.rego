package jitgate.approvals_test

import data.jitgate.approvals

config := {
	"groups": {
		"dba": ["bob@example.com", "carol@example.com"],
		"developers": ["alice@example.com", "bob@example.com"],
		"security": ["sam@example.com"],
	},
	"admins": ["security"],
	"resources": {"prod-db": {
		"approvers": ["dba"],
		"roles": {
			"developer": {"requesters": ["developers"], "max_duration_s": 1800, "required_approvals": 2, "requires_ticket": true},
			"reader": {"max_duration_s": 7200},
		},
	}},
}

req := {
	"requester": "alice@example.com", "resource": "prod-db", "role": "developer",
	"actions": ["read"], "duration_s": 900, "reason": "incident 42", "ticket": "OPS-1",
}

as_caller(caller, action) := {"action": action, "caller": caller, "request": req}

test_requester_may_request if {
	approvals.may_request with input as as_caller("alice@example.com", "request") with data.approvals_config as config
}

test_only_for_oneself if {
	not approvals.may_request with input as as_caller("bob@example.com", "request") with data.approvals_config as config
}

test_outside_requester_group_may_not_request if {
	inp := {"action": "request", "caller": "dave@example.com", "request": object.union(req, {"requester": "dave@example.com"})}
	not approvals.may_request with input as inp with data.approvals_config as config
}

test_role_without_requesters_is_open if {
	inp := {"action": "request", "caller": "dave@example.com", "request": object.union(req, {"requester": "dave@example.com", "role": "reader"})}
	approvals.may_request with input as inp with data.approvals_config as config
}

test_unknown_resource_may_not_be_requested if {
	inp := {"action": "request", "caller": "alice@example.com", "request": object.union(req, {"resource": "nope"})}
	not approvals.may_request with input as inp with data.approvals_config as config
}

test_approver_in_group_may_approve if {
	approvals.may_approve with input as as_caller("carol@example.com", "approve") with data.approvals_config as config
}

test_no_self_approval if {
	inp := {"action": "approve", "caller": "bob@example.com", "request": object.union(req, {"requester": "bob@example.com"})}
	not approvals.may_approve with input as inp with data.approvals_config as config
}

test_outsider_may_not_approve if {
	not approvals.may_approve with input as as_caller("sam@example.com", "approve") with data.approvals_config as config
}

test_revoke_by_admin_approver_and_requester if {
	approvals.may_revoke with input as as_caller("sam@example.com", "revoke") with data.approvals_config as config
	approvals.may_revoke with input as as_caller("carol@example.com", "revoke") with data.approvals_config as config
	approvals.may_revoke with input as as_caller("alice@example.com", "revoke") with data.approvals_config as config
}

test_no_revoke_by_stranger if {
	not approvals.may_revoke with input as as_caller("mallory@example.com", "revoke") with data.approvals_config as config
}

test_audit_by_admin_and_approvers_only if {
	approvals.may_audit with input as as_caller("sam@example.com", "audit") with data.approvals_config as config
	approvals.may_audit with input as as_caller("carol@example.com", "audit") with data.approvals_config as config
	not approvals.may_audit with input as as_caller("alice@example.com", "audit") with data.approvals_config as config
}

test_role_settings if {
	approvals.required_approvals == 2 with input as as_caller("alice@example.com", "request") with data.approvals_config as config
	approvals.max_duration_s == 1800 with input as as_caller("alice@example.com", "request") with data.approvals_config as config
	approvals.requires_ticket with input as as_caller("alice@example.com", "request") with data.approvals_config as config
}

test_defaults if {
	inp := {"action": "request", "caller": "alice@example.com", "request": object.union(req, {"role": "reader"})}
	approvals.required_approvals == 1 with input as inp with data.approvals_config as config
	approvals.max_duration_s == 7200 with input as inp with data.approvals_config as config
	not approvals.requires_ticket with input as inp with data.approvals_config as config
}

test_nonsense_required_approvals_falls_back_to_one if {
	bad := object.union(config, {"resources": {"prod-db": {"roles": {"developer": {"required_approvals": 0}}}}})
	approvals.required_approvals == 1 with input as as_caller("alice@example.com", "request") with data.approvals_config as bad
}

test_bad_configuration_denies_without_error if {
	bad := {"groups": {"dba": "bob@example.com"}, "admins": "security", "resources": {"prod-db": {
		"approvers": "dba",
		"roles": {"developer": {"requesters": "developers", "max_duration_s": "long"}},
	}}}
	not approvals.may_request with input as as_caller("alice@example.com", "request") with data.approvals_config as bad
	not approvals.may_approve with input as as_caller("bob@example.com", "approve") with data.approvals_config as bad
	not approvals.may_revoke with input as as_caller("sam@example.com", "revoke") with data.approvals_config as bad
	not approvals.may_audit with input as as_caller("bob@example.com", "audit") with data.approvals_config as bad
	approvals.max_duration_s == 3600 with input as as_caller("alice@example.com", "request") with data.approvals_config as bad
}

test_no_configuration_denies if {
	not approvals.may_request with input as as_caller("alice@example.com", "request") with data.approvals_config as "nonsense"
	approvals.required_approvals == 1 with input as as_caller("alice@example.com", "request") with data.approvals_config as "nonsense"
}
