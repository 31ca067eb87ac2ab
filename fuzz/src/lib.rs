//! Structured fuzz inputs for jitgate's fuzz targets (the `arbitrary` crate), rendered
//! to the raw form that the shared checks (`policy-core/tests/fuzz_checks/mod.rs`)
//! read — the same checks the stable replay test runs on committed inputs.
//!
//! An input whose first byte is below 0x80 is raw (checked as it is); from 0x80 on,
//! the rest is decoded with `arbitrary` into the target's input type below, rendered
//! (JSON text, a signed token …) and checked in raw form. With
//! `JITGATE_FUZZ_RENDER=<file>` set, each input's raw form is also written to that
//! file: running a target on a structured crash input that way gives the file to
//! commit under `fuzz/regressions/<target>/`.

use arbitrary::{Arbitrary, Unstructured};
use jitgate_core::Algorithm;
use jitgate_mint::{sign_raw, SigningKey};

#[path = "../../policy-core/tests/fuzz_checks/mod.rs"]
pub mod checks;
pub mod differential;

/// Runs fuzz target `target` on one libFuzzer input.
pub fn fuzz(target: &str, data: &[u8]) {
    if target == "differential" {
        if let Ok(input) = differential::DiffInput::arbitrary(&mut Unstructured::new(data)) {
            differential::run(&input);
        }
        return;
    }
    let raw = match data.split_first() {
        Some((first, rest)) if *first >= 0x80 && matches!(target, "token" | "config" | "request") => {
            let mut u = Unstructured::new(rest);
            let rendered = match target {
                "token" => TokenInput::arbitrary(&mut u).map(|t| t.render()),
                "config" => ConfigInput::arbitrary(&mut u).map(|c| c.render()),
                _ => RequestInput::arbitrary(&mut u).map(|r| r.render()),
            };
            let Ok((selector, text)) = rendered else { return };
            let mut raw = vec![selector & 0x7f];
            raw.extend_from_slice(text.as_bytes());
            raw
        }
        _ => data.to_vec(),
    };
    if let Some(path) = std::env::var_os("JITGATE_FUZZ_RENDER") {
        let _ = std::fs::write(path, &raw);
    }
    checks::run(target, &raw);
}

// ----------------------------------------------------------------------------------
// JSON with duplicates, odd numbers and words that matter.

/// Member names the token, request and configuration readers know.
const KEYS: &[&str] = &[
    "alg",
    "typ",
    "kid",
    "crit",
    "b64",
    "jku",
    "x5u",
    "jwk",
    "cty",
    "iss",
    "sub",
    "aud",
    "iat",
    "nbf",
    "exp",
    "jti",
    "jit",
    "cnf",
    "x5t#S256",
    "resource",
    "role",
    "actions",
    "reason",
    "ticket",
    "approvers",
    "risk",
    "issuers",
    "issuer",
    "audience",
    "jwks",
    "keys",
    "kty",
    "crv",
    "x",
    "y",
    "d",
    "use",
    "max_ttl_s",
    "leeway_s",
    "token",
    "header",
    "prefix",
    "forward",
    "identity",
    "peer_principal",
    "policy",
    "modules",
    "data",
    "entrypoint",
    "rego_v0",
    "max_eval_ms",
    "evaluator",
    "interpreter",
    "rvm",
    "revoked",
    "mode",
    "method",
    "path",
    "headers",
    "source",
    "address",
    "principal",
    "certificate_sha256",
    "host",
    "scheme",
    "protocol",
    "id",
    "allow",
    "status",
    "response_headers",
    "",
    "ALG",
    "Alg",
    "alg\u{0}",
];

