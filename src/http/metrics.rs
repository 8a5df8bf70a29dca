//! `GET /metrics`: the Prometheus text format, with no token or principal in any label. By
//! default only for callers who may use the MCP routes (`auth.metrics`); it calls GitHub only to
//! check an unknown token in `github-token` mode.
//!
//! The counters live in [`crate::metrics::Metrics`]; this handler gathers what only the actors
//! know (sessions per transport from the registry, the gateway's counters and rate limits) and
//! the intake's gauges, and has them rendered.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ApiError, AppState};
use crate::{
    actors::registry::CountByTransport,
    github::gateway::{RateLimits, Stats},
    metrics::Snapshot,
};

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
        github_waiting: stats.waiting,
        stateless_in_flight: state.stateless.total(),
        bodies_reading: state.intake.bodies_reading(),
        connections: state.intake.connections_open(),
        cluster: state.cluster.snapshot(),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&snapshot)))
}
