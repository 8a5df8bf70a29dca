//! The one Server-Sent Events writer of the HTTP layer: how a frame is laid out (`id`, `retry`,
//! `event`, `data` lines, comments), how an outlet event becomes a frame, and the streaming
//! response that carries them, with keep-alive comments while the stream is idle.
//!
//! Every SSE answer goes through here: the legacy `GET /sse` stream ([`super::sse`]), and
//! Streamable HTTP's `GET /mcp` stream and streamed `POST /mcp` answers ([`super::streamable`]).
//! What to send comes from the session's outlet ([`crate::outlet`]), which numbers and keeps
//! events for replay; this module only writes them out.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{HttpResponse, HttpResponseBuilder};
use bytes::{BufMut, Bytes, BytesMut};
use futures_core::Stream;
use tokio::time::{Interval, MissedTickBehavior};

use crate::outlet::{Event, EventReceiver};

/// The comment written while a stream has nothing to send, so that proxies and clients see
/// the connection is alive.
const KEEP_ALIVE: &str = "keep-alive";

/// One SSE event. `id` and `event` must not hold line breaks or NUL (ours are `<stream>-<seq>`
/// and fixed names); `data` may span lines: each becomes its own `data:` line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Frame<'a> {
    pub id: Option<&'a str>,
    pub retry: Option<Duration>,
    pub event: Option<&'a str>,
    pub data: &'a str,
}

impl Frame<'_> {
    /// The frame's bytes, written into one buffer sized up front.
    pub fn to_bytes(&self) -> Bytes {
        debug_assert!(
            [self.id, self.event]
                .into_iter()
                .flatten()
                .all(|field| !field.contains(['\r', '\n', '\0'])),
            "an SSE id or event name cannot hold a line break or NUL"
        );
        let fields = self.id.map_or(0, |id| id.len() + 5) + self.event.map_or(0, |e| e.len() + 8);
        let mut out = BytesMut::with_capacity(fields + 24 + self.data.len() + 8);
        if let Some(id) = self.id {
            line(&mut out, "id: ", id);
        }
        if let Some(retry) = self.retry {
            line(&mut out, "retry: ", &retry.as_millis().to_string());
        }
        if let Some(event) = self.event {
            line(&mut out, "event: ", event);
        }
        field_lines(&mut out, "data: ", self.data);
        out.put_u8(b'\n');
        out.freeze()
    }
}

/// A comment frame (`: text`), which clients ignore.
pub fn comment(text: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(text.len() + 4);
    field_lines(&mut out, ": ", text);
    out.put_u8(b'\n');
    out.freeze()
}

/// An outlet event as SSE: its id and `retry` when it has them, and its message as one
/// `event: message` (compact JSON has no raw newlines, so one `data:` line). The priming event
/// has no message: an id, a `retry` and empty data.
pub fn outlet_frame(event: &Event) -> Bytes {
    Frame {
        id: event.id.as_deref(),
        retry: event.retry,
        event: event.message.as_ref().map(|_| "message"),
        data: event.message.as_ref().map_or("", |message| &*message.json),
    }
    .to_bytes()
}

fn line(out: &mut BytesMut, field: &str, value: &str) {
    out.put_slice(field.as_bytes());
    out.put_slice(value.as_bytes());
    out.put_u8(b'\n');
}

/// `value` as one `field` line per line of it (split at CRLF, CR or LF, as the SSE
/// specification reads them), so that no line break in it can end the frame early.
fn field_lines(out: &mut BytesMut, field: &str, value: &str) {
    let mut rest = value;
    while let Some(at) = rest.find(['\r', '\n']) {
        line(out, field, &rest[..at]);
        let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[at + skip..];
    }
    line(out, field, rest);
}

/// Frames written already (`held`, sent first), then the events of a session's channel until
/// it closes, each through [`outlet_frame`].
#[derive(Debug)]
pub struct OutletFrames {
    held: std::vec::IntoIter<Bytes>,
    receiver: EventReceiver,
}

