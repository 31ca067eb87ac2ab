//! The checks the fuzz targets run (`fuzz/fuzz_targets/*.rs`), shared with the stable
//! replay test (`tests/fuzz_corpus.rs`): each target's body is a plain function here,
//! taking the raw bytes of one input, so a committed corpus file or crash input is
//! checked in CI exactly as the fuzzer checked it.
//!
//! Input convention (every target): the first byte selects. A first byte below 0x80
//! is raw mode, decoded here without any dependency; from 0x80 on the rest is
//! structured input for the `arbitrary` crate, decoded by the fuzz crate only (which
//! renders it to the raw form and calls the same check). The replay test reads every
//! file in raw mode; `fuzz/src/bin/render.rs` turns a structured input into its raw
//! form, which is what goes into `fuzz/regressions/`.
//!
//! Dependencies: only what `jitgate-core` itself depends on (`regorus`, `serde_json`,
//! `ed25519-dalek`, `p256`, `base64`), so the replay builds on stable with the
//! workspace's `Cargo.lock` untouched.
#![allow(dead_code)] // each user (one fuzz target, the replay test) uses a part

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use jitgate_core::regorus::{Engine, Value};
use jitgate_core::unstable::policy::{interpret, load_modules, PolicyOutcome};
use jitgate_core::{Action, Fault, Gate, Request, RequestFacts, TokenStatus};
use jitgate_mint::SigningKey;
use jitgate_testkit::CaseFile;

/// The shared decision vectors: the token target's configuration and keys.
pub const DECISIONS: &str = include_str!("../vectors/decisions.json");

/// The shipped policies' example configurations (the request target decides with
/// each, its key set replaced by the decision vectors' keys so tokens can be minted).
pub const SHIPPED_CONFIGS: &[(&str, &str)] = &[
    ("jit", include_str!("../../../policies/jit.config.json")),
    (
        "action_scope",
        include_str!("../../../policies/action_scope.config.json"),
    ),
    ("path_scope", include_str!("../../../policies/path_scope.config.json")),
    ("four_eyes", include_str!("../../../policies/four_eyes.config.json")),
    ("break_glass", include_str!("../../../policies/break_glass.config.json")),
    (
        "business_hours",
        include_str!("../../../policies/business_hours.config.json"),
    ),
];

/// The shipped policies' scenario files, in the order of [`SHIPPED_CONFIGS`]: their
/// test keys are trusted too, so the scenarios' tokens verify.
pub const SCENARIOS: &[&str] = &[
    include_str!("../../../policies/jit.scenarios.json"),
    include_str!("../../../policies/action_scope.scenarios.json"),
    include_str!("../../../policies/path_scope.scenarios.json"),
    include_str!("../../../policies/four_eyes.scenarios.json"),
    include_str!("../../../policies/break_glass.scenarios.json"),
    include_str!("../../../policies/business_hours.scenarios.json"),
];

/// Every builtin regorus registers (`name arity feature`).
pub const BUILTINS: &str = include_str!("../../src/regorus_builtins.txt");

/// Builtins that are not pure functions of their arguments (never fuzzed).
const SKIP_BUILTINS: &[&str] = &["print", "trace", "time.now_ns", "opa.runtime"];

/// The decision time of every check: 2026-11-26T10:30:00Z.
pub const NOW_NS: i64 = 1_795_689_000_000_000_000;

/// An attacker's keys: the same algorithms, not configured anywhere.
pub const ATTACKER_SECRET: [u8; 32] = [0x33; 32];

/// The raw form of one input: the selector byte (below 0x80) and the rest.
pub fn split(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (first & 0x7f, rest),
        None => (0, &[]),
    }
}

/// Text from bytes as a host would hand it over (hosts only pass valid UTF-8).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ----------------------------------------------------------------------------------
// Fixtures (built once per thread).

/// The decision vectors' configuration, keys and the gate built from it.
pub struct TokenFixture {
    /// The configuration (JSON) every token is verified under.
    pub config: serde_json::Value,
    /// The configured keys: kid → private key (TEST-ONLY).
    pub keys: Vec<(String, SigningKey)>,
    /// The gate (cache disabled: every token is verified).
    pub gate: Gate,
}

