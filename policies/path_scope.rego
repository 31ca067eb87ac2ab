# METADATA
# title: jitgate path-scope policy
# description: |
#   An approval grants only the request paths configured for its resources:
#   with `orders-db: ["/orders", "/orders/**"]`, an approval for `orders-db`
#   reaches /orders and everything below it, and nothing else. Paths are
#   matched without their query string by glob.match with "/" as the
#   delimiter (`*` stays inside one segment, `**` crosses segments). Paths
#   that are not in canonical form are denied, so `/orders/../admin` cannot
#   borrow the `/orders/**` grant: canonical means only ASCII path characters
#   and escapes of printable ASCII, without empty or dot segments and without
#   escaped dots, slashes, backslashes, semicolons or percent signs
#   (see canonical_path below).
#   Entrypoint: data.access.path_scope.decision
#   ({"allow": bool, "reason": string}).
#
#   Data:
#     data.jitgate.path_scope.resources  object resource -> array of glob patterns
#                                        (a resource missing here grants no path);
#                                        patterns start with "/" and use only
#                                        `*`, `?` and whole-segment `**`
#
#   When the plugin configuration names a `resource`, only that resource's
#   patterns count (and the approval must name it); without one, every
#   resource the approval names contributes its patterns.
package access.path_scope

# --- configuration -----------------------------------------------------------

default resources := {}

resources := data.jitgate.path_scope.resources

# A bad configuration denies, with a reason saying what is wrong, rather than
# failing with an engine error; rules using the map check it first.
valid_config if {
	is_object(resources)
	every _, patterns in resources {
		is_array(patterns)
		every p in patterns {
			valid_pattern(p)
		}
	}
}

# Patterns use `*`, `?` and whole-segment `**` only: no classes, alternates or
# escapes, which glob engines read differently (and which can fail to compile).
valid_pattern(p) if {
	is_string(p)
	regex.match(`^/[A-Za-z0-9._~!$&'()+,;=:@%*?/-]*$`, p)
	every segment in split(p, "/") {
		any_stars_are_whole(segment)
	}
}

any_stars_are_whole(segment) if segment == "**"

any_stars_are_whole(segment) if not contains(segment, "**")

# --- decision ----------------------------------------------------------------

decision := {"allow": allow, "reason": reason}

default allow := false

allow if health_check

allow if {
	verified
	valid_config
	in_window
	resource_covered
	canonical_path
	count(matching_patterns) > 0
}

reason := "health check" if {
	health_check
} else := "no verified JIT approval" if {
	not verified
} else := concat("; ", sort(violations)) if {
	count(violations) > 0
} else := sprintf("path %q allowed by %s", [path, sort(matching_patterns)[0]]) if {
	allow
} else := "denied by the path-scope policy"

# --- requirements --------------------------------------------------------------

violations contains concat("", [
	"path-scope configuration is invalid: resources must map resource names to arrays of patterns ",
	"starting with \"/\" and using only *, ? and whole-segment ** as wildcards",
]) if {
	not valid_config
}

violations contains "the approval window is not open at the request time" if not in_window

violations contains sprintf("the approval does not name the guarded resource %q", [input.resource]) if not resource_covered

violations contains sprintf("path %q is not in canonical form", [path]) if {
	is_string(path)
	not canonical_path
}

violations contains sprintf("no path scope is configured for %s", [concat(", ", sort(scope_resources))]) if {
	valid_config
	count(granted_patterns) == 0
}

violations contains msg if {
	valid_config
	canonical_path
	count(granted_patterns) > 0
	count(matching_patterns) == 0
	msg := sprintf("path %q is outside the approved scope of %s (%s)", [
		path,
		concat(", ", sort(scope_resources)),
		concat(", ", sort(granted_patterns)),
	])
}

# --- helpers -------------------------------------------------------------------

verified if is_object(input.approval)

# The request path without its query string.
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

# The resources whose patterns apply to this request.
scope_resources := {input.resource} if is_string(input.resource)

scope_resources := {r | some r in input.approval.resources} if not is_string(input.resource)

granted_patterns contains p if {
	valid_config
	some r in scope_resources
	r in input.approval.resources
	some p in resources[r]
}

matching_patterns contains p if {
	canonical_path
	some p in granted_patterns
	glob.match(p, ["/"], path)
}

# Paths an upstream might resolve differently from the text matched here.
# The rule is an allow-list, not a list of known tricks: a canonical path is
# "/" followed by RFC 3986 path characters (ASCII letters, digits and
# -._~!$&'()*+,;=:@/) and percent escapes of printable ASCII (%20-%7E) only,
# and then none of
#   - an empty segment ("//"), a "." or ".." segment (also "..;x", ".%20.",
#     "..%20" and other all-dot segments, which some servers trim to "..");
#   - an escaped ".", "/", "\", ";", "%" or DEL (%2e, %2f, %5c, %3b, %25,
#     %7f, any case), which decode to path syntax or invite double decoding.
# So everything outside ASCII is denied, raw (fullwidth "．" U+FF0E, the
# one-dot leader U+2024, ...) or escaped (%ef%bc%8e, overlong UTF-8 such as
# %c0%ae or %e0%80%ae, every %80-%ff), and so are controls (%00-%1f), a
# backslash, "%" not followed by two hex digits (%u002e, %%, a trailing %),
# and raw characters such as space, '"', "<", "[", "{", "|" or "^".
canonical_path if {
	is_string(path)
	regex.match(`^/(?:[A-Za-z0-9._~!$&'()*+,;=:@/-]|%[2-7][0-9A-Fa-f])*$`, path)
	not contains(path, "//")
	not encoded_metacharacter
	not dot_segment
}

encoded_metacharacter if {
	some e in ["%2e", "%2f", "%5c", "%3b", "%25", "%7f"]
	contains(lower(path), e)
}

# "." and ".." segments, also with ";parameters" as some servers accept them,
# and any segment made only of dots and (escaped) spaces, which Windows-style
# path handling trims to "." or "..".
dot_segment if {
	some segment in split(path, "/")
	regex.match(`^(?:\.|%20)*\.(?:\.|%20)*$`, lower(split(segment, ";")[0]))
}