/// Values that mean something somewhere.
pub(crate) const WORDS: &[&str] = &[
    "EdDSA", "ES256", "none", "HS256", "RS256", "eddsa", "ES256K", "jit-approval+jwt", "application/jit-approval+jwt",
    "JIT-APPROVAL+JWT", "JWT", "ed1", "ec1", "kid-unknown", "https://approvals.example.com",
    "https://approvals.example.com/", "db-gateway", "test-database", "orders-db", "prod-db", "developer", "admin",
    "alice@example.com", "bob@example.com", "mallory@example.com", "appr-1", "appr-revoked", "read", "write",
    "delete", "GET", "POST", "DELETE", "high", "low", "INC-42", "incident 42", "OKP", "Ed25519", "EC", "P-256",
    "sig", "enforce", "dry_run", "x-jit-approval", "authorization", "Bearer ", "x-authenticated-user",
    "data.access.jit.allow", "package access.jit\nallow if true\n",
    "package access.jit\nallow if http.send({\"url\": \"x\"})\n", "package access.jit\nallow := 1 +\n",
    "package access.jit\nimport rego.v1\nallow if count(numbers.range(1, to_number(input.request.headers[\"x-n\"]))) > 0\n",
    "0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc", "1lqTl3yqPRsIGFL_V6eeRl8WYFdzBLrq1QXdOkhYnPM",
    "UBheiVNy32Ih6joTdVfkc_3bZ1XwW9UHw8Uz_OnJEoU", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
    "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "", " ", "\u{0}", "\u{200b}admin", "ａｄｍｉｎ", "Local",
];

/// The decision time in seconds.
const NOW_S: i64 = checks::NOW_NS / 1_000_000_000;

/// A member name: a known one or any string.
#[derive(Arbitrary, Debug, Clone)]
pub enum Key {
    /// From [`KEYS`].
    Known(u8),
    /// Anything.
    Other(String),
}

impl Key {
    fn text(&self) -> String {
        match self {
            Key::Known(i) => KEYS[usize::from(*i) % KEYS.len()].to_owned(),
            Key::Other(s) => s.clone(),
        }
    }
}

/// A JSON-ish value; objects keep their member order and may repeat names.
#[derive(Arbitrary, Debug, Clone)]
pub enum J {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any integer.
    Int(i64),
    /// A time near the decision time (seconds, minutes apart).
    Time(i8),
    /// Any float (non-finite ones render as `1e999`).
    Float(f64),
    /// A number as text, as long as it likes (`1e400`, `-0`, `00`, …).
    NumText(u8),
    /// From [`WORDS`].
    Word(u8),
    /// Any string.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object.
    Obj(Vec<(Key, J)>),
}

const NUM_TEXTS: &[&str] = &[
    "0",
    "-0",
    "00",
    "1.0",
    "1e3",
    "1E3",
    "9007199254740992",
    "9007199254740991",
    "-1",
    "1e400",
    "0.0",
    "18446744073709551616",
    "123456789012345678901234567890",
    "1795689000.5",
    "1795689000e0",
];

impl J {
    fn word(s: &str) -> J {
        J::Str(s.to_owned())
    }

    /// JSON text (member order kept, duplicates kept).
    pub fn render(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(i) => out.push_str(&i.to_string()),
            J::Time(k) => out.push_str(&(NOW_S + i64::from(*k) * 60).to_string()),
            J::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => out.push_str(&n.to_string()),
                None => out.push_str("1e999"),
            },
            J::NumText(i) => out.push_str(NUM_TEXTS[usize::from(*i) % NUM_TEXTS.len()]),
            J::Word(i) => string(out, WORDS[usize::from(*i) % WORDS.len()]),
            J::Str(s) => string(out, s),
            J::Arr(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    item.render(out);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (n, (k, v)) in members.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    string(out, &k.text());
                    out.push(':');
                    v.render(out);
                }
                out.push('}');
            }
        }
    }

    fn to_text(&self) -> String {
        let mut s = String::new();
        self.render(&mut s);
        s
    }

    /// From parsed JSON (to mutate a valid document).
    pub fn from_json(v: &serde_json::Value) -> J {
        match v {
            serde_json::Value::Null => J::Null,
            serde_json::Value::Bool(b) => J::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => J::Int(i),
                None => J::Float(n.as_f64().unwrap_or_default()),
            },
            serde_json::Value::String(s) => J::Str(s.clone()),
            serde_json::Value::Array(a) => J::Arr(a.iter().map(J::from_json).collect()),
            serde_json::Value::Object(o) => J::Obj(
                o.iter()
                    .map(|(k, v)| (Key::Other(k.clone()), J::from_json(v)))
                    .collect(),
            ),
        }
    }
}

