//! The configuration shipped in deploy/ (rendered into envoy.yaml and the Istio
//! WasmPlugin by deploy/render.py) is accepted by the filter and the core, and the demo
//! key pair in deploy/ matches it: a token signed with the demo private key is allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::*;
use jitgate_filter::Verdict;
use jitgate_mint::{self as mint, SigningKey};
use serde_json::{json, Value};

fn deploy_file(name: &str) -> String {
    let path = format!("{}/../deploy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn deployed_config() -> Value {
    serde_json::from_str(&deploy_file("plugin-config.json")).unwrap()
}

#[test]
fn the_deployed_configuration_compiles_and_embeds_the_shipped_policy() {
    let config = deployed_config();
    assert_eq!(config["policy"]["modules"]["jit.rego"], SEED_POLICY);
    let host = FakeHost::new();
    let shared = configure(&host, &config);
    assert!(shared.is_configured());
}

#[test]
fn the_demo_key_signs_approvals_the_deployed_configuration_accepts() {
    let key = SigningKey::from_jwk(&serde_json::from_str(&deploy_file("demo-key.private.jwk")).unwrap()).unwrap();
    let mut c = claims();
    c["iss"] = json!("https://approvals.example.com");
    c["aud"] = json!("db-gateway");
    let token = mint::mint(&c, &key, "demo-2026");

    let mut host = FakeHost::new().with_header("x-jit-approval", &token);
    assert_eq!(run(&mut host, &deployed_config()).0, Verdict::Continue);
    assert_eq!(host.header("x-jit-approval-id"), ["appr-1"]);

    let mut host = FakeHost::new().with_path("/healthz");
    assert_eq!(run(&mut host, &deployed_config()).0, Verdict::Continue);

    let mut host = FakeHost::new();
    assert_eq!(run(&mut host, &deployed_config()).0, Verdict::Stop);
    assert_eq!(host.sent().status, 401);
}