/// A gate the request target decides with, and what a valid token for it names.
pub struct Profile {
    /// Which configuration (`decisions` or a shipped policy's name).
    pub name: &'static str,
    /// The gate.
    pub gate: Gate,
    /// The issuer string.
    pub issuer: String,
    /// The audience string.
    pub audience: String,
    /// The configured resource, if any.
    pub resource: Option<String>,
    /// The token header.
    pub header: String,
    /// The configuration (JSON text) the gate was built from.
    pub config: String,
}

thread_local! {
    static TOKEN: TokenFixture = token_fixture();
    static PROFILES: Vec<Profile> = profiles();
    static ACCEPTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static ENGINES: RefCell<HashMap<usize, Option<Engine>>> = RefCell::new(HashMap::new());
}

fn token_fixture() -> TokenFixture {
    let corpus = CaseFile::from_json(DECISIONS).expect("decision vectors");
    let mut gate = Gate::new(&corpus.config.to_string()).expect("the vectors' configuration");
    gate.set_cache_bounds(0, 0);
    TokenFixture {
        config: corpus.config,
        keys: corpus.keys.into_iter().collect(),
        gate,
    }
}

/// How many tokens `Gate::verify` accepted in [`token`] on this thread (the replay
/// test checks the signature invariant is not vacuous).
pub fn accepted_tokens() -> usize {
    ACCEPTED.with(std::cell::Cell::get)
}

/// Runs `f` with the token fixture.
pub fn with_token_fixture<R>(f: impl FnOnce(&TokenFixture) -> R) -> R {
    TOKEN.with(f)
}

fn profiles() -> Vec<Profile> {
    let corpus = CaseFile::from_json(DECISIONS).expect("decision vectors");
    let jwks = corpus.config["issuers"][0]["jwks"].clone();
    let mut configs = vec![("decisions", corpus.config.clone())];
    for ((name, text), scenarios) in SHIPPED_CONFIGS.iter().zip(SCENARIOS) {
        let mut config: serde_json::Value = serde_json::from_str(text).expect("shipped configuration");
        let mut jwks = jwks.clone();
        let scenarios: serde_json::Value = serde_json::from_str(scenarios).expect("scenario file");
        for key in scenarios["keys"].as_array().into_iter().flatten() {
            let mut public = key["jwk"].clone();
            if let Some(jwk) = public.as_object_mut() {
                jwk.remove("d");
            }
            if let Some(keys) = jwks["keys"].as_array_mut() {
                if !keys.contains(&public) {
                    keys.push(public);
                }
            }
        }
        config["issuers"][0]["jwks"] = jwks;
        configs.push((name, config));
    }
    configs
        .into_iter()
        .map(|(name, config)| {
            let mut gate = Gate::new(&config.to_string()).unwrap_or_else(|e| panic!("{name}: {e}"));
            gate.set_cache_bounds(16, 1 << 20);
            let issuer = &config["issuers"][0];
            Profile {
                name,
                gate,
                issuer: issuer["issuer"].as_str().unwrap_or_default().to_owned(),
                audience: issuer["audience"].as_str().unwrap_or_default().to_owned(),
                resource: config["resource"].as_str().map(str::to_owned),
                header: config["token"]["header"]
                    .as_str()
                    .unwrap_or("x-jit-approval")
                    .to_owned(),
                config: config.to_string(),
            }
        })
        .collect()
}

/// Runs `f` with the request target's gates.
pub fn with_profiles<R>(f: impl FnOnce(&[Profile]) -> R) -> R {
    PROFILES.with(|p| f(p))
}

/// The configurations the config target starts from (valid, each).
pub fn base_configs() -> Vec<String> {
    let mut configs = vec![CaseFile::from_json(DECISIONS)
        .expect("decision vectors")
        .config
        .to_string()];
    configs.extend(SHIPPED_CONFIGS.iter().map(|(_, c)| (*c).to_owned()));
    configs
}

// ----------------------------------------------------------------------------------
// token