fn string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

/// A change to an object's members.
#[derive(Arbitrary, Debug, Clone)]
pub struct Edit {
    /// The member.
    pub key: Key,
    /// The new value; `None` removes the member.
    pub value: Option<J>,
    /// Add another member of the same name instead of replacing.
    pub duplicate: bool,
}

pub(crate) fn apply(members: &mut Vec<(Key, J)>, edit: &Edit) {
    let name = edit.key.text();
    match &edit.value {
        None => members.retain(|(k, _)| k.text() != name),
        Some(v) => match members.iter_mut().find(|(k, _)| k.text() == name) {
            Some(slot) if !edit.duplicate => slot.1 = v.clone(),
            _ => members.push((Key::Other(name), v.clone())),
        },
    }
}

fn member(name: &str, value: J) -> (Key, J) {
    (Key::Other(name.to_owned()), value)
}

// ----------------------------------------------------------------------------------
// token

/// Who signs.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Signer {
    /// The configured Ed25519 key (`ed1`).
    Ed1,
    /// The configured P-256 key (`ec1`).
    Ec1,
    /// An Ed25519 key nobody configured.
    AttackerEd,
    /// A P-256 key nobody configured.
    AttackerEc,
    /// No key: these bytes are the signature.
    Bytes,
}

/// How the three segments are put together.
#[derive(Arbitrary, Debug, Clone)]
pub enum Shape {
    /// `header.payload.signature`.
    Compact,
    /// This text instead of the encoded header (after signing).
    RawHeader(String),
    /// This text instead of the encoded payload (after signing).
    RawPayload(String),
    /// This text instead of the signature.
    RawSignature(String),
    /// A fourth segment.
    Extra(String),
    /// Only `header.payload`.
    TwoSegments,
    /// The signature segment with `=` padding.
    Padded,
}

/// Target `token`: a header and claims (the standard ones, then edited), signed or not.
#[derive(Arbitrary, Debug, Clone)]
pub struct TokenInput {
    /// The check's selector (request path and extras).
    pub selector: u8,
    /// Edits to the standard header `{alg, typ, kid}`.
    pub header: Vec<Edit>,
    /// Edits to valid claims.
    pub claims: Vec<Edit>,
    /// Edits to the `jit` claim.
    pub jit: Vec<Edit>,
    /// Replace the whole payload with this value.
    pub payload: Option<J>,
    /// Who signs.
    pub signer: Signer,
    /// The signature when `signer` is `Bytes`.
    pub signature: Vec<u8>,
    /// How the segments are joined.
    pub shape: Shape,
    /// Flip bits of one byte of the finished token: (position, xor).
    pub flip: Option<(u16, u8)>,
}

/// The valid claims for the decision vectors' configuration.
pub(crate) fn valid_claims(issuer: &str, audience: &str, resource: Option<&str>, jit: Vec<(Key, J)>) -> Vec<(Key, J)> {
    let mut jit_members = vec![
        member("resource", J::word(resource.unwrap_or("test-database"))),
        member("role", J::word("developer")),
        member("actions", J::Arr(vec![J::word("read")])),
        member("reason", J::word("incident 42")),
    ];
    jit_members.extend(jit);
    vec![
        member("iss", J::word(issuer)),
        member("sub", J::word("alice@example.com")),
        member("aud", J::word(audience)),
        member("iat", J::Time(-5)),
        member("nbf", J::Time(-5)),
        member("exp", J::Time(30)),
        member("jti", J::word("appr-fuzz")),
        member("jit", J::Obj(jit_members)),
    ]
}

fn key(signer: Signer) -> Option<(SigningKey, &'static str)> {
    let fixture =
        |kid: &str| checks::with_token_fixture(|fx| fx.keys.iter().find(|(k, _)| k == kid).map(|(_, k)| k.clone()));
    match signer {
        Signer::Ed1 => fixture("ed1").map(|k| (k, "ed1")),
        Signer::Ec1 => fixture("ec1").map(|k| (k, "ec1")),
        Signer::AttackerEd => SigningKey::from_secret(Algorithm::EdDsa, &checks::ATTACKER_SECRET)
            .ok()
            .map(|k| (k, "ed1")),
        Signer::AttackerEc => SigningKey::from_secret(Algorithm::Es256, &checks::ATTACKER_SECRET)
            .ok()
            .map(|k| (k, "ec1")),
        Signer::Bytes => None,
    }
}

