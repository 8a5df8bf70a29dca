//! The one Server-Sent Events framer of the HTTP layer, built on actix-web-lab's `sse`: it
//! turns outlet events into `sse::Event`s and answers with an `Sse` response, which writes the
//! frames, the `retry` field and the keep-alive comments while the stream is idle.
//!
//! Every SSE answer goes through here: the legacy `GET /sse` stream ([`super::sse`]), and
//! Streamable HTTP's `GET /mcp` stream and streamed `POST /mcp` answers ([`super::streamable`]).
//! What to send comes from the session's outlet ([`crate::outlet`]), which numbers and keeps
//! events for replay; this module only writes them out.

use std::{
    convert::Infallible,
    pin::Pin,
    sync::LazyLock,
    task::{Context, Poll, Waker},
    time::Duration,
};

use actix_web::{
    HttpResponse, HttpResponseBuilder,
    http::header::{self, HeaderName},
};
use actix_web_lab::sse::{self, Data, Sse};
use futures_core::Stream;

use crate::outlet::{Event, EventReceiver};

/// An `event: message` without id or data, cloned for each message: the crate keeps the event
/// name as shared bytes, so a clone counts a reference where `.event("message")` would copy
/// the name into a new allocation for every event.
static MESSAGE: LazyLock<Data> = LazyLock::new(|| Data::new("").event("message"));

/// An outlet event as SSE: its id when it has one, and its message as one `event: message`
/// (compact JSON has no raw newlines, so one `data:` line). The priming event has no message:
/// an id and empty data. Its `retry` is not part of it: the crate only writes `retry` as a
/// frame of its own ahead of the stream ([`OutletEvents::new`]).
fn to_sse(event: Event) -> sse::Event {
    let mut data = match &event.message {
        Some(message) => {
            let mut data = MESSAGE.clone();
            // The crate needs the text as its own bytes: one copy of the JSON, kept shared
            // (`Arc<str>`) by the outlet and its replay buffer.
            data.set_data(&*message.json);
            data
        }
        None => Data::new(""),
    };
    if let Some(id) = event.id {
        data.set_id(id);
    }
    data.into()
}

/// A message as one `event: message` without an id: the stateless revision's streams are
/// never resumed.
pub fn message_event(json: &str) -> sse::Event {
    let mut data = MESSAGE.clone();
    data.set_data(json);
    data.into()
}

/// `response` as an event stream of `events`, with a `: keep-alive` comment every
/// `keep_alive` while idle if given; no `retry` (the stateless revision's streams).
pub fn respond_with<S>(
    mut response: HttpResponseBuilder,
    events: S,
    keep_alive: Option<Duration>,
) -> HttpResponse
where
    S: Stream<Item = Result<sse::Event, Infallible>> + 'static,
{
    let mut sse = Sse::from_stream(events);
    if let Some(period) = keep_alive {
        sse = sse.with_keep_alive(period);
    }
    event_stream_headers(&mut response).body(sse)
}

/// The events of a session's channel as SSE, after those in hand (`held`), until the channel
/// closes.
#[derive(Debug)]
pub struct OutletEvents {
    held: std::vec::IntoIter<sse::Event>,
    receiver: EventReceiver,
    /// The `retry` of the stream's priming event, for the response to send first.
    retry: Option<Duration>,
}

impl OutletEvents {
    /// The events of `receiver`, after `held`, events taken from it already.
    ///
    /// A stream's `retry` rides on its priming event, which the session's outlet sends first
    /// on the stream and only there (a POST stream of a 2025-11-25 session). actix-web-lab has
    /// no `retry` on a data event, only `Sse::with_retry_duration`, set before the stream
    /// starts, so the first event is looked at now: if nothing is held yet it is taken from the
    /// channel when already there, without waiting. A POST's priming event always is: the
    /// session sends it while it takes the request in, which the handler awaited. (A `retry` on
    /// a later event would be dropped, the client keeping its default delay; outlets send none.)
    pub fn new(mut held: Vec<Event>, mut receiver: EventReceiver) -> Self {
        if held.is_empty()
            && let Poll::Ready(Some(first)) =
                receiver.poll_recv(&mut Context::from_waker(Waker::noop()))
        {
            held.push(*first);
        }
        let retry = held.first().and_then(|event| event.retry);
        let held: Vec<sse::Event> = held.into_iter().map(to_sse).collect();
        OutletEvents {
            held: held.into_iter(),
            receiver,
            retry,
        }
    }

    /// The events of `receiver` after `first`, an event of the transport's own (the legacy
    /// `endpoint` event).
    pub fn after(first: sse::Event, receiver: EventReceiver) -> Self {
        OutletEvents {
            held: vec![first].into_iter(),
            receiver,
            retry: None,
        }
    }
}

