package access.business_hours_test

import data.access.business_hours

second := 1000000000

minute := 60 * second

hour := 60 * minute

# Reference points, in nanoseconds since the Unix epoch (UTC).
thu_09_00 := 1795683600000000000 # Thursday 2026-11-26 09:00:00Z

thu_10_30 := thu_09_00 + (90 * minute)

fri_23_30 := thu_09_00 + (38 * hour) + (30 * minute) # Friday 2026-11-27 23:30Z

sat_10_30 := thu_10_30 + (48 * hour) # Saturday 2026-11-28

sun_23_30 := fri_23_30 + (48 * hour) # Sunday 2026-11-29 23:30Z

approval := {
	"id": "appr-bh-1",
	"issuer": "https://approvals.example.com",
	"subject": "alice@example.com",
	"resource": "orders-db",
	"resources": ["orders-db"],
	"role": "developer",
	"risk": "low",
	"claims": {},
}

# A verified request at `now`, with an approval window open from an hour before
# to an hour after it.
at(now) := {
	"now_ns": now,
	"resource": "orders-db",
	"request": {
		"method": "GET", "path": "/orders", "host": "db.internal", "scheme": "https",
		"protocol": "HTTP/1.1", "headers": {"host": "db.internal"},
		"source": {"address": "10.0.0.7:51234"},
	},
	"identity": null,
	"token": {"present": true, "valid": true, "error": null, "kid": "test-k1", "alg": "EdDSA"},
	"requester": {"id": "alice@example.com", "role": "developer"},
	"approval": object.union(approval, {
		"not_before_ns": now - hour, "expires_ns": now + hour, "issued_at_ns": now - hour,
		"granted_at": now - hour, "valid_duration": 2 * hour, "remaining_ns": hour,
	}),
}

emergency_at(now) := object.union(at(now), {"approval": {"risk": "emergency", "reason": "INC-7"}})

decide(now) := decide_cfg(at(now), now, {})

decide_cfg(inp, now, cfg) := d if {
	d := business_hours.decision with input as inp with data.jitgate.business_hours as cfg with time.now_ns as now
}

allowed_cfg(now, cfg) if decide_cfg(at(now), now, cfg).allow

# --- defaults: Monday-Friday 09:00-17:00 UTC ---

test_weekday_inside_hours_allowed if {
	decide(thu_10_30) == {"allow": true, "reason": "within business hours (Thursday 2026-11-26 10:30 UTC+00:00)"}
}

test_start_hour_inclusive if {
	decide(thu_09_00).allow
	not decide(thu_09_00 - 1).allow
}

test_end_hour_exclusive if {
	decide((thu_09_00 + (8 * hour)) - 1).allow # 16:59:59.999999999
	not decide(thu_09_00 + (8 * hour)).allow # 17:00
}

test_after_hours_denied_with_reason if {
	decide(fri_23_30) == {
		"allow": false,
		"reason": "outside business hours: Friday 2026-11-27 23:30 UTC+00:00; access is allowed Monday, Tuesday, Wednesday, Thursday, Friday 09:00-17:00",
	}
}

test_weekend_denied if {
	not decide(sat_10_30).allow
	not decide(sat_10_30 + (24 * hour)).allow
}

# --- the UTC offset moves both the hour and the day ---

test_offset_new_york if {
	cfg := {"utc_offset_minutes": -300}
	allowed_cfg(thu_09_00 + (5 * hour) + (30 * minute), cfg) # 14:30Z = 09:30 local
	not allowed_cfg(thu_09_00 + (4 * hour) + (30 * minute), cfg) # 13:30Z = 08:30 local
	allowed_cfg(thu_09_00 + (12 * hour) + (30 * minute), cfg) # 21:30Z = 16:30 local
	not allowed_cfg(thu_10_30, cfg) # 05:30 local
}

test_offset_half_hour if {
	cfg := {"utc_offset_minutes": 330}
	allowed_cfg(thu_09_00 - (5 * hour) - (30 * minute), cfg) # 03:30Z = 09:00 local
	not allowed_cfg((thu_09_00 - (5 * hour) - (30 * minute)) - 1, cfg)
	d := decide_cfg(at(fri_23_30), fri_23_30, cfg)
	d.reason == "outside business hours: Saturday 2026-11-28 05:00 UTC+05:30; access is allowed Monday, Tuesday, Wednesday, Thursday, Friday 09:00-17:00"
}

test_offset_negative_half_hour_text if {
	cfg := {"utc_offset_minutes": -570}
	d := decide_cfg(at(thu_09_00), thu_09_00, cfg)
	d.reason == "outside business hours: Wednesday 2026-11-25 23:30 UTC-09:30; access is allowed Monday, Tuesday, Wednesday, Thursday, Friday 09:00-17:00"
}

