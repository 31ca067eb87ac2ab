//! The `jitgate` command end to end: eval, token keygen/sign/verify/inspect, demo, and
//! the exit codes of DESIGN §8.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn jitgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitgate")).args(args).output().unwrap()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jitgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(path: &Path, value: &Value) -> String {
    std::fs::write(path, value.to_string()).unwrap();
    path.display().to_string()
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const DEMO_KEY: &str = "deploy/demo-key.private.jwk";
const EXAMPLE_CONFIG: &str = "policies/config.example.json";

fn sign_demo(extra: &[&str]) -> String {
    let key = repo().join(DEMO_KEY);
    let mut args = vec![
        "token",
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--iss",
        "https://approvals.example.com",
        "--sub",
        "alice@example.com",
        "--aud",
        "db-gateway",
        "--resource",
        "test-database",
        "--role",
        "developer",
        "--not-before",
        "2026-11-26T10:00:00Z",
        "--ttl",
        "1h",
        "--jti",
        "appr-cli-1",
    ];
    args.extend_from_slice(extra);
    let out = jitgate(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn eval(token: Option<&str>, now: &str, request: &Value) -> Output {
    let config = repo().join(EXAMPLE_CONFIG);
    let req = write(&tmp(&format!("req-{now}.json")), request);
    let mut args = vec![
        "eval",
        "--config",
        config.to_str().unwrap(),
        "--request",
        &req,
        "--now",
        now,
    ];
    if let Some(t) = token {
        args.extend_from_slice(&["--token", t]);
    }
    jitgate(&args)
}

#[test]
fn eval_allows_and_denies_with_exit_zero() {
    let token = sign_demo(&[]);
    let request = json!({"method": "GET", "path": "/orders", "headers": {"host": "db.internal"}, "source": {"address": "10.0.0.7:1"}});
    let d = stdout_json(&eval(Some(&token), "2026-11-26T10:30:00Z", &request));
    assert_eq!(d["allow"], true);
    assert_eq!(d["status"], 200);
    assert_eq!(d["reason"], "allowed");
    assert_eq!(d["approval"]["id"], "appr-cli-1");
    assert!(d["decision_id"].as_str().unwrap().len() == 32);
    assert_eq!(d["audit"]["subject"], "alice@example.com");
    assert!(d["audit"]["eval_ns"].as_u64().is_some());
    assert_eq!(d["forward"]["add_headers"]["x-jit-subject"], "alice@example.com", "{d}");
    assert_eq!(d["token"], json!({"present": true, "valid": true, "error": null}));
    assert_eq!(d["counters"], json!(["jitgate.allowed"]));
    assert!(d.get("response").is_none());

    // Past the window and the leeway: a deny is still a decision, exit 0.
    let d = stdout_json(&eval(Some(&token), "2026-11-26T11:00:30Z", &request));
    assert_eq!(
        (d["allow"].clone(), d["status"].clone(), d["reason"].clone()),
        (json!(false), json!(401), json!("token_expired"))
    );
    assert_eq!(d["response"]["status"], 401);
    assert!(d.get("forward").is_none());
    // Integer seconds work as TIME too.
    let d = stdout_json(&eval(None, "1795689000", &request));
    assert_eq!(d["reason"], "token_missing");
}

#[test]
fn eval_decides_an_unreadable_request_as_a_400_denial_like_every_host() {
    // An absolute-form path is something a client sends, not a broken request file.
    let request = json!({"method": "GET", "path": "http://db.internal/healthz"});
    let out = eval(None, "2026-11-26T10:30:00Z", &request);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let d = stdout_json(&out);
    assert_eq!(
        (d["allow"].clone(), d["status"].clone(), d["reason"].clone()),
        (json!(false), json!(400), json!("request_invalid"))
    );
    assert_eq!(d["response"]["status"], 400);
    assert!(d["audit"]["detail"].as_str().unwrap().contains("path"));
    // The demo configuration trusts the published demo key: said on stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo key"));
}

#[test]
fn eval_token_flag_replaces_the_request_header() {
    let token = sign_demo(&[]);
    let request = json!({"method": "GET", "path": "/orders", "headers": {"x-jit-approval": "garbage"}});
    let d = stdout_json(&eval(Some(&token), "2026-11-26T10:30:00Z", &request));
    assert_eq!(d["reason"], "allowed");
    let d = stdout_json(&eval(None, "2026-11-26T10:30:00Z", &request));
    assert_eq!(d["reason"], "token_malformed");
}

#[test]
fn eval_errors_exit_2_naming_the_field() {
    let request = json!({"method": "GET", "path": "/"});
    let req = write(&tmp("ok-req.json"), &request);
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(EXAMPLE_CONFIG)).unwrap()).unwrap();
    config["issuers"][0]["leeway_s"] = json!(301);
    let bad = write(&tmp("bad-config.json"), &config);
    let out = jitgate(&["eval", "--config", &bad, "--request", &req, "--now", "1795689000"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("issuers[0].leeway_s"), "{err}");

    let bad_req = write(
        &tmp("bad-req.json"),
        &json!({"method": "GET", "path": "/", "sourse": {}}),
    );
    let config = repo().join(EXAMPLE_CONFIG);
    let out = jitgate(&[
        "eval",
        "--config",
        config.to_str().unwrap(),
        "--request",
        &bad_req,
        "--now",
        "1795689000",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sourse"));

    let out = jitgate(&[
        "eval",
        "--config",
        "/nonexistent.json",
        "--request",
        &req,
        "--now",
        "1795689000",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.json"));

    let out = jitgate(&[
        "eval",
        "--config",
        config.to_str().unwrap(),
        "--request",
        &req,
        "--now",
        "tuesday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tuesday"));

    let out = jitgate(&["eval", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "missing arguments are usage errors");
}

#[test]
fn token_keygen_sign_verify_inspect_round_trip() {
    for alg in ["EdDSA", "ES256"] {
        let key_file = tmp(&format!("k-{alg}.jwk"));
        let _ = std::fs::remove_file(&key_file);
        let out = stdout_json(&jitgate(&[
            "token",
            "keygen",
            "--alg",
            alg,
            "--kid",
            "k9",
            "--out",
            key_file.to_str().unwrap(),
        ]));
        assert_eq!(out["public_jwk"]["alg"], alg);
        assert!(
            out["public_jwk"].get("d").is_none(),
            "public output carries no private key"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(repo().join(EXAMPLE_CONFIG)).unwrap()).unwrap();
        config["issuers"][0]["jwks"] = out["jwks"].clone();
        let config_file = write(&tmp(&format!("c-{alg}.json")), &config);

        let signed = jitgate(&[
            "token",
            "sign",
            "--key",
            key_file.to_str().unwrap(),
            "--iss",
            "https://approvals.example.com",
            "--sub",
            "bob@example.com",
            "--aud",
            "db-gateway",
            "--resource",
            "test-database",
            "--role",
            "developer",
            "--not-before",
            "2026-11-26T10:00:00Z",
            "--ttl",
            "30m",
        ]);
        assert!(signed.status.success());
        let token = String::from_utf8(signed.stdout).unwrap().trim().to_owned();

        let v = stdout_json(&jitgate(&[
            "token",
            "verify",
            "--config",
            &config_file,
            "--token",
            &token,
            "--now",
            "2026-11-26T10:10:00Z",
        ]));
        assert_eq!(v["valid"], true);
        assert_eq!(v["approval"]["subject"], "bob@example.com");
        assert_eq!(v["approval"]["expires"], "2026-11-26T10:30:00Z");
        assert_eq!(v["approval"]["remaining_s"], 1200);
        let late = jitgate(&[
            "token",
            "verify",
            "--config",
            &config_file,
            "--token",
            &token,
            "--now",
            "2026-11-26T11:00:00Z",
        ]);
        assert_eq!(late.status.code(), Some(1));
        let late: Value = serde_json::from_slice(&late.stdout).unwrap();
        assert_eq!(late["code"], "token_expired");

        let i = stdout_json(&jitgate(&["token", "inspect", &token]));
        assert_eq!(i["header"]["alg"], alg);
        assert_eq!(i["header"]["typ"], "jit-approval+jwt");
        assert_eq!(i["claims"]["sub"], "bob@example.com");
        assert_eq!(i["times"]["exp"], "2026-11-26T10:30:00Z");
        assert!(i["warning"].as_str().unwrap().starts_with("UNVERIFIED"));
    }
    let out = jitgate(&["token", "inspect", "not.a-token"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn demo_runs_and_shows_each_decision_class() {
    let out = jitgate(&["demo", "--now", "2026-11-26T10:30:00Z", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reasons: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "allowed",
            "token_expired",
            "policy_denied",
            "token_revoked",
            "token_missing",
            "allowed"
        ]
    );
}

/// The filter `.wasm` for `jitgate run` (what `make test` ships, or the test build).
fn filter_path() -> String {
    jitgate_testkit::filter_wasm().display().to_string()
}

/// The shared decision vectors through `jitgate eval` (native core) and `jitgate run`
/// (the filter in the harness): the same answers, and the ones the corpus expects.
#[test]
fn shared_vectors_through_eval_and_run() {
    let corpus =
        jitgate_testkit::CaseFile::from_json(include_str!("../../policy-core/tests/vectors/decisions.json")).unwrap();
    let config = write(&tmp("vectors-config.json"), &corpus.config);
    let filter = filter_path();
    let mut failures = Vec::new();
    for (i, case) in corpus.cases.iter().enumerate() {
        let request = write(&tmp(&format!("vector-{i}.json")), &case.request);
        let now = (case.now_ns / 1_000_000_000).to_string();
        let now = if case.now_ns % 1_000_000_000 == 0 {
            now
        } else {
            jitgate_core::rfc3339_from_ns(case.now_ns)
        };
        let mut common = vec![
            "--config",
            config.as_str(),
            "--request",
            request.as_str(),
            "--now",
            now.as_str(),
            "--compact",
        ];
        if let Some(t) = &case.token {
            common.extend_from_slice(&["--token", t]);
        }
        let eval = stdout_json(&jitgate(&[&["eval"], common.as_slice()].concat()));
        let run = stdout_json(&jitgate(
            &[&["run", "--filter", filter.as_str()], common.as_slice()].concat(),
        ));
        let observed = |v: &Value| jitgate_testkit::Observed {
            allow: v["allow"] == true,
            status: u16::try_from(v["status"].as_u64().unwrap_or(0)).unwrap_or(0),
            reason: v["reason"].as_str().unwrap_or_default().to_owned(),
            policy_reason: v["policy_reason"].as_str().map(str::to_owned),
            upstream: None,
        };
        let audit = &run["audit"];
        for (label, got) in [("eval", observed(&eval)), ("run", observed(audit))] {
            let lines = case.expect.mismatches(&got);
            if !lines.is_empty() {
                failures.push(format!("[{label}] {}: {}", case.name, lines.join("; ")));
            }
        }
        // What the filter did must match its decision: forwarded exactly when allowed.
        let forwarded = run["action"] == "forwarded";
        if forwarded != (audit["allow"] == true) || (!forwarded && run["status"] != audit["status"]) {
            failures.push(format!(
                "[run] {}: action {} status {} but audit {audit}",
                case.name, run["action"], run["status"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn run_prints_the_forwarded_request_or_the_local_response() {
    let token = sign_demo(&[]);
    let config = repo().join(EXAMPLE_CONFIG);
    let req = write(
        &tmp("run-req.json"),
        &json!({"method": "GET", "path": "/orders", "headers": {"host": "db.internal"}}),
    );
    let filter = filter_path();
    let base = [
        "run",
        "--filter",
        filter.as_str(),
        "--config",
        config.to_str().unwrap(),
        "--request",
        req.as_str(),
    ];
    let ok = stdout_json(&jitgate(
        &[&base[..], &["--token", &token, "--now", "2026-11-26T10:30:00Z"]].concat(),
    ));
    assert_eq!(ok["action"], "forwarded");
    let headers = ok["headers"].to_string();
    assert!(
        headers.contains("x-jit-approval-id") && headers.contains("appr-cli-1"),
        "{headers}"
    );
    assert!(!headers.contains("\"x-jit-approval\""), "token removed: {headers}");
    assert_eq!(ok["audit"]["reason"], "allowed");
    let denied = stdout_json(&jitgate(&[&base[..], &["--now", "2026-11-26T10:30:00Z"]].concat()));
    assert_eq!(denied["action"], "local_response");
    assert_eq!(denied["status"], 401);
    let body: Value = serde_json::from_str(denied["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["reason"], "token_missing");
    // A configuration the filter refuses: exit 2, the field named.
    let mut bad: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    bad["mode"] = json!("permissive");
    let bad = write(&tmp("run-bad.json"), &bad);
    let out = jitgate(&[
        "run",
        "--filter",
        &filter,
        "--config",
        &bad,
        "--request",
        &req,
        "--now",
        "1795689000",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mode"));
}