/// The header and payload JSON edited as `header` and `claims` say, signed by `signer`.
pub(crate) fn signed_token(
    signer: Signer,
    signature: &[u8],
    header_edits: &[Edit],
    claims: Vec<(Key, J)>,
    claim_edits: &[Edit],
    payload: Option<&J>,
) -> (String, String, String) {
    use base64::Engine as _;
    let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing = key(signer);
    let (alg, kid) = match &signing {
        Some((k, kid)) => (k.alg().as_str(), *kid),
        None => ("EdDSA", "ed1"),
    };
    let mut header = vec![
        member("alg", J::word(alg)),
        member("typ", J::word("jit-approval+jwt")),
        member("kid", J::word(kid)),
    ];
    for e in header_edits {
        apply(&mut header, e);
    }
    let mut claims = claims;
    for e in claim_edits {
        apply(&mut claims, e);
    }
    let header = J::Obj(header).to_text();
    let payload = payload.cloned().unwrap_or(J::Obj(claims)).to_text();
    match signing {
        Some((k, _)) => {
            let token = sign_raw(header.as_bytes(), payload.as_bytes(), &k);
            let mut parts = token.split('.').map(str::to_owned);
            let h = parts.next().unwrap_or_default();
            let p = parts.next().unwrap_or_default();
            let s = parts.next().unwrap_or_default();
            (h, p, s)
        }
        None => (
            b64.encode(header.as_bytes()),
            b64.encode(payload.as_bytes()),
            b64.encode(signature),
        ),
    }
}

impl TokenInput {
    /// The selector and the token text.
    pub fn render(&self) -> (u8, String) {
        let claims = valid_claims("https://approvals.example.com", "db-gateway", None, Vec::new());
        let mut claims = claims;
        if let Some((_, J::Obj(jit))) = claims.iter_mut().find(|(k, _)| k.text() == "jit") {
            for e in &self.jit {
                apply(jit, e);
            }
        }
        let (h, p, s) = signed_token(
            self.signer,
            &self.signature,
            &self.header,
            claims,
            &self.claims,
            self.payload.as_ref(),
        );
        let token = match &self.shape {
            Shape::Compact => format!("{h}.{p}.{s}"),
            Shape::RawHeader(x) => format!("{x}.{p}.{s}"),
            Shape::RawPayload(x) => format!("{h}.{x}.{s}"),
            Shape::RawSignature(x) => format!("{h}.{p}.{x}"),
            Shape::Extra(x) => format!("{h}.{p}.{s}.{x}"),
            Shape::TwoSegments => format!("{h}.{p}"),
            Shape::Padded => format!("{h}.{p}.{s}=="),
        };
        let token = match self.flip {
            Some((pos, xor)) if !token.is_empty() && xor != 0 => {
                let mut bytes = token.into_bytes();
                let i = usize::from(pos) % bytes.len();
                bytes[i] ^= xor;
                String::from_utf8_lossy(&bytes).into_owned()
            }
            _ => token,
        };
        (self.selector, token)
    }
}

// ----------------------------------------------------------------------------------
// config

/// A change somewhere in a configuration document.
#[derive(Arbitrary, Debug, Clone)]
pub enum ConfigEdit {
    /// Replace the node reached by these child choices.
    Set(Vec<u8>, J),
    /// Remove the node reached.
    Remove(Vec<u8>),
    /// Edit the members of the object reached.
    Member(Vec<u8>, Edit),
}

/// Target `config`: one of the valid configurations, edited.
#[derive(Arbitrary, Debug, Clone)]
pub struct ConfigInput {
    /// The check's selector (`% 16 == 0` compiles the policy too).
    pub selector: u8,
    /// Which valid configuration.
    pub base: u8,
    /// The edits.
    pub edits: Vec<ConfigEdit>,
}

