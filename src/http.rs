//! The HTTP surface: routes, shared state, and the transport errors clients see.
//!
//! - `GET /sse` opens a legacy HTTP+SSE session ([`sse`]);
//! - `POST /messages?sessionId=` carries one JSON-RPC message to it ([`messages`]);
//! - `/mcp` is the Streamable HTTP transport ([`streamable`]), and serves the stateless
//!   revision (2026-07-28) beside it on the same URL ([`modern`]);
//! - `GET /health` is the liveness check and `GET /ready` the readiness one ([`health`]);
//! - `GET /metrics` is the Prometheus text ([`metrics`]).
//!
//! Handlers hold no state of their own: they translate HTTP into messages to the actors. Both
//! transports open sessions through [`open_session`] and write their event streams through
//! [`event_stream`]. On a replica of several, a request for a session another replica owns
//! is sent there and its answer relayed ([`forward`]). `lib.rs` builds the [`AppState`] and
//! mounts [`configure`].

use std::{sync::Arc, time::Instant};

use actix::{Actor, Addr};
use actix_web::{HttpResponse, ResponseError, http::StatusCode, web};
use serde_json::json;
use tokio::sync::oneshot;

use crate::{
    actors::{
        SessionId,
        registry::{Admit, Lookup, Reservation, SessionLimit, SessionRegistry},
        session::{End, Lifetime, Session, SessionSetup},
    },
    auth::{AuthError, Authenticator, Principal},
    config::Settings,
    dispatch::Dispatcher,
    draining::Draining,
    github::gateway::GitHubGateway,
    mcp::jsonrpc::ErrorObject,
    metrics::Metrics,
    outlet::EventSender,
};

pub mod event_stream;
pub mod forward;
pub mod guard;
pub mod health;
pub mod intake;
pub mod messages;
pub mod metrics;
pub mod modern;
pub mod routes;
pub mod screen;
pub mod sse;
pub mod streamable;
pub mod watchdog;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Addr<SessionRegistry>,
    pub dispatcher: Dispatcher,
    pub settings: Arc<Settings>,
    pub started_at: Instant,
    /// Who is calling, and with which GitHub identity.
    pub auth: Authenticator,
    /// The Host and Origin values let in.
    pub guard: guard::OriginGuard,
    /// Set once shutdown has begun.
    pub draining: Draining,
    /// For `/metrics`: the gateway's counters, and the sessions' and gateway's metrics.
    pub gateway: Addr<GitHubGateway>,
    pub metrics: Metrics,
    /// Caps on connections and bodies being read, per peer and in total; the body deadline.
    pub intake: intake::Intake,
    /// Stateless requests in flight, per principal.
    pub stateless: modern::limits::InFlight,
    /// Open `subscriptions/listen` streams, per principal (as many as its sessions could be).
    pub listens: modern::limits::InFlight,
    /// Re-reads the resources stateless listeners watch.
    pub watcher: Addr<crate::actors::watcher::ResourceWatcher>,
    /// The other replicas, when there are some (`cluster.redis_url`).
    pub cluster: crate::cluster::Cluster,
    /// Sends requests for other replicas' sessions there; `None` on one process.
    pub forwarder: Option<forward::Forwarder>,
}

/// Registers every route on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sse")
            .route(web::get().to(sse::open))
            .default_service(web::to(|| {
                refuse(ApiError::MethodNotAllowed { allow: "GET" })
            })),
    )
    .service(
        web::resource("/messages")
            .route(web::post().to(messages::post))
            .default_service(web::to(|| {
                refuse(ApiError::MethodNotAllowed { allow: "POST" })
            })),
    )
    .service(
        web::resource("/mcp")
            .route(web::post().to(streamable::post))
            .route(web::get().to(streamable::get))
            .route(web::delete().to(streamable::delete))
            .default_service(web::to(|| {
                refuse(ApiError::MethodNotAllowed {
                    allow: "GET, POST, DELETE",
                })
            })),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(metrics::metrics))
            .default_service(web::to(|| {
                refuse(ApiError::MethodNotAllowed { allow: "GET" })
            })),
    )
    .service(
        web::resource("/ready")
            .route(web::get().to(health::ready))
            .default_service(web::to(|| {
                refuse(ApiError::MethodNotAllowed { allow: "GET" })
            })),
    )
    .service(
        web::resource("/health")
            .route(web::get().to(health::health))
            .default_service(web::to(|| {
                refuse(ApiError::MethodNotAllowed { allow: "GET" })
            })),
    )
    .default_service(web::to(|| refuse(ApiError::NotFound)));
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        ApiError::Unauthorized(err)
    }
}

