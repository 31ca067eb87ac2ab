package access.break_glass_test

import data.access.break_glass

# 2026-11-26 (a Thursday), in nanoseconds since the Unix epoch.
t_10_00 := 1795687200000000000

t_10_30 := 1795689000000000000

t_11_00 := 1795690800000000000

t_11_01 := 1795690860000000000

second := 1000000000

one_hour := 3600000000000

# A verified one-hour emergency approval, 10:00-11:00.
emergency := {
	"now_ns": t_10_30,
	"resource": "prod-db",
	"request": {
		"method": "POST", "path": "/orders/7/refund", "host": "db.internal", "scheme": "https",
		"protocol": "HTTP/1.1", "headers": {"host": "db.internal"},
		"source": {"address": "10.0.0.7:51234"},
	},
	"identity": null,
	"token": {"present": true, "valid": true, "error": null, "kid": "test-k1", "alg": "EdDSA"},
	"requester": {"id": "oncall@example.com", "role": "sre"},
	"approval": {
		"id": "appr-bg-1",
		"issuer": "https://approvals.example.com",
		"subject": "oncall@example.com",
		"resource": "prod-db",
		"resources": ["prod-db"],
		"role": "sre",
		"risk": "emergency",
		"reason": "INC-42 orders stuck in refund queue",
		"not_before_ns": t_10_00,
		"expires_ns": t_11_00,
		"issued_at_ns": t_10_00,
		"granted_at": t_10_00,
		"valid_duration": one_hour,
		"remaining_ns": t_11_00 - t_10_30,
		"claims": {},
	},
}

# An ordinary approval spanning eight hours, 10:00-18:00.
normal := object.union(json.remove(emergency, ["approval/risk", "approval/reason"]), {"approval": {
	"valid_duration": 8 * one_hour,
	"expires_ns": t_10_00 + (8 * one_hour),
}})

anonymous := json.remove(emergency, ["approval", "requester"])

decide(inp) := d if {
	d := break_glass.decision with input as inp with time.now_ns as t_10_30
}

duration(inp, ns) := object.union(inp, {"approval": {"valid_duration": ns, "expires_ns": t_10_00 + ns}})

# --- emergency approvals ---

test_emergency_allowed_and_flagged if {
	decide(emergency) == {
		"allow": true,
		"reason": "break-glass: INC-42 orders stuck in refund queue",
		"headers": {"x-jit-break-glass": "true"},
	}
}

test_emergency_exactly_one_hour_allowed if {
	decide(duration(emergency, 3600 * second)).allow
}

test_emergency_short_window_allowed if {
	inp := duration(emergency, 900 * second)
	break_glass.allow with input as inp with time.now_ns as t_10_00 + (600 * second)
}

test_emergency_one_second_over_denied if {
	d := decide(duration(emergency, 3601 * second))
	d.allow == false
	d.reason == `break-glass denied: the emergency window of 3601 s exceeds the 3600 s maximum; reason given: "INC-42 orders stuck in refund queue"`
	not d.headers
}

test_emergency_two_hours_denied if {
	not decide(duration(emergency, 2 * one_hour)).allow
}

test_emergency_without_reason_denied if {
	decide(json.remove(emergency, ["approval/reason"])) == {
		"allow": false,
		"reason": "break-glass denied: an emergency approval needs a reason",
	}
}

test_emergency_blank_reason_denied if {
	not decide(object.union(emergency, {"approval": {"reason": "   "}})).allow
}

test_emergency_non_string_reason_denied if {
	not decide(object.union(emergency, {"approval": {"reason": {"text": "x"}}})).allow
}

test_emergency_too_long_and_no_reason_reports_both if {
	inp := json.remove(duration(emergency, 2 * one_hour), ["approval/reason"])
	decide(inp).reason == "break-glass denied: an emergency approval needs a reason; the emergency window of 7200 s exceeds the 3600 s maximum"
}

test_emergency_spelling_variants_are_emergency if {
	every risk in ["Emergency", "EMERGENCY", " emergency "] {
		inp := object.union(duration(emergency, 8 * one_hour), {"approval": {"risk": risk}})
		d := decide(inp)
		d.allow == false
		startswith(d.reason, "break-glass denied: ")
	}
}

test_emergency_outside_window_denied if {
	d := break_glass.decision with input as emergency with time.now_ns as t_11_01
	d.allow == false
	d.reason == `break-glass denied: the approval window is not open at the request time; reason given: "INC-42 orders stuck in refund queue"`
}