fn reach<'a>(node: &'a mut J, path: &[u8]) -> &'a mut J {
    let len = match &*node {
        J::Arr(items) => items.len(),
        J::Obj(members) => members.len(),
        _ => 0,
    };
    let Some((step, rest)) = path.split_first().filter(|_| len > 0) else {
        return node;
    };
    let i = usize::from(*step) % len;
    match node {
        J::Arr(items) => reach(&mut items[i], rest),
        J::Obj(members) => reach(&mut members[i].1, rest),
        other => other,
    }
}

impl ConfigInput {
    /// The selector and the configuration text.
    pub fn render(&self) -> (u8, String) {
        let bases = checks::base_configs();
        let base = &bases[usize::from(self.base) % bases.len()];
        let mut doc = serde_json::from_str(base).map(|v| J::from_json(&v)).unwrap_or(J::Null);
        for edit in &self.edits {
            match edit {
                ConfigEdit::Set(path, value) => *reach(&mut doc, path) = value.clone(),
                ConfigEdit::Remove(path) => {
                    if let Some((last, parent)) = path.split_last() {
                        match reach(&mut doc, parent) {
                            J::Arr(items) if !items.is_empty() => {
                                let i = usize::from(*last) % items.len();
                                items.remove(i);
                            }
                            J::Obj(members) if !members.is_empty() => {
                                let i = usize::from(*last) % members.len();
                                members.remove(i);
                            }
                            _ => {}
                        }
                    }
                }
                ConfigEdit::Member(path, e) => {
                    if let J::Obj(members) = reach(&mut doc, path) {
                        apply(members, e);
                    }
                }
            }
        }
        (self.selector, doc.to_text())
    }
}

// ----------------------------------------------------------------------------------
// request

const HEADER_NAMES: &[&str] = &[
    "x-jit-approval",
    "authorization",
    "x-authenticated-user",
    "host",
    "x-http-method-override",
    "x-method-override",
    "x-http-method",
    "x-jit-subject",
    "x_jit_subject",
    "x-jit-approval-id",
    "x-jit-expires",
    "content-type",
    "x-request-id",
    "x-forwarded-for",
    "x-n",
    ":path",
    "",
    "bad name",
    "x-jitgate-test-trap",
    "te",
    "cookie",
];

pub(crate) const PATHS: &[&str] = &[
    "/healthz",
    "/orders",
    "/orders?id=7",
    "/orders/7",
    "/orders/../admin",
    "/orders/%2e%2e/admin",
    "/%c0%ae",
    "/orders;x",
    "//orders",
    "*",
    "",
    "orders",
    "/orders?_method=DELETE",
    "/ｏrders",
    "/orders/%u002e",
    "/orders/..%3b/",
    "http://host/healthz",
    "/healthz?x=1",
    "/HEALTHZ",
    "/healthz/",
    "/reports/q3",
    "/admin",
    "/payments/1",
    "/orders/%2F..",
];

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "", "CONNECT", "G T",
];

/// Text from a dictionary or any string.
#[derive(Arbitrary, Debug, Clone)]
pub enum Pick {
    /// From the dictionary.
    Known(u8),
    /// From [`WORDS`].
    Word(u8),
    /// Anything.
    Other(String),
}

impl Pick {
    fn text(&self, dict: &[&str]) -> String {
        match self {
            Pick::Known(i) => dict[usize::from(*i) % dict.len()].to_owned(),
            Pick::Word(i) => WORDS[usize::from(*i) % WORDS.len()].to_owned(),
            Pick::Other(s) => s.clone(),
        }
    }
}

/// One header entry of the request document.
#[derive(Arbitrary, Debug, Clone)]
pub struct Header {
    /// The name.
    pub name: Pick,
    /// Bits that upper-case the name's letters.
    pub casing: u16,
    /// One value or several (`[..]`); `None` is a JSON value of another type.
    pub values: Vec<Pick>,
    /// Render as a single value (when there is exactly one).
    pub single: bool,
    /// A value of the wrong type instead.
    pub odd: Option<J>,
}

