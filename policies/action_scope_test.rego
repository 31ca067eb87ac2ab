package access.action_scope_test

import data.access.action_scope

# 2026-11-26 (a Thursday), in nanoseconds since the Unix epoch.
t_10_00 := 1795687200000000000

t_10_30 := 1795689000000000000

t_11_01 := 1795690860000000000

one_hour := 3600000000000

base := {
	"now_ns": t_10_30,
	"resource": "orders-db",
	"request": {
		"method": "GET", "path": "/orders/7?expand=items", "host": "db.internal", "scheme": "https",
		"protocol": "HTTP/1.1", "headers": {"host": "db.internal"},
		"source": {"address": "10.0.0.7:51234"},
	},
	"identity": null,
	"token": {"present": true, "valid": true, "error": null, "kid": "test-k1", "alg": "EdDSA"},
	"requester": {"id": "alice@example.com", "role": "developer"},
	"approval": {
		"id": "appr-9",
		"issuer": "https://approvals.example.com",
		"subject": "alice@example.com",
		"resource": "orders-db",
		"resources": ["orders-db"],
		"role": "developer",
		"actions": ["read"],
		"not_before_ns": t_10_00,
		"expires_ns": t_10_00 + one_hour,
		"issued_at_ns": t_10_00,
		"granted_at": t_10_00,
		"valid_duration": one_hour,
		"remaining_ns": (t_10_00 + one_hour) - t_10_30,
		"claims": {},
	},
}

anonymous := json.remove(base, ["approval", "requester"])

req(actions, method) := object.union(base, {"approval": {"actions": actions}, "request": {"method": method}})

decide(inp) := d if {
	d := action_scope.decision with input as inp with time.now_ns as t_10_30
}

allowed(actions, method) if decide(req(actions, method)).allow

# --- the default mapping ---

test_read_allows_safe_methods if {
	every m in ["GET", "HEAD", "OPTIONS"] {
		allowed(["read"], m)
	}
}

test_read_denies_unsafe_methods if {
	every m in ["POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT"] {
		not allowed(["read"], m)
	}
}

test_write_allows_post_put_patch_only if {
	every m in ["POST", "PUT", "PATCH"] {
		allowed(["write"], m)
	}
	every m in ["GET", "DELETE", "HEAD"] {
		not allowed(["write"], m)
	}
}

test_delete_allows_delete_only if {
	allowed(["delete"], "DELETE")
	not allowed(["delete"], "GET")
	not allowed(["delete"], "POST")
}

test_admin_allows_every_method if {
	every m in ["GET", "POST", "DELETE", "TRACE", "PROPFIND"] {
		allowed(["admin"], m)
	}
}

test_actions_combine if {
	allowed(["read", "delete"], "GET")
	allowed(["read", "delete"], "DELETE")
	not allowed(["read", "delete"], "PUT")
}

test_allow_reason if {
	decide(req(["write", "read"], "PUT")) == {"allow": true, "reason": "method PUT allowed by actions [read, write]"}
}

# --- denials and their reasons ---

test_method_outside_scope_reason if {
	decide(req(["read"], "DELETE")) == {
		"allow": false,
		"reason": "method DELETE is not covered by the approved actions [read] (needs admin or delete)",
	}
}

test_actions_missing_denied if {
	decide(json.remove(base, ["approval/actions"])) == {
		"allow": false,
		"reason": "method GET is not covered by the approved actions [none] (needs admin or read)",
	}
}

test_actions_empty_denied if {
	not allowed([], "GET")
}

test_unknown_action_grants_nothing if {
	not allowed(["execute"], "POST")
}

test_actions_are_case_sensitive if {
	not allowed(["READ"], "GET")
	not allowed(["Admin"], "DELETE")
}

test_methods_are_case_sensitive if {
	not allowed(["read"], "get")
}

test_actions_not_an_array_denied if {
	inp := object.union(base, {"approval": {"actions": "admin"}})
	not decide(inp).allow
}

test_non_string_actions_ignored if {
	not allowed([1, null, {"admin": true}], "GET")
}

test_method_missing_denied if {
	inp := json.remove(base, ["request/method"])
	d := decide(inp)
	d.allow == false
}

# --- a configured mapping replaces the default ---

test_configured_mapping if {
	mapping := {"read": ["GET"], "query": ["POST"]}
	inp_post := req(["query"], "POST")
	action_scope.allow with input as inp_post with data.jitgate.action_scope.action_methods as mapping with time.now_ns as t_10_30

	# HEAD is no longer part of read, and "write" is no longer defined.
	inp_head := req(["read"], "HEAD")
	not action_scope.allow with input as inp_head with data.jitgate.action_scope.action_methods as mapping with time.now_ns as t_10_30
	inp_put := req(["write"], "PUT")
	d := action_scope.decision with input as inp_put with data.jitgate.action_scope.action_methods as mapping with time.now_ns as t_10_30
	d.reason == "method PUT is not covered by the approved actions [write] (needs an action the configuration does not define)"
}

# --- common requirements ---

test_no_approval_denied if {
	decide(anonymous) == {"allow": false, "reason": "no verified JIT approval"}
}

test_healthz_without_token_allowed if {
	decide(object.union(anonymous, {"request": {"path": "/healthz"}})).allow
}

test_expired_window_denied if {
	d := action_scope.decision with input as base with time.now_ns as t_11_01
	d == {"allow": false, "reason": "the approval window is not open at the request time"}
}

test_guarded_resource_not_in_approval_denied if {
	inp := object.union(base, {"resource": "billing-db"})
	decide(inp).reason == `the approval does not name the guarded resource "billing-db"`
}

test_several_violations_reported_together if {
	inp := object.union(req(["read"], "DELETE"), {"resource": "billing-db"})
	d := action_scope.decision with input as inp with time.now_ns as t_11_01
	d.allow == false
	d.reason == concat("; ", [
		"method DELETE is not covered by the approved actions [read] (needs admin or delete)",
		`the approval does not name the guarded resource "billing-db"`,
		"the approval window is not open at the request time",
	])
}

test_invalid_mapping_denied if {
	every mapping in [
		["read"],
		{"read": "GET"},
		{"read": ["GET", 1]},
		"admin",
	] {
		inp := req(["read"], "GET")
		d := action_scope.decision with input as inp with data.jitgate.action_scope.action_methods as mapping with time.now_ns as t_10_30
		d == {
			"allow": false,
			"reason": "action-scope configuration is invalid: action_methods must map action names to arrays of method names",
		}
	}
}
