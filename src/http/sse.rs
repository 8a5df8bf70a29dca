//! `GET /sse`: opens a legacy HTTP+SSE session.
//!
//! The handler opens a session ([`super::open_session`]) with the sending half of a bounded
//! channel and answers with an event stream over the receiving half ([`super::event_stream`]).
//! The first event is `endpoint`, whose data is the relative URI to POST to
//! ([`super::messages`]); every later event is `message`, with one compact JSON-RPC message,
//! and without an id: this transport cannot resume. When the client goes away, actix drops the
//! stream, and with it the receiver, which ends the session.

use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_lab::sse::Data;

use super::{
    ApiError, AppState,
    event_stream::{self, OutletEvents},
};
use crate::{actors::session::Lifetime, outlet};

pub async fn open(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = state.auth.authenticate(&request).await?;
    let (outbound, receiver) = outlet::channel(
        state.settings.sse.outbound_capacity,
        state.settings.sse.outbound_bytes,
    );
    let (_, id, opened) =
        super::open_session(&state, principal, Lifetime::Stream, Some(outbound)).await?;
    // Its client is this stream: the session ends when the stream does.
    opened.confirm();
    let endpoint = Data::new(format!("/messages?sessionId={id}")).event("endpoint");
    Ok(event_stream::respond(
        HttpResponse::Ok(),
        OutletEvents::after(endpoint.into(), receiver),
        Some(state.settings.sse.keep_alive()),
    ))
}
