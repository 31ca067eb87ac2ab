# METADATA
# title: jitgate action-scope policy
# description: |
#   The approval's `actions` bound the HTTP methods the requester may use:
#   read -> GET, HEAD, OPTIONS; write -> POST, PUT, PATCH; delete -> DELETE;
#   admin -> every method. An approval without `actions` grants no method.
#   A method-override signal (headers X-HTTP-Method-Override, X-HTTP-Method,
#   X-Method-Override in any case or spelling with "_"; query parameters
#   _method or method) naming another method than the request's is denied,
#   whatever the actions: the upstream may act on either method.
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
	count(conflicting_overrides) == 0
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

violations contains msg if {
	some o in conflicting_overrides
	msg := sprintf("method override %s %q does not match the request method %s; send the intended method itself", [o[0], o[1], method])
}

# --- helpers -------------------------------------------------------------------

verified if is_object(input.approval)

method := input.request.method

path := split(input.request.path, "?")[0]

# A GET that asks the upstream to act as DELETE is not a health check.
health_check if {
	method in {"GET", "HEAD"}
	path == "/healthz"
	count(conflicting_overrides) == 0
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

# --- method overrides ------------------------------------------------------------

# Frameworks let a client tunnel a method through POST (or GET): a header
# (X-HTTP-Method-Override and its variants) or a query parameter (`_method`,
# `method`). The upstream may act on the tunnelled method while this policy
# sees only the request's, so a POST with `X-HTTP-Method-Override: DELETE` on
# a write-only approval would delete. Any such signal that names a method
# other than the request's is denied, whatever the approved actions (no
# guessing which of several signals, or which of a repeated header's values,
# the upstream honours); a signal naming the request's own method is harmless.
# Each entry is [how it was sent, the value as sent].
conflicting_overrides contains [sprintf("header %s", [lower(name)]), value] if {
	is_object(input.request.headers)
	some name, value in input.request.headers
	override_header_name(name)
	not override_names_method(value)
}

conflicting_overrides contains [sprintf("query parameter %s", [name]), value] if {
	some p in query_params
	name := p[0]
	value := p[1]
	override_param(name)
	not override_names_method(pct_decode(value))
}

# Decoded once, or twice for a server that decodes again (%255Fmethod).
override_param(name) if override_param_name(pct_decode(name))

override_param(name) if override_param_name(pct_decode(pct_decode(name)))

# Header names in any case; "_" for "-" too, since CGI-style servers map both
# to the same variable (HTTP_X_HTTP_METHOD_OVERRIDE).
override_header_name(name) if {
	regex.match(`^x[-_](http[-_]method([-_]override)?|method[-_]override)$`, lower(name))
}

# `_method` and `method` in any case, with the spellings a framework may fold
# into them: PHP turns a leading ".", " " or "[" into "_" and reads
# `_method[...]` as `_method`. The header names count as parameter names too.
override_param_name(name) if {
	regex.match(`^[_. \[]?method(\[.*)?$`, lower(trim_space(name)))
}

override_param_name(name) if override_header_name(trim_space(name))

# The override names exactly the request's method (any case, surrounding blanks).
override_names_method(value) if {
	is_string(value)
	is_string(method)
	upper(trim_space(value)) == method
}

# The query string's parameters as [name, value] pairs, as sent: split on "&"
# and ";" (both are separators in some frameworks); a parameter without "="
# has the value "".
query_params contains [name, value] if {
	is_string(input.request.path)
	parts := split(input.request.path, "?")
	count(parts) > 1
	query := concat("?", array.slice(parts, 1, count(parts)))
	some param in regex.split(`[&;]`, query)
	kv := split(param, "=")
	name := kv[0]
	value := concat("=", array.slice(kv, 1, count(kv)))
}

# Percent-decoding of the printable ASCII escapes (enough to recognise a
# name or a method; other escapes stay as they are), "+" read as a space.
pct_decode(s) := concat("", [decode_piece(i, piece) | some i, piece in split(replace(s, "+", " "), "%")])

decode_piece(i, piece) := piece if {
	i == 0
} else := concat("", [char, substring(piece, 2, -1)]) if {
	char := ascii_char(lower(substring(piece, 0, 2)))
} else := concat("", ["%", piece])

printable_ascii := concat("", [` !"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`, "`", `abcdefghijklmnopqrstuvwxyz{|}~`])

hex_digits := {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9, "a": 10, "b": 11, "c": 12, "d": 13, "e": 14, "f": 15}

ascii_char(hex) := substring(printable_ascii, code - 32, 1) if {
	count(hex) == 2
	code := (hex_digits[substring(hex, 0, 1)] * 16) + hex_digits[substring(hex, 1, 1)]
	code >= 32
	code <= 126
}
