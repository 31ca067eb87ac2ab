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

# --- method overrides (a tunnelled method must not exceed the approval) ---

with_headers(inp, h) := object.union(inp, {"request": {"headers": h}})

at_path(inp, p) := object.union(inp, {"request": {"path": p}})

test_override_header_to_another_method_denied if {
	inp := with_headers(req(["write"], "POST"), {"x-http-method-override": "DELETE"})
	decide(inp) == {
		"allow": false,
		"reason": `method override header x-http-method-override "DELETE" does not match the request method POST; send the intended method itself`,
	}
}

test_override_header_variants_denied if {
	every name in [
		"X-HTTP-Method-Override", "x-http-method", "X-Method-Override",
		"x_http_method_override", "X-HTTP-METHOD", "x_method_override",
	] {
		inp := with_headers(req(["write"], "POST"), {name: "delete"})
		not decide(inp).allow
	}
}

test_override_header_denied_whatever_the_actions if {
	# Admin would allow DELETE itself, but the gateway does not guess which
	# method the upstream acts on: send DELETE.
	not decide(with_headers(req(["admin"], "POST"), {"x-http-method-override": "DELETE"})).allow

	# A read approval cannot tunnel a write through GET either.
	not decide(with_headers(req(["read"], "GET"), {"x-http-method": "PUT"})).allow
}

test_override_header_repeated_or_odd_values_denied if {
	every value in ["POST,DELETE", "DELETE, POST", "", " ", "PO ST", "delete"] {
		inp := with_headers(req(["write"], "POST"), {"x-http-method-override": value})
		not decide(inp).allow
	}
}

test_override_naming_the_request_method_allowed if {
	every value in ["POST", "post", " POST "] {
		inp := with_headers(req(["write"], "POST"), {"X-HTTP-Method-Override": value})
		decide(inp) == {"allow": true, "reason": "method POST allowed by actions [write]"}
	}
	decide(at_path(req(["write"], "POST"), "/orders?_method=POST")).allow
}

test_override_query_parameter_denied if {
	inp := at_path(req(["write"], "POST"), "/orders/7?_method=DELETE")
	decide(inp) == {
		"allow": false,
		"reason": `method override query parameter _method "DELETE" does not match the request method POST; send the intended method itself`,
	}
}

test_override_query_parameter_spellings_denied if {
	every p in [
		"/orders/7?method=DELETE",
		"/orders/7?_METHOD=delete",
		"/orders/7?page=2&_method=DELETE",
		"/orders/7?page=2;_method=DELETE",
		"/orders/7?%5Fmethod=DELETE",
		"/orders/7?_%6Dethod=DELETE",
		"/orders/7?%255Fmethod=DELETE",
		"/orders/7?_method=%44ELETE",
		"/orders/7?_method=DELETE&_method=POST",
		"/orders/7?_method[]=DELETE",
		"/orders/7?.method=DELETE",
		"/orders/7?+_method=DELETE",
		"/orders/7?x-http-method-override=DELETE",
		"/orders/7?_method",
	] {
		not decide(at_path(req(["write"], "POST"), p)).allow
	}
}

test_ordinary_query_parameters_allowed if {
	every p in ["/orders/7?methods=all", "/orders/7?payment_method=card", "/orders/7?x=_method=DELETE", "/orders/7?a=1?_method=DELETE", "/orders/7?"] {
		decide(at_path(req(["write"], "POST"), p)).allow
	}
}

test_override_reports_every_signal if {
	inp := with_headers(at_path(req(["write"], "POST"), "/orders/7?_method=PUT"), {"x-method-override": "DELETE"})
	decide(inp).reason == concat("; ", [
		`method override header x-method-override "DELETE" does not match the request method POST; send the intended method itself`,
		`method override query parameter _method "PUT" does not match the request method POST; send the intended method itself`,
	])
}

test_odd_headers_do_not_fail_the_policy if {
	inp := object.union(req(["write"], "POST"), {"request": {"headers": "x-http-method-override: DELETE"}})
	decide(inp).allow
}

test_healthz_with_override_is_not_a_health_check if {
	not decide(at_path(anonymous, "/healthz?_method=DELETE")).allow
	not decide(with_headers(at_path(anonymous, "/healthz"), {"x-http-method-override": "DELETE"})).allow
}