/// Whether any configured key (or none) made `token`'s signature, checked with the
/// signature crates directly, not through the core: leniently (any base64url, any
/// padding), so this says "signed" for more tokens than the core may accept.
pub fn signed_by_configured_key(token: &str, keys: &[(String, SigningKey)]) -> bool {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = lenient.decode(signature) else {
        return false;
    };
    keys.iter().any(|(_, key)| match key {
        SigningKey::Ed25519(sk) => {
            use ed25519_dalek::Verifier as _;
            ed25519_dalek::Signature::from_slice(&signature)
                .is_ok_and(|sig| sk.verifying_key().verify(signing_input.as_bytes(), &sig).is_ok())
        }
        SigningKey::P256(sk) => {
            use p256::ecdsa::signature::Verifier as _;
            p256::ecdsa::Signature::from_slice(&signature)
                .is_ok_and(|sig| sk.verifying_key().verify(signing_input.as_bytes(), &sig).is_ok())
        }
    })
}

/// Target `token`, raw mode: `token` is the token text. Verified with `Gate::verify`
/// and decided in a request (the token header, plus `selector`-chosen extras) under
/// the decision vectors' configuration. Invariants: no panic; a token the configured
/// keys did not sign is never accepted; decisions are allow 200 or a 4xx/5xx denial.
pub fn token(selector: u8, token: &str) {
    with_token_fixture(|fx| {
        let facts = RequestFacts::default();
        if let Ok(approval) = fx.gate.verify(token, NOW_NS, &facts) {
            ACCEPTED.with(|n| n.set(n.get() + 1));
            assert!(
                signed_by_configured_key(token, &fx.keys),
                "Gate::verify accepted a token no configured key signed: {token:?} -> {approval:?}"
            );
        }
        let path = match selector % 4 {
            0 => "/orders?id=7",
            1 => "/healthz",
            2 => "/",
            _ => "*",
        };
        let mut request = Request::new("GET", path).header("x-jit-approval", token);
        if selector & 4 != 0 {
            request = request.header("host", "db.internal");
        }
        if selector & 8 != 0 {
            request = request.certificate_sha256("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
        }
        let decision = fx.gate.decide(&request, NOW_NS);
        check_decision(&decision);
        if decision.token == TokenStatus::Valid || decision.approval.is_some() {
            assert!(
                signed_by_configured_key(token, &fx.keys),
                "Gate::decide took a token no configured key signed: {token:?}"
            );
        }
    });
}

/// Every decision is an allow (200, forwarded) or a denial (4xx/5xx, answered locally
/// when enforced).
pub fn check_decision(d: &jitgate_core::Decision) {
    if d.allow {
        assert_eq!(d.status, 200, "an allow with status {}", d.status);
        assert!(matches!(d.action, Action::Forward(_)), "an allow answered locally");
    } else {
        assert!((400..=599).contains(&d.status), "a denial with status {}", d.status);
        assert!(
            !d.enforced || matches!(d.action, Action::Respond(_)),
            "an enforced denial forwarded"
        );
    }
    assert_eq!(d.audit.allow, d.allow);
    assert_eq!(d.audit.status, d.status);
}

// ----------------------------------------------------------------------------------
// config

/// Target `config`, raw mode: `text` is a configuration. `Config::from_json_str`
/// must not panic; when `selector % 16 == 0` and it parses, `Gate::new` (the Rego
/// compile) runs too and a built gate decides one request.
pub fn config(selector: u8, text: &str) {
    let parsed = jitgate_core::Config::from_json_str(text);
    if let Err(e) = &parsed {
        let _ = (e.code(), e.field(), e.to_string());
    }
    if parsed.is_ok() && selector % 16 == 0 {
        if let Ok(gate) = Gate::new(text) {
            check_decision(&gate.decide(&Request::new("GET", "/healthz"), NOW_NS));
        }
    }
}

// ----------------------------------------------------------------------------------
// request

/// Target `request`, raw mode: `text` is a request document (the JSON form of the CLI
/// and the JS package), decided by the gate `selector` chooses (the decision vectors'
/// or a shipped policy's). Unreadable requests are refused (`request_invalid`, 400)
/// as every host does. No panic; every decision is an allow or a denial.
pub fn request(selector: u8, text: &str) {
    with_profiles(|profiles| {
        let Some(profile) = profiles.get(usize::from(selector) % profiles.len()) else {
            return;
        };
        match Request::from_json_str(text) {
            Ok(request) => check_decision(&profile.gate.decide(&request, NOW_NS)),
            Err(e) => {
                let d = profile.gate.refuse(Fault::Request, e.to_string(), NOW_NS);
                check_decision(&d);
                assert!(!d.allow && d.status == 400, "an unreadable request was not a 400");
            }
        }
    });
}

// ----------------------------------------------------------------------------------
// Values from bytes (policy_result, builtins): a small structure-aware decoder.

/// Reads bytes front to back; past the end, every read is zero.
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    /// One byte.
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    /// `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for (i, x) in self.take(8).iter().enumerate() {
            b[i] = *x;
        }
        u64::from_le_bytes(b)
    }

    /// Whether anything is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Strings that mean something to the policy-result reader and to the builtins.
