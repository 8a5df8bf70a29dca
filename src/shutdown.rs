//! Graceful shutdown on SIGTERM or SIGINT.
//!
//! 1. Draining starts: `/ready` answers 503, no new session is let in, and every session answers
//!    new requests with "server is shutting down" (JSON-RPC -32000) instead of running them.
//! 2. Tool calls already running may finish, for at most `server.drain_timeout_ms` (8 s by
//!    default, so that the process exits inside Docker's default 10 s stop timeout).
//! 3. Whatever is still running is answered with the shutting-down error and cancelled, every
//!    session ends (closing its streams), and the HTTP server stops; `main` exits 0.

use std::time::{Duration, Instant};

use actix::Addr;
use actix_web::dev::ServerHandle;

use crate::{
    actors::registry::{SessionRegistry, ShutdownAll, TotalInFlight},
    cluster::Cluster,
    draining::Draining,
};

/// Waits for SIGTERM or SIGINT, then drains and stops the server. A replica of several
/// leaves the cluster's directory as the drain begins: the others then answer its sessions
/// 404, and their clients open new sessions elsewhere instead of waiting for this one.
pub async fn on_signal(
    draining: Draining,
    registry: Addr<SessionRegistry>,
    server: ServerHandle,
    drain_timeout: Duration,
    stateless: impl Fn() -> usize,
    cluster: Cluster,
) {
    wait_for_signal().await;
    tokio::join!(
        cluster.leave(),
        drain(draining, registry, drain_timeout, stateless)
    );
    server.stop(true).await;
}

/// Steps 1 to 3 above, up to stopping the HTTP server. `stateless` counts the requests
/// running without a session (the stateless revision's), which are waited for too, and
/// answered with the shutting-down error when the wait is over.
pub async fn drain(
    draining: Draining,
    registry: Addr<SessionRegistry>,
    timeout: Duration,
    stateless: impl Fn() -> usize,
) {
    log::info!("shutting down: draining (at most {timeout:?})");
    // Sessions read this flag for each request: from now on they refuse new ones.
    draining.start();
    let deadline = Instant::now() + timeout;
    loop {
        let running = registry.send(TotalInFlight).await.unwrap_or(0) + stateless();
        if running == 0 {
            break;
        }
        if Instant::now() >= deadline {
            log::warn!(
                "shutting down: {running} requests still running after {timeout:?}; answering them with an error"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    draining.end();
    let _ = registry.send(ShutdownAll).await;
    log::info!("shutting down: sessions closed");
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => log::info!("SIGTERM received"),
                    _ = int.recv() => log::info!("SIGINT received"),
                }
            }
            _ => {
                log::error!("cannot listen for shutdown signals");
                std::future::pending::<()>().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
