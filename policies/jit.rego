# METADATA
# title: jitgate seed policy
# description: |
#   Allow a request when the verified JIT approval grants the `developer`
#   role on `test-database` and the request time lies inside the approval
#   window. `GET`/`HEAD /healthz` is always allowed, with or without a token.
#   Entrypoint: data.access.jit.allow (boolean).
package access.jit

# The resource this policy protects.
resource := "test-database"

# The role the approval must carry.
required_role := "developer"

default allow := false

# Liveness probes need no approval. A request without a token, or whose token
# failed verification, reaches the policy without `input.approval`.
allow if health_check

allow if {
	input.approval.role == required_role
	resource in input.approval.resources
	in_window
}

# The request path without its query string.
path := split(input.request.path, "?")[0]

health_check if {
	input.request.method in {"GET", "HEAD"}
	path == "/healthz"
}

# The approval window is [granted_at, granted_at + valid_duration), in ns.
# The token layer already rejects tokens past `exp` + leeway; this check is
# exact, without leeway.
in_window if {
	now := time.now_ns()
	input.approval.granted_at <= now
	now < input.approval.granted_at + input.approval.valid_duration
}