const WORDS: &[&str] = &[
    "allow",
    "reason",
    "status",
    "headers",
    "response_headers",
    "",
    "a",
    "Local",
    "UTC",
    "Etc/GMT+5",
    "Europe/Berlin",
    "%d",
    "%s",
    "%v",
    "%99999999999d",
    "%-1000.1000f",
    "%\u{663}d",
    "%1\u{b2}s",
    "%*d",
    "2006-01-02T15:04:05Z07:00",
    "2026-11-26T10:30:00Z",
    "1.2.3",
    "1.2.3-rc.1+b",
    "^[a-z]+$",
    "((((",
    "[a-",
    "(?i)x",
    "\\d+",
    "**/*.rego",
    "*",
    "?",
    "{a,b}",
    "\\",
    "\u{0}",
    "x-jit-subject",
    "content-type",
    "400",
    "1e400",
    "-0",
    "0x10",
    "eyJhbGciOiJFZERTQSJ9",
    "=",
    "/",
    "..",
    "%2e%2e",
    "ａ",
    "\u{200b}",
    "\u{1F600}",
    "9223372036854775807",
    "18446744073709551616",
    "NaN",
    "Inf",
    "true",
    "null",
    "{\"a\":[1,",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "400",
    "599",
    "600",
    "1000",
    "100000",
    "100001",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "-1e308",
    "0.5",
    "1.5e3",
    "123456789012345678901234567890123456789",
    "1e-300",
];

/// A regorus value from bytes, nested at most `depth` deep. `top` allows `Undefined`.
pub fn value(b: &mut Bytes<'_>, depth: u32, top: bool) -> Value {
    let tag = b.byte();
    let leaf = depth == 0 || b.is_empty();
    match tag % 16 {
        0 => Value::Null,
        1 => Value::Bool(tag & 0x10 != 0),
        2 => Value::from(b.u64() as i64),
        3 => Value::from(i64::from(b.byte() as i8)),
        4 => {
            let f = f64::from_bits(b.u64());
            if f.is_finite() {
                Value::from(f)
            } else {
                Value::from(0.0)
            }
        }
        5 => {
            let n = NUMBERS[usize::from(b.byte()) % NUMBERS.len()];
            Value::from_numeric_string(n).unwrap_or(Value::Null)
        }
        6..=8 => Value::from(WORDS[usize::from(b.byte()) % WORDS.len()]),
        9..=10 => {
            let len = usize::from(b.byte() % 24);
            Value::from(String::from_utf8_lossy(b.take(len)).into_owned())
        }
        11 if !leaf => {
            let n = usize::from(b.byte() % 6);
            Value::from((0..n).map(|_| value(b, depth - 1, false)).collect::<Vec<_>>())
        }
        12 if !leaf => {
            let n = usize::from(b.byte() % 6);
            Value::from(
                (0..n)
                    .map(|_| value(b, depth - 1, false))
                    .collect::<std::collections::BTreeSet<_>>(),
            )
        }
        13..=14 if !leaf => {
            let n = usize::from(b.byte() % 6);
            let mut map = BTreeMap::new();
            for _ in 0..n {
                // Mostly string keys, as JSON and policy results have.
                let key = if b.byte() % 4 == 0 {
                    value(b, depth - 1, false)
                } else {
                    Value::from(WORDS[usize::from(b.byte()) % WORDS.len()])
                };
                map.insert(key, value(b, depth - 1, false));
            }
            Value::from(map)
        }
        15 if top => Value::Undefined,
        _ => Value::from(i64::from(tag)),
    }
}

