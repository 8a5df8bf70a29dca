//! `GET /health`: liveness, with the live session count. `GET /ready`: readiness (the
//! configuration is loaded and the server is not draining). `GET /metrics`: Prometheus text,
//! by default only for callers who may use the MCP routes (`auth.metrics`). None of them calls
//! GitHub, except to check an unknown token for `/metrics` in `github-token` mode.

use std::time::SystemTime;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{ApiError, AppState};
use crate::{
    actors::registry::{CountByTransport, CountSessions},
    dispatch::SERVER_NAME,
    github::gateway::{RateLimits, Stats},
    metrics::Snapshot,
    time::rfc3339,
};

pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let live = state
        .registry
        .send(CountSessions)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "ok",
        "uptime": state.started_at.elapsed().as_secs_f64(),
        "activeConnections": live,
        "serverName": SERVER_NAME,
        "serverVersion": env!("CARGO_PKG_VERSION"),
        "timestamp": rfc3339(SystemTime::now()),
    })))
}

/// 200 while the server takes new sessions; 503 once it is shutting down, so that a load
/// balancer stops sending it new clients.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if state.draining.is_on() {
        HttpResponse::ServiceUnavailable().json(json!({"status": "draining"}))
    } else {
        HttpResponse::Ok().json(json!({"status": "ready"}))
    }
}

/// The Prometheus text format, with no token or principal in any label.
pub async fn metrics(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    state.auth.authorize_metrics(&request).await?;
    let unavailable = |_| ApiError::Unavailable;
    let stats = state.gateway.send(Stats).await.map_err(unavailable)?;
    let snapshot = Snapshot {
        sessions_by_transport: state
            .registry
            .send(CountByTransport)
            .await
            .map_err(unavailable)?,
        not_modified: stats.not_modified,
        coalesced: stats.coalesced,
        refused: stats.refused,
        rate_limit_remaining: state.gateway.send(RateLimits).await.map_err(unavailable)?,
        credentials: stats.credentials,
        bodies_reading: state.intake.bodies_reading(),
        connections: state.intake.connections_open(),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&snapshot)))
}