/// The caller's session `id`: asks the registry, which only answers for the session's owner.
/// `None` when unknown, ended, or someone else's. The worker remembers the registry's answers
/// ([`routes`]), so a session's later messages skip the trip. Called before the request's body
/// is read, so that a message for no session of the caller's costs no reading.
pub async fn own_session(
    state: &AppState,
    request: &actix_web::HttpRequest,
    principal: &Principal,
    id: SessionId,
) -> Result<Option<Addr<Session>>, ApiError> {
    let routes = request.app_data::<web::Data<routes::Routes>>();
    // Compared with the session's owner, which names the token too in github-token mode.
    if let Some(addr) = routes.and_then(|routes| routes.get(&id, &principal.owner)) {
        state.metrics.session_lookup(true);
        return Ok(Some(addr));
    }
    state.metrics.session_lookup(false);
    let found = state
        .registry
        .send(Lookup {
            id,
            owner: principal.owner.clone(),
        })
        .await
        .map_err(|_| ApiError::Unavailable)?;
    if let (Some(routes), Some(addr)) = (routes, &found) {
        routes.remember(id, &principal.owner, addr);
    }
    Ok(found)
}

/// Opens a session for `principal`, the one way both transports do: takes a place within the
/// session limits (which also names the session), starts its `Session` actor, and waits until
/// the registry knows it, so that the client's next request finds it. `stream` is the legacy
/// transport's event channel. The session ends when the returned guard drops unconfirmed,
/// even if the request that opens it is abandoned while it waits.
pub async fn open_session(
    state: &AppState,
    principal: Principal,
    lifetime: Lifetime,
    stream: Option<EventSender>,
) -> Result<(Addr<Session>, SessionId, Unconfirmed), ApiError> {
    let reservation = admit(state, &principal.id).await?;
    let id = reservation.id();
    let (registered, on_registered) = oneshot::channel();
    let session = Session::new(SessionSetup {
        reservation,
        registry: state.registry.clone(),
        dispatcher: state.dispatcher.clone(),
        lifetime,
        stream,
        on_registered: registered,
        principal,
    })
    .start();
    let unconfirmed = Unconfirmed(Some(session.clone()));
    on_registered.await.map_err(|_| ApiError::Unavailable)?;
    Ok((session, id, unconfirmed))
}

/// Ends a session just opened, unless `confirm`ed once it has a client that will use it (for
/// Streamable HTTP, once its initialize has succeeded). A session whose initialize failed, or
/// whose opening request was abandoned, has no such client, yet would hold a place within the
/// session limits until it expired (`mcp.session_idle_secs`).
#[derive(Debug)]
pub struct Unconfirmed(Option<Addr<Session>>);

impl Unconfirmed {
    pub fn confirm(mut self) {
        self.0 = None;
    }
}

impl Drop for Unconfirmed {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            session.do_send(End);
        }
    }
}

/// Checks the session limits for `principal` before a session is made, and holds a slot for
/// it: the new session takes the reservation; dropping it instead gives the slot back.
async fn admit(state: &AppState, principal: &str) -> Result<Reservation, ApiError> {
    if state.draining.is_on() {
        return Err(ApiError::ShuttingDown);
    }
    state
        .registry
        .send(Admit {
            principal: principal.to_string(),
        })
        .await
        .map_err(|_| ApiError::Unavailable)?
        .map_err(ApiError::TooManySessions)
}

/// A handler that only ever answers with `err`.
async fn refuse(err: ApiError) -> Result<HttpResponse, ApiError> {
    Err(err)
}

