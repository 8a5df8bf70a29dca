//! `POST /mcp` for the stateless revision (2026-07-28): one request, answered on its own
//! response, with no session.
//!
//! [`super::streamable`] tells the eras apart (docs/mcp-2026-07-28.md §1.1): a body whose
//! `params._meta` names a revision ([`classify`]), or an `MCP-Protocol-Version` header naming
//! a stateless one, comes here; everything else keeps the handshake era's path, unchanged.
//! Here the request goes down the revision's validation ladder (§2.4; first failure wins,
//! each with its HTTP status and code), then to the dispatcher
//! ([`crate::dispatch::Dispatcher::handle_modern`]), and the answer goes back as JSON, or as
//! an SSE stream when the request asked for progress or log messages. Nothing is kept: no
//! `Mcp-Session-Id`, no event ids, no replay. Closing an SSE answer drops the call's future,
//! which cancels it and its queued GitHub requests; a JSON answer's call is dropped when
//! actix drops the handler of a connection the client closed (tests/stateless.rs
//! `a_client_that_goes_away_cancels_its_queued_github_call`), and else ends by
//! `limits.tool_timeout_secs`.
//!
//! `ladder.rs` holds the ladder, [`headers`] the mirrored headers' checks; [`limits`] bounds
//! each principal's requests in flight; `listen.rs` keeps `subscriptions/listen` streams,
//! `stream.rs` a streamed answer.

pub mod headers;
mod ladder;
pub mod limits;
mod listen;
mod stream;

use ladder::{Checked, check, mirrored_arguments};

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use serde_json::{Value, json};

use super::AppState;
use crate::{
    auth::Principal,
    call::Notifier,
    dispatch::{Outcome, result_members},
    draining::Draining,
    mcp::{
        envelope::{self},
        jsonrpc::{ErrorCode, ErrorObject, Request, RequestId, ResultObject},
        protocol::Method,
    },
    outlet::{self, Outlet},
};

/// What [`classify`] found in a body: a message for this module, parsed or not.
#[derive(Debug)]
pub enum Modern {
    Message(Value),
    /// Not JSON, from a client that named a stateless revision in its header.
    Unparsable,
}

/// Whether a POST without a session belongs to the stateless revision: its header names one
/// (`modern_header`), or its body claims one (for a batch, any of its messages). `None`: the
/// handshake era's.
pub fn classify(body: &[u8], modern_header: bool) -> Option<Modern> {
    match serde_json::from_slice::<Value>(body) {
        Ok(message) => {
            let claims = match &message {
                Value::Array(batch) => batch.iter().any(envelope::claims_modern),
                message => envelope::claims_modern(message),
            };
            (modern_header || claims).then_some(Modern::Message(message))
        }
        Err(_) => modern_header.then_some(Modern::Unparsable),
    }
}

/// A refusal: the HTTP status, and the JSON-RPC error with the request's id when it was read.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    id: Option<RequestId>,
    error: ErrorObject,
}

impl Refusal {
    fn new(status: StatusCode, id: &Option<RequestId>, error: ErrorObject) -> Self {
        Refusal {
            status,
            id: id.clone(),
            error,
        }
    }

    fn bad(id: &Option<RequestId>, error: ErrorObject) -> Self {
        Self::new(StatusCode::BAD_REQUEST, id, error)
    }
}

/// The body of an error answer. Without a readable id there is no `id` member: the
/// revision's schema has no `null` id.
fn error_body(id: Option<&RequestId>, error: &ErrorObject) -> String {
    let body = match id {
        Some(id) => json!({"jsonrpc": "2.0", "id": id, "error": error}),
        None => json!({"jsonrpc": "2.0", "error": error}),
    };
    body.to_string()
}

fn refuse(refusal: Refusal) -> HttpResponse {
    HttpResponse::build(refusal.status)
        .content_type("application/json")
        .body(error_body(refusal.id.as_ref(), &refusal.error))
}

