//! `/mcp`: the Streamable HTTP transport (MCP 2025-03-26 and later), beside the legacy one.
//!
//! - `POST` carries one JSON-RPC message (or, for 2025-03-26 sessions, a batch). An `initialize`
//!   without `Mcp-Session-Id` starts a session, whose id comes back in that header (one whose
//!   initialize fails is ended again, and its id is not given out). Only notifications and
//!   responses: `202 Accepted`, empty. Requests: a JSON answer, or an SSE stream for
//!   `tools/call` (and batches), whose progress and log notifications ride ahead of the result.
//!   A `tools/call` whose result is ready within `mcp.json_answer_within_ms`, with nothing sent
//!   ahead of it, is answered as JSON after all: one write instead of a stream, and nothing to
//!   resume. The specification lets the server choose either per request.
//! - `GET` opens the session's stream for messages not tied to a request (at most one: 409).
//! - `DELETE` ends the session and cancels its work.
//!
//! The same `Session` actor, registry and dispatcher serve both transports; this module only
//! maps HTTP onto them (`answer.rs` writes a POST's answers back). Status codes follow the MCP
//! specification and the TypeScript SDK's server (see docs/mcp-protocol.md §3). A POST of the
//! stateless revision (2026-07-28) is told apart here and handed to [`super::modern`].

use actix::Addr;
use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, HeaderName},
    web,
};

use super::{
    ApiError, AppState, Unconfirmed,
    event_stream::{self, OutletEvents},
    forward,
    messages::{parse_body, require_json},
    modern,
};
use crate::{
    actors::{
        SessionId,
        session::{
            Deliver, End, GetVersion, Lifetime, OpenStream, ReplyTo, Resume, Session, StreamRefused,
        },
    },
    auth::Principal,
    mcp::{
        jsonrpc::{ErrorObject, Message},
        protocol::ProtocolVersion,
    },
    outlet::{self, EventReceiver},
};

mod answer;

use answer::{json_answer, stream_answer};

// Header names as `HeaderName`s: looked up or inserted by a `&str`, a name is parsed and
// lowercased again on every use (3-4% of a revalidated `list_issues` call's instructions).
pub const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");
const VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");

fn header_value(request: &HttpRequest, name: HeaderName) -> Option<&str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Whether `Accept` allows `wanted` (`type/subtype`, lowercase), exactly or through a
/// wildcard. Every POST asks twice: compared in place, without allocating (this was 2% of a
/// revalidated `list_issues` call's instructions when it lowercased into new strings).
fn accepts(request: &HttpRequest, wanted: &str) -> bool {
    let Some(accept) = header_value(request, header::ACCEPT) else {
        return false;
    };
    let (family, _) = wanted.split_once('/').unwrap_or((wanted, ""));
    accept.split(',').any(|item| {
        let media = item.split(';').next().unwrap_or_default().trim();
        let Some((kind, sub)) = media.split_once('/') else {
            return false;
        };
        (media.eq_ignore_ascii_case(wanted))
            || (kind == "*" && sub == "*")
            || (kind.eq_ignore_ascii_case(family) && sub == "*")
    })
}

/// A present `MCP-Protocol-Version` must be one we speak; absent means 2025-03-26.
fn check_protocol_version(request: &HttpRequest) -> Result<(), ApiError> {
    match header_value(request, VERSION_HEADER) {
        Some(version)
            if !version
                .parse()
                .is_ok_and(|v: ProtocolVersion| !v.is_modern()) =>
        {
            Err(ApiError::UnsupportedProtocolVersion(version.to_string()))
        }
        _ => Ok(()),
    }
}

/// The caller's session named by `Mcp-Session-Id`: 400 without the header, 404 if unknown,
/// ended or someone else's.
async fn session_of(
    request: &HttpRequest,
    state: &AppState,
    principal: &Principal,
) -> Result<(Addr<Session>, String), ApiError> {
    let raw = header_value(request, SESSION_HEADER).ok_or(ApiError::MissingMcpSession)?;
    let unknown = || ApiError::UnknownMcpSession(raw.to_string());
    let id: SessionId = raw.parse().map_err(|_| unknown())?;
    let session = super::own_session(state, request, principal, id)
        .await?
        .ok_or_else(unknown)?;
    Ok((session, raw.to_string()))
}

/// Where a GET or DELETE goes: the caller's session here, or the answer of the replica that
/// owns it (`super::forward`).
enum Target {
    Here(Addr<Session>, String),
    Forwarded(HttpResponse),
}

