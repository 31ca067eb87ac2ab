//! The web page for requesters and approvers: plain HTML and a little JS over the
//! JSON API, protected against cross-site request forgery.
//!
//! CSRF: every state change from a browser (a request carrying `Origin` or
//! `Sec-Fetch-Site`) must carry `x-csrf-token`, a value bound to the caller's
//! identity and derived from a secret of the service (the same on every replica that
//! shares the key file). Cross-site requests (`Sec-Fetch-Site: cross-site`) are
//! refused outright. The JSON API also demands `content-type: application/json`,
//! which no HTML form can send across origins without a CORS preflight — and the
//! service answers no preflight.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use jitgate_core::unstable::jws::b64url_encode;
use sha2::{Digest as _, Sha256};

use crate::app::{AppState, Caller, DEV_WARNING};
use crate::error::ApiError;

const PAGE: &str = include_str!("web/page.html");
const SCRIPT: &str = include_str!("web/app.js");
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The secret CSRF tokens are derived from: a hash of the active private key at start.
pub fn csrf_secret(keys: &crate::keys::KeySet) -> [u8; 32] {
    let d = keys
        .active()
        .map(|k| k.key.private_jwk(&k.kid))
        .and_then(|jwk| jwk.get("d").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(b"jitgate-approvals csrf v1\0");
    h.update(d.as_bytes());
    h.finalize().into()
}

/// The CSRF token for `caller`.
pub fn csrf_token(secret: &[u8; 32], caller: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(caller.as_bytes());
    b64url_encode(&h.finalize())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `GET /`: the page.
pub async fn page(State(state): State<Arc<AppState>>, Caller(caller): Caller) -> Response {
    let banner = if state.settings.dev {
        format!("<div class=\"dev\" role=\"alert\">{}</div>", escape(DEV_WARNING))
    } else {
        String::new()
    };
    let html = PAGE
        .replace("{{CSRF}}", &csrf_token(&state.csrf_secret, &caller))
        .replace("{{CALLER}}", &escape(&caller))
        .replace("{{DEV_BANNER}}", &banner);
    let mut r = html.into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

/// `GET /app.js`: the page's script.
pub async fn script() -> Response {
    let mut r = SCRIPT.into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    r
}

/// Refuses state changes from a browser without the caller's CSRF token.
pub async fn csrf_guard(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let h = request.headers();
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let browser = h.contains_key("origin") || h.contains_key("sec-fetch-site");
    if changes_state && browser {
        let site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("");
        if site == "cross-site" || site == "same-site" {
            return ApiError::new(StatusCode::FORBIDDEN, "csrf_failed", "cross-site requests are refused")
                .into_response();
        }
        let peer = request
            .extensions()
            .get::<crate::tls::PeerIdentity>()
            .and_then(|p| p.0.clone());
        let caller = if state.settings.identity_from_peer {
            peer.unwrap_or_default()
        } else {
            h.get(state.settings.identity_header.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .unwrap_or("")
                .to_owned()
        };
        let want = csrf_token(&state.csrf_secret, &caller);
        let got = h.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !constant_time_eq(got.as_bytes(), want.as_bytes()) {
            return ApiError::new(StatusCode::FORBIDDEN, "csrf_failed", "missing or wrong x-csrf-token")
                .into_response();
        }
    }
    next.run(request).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
