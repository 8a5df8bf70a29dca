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
//! maps HTTP onto them. Status codes follow the MCP specification and the TypeScript SDK's
//! server (see docs/mcp-protocol.md §3).

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use actix::{Actor, Addr};
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use actix_web_lab::sse::{self, Sse};
use futures_core::Stream;
use serde_json::Value;
use tokio::sync::oneshot;

use super::{ApiError, AppState, messages::require_json};
use crate::{
    actors::{
        SessionId,
        session::{
            Deliver, End, ForgetStream, GetVersion, Lifetime, OpenStream, ReplyTo, Resume, Session,
            SessionSetup, StreamRefused,
        },
    },
    auth::Principal,
    mcp::{
        jsonrpc::{ErrorObject, Message},
        protocol::ProtocolVersion,
    },
    outlet::{self, Event, EventReceiver, parse_event_id},
};

pub const SESSION_HEADER: &str = "Mcp-Session-Id";
const VERSION_HEADER: &str = "MCP-Protocol-Version";

fn header_value<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Whether `Accept` allows `wanted` (`type/subtype`), exactly or through a wildcard.
fn accepts(request: &HttpRequest, wanted: &str) -> bool {
    let Some(accept) = header_value(request, "accept") else {
        return false;
    };
    let family = wanted.split('/').next().unwrap_or_default();
    accept.split(',').any(|item| {
        let media = item
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        media == wanted || media == "*/*" || media == format!("{family}/*")
    })
}

/// A present `MCP-Protocol-Version` must be one we speak; absent means 2025-03-26.
fn check_protocol_version(request: &HttpRequest) -> Result<(), ApiError> {
    match header_value(request, VERSION_HEADER) {
        Some(version) if version.parse::<ProtocolVersion>().is_err() => {
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

/// Authenticates the caller, then finds its session.
async fn caller_session(
    request: &HttpRequest,
    state: &AppState,
) -> Result<(Addr<Session>, String), ApiError> {
    let principal = state.auth.authenticate(request).await?;
    session_of(request, state, &principal).await
}

/// One message, or a batch (a non-empty array of at most `max_batch` messages).
fn parse_body(body: &[u8], max_batch: usize) -> Result<(Vec<Message>, bool), ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        ApiError::InvalidMessage(ErrorObject::parse_error(format!(
            "parse error: body is not valid JSON ({err})"
        )))
    })?;
    match value {
        Value::Array(items) if items.is_empty() => Err(ApiError::InvalidMessage(
            ErrorObject::invalid_request("an empty JSON-RPC batch is not a request"),
        )),
        // Refused whole before any of it runs: each answer would be held until the batch's
        // stream is read, so the batch's size bounds what one POST may make the server hold.
        Value::Array(items) if items.len() > max_batch => Err(ApiError::InvalidMessage(
            ErrorObject::invalid_request(format!(
                "a JSON-RPC batch may hold at most {max_batch} messages (limits.max_batch_messages); \
                 this one has {}: send it in parts",
                items.len()
            )),
        )),
        Value::Array(items) => items
            .into_iter()
            .map(|item| Message::from_value(item).map_err(ApiError::InvalidMessage))
            .collect::<Result<_, _>>()
            .map(|messages| (messages, true)),
        single => Ok((
            vec![Message::from_value(single).map_err(ApiError::InvalidMessage)?],
            false,
        )),
    }
}

fn is_request(message: &Message, method: Option<&str>) -> bool {
    matches!(message, Message::Request(request) if method.is_none_or(|m| request.method == m))
}

/// Ends the session that an `initialize` POST started, unless `confirm`ed once that initialize
/// has succeeded. A session whose initialize failed, or whose POST was abandoned before the
/// answer, has no client that will use it, yet would hold a place within the session limits
/// until it expired (`mcp.session_idle_secs`).
struct Unconfirmed(Option<Addr<Session>>);