impl OutletFrames {
    pub fn new(held: Vec<Bytes>, receiver: EventReceiver) -> Self {
        OutletFrames {
            held: held.into_iter(),
            receiver,
        }
    }
}

impl Stream for OutletFrames {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        if let Some(frame) = this.held.next() {
            return Poll::Ready(Some(frame));
        }
        this.receiver
            .poll_recv(cx)
            .map(|event| event.map(|event| outlet_frame(&event)))
    }
}

/// A stream of frames, with a keep-alive comment on each tick of `keep_alive` while the
/// frames have nothing ready. The first tick is immediate, so a client learns at once that
/// its stream is open. Ends when the frames end.
#[derive(Debug)]
struct KeptAlive<S> {
    frames: S,
    keep_alive: Option<Interval>,
}

impl<S: Stream<Item = Bytes> + Unpin> Stream for KeptAlive<S> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.frames).poll_next(cx) {
            return Poll::Ready(frame.map(Ok));
        }
        if let Some(interval) = &mut this.keep_alive
            && interval.poll_tick(cx).is_ready()
        {
            return Poll::Ready(Some(Ok(comment(KEEP_ALIVE))));
        }
        Poll::Pending
    }
}

/// The headers of every event stream: no caching, no compression, and no buffering by a
/// proxy (nginx reads `X-Accel-Buffering`), so each event reaches the client as it is written.
pub fn event_stream_headers(response: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    response
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("Content-Encoding", "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
}

/// `response` as an event stream of `frames`, with keep-alives every `keep_alive` if given
/// (a POST's stream ends with its last answer and needs none).
pub fn respond(
    mut response: HttpResponseBuilder,
    frames: impl Stream<Item = Bytes> + Unpin + 'static,
    keep_alive: Option<Duration>,
) -> HttpResponse {
    let keep_alive = keep_alive.map(|period| {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval
    });
    event_stream_headers(&mut response).streaming(KeptAlive { frames, keep_alive })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlet::Payload;

    #[test]
    fn frames_lay_out_id_retry_event_and_data() {
        let frame = Frame {
            id: Some("1-0"),
            retry: Some(Duration::from_secs(3)),
            event: Some("message"),
            data: "{}",
        };
        assert_eq!(
            frame.to_bytes(),
            "id: 1-0\nretry: 3000\nevent: message\ndata: {}\n\n"
        );
        let endpoint = Frame {
            event: Some("endpoint"),
            data: "/messages?sessionId=x",
            ..Frame::default()
        };
        assert_eq!(
            endpoint.to_bytes(),
            "event: endpoint\ndata: /messages?sessionId=x\n\n"
        );
    }

    #[test]
    fn every_line_of_data_gets_its_own_field() {
        let frame = Frame {
            data: "first\r\nsecond\rthird\n",
            ..Frame::default()
        };
        assert_eq!(
            frame.to_bytes(),
            "data: first\ndata: second\ndata: third\ndata: \n\n"
        );
        assert_eq!(Frame::default().to_bytes(), "data: \n\n");
        assert_eq!(comment("keep-alive"), ": keep-alive\n\n");
    }

    #[test]
    fn outlet_events_become_message_events_and_priming_has_none() {
        let message = Event {
            id: Some("2-5".into()),
            message: Some(Payload {
                json: r#"{"jsonrpc":"2.0","id":1,"result":{}}"#.into(),
                answers: true,
            }),
            retry: None,
        };
        assert_eq!(
            outlet_frame(&message),
            "id: 2-5\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
        );
        let priming = Event {
            id: Some("2-0".into()),
            message: None,
            retry: Some(Duration::from_millis(1500)),
        };
        assert_eq!(outlet_frame(&priming), "id: 2-0\nretry: 1500\ndata: \n\n");
    }
}
