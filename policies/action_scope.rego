# METADATA
# title: jitgate action-scope policy
# description: |
#   The approval's `actions` bound the HTTP methods the requester may use:
#   read -> GET, HEAD, OPTIONS; write -> POST, PUT, PATCH; delete -> DELETE;
#   admin -> every method. An approval without `actions` grants no method.
#   Entrypoint: data.access.action_scope.decision
#   ({"allow": bool, "reason": string}).
#
#   Data (optional):
#     data.jitgate.action_scope.action_methods  object action -> array of methods
#                                               ("*" = every method); replaces
#                                               the default mapping as a whole
package access.action_scope

# --- configuration -----------------------------------------------------------

# OPTIONS is a safe, read-only method (RFC 9110 §9.2.1), so `read` covers it
# (CORS preflights included). TRACE and CONNECT need `admin`.
default action_methods := {
	"read": ["GET", "HEAD", "OPTIONS"],
	"write": ["POST", "PUT", "PATCH"],
	"delete": ["DELETE"],
	"admin": ["*"],
}

action_methods := data.jitgate.action_scope.action_methods

# A bad mapping denies, with a reason saying what is wrong, rather than
# failing with an engine error; rules iterating the mapping check it first.
valid_mapping if {
	is_object(action_methods)
	every _, methods in action_methods {
		is_array(methods)
		every m in methods {
			is_string(m)
		}
	}
}

# --- decision ----------------------------------------------------------------

decision := {"allow": allow, "reason": reason}

default allow := false

allow if health_check

# Allow is built from positive requirements only; `violations` below explains
# a denial and can never turn one into an allow.
allow if {
	verified
	valid_mapping
	in_window
	resource_covered
	method_granted
	count(violations) == 0
}

reason := "health check" if {
	health_check
} else := "no verified JIT approval" if {
	not verified
} else := concat("; ", sort(violations)) if {
	count(violations) > 0
} else := sprintf("method %s allowed by actions %s", [method, granted_list]) if {
	allow
} else := "denied by the action-scope policy"

# --- requirements --------------------------------------------------------------

violations contains "action-scope configuration is invalid: action_methods must map action names to arrays of method names" if {
	not valid_mapping
}

violations contains "the approval window is not open at the request time" if not in_window

violations contains sprintf("the approval does not name the guarded resource %q", [input.resource]) if not resource_covered

violations contains msg if {
	valid_mapping
	not method_granted
	msg := sprintf("method %s is not covered by the approved actions %s (needs %s)", [method, granted_list, needed_list])
}

# --- helpers -------------------------------------------------------------------

verified if is_object(input.approval)

method := input.request.method

path := split(input.request.path, "?")[0]

health_check if {
	method in {"GET", "HEAD"}
	path == "/healthz"
}

in_window if {
	now := time.now_ns()
	input.approval.granted_at <= now
	now < input.approval.granted_at + input.approval.valid_duration
}

resource_covered if not is_string(input.resource)

resource_covered if input.resource in input.approval.resources

# The actions the approval grants (strings only; unknown actions grant nothing).
granted_actions contains a if {
	is_array(input.approval.actions)
	some a in input.approval.actions
	is_string(a)
}

granted_methods contains m if {
	valid_mapping
	some a in granted_actions
	some m in action_methods[a]
}

method_granted if method in granted_methods

method_granted if "*" in granted_methods

# The actions that would have allowed this method, for the denial message.
needed_actions contains a if {
	valid_mapping
	some a, methods in action_methods
	some m in methods
	m in {method, "*"}
}

list_or_none(s) := concat(", ", sort(s)) if count(s) > 0

list_or_none(s) := "none" if count(s) == 0

granted_list := sprintf("[%s]", [list_or_none(granted_actions)])

needed_list := concat(" or ", sort(needed_actions)) if count(needed_actions) > 0

needed_list := "an action the configuration does not define" if count(needed_actions) == 0
