//! Project Wycheproof vectors, read from `../shared/vectors/wycheproof/` (never copied
//! into the repo): every Ed25519 and P-256 (P1363) case is accepted or rejected as the
//! file says; every ES256 and `alg: none` JWS case likewise; and no case of an
//! algorithm jitgate does not support is ever accepted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::PathBuf;

use jitgate_core::unstable::jws::CompactJws;
use jitgate_core::Algorithm;
use jitgate_core::FORBIDDEN_HEADERS;
use jitgate_core::{parse_jwk, KeyMaterial};
use serde_json::Value;

/// `$JITGATE_VECTORS`, else `shared/vectors` next to the repository, else `/work/shared/vectors`.
fn vectors_dir() -> PathBuf {
    let candidates = [
        std::env::var_os("JITGATE_VECTORS").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")),
        Some(PathBuf::from("/work/shared/vectors")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("wycheproof").is_dir())
        .unwrap_or_else(|| panic!("Wycheproof vectors not found: set JITGATE_VECTORS to the shared/vectors folder"))
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join("wycheproof").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn cases(file: &Value) -> impl Iterator<Item = (&Value, &Value)> {
    file["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap().iter().map(move |t| (g, t)))
}

/// Runs every case; returns (cases, accepted) and fails listing every disagreement.
fn check(file: &str, accept: impl Fn(&Value, &Value) -> bool) -> (usize, usize) {
    let data = load(file);
    let mut wrong = Vec::new();
    let (mut total, mut accepted) = (0, 0);
    for (group, case) in cases(&data) {
        total += 1;
        let ok = accept(group, case);
        accepted += usize::from(ok);
        let want = case["result"].as_str().unwrap();
        if (want == "valid" && !ok) || (want == "invalid" && ok) {
            wrong.push(format!(
                "tcId {} ({}): file says {want}, jitgate {}",
                case["tcId"],
                case["comment"],
                if ok { "accepts" } else { "rejects" }
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{file}: {} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(
        total,
        data["numberOfTests"].as_u64().unwrap() as usize,
        "every case ran"
    );
    (total, accepted)
}

#[test]
fn ed25519_every_case() {
    let (total, accepted) = check("ed25519_test.json", |group, case| {
        // The key as jitgate would load it from a JWKS (weak keys are refused there).
        let mut jwk = group["publicKeyJwk"].clone();
        jwk["kid"] = "k".into();
        let Ok(key) = parse_jwk(&jwk, "jwk") else {
            return false;
        };
        assert!(matches!(key.material, KeyMaterial::Ed25519(_)));
        assert_eq!(key.alg, Algorithm::EdDsa);
        key.material
            .verify(&hex(case["msg"].as_str().unwrap()), &hex(case["sig"].as_str().unwrap()))
    });
    assert_eq!(total, 151);
    assert!(accepted > 0);
}

#[test]
fn ecdsa_p256_p1363_every_case() {
    let (total, accepted) = check("ecdsa_secp256r1_sha256_p1363_test.json", |group, case| {
        // A few groups carry no JWK; build it from the affine coordinates (hex, maybe
        // with a leading zero byte) as an approval service's JWKS would carry them.
        let mut jwk = group.get("publicKeyJwk").cloned().unwrap_or_else(|| {
            let coord = |name: &str| {
                let bytes = hex(group["publicKey"][name].as_str().unwrap());
                let bytes = &bytes[bytes.len().saturating_sub(32)..];
                let mut padded = vec![0u8; 32 - bytes.len()];
                padded.extend_from_slice(bytes);
                Value::from(jitgate_core::unstable::jws::b64url_encode(&padded))
            };
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": coord("wx"), "y": coord("wy")})
        });
        jwk["kid"] = "k".into();
        let Ok(key) = parse_jwk(&jwk, "jwk") else {
            return false;
        };
        assert_eq!(key.alg, Algorithm::Es256);
        key.material
            .verify(&hex(case["msg"].as_str().unwrap()), &hex(case["sig"].as_str().unwrap()))
    });
    assert_eq!(total, 262);
    assert!(accepted > 0);
}

/// How jitgate treats a compact JWS for a configured key, below the approval rules:
/// shape, forbidden header parameters, `alg` exactly the key's, `kid` the key's,
/// signature.
fn jws_accepted(jws: &str, key_jwk: &Value) -> bool {
    let Ok(key) = parse_jwk(key_jwk, "jwk") else {
        return false;
    };
    let Ok(parsed) = CompactJws::parse(jws) else {
        return false;
    };
    if FORBIDDEN_HEADERS.iter().any(|h| parsed.header.contains_key(*h)) {
        return false;
    }
    let Some(alg) = parsed
        .header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::from_name)
    else {
        return false;
    };
    if alg != key.alg || parsed.header.get("kid").and_then(Value::as_str) != Some(key.kid.as_str()) {
        return false;
    }
    key.material.verify(parsed.signing_input, &parsed.signature)
}

fn header_alg(jws: &Value) -> Option<String> {
    let compact = jws.as_str()?;
    let header = jitgate_core::unstable::jws::b64url_decode(compact.split('.').next()?)?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    header["alg"].as_str().map(str::to_owned)
}

#[test]
fn json_web_signature_es256_none_and_unsupported() {
    let data = load("json_web_signature_test.json");
    let (mut es256, mut none, mut other) = (0, 0, 0);
    let mut wrong = Vec::new();
    for (group, case) in cases(&data) {
        // Use the group's public key; groups with only a private key get its public part.
        let mut key = group.get("public").cloned().unwrap_or_else(|| group["private"].clone());
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            key.as_object_mut().unwrap().remove(private);
        }
        let accepted = case["jws"].as_str().is_some_and(|jws| jws_accepted(jws, &key));
        let want = case["result"].as_str().unwrap();
        match header_alg(&case["jws"]).as_deref() {
            Some("ES256") => {
                es256 += 1;
                if (want == "valid") != accepted {
                    wrong.push(format!(
                        "ES256 tcId {} ({}): file {want}, accepted {accepted}",
                        case["tcId"], case["comment"]
                    ));
                }
            }
            Some(a) if a.eq_ignore_ascii_case("none") => {
                none += 1;
                assert_eq!(want, "invalid");
                if accepted {
                    wrong.push(format!("alg none tcId {} accepted", case["tcId"]));
                }
            }
            _ => {
                other += 1;
                if accepted {
                    wrong.push(format!(
                        "unsupported tcId {} ({}) accepted",
                        case["tcId"], case["comment"]
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(es256 + none + other, 401);
    assert!(es256 >= 30 && none >= 5, "es256 {es256}, none {none}");
}