/// A transport-level failure: an HTTP status with a JSON body that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "missing sessionId query parameter: open GET /sse first and POST to the endpoint it announces"
    )]
    MissingSessionId,
    #[error("invalid sessionId {0:?}: use the endpoint announced by GET /sse unchanged")]
    InvalidSessionId(String),
    #[error("session {0} not found or closed: open a new session with GET /sse")]
    UnknownSession(String),
    #[error("unsupported Content-Type {0:?}: send application/json")]
    UnsupportedMediaType(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    #[error("the request body did not arrive within {secs} s")]
    BodyTimeout { secs: f64 },
    #[error("too many {what} (at most {limit}); try again in a moment")]
    Crowded { what: &'static str, limit: usize },
    #[error("the server is busy reading other requests; try again in a moment")]
    Busy,
    /// The body is not JSON, or not a JSON-RPC message: the JSON-RPC error says which.
    #[error("{}", .0.message)]
    InvalidMessage(ErrorObject),
    #[error("method not allowed here; allowed: {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error(
        "not found: this server serves /mcp (Streamable HTTP), GET /sse + POST /messages (HTTP+SSE) and GET /health"
    )]
    NotFound,
    #[error("the server could not open a session now; try again")]
    Unavailable,
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    #[error("missing Mcp-Session-Id header: send initialize first and use the id from its answer")]
    MissingMcpSession,
    #[error("session {0} not found, ended or expired: initialize a new session")]
    UnknownMcpSession(String),
    #[error(
        "unsupported MCP-Protocol-Version {0:?}; supported: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05"
    )]
    UnsupportedProtocolVersion(String),
    #[error("{}", match .0 {
        SessionLimit::Server(max) => format!("the server is full ({max} sessions); try again shortly"),
        SessionLimit::Principal(max) => format!("you have {max} sessions open, the most allowed; close one (DELETE /mcp) or let it expire"),
    })]
    TooManySessions(SessionLimit),
    #[error("the server is shutting down; reconnect in a moment")]
    ShuttingDown,
    #[error("the replica that holds this session cannot be reached now; try again in a moment")]
    OwnerUnreachable,
    #[error("unauthorized: {0}")]
    Unauthorized(AuthError),
    #[error("this stream already has a connection open; close it first")]
    StreamConflict,
    #[error("unknown or expired Last-Event-ID {0:?}: open a new GET stream without it")]
    UnknownEvent(String),
    #[error(
        "forbidden: {0} (DNS-rebinding protection; see server.allowed_hosts and server.allowed_origins)"
    )]
    Forbidden(String),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MissingSessionId
            | ApiError::InvalidSessionId(_)
            | ApiError::BodyRead(_)
            | ApiError::InvalidMessage(_)
            | ApiError::MissingMcpSession
            | ApiError::UnknownEvent(_)
            | ApiError::UnsupportedProtocolVersion(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownSession(_) | ApiError::UnknownMcpSession(_) | ApiError::NotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Crowded { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StreamConflict => StatusCode::CONFLICT,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManySessions(SessionLimit::Server(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManySessions(SessionLimit::Principal(_)) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthorized(AuthError::Unavailable(_) | AuthError::ChecksBusy { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Unauthorized(AuthError::TooManyChecks { .. }) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable | ApiError::ShuttingDown | ApiError::OwnerUnreachable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.respond(true)
    }
}

impl ApiError {
    /// The answer to a request of the stateless revision (2026-07-28): the same, but with no
    /// `id` member, which that revision's schema never allows to be `null`.
    pub fn stateless_response(&self) -> HttpResponse {
        self.respond(false)
    }

    fn respond(&self, null_id: bool) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::MethodNotAllowed { allow } => {
                response.insert_header(("Allow", *allow));
            }
            ApiError::TooManySessions(_) | ApiError::ShuttingDown => {
                response.insert_header(("Retry-After", "30"));
            }
            // Refused before or while reading the body: the rest of it is not wanted, and a
            // connection held by a slow or crowding peer is better closed than kept.
            ApiError::OwnerUnreachable => {
                response.insert_header(("Retry-After", "1"));
            }
            ApiError::Crowded { .. } | ApiError::Busy | ApiError::BodyTimeout { .. } => {
                response.insert_header(("Retry-After", "1"));
                response.force_close();
            }
            ApiError::Unauthorized(AuthError::Unavailable(_)) => {}
            ApiError::Unauthorized(err) if err.retry_after().is_some() => {
                let secs = err.retry_after().unwrap_or(1).to_string();
                response.insert_header(("Retry-After", secs));
            }
            ApiError::Unauthorized(_) => {
                response.insert_header(("WWW-Authenticate", "Bearer realm=\"github-issue-mcp\""));
            }
            _ => {}
        }
        // A JSON-RPC error body, so that clients which parse it find code and message; `id` is
        // null (handshake era) or absent (stateless revision) because the request's id is
        // unknown or was never read.
        let error = match self {
            ApiError::InvalidMessage(error) => error.clone(),
            other => ErrorObject::invalid_request(other.to_string()),
        };
        match null_id {
            true => response.json(json!({"jsonrpc": "2.0", "id": null, "error": error})),
            false => response.json(json!({"jsonrpc": "2.0", "error": error})),
        }
    }
}
