package access.four_eyes_test

import data.access.four_eyes

# 2026-11-26 (a Thursday), in nanoseconds since the Unix epoch.
t_10_00 := 1795687200000000000

t_10_30 := 1795689000000000000

t_11_00 := 1795690800000000000

t_11_01 := 1795690860000000000

one_hour := 3600000000000

config := {"sensitive_resources": ["prod-db", "payments-db"]}

# A verified approval for a non-sensitive resource with one approver.
approval := {
	"id": "appr-7",
	"issuer": "https://approvals.example.com",
	"subject": "alice@example.com",
	"resource": "staging-db",
	"resources": ["staging-db"],
	"role": "developer",
	"approvers": ["bob@example.com"],
	"not_before_ns": t_10_00,
	"expires_ns": t_11_00,
	"issued_at_ns": t_10_00,
	"granted_at": t_10_00,
	"valid_duration": one_hour,
	"remaining_ns": t_11_00 - t_10_30,
	"claims": {},
}

base := {
	"now_ns": t_10_30,
	"resource": "staging-db",
	"request": {
		"method": "GET", "path": "/orders", "host": "db.internal", "scheme": "https",
		"protocol": "HTTP/1.1", "headers": {"host": "db.internal"},
		"source": {"address": "10.0.0.7:51234"},
	},
	"identity": null,
	"token": {"present": true, "valid": true, "error": null, "kid": "test-k1", "alg": "EdDSA"},
	"requester": {"id": "alice@example.com", "role": "developer"},
	"approval": approval,
}

# The same request against the sensitive prod-db, approved by two others with a ticket.
sensitive := object.union(base, {
	"resource": "prod-db",
	"approval": {
		"resource": "prod-db", "resources": ["prod-db"],
		"approvers": ["bob@example.com", "carol@example.com"], "ticket": "OPS-1234",
	},
})

anonymous := json.remove(base, ["approval", "requester"])

decide(inp) := d if {
	d := four_eyes.decision with input as inp with data.jitgate.four_eyes as config with time.now_ns as t_10_30
}

approvers(inp, list) := object.union(inp, {"approval": {"approvers": list}})

# --- non-sensitive resources: one approver other than the requester ---

test_one_approver_allowed if {
	decide(base) == {"allow": true, "reason": "approved by bob@example.com"}
}

test_no_approvers_claim_denied if {
	decide(json.remove(base, ["approval/approvers"])) == {
		"allow": false,
		"reason": "an approver other than the requester is required",
	}
}

test_empty_approvers_denied if {
	not decide(approvers(base, [])).allow
}

test_self_approval_denied if {
	d := decide(approvers(base, ["alice@example.com"]))
	d.allow == false
	d.reason == "an approver other than the requester is required; the requester alice@example.com cannot approve their own access"
}

test_self_approval_case_variant_denied if {
	d := decide(approvers(base, ["bob@example.com", " Alice@Example.com"]))
	d.allow == false
	contains(d.reason, "cannot approve their own access")
}

test_non_string_approvers_ignored if {
	not decide(approvers(base, [1, null, {"id": "bob@example.com"}, ""])).allow
}

test_ticket_not_required_for_non_sensitive if {
	decide(base).allow
	not base.approval.ticket
}

# --- sensitive resources: two distinct approvers, none the requester, a ticket ---

test_sensitive_two_approvers_and_ticket_allowed if {
	decide(sensitive) == {
		"allow": true,
		"reason": "four-eyes: approved by bob@example.com, carol@example.com; ticket OPS-1234",
	}
}

test_sensitive_one_approver_denied if {
	decide(approvers(sensitive, ["bob@example.com"])) == {
		"allow": false,
		"reason": "sensitive resource prod-db needs 2 distinct approvers other than the requester, got 1",
	}
}

test_sensitive_duplicate_approver_denied if {
	not decide(approvers(sensitive, ["bob@example.com", "bob@example.com"])).allow
}

test_sensitive_case_variant_duplicate_denied if {
	not decide(approvers(sensitive, ["bob@example.com", "BOB@example.com "])).allow
}

test_sensitive_requester_among_approvers_denied if {
	d := decide(approvers(sensitive, ["bob@example.com", "carol@example.com", "alice@example.com"]))
	d.allow == false
	d.reason == "the requester alice@example.com cannot approve their own access"
}

test_sensitive_requester_plus_one_denied_with_both_reasons if {
	d := decide(approvers(sensitive, ["alice@example.com", "bob@example.com"]))
	d.allow == false
	contains(d.reason, "cannot approve their own access")
	contains(d.reason, "got 1")
}

test_sensitive_ticket_missing_denied if {
	decide(json.remove(sensitive, ["approval/ticket"])) == {
		"allow": false,
		"reason": "sensitive resource prod-db needs a ticket reference",
	}
}

test_sensitive_ticket_malformed_denied if {
	every t in ["ops-1234", "OPS-", "OPS1234", "OPS-1234 drop table", "X-1", "OPS-1234\n", ""] {
		d := decide(object.union(sensitive, {"approval": {"ticket": t}}))
		d.allow == false
		contains(d.reason, "does not match the required pattern")
	}
}

test_sensitive_ticket_wrong_type_denied if {
	d := decide(object.union(sensitive, {"approval": {"ticket": 1234}}))
	d.reason == "sensitive resource prod-db needs a ticket reference"
}