/// Authenticates the caller, then finds its session, here or on another replica.
async fn caller_session(request: &HttpRequest, state: &AppState) -> Result<Target, ApiError> {
    let principal = state.auth.authenticate(request).await?;
    if let Some(raw) = header_value(request, SESSION_HEADER)
        && let Some((forwarder, owner)) = forward::elsewhere(state, request, raw)
    {
        let unknown = ApiError::UnknownMcpSession(raw.to_string());
        let answer = forwarder.forward(request, None, owner, unknown).await?;
        return Ok(Target::Forwarded(answer));
    }
    let (session, id) = session_of(request, state, &principal).await?;
    Ok(Target::Here(session, id))
}

fn is_request(message: &Message, method: Option<&str>) -> bool {
    matches!(message, Message::Request(request) if method.is_none_or(|m| request.method == m))
}

pub async fn post(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // A header naming a stateless revision sends the request there (docs/mcp-2026-07-28.md
    // §1.1), whatever else it carries; otherwise the body decides, once read. (A body claim
    // with a session id and no such header stays with the session: the session is looked up
    // before the body is read, and conforming clients send the header.)
    let modern_header =
        header_value(&request, VERSION_HEADER).is_some_and(ProtocolVersion::names_modern);
    match serve_post(&request, payload, &state, modern_header).await {
        // Refused before its body was read (auth, media type, size): a client of the
        // stateless revision gets the error without the `id: null` its schema forbids.
        Err(err) if modern_header => Ok(err.stateless_response()),
        answer => answer,
    }
}

async fn serve_post(
    request: &HttpRequest,
    payload: web::Payload,
    state: &web::Data<AppState>,
    modern_header: bool,
) -> Result<HttpResponse, ApiError> {
    if !(accepts(request, "application/json") && accepts(request, "text/event-stream")) {
        return Err(ApiError::NotAcceptable(
            "POST /mcp must accept both application/json and text/event-stream".into(),
        ));
    }
    require_json(request)?;
    if !modern_header {
        check_protocol_version(request)?;
    }
    // Who is calling, and which of its sessions, is settled before a byte of the body is
    // read: a stranger's body costs neither buffering nor parsing.
    let principal = state.auth.authenticate(request).await?;
    let named = match header_value(request, SESSION_HEADER) {
        Some(raw) if !modern_header => {
            if let Some((forwarder, owner)) = forward::elsewhere(state, request, raw) {
                let body = state.intake.read_body(request, payload).await?;
                let unknown = ApiError::UnknownMcpSession(raw.to_string());
                return forwarder
                    .forward(request, Some(body.freeze()), owner, unknown)
                    .await;
            }
            Some(session_of(request, state, &principal).await?)
        }
        _ => None,
    };
    let body = state.intake.read_body(request, payload).await?;
    // Without a session the only handshake-era message is an `initialize`: parsing its body
    // twice (here, then `parse_body`) costs once per session, not per request.
    if named.is_none()
        && let Some(message) = modern::classify(&body, modern_header)
    {
        drop(body);
        return Ok(modern::post(request, state, principal, message).await);
    }
    let (messages, batch) = parse_body(&body, state.settings.limits.max_batch_messages)?;
    drop(body);

    let (session, session_id, fresh) = match named {
        Some((session, session_id)) => (session, session_id, None),
        None => initialize(state, principal, &messages).await?,
    };
    if batch {
        check_batch(&session).await?;
    }
    let requests = messages.iter().filter(|m| is_request(m, None)).count();
    let streamed = batch || messages.iter().any(|m| is_request(m, Some("tools/call")));
    let replies = deliver(state, &session, &session_id, messages, requests, streamed).await?;
    match (requests, streamed) {
        (0, _) => Ok(HttpResponse::Accepted()
            .insert_header((SESSION_HEADER, session_id))
            .finish()),
        (_, true) => Ok(stream_answer(state, &session, session_id, replies, batch).await),
        (_, false) => json_answer(&session, session_id, replies, batch, fresh).await,
    }
}

/// A POST without `Mcp-Session-Id`: only an `initialize`, sent alone, may start a session.
/// The session ends again when the returned guard drops unconfirmed ([`json_answer`] confirms
/// it once the initialize has succeeded).
async fn initialize(
    state: &AppState,
    principal: Principal,
    messages: &[Message],
) -> Result<(Addr<Session>, String, Option<Unconfirmed>), ApiError> {
    if !messages.iter().any(|m| is_request(m, Some("initialize"))) {
        return Err(ApiError::MissingMcpSession);
    }
    if messages.len() > 1 {
        return Err(ApiError::InvalidMessage(ErrorObject::invalid_request(
            "initialize must be sent alone, not in a batch",
        )));
    }
    let lifetime = Lifetime::Idle {
        idle: state.settings.mcp.session_idle(),
        retry: state.settings.mcp.sse_retry(),
        replay_events: state.settings.mcp.replay_events,
        replay_bytes: state.settings.mcp.replay_bytes,
    };
    let (session, id, unconfirmed) = super::open_session(state, principal, lifetime, None).await?;
    Ok((session, id.to_string(), Some(unconfirmed)))
}

