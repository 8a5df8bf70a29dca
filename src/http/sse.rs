//! `GET /sse`: opens a legacy HTTP+SSE session.
//!
//! The handler reserves a place within the session limits (which also names the session),
//! starts a `Session` actor with the sending half of a bounded channel, waits until the session
//! is registered, and answers with an event stream over the receiving half. The first event is
//! `endpoint`, whose data is the relative URI to POST to; every later event is `message`, with
//! one compact JSON-RPC message. When the client goes away, actix drops the stream, and with it
//! the receiver, which ends the session.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use actix::Actor;
use actix_web::{HttpRequest, Responder, web};
use actix_web_lab::sse::{self, Sse};
use futures_core::Stream;
use tokio::sync::oneshot;

use super::{ApiError, AppState};
use crate::{
    actors::session::{Lifetime, Session, SessionSetup},
    outlet::{self, EventReceiver},
};

pub async fn open(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<impl Responder, ApiError> {
    let principal = state.auth.authenticate(&request).await?;
    let reservation = super::admit(&state, &principal.id).await?;
    let id = reservation.id();
    let (outbound, receiver) = outlet::channel(
        state.settings.sse.outbound_capacity,
        state.settings.sse.outbound_bytes,
    );
    let (registered, on_registered) = oneshot::channel();
    Session::new(SessionSetup {
        reservation,
        registry: state.registry.clone(),
        dispatcher: state.dispatcher.clone(),
        lifetime: Lifetime::Stream,
        stream: Some(outbound),
        on_registered: registered,
        principal,
    })
    .start();
    on_registered.await.map_err(|_| ApiError::Unavailable)?;

    let events = SessionEvents {
        endpoint: Some(format!("/messages?sessionId={id}")),
        receiver,
    };
    Ok(Sse::from_stream(events)
        .with_keep_alive(state.settings.sse.keep_alive())
        .customize()
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no")))
}

/// The event stream of one session: the `endpoint` event, then its messages.
struct SessionEvents {
    endpoint: Option<String>,
    receiver: EventReceiver,
}

impl Stream for SessionEvents {
    type Item = Result<sse::Event, serde_json::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(endpoint) = self.endpoint.take() {
            return Poll::Ready(Some(Ok(sse::Data::new(endpoint).event("endpoint").into())));
        }
        self.receiver.poll_recv(cx).map(|event| {
            event.map(|event| {
                // Compact JSON has no raw newlines, so each message is a single `data:` line.
                // Legacy events carry no ids: this transport cannot resume.
                let json = event
                    .message
                    .map_or_else(String::new, |m| m.json.to_string());
                Ok(sse::Data::new(json).event("message").into())
            })
        })
    }
}
