//! # jitgate-js
//!
//! The `wasm-bindgen` layer of the npm package `jitgate`: a thin translation between
//! JS and [`jitgate_core`], built for `wasm32-unknown-unknown`. Every decision is the
//! core's; this crate only reads the JS side's JSON and writes the core's answers back.
//!
//! The raw export is [`RawGate`]; the package wraps it in a small hand-written JS
//! layer (`lib/api.mjs`) that gives the public `Gate` class, `JitgateError`, `Headers`
//! support and the `now` handling. Values cross the boundary as JSON text: measured
//! faster for `decide` than `serde-wasm-bindgen` (see the package README and
//! `bench/boundary.mjs`; the comparison build uses the `boundary-bench` feature).
//!
//! Times: JS passes epoch **milliseconds** (`f64`, as `Date.now()` gives them); the
//! binding converts them to the core's nanoseconds exactly for integral values
//! ([`convert::now_ns_from_ms`]). Rego's `time.now_ns()` sees that same value.

// Lints, each for a reason:
// - a panic in wasm aborts the instance: errors are values on every input path;
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
// - indexing can panic too; use `get`;
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
// - everything public is documented.
#![warn(missing_docs)]

pub mod casing;
mod clock;
pub mod convert;

use jitgate_core::{Fault, Gate, RequestFacts};
use wasm_bindgen::prelude::*;

use convert::{ArgumentError, RequestFailure};

/// A compiled gate, as the wasm module exports it. Use the package's `Gate` class,
/// which wraps this one.
///
/// Every method returns JSON text (or throws JSON text from the constructor) so
/// that one call crosses the boundary once each way.
#[wasm_bindgen]
pub struct RawGate {
    gate: Gate,
}

