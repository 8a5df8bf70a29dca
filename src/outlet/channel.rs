//! What an outlet sends, and the channel that carries it to a connection.
//!
//! An [`Event`] holds its message as JSON text ([`Payload`]), serialized once. A [`channel`]
//! takes events from a session's outlets to the HTTP response of one stream (the transports in
//! `crate::http` make it and frame what comes out as SSE), bounded by count and by bytes.

use std::{
    future::poll_fn,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::sync::mpsc;

use crate::mcp::jsonrpc::Message;

/// One SSE event: an id on resumable streams, a message (none for the priming event that
/// gives the client an id to resume from), and the reconnection delay to announce.
///
/// The message is kept as the compact JSON text that goes on the wire, serialized once when it
/// is sent: the replay buffer of a resumable stream holds the last `mcp.replay_events` events
/// of each session, and as text a list result is a few KB and shared by reference (`Arc`),
/// where as a `serde_json::Value` tree it was several times that and costly to free.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Option<String>,
    pub message: Option<Payload>,
    pub retry: Option<Duration>,
}

impl Event {
    /// What the event holds in memory beyond its fixed size: its id and its JSON text.
    pub fn bytes(&self) -> usize {
        self.id.as_ref().map_or(0, String::len) + self.message.as_ref().map_or(0, |m| m.json.len())
    }
}

/// A message as compact JSON (no raw newlines, so it fits one SSE `data:` line).
#[derive(Debug, Clone)]
pub struct Payload {
    pub json: Arc<str>,
    /// A response or an error: the answer to a request.
    pub answers: bool,
}

impl Payload {
    pub fn of(message: &Message) -> Payload {
        Payload {
            // Our messages hold only string-keyed maps and finite numbers: serializing them
            // cannot fail.
            json: serde_json::to_string(message)
                .expect("a JSON-RPC message serializes")
                .into(),
            answers: matches!(message, Message::Response(_) | Message::Error(_)),
        }
    }
}

/// A channel that carries events to a stream's HTTP response, bounded by count (`capacity`)
/// and by the bytes of the events waiting in it (`budget`): a client that stops reading while
/// the session sends it large messages (answers echoing the ids it chose, say) must not hold
/// `capacity` times the largest message. Events are boxed: a channel allocates room for 32
/// items when it is made, and every idle SSE session holds one. The byte count is one shared
/// counter per channel.
pub fn channel(capacity: usize, budget: usize) -> (EventSender, EventReceiver) {
    let (sender, receiver) = mpsc::channel(capacity);
    let queued = Arc::new(Queued {
        bytes: AtomicUsize::new(0),
        budget,
    });
    (
        EventSender {
            sender,
            queued: queued.clone(),
        },
        EventReceiver { receiver, queued },
    )
}

#[derive(Debug)]
struct Queued {
    /// The bytes (`Event::bytes`) of the events sent and not yet taken by the receiver.
    bytes: AtomicUsize,
    budget: usize,
}

/// The sending half of a [`channel`].
#[derive(Debug, Clone)]
pub struct EventSender {
    sender: mpsc::Sender<Box<Event>>,
    queued: Arc<Queued>,
}

impl EventSender {
    /// Queues an event, unless the queue is full by count or the event would take the bytes
    /// waiting past the budget. An empty queue always takes one event, however large: a big
    /// answer to a client that reads is not refused, and the bound is the budget plus one
    /// message. (Two senders racing may overshoot the budget by one message each.)
    pub fn try_send(&self, event: Box<Event>) -> Result<(), mpsc::error::TrySendError<Box<Event>>> {
        let queued = self.queued.bytes.load(Ordering::Relaxed);
        if queued > 0 && queued.saturating_add(event.bytes()) > self.queued.budget {
            return Err(mpsc::error::TrySendError::Full(event));
        }
        self.push(event)
    }

    /// Queues an event bounded by count only: what must not be refused for its size (a
    /// replayed backlog, itself bounded by `mcp.replay_bytes`; a POST's own answers, one per
    /// request). Its bytes are counted all the same.
    pub fn push(&self, event: Box<Event>) -> Result<(), mpsc::error::TrySendError<Box<Event>>> {
        let size = event.bytes();
        self.queued.bytes.fetch_add(size, Ordering::Relaxed);
        self.sender.try_send(event).inspect_err(|_| {
            self.queued.bytes.fetch_sub(size, Ordering::Relaxed);
        })
    }

    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Completes when the receiver is dropped.
    pub async fn closed(&self) {
        self.sender.closed().await
    }
}

/// The receiving half of a [`channel`]: taking an event gives its bytes back to the budget.
#[derive(Debug)]
pub struct EventReceiver {
    receiver: mpsc::Receiver<Box<Event>>,
    queued: Arc<Queued>,
}

impl EventReceiver {
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Box<Event>>> {
        let polled = self.receiver.poll_recv(cx);
        if let Poll::Ready(Some(event)) = &polled {
            self.queued
                .bytes
                .fetch_sub(event.bytes(), Ordering::Relaxed);
        }
        polled
    }

    pub async fn recv(&mut self) -> Option<Box<Event>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlet::{
        Delivery, Outlet, Replay,
        tests::{big, note},
    };

    #[tokio::test]
    async fn a_queue_over_its_byte_budget_is_full_until_the_stream_takes_its_events() {
        let (tx, mut rx) = channel(100, 10_000);
        let outlet = Outlet::plain(tx);
        // An empty queue takes one message however large, so a big answer is never refused.
        assert_eq!(outlet.send(big(50_000)), Delivery::Sent);
        assert_eq!(outlet.send(note(1)), Delivery::Full, "over the budget");
        rx.recv().await.unwrap();
        assert_eq!(outlet.send(big(4_000)), Delivery::Sent);
        assert_eq!(outlet.send(big(4_000)), Delivery::Sent);
        assert_eq!(outlet.send(big(4_000)), Delivery::Full, "12 KB > 10 KB");
        // A request's answer is bounded by count only: it would be lost otherwise.
        assert_eq!(outlet.answer(big(4_000)), Delivery::Sent);
        for _ in 0..3 {
            rx.recv().await.unwrap();
        }
        assert_eq!(rx.queued.bytes.load(Ordering::Relaxed), 0, "all given back");
        assert_eq!(outlet.send(big(4_000)), Delivery::Sent);
        // A backlog replayed on attach is counted, not refused.
        let replay = Replay::new(10, 1 << 20);
        let stream = Outlet::resumable(0, None, replay.clone());
        for _ in 0..5 {
            stream.send(big(4_000));
        }
        let (tx, mut rx) = channel(100, 10_000);
        stream.attach(tx, replay.after(0, 0).unwrap());
        for n in 1..5 {
            assert_eq!(rx.recv().await.unwrap().id, Some(format!("0-{n}")));
        }
    }
}
