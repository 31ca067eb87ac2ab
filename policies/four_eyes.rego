# METADATA
# title: jitgate four-eyes policy
# description: |
#   Every approval needs at least one approver other than the requester.
#   Approvals touching a sensitive resource need at least two distinct
#   approvers, none of them the requester, and a ticket reference. A
#   requester or approver identity containing invisible, formatting, control,
#   Unicode-space or fullwidth characters is denied (`bob\u200b@example.com`
#   must not count as a second person).
#   Entrypoint: data.access.four_eyes.decision
#   ({"allow": bool, "reason": string}).
#
#   Data (all optional):
#     data.jitgate.four_eyes.sensitive_resources  array of resource names (default [])
#     data.jitgate.four_eyes.ticket_pattern       regex a ticket must match
#                                                 (default ^[A-Z][A-Z0-9]+-[0-9]+$)
#     data.jitgate.four_eyes.min_approvers        approvers for sensitive resources
#                                                 (default 2; values below 2 count as 2)
package access.four_eyes

# --- configuration -----------------------------------------------------------

default sensitive_resources := []

sensitive_resources := data.jitgate.four_eyes.sensitive_resources

default ticket_pattern := `^[A-Z][A-Z0-9]+-[0-9]+$`

ticket_pattern := data.jitgate.four_eyes.ticket_pattern

# Four eyes means at least two: a smaller configured value cannot weaken it.
default min_approvers := 2

min_approvers := max([2, data.jitgate.four_eyes.min_approvers]) if is_number(data.jitgate.four_eyes.min_approvers)

# A bad configuration denies, with a reason saying what is wrong, rather than
# failing with an engine error; rules using a configured value check it first.
config_errors contains "sensitive_resources must be an array of strings" if not valid_sensitive_resources

config_errors contains "ticket_pattern must be a valid regular expression" if not valid_ticket_pattern

config_errors contains "min_approvers must be a number" if {
	configured := data.jitgate.four_eyes.min_approvers
	not is_number(configured)
}

valid_sensitive_resources if {
	is_array(sensitive_resources)
	every r in sensitive_resources {
		is_string(r)
	}
}

valid_ticket_pattern if {
	is_string(ticket_pattern)
	regex.is_valid(ticket_pattern)
}

# --- decision ----------------------------------------------------------------

decision := {"allow": allow, "reason": reason}

default allow := false

allow if health_check

# Allow is built from positive requirements only; `violations` below explains
# a denial and can never turn one into an allow.
allow if {
	verified
	count(config_errors) == 0
	in_window
	resource_covered
	not self_approved
	not unsafe_requester
	count(unsafe_approvers) == 0
	count(independent_approvers) >= required_approvers
	ticket_ok
	count(violations) == 0
}

reason := "health check" if {
	health_check
} else := "no verified JIT approval" if {
	not verified
} else := concat("; ", sort(violations)) if {
	count(violations) > 0
} else := allow_reason if {
	allow
} else := "denied by the four-eyes policy"

allow_reason := sprintf("four-eyes: approved by %s; ticket %s", [concat(", ", sort(independent_approvers)), input.approval.ticket]) if {
	sensitive
} else := sprintf("approved by %s", [concat(", ", sort(independent_approvers))]) if {
	not sensitive
}

# --- requirements --------------------------------------------------------------

# Each requirement is a positive rule; a violation is its absence, so a
# missing or mistyped claim denies instead of slipping through.

violations contains sprintf("four-eyes configuration is invalid: %s", [e]) if some e in config_errors

violations contains "the approval window is not open at the request time" if not in_window

violations contains sprintf("the approval does not name the guarded resource %q", [input.resource]) if not resource_covered

violations contains sprintf("the requester %s cannot approve their own access", [input.approval.subject]) if self_approved

violations contains sprintf("the requester identity %q contains invisible, formatting or fullwidth characters", [input.approval.subject]) if {
	unsafe_requester
}

violations contains sprintf("approver %q contains invisible, formatting or fullwidth characters", [a]) if {
	some a in unsafe_approvers
}

