# Who may do what in the approval service (jitgate-approvals), evaluated with regorus.
#
# Input (one per question the service asks):
#   {"action": "request" | "approve" | "deny" | "revoke" | "audit",
#    "caller": "<authenticated identity>",
#    "request": {"requester", "resource", "role", "actions", "duration_s", "reason", "ticket"?}}
# Data: data.approvals_config (the service's --policy-data file), for example
#   {"groups": {"dba": ["bob@example.com"]},
#    "admins": ["security"],
#    "resources": {"prod-db": {"approvers": ["dba"],
#      "roles": {"developer": {"requesters": ["developers"], "max_duration_s": 3600,
#                              "required_approvals": 2, "requires_ticket": true}}}}}
# The service reads: may_request, may_approve, may_revoke, may_audit,
# required_approvals (k of n distinct approvers), max_duration_s, requires_ticket.
package jitgate.approvals

# Every configured value is checked before it is iterated (regorus makes iterating a
# non-collection an evaluation error): a bad configuration denies, it never errors.
cfg := c if {
	c := object.get(data, "approvals_config", {})
	is_object(c)
} else := {}

# `key` of `obj` when it is an array, else [].
list(obj, key) := v if {
	v := object.get(obj, key, [])
	is_array(v)
} else := []

resource := r if {
	is_object(cfg.resources)
	r := cfg.resources[input.request.resource]
	is_object(r)
}

role := r if {
	is_object(resource.roles)
	r := resource.roles[input.request.role]
	is_object(r)
}

# The groups the caller belongs to.
caller_groups contains g if {
	is_object(cfg.groups)
	some g, members in cfg.groups
	is_array(members)
	input.caller in members
}

is_admin if {
	some g in list(cfg, "admins")
	g in caller_groups
}

# Members of one of the resource's approver groups.
is_resource_approver if {
	some g in list(resource, "approvers")
	g in caller_groups
}

# A role with no `requesters` list may be requested by anyone authenticated.
requester_allowed if not "requesters" in object.keys(role)

requester_allowed if {
	some g in list(role, "requesters")
	g in caller_groups
}

# Requests: only for a configured resource and role, only for oneself.
default may_request := false

may_request if {
	role
	input.caller == input.request.requester
	requester_allowed
}

# Approvals (and denials): never the requester, always a member of an approver group.
default may_approve := false

may_approve if {
	role
	input.caller != input.request.requester
	is_resource_approver
}

# Revocation: admins, the resource's approvers, and the requester (ending their own
# grant early).
default may_revoke := false

may_revoke if is_admin

may_revoke if is_resource_approver

may_revoke if input.caller == input.request.requester

# The audit trail: admins and approvers of any resource.
default may_audit := false

may_audit if is_admin

may_audit if {
	is_object(cfg.resources)
	some r in cfg.resources
	is_object(r)
	some g in list(r, "approvers")
	g in caller_groups
}

# k of n: how many distinct approvers a request needs (at least 1).
default required_approvals := 1

required_approvals := n if {
	n := role.required_approvals
	is_number(n)
	n >= 1
}

default max_duration_s := 3600

max_duration_s := n if {
	n := role.max_duration_s
	is_number(n)
}

default requires_ticket := false

requires_ticket if role.requires_ticket == true