test_sensitive_one_approver_no_ticket_reports_both if {
	inp := json.remove(approvers(sensitive, ["bob@example.com"]), ["approval/ticket"])
	decide(inp).reason == concat("; ", [
		"sensitive resource prod-db needs 2 distinct approvers other than the requester, got 1",
		"sensitive resource prod-db needs a ticket reference",
	])
}

test_custom_ticket_pattern if {
	cfg := object.union(config, {"ticket_pattern": `^INC[0-9]{6}$`})
	inc := object.union(sensitive, {"approval": {"ticket": "INC000123"}})
	four_eyes.allow with input as inc with data.jitgate.four_eyes as cfg with time.now_ns as t_10_30
	not four_eyes.allow with input as sensitive with data.jitgate.four_eyes as cfg with time.now_ns as t_10_30
}

test_min_approvers_can_be_raised if {
	cfg := object.union(config, {"min_approvers": 3})
	not four_eyes.allow with input as sensitive with data.jitgate.four_eyes as cfg with time.now_ns as t_10_30
	three := approvers(sensitive, ["bob@example.com", "carol@example.com", "dave@example.com"])
	four_eyes.allow with input as three with data.jitgate.four_eyes as cfg with time.now_ns as t_10_30
}

test_min_approvers_cannot_go_below_two if {
	cfg := object.union(config, {"min_approvers": 1})
	one := approvers(sensitive, ["bob@example.com"])
	not four_eyes.allow with input as one with data.jitgate.four_eyes as cfg with time.now_ns as t_10_30
}

# A multi-resource approval touching a sensitive resource needs four eyes
# even when the guarded resource itself is not on the list.
test_sensitive_via_approval_resources if {
	inp := object.union(base, {"approval": {"resources": ["staging-db", "payments-db"]}})
	d := decide(inp)
	d.allow == false
	contains(d.reason, "sensitive resource payments-db needs 2 distinct approvers")
}

test_no_sensitive_list_configured_means_one_approver if {
	one := approvers(sensitive, ["bob@example.com"])
	four_eyes.allow with input as one with time.now_ns as t_10_30
}

# --- common requirements ---

test_no_approval_denied if {
	decide(anonymous) == {"allow": false, "reason": "no verified JIT approval"}
}

test_healthz_without_token_allowed if {
	d := decide(object.union(anonymous, {"request": {"path": "/healthz"}}))
	d.allow == true
}

test_expired_window_denied if {
	d := four_eyes.decision with input as sensitive with data.jitgate.four_eyes as config with time.now_ns as t_11_01
	d == {"allow": false, "reason": "the approval window is not open at the request time"}
}

test_window_end_exclusive if {
	not four_eyes.allow with input as base with data.jitgate.four_eyes as config with time.now_ns as t_11_00
}

test_guarded_resource_not_in_approval_denied if {
	inp := object.union(base, {"resource": "other-db"})
	decide(inp).reason == `the approval does not name the guarded resource "other-db"`
}

# --- invalid configuration denies with a readable reason ---

test_invalid_configuration_denied if {
	every cfg in [
		{"sensitive_resources": "prod-db"},
		{"sensitive_resources": ["prod-db", 7]},
		{"ticket_pattern": "(["},
		{"ticket_pattern": 5},
		{"min_approvers": "3"},
	] {
		d := four_eyes.decision with input as base with data.jitgate.four_eyes as cfg with time.now_ns as t_10_30
		d.allow == false
		startswith(d.reason, "four-eyes configuration is invalid: ")
	}
}

test_invalid_ticket_pattern_reason if {
	cfg := object.union(config, {"ticket_pattern": "(["})
	d := four_eyes.decision with input as sensitive with data.jitgate.four_eyes as cfg with time.now_ns as t_10_30
	d == {"allow": false, "reason": "four-eyes configuration is invalid: ticket_pattern must be a valid regular expression"}
}

# --- identities hiding invisible or lookalike characters are denied ---

test_zero_width_second_approver_denied if {
	# One person twice: a zero-width space makes the second look distinct.
	d := decide(approvers(sensitive, ["bob@example.com", "bob\u200b@example.com"]))
	d == {
		"allow": false,
		"reason": `approver "bob\u200b@example.com" contains invisible, formatting or fullwidth characters`,
	}
}

test_invisible_or_lookalike_approver_denied if {
	every a in [
		"\ufeffbob@example.com",
		"bob@exam\u00adple.com",
		"bob\u200c@example.com",
		"bob\u200d@example.com",
		"bob\u2060@example.com",
		"\u202ebob@example.com",
		"bob@example.com\u2066",
		"bob\u200e@example.com",
		"b\u0000ob@example.com",
		"bob\u00a0@example.com",
		"\uff42ob@example.com",
	] {
		inp := approvers(sensitive, ["carol@example.com", "dave@example.com", a])
		d := decide(inp)
		d.allow == false
		d.reason == sprintf("approver %q contains invisible, formatting or fullwidth characters", [a])
	}
}

test_zero_width_requester_cannot_dodge_self_approval if {
	inp := object.union(sensitive, {"approval": {
		"subject": "alice\u200b@example.com",
		"approvers": ["alice@example.com", "bob@example.com"],
	}})
	d := decide(inp)
	d.allow == false
	d.reason == `the requester identity "alice\u200b@example.com" contains invisible, formatting or fullwidth characters`
}

test_surrounding_unicode_blanks_are_trimmed if {
	decide(approvers(base, ["\u00a0bob@example.com\u3000"])).allow
}