violations contains msg if {
	sensitive
	count(independent_approvers) < min_approvers
	msg := sprintf(
		"sensitive resource %s needs %d distinct approvers other than the requester, got %d",
		[concat(", ", sorted_sensitive_hits), min_approvers, count(independent_approvers)],
	)
}

violations contains "an approver other than the requester is required" if {
	not sensitive
	count(independent_approvers) < 1
}

violations contains sprintf("sensitive resource %s needs a ticket reference", [concat(", ", sorted_sensitive_hits)]) if {
	sensitive
	not is_string(input.approval.ticket)
}

violations contains sprintf("ticket %q does not match the required pattern %s", [input.approval.ticket, ticket_pattern]) if {
	sensitive
	valid_ticket_pattern
	is_string(input.approval.ticket)
	not regex.match(ticket_pattern, input.approval.ticket)
}

# --- helpers -------------------------------------------------------------------

required_approvers := min_approvers if sensitive

required_approvers := 1 if not sensitive

ticket_ok if not sensitive

ticket_ok if {
	valid_ticket_pattern
	is_string(input.approval.ticket)
	regex.match(ticket_pattern, input.approval.ticket)
}

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

# The approval must name the resource this filter guards, when one is
# configured (the token layer checks this too; the policy does not rely on it).
resource_covered if not is_string(input.resource)

resource_covered if input.resource in input.approval.resources

# Identities are compared case-insensitively and without surrounding blanks,
# so "Bob@example.com" and "bob@example.com " count as one person.
normalize(id) := lower(trim_space(id))

requester := normalize(input.approval.subject)

approvers contains normalize(a) if {
	is_array(input.approval.approvers)
	some a in input.approval.approvers
	is_string(a)
	normalize(a) != ""
}

# Characters that render as nothing or as an ASCII lookalike, and that other
# systems drop or fold (Unicode default-ignorable stripping, NFKC): with them
# one person could appear as two distinct approvers ("bob@example.com" and
# "bob\u200b@example.com" or "ｂob@example.com"), or the requester could
# dodge the self-approval check. An identity containing one, after trimming
# surrounding blanks, is not normalised but denied: C0/C1 controls, Unicode
# spaces, the soft hyphen, zero-width characters (U+200B-U+200D, U+2060,
# U+FEFF), bidi marks, embeddings, overrides and isolates (U+200E, U+200F,
# U+061C, U+202A-U+202E, U+2066-U+2069), invisible operators, fillers,
# variation selectors, tag characters and the fullwidth/halfwidth forms block
# (U+FF00-U+FFEF).
unsafe_identity_chars := concat("", [
	`[\x{0000}-\x{001F}\x{007F}-\x{00A0}\x{00AD}\x{034F}\x{061C}\x{115F}\x{1160}\x{1680}`,
	`\x{17B4}\x{17B5}\x{180B}-\x{180F}\x{2000}-\x{200F}\x{2028}-\x{202F}\x{205F}-\x{206F}`,
	`\x{3000}\x{3164}\x{FE00}-\x{FE0F}\x{FEFF}\x{FF00}-\x{FFEF}\x{FFF0}-\x{FFFB}`,
	`\x{1D173}-\x{1D17A}\x{E0000}-\x{E0FFF}]`,
])

unsafe_identity(id) if regex.match(unsafe_identity_chars, normalize(id))

unsafe_requester if {
	is_string(input.approval.subject)
	unsafe_identity(input.approval.subject)
}

unsafe_approvers contains a if {
	is_array(input.approval.approvers)
	some a in input.approval.approvers
	is_string(a)
	unsafe_identity(a)
}

self_approved if requester in approvers

independent_approvers := approvers - {requester}

# Sensitive when the approval or the guarded resource is on the list.
sensitive_hits contains r if {
	valid_sensitive_resources
	some r in input.approval.resources
	r in sensitive_resources
}

sensitive_hits contains input.resource if {
	valid_sensitive_resources
	is_string(input.resource)
	input.resource in sensitive_resources
}

sorted_sensitive_hits := sort(sensitive_hits)

sensitive if count(sensitive_hits) > 0
