# METADATA
# title: jitgate path-scope policy
# description: |
#   An approval grants only the request paths configured for its resources:
#   with `orders-db: ["/orders", "/orders/**"]`, an approval for `orders-db`
#   reaches /orders and everything below it, and nothing else. Paths are
#   matched without their query string by glob.match with "/" as the
#   delimiter (`*` stays inside one segment, `**` crosses segments). Paths
#   that are not in canonical form (dot segments, empty segments,
#   backslashes, percent-encoded dots, slashes, backslashes or percent signs)
#   are denied, so `/orders/../admin` cannot borrow the `/orders/**` grant.
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
canonical_path if {
	is_string(path)
	startswith(path, "/")
	not contains(path, "//")
	not contains(path, "\\")
	not encoded_metacharacter
	not dot_segment
}

encoded_metacharacter if {
	some e in ["%2e", "%2f", "%5c", "%25", "%00"]
	contains(lower(path), e)
}

# "." and ".." segments, also with ";parameters" as some servers accept them.
dot_segment if {
	some segment in split(path, "/")
	split(segment, ";")[0] in {".", ".."}
}
