//! A fake proxy-wasm host for driving the filter natively, and TEST-ONLY keys and
//! tokens (fixed seeds; never use them anywhere else).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use jitgate_core::Algorithm;
use jitgate_filter::{CounterIds, Filter, HostCalls, HostError, Level, Shared, Verdict, AUDIT_LOG_PREFIX};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::{json, Value};

/// 2026-11-26T10:00:00Z in seconds.
pub const NOW_S: i64 = 1_795_687_200;
pub const NOW: i64 = NOW_S * 1_000_000_000;
/// What the fake clock advances on every read (so `eval_ns` is known).
pub const TICK_NS: i64 = 1_500;
pub const ISSUER: &str = "https://approvals.example.com";
pub const AUDIENCE: &str = "db-gateway";
pub const SEED_POLICY: &str = include_str!("../../../policies/jit.rego");

/// A local response the filter sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The host: a request, properties, a clock, and everything the filter did to it.
#[derive(Debug, Default)]
pub struct FakeHost {
    pub request_headers: Vec<(String, Vec<u8>)>,
    pub properties: BTreeMap<String, Vec<u8>>,
    pub clock: Cell<i64>,
    /// Host calls (by the name in `HostError::call`) that fail with status 10
    /// (`InternalFailure`).
    pub failing: BTreeSet<&'static str>,
    pub logs: RefCell<Vec<(Level, String)>>,
    pub counter_names: RefCell<Vec<String>>,
    pub counters: RefCell<BTreeMap<u32, u64>>,
    pub sent: Option<Sent>,
    pub response_headers: Vec<(String, String)>,
    pub reset: bool,
    pub filter_state: BTreeMap<String, String>,
    /// The host's log level (`None`: every line is written). The fake records every
    /// line it is given, so a test sees what the filter chose to log.
    pub log_level: Option<Level>,
    /// Every host call made, by the name in `HostError::call`, in order.
    pub calls: RefCell<Vec<&'static str>>,
}

impl FakeHost {
    /// A GET /orders?id=7 to db.internal at [`NOW`].
    pub fn new() -> Self {
        let host = Self {
            clock: Cell::new(NOW),
            ..Self::default()
        };
        host.with_header(":authority", "db.internal")
            .with_header(":path", "/orders?id=7")
            .with_header(":method", "GET")
            .with_header(":scheme", "https")
            .with_header("x-request-id", "rid-1")
            .with_property("source.address", "10.0.0.7:51234")
            .with_property("request.protocol", "HTTP/1.1")
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.request_headers.push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }

    pub fn with_path(mut self, path: &str) -> Self {
        for (n, v) in &mut self.request_headers {
            if n == ":path" {
                *v = path.as_bytes().to_vec();
            }
        }
        self
    }

    pub fn with_property(mut self, path: &str, value: &str) -> Self {
        self.properties.insert(path.to_owned(), value.as_bytes().to_vec());
        self
    }

    pub fn failing(mut self, call: &'static str) -> Self {
        self.failing.insert(call);
        self
    }

    fn check(&self, call: &'static str) -> Result<(), HostError> {
        self.calls.borrow_mut().push(call);
        if self.failing.contains(call) {
            Err(HostError::new(call, 10))
        } else {
            Ok(())
        }
    }

    /// Every value of request header `name`, after the filter's changes.
    pub fn header(&self, name: &str) -> Vec<String> {
        self.request_headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
            .collect()
    }

    /// The audit records logged, parsed.
    pub fn audits(&self) -> Vec<Value> {
        self.logs
            .borrow()
            .iter()
            .filter_map(|(level, line)| {
                let json = line.strip_prefix(AUDIT_LOG_PREFIX)?;
                assert_eq!(*level, Level::Info, "audit lines are info");
                assert!(!json.contains('\n'), "one line: {json}");
                Some(serde_json::from_str(json).unwrap())
            })
            .collect()
    }

    /// The only audit record.
    pub fn audit(&self) -> Value {
        let audits = self.audits();
        assert_eq!(audits.len(), 1, "{audits:#?}");
        audits.into_iter().next().unwrap()
    }

    /// Log lines at `level` (not audit lines).
    pub fn logs_at(&self, level: Level) -> Vec<String> {
        self.logs
            .borrow()
            .iter()
            .filter(|(l, m)| *l == level && !m.starts_with(AUDIT_LOG_PREFIX))
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// The value of counter `name` (0 when never incremented).
    pub fn counter(&self, name: &str) -> u64 {
        let names = self.counter_names.borrow();
        let id = names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("counter `{name}` was not defined"));
        self.counters
            .borrow()
            .get(&u32::try_from(id).unwrap())
            .copied()
            .unwrap_or(0)
    }

