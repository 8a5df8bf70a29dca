//! `GET /health`: liveness, with the live session count. `GET /ready`: readiness (the server
//! is not draining, and the GitHub gateway actor is running), and on a replica whether Redis
//! answers. Neither calls GitHub. Load balancers and orchestrators talk to them;
//! `github-issue-mcp healthcheck` asks `/health`.

use std::time::SystemTime;

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiError, AppState};
use crate::{actors::registry::CountSessions, dispatch::SERVER_NAME, time::rfc3339};

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

/// 200 while the server takes new sessions and can reach GitHub; 503 otherwise, so that a
/// load balancer stops sending it new clients. A replica of several also says whether Redis
/// answers, without being unready for it: every replica shares the one Redis, and a replica
/// serves its own sessions without it, so taking them all out would only turn a degraded
/// cluster into none.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let mut body = match readiness(state.draining.is_on(), state.gateway.connected()) {
        Ok(()) => json!({"status": "ready"}),
        Err(status) => json!({"status": status}),
    };
    if let Some(up) = state.cluster.redis_up() {
        body["redis"] = json!(if up { "up" } else { "down" });
    }
    match body["status"] == "ready" {
        true => HttpResponse::Ok().json(body),
        false => HttpResponse::ServiceUnavailable().json(body),
    }
}

/// Whether the server is ready, or why not. Draining comes first: it is the expected reason
/// during a shutdown. Every tool and resource goes through the GitHub gateway actor, so a
/// server whose gateway has stopped can only fail its clients' calls.
fn readiness(draining: bool, gateway_running: bool) -> Result<(), &'static str> {
    if draining {
        Err("draining")
    } else if !gateway_running {
        Err("github gateway stopped")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::readiness;

    #[test]
    fn ready_only_while_not_draining_and_the_gateway_runs() {
        assert_eq!(readiness(false, true), Ok(()));
        assert_eq!(readiness(true, true), Err("draining"));
        assert_eq!(readiness(false, false), Err("github gateway stopped"));
        assert_eq!(readiness(true, false), Err("draining"));
    }
}
