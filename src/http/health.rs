//! `GET /health`: liveness, with the live session count. `GET /ready`: readiness (the
//! configuration is loaded and the server is not draining). Neither calls GitHub.

use std::time::SystemTime;

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiError, AppState};
use crate::{actors::registry::CountSessions, mcp::dispatcher::SERVER_NAME, time::rfc3339};

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
