#!/usr/bin/env python3
"""Write (or, with --check, verify) the example plugin configurations.

Each `<name>.config.json` embeds the current `<name>.rego` in `policy.modules`,
so the example stays runnable as is. Run after editing a policy:

    python3 policies/sync_configs.py          # rewrite the configs
    python3 policies/sync_configs.py --check  # exit 1 if one is stale

Standard library only.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# A placeholder key: a well-formed Ed25519 public key whose private half was
# thrown away, so no token verifies until you put your approval service's
# JWKS here. Never put a test key (such as test-k1) in a deployed config.
PLACEHOLDER_JWKS = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "kid": "replace-with-your-approval-service-key",
            "x": "dHxEPq3fhoSGsYC5KsSngTdlb2gFce2NioYEBYn5tgY",
        }
    ]
}

# name -> (entrypoint, guarded resource, policy data)
POLICIES = {
    "jit": ("data.access.jit.allow", "test-database", {}),
    "four_eyes": (
        "data.access.four_eyes.decision",
        "prod-db",
        {
            "jitgate": {
                "four_eyes": {
                    "sensitive_resources": ["prod-db", "payments-db"],
                    "ticket_pattern": "^[A-Z][A-Z0-9]+-[0-9]+$",
                    "min_approvers": 2,
                }
            }
        },
    ),
    "action_scope": (
        "data.access.action_scope.decision",
        "orders-db",
        {
            "jitgate": {
                "action_scope": {
                    "action_methods": {
                        "read": ["GET", "HEAD", "OPTIONS"],
                        "write": ["POST", "PUT", "PATCH"],
                        "delete": ["DELETE"],
                        "admin": ["*"],
                    }
                }
            }
        },
    ),
    "break_glass": (
        "data.access.break_glass.decision",
        "prod-db",
        {"jitgate": {"break_glass": {"max_window_seconds": 3600}}},
    ),
    "business_hours": (
        "data.access.business_hours.decision",
        "orders-db",
        {
            "jitgate": {
                "business_hours": {
                    "utc_offset_minutes": 60,
                    "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
                    "start_hour": 9,
                    "end_hour": 17,
                    "holidays": ["2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"],
                }
            }
        },
    ),
    "path_scope": (
        "data.access.path_scope.decision",
        "orders-db",
        {
            "jitgate": {
                "path_scope": {
                    "resources": {
                        "orders-db": ["/orders", "/orders/**"],
                        "billing-db": ["/billing/**"],
                    }
                }
            }
        },
    ),
}


def config_for(name):
    entrypoint, resource, data = POLICIES[name]
    with open(os.path.join(HERE, name + ".rego"), encoding="utf-8") as f:
        source = f.read()
    return {
        "issuers": [
            {
                "issuer": "https://approvals.example.com",
                "audience": "db-gateway",
                "jwks": PLACEHOLDER_JWKS,
                "max_ttl_s": 43200,
                "leeway_s": 30,
            }
        ],
        "resource": resource,
        "token": {"header": "x-jit-approval", "prefix": "", "forward": False},
        "policy": {"modules": {name + ".rego": source}, "data": data, "entrypoint": entrypoint},
        "revoked": [],
        "mode": "enforce",
    }


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        print("usage: sync_configs.py [--check]", file=sys.stderr)
        return 2
    stale = []
    for name in POLICIES:
        path = os.path.join(HERE, name + ".config.json")
        text = json.dumps(config_for(name), indent=2, ensure_ascii=False) + "\n"
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if check:
            stale.append(os.path.basename(path))
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("wrote", os.path.basename(path))
    if stale:
        print("stale (run python3 policies/sync_configs.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