impl Unconfirmed {
    fn confirm(mut self) {
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

/// Starts a Streamable HTTP session and waits until POSTs can find it. The session ends when
/// the returned guard drops unconfirmed, even if this POST is abandoned before it returns.
async fn start_session(
    state: &AppState,
    principal: Principal,
) -> Result<(Addr<Session>, String, Unconfirmed), ApiError> {
    let reservation = super::admit(state, &principal.id).await?;
    let id = reservation.id();
    let (registered, on_registered) = oneshot::channel();
    let session = Session::new(SessionSetup {
        reservation,
        registry: state.registry.clone(),
        dispatcher: state.dispatcher.clone(),
        lifetime: Lifetime::Idle {
            idle: state.settings.mcp.session_idle(),
            retry: state.settings.mcp.sse_retry(),
            replay_events: state.settings.mcp.replay_events,
            replay_bytes: state.settings.mcp.replay_bytes,
        },
        stream: None,
        on_registered: registered,
        principal,
    })
    .start();
    let fresh = Unconfirmed(Some(session.clone()));
    on_registered.await.map_err(|_| ApiError::Unavailable)?;
    Ok((session, id.to_string(), fresh))
}

pub async fn post(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !(accepts(&request, "application/json") && accepts(&request, "text/event-stream")) {
        return Err(ApiError::NotAcceptable(
            "POST /mcp must accept both application/json and text/event-stream".into(),
        ));
    }
    require_json(&request)?;
    check_protocol_version(&request)?;
    // Who is calling, and which of its sessions, is settled before a byte of the body is
    // read: a stranger's body costs neither buffering nor parsing.
    let principal = state.auth.authenticate(&request).await?;
    let named = match header_value(&request, SESSION_HEADER) {
        Some(_) => Some(session_of(&request, &state, &principal).await?),
        None => None,
    };
    let body = state.intake.read_body(&request, payload).await?;
    let (messages, batch) = parse_body(&body, state.settings.limits.max_batch_messages)?;
    drop(body);

    let initializing = messages.iter().any(|m| is_request(m, Some("initialize")));
    let mut fresh = None;
    let (session, session_id) = match named {
        Some(named) => named,
        None if initializing => {
            if messages.len() > 1 {
                return Err(ApiError::InvalidMessage(ErrorObject::invalid_request(
                    "initialize must be sent alone, not in a batch",
                )));
            }
            let (session, session_id, unconfirmed) = start_session(&state, principal).await?;
            fresh = Some(unconfirmed);
            (session, session_id)
        }
        None => return Err(ApiError::MissingMcpSession),
    };
    if batch {
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
    }

    let requests = messages.iter().filter(|m| is_request(m, None)).count();
    let streamed = batch || messages.iter().any(|m| is_request(m, Some("tools/call")));
    // Room for every answer this POST is owed on top of the usual bound for its notifications:
    // a batch's quick answers come out of the session all at once, before the client has read
    // any, and an answer that found the channel full would be lost.
    // (In bytes the answers are not bounded: `Outlet::answer`.)
    let (reply_to, mut replies) = outlet::channel(
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
            .map_err(|_| ApiError::UnknownMcpSession(session_id.clone()))?;
    }
    // The session holds a sender per request still due; when the last answer is out, the
    // channel closes and so does the answer to this POST.
    drop(reply_to);

    let mut response = match (requests, streamed) {
        (0, _) => {
            return Ok(HttpResponse::Accepted()
                .insert_header((SESSION_HEADER, session_id))
                .finish());
        }
        (_, true) => {
            let wait = Duration::from_millis(state.settings.mcp.json_answer_within_ms);
            let mut held = Vec::new();
            if !batch && !wait.is_zero() {
                match quick_answer(&mut replies, wait).await {
                    Ok(answer) => {
                        if let Some((stream, _)) = answer.id.as_deref().and_then(parse_event_id) {
                            session.do_send(ForgetStream(stream));
                        }
                        let json = answer
                            .message
                            .map_or_else(String::new, |m| m.json.to_string());
                        return Ok(HttpResponse::Ok()
                            .insert_header((SESSION_HEADER, session_id))
                            .content_type("application/json")
                            .body(json));
                    }
                    Err(early) => held = early,
                }
            }
            let mut response = HttpResponse::Ok();
            response
                .content_type("text/event-stream")
                .insert_header(("Cache-Control", "no-cache"))
                .insert_header(("X-Accel-Buffering", "no"));
            return Ok(response
                .insert_header((SESSION_HEADER, session_id))
                .streaming(sse_bytes(held, replies)));
        }
        (_, false) => HttpResponse::Ok(),
    };
    let mut answers = Vec::new();
    while let Some(event) = replies.recv().await {
        if let Some(message) = event.message.filter(|m| m.answers) {
            answers.push(message.json);
        }
    }
    if answers.is_empty() {
        // No answer came: either the session ended (404, the client must start over), or the
        // client cancelled the request with `notifications/cancelled`, and a cancelled request
        // gets no response (docs/mcp-protocol.md §5.8). Saying 404 then would send a
        // spec-following client off to a new session although this one lives. 202 is only for
        // bodies without requests; a request's POST is answered with JSON or an SSE stream
        // (§3.1), so a cancelled one gets a stream that ends with no events. A session that
        // has ended no longer answers its mailbox.
        if session.send(GetVersion).await.is_err() {
            return Err(ApiError::UnknownMcpSession(session_id));
        }
        return Ok(response
            .content_type("text/event-stream")
            .insert_header(("Cache-Control", "no-cache"))
            .insert_header((SESSION_HEADER, session_id))
            .finish());
    }
    // The answers are JSON text already: one as it is, a batch as an array of them.
    let body = match (batch, answers.len()) {
        (false, _) => answers[0].to_string(),
        (true, _) => format!("[{}]", answers.join(",")),
    };
    // A new session lives on only if its initialize succeeded (which sets the version); the
    // client gets the initialize's error either way, but not the id of a session that is ending.
    let ended = match fresh {
        Some(fresh) => match session.send(GetVersion).await {
            Ok(Some(_)) => {
                fresh.confirm();
                false
            }
            _ => true,
        },
        None => false,
    };
    if !ended {
        response.insert_header((SESSION_HEADER, session_id));
    }
    Ok(response.content_type("application/json").body(body))
}

pub async fn get(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<impl Responder, ApiError> {
    if !accepts(&request, "text/event-stream") {
        return Err(ApiError::NotAcceptable(
            "GET /mcp must accept text/event-stream".into(),
        ));
    }
    check_protocol_version(&request)?;
    let (session, session_id) = caller_session(&request, &state).await?;
    // Room for a whole replay as well as the usual queue, by count and by bytes.
    let (sender, receiver) = outlet::channel(
        state.settings.sse.outbound_capacity + state.settings.mcp.replay_events,
        state.settings.sse.outbound_bytes + state.settings.mcp.replay_bytes,
    );
    let opened = match header_value(&request, "last-event-id") {
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
    Ok(Sse::from_stream(sse_events(receiver))
        .with_keep_alive(state.settings.sse.keep_alive())
        .customize()
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .insert_header((SESSION_HEADER, session_id)))
}

pub async fn delete(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_protocol_version(&request)?;
    let (session, session_id) = caller_session(&request, &state).await?;
    session
        .send(End)
        .await
        .map_err(|_| ApiError::UnknownMcpSession(session_id))?;
    Ok(HttpResponse::Ok().finish())
}

/// Events that came before the stream began (`held`), then those of a channel until it
/// closes, each framed by `frame`.
struct Frames<F> {
    held: std::vec::IntoIter<Event>,
    receiver: EventReceiver,
    frame: F,
}

impl<T, F: Fn(Event) -> T + Unpin> Stream for Frames<F> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        if let Some(event) = this.held.next() {
            return Poll::Ready(Some((this.frame)(event)));
        }
        this.receiver
            .poll_recv(cx)
            .map(|event| event.map(|event| (this.frame)(*event)))
    }
}

/// Events for a GET stream (actix-web-lab adds the keep-alives).
fn sse_events(
    receiver: EventReceiver,
) -> impl Stream<Item = Result<sse::Event, serde_json::Error>> {
    Frames {
        held: Vec::new().into_iter(),
        receiver,
        frame: |event: Event| {
            let data = match &event.message {
                Some(message) => message.json.to_string(),
                None => String::new(),
            };
            let mut data = sse::Data::new(data);
            if event.message.is_some() {
                data.set_event("message");
            }
            if let Some(id) = event.id {
                data.set_id(id);
            }
            Ok(data.into())
        },
    }
}

/// A POST's answer (an event with a message) if it comes within `wait` with nothing ahead of
/// it but the priming event; otherwise the events that came (in order), for the stream to
/// begin with.
async fn quick_answer(replies: &mut EventReceiver, wait: Duration) -> Result<Event, Vec<Event>> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut held = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, replies.recv()).await {
            Ok(Some(event)) => match &event.message {
                // The priming event: it only matters to a stream.
                None => held.push(*event),
                Some(message) if message.answers => return Ok(*event),
                // A notification or a request to the client: it goes first, on a stream.
                Some(_) => {
                    held.push(*event);
                    return Err(held);
                }
            },
            // Closed without an answer (the session ended), or not in time.
            Ok(None) | Err(_) => return Err(held),
        }
    }
}

/// The same events framed by hand, for a POST's streamed answer (`held` first, then what
/// comes): it ends with its last response, so it needs no keep-alive. Compact JSON has no
/// newlines: one `data:` line each. The priming event (2025-11-25) is an id, a `retry` and
/// empty data.
fn sse_bytes(
    held: Vec<Event>,
    receiver: EventReceiver,
) -> impl Stream<Item = Result<web::Bytes, serde_json::Error>> {
    Frames {
        held: held.into_iter(),
        receiver,
        frame: |event: Event| Ok(post_frame(&event)),
    }
}

fn post_frame(event: &Event) -> web::Bytes {
    let mut frame = String::new();
    if let Some(id) = &event.id {
        frame.push_str(&format!("id: {id}\n"));
    }
    if let Some(retry) = event.retry {
        frame.push_str(&format!("retry: {}\n", retry.as_millis()));
    }
    match &event.message {
        Some(message) => {
            frame.push_str("event: message\ndata: ");
            frame.push_str(&message.json);
            frame.push_str("\n\n");
        }
        None => frame.push_str("data: \n\n"),
    }
    web::Bytes::from(frame)
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