test_offset_crosses_into_weekend if {
	# Friday 23:30Z is already Saturday 00:30 in UTC+01:00 ...
	not allowed_cfg(fri_23_30, {"utc_offset_minutes": 60, "start_hour": 0, "end_hour": 24})

	# ... but still Friday in UTC with the same hours.
	allowed_cfg(fri_23_30, {"start_hour": 0, "end_hour": 24})
}

test_offset_crosses_into_monday if {
	# Sunday 23:30Z is Monday 09:30 in UTC+10:00.
	allowed_cfg(sun_23_30, {"utc_offset_minutes": 600})
	not decide(sun_23_30).allow
}

# --- configured days, hours and holidays ---

test_configured_days if {
	cfg := {"days": ["saturday", "Sunday"]}
	allowed_cfg(sat_10_30, cfg)
	not allowed_cfg(thu_10_30, cfg)
}

test_configured_hours if {
	cfg := {"start_hour": 7, "end_hour": 24}
	allowed_cfg(thu_09_00 - (2 * hour), cfg)
	allowed_cfg((thu_09_00 + (15 * hour)) - 1, cfg) # 23:59:59.999999999
	not allowed_cfg((thu_09_00 - (2 * hour)) - 1, cfg)
}

test_holiday_denied if {
	cfg := {"holidays": ["2026-11-26"]}
	d := decide_cfg(at(thu_10_30), thu_10_30, cfg)
	d.allow == false
	endswith(d.reason, "09:00-17:00, except on holidays (today is one)")
	allowed_cfg(thu_10_30 + (24 * hour), cfg)
}

test_holiday_uses_local_date if {
	# Wednesday 23:30Z is Thursday 09:30 in UTC+10:00: the Thursday holiday applies.
	wed_23_30 := (thu_09_00 - (9 * hour)) - (30 * minute)
	allowed_cfg(wed_23_30, {"utc_offset_minutes": 600})
	not allowed_cfg(wed_23_30, {"utc_offset_minutes": 600, "holidays": ["2026-11-26"]})
}

# --- invalid configuration denies with a readable reason ---

test_invalid_configuration_denied if {
	every cfg in [
		{"start_hour": 17, "end_hour": 9},
		{"start_hour": 9, "end_hour": 25},
		{"start_hour": 8.5},
		{"utc_offset_minutes": 900},
		{"utc_offset_minutes": "60"},
		{"days": ["Funday"]},
		{"days": "Monday"},
		{"holidays": "2026-12-25"},
		{"holidays": ["25.12.2026"]},
	] {
		d := decide_cfg(at(thu_10_30), thu_10_30, cfg)
		d.allow == false
		startswith(d.reason, "business-hours configuration is invalid: ")
	}
}

test_invalid_hours_reason if {
	d := decide_cfg(at(thu_10_30), thu_10_30, {"start_hour": 17, "end_hour": 9})
	d.reason == "business-hours configuration is invalid: start_hour and end_hour must be integers with 0 <= start_hour < end_hour <= 24"
}

# --- emergency approvals are exempt ---

test_emergency_on_weekend_allowed if {
	d := decide_cfg(emergency_at(sat_10_30), sat_10_30, {})
	d == {"allow": true, "reason": "emergency approval: business hours do not apply"}
}

test_emergency_exempt_even_with_invalid_configuration if {
	decide_cfg(emergency_at(fri_23_30), fri_23_30, {"start_hour": 17, "end_hour": 9}).allow
}

test_emergency_match_is_exact if {
	inp := object.union(at(sat_10_30), {"approval": {"risk": "EMERGENCY"}})
	not decide_cfg(inp, sat_10_30, {}).allow
}

test_emergency_still_needs_window if {
	inp := emergency_at(sat_10_30)
	d := decide_cfg(inp, sat_10_30 + (2 * hour), {})
	d == {"allow": false, "reason": "the approval window is not open at the request time"}
}

# --- common requirements ---

test_window_checked_inside_hours if {
	inp := at(thu_10_30)
	d := decide_cfg(inp, thu_10_30 + hour, {})
	d == {"allow": false, "reason": "the approval window is not open at the request time"}
}

test_no_approval_denied if {
	inp := json.remove(at(thu_10_30), ["approval", "requester"])
	decide_cfg(inp, thu_10_30, {}) == {"allow": false, "reason": "no verified JIT approval"}
}

test_healthz_on_weekend_without_token_allowed if {
	inp := object.union(json.remove(at(sat_10_30), ["approval", "requester"]), {"request": {"path": "/healthz"}})
	decide_cfg(inp, sat_10_30, {}) == {"allow": true, "reason": "health check"}
}

test_guarded_resource_not_in_approval_denied if {
	inp := object.union(at(thu_10_30), {"resource": "billing-db"})
	decide_cfg(inp, thu_10_30, {}).reason == `the approval does not name the guarded resource "billing-db"`
}

test_emergency_still_needs_guarded_resource if {
	inp := object.union(emergency_at(sat_10_30), {"resource": "billing-db"})
	d := decide_cfg(inp, sat_10_30, {})
	d == {"allow": false, "reason": `the approval does not name the guarded resource "billing-db"`}
}
