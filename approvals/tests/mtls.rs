//! HTTPS with client certificates: the caller is the verified certificate's identity
//! (`--identity-source peer`); a client without a certificate, or with one from
//! another CA, fails the handshake; headers are not believed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::sync::Arc;

use common::*;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jitgate_approvals::tls::TlsSettings;
use jitgate_approvals::Clock;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn new_ca() -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    Ca {
        cert: p.self_signed(&key).unwrap(),
        key,
    }
}

fn leaf(ca: &Ca, sans: Vec<SanType>, usage: ExtendedKeyUsagePurpose) -> (rcgen::Certificate, KeyPair) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.subject_alt_names = sans;
    p.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    (p.signed_by(&key, &ca.cert, &ca.key).unwrap(), key)
}

fn email(e: &str) -> SanType {
    SanType::Rfc822Name(e.try_into().unwrap())
}

type HttpsClient =
    Client<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, Full<Bytes>>;

fn client(ca: &Ca, identity: Option<&(rcgen::Certificate, KeyPair)>) -> HttpsClient {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert.der().clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

async fn call(
    c: &HttpsClient,
    url: String,
    header_user: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let mut b = hyper::Request::builder().uri(url);
    if let Some(u) = header_user {
        b = b.header("x-authenticated-user", u);
    }
    let req = match body {
        Some(v) => b
            .method("POST")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(v.to_string())))
            .unwrap(),
        None => b.body(Full::new(Bytes::new())).unwrap(),
    };
    let resp = c.request(req).await.map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

#[tokio::test]
async fn caller_is_the_client_certificate_identity() {
    let ca = new_ca();
    let (server, server_key) = leaf(
        &ca,
        vec![SanType::IpAddress("127.0.0.1".parse().unwrap())],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let alice = leaf(
        &ca,
        vec![email("alice@example.com")],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let bob = leaf(&ca, vec![email("bob@example.com")], ExtendedKeyUsagePurpose::ClientAuth);
    let other_ca = new_ca();
    let mallory = leaf(
        &other_ca,
        vec![email("bob@example.com")],
        ExtendedKeyUsagePurpose::ClientAuth,
    );

    let place = place(Backend::Sqlite).await;
    let dir = place.dir.path();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert.pem()).unwrap();
    let mut s = settings(&place);
    s.tls = Some(TlsSettings {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        client_ca: Some(dir.join("ca.pem")),
    });
    s.identity_from_peer = true;
    let running = jitgate_approvals::start(s, Clock::system(), false).await.unwrap();
    let base = format!("https://127.0.0.1:{}", running.addr.port());

    let as_alice = client(&ca, Some(&alice));
    let as_bob = client(&ca, Some(&bob));
    // The header is not believed: the certificate says alice, so alice requests.
    let (status, r) = call(
        &as_alice,
        format!("{base}/v1/requests"),
        Some("bob@example.com"),
        Some(json!({"resource": "test-database", "role": "developer", "duration_s": 60, "reason": "mtls"})),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["requester"], "alice@example.com");
    let id = r["id"].as_str().unwrap().to_owned();
    // alice cannot approve her own request, even claiming to be bob in a header.
    let (status, r) = call(
        &as_alice,
        format!("{base}/v1/requests/{id}/approve"),
        Some("bob@example.com"),
        Some(json!({})),
    )
    .await
    .unwrap();
    assert_eq!((status, r["code"].as_str()), (403, Some("self_approval")));
    let (status, r) = call(
        &as_bob,
        format!("{base}/v1/requests/{id}/approve"),
        None,
        Some(json!({})),
    )
    .await
    .unwrap();
    assert_eq!((status, r["state"].as_str()), (200, Some("approved")), "{r}");
    // No certificate, or one from another CA: no connection at all.
    assert!(call(&client(&ca, None), format!("{base}/healthz"), None, None)
        .await
        .is_err());
    assert!(
        call(&client(&ca, Some(&mallory)), format!("{base}/healthz"), None, None)
            .await
            .is_err()
    );
    running.stop().await;
}

#[tokio::test]
async fn peer_identity_without_client_ca_is_a_start_error() {
    let place = place(Backend::Sqlite).await;
    let mut s = settings(&place);
    s.identity_from_peer = true;
    let err = jitgate_approvals::start(s, Clock::system(), false).await.unwrap_err();
    assert!(err.to_string().contains("--client-ca"), "{err}");
}
