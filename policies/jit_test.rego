package access.jit_test

import data.access.jit

# 2026-11-26 (a Thursday), in nanoseconds since the Unix epoch.
t_09_59_59 := 1795687199000000000

t_10_00 := 1795687200000000000

t_10_59 := 1795690740000000000

t_11_00 := 1795690800000000000

t_11_01 := 1795690860000000000

one_hour := 3600000000000

# A full input document as the filter builds it (DESIGN §4) for a verified
# token with nbf 10:00, exp 11:00.
approval := {
	"id": "appr-1",
	"issuer": "https://approvals.example.com",
	"subject": "alice@example.com",
	"resource": "test-database",
	"resources": ["test-database"],
	"role": "developer",
	"not_before_ns": t_10_00,
	"expires_ns": t_11_00,
	"issued_at_ns": t_10_00 - 300000000000,
	"granted_at": t_10_00,
	"valid_duration": one_hour,
	"remaining_ns": t_11_00 - t_10_59,
	"claims": {
		"iss": "https://approvals.example.com", "sub": "alice@example.com", "aud": "db-gateway",
		"iat": 1795686900, "nbf": 1795687200, "exp": 1795690800, "jti": "appr-1",
		"jit": {"resource": "test-database", "role": "developer"},
	},
}

request := {
	"method": "GET",
	"path": "/orders?id=7",
	"host": "db.internal",
	"scheme": "https",
	"protocol": "HTTP/1.1",
	"id": "req-1",
	"headers": {"host": "db.internal", "x-request-id": "req-1"},
	"source": {"address": "10.0.0.7:51234"},
}

verified := {
	"now_ns": t_10_59,
	"resource": "test-database",
	"request": request,
	"identity": null,
	"token": {"present": true, "valid": true, "error": null, "kid": "test-k1", "alg": "EdDSA"},
	"requester": {"id": "alice@example.com", "role": "developer"},
	"approval": approval,
}

# No token at all: no requester, no approval.
anonymous := {
	"now_ns": t_10_59,
	"resource": "test-database",
	"request": request,
	"identity": null,
	"token": {"present": false, "valid": false, "error": "token_missing", "kid": null, "alg": null},
}

with_approval(fields) := object.union(verified, {"approval": fields})

with_request(fields) := object.union(verified, {"request": fields})

# --- allow ---

test_developer_inside_window_allowed if {
	jit.allow with input as verified with time.now_ns as t_10_59
}

test_window_start_is_inclusive if {
	jit.allow with input as verified with time.now_ns as t_10_00
}

test_resource_as_array_allowed if {
	inp := with_approval({"resource": ["other-db", "test-database"], "resources": ["other-db", "test-database"]})
	jit.allow with input as inp with time.now_ns as t_10_59
}

test_healthz_without_token_allowed if {
	inp := object.union(anonymous, {"request": {"path": "/healthz"}})
	jit.allow with input as inp with time.now_ns as t_10_59
}

test_healthz_head_and_query_allowed if {
	inp := object.union(anonymous, {"request": {"method": "HEAD", "path": "/healthz?probe=1"}})
	jit.allow with input as inp with time.now_ns as t_10_59
}

test_healthz_with_expired_token_allowed if {
	inp := object.union(anonymous, {
		"request": {"path": "/healthz"},
		"token": {"present": true, "valid": false, "error": "token_expired"},
	})
	jit.allow with input as inp with time.now_ns as t_11_01
}

# --- deny ---

test_no_token_denied if {
	not jit.allow with input as anonymous with time.now_ns as t_10_59
}

test_failed_token_denied if {
	inp := object.union(anonymous, {"token": {"present": true, "valid": false, "error": "token_signature"}})
	not jit.allow with input as inp with time.now_ns as t_10_59
}

test_healthz_post_denied if {
	inp := object.union(anonymous, {"request": {"method": "POST", "path": "/healthz"}})
	not jit.allow with input as inp with time.now_ns as t_10_59
}

test_healthz_lookalike_paths_denied if {
	every p in ["/healthz/", "/healthz/../admin", "/healthzx", "/HEALTHZ", "/v1/healthz"] {
		inp := object.union(anonymous, {"request": {"path": p}})
		not jit.allow with input as inp with time.now_ns as t_10_59
	}
}

test_window_end_is_exclusive if {
	not jit.allow with input as verified with time.now_ns as t_11_00
}

test_after_window_denied if {
	not jit.allow with input as verified with time.now_ns as t_11_01
}

test_before_window_denied if {
	not jit.allow with input as verified with time.now_ns as t_09_59_59
}

test_wrong_role_denied if {
	not jit.allow with input as with_approval({"role": "admin"}) with time.now_ns as t_10_59
}

test_role_missing_denied if {
	inp := json.remove(verified, ["approval/role"])
	not jit.allow with input as inp with time.now_ns as t_10_59
}

test_role_is_case_sensitive if {
	not jit.allow with input as with_approval({"role": "Developer"}) with time.now_ns as t_10_59
}

test_wrong_resource_denied if {
	inp := with_approval({"resource": "prod-database", "resources": ["prod-database"]})
	not jit.allow with input as inp with time.now_ns as t_10_59
}

test_window_fields_missing_denied if {
	inp := json.remove(verified, ["approval/valid_duration"])
	not jit.allow with input as inp with time.now_ns as t_10_59
}

# The policy ignores the requester block: only the verified approval counts.
test_requester_role_does_not_grant if {
	inp := object.union(verified, {
		"requester": {"id": "alice@example.com", "role": "developer"},
		"approval": {"role": "viewer"},
	})
	not jit.allow with input as inp with time.now_ns as t_10_59
}
