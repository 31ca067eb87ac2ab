//! Replays the committed fuzz inputs on stable (no fuzzing here): every file under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the same check
//! the fuzz target runs (`fuzz_checks`, raw mode). A panic is a failure naming the file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// tests fail loudly
// The committed inputs decide with the shipped policies, which use every builtin
// feature: the replay is built with `full` (as in `cargo test --workspace` and
// `make test`, where the filter turns it on).
#![cfg(feature = "full")]

#[path = "fuzz_checks/mod.rs"]
mod fuzz_checks;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    files
}

#[test]
fn committed_fuzz_inputs_do_not_panic() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut replayed = 0;
    let mut failures = Vec::new();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // reported once, below
    for target in fuzz_checks::TARGETS {
        let mut count = 0;
        for kind in ["corpus", "regressions"] {
            for file in files(&fuzz.join(kind).join(target)) {
                let data = std::fs::read(&file).unwrap();
                let outcome = catch_unwind(AssertUnwindSafe(|| fuzz_checks::run(target, &data)));
                if let Err(e) = outcome {
                    let message = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    failures.push(format!("{}: {message}", file.display()));
                }
                count += 1;
            }
        }
        println!("fuzz replay: {target}: {count} inputs");
        assert!(count > 0, "no committed inputs for fuzz target `{target}`");
        replayed += count;
    }
    std::panic::set_hook(hook);
    let accepted = fuzz_checks::accepted_tokens();
    println!("fuzz replay: {accepted} tokens accepted, each signed by a configured key");
    assert!(
        accepted > 0,
        "no committed token verifies: the signature invariant was not exercised"
    );
    println!("fuzz replay: {replayed} inputs replayed, {} panicked", failures.len());
    assert!(
        failures.is_empty(),
        "fuzz inputs that panicked:\n{}",
        failures.join("\n")
    );
}

/// Writes the seed corpora (`fuzz/corpus/<target>/`) from the shared vectors: run with
/// `cargo test -p jitgate-core --test fuzz_corpus -- --ignored write_seed_corpora`.
/// Files are named by content, so rerunning adds nothing twice.
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_seed_corpora() {
    use jitgate_testkit::CaseFile;
    use serde_json::{json, Value};

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let write = |target: &str, selector: u8, body: &[u8]| {
        let dir = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let mut data = vec![selector];
        data.extend_from_slice(body);
        // FNV-1a: a stable name from the content.
        let hash = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
        std::fs::write(dir.join(format!("seed-{hash:016x}")), &data).unwrap();
    };

    // token and request: the decision vectors and the shipped policies' scenarios.
    let decisions = CaseFile::from_json(fuzz_checks::DECISIONS).unwrap();
    for (i, case) in decisions.cases.iter().enumerate() {
        if let Some(token) = &case.token {
            write("token", (i % 16) as u8, token.as_bytes());
        }
        let mut request = case.request.clone();
        if let Some(token) = &case.token {
            request["headers"]["x-jit-approval"] = Value::from(token.as_str());
        }
        write("request", 0, request.to_string().as_bytes());
    }
    for (n, text) in fuzz_checks::SCENARIOS.iter().enumerate() {
        let file = CaseFile::from_json_in(text, &root.join("policies")).unwrap();
        for scenario in file.cases.iter().take(6) {
            let mut request = scenario.request.clone();
            if let Some(token) = scenario.token.clone() {
                if request.get("headers").is_none() {
                    request["headers"] = json!({});
                }
                request["headers"]["x-jit-approval"] = Value::from(token);
            }
            // Gate n + 1 is this policy's (0 is the decision vectors').
            write("request", (n + 1) as u8, request.to_string().as_bytes());
        }
    }
    let wycheproof = root.join("../shared/vectors/wycheproof/json_web_signature_test.json");
    if let Ok(text) = std::fs::read_to_string(wycheproof) {
        let doc: Value = serde_json::from_str(&text).unwrap();
        for group in doc["testGroups"].as_array().unwrap() {
            for test in group["tests"].as_array().unwrap().iter().take(4) {
                if let Some(jws) = test["jws"].as_str() {
                    write("token", 0, jws.as_bytes());
                }
            }
        }
    }

    // config: the vectors' and the shipped configurations (selector 0 compiles).
    for (i, config) in fuzz_checks::base_configs().iter().enumerate() {
        write("config", if i < 3 { 0 } else { 1 }, config.as_bytes());
    }
    for config in [
        "{}",
        "{\"issuers\": []}",
        "{\"issuers\": [{\"issuer\": \"i\", \"audience\": \"a\", \"jwks\": {\"keys\": [{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\": \"k\", \"x\": \"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\", \"x\": \"0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc\"}]}}], \"policy\": {\"modules\": {\"p.rego\": \"package p\\nallow := true\"}, \"entrypoint\": \"data.p.allow\"}}",
    ] {
        write("config", 1, config.as_bytes());
    }

    // policy_result: JSON mode (selector 1) and the byte decoder (selector 0).
    for result in [
        "true",
        "false",
        "null",
        "{}",
        "{\"allow\": true}",
        "{\"allow\": true, \"reason\": \"ok\", \"headers\": {\"x-a\": \"1\"}, \"response_headers\": {\"x-b\": \"2\"}}",
        "{\"allow\": false, \"status\": 403, \"reason\": \"no\", \"headers\": {\"retry-after\": \"5\"}}",
        "{\"allow\": false, \"status\": 99999999999999999999}",
        "{\"allow\": false, \"status\": 403.5}",
        "{\"allow\": \"yes\"}",
        "{\"allow\": true, \"headers\": {\"x-jit-subject\": \"mallory\"}}",
        "{\"allow\": true, \"headers\": {\"content-type\": [\"a\"]}}",
        "{\"allow\": false, \"extra\": 1}",
        "[true]",
        "\"allow\"",
    ] {
        write("policy_result", 1, result.as_bytes());
    }
    for bytes in [
        &[15][..],
        &[1 | 0x10],
        &[13, 2, 1, 0, 0x11, 1, 2, 5, 3],
        &[13, 3, 1, 0, 0x01, 1, 2, 5, 4, 1, 3, 13, 1, 1, 0, 6, 30],
    ] {
        write("policy_result", 0, bytes);
    }

    // builtins: each builtin once, with arguments from the byte decoder.
    let list = fuzz_checks::builtin_list();
    let samples: [&[u8]; 8] = [
        &[6, 20],                  // "2026-11-26T10:30:00Z"
        &[3, 7],                   // 7
        &[6, 7],                   // "Local"
        &[11, 2, 3, 1, 3, 2],      // [1, 2]
        &[13, 1, 1, 5, 3, 1],      // {"": 1} (a word key)
        &[9, 3, b'a', b'b', b'c'], // "abc"
        &[6, 11],                  // "%d"
        &[5, 10],                  // 9223372036854775807
    ];
    for (i, (name, arity)) in list.iter().enumerate() {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        for a in 0..*arity {
            data.extend_from_slice(samples[(i + a) % samples.len()]);
        }
        write("builtins", 1, &data);
    }
}