test_emergency_long_reason_truncated if {
	long := concat("", [x | some _ in numbers.range(1, 300); x := "x"])
	d := decide(object.union(emergency, {"approval": {"reason": long}}))
	d.allow
	count(d.reason) == count("break-glass: ") + 200 + count("…")
	endswith(d.reason, "x…")
}

test_configured_max_window if {
	half := duration(emergency, 1800 * second)
	longer := duration(emergency, 2400 * second)
	t_10_10 := t_10_00 + (600 * second)
	break_glass.allow with input as half with data.jitgate.break_glass.max_window_seconds as 1800 with time.now_ns as t_10_10
	not break_glass.allow with input as longer with data.jitgate.break_glass.max_window_seconds as 1800 with time.now_ns as t_10_10
}

# --- ordinary approvals: the normal window check only ---

test_normal_long_window_allowed if {
	decide(normal) == {"allow": true, "reason": "approved, not break-glass"}
}

test_other_risk_levels_are_normal if {
	every risk in ["low", "high", "critical"] {
		d := decide(object.union(normal, {"approval": {"risk": risk}}))
		d == {"allow": true, "reason": "approved, not break-glass"}
	}
}

test_non_string_risk_is_normal if {
	decide(object.union(normal, {"approval": {"risk": 5}})).allow
}

test_normal_outside_window_denied if {
	d := break_glass.decision with input as normal with time.now_ns as t_10_00 - 1
	d == {"allow": false, "reason": "the approval window is not open at the request time"}
}

test_normal_window_end_exclusive if {
	not break_glass.allow with input as normal with time.now_ns as t_10_00 + (8 * one_hour)
}

# --- common requirements ---

test_no_approval_denied if {
	decide(anonymous) == {"allow": false, "reason": "no verified JIT approval"}
}

test_healthz_without_token_allowed if {
	decide(object.union(anonymous, {"request": {"method": "GET", "path": "/healthz"}})).allow
}

test_guarded_resource_not_in_approval_denied if {
	d := decide(object.union(emergency, {"resource": "billing-db"}))
	d.allow == false
	contains(d.reason, `the approval does not name the guarded resource "billing-db"`)
	startswith(d.reason, "break-glass denied: ")
}

test_invalid_max_window_denies_emergencies_only if {
	every bad in ["3600", 0, -1, null] {
		d := break_glass.decision with input as emergency with data.jitgate.break_glass.max_window_seconds as bad with time.now_ns as t_10_30
		d.allow == false
		startswith(d.reason, "break-glass denied: break-glass configuration is invalid: max_window_seconds must be a positive number")
		break_glass.allow with input as normal with data.jitgate.break_glass.max_window_seconds as bad with time.now_ns as t_10_30
	}
}

# --- a risk hiding invisible or lookalike characters is denied ---

test_zero_width_in_risk_denied if {
	# "emer\u200bgency" must not pass as an ordinary 8 h approval.
	inp := object.union(duration(emergency, 8 * one_hour), {"approval": {"risk": "emer\u200bgency"}})
	decide(inp) == {
		"allow": false,
		"reason": concat("", [
			`break-glass denied: the emergency window of 28800 s exceeds the 3600 s maximum; `,
			`the risk claim "emer\u200bgency" contains invisible, formatting or fullwidth characters; `,
			`reason given: "INC-42 orders stuck in refund queue"`,
		]),
	}
}

test_invisible_or_lookalike_risk_denied if {
	every risk in [
		"\ufeffemergency", "emergency\u200d", "emer\u00adgency", "\u202eemergency", "emer\u2060gency",
		"\u2066emergency\u2069", "\uff45mergency", "emer\u00a0gency", "low\u200b", "\u200b",
	] {
		inp := object.union(emergency, {"approval": {"risk": risk}})
		d := decide(inp)
		d.allow == false
		contains(d.reason, sprintf("the risk claim %q contains invisible, formatting or fullwidth characters", [risk]))
		not d.headers
	}
}

test_zero_width_only_reason_is_no_reason if {
	d := decide(object.union(emergency, {"approval": {"reason": "\u200b\u2060 \ufeff"}}))
	d == {"allow": false, "reason": "break-glass denied: an emergency approval needs a reason"}
}

test_bidi_controls_removed_from_quoted_reason if {
	d := decide(object.union(emergency, {"approval": {"reason": "INC-42 \u202erefund\u202c queue"}}))
	d.allow == true
	d.reason == "break-glass: INC-42 refund queue"
}