/// A token for the chosen gate.
#[derive(Arbitrary, Debug, Clone)]
pub struct RequestToken {
    /// Who signs.
    pub signer: Signer,
    /// Edits to the valid claims.
    pub claims: Vec<Edit>,
    /// Edits to `jit`.
    pub jit: Vec<Edit>,
    /// Where: the gate's token header (cased by these bits) or `authorization: Bearer`.
    pub casing: u16,
    /// Put it in `authorization` with a `Bearer ` prefix instead.
    pub bearer: bool,
}

/// Target `request`: a request document for one of the gates.
#[derive(Arbitrary, Debug, Clone)]
pub struct RequestInput {
    /// Which gate.
    pub selector: u8,
    /// The method.
    pub method: Pick,
    /// The path.
    pub path: Pick,
    /// The header map (names may repeat: duplicate JSON members).
    pub headers: Vec<Header>,
    /// A token.
    pub token: Option<RequestToken>,
    /// `source.address`, `.principal`, `.certificate_sha256`.
    pub source: Option<(Option<Pick>, Option<Pick>, Option<Pick>)>,
    /// `host`, `scheme`, `protocol`, `id`.
    pub fields: Vec<(u8, Pick)>,
    /// Extra top-level members.
    pub extra: Vec<(Key, J)>,
}

fn cased(name: &str, bits: u16) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if bits >> (i % 16) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

impl RequestInput {
    /// The selector and the request document.
    pub fn render(&self) -> (u8, String) {
        let mut members = vec![
            member("method", J::Str(self.method.text(METHODS))),
            member("path", J::Str(self.path.text(PATHS))),
        ];
        let mut headers: Vec<(Key, J)> = Vec::new();
        for h in &self.headers {
            let name = cased(&h.name.text(HEADER_NAMES), h.casing);
            let value = match (&h.odd, h.single, h.values.as_slice()) {
                (Some(j), _, _) => j.clone(),
                (None, true, [one]) => J::Str(one.text(PATHS)),
                (None, _, values) => J::Arr(values.iter().map(|v| J::Str(v.text(PATHS))).collect()),
            };
            headers.push((Key::Other(name), value));
        }
        if let Some(t) = &self.token {
            let (issuer, audience, resource, header) = checks::with_profiles(|profiles| {
                let p = &profiles[usize::from(self.selector) % profiles.len()];
                (
                    p.issuer.clone(),
                    p.audience.clone(),
                    p.resource.clone(),
                    p.header.clone(),
                )
            });
            let jit: Vec<(Key, J)> = Vec::new();
            let mut claims = valid_claims(&issuer, &audience, resource.as_deref(), jit);
            if let Some((_, J::Obj(jit))) = claims.iter_mut().find(|(k, _)| k.text() == "jit") {
                for e in &t.jit {
                    apply(jit, e);
                }
            }
            let (h, p, s) = signed_token(t.signer, &[0; 64], &[], claims, &t.claims, None);
            let token = format!("{h}.{p}.{s}");
            if t.bearer {
                headers.push((
                    Key::Other(cased("authorization", t.casing)),
                    J::Str(format!("Bearer {token}")),
                ));
            } else {
                headers.push((Key::Other(cased(&header, t.casing)), J::Str(token)));
            }
        }
        members.push(member("headers", J::Obj(headers)));
        if let Some((a, p, c)) = &self.source {
            let mut source = Vec::new();
            for (name, v) in [("address", a), ("principal", p), ("certificate_sha256", c)] {
                if let Some(v) = v {
                    source.push(member(
                        name,
                        J::Str(v.text(&["10.0.0.7:51234", "spiffe://example.org/alice"])),
                    ));
                }
            }
            members.push(member("source", J::Obj(source)));
        }
        for (which, v) in &self.fields {
            let name = ["host", "scheme", "protocol", "id"][usize::from(*which) % 4];
            members.push(member(
                name,
                J::Str(v.text(&["db.internal", "https", "HTTP/1.1", "HTTP/2", "req-1"])),
            ));
        }
        members.extend(self.extra.iter().cloned());
        (self.selector, J::Obj(members).to_text())
    }
}
