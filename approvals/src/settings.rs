//! The service's settings (command-line flags, see `jitgate-approvals serve --help`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::db::DbUrl;

/// An address or CIDR block (`10.0.0.0/8`, `::1`) a trusted proxy connects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix must be 0..={max}"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is inside the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Everything the service is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The database (`sqlite://approvals.db?mode=rwc`, `postgres://…`).
    pub database_url: DbUrl,
    /// The token issuer (`iss`), as the gates configure it.
    pub issuer: String,
    /// The token audience (`aud`), as the gates configure it.
    pub audience: String,
    /// The URL gates reach this service at (status list URIs are built from it).
    pub public_url: String,
    /// The key file (created on first start, mode 0600).
    pub key_file: PathBuf,
    /// The header that carries the caller's identity.
    pub identity_header: String,
    /// Where that header is believed from.
    pub trusted_proxies: Vec<IpNet>,
    /// Take the identity header from anyone (development only).
    pub dev: bool,
    /// The approval policy's Rego source.
    pub policy: String,
    /// The policy data (JSON, becomes `data.approvals_config`).
    pub policy_data: String,
    /// `Cache-Control: max-age` of the revocation list and status lists.
    pub feed_max_age_s: i64,
    /// `Cache-Control: max-age` of the key set.
    pub jwks_max_age_s: i64,
    /// How long a signed feed document is valid (`exp - iat`).
    pub document_validity_s: i64,
    /// The longest grant the service issues (the gates' `max_ttl_s`).
    pub max_ttl_s: i64,
    /// Pending requests older than this expire.
    pub pending_ttl_s: i64,
    /// How often expiry and key reloading run.
    pub sweep_interval_ms: u64,
    /// HTTPS (and client certificates), if the service terminates TLS itself.
    pub tls: Option<crate::tls::TlsSettings>,
    /// Take the caller from the verified client certificate, not from a header.
    pub identity_from_peer: bool,
    /// Where to send notifications, if anywhere.
    pub webhook: Option<crate::webhook::WebhookSettings>,
}

impl Settings {
    /// Settings for development and tests: SQLite at `database_url`, keys at
    /// `key_file`, the shipped policy, `--dev` off, trusting only loopback.
    pub fn new(database_url: &str, key_file: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8085)),
            database_url: DbUrl(database_url.to_owned()),
            issuer: "http://127.0.0.1:8085".into(),
            audience: "jitgate".into(),
            public_url: "http://127.0.0.1:8085".into(),
            key_file,
            identity_header: "x-authenticated-user".into(),
            trusted_proxies: vec![
                IpNet {
                    addr: IpAddr::from([127, 0, 0, 1]),
                    prefix: 8,
                },
                IpNet {
                    addr: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
                    prefix: 128,
                },
            ],
            dev: false,
            policy: crate::policy::DEFAULT_POLICY.into(),
            policy_data: crate::policy::DEFAULT_DATA.into(),
            feed_max_age_s: 5,
            jwks_max_age_s: 300,
            document_validity_s: 3600,
            max_ttl_s: 43_200,
            pending_ttl_s: 86_400,
            sweep_interval_ms: 1000,
            tls: None,
            identity_from_peer: false,
            webhook: None,
        }
    }

    /// How long a retired key stays published: the longest grant plus leeway.
    pub fn key_retain_s(&self) -> i64 {
        self.max_ttl_s.saturating_add(300)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_blocks() {
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.1".parse().unwrap()));
        let one: IpNet = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("0.0.0.0/0"
            .parse::<IpNet>()
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
    }
}