/// Serves one stateless POST from `principal` (authenticated by the caller).
pub async fn post(
    request: &HttpRequest,
    state: &AppState,
    principal: Principal,
    body: Modern,
) -> HttpResponse {
    let started = Instant::now();
    let count = |method, outcome| {
        let took = started.elapsed();
        state.metrics.stateless_request(method, outcome, took);
    };
    let checked = match check(request, body) {
        Ok(checked) => checked,
        Err(refusal) => {
            count(None, "error");
            return refuse(refusal);
        }
    };
    let Checked {
        envelope,
        version,
        request: call,
        method,
    } = match checked {
        Some(checked) => checked,
        // A notification: nothing in the revision needs one over HTTP.
        None => return HttpResponse::Accepted().finish(),
    };
    let call_id = call.id.clone();
    let id = Some(call_id.clone());
    // The ladder's last rungs before the handler: a missing client capability (-32021), then
    // the mirrored arguments (-32020).
    if method == Some(Method::ToolsCall)
        && let Err(err) = state
            .dispatcher
            .check_tool_capabilities(&envelope, version, &call)
            .and_then(|()| mirrored_arguments(request, state, version, &call))
    {
        count(method, "error");
        return refuse(Refusal::bad(&id, err));
    }
    if state.draining.is_on() {
        count(method, "error");
        return refuse(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            &id,
            ErrorObject::internal("the server is shutting down; send the request again"),
        ));
    }
    let Some(ticket) = state.stateless.admit(&principal.id) else {
        count(method, "error");
        return refuse(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            &id,
            ErrorObject::internal(format!(
                "you have {} requests in flight, the most allowed; wait for one to finish",
                state.stateless.limit()
            )),
        ));
    };
    if method == Some(Method::SubscriptionsListen) {
        // Each stream may watch resources: they are bounded like sessions, not like requests.
        let Some(listening) = state.listens.admit(&principal.id) else {
            count(method, "error");
            return refuse(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                &id,
                ErrorObject::internal(format!(
                    "you have {} listen streams open, the most allowed; close one first",
                    state.listens.limit()
                )),
            ));
        };
        let server = listen::Listening {
            principal,
            dispatcher: &state.dispatcher,
            watcher: state.watcher.clone(),
            draining: &state.draining,
            settings: &state.settings,
        };
        let opened = listen::open(call.id, call.params, server, [ticket, listening]);
        count(method, if opened.is_ok() { "ok" } else { "error" });
        return opened.unwrap_or_else(refuse);
    }
    let streamed = matches!(
        method,
        Some(Method::ToolsCall | Method::PromptsGet | Method::ResourcesRead)
    ) && (envelope.log_level.is_some() || has_progress_token(&call));
    let dispatcher = &state.dispatcher;
    let draining = state.draining.clone();
    if !streamed {
        let outcome = dispatcher.handle_modern(&principal, &envelope, version, call, None);
        let outcome = until_drained(outcome, draining);
        let result = match outcome {
            Outcome::Ready(result) => result,
            Outcome::Pending(work) => work.await,
        };
        drop(ticket);
        count(method, outcome_of(&result));
        return match result {
            Ok(result) => HttpResponse::Ok()
                .content_type("application/json")
                .body(answer_text(&call_id, method, result)),
            Err(error) => refuse(Refusal::new(status_of(&error), &id, error)),
        };
    }
    let (sender, receiver) = outlet::channel(
        state.settings.sse.outbound_capacity,
        state.settings.sse.outbound_bytes,
    );
    let notifier = Notifier::new(Outlet::plain(sender));
    let outcome = dispatcher.handle_modern(&principal, &envelope, version, call, Some(notifier));
    // Refused before anything ran (-32601, -32021): the status says so, as unstreamed.
    if let Outcome::Ready(Err(error)) = &outcome
        && status_of(error) != StatusCode::OK
    {
        count(method, "error");
        return refuse(Refusal::new(status_of(error), &id, error.clone()));
    }
    let outcome = until_drained(outcome, draining);
    let counted = stream::Counted {
        metrics: state.metrics.clone(),
        method,
        started,
    };
    let events = stream::CallEvents::new(call_id, outcome, receiver, ticket, counted);
    super::event_stream::respond_with(HttpResponse::Ok(), events, None)
}

/// The outcome, or once the shutdown drain's wait is over, the shutting-down error (dropping
/// the work cancels it), as sessions answer their requests still running then.
fn until_drained(outcome: Outcome, draining: Draining) -> Outcome {
    let Outcome::Pending(work) = outcome else {
        return outcome;
    };
    Outcome::Pending(Box::pin(async move {
        tokio::select! {
            answer = work => answer,
            () = draining.ended() => Err(ErrorObject::internal(
                "the server is shutting down; send the request again",
            )),
        }
    }))
}

/// The answer to request `id` (of `method`) as JSON text: the result with what the revision
/// adds (`crate::dispatch::result_members`), written around a kept result's text as it is.
fn answer_text(id: &RequestId, method: Option<Method>, result: ResultObject) -> String {
    let members = result_members(method, &result);
    let id = serde_json::to_string(id).expect("a request id serializes");
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{}}}"#,
        result.into_json_with(members)
    )
}

/// The outcome label of an answer in the metrics.
fn outcome_of(answer: &Result<ResultObject, ErrorObject>) -> &'static str {
    match answer {
        Ok(result) if result.is_tool_error() => "tool_error",
        Ok(_) => "ok",
        Err(_) => "error",
    }
}

/// The HTTP status of an error from the dispatcher: a method the revision does not have is
/// 404 and a missing capability 400; anything else is in-band (200).
fn status_of(error: &ErrorObject) -> StatusCode {
    match error.code {
        ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        ErrorCode::MISSING_CLIENT_CAPABILITY => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

fn has_progress_token(request: &Request) -> bool {
    request
        .params
        .as_ref()
        .and_then(|params| params.get("_meta"))
        .and_then(|meta| meta.get("progressToken"))
        .is_some_and(|token| token.is_string() || token.is_i64() || token.is_u64())
}
