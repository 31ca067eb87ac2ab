//! Target `differential`: the same request through the Envoy filter's code (the
//! `jitgate-filter` crate natively, driven through its `HostCalls` trait as Envoy would:
//! pseudo-headers, a header map, properties) and through the core as the CLI and the
//! JS package see it (the JSON request form, `Request::from_json_str`), under the same
//! configuration (the request target's gates): both must decide alike — allow, status
//! and reason. Requests are what Envoy can hand over: one of each pseudo-header, a path
//! that starts with `/`, lower-case header names that are HTTP tokens, UTF-8 values.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use arbitrary::Arbitrary;
use jitgate_filter::{CounterIds, Filter, HostCalls, HostError, Level, Shared, Verdict, AUDIT_LOG_PREFIX};

use crate::{checks, signed_token, valid_claims, Edit, Pick, Signer, J, PATHS, WORDS};

const NAMES: &[&str] = &[
    "x-jit-approval",
    "authorization",
    "x-authenticated-user",
    "host",
    "x-http-method-override",
    "x-jit-subject",
    "x_jit_subject",
    "x-jit-approval-id",
    "x-request-id",
    "x-forwarded-for",
    "content-type",
    "x-n",
    "cookie",
];

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT"];

/// One request, as Envoy would hand it to the filter.
#[derive(Arbitrary, Debug, Clone)]
pub struct DiffInput {
    /// Which gate.
    pub selector: u8,
    /// `:method`.
    pub method: Pick,
    /// `:path` (a `/` is put in front when missing).
    pub path: Pick,
    /// `:authority`.
    pub authority: Option<Pick>,
    /// Headers: (name, value); names are made lower-case tokens.
    pub headers: Vec<(Pick, Pick)>,
    /// A token for the gate: (signer, claim edits, jit edits, in `authorization: Bearer`).
    pub token: Option<(Signer, Vec<Edit>, Vec<Edit>, bool)>,
    /// `source.address`, `connection.uri_san_peer_certificate`, `request.id`, `request.protocol`.
    pub properties: [Option<Pick>; 4],
}

fn token_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c))
        .collect();
    if name.is_empty() {
        "x-empty".into()
    } else {
        name
    }
}

struct FakeHost {
    headers: Vec<(String, Vec<u8>)>,
    properties: BTreeMap<String, Vec<u8>>,
    clock: i64,
    logs: RefCell<Vec<String>>,
    counters: Cell<u32>,
    sent: Option<u16>,
}

impl HostCalls for FakeHost {
    fn now_ns(&self) -> Result<i64, HostError> {
        Ok(self.clock)
    }
    fn request_headers(&self) -> Result<Vec<(String, Vec<u8>)>, HostError> {
        Ok(self.headers.clone())
    }
    fn property(&self, path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self.properties.get(&path.join(".")).cloned())
    }
    fn remove_request_header(&mut self, name: &str) -> Result<(), HostError> {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        Ok(())
    }
    fn set_request_header(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.as_bytes().to_vec()));
        Ok(())
    }
    fn add_response_header(&mut self, _name: &str, _value: &str) -> Result<(), HostError> {
        Ok(())
    }
    fn send_response(&mut self, status: u16, _headers: &[(String, String)], _body: &str) -> Result<(), HostError> {
        assert!(self.sent.is_none(), "two local responses");
        self.sent = Some(status);
        Ok(())
    }
    fn reset_request(&mut self) -> Result<(), HostError> {
        Ok(())
    }
    fn define_counter(&self, _name: &str) -> Result<u32, HostError> {
        self.counters.set(self.counters.get() + 1);
        Ok(self.counters.get())
    }
    fn increment_counter(&self, _id: u32) -> Result<(), HostError> {
        Ok(())
    }
    fn set_filter_state(&mut self, _name: &str, _value: &str) -> Result<(), HostError> {
        Ok(())
    }

    fn log(&self, _level: Level, message: &str) {
        self.logs.borrow_mut().push(message.to_owned());
    }

    // Every line is written: the audit line is compared too.
    fn writes(&self, _level: Level) -> bool {
        true
    }
}

fn empty_host() -> FakeHost {
    FakeHost {
        headers: Vec::new(),
        properties: BTreeMap::new(),
        clock: checks::NOW_NS,
        logs: RefCell::new(Vec::new()),
        counters: Cell::new(0),
        sent: None,
    }
}

thread_local! {
    static SHARED: Vec<Rc<Shared>> = checks::with_profiles(|profiles| {
        profiles
            .iter()
            .map(|p| {
                let host = empty_host();
                let metrics = CounterIds::define(&host);
                let shared = Shared::configure(&host, Some(p.config.as_bytes()), metrics, [7; 16]);
                assert!(shared.is_configured(), "{}: {:?}", p.name, host.logs.borrow());
                Rc::new(shared)
            })
            .collect()
    });
}