#[wasm_bindgen]
impl RawGate {
    /// Compiles a configuration (DESIGN §6, JSON text). `seed` (16 random bytes from
    /// the JS side's `crypto.getRandomValues`) makes decision ids unique across
    /// processes. Throws the JSON text of `{code, field, message}` on a bad
    /// configuration.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str, seed: &[u8]) -> Result<RawGate, String> {
        clock::install();
        let mut gate = Gate::new(config).map_err(|e| ArgumentError::from(e).to_json())?;
        if let Ok(seed) = <[u8; 16]>::try_from(seed) {
            gate.set_instance_seed(seed);
        }
        Ok(Self { gate })
    }

    /// Decides a request (JSON text `{method, path, headers, source, …}`) at
    /// `now_ms` (epoch milliseconds). Returns the JSON text of the decision, or of
    /// `{"error": {code, field, message}}` when the request or the time is unusable.
    ///
    /// A request whose values a client chose but the gate cannot read (an
    /// absolute-form path, an invalid header name) is a denial, 400
    /// `request_invalid`, not an error: nothing a client sends makes `decide` throw.
    pub fn decide(&self, request: &str, now_ms: f64) -> String {
        let now_ns = match convert::now_ns_from_ms(now_ms) {
            Ok(now) => now,
            Err(e) => return error_json(&e),
        };
        match convert::request_from_json(request) {
            Ok(request) => convert::decision_to_json(&self.gate.decide(&request, now_ns)),
            Err(RequestFailure::Unreadable(detail)) => {
                convert::decision_to_json(&self.gate.refuse(Fault::Request, detail, now_ns))
            }
            Err(RequestFailure::Argument(e)) => error_json(&e),
        }
    }

    /// Verifies a token without running the policy. `identity` and
    /// `certificate_sha256` are the caller's, for tokens that need them (an identity
    /// is only compared when given). Returns the JSON text of `{valid: true,
    /// approval}`, `{valid: false, code, detail}` or `{"error": {…}}`.
    pub fn verify(
        &self,
        token: &str,
        now_ms: f64,
        identity: Option<String>,
        certificate_sha256: Option<String>,
    ) -> String {
        let now_ns = match convert::now_ns_from_ms(now_ms) {
            Ok(now) => now,
            Err(e) => return error_json(&e),
        };
        let facts = RequestFacts {
            identity: identity.as_deref(),
            identity_required: identity.is_some(),
            identity_ambiguous: false,
            certificate_sha256: certificate_sha256.as_deref(),
            // `verify` checks the configured resource: there is no route.
            route_resource: None,
        };
        convert::verify_to_json(&self.gate.verify(token, now_ns, &facts))
    }

    /// Installs `issuer`'s signed revocation list (`jit-revocations+jwt`) fetched at
    /// `now_ms`. Returns the JSON text of `{"state": {…}}` or `{"error": {…}}` (code
    /// `feed_<code>`, such as `feed_rollback`).
    #[wasm_bindgen(js_name = installRevocations)]
    pub fn install_revocations(&self, issuer: &str, text: &str, now_ms: f64) -> String {
        match convert::now_ns_from_ms(now_ms) {
            Ok(now) => convert::feed_result_to_json(&self.gate.install_revocations(issuer, text, now)),
            Err(e) => error_json(&e),
        }
    }

    /// Installs `issuer`'s Token Status List `uri` (`statuslist+jwt`), like
    /// [`RawGate::install_revocations`].
    #[wasm_bindgen(js_name = installStatusList)]
    pub fn install_status_list(&self, issuer: &str, uri: &str, text: &str, now_ms: f64) -> String {
        match convert::now_ns_from_ms(now_ms) {
            Ok(now) => convert::feed_result_to_json(&self.gate.install_status_list(issuer, uri, text, now)),
            Err(e) => error_json(&e),
        }
    }

    /// Installs `issuer`'s key set (`jwk-set+jwt`, or a plain JWKS where
    /// `feed.unsigned_jwks` allows it), like [`RawGate::install_revocations`].
    #[wasm_bindgen(js_name = installKeys)]
    pub fn install_keys(&self, issuer: &str, text: &str, now_ms: f64) -> String {
        match convert::now_ns_from_ms(now_ms) {
            Ok(now) => convert::feed_result_to_json(&self.gate.install_keys(issuer, text, now)),
            Err(e) => error_json(&e),
        }
    }

    /// Marks `issuer`'s revocation list (no `uri`) or status list `uri` as current at
    /// `now_ms` (after a `304 Not Modified`), like [`RawGate::install_revocations`].
    #[wasm_bindgen(js_name = confirmCurrent)]
    pub fn confirm_current(&self, issuer: &str, uri: Option<String>, now_ms: f64) -> String {
        match convert::now_ns_from_ms(now_ms) {
            Ok(now) => convert::feed_result_to_json(&self.gate.confirm_current(issuer, uri.as_deref(), now)),
            Err(e) => error_json(&e),
        }
    }

    /// Every issuer's live-trust state at `now_ms`, as the JSON text of an array (or of
    /// `{"error": {…}}` for a bad time).
    #[wasm_bindgen(js_name = trustStatus)]
    pub fn trust_status(&self, now_ms: f64) -> String {
        match convert::now_ns_from_ms(now_ms) {
            Ok(now) => convert::trust_status_to_json(&self.gate.trust_status(now)),
            Err(e) => error_json(&e),
        }
    }

    /// The configured mode: `enforce` or `dry_run`.
    #[wasm_bindgen(getter)]
    pub fn mode(&self) -> String {
        self.gate.mode().as_str().to_owned()
    }

    /// What the configuration should be warned about, as a JSON array of strings
    /// (such as trusting the published demo key).
    #[wasm_bindgen(getter)]
    pub fn warnings(&self) -> String {
        serde_json::to_string(self.gate.warnings()).unwrap_or_else(|_| "[]".to_owned())
    }

    /// The header that carries the token (lower case).
    #[wasm_bindgen(getter, js_name = tokenHeader)]
    pub fn token_header(&self) -> String {
        self.gate.token_header().to_owned()
    }

    /// The same as [`RawGate::decide`], but taking and returning JS values through
    /// `serde-wasm-bindgen` instead of JSON text. Only in the `boundary-bench` build,
    /// which exists to measure the two against each other.
    #[cfg(feature = "boundary-bench")]
    #[wasm_bindgen(js_name = decideValue)]
    pub fn decide_value(&self, request: JsValue, now_ms: f64) -> JsValue {
        use serde::Serialize as _;
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        let parsed = serde_wasm_bindgen::from_value::<serde_json::Value>(request)
            .map_err(|e| ArgumentError {
                code: "request_invalid",
                field: None,
                message: e.to_string(),
            })
            .and_then(|value| convert::now_ns_from_ms(now_ms).map(|now| (value, now)));
        let out = match parsed.map(|(value, now_ns)| (convert::request_from_value(value), now_ns)) {
            Ok((Ok(request), now_ns)) => convert::serialize_decision(&self.gate.decide(&request, now_ns), &serializer),
            Ok((Err(RequestFailure::Unreadable(detail)), now_ns)) => {
                convert::serialize_decision(&self.gate.refuse(Fault::Request, detail, now_ns), &serializer)
            }
            Ok((Err(RequestFailure::Argument(e)), _)) | Err(e) => {
                serde_json::json!({ "error": e }).serialize(&serializer)
            }
        };
        out.unwrap_or(JsValue::NULL)
    }
}

/// Bytes of linear memory this wasm instance holds (it grows, never shrinks): for
/// monitoring, and for the package's memory test.
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        // Pages are 64 KiB; the page count fits an f64 exactly.
        (core::arch::wasm32::memory_size(0) as f64) * 65536.0
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}

/// The version of the core this package was built with.
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

fn error_json(e: &ArgumentError) -> String {
    format!(r#"{{"error":{}}}"#, e.to_json())
}