/// JSON-RPC batches were part of protocol 2025-03-26 only: later sessions send one message
/// per POST.
async fn check_batch(session: &Addr<Session>) -> Result<(), ApiError> {
    let version = session
        .send(GetVersion)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    if version != Some(ProtocolVersion::V2025_03_26) {
        return Err(ApiError::InvalidMessage(ErrorObject::invalid_request(
            "JSON-RPC batches are only accepted from sessions on protocol 2025-03-26; \
             send one message per POST",
        )));
    }
    Ok(())
}

/// Hands the POST's messages to the session, in order, and returns the channel its answers
/// (and, when `streamed`, the notifications ahead of them) come back on. The channel closes
/// once the last answer is out: the session holds a sender per request still due.
async fn deliver(
    state: &AppState,
    session: &Addr<Session>,
    session_id: &str,
    messages: Vec<Message>,
    requests: usize,
    streamed: bool,
) -> Result<EventReceiver, ApiError> {
    // Room for every answer this POST is owed on top of the usual bound for its notifications:
    // a batch's quick answers come out of the session all at once, before the client has read
    // any, and an answer that found the channel full would be lost.
    // (In bytes the answers are not bounded: `Outlet::answer`.)
    let (reply_to, replies) = outlet::channel(
        state.settings.sse.outbound_capacity + requests,
        state.settings.sse.outbound_bytes,
    );
    for message in messages {
        let reply_to = is_request(&message, None).then(|| ReplyTo {
            sender: reply_to.clone(),
            streamed,
        });
        session
            .send(Deliver { message, reply_to })
            .await
            .map_err(|_| ApiError::UnknownMcpSession(session_id.to_string()))?;
    }
    Ok(replies)
}

pub async fn get(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !accepts(&request, "text/event-stream") {
        return Err(ApiError::NotAcceptable(
            "GET /mcp must accept text/event-stream".into(),
        ));
    }
    check_protocol_version(&request)?;
    let (session, session_id) = match caller_session(&request, &state).await? {
        Target::Here(session, id) => (session, id),
        Target::Forwarded(answer) => return Ok(answer),
    };
    // Room for a whole replay as well as the usual queue, by count and by bytes.
    let (sender, receiver) = outlet::channel(
        state.settings.sse.outbound_capacity + state.settings.mcp.replay_events,
        state.settings.sse.outbound_bytes + state.settings.mcp.replay_bytes,
    );
    let opened = match header_value(&request, header::HeaderName::from_static("last-event-id")) {
        Some(last) => {
            session
                .send(Resume {
                    last_event_id: last.to_string(),
                    sender,
                })
                .await
        }
        None => session.send(OpenStream { sender }).await,
    };
    match opened.map_err(|_| ApiError::UnknownMcpSession(session_id.clone()))? {
        Ok(()) => {}
        Err(StreamRefused::Busy) => return Err(ApiError::StreamConflict),
        Err(StreamRefused::UnknownEvent(id)) => return Err(ApiError::UnknownEvent(id)),
    }
    let mut response = HttpResponse::Ok();
    response.insert_header((SESSION_HEADER, session_id));
    Ok(event_stream::respond(
        response,
        OutletEvents::new(Vec::new(), receiver),
        Some(state.settings.sse.keep_alive()),
    ))
}

pub async fn delete(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_protocol_version(&request)?;
    let (session, session_id) = match caller_session(&request, &state).await? {
        Target::Here(session, id) => (session, id),
        Target::Forwarded(answer) => return Ok(answer),
    };
    session
        .send(End)
        .await
        .map_err(|_| ApiError::UnknownMcpSession(session_id))?;
    Ok(HttpResponse::Ok().finish())
}

#[cfg(test)]
mod tests {
    use actix_web::{http::header, test::TestRequest};

    use super::*;

    #[test]
    fn accept_allows_exact_types_and_wildcards() {
        let request = TestRequest::default()
            .insert_header((header::ACCEPT, "application/json, text/event-stream"))
            .to_http_request();
        assert!(accepts(&request, "application/json") && accepts(&request, "text/event-stream"));
        let star = TestRequest::default()
            .insert_header((header::ACCEPT, "*/*"))
            .to_http_request();
        assert!(accepts(&star, "text/event-stream"));
        let shouting = TestRequest::default()
            .insert_header((header::ACCEPT, "Application/JSON, TEXT/*"))
            .to_http_request();
        assert!(accepts(&shouting, "application/json") && accepts(&shouting, "text/event-stream"));
        let json_only = TestRequest::default()
            .insert_header((header::ACCEPT, "application/json;q=0.9"))
            .to_http_request();
        assert!(!accepts(&json_only, "text/event-stream"));
        assert!(!accepts(
            &TestRequest::default().to_http_request(),
            "application/json"
        ));
    }
}