/// Runs one differential input.
pub fn run(input: &DiffInput) {
    let (profile_count, issuer, audience, resource, token_header) = checks::with_profiles(|profiles| {
        let p = &profiles[usize::from(input.selector) % profiles.len()];
        (
            profiles.len(),
            p.issuer.clone(),
            p.audience.clone(),
            p.resource.clone(),
            p.header.clone(),
        )
    });
    let index = usize::from(input.selector) % profile_count;
    // Envoy's codecs only pass a method that is a non-empty HTTP token.
    let method: String = input
        .method
        .text(METHODS)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c))
        .collect();
    let method = if method.is_empty() { "GET".to_owned() } else { method };
    let mut path = input.path.text(PATHS);
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let authority = input
        .authority
        .as_ref()
        .map(|a| a.text(&["db.internal", "orders.internal:8443"]));
    let mut headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(n, v)| (token_name(&n.text(NAMES)), v.text(WORDS)))
        .collect();
    if let Some((signer, claim_edits, jit_edits, bearer)) = &input.token {
        let mut claims = valid_claims(&issuer, &audience, resource.as_deref(), Vec::new());
        if let Some((_, J::Obj(jit))) = claims.iter_mut().find(|(k, _)| k.text() == "jit") {
            for e in jit_edits {
                crate::apply(jit, e);
            }
        }
        let (h, p, s) = signed_token(*signer, &[0; 64], &[], claims, claim_edits, None);
        if *bearer {
            headers.push(("authorization".into(), format!("Bearer {h}.{p}.{s}")));
        } else {
            headers.push((token_header, format!("{h}.{p}.{s}")));
        }
    }
    let property_names = [
        "source.address",
        "connection.uri_san_peer_certificate",
        "request.id",
        "request.protocol",
    ];
    let properties: Vec<(&str, String)> = property_names
        .iter()
        .zip(&input.properties)
        .filter_map(|(name, v)| {
            let v = v.as_ref()?.text(&[
                "10.0.0.7:51234",
                "spiffe://example.org/alice",
                "req-1",
                "HTTP/1.1",
                "HTTP/2",
            ]);
            Some((*name, v))
        })
        .collect();

    // The filter, as Envoy drives it.
    let mut host = empty_host();
    host.headers.push((":method".into(), method.clone().into_bytes()));
    host.headers.push((":path".into(), path.clone().into_bytes()));
    if let Some(a) = &authority {
        host.headers.push((":authority".into(), a.clone().into_bytes()));
    }
    host.headers.push((":scheme".into(), b"https".to_vec()));
    host.headers
        .extend(headers.iter().map(|(n, v)| (n.clone(), v.clone().into_bytes())));
    for (name, v) in &properties {
        host.properties.insert((*name).to_owned(), v.clone().into_bytes());
    }
    let shared = SHARED.with(|s| Rc::clone(&s[index]));
    let mut filter = Filter::new(shared);
    let verdict = filter.on_request_headers(&mut host);
    let audit: serde_json::Value = host
        .logs
        .borrow()
        .iter()
        .find_map(|l| {
            l.strip_prefix(AUDIT_LOG_PREFIX)
                .and_then(|j| serde_json::from_str(j).ok())
        })
        .expect("the filter logs an audit record");
    let filter_status = match verdict {
        Verdict::Continue => 200,
        Verdict::Stop => host.sent.expect("a stopped request was answered"),
    };
    let filter_reason = audit["reason"].as_str().unwrap_or_default().to_owned();

    // The core, as the CLI and the JS package see the request (the JSON form).
    let mut by_name: Vec<(String, Vec<String>)> = Vec::new();
    for (n, v) in &headers {
        match by_name.iter_mut().find(|(m, _)| m == n) {
            Some((_, vs)) => vs.push(v.clone()),
            None => by_name.push((n.clone(), vec![v.clone()])),
        }
    }
    let mut doc = serde_json::json!({
        "method": method, "path": path, "scheme": "https",
        "headers": serde_json::Map::from_iter(by_name.into_iter().map(|(n, vs)| (n, serde_json::Value::from(vs)))),
    });
    if let Some(a) = &authority {
        doc["host"] = a.clone().into();
    }
    let mut source = serde_json::Map::new();
    for (name, v) in &properties {
        if v.is_empty() {
            continue; // Envoy's empty property is no property
        }
        match *name {
            "source.address" => drop(source.insert("address".into(), v.clone().into())),
            "connection.uri_san_peer_certificate" => drop(source.insert("principal".into(), v.clone().into())),
            "request.id" => doc["id"] = v.clone().into(),
            _ => doc["protocol"] = v.clone().into(),
        }
    }
    doc["source"] = source.into();
    let (core_allow, core_status, core_reason) = checks::with_profiles(|profiles| {
        let gate = &profiles[index].gate;
        let d = match jitgate_core::Request::from_json_str(&doc.to_string()) {
            Ok(request) => gate.decide(&request, checks::NOW_NS),
            Err(e) => gate.refuse(jitgate_core::Fault::Request, e.to_string(), checks::NOW_NS),
        };
        (d.allow, d.status, d.reason.code().to_owned())
    });
    let filter_allow = audit["allow"].as_bool().unwrap_or(false);
    assert_eq!(
        (filter_allow, filter_status, filter_reason.as_str()),
        (core_allow, core_status, core_reason.as_str()),
        "filter and core decide differently (filter, core) for {doc}"
    );
}