// ----------------------------------------------------------------------------------
// policy_result

/// Target `policy_result`, raw mode: a value from `data` (the byte decoder above),
/// read as a policy result by `policy::interpret`. No panic; a status is 400–599.
pub fn policy_result(data: &[u8]) {
    let v = value(&mut Bytes(data), 6, true);
    check_outcome(&interpret(&v));
}

/// Target `policy_result`, JSON mode: `text` as a regorus value, when it is JSON.
pub fn policy_result_json(text: &str) {
    if let Ok(v) = Value::from_json_str(text) {
        check_outcome(&interpret(&v));
    }
}

fn check_outcome(outcome: &PolicyOutcome) {
    if let PolicyOutcome::Deny { status: Some(s), .. } = outcome {
        assert!((400..=599).contains(s), "a denial status {s}");
    }
}

// ----------------------------------------------------------------------------------
// builtins

/// The builtins fuzzed: (name, arity), in the list's order.
pub fn builtin_list() -> Vec<(&'static str, usize)> {
    BUILTINS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            // `name arity [feature]`
            let mut words = l.split_whitespace();
            Some((words.next()?, words.next()?.parse().ok()?))
        })
        .filter(|(name, _)| !SKIP_BUILTINS.contains(name))
        .collect()
}

/// Target `builtins`, raw mode: a builtin from the list — by name when `selector` is
/// odd (`name`, a zero byte, then the arguments: the form committed regressions use, so
/// they survive changes to the list), else by two bytes of index — and its arguments
/// (the byte decoder above). It is called through an engine built with
/// `policy::load_modules` (jitgate's checked builtins installed), the arguments coming
/// in as `input.args`, as request data would. Errors and undefined are fine (denials);
/// a panic is a finding, and names the call. Returns the builtin's name and arguments.
pub fn builtin(selector: u8, data: &[u8]) -> Option<(&'static str, Vec<Value>)> {
    let list = builtin_list();
    let (index, mut b) = if selector & 1 == 1 {
        let nul = data.iter().position(|c| *c == 0)?;
        let (name, rest) = data.split_at(nul);
        let name = std::str::from_utf8(name).ok()?;
        let index = list.iter().position(|(n, _)| *n == name)?;
        (index, Bytes(rest.get(1..).unwrap_or_default()))
    } else {
        let mut b = Bytes(data);
        let index = usize::from(u16::from_le_bytes([b.byte(), b.byte()])) % list.len();
        (index, b)
    };
    let (name, arity) = *list.get(index)?;
    let args: Vec<Value> = (0..arity).map(|_| value(&mut b, 4, false)).collect();
    let engine = ENGINES.with(|engines| {
        engines
            .borrow_mut()
            .entry(index)
            .or_insert_with(|| builtin_engine(name, arity))
            .clone()
    })?;
    let mut e = engine;
    let mut input = BTreeMap::new();
    input.insert(Value::from("args"), Value::from(args.clone()));
    e.set_input(Value::from(input));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.eval_rule("data.fz.b".to_string())));
    if let Err(panic) = outcome {
        // Name the call (in the replay test; a fuzz build aborts at the panic itself).
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.to_json_str().unwrap_or_else(|_| format!("{a:?}")))
            .collect();
        panic!("builtin {name}({}) panicked: {message}", shown.join(", "));
    }
    Some((name, args))
}

/// An engine with one rule calling `name` on `input.args`, or `None` when this build
/// does not have the builtin.
fn builtin_engine(name: &str, arity: usize) -> Option<Engine> {
    let args: Vec<String> = (0..arity).map(|a| format!("input.args[{a}]")).collect();
    let module = format!("package fz\nb := {name}({})\n", args.join(", "));
    let modules = BTreeMap::from([("fz.rego".to_string(), module)]);
    let (engine, _clock) = load_modules(&modules, Value::new_object(), false).ok()?;
    let mut probe = engine.clone();
    let mut input = BTreeMap::new();
    input.insert(Value::from("args"), Value::from(vec![Value::Null; arity]));
    probe.set_input(Value::from(input));
    match probe.eval_rule("data.fz.b".to_string()) {
        Err(e) if e.to_string().contains("could not find function") => None,
        _ => Some(engine),
    }
}

