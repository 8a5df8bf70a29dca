//! How a POST's answers go back on Streamable HTTP: as an SSE stream of what the session sends
//! for the POST ([`stream_answer`], for a `tools/call` or a batch; as JSON after all when the
//! result comes quickly with nothing ahead of it), or as JSON ([`json_answer`]). Used by
//! `super::post` only.

use std::time::Duration;

use actix::Addr;
use actix_web::HttpResponse;

use super::SESSION_HEADER;
use crate::{
    actors::session::{ForgetStream, GetVersion, Session},
    http::{
        ApiError, AppState, Unconfirmed,
        event_stream::{self, OutletEvents},
    },
    outlet::{Event, EventReceiver, parse_event_id},
};

/// The answer to a POST with a `tools/call` or a batch: an SSE stream of what the session sends
/// for it, ending with its last answer (so without keep-alives). A single call whose result
/// comes within `mcp.json_answer_within_ms`, with nothing ahead of it, is answered as JSON.
pub(super) async fn stream_answer(
    state: &AppState,
    session: &Addr<Session>,
    session_id: String,
    mut replies: EventReceiver,
    batch: bool,
) -> HttpResponse {
    let wait = Duration::from_millis(state.settings.mcp.json_answer_within_ms);
    let mut held = Vec::new();
    if !batch && !wait.is_zero() {
        match quick_answer(&mut replies, wait).await {
            Ok(answer) => {
                // Answered as JSON, the stream will not be resumed: its replay can go.
                if let Some((stream, _)) = answer.id.as_deref().and_then(parse_event_id) {
                    session.do_send(ForgetStream(stream));
                }
                let json = answer
                    .message
                    .map_or_else(String::new, |m| m.json.to_string());
                return HttpResponse::Ok()
                    .insert_header((SESSION_HEADER, session_id))
                    .content_type("application/json")
                    .body(json);
            }
            Err(early) => held = early,
        }
    }
    let mut response = HttpResponse::Ok();
    response.insert_header((SESSION_HEADER, session_id));
    event_stream::respond(response, OutletEvents::new(held, replies), None)
}

/// The answer to a POST whose requests are answered as JSON: the one answer, or a batch's as
/// an array. A new session (`fresh`) lives on only if its initialize succeeded.
pub(super) async fn json_answer(
    session: &Addr<Session>,
    session_id: String,
    mut replies: EventReceiver,
    batch: bool,
    fresh: Option<Unconfirmed>,
) -> Result<HttpResponse, ApiError> {
    let mut answers = Vec::new();
    while let Some(event) = replies.recv().await {
        if let Some(message) = event.message.filter(|m| m.answers) {
            answers.push(message.json);
        }
    }
    let mut response = HttpResponse::Ok();
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
        return Ok(event_stream::event_stream_headers(&mut response)
            .insert_header((SESSION_HEADER, session_id))
            .finish());
    }
    // The answers are JSON text already: one as it is, a batch as an array of them.
    let body = match batch {
        false => answers[0].to_string(),
        true => format!("[{}]", answers.join(",")),
    };
    // The client gets the initialize's error either way, but not the id of a session that is
    // ending. A successful initialize sets the version.
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
