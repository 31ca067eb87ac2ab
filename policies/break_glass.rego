# METADATA
# title: jitgate break-glass policy
# description: |
#   Emergency ("break-glass") approvals — `risk: "emergency"` — are allowed
#   only for a short window (at most 1 hour by default) and only with a
#   `reason`; they are always flagged: the result's `reason` reads
#   "break-glass: <approval reason>" even when allowed, so every emergency
#   access is visible in the audit record, and allowed requests carry
#   `x-jit-break-glass: true` upstream. Other approvals follow the normal
#   window check. A `risk` containing invisible, formatting, control,
#   Unicode-space or fullwidth characters (`emer\u200bgency`) is denied.
#   Entrypoint: data.access.break_glass.decision
#   ({"allow": bool, "reason": string, "headers"?: object}).
#
#   Data (optional):
#     data.jitgate.break_glass.max_window_seconds  longest emergency window (default 3600)
package access.break_glass

# --- configuration -----------------------------------------------------------

default max_window_seconds := 3600

max_window_seconds := data.jitgate.break_glass.max_window_seconds

max_window_ns := max_window_seconds * 1000000000 if valid_max_window

# A bad value denies every emergency approval with a reason saying why.
valid_max_window if {
	is_number(max_window_seconds)
	max_window_seconds > 0
}

# Emergency reasons are quoted into the decision reason (and so the audit
# record and the client's error message); longer ones are cut here.
max_reason_chars := 200

# --- decision ----------------------------------------------------------------

decision := {"allow": true, "reason": reason, "headers": {"x-jit-break-glass": "true"}} if {
	allow
	emergency
} else := {"allow": allow, "reason": reason}

default allow := false

allow if health_check

allow if {
	verified
	not emergency
	not unsafe_risk
	in_window
	resource_covered
}

allow if {
	verified
	emergency
	not unsafe_risk
	in_window
	resource_covered
	emergency_window_ok
	has_reason
}

reason := "health check" if {
	health_check
} else := "no verified JIT approval" if {
	not verified
} else := sprintf("break-glass: %s", [quoted_reason]) if {
	emergency
	allow
} else := sprintf("break-glass denied: %s; reason given: %q", [concat("; ", sort(violations)), quoted_reason]) if {
	emergency
	count(violations) > 0
	has_reason
} else := sprintf("break-glass denied: %s", [concat("; ", sort(violations))]) if {
	emergency
	count(violations) > 0
} else := "break-glass denied" if {
	emergency
} else := concat("; ", sort(violations)) if {
	count(violations) > 0
} else := "approved, not break-glass" if {
	allow
} else := "denied by the break-glass policy"

# --- requirements --------------------------------------------------------------

violations contains "the approval window is not open at the request time" if not in_window

violations contains sprintf("the approval does not name the guarded resource %q", [input.resource]) if not resource_covered

violations contains "break-glass configuration is invalid: max_window_seconds must be a positive number" if {
	emergency
	not valid_max_window
}

violations contains msg if {
	emergency
	valid_max_window
	not emergency_window_ok
	msg := sprintf(
		"the emergency window of %d s exceeds the %d s maximum",
		[input.approval.valid_duration / 1000000000, max_window_seconds],
	)
}

violations contains sprintf("the risk claim %q contains invisible, formatting or fullwidth characters", [input.approval.risk]) if {
	unsafe_risk
}

violations contains "an emergency approval needs a reason" if {
	emergency
	not has_reason
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

# Any spelling of "emergency" counts: treating "Emergency" as an ordinary
# approval would let it dodge the limits below. Invisible characters are
# removed first, so "emer\u200bgency" is an emergency (and denied below for
# containing them, with the break-glass flag in its reason).
emergency if {
	is_string(input.approval.risk)
	lower(trim_space(regex.replace(input.approval.risk, invisible_chars, ""))) == "emergency"
}

# A risk that hides or disguises characters is denied, emergency or not:
# another system (the approval UI, a report, business_hours.rego) may read it
# as a different level than this policy does.
unsafe_risk if {
	is_string(input.approval.risk)
	regex.match(unsafe_risk_chars, trim_space(input.approval.risk))
}

# Default-ignorable characters that render as nothing: the soft hyphen,
# zero-width characters (U+200B-U+200D, U+2060, U+FEFF), bidi marks,
# embeddings, overrides and isolates (U+200E, U+200F, U+061C, U+202A-U+202E,
# U+2066-U+2069), invisible operators, fillers, variation selectors and tag
# characters.
invisible_chars := concat("", [
	`[\x{00AD}\x{034F}\x{061C}\x{115F}\x{1160}\x{17B4}\x{17B5}\x{180B}-\x{180F}\x{200B}-\x{200F}`,
	`\x{202A}-\x{202E}\x{2060}-\x{206F}\x{3164}\x{FE00}-\x{FE0F}\x{FEFF}\x{FFA0}\x{FFF0}-\x{FFFB}`,
	`\x{1D173}-\x{1D17A}\x{E0000}-\x{E0FFF}]`,
])

# For `risk`, also C0/C1 controls, Unicode spaces and the fullwidth/halfwidth
# forms block (U+FF00-U+FFEF: "ｅｍｅｒｇｅｎｃｙ" folds to "emergency" under NFKC).
unsafe_risk_chars := concat("", [
	`[\x{0000}-\x{001F}\x{007F}-\x{00A0}\x{00AD}\x{034F}\x{061C}\x{115F}\x{1160}\x{1680}`,
	`\x{17B4}\x{17B5}\x{180B}-\x{180F}\x{2000}-\x{200F}\x{2028}-\x{202F}\x{205F}-\x{206F}`,
	`\x{3000}\x{3164}\x{FE00}-\x{FE0F}\x{FEFF}\x{FF00}-\x{FFEF}\x{FFF0}-\x{FFFB}`,
	`\x{1D173}-\x{1D17A}\x{E0000}-\x{E0FFF}]`,
])

emergency_window_ok if input.approval.valid_duration <= max_window_ns

# Invisible characters are removed from the reason: one made only of them is
# no reason, and bidi controls must not reorder what the audit record shows.
approval_reason := trim_space(regex.replace(input.approval.reason, invisible_chars, "")) if is_string(input.approval.reason)

has_reason if approval_reason != ""

quoted_reason := r if {
	count(approval_reason) <= max_reason_chars
	r := approval_reason
} else := sprintf("%s…", [substring(approval_reason, 0, max_reason_chars)])