// ----------------------------------------------------------------------------------
// Dispatch by target name (the replay test).

/// The fuzz targets whose inputs the replay test checks.
pub const TARGETS: &[&str] = &["token", "config", "request", "policy_result", "builtins", "feed"];

/// The live-trust documents (docs/live-trust.md): the selector's low two bits pick the
/// kind (revocation list, status list, key set); bit 2 set signs the rest as the
/// payload with the trusted key and the right `typ` (so the claim parsers and the
/// status-list inflater are reached), bit 3 set signs it with an attacker's key under
/// the trusted `kid`. Installing never panics, an attacker's document is never
/// installed, and the gate still decides afterwards.
fn feed(selector: u8, rest: &[u8]) {
    use jitgate_core::{KEY_SET_TYPE, REVOCATIONS_TYPE, STATUS_LIST_TYPE};
    use jitgate_mint::sign_raw;
    const ISSUER: &str = "https://approvals.example.com";
    const LIST: &str = "https://approvals.example.com/v1/status-lists/0";
    thread_local! {
        static KEY: SigningKey = SigningKey::from_secret(jitgate_core::Algorithm::EdDsa, &[0x11; 32]).unwrap();
    }
    let key = KEY.with(Clone::clone);
    let attacker = SigningKey::from_secret(jitgate_core::Algorithm::EdDsa, &ATTACKER_SECRET).unwrap();
    let config = serde_json::json!({
        "issuers": [{"issuer": ISSUER, "audience": "db-gateway", "jwks": {"keys": [key.public_jwk("k1")]},
                     "feed": {"cluster": "approvals", "status_lists": {LIST: "/v1/status-lists/0"},
                              "unsigned_jwks": selector & 0x10 != 0}}],
        "policy": {"modules": {"p.rego": "package access.jit\nallow if input.token.valid"}}
    });
    let gate = Gate::new(&config.to_string()).unwrap();
    let typ = [REVOCATIONS_TYPE, STATUS_LIST_TYPE, KEY_SET_TYPE, REVOCATIONS_TYPE][usize::from(selector & 3)];
    let signed = selector & 0x04 != 0;
    let forged = selector & 0x08 != 0;
    let document = if signed || forged {
        let header = format!(r#"{{"alg":"EdDSA","typ":"{typ}","kid":"k1"}}"#);
        sign_raw(header.as_bytes(), rest, if forged { &attacker } else { &key })
    } else {
        text(rest)
    };
    let now = NOW_NS;
    let result = match selector & 3 {
        1 => gate.install_status_list(ISSUER, LIST, &document, now),
        2 => gate.install_keys(ISSUER, &document, now),
        _ => gate.install_revocations(ISSUER, &document, now),
    };
    if forged {
        assert!(result.is_err(), "a document signed by an attacker's key was installed");
    }
    let _ = gate.confirm_current(ISSUER, None, now);
    let _ = gate.trust_status(now);
    let token = jitgate_mint::mint(
        &serde_json::json!({"iss": ISSUER, "sub": "a", "aud": "db-gateway", "iat": now / 1_000_000_000 - 10,
                            "nbf": now / 1_000_000_000 - 10, "exp": now / 1_000_000_000 + 60, "jti": "j",
                            "jit": {"resource": "r"},
                            "status": {"status_list": {"idx": u64::from(rest.first().copied().unwrap_or(0)), "uri": LIST}}}),
        &key,
        "k1",
    );
    let d = gate.decide(&Request::new("GET", "/").header("x-jit-approval", &token), now);
    assert!(d.status == 200 || d.status == 401, "{}", d.status);
}

/// Runs target `name`'s raw-mode check on one input (selector byte first).
pub fn run(name: &str, data: &[u8]) {
    let (selector, rest) = split(data);
    match name {
        "token" => token(selector, &text(rest)),
        "feed" => feed(selector, rest),
        "config" => config(selector, &text(rest)),
        "request" => request(selector, &text(rest)),
        "policy_result" => {
            if selector & 1 == 0 {
                policy_result(rest);
            } else {
                policy_result_json(&text(rest));
            }
        }
        "builtins" => {
            builtin(selector, rest);
        }
        other => panic!("no fuzz target `{other}`"),
    }
}
