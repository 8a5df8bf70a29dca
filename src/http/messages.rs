//! `POST /messages?sessionId=<id>`: one JSON-RPC message for a legacy SSE session.
//!
//! Checks run cheapest first: the session id, the content type, the caller's authentication and
//! the session's existence (no byte of the body is read before), the body's size and deadline
//! (`super::intake`), then its JSON and JSON-RPC shape. Any failure is an HTTP error and nothing reaches
//! the session's stream. Otherwise the message is handed to the session and the answer is
//! `202 Accepted`; the JSON-RPC response, if any, goes out on the session's event stream.
//!
//! The body checks live here for both transports: [`super::streamable`] uses them too, with
//! [`parse_body`] for its bodies, which may be batches.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, AppState};
use crate::{
    actors::{SessionId, session::Deliver},
    mcp::jsonrpc::{ErrorObject, Message},
};

#[derive(Debug, Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

pub async fn post(
    request: HttpRequest,
    query: web::Query<SessionQuery>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let raw_id = query
        .into_inner()
        .session_id
        .ok_or(ApiError::MissingSessionId)?;
    let id: SessionId = raw_id
        .parse()
        .map_err(|_| ApiError::InvalidSessionId(raw_id.clone()))?;
    require_json(&request)?;
    let principal = state.auth.authenticate(&request).await?;
    if let Some((forwarder, owner)) = super::forward::elsewhere(&state, &request, &raw_id) {
        let body = state.intake.read_body(&request, payload).await?;
        let unknown = ApiError::UnknownSession(raw_id);
        return forwarder
            .forward(&request, Some(body.freeze()), owner, unknown)
            .await;
    }
    let session = super::own_session(&state, &request, &principal, id)
        .await?
        .ok_or_else(|| ApiError::UnknownSession(raw_id.clone()))?;

    let body = state.intake.read_body(&request, payload).await?;
    let message = parse_message(&body)?;
    session
        .send(Deliver {
            message,
            reply_to: None,
        })
        .await
        .map_err(|_| ApiError::UnknownSession(raw_id))?;
    Ok(HttpResponse::Accepted()
        .content_type("text/plain")
        .body("Accepted"))
}

/// Accepts `application/json`, with or without parameters such as `charset`.
pub fn require_json(request: &HttpRequest) -> Result<(), ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("<not text>"))
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(content_type.to_string()))
    }
}

/// Parses one JSON-RPC message. Batches are not part of the legacy transport.
pub fn parse_message(body: &[u8]) -> Result<Message, ApiError> {
    let value = parse_json(body)?;
    if value.is_array() {
        return Err(ApiError::InvalidMessage(ErrorObject::invalid_request(
            "JSON-RPC batches are not supported on the SSE transport: POST one message at a time",
        )));
    }
    Message::from_value(value).map_err(ApiError::InvalidMessage)
}

/// A Streamable HTTP body: one message, or a batch (a non-empty array of at most `max_batch`
/// messages). The flag says which.
pub fn parse_body(body: &[u8], max_batch: usize) -> Result<(Vec<Message>, bool), ApiError> {
    match parse_json(body)? {
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

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|err| {
        ApiError::InvalidMessage(ErrorObject::parse_error(format!(
            "parse error: body is not valid JSON ({err})"
        )))
    })
}
