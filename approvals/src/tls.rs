//! HTTPS, and the mTLS peer as the identity source.
//!
//! With `--tls-cert`/`--tls-key` the service speaks HTTPS itself (rustls). With
//! `--client-ca` as well, every client must present a certificate issued by that CA
//! (others fail the handshake), and with `--identity-source peer` the caller is the
//! certificate's first URI SAN (a SPIFFE id, say), else its first email SAN — no
//! header is believed then.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt as _;
use x509_parser::extensions::GeneralName;

/// Where the TLS material is.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// The CA client certificates must chain to (PEM); none: no client certificates.
    pub client_ca: Option<PathBuf>,
}

/// The identity in the peer's verified client certificate, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity(pub Option<String>);

fn pem_error(path: &std::path::Path, e: impl core::fmt::Display) -> String {
    format!("`{}`: {e}", path.display())
}

/// The rustls server configuration for `s`.
pub fn server_config(s: &TlsSettings) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs = CertificateDer::pem_file_iter(&s.cert)
        .map_err(|e| pem_error(&s.cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(&s.cert, e))?;
    if certs.is_empty() {
        return Err(pem_error(&s.cert, "no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(&s.key).map_err(|e| pem_error(&s.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &s.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| pem_error(ca, e))? {
                roots
                    .add(cert.map_err(|e| pem_error(ca, e))?)
                    .map_err(|e| pem_error(ca, e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| pem_error(ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The identity a client certificate (DER) names: its first URI SAN, else its first
/// email SAN.
pub fn peer_identity(cert: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    let names = &san.value.general_names;
    names
        .iter()
        .find_map(|n| match n {
            GeneralName::URI(u) => Some((*u).to_owned()),
            _ => None,
        })
        .or_else(|| {
            names.iter().find_map(|n| match n {
                GeneralName::RFC822Name(e) => Some((*e).to_owned()),
                _ => None,
            })
        })
}

/// Serves `router` over TLS on `listener` until `shutdown` completes; each request
/// carries the peer's address (`ConnectInfo`) and [`PeerIdentity`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl core::future::Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("jitgate-approvals: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await else {
                return; // failed or slow handshake (no or untrusted client certificate, …)
            };
            let peer = PeerIdentity(
                tls.get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| peer_identity(c.as_ref())),
            );
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(addr));
                req.extensions_mut().insert(peer.clone());
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
