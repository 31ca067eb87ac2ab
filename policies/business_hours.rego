# METADATA
# title: jitgate business-hours policy
# description: |
#   Ordinary (non-emergency) approvals are usable only during business hours:
#   on a configured working day, between start_hour (inclusive) and end_hour
#   (exclusive), in a fixed UTC offset, and not on a listed holiday.
#   Emergency approvals (`risk: "emergency"`) are exempt; every approval still
#   needs its window open and must name the guarded resource.
#   Entrypoint: data.access.business_hours.decision
#   ({"allow": bool, "reason": string}).
#
#   Data (all optional):
#     data.jitgate.business_hours.utc_offset_minutes  e.g. 60 for UTC+01:00 (default 0)
#     data.jitgate.business_hours.days                weekday names (default Monday-Friday)
#     data.jitgate.business_hours.start_hour          0-23 (default 9)
#     data.jitgate.business_hours.end_hour            1-24, after start_hour (default 17)
#     data.jitgate.business_hours.holidays            local dates "YYYY-MM-DD" (default [])
#
#   The offset is fixed: only the "UTC" time zone is used, so a team that
#   observes daylight saving time updates utc_offset_minutes when it changes.
package access.business_hours

# --- configuration -----------------------------------------------------------

default utc_offset_minutes := 0

utc_offset_minutes := data.jitgate.business_hours.utc_offset_minutes

default days := ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

days := data.jitgate.business_hours.days

default start_hour := 9

start_hour := data.jitgate.business_hours.start_hour

default end_hour := 17

end_hour := data.jitgate.business_hours.end_hour

default holidays := []

holidays := data.jitgate.business_hours.holidays

# A bad configuration denies every request that needs business hours, with
# a reason saying what is wrong, rather than failing with an engine error.
# Every rule below that uses a configured value is guarded by its check, so
# no rule of this package can raise an evaluation error.
config_errors contains "utc_offset_minutes must be an integer between -720 and 840" if {
	not valid_offset
}

config_errors contains "start_hour and end_hour must be integers with 0 <= start_hour < end_hour <= 24" if {
	not valid_hours
}

config_errors contains "days must be an array of weekday names" if {
	not valid_days
}

config_errors contains "holidays must be an array of \"YYYY-MM-DD\" strings" if {
	not valid_holidays
}

valid_offset if {
	is_integer(utc_offset_minutes)
	utc_offset_minutes >= -720
	utc_offset_minutes <= 840
}

valid_hours if {
	is_integer(start_hour)
	is_integer(end_hour)
	0 <= start_hour
	start_hour < end_hour
	end_hour <= 24
}

weekday_names := {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

valid_days if {
	is_array(days)
	every d in days {
		is_string(d)
		lower(d) in weekday_names
	}
}

valid_holidays if {
	is_array(holidays)
	every h in holidays {
		is_string(h)
		regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, h)
	}
}

is_integer(x) if {
	is_number(x)
	x == floor(x)
}

# --- decision ----------------------------------------------------------------

decision := {"allow": allow, "reason": reason}

default allow := false

allow if health_check

allow if {
	verified
	in_window
	resource_covered
	emergency
}

allow if {
	verified
	in_window
	resource_covered
	not emergency
	count(config_errors) == 0
	business_time
}

reason := "health check" if {
	health_check
} else := "no verified JIT approval" if {
	not verified
} else := concat("; ", sort(violations)) if {
	count(violations) > 0
} else := "emergency approval: business hours do not apply" if {
	allow
	emergency
} else := sprintf("within business hours (%s)", [local_time_text]) if {
	allow
} else := "denied by the business-hours policy"

# --- requirements --------------------------------------------------------------

violations contains "the approval window is not open at the request time" if not in_window

violations contains sprintf("the approval does not name the guarded resource %q", [input.resource]) if not resource_covered

violations contains sprintf("business-hours configuration is invalid: %s", [e]) if {
	not emergency
	some e in config_errors
}

violations contains msg if {
	not emergency
	count(config_errors) == 0
	not business_time
	valid_days
	msg := sprintf("outside business hours: %s; access is allowed %s %02d:00-%02d:00%s", [
		local_time_text, concat(", ", days), start_hour, end_hour, holiday_note,
	])
}

# --- helpers -------------------------------------------------------------------

verified if is_object(input.approval)

path := split(input.request.path, "?")[0]

health_check if {
	input.request.method in {"GET", "HEAD"}
	path == "/healthz"
}

in_window if {
	now := time.now_ns()
	input.approval.granted_at <= now
	now < input.approval.granted_at + input.approval.valid_duration
}

resource_covered if not is_string(input.resource)

resource_covered if input.resource in input.approval.resources

# Exactly "emergency", as the approval service issues it.
emergency if input.approval.risk == "emergency"

# The request time shifted into the configured offset; "UTC" is then the
# only time zone the time builtins need.
local_ns := time.now_ns() + ((utc_offset_minutes * 60) * 1000000000) if valid_offset

local_clock := time.clock([local_ns, "UTC"])

local_weekday := time.weekday([local_ns, "UTC"])

local_date := sprintf("%04d-%02d-%02d", time.date([local_ns, "UTC"]))

business_day if {
	valid_days
	lower(local_weekday) in {lower(d) | some d in days}
}

business_hour if {
	valid_hours
	start_hour <= local_clock[0]
	local_clock[0] < end_hour
}

holiday if {
	valid_holidays
	local_date in holidays
}

business_time if {
	business_day
	business_hour
	not holiday
}

holiday_note := ", except on holidays (today is one)" if holiday

holiday_note := "" if not holiday

offset_sign := "+" if utc_offset_minutes >= 0

offset_sign := "-" if utc_offset_minutes < 0

offset_abs := abs(utc_offset_minutes) if valid_offset

offset_text := sprintf("UTC%s%02d:%02d", [offset_sign, floor(offset_abs / 60), offset_abs % 60])

local_time_text := sprintf("%s %s %02d:%02d %s", [local_weekday, local_date, local_clock[0], local_clock[1], offset_text])