    /// Every counter with a non-zero value.
    pub fn nonzero_counters(&self) -> BTreeMap<String, u64> {
        let names = self.counter_names.borrow();
        self.counters
            .borrow()
            .iter()
            .map(|(id, v)| (names[*id as usize].clone(), *v))
            .collect()
    }

    pub fn sent(&self) -> &Sent {
        self.sent.as_ref().expect("a local response")
    }

    pub fn sent_body(&self) -> Value {
        serde_json::from_str(&self.sent().body).unwrap()
    }
}

impl HostCalls for FakeHost {
    fn now_ns(&self) -> Result<i64, HostError> {
        self.check("get_current_time")?;
        let now = self.clock.get();
        self.clock.set(now + TICK_NS);
        Ok(now)
    }

    fn request_headers(&self) -> Result<Vec<(String, Vec<u8>)>, HostError> {
        self.check("get_header_map_pairs")?;
        Ok(self.request_headers.clone())
    }

    fn property(&self, path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
        self.check("get_property")?;
        Ok(self.properties.get(&path.join(".")).cloned())
    }

    fn remove_request_header(&mut self, name: &str) -> Result<(), HostError> {
        self.check("remove_header_map_value")?;
        self.request_headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        Ok(())
    }

    fn set_request_header(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        self.check("replace_header_map_value")?;
        self.request_headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.request_headers.push((name.to_owned(), value.as_bytes().to_vec()));
        Ok(())
    }

    fn add_response_header(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        self.check("add_header_map_value")?;
        self.response_headers.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    fn send_response(&mut self, status: u16, headers: &[(String, String)], body: &str) -> Result<(), HostError> {
        self.check("send_local_response")?;
        assert!(self.sent.is_none(), "one local response per request");
        self.sent = Some(Sent {
            status,
            headers: headers.to_vec(),
            body: body.to_owned(),
        });
        Ok(())
    }

    fn reset_request(&mut self) -> Result<(), HostError> {
        self.check("close_stream")?;
        self.reset = true;
        Ok(())
    }

    fn define_counter(&self, name: &str) -> Result<u32, HostError> {
        self.check("define_metric")?;
        let mut names = self.counter_names.borrow_mut();
        names.push(name.to_owned());
        Ok(u32::try_from(names.len() - 1).unwrap())
    }

    fn increment_counter(&self, id: u32) -> Result<(), HostError> {
        self.check("increment_metric")?;
        *self.counters.borrow_mut().entry(id).or_default() += 1;
        Ok(())
    }

    fn set_filter_state(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        self.check("set_property")?;
        self.filter_state.insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    fn writes(&self, level: Level) -> bool {
        self.log_level.is_none_or(|lowest| level >= lowest)
    }
}

/// TEST-ONLY Ed25519 key, kid `ed1`.
pub fn ed_key() -> SigningKey {
    SigningKey::from_secret(Algorithm::EdDsa, &[0x11; 32]).unwrap()
}

/// A configuration with the test key and `policy` as the only module.
pub fn config_with(policy: &str) -> Value {
    json!({
        "issuers": [{"issuer": ISSUER, "audience": AUDIENCE,
                     "jwks": {"keys": [ed_key().public_jwk("ed1")]}}],
        "resource": "test-database",
        "policy": {"modules": {"jit.rego": policy}}
    })
}

/// Claims valid at [`NOW`]: developer on test-database for an hour.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "alice@example.com", "aud": AUDIENCE,
        "iat": NOW_S - 120, "nbf": NOW_S - 60, "exp": NOW_S + 3600, "jti": "appr-1",
        "jit": {"resource": "test-database", "role": "developer", "actions": ["read"]}
    })
}

pub fn token(claims: &Value) -> String {
    mint::mint(claims, &ed_key(), "ed1")
}

/// The root context's work: define the counters, configure.
pub fn configure(host: &FakeHost, config: &Value) -> Rc<Shared> {
    let metrics = CounterIds::define(host);
    let shared = Shared::configure(host, Some(config.to_string().as_bytes()), metrics, [7; 16]);
    assert!(shared.is_configured(), "{:?}", host.logs.borrow());
    Rc::new(shared)
}

/// Configures with `config` and runs the request headers through a new HTTP context.
pub fn run(host: &mut FakeHost, config: &Value) -> (Verdict, Filter) {
    let shared = configure(host, config);
    host.logs.borrow_mut().clear();
    let mut filter = Filter::new(shared);
    let verdict = filter.on_request_headers(host);
    (verdict, filter)
}