impl Stream for OutletEvents {
    type Item = Result<sse::Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(event) = this.held.next() {
            return Poll::Ready(Some(Ok(event)));
        }
        this.receiver
            .poll_recv(cx)
            .map(|event| event.map(|event| Ok(to_sse(*event))))
    }
}

/// nginx's switch for response buffering, as a `HeaderName` (a `&str` name is parsed again
/// on every insert).
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The headers of every event stream: no caching, no compression, and no buffering by a
/// proxy (nginx reads `X-Accel-Buffering`), so each event reaches the client as it is written.
/// (`Sse` as a responder sets the first three too, but not `X-Accel-Buffering`, and our
/// responses carry more headers: the builder is ours, with `Sse` as its body.)
pub fn event_stream_headers(response: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    response
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .insert_header((X_ACCEL_BUFFERING, "no"))
}

/// `response` as an event stream of `events`: first the priming event's `retry` if it has one,
/// then the events, with a `: keep-alive` comment every `keep_alive` while idle if given (a
/// POST's stream ends with its last answer and needs none). The crate's keep-alive ticks at
/// once, so a client learns at once that its stream is open.
pub fn respond(
    mut response: HttpResponseBuilder,
    mut events: OutletEvents,
    keep_alive: Option<Duration>,
) -> HttpResponse {
    let retry = events.retry.take();
    let mut sse = Sse::from_stream(events);
    if let Some(period) = keep_alive {
        sse = sse.with_keep_alive(period);
    }
    if let Some(retry) = retry {
        sse = sse.with_retry_duration(retry);
    }
    event_stream_headers(&mut response).body(sse)
}

#[cfg(test)]
mod tests {
    use actix_web::body;

    use super::*;
    use crate::outlet::{self, Payload};

    fn message(id: Option<&str>, json: &str) -> Event {
        Event {
            id: id.map(Into::into),
            message: Some(Payload {
                json: json.into(),
                answers: true,
            }),
            retry: None,
        }
    }

    fn priming(id: &str, retry: Duration) -> Event {
        Event {
            id: Some(id.into()),
            message: None,
            retry: Some(retry),
        }
    }

    /// The body of `events` answered without keep-alives, once the channel has closed.
    async fn written(events: OutletEvents) -> String {
        let response = respond(HttpResponse::Ok(), events, None);
        let bytes = body::to_bytes(response.into_body()).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[actix::test]
    async fn outlet_events_become_message_events_and_priming_has_none() {
        let (sender, receiver) = outlet::channel(4, 1 << 20);
        sender
            .push(Box::new(message(
                Some("2-5"),
                r#"{"jsonrpc":"2.0","id":1}"#,
            )))
            .unwrap();
        drop(sender);
        let held = vec![priming("2-0", Duration::from_millis(1500))];
        assert_eq!(
            written(OutletEvents::new(held, receiver)).await,
            "retry: 1500\n\nid: 2-0\ndata: \n\nid: 2-5\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1}\n\n"
        );
    }

    #[actix::test]
    async fn a_priming_event_still_in_the_channel_gives_its_retry_first() {
        let (sender, receiver) = outlet::channel(4, 1 << 20);
        sender
            .push(Box::new(priming("3-0", Duration::from_secs(3))))
            .unwrap();
        sender.push(Box::new(message(Some("3-1"), "{}"))).unwrap();
        drop(sender);
        assert_eq!(
            written(OutletEvents::new(Vec::new(), receiver)).await,
            "retry: 3000\n\nid: 3-0\ndata: \n\nid: 3-1\nevent: message\ndata: {}\n\n"
        );
    }

    #[actix::test]
    async fn the_legacy_stream_starts_with_its_endpoint_and_has_no_ids() {
        let (sender, receiver) = outlet::channel(4, 1 << 20);
        sender.push(Box::new(message(None, "{}"))).unwrap();
        drop(sender);
        let endpoint = Data::new("/messages?sessionId=x").event("endpoint");
        assert_eq!(
            written(OutletEvents::after(endpoint.into(), receiver)).await,
            "event: endpoint\ndata: /messages?sessionId=x\n\nevent: message\ndata: {}\n\n"
        );
    }

    #[actix::test]
    async fn event_streams_are_neither_cached_compressed_nor_buffered() {
        let (_sender, receiver) = outlet::channel(4, 1 << 20);
        let response = respond(
            HttpResponse::Ok(),
            OutletEvents::new(Vec::new(), receiver),
            Some(Duration::from_secs(15)),
        );
        let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap();
        assert_eq!(header("content-type"), "text/event-stream");
        assert_eq!(header("cache-control"), "no-cache");
        assert_eq!(header("content-encoding"), "identity");
        assert_eq!(header("x-accel-buffering"), "no");
    }
}
