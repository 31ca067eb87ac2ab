#![doc = include_str!("../README.md")]
// Lints, each for a reason:
// - no `unsafe`: nothing here needs it;
#![forbid(unsafe_code)]
// - a panic on a request path takes a request (or a lock) down with it: errors are values;
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
// - everything public is documented.
#![warn(missing_docs)]

pub mod app;
pub mod clock;
pub mod db;
pub mod error;
pub mod feed;
pub mod keys;
pub mod metrics;
pub mod policy;
pub mod settings;
pub mod tls;
pub mod web;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use app::{router, AppState, StartError};
pub use clock::Clock;
pub use settings::Settings;

/// A service listening on a socket, with its expiry sweeper running.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (tests read counters and move the clock).
    pub state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, finishes the requests in flight, and stops the sweeper.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
        self.sweeper.abort();
        let _ = (&mut self.sweeper).await;
        self.state.store.pool().close().await;
    }

    /// Waits until the server stops (after a shutdown signal).
    pub async fn wait(mut self) {
        let _ = (&mut self.server).await;
        self.sweeper.abort();
        self.state.store.pool().close().await;
    }
}

/// Opens everything `settings` names, binds `settings.listen` and serves until
/// [`Running::stop`] (or, with `until_signal`, SIGINT/SIGTERM).
pub async fn start(settings: Settings, clock: Clock, until_signal: bool) -> Result<Running, StartError> {
    let listen = settings.listen;
    if settings.dev {
        eprintln!("jitgate-approvals: WARNING: --dev: the `{}` header is taken from ANY client without checks; anyone can act as anyone. Never run this in production.", settings.identity_header);
    }
    if settings.identity_from_peer && settings.tls.as_ref().is_none_or(|t| t.client_ca.is_none()) {
        return Err(StartError::Tls(
            "--identity-source peer needs --tls-cert, --tls-key and --client-ca".into(),
        ));
    }
    let tls = match &settings.tls {
        Some(t) => Some(tls::server_config(t).map_err(StartError::Tls)?),
        None => None,
    };
    let state = AppState::open(settings, clock).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| StartError::Listen(listen, e))?;
    let addr = listener.local_addr().map_err(|e| StartError::Listen(listen, e))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let routes = router(Arc::clone(&state));
    let server = tokio::spawn(async move {
        let stop = async move {
            if until_signal {
                tokio::select! {
                    _ = rx => {}
                    _ = shutdown_signal() => {}
                }
            } else {
                let _ = rx.await;
            }
        };
        match tls {
            Some(config) => tls::serve(listener, config, routes, stop).await,
            None => {
                let app = routes.into_make_service_with_connect_info::<SocketAddr>();
                if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
                    eprintln!("jitgate-approvals: server error: {e}");
                }
            }
        }
    });
    let sweep_state = Arc::clone(&state);
    let interval = Duration::from_millis(sweep_state.settings.sweep_interval_ms.max(10));
    let sweeper = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            sweep_state.reload_keys_if_changed();
            if let Err(e) = sweep_state.sweep().await {
                eprintln!("jitgate-approvals: expiry sweep failed (will retry): {e}");
            }
        }
    });
    Ok(Running {
        addr,
        state,
        shutdown: Some(tx),
        server,
        sweeper,
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
