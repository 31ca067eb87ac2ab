package access.path_scope_test

import data.access.path_scope

# 2026-11-26 (a Thursday), in nanoseconds since the Unix epoch.
t_10_00 := 1795687200000000000

t_10_30 := 1795689000000000000

t_11_01 := 1795690860000000000

one_hour := 3600000000000

config := {"resources": {
	"orders-db": ["/orders", "/orders/**"],
	"billing-db": ["/billing/**"],
	"reports-db": ["/reports/*/summary"],
}}

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
		"id": "appr-p-1",
		"issuer": "https://approvals.example.com",
		"subject": "alice@example.com",
		"resource": "orders-db",
		"resources": ["orders-db"],
		"role": "developer",
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

at_path(inp, p) := object.union(inp, {"request": {"path": p}})

decide_cfg(inp, cfg) := d if {
	d := path_scope.decision with input as inp with data.jitgate.path_scope as cfg with time.now_ns as t_10_30
}

decide(inp) := decide_cfg(inp, config)

allowed(p) if decide(at_path(base, p)).allow

# A gateway that guards several resources: no `resource` in the configuration.
multi := object.union(json.remove(base, ["resource"]), {"approval": {
	"resource": ["orders-db", "billing-db"],
	"resources": ["orders-db", "billing-db"],
}})

# --- inside the scope ---

test_paths_under_scope_allowed if {
	every p in ["/orders", "/orders/", "/orders/7", "/orders/7/items", "/orders/7/items?page=2", "/orders?all=1"] {
		allowed(p)
	}
}

test_allow_reason_names_pattern if {
	decide(base) == {"allow": true, "reason": `path "/orders/7" allowed by /orders/**`}
}

test_single_star_stays_in_segment if {
	inp := object.union(base, {"resource": "reports-db", "approval": {"resources": ["reports-db"]}})
	decide(at_path(inp, "/reports/2026/summary")).allow
	not decide(at_path(inp, "/reports/2026/11/summary")).allow
	not decide(at_path(inp, "/reports/summary")).allow
}

# --- outside the scope ---

test_paths_outside_scope_denied if {
	every p in ["/", "/ordersx", "/orders.json", "/customers", "/billing/1", "/v1/orders/7", "/ORDERS/7"] {
		not allowed(p)
	}
}

test_outside_scope_reason if {
	decide(at_path(base, "/customers/3?x=1")) == {
		"allow": false,
		"reason": `path "/customers/3" is outside the approved scope of orders-db (/orders, /orders/**)`,
	}
}

test_query_string_cannot_smuggle_a_path if {
	not allowed("/admin?/orders/1")
	not allowed("/admin?next=/orders/1")
}

test_non_canonical_paths_denied if {
	every p in [
		"/orders/../admin",
		"/orders/..",
		"/orders/./7",
		"/orders/..;/admin",
		"/orders/%2e%2e/admin",
		"/orders/%2E%2E/admin",
		"/orders%2f..%2fadmin",
		"/orders/%252e%252e/admin",
		"/orders//7",
		"//orders/7",
		"/orders\\..\\admin",
		"/orders/7%00",
		"orders/7",
		"",
	] {
		d := decide(at_path(base, p))
		d.allow == false
	}
}

test_non_canonical_reason if {
	decide(at_path(base, "/orders/../admin")) == {"allow": false, "reason": `path "/orders/../admin" is not in canonical form`}
}

test_encoded_ordinary_characters_allowed if {
	allowed("/orders/a%20b")
}

# --- which resources' patterns apply ---

test_resource_missing_from_map_denied if {
	inp := object.union(base, {"resource": "test-database", "approval": {"resources": ["test-database"]}})
	decide(inp) == {"allow": false, "reason": "no path scope is configured for test-database"}
}

test_no_configuration_denies_everything if {
	d := path_scope.decision with input as base with time.now_ns as t_10_30
	d == {"allow": false, "reason": "no path scope is configured for orders-db"}
}

test_guarded_resource_limits_patterns if {
	# The approval also names billing-db, but this filter guards orders-db.
	inp := object.union(base, {"approval": {"resources": ["orders-db", "billing-db"]}})
	decide(at_path(inp, "/orders/7")).allow
	not decide(at_path(inp, "/billing/7")).allow
}

test_without_guarded_resource_every_approved_resource_counts if {
	decide(at_path(multi, "/orders/7")).allow
	decide(at_path(multi, "/billing/2026/11")).allow
	d := decide(at_path(multi, "/reports/2026/summary"))
	d.reason == `path "/reports/2026/summary" is outside the approved scope of billing-db, orders-db (/billing/**, /orders, /orders/**)`
}

test_guarded_resource_not_in_approval_denied if {
	inp := object.union(base, {"resource": "billing-db"})
	d := decide(at_path(inp, "/billing/1"))
	d.allow == false
	contains(d.reason, `the approval does not name the guarded resource "billing-db"`)
}

# --- invalid configuration denies with a readable reason ---

test_invalid_configuration_denied if {
	every cfg in [
		{"resources": ["/orders/**"]},
		{"resources": {"orders-db": "/orders/**"}},
		{"resources": {"orders-db": ["orders/**"]}},
		{"resources": {"orders-db": ["/orders/[0-9]"]}},
		{"resources": {"orders-db": ["/orders/{a,b}"]}},
		{"resources": {"orders-db": ["/orders**"]}},
		{"resources": {"orders-db": [7]}},
	] {
		d := decide_cfg(base, cfg)
		d.allow == false
		startswith(d.reason, "path-scope configuration is invalid: ")
	}
}

# --- common requirements ---

test_no_approval_denied if {
	decide(anonymous) == {"allow": false, "reason": "no verified JIT approval"}
}

test_healthz_without_token_allowed if {
	decide(at_path(anonymous, "/healthz")) == {"allow": true, "reason": "health check"}
}

test_expired_window_denied if {
	d := path_scope.decision with input as base with data.jitgate.path_scope as config with time.now_ns as t_11_01
	d == {"allow": false, "reason": "the approval window is not open at the request time"}
}

# --- encodings an upstream may decode to path syntax, or fold to ASCII ---

test_encoding_tricks_denied if {
	every p in [
		# overlong UTF-8 for "." and "/"
		"/orders/%c0%ae%c0%ae/admin",
		"/orders/%C0%AE%C0%AE/admin",
		"/orders%c0%afadmin",
		"/orders/%e0%80%ae%e0%80%ae/admin",
		"/orders/%c1%9c",
		# fullwidth full stop U+FF0E, raw and escaped; one-dot leader U+2024
		"/orders/．．/admin",
		"/orders/%ef%bc%8e%ef%bc%8e/admin",
		"/orders/‥/admin",
		"/orders/\u2024\u2024/admin",
		"/orders/%e2%80%a4%e2%80%a4/admin",
		# IIS %u escapes
		"/orders/%u002e%u002e/admin",
		"/orders/%U002E%U002E/admin",
		# escaped semicolon, also next to dot segments
		"/orders/..%3b/admin",
		"/orders/..%3B/admin",
		"/orders/7%3bx",
		# dot segments a server may trim to ".."
		"/orders/..%20/admin",
		"/orders/.%20./admin",
		"/orders/.../admin",
		"/orders/.;x/admin",
		# malformed or non-printable escapes
		"/orders/%",
		"/orders/%2",
		"/orders/%zz",
		"/orders/%%32%65",
		"/orders/7%0a",
		"/orders/7%7f",
		"/orders/7%ff",
		# raw characters outside the path allow-list
		"/orders/a b",
		"/orders/7#x",
		"/orders/\u00e9",
		"/orders/7\u200b",
		"/orders/<script>",
		"/orders/{7}",
	] {
		d := decide(at_path(base, p))
		d == {"allow": false, "reason": sprintf("path %q is not in canonical form", [split(p, "?")[0]])}
	}
}

test_ordinary_path_characters_allowed if {
	every p in [
		"/orders/a%20b",
		"/orders/7;v=2",
		"/orders/a.b",
		"/orders/.well-known",
		"/orders/a..b",
		"/orders/~alice",
		"/orders/a+b",
		"/orders/a%2Bb",
		"/orders/it's(1),*$!&=:@",
		"/orders/%41%7e",
	] {
		allowed(p)
	}
}
