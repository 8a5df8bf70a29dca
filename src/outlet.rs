//! Outlets: where a session's messages leave it, one per stream.
//!
//! An outlet numbers the events of its stream and, when the stream is resumable (Streamable
//! HTTP), keeps them in the session's bounded replay buffer, so that a client whose connection
//! broke can come back with `GET` and `Last-Event-ID` and get what it missed. Event ids are
//! `<stream>-<sequence>`: unique within the session and saying which stream they belong to
//! (stream 0 is the session's GET stream; each request answered over SSE gets its own). The
//! connection behind an outlet can come and go; the outlet, its numbering and its buffered
//! events stay with the session.
//!
//! Outlets are shared (`Arc`) between the session and the handlers of its requests, whose
//! progress and log notifications go through them too.
//!
//! This file is the outlet itself: it numbers, records and sends. Below it, `channel.rs` holds
//! the [`Event`] it sends and the byte-bounded [`channel()`] that carries events to a
//! connection (made by the transports in `crate::http`); `replay.rs` holds the event ids and the
//! session's [`Replay`] buffer that resuming clients read back from.

mod channel;
mod replay;

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::sync::mpsc;

pub use channel::{Event, EventReceiver, EventSender, Payload, channel};
pub use replay::{Replay, parse_event_id};

use crate::mcp::jsonrpc::Message;

/// What became of a message sent to an outlet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// The connection's queue is full, by count or by bytes: its client stopped reading.
    Full,
    /// The connection is gone (the event is still in the replay buffer, if resumable).
    Closed,
    /// No connection attached (the event is still in the replay buffer, if resumable).
    Detached,
}

/// One stream of a session.
#[derive(Debug, Clone)]
pub struct Outlet(Arc<Mutex<OutletState>>);

#[derive(Debug)]
struct OutletState {
    stream: u64,
    seq: u64,
    /// Whether the priming event went out: the client has an id and a `retry` (2025-11-25).
    primed: bool,
    sender: Option<EventSender>,
    replay: Option<Replay>,
}

impl Outlet {
    /// An outlet without ids or replay (the legacy transport, JSON answers).
    pub fn plain(sender: EventSender) -> Self {
        Self::with(0, Some(sender), None)
    }

    /// A resumable outlet for `stream`, recording into `replay`.
    pub fn resumable(stream: u64, sender: Option<EventSender>, replay: Replay) -> Self {
        Self::with(stream, sender, Some(replay))
    }

    fn with(stream: u64, sender: Option<EventSender>, replay: Option<Replay>) -> Self {
        Outlet(Arc::new(Mutex::new(OutletState {
            stream,
            seq: 0,
            primed: false,
            sender,
            replay,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, OutletState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn stream(&self) -> u64 {
        self.lock().stream
    }

    /// Sends a message (numbered and recorded, if resumable).
    pub fn send(&self, message: Message) -> Delivery {
        self.emit(Some(message), None, true)
    }

    /// Sends a request's answer on its own stream: bounded by count only (that channel has
    /// room for every answer it is owed, and a batch's quick answers arrive all at once,
    /// before the client could read any; refused for its bytes, an answer would be lost).
    pub fn answer(&self, message: Message) -> Delivery {
        self.emit(Some(message), None, false)
    }

    /// The priming event: an id and no message, with the reconnection delay.
    pub fn prime(&self, retry: Duration) -> Delivery {
        self.emit(None, Some(retry), true)
    }

    fn emit(&self, message: Option<Message>, retry: Option<Duration>, by_bytes: bool) -> Delivery {
        let message = message.as_ref().map(Payload::of);
        let mut state = self.lock();
        let id = match state.replay.clone() {
            Some(replay) => {
                let seq = state.seq;
                state.seq += 1;
                // Only the priming event carries a `retry`.
                state.primed |= retry.is_some();
                let event = Event {
                    id: Some(replay::event_id(state.stream, seq)),
                    message: message.clone(),
                    retry,
                };
                replay.record(state.stream, seq, event.clone());
                event.id
            }
            None => None,
        };
        let Some(sender) = &state.sender else {
            return Delivery::Detached;
        };
        let event = Box::new(Event { id, message, retry });
        let sent = if by_bytes {
            sender.try_send(event)
        } else {
            sender.push(event)
        };
        match sent {
            Ok(()) => Delivery::Sent,
            Err(mpsc::error::TrySendError::Full(_)) => Delivery::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                state.sender = None;
                Delivery::Closed
            }
        }
    }

    /// Whether a live connection is attached.
    pub fn is_attached(&self) -> bool {
        self.lock().sender.as_ref().is_some_and(|s| !s.is_closed())
    }

    /// Attaches a new connection, first sending it `backlog` (replayed events).
    pub fn attach(&self, sender: EventSender, backlog: Vec<Event>) {
        for event in backlog {
            let _ = sender.push(Box::new(event));
        }
        self.lock().sender = Some(sender);
    }

    /// Drops the connection, ending its stream.
    pub fn detach(&self) {
        self.lock().sender = None;
    }

    /// Drops the connection of a stream the client can resume: a primed one (2025-11-25
    /// polling, SEP-1699: the client has an id and was told when to come back; earlier
    /// versions expect the stream to stay open until its answer). What follows waits in the
    /// replay buffer for the client's GET with `Last-Event-ID` (bounded: a client that comes
    /// back after `mcp.replay_events` newer events, or `mcp.replay_bytes` of them, finds it
    /// gone, and gets a 400). False, and nothing dropped, on any other stream.
    pub fn close_resumable(&self) -> bool {
        let mut state = self.lock();
        let resumable = state.replay.is_some() && state.primed;
        if resumable {
            state.sender = None;
        }
        resumable
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mcp::jsonrpc::Notification;

    // `note` and `big` are shared with the tests of `channel` and `replay`.

    pub(super) fn note(n: u64) -> Message {
        Message::Notification(Notification::new("n", Some(json!(n))))
    }

    /// A notification whose JSON is about `bytes` long.
    pub(super) fn big(bytes: usize) -> Message {
        Message::Notification(Notification::new("n", Some(json!("x".repeat(bytes)))))
    }

    #[tokio::test]
    async fn a_resumed_stream_gets_what_it_missed_and_nothing_else() {
        let replay = Replay::new(10, 1 << 20);
        let (tx, mut rx) = channel(10, 1 << 20);
        let outlet = Outlet::resumable(3, Some(tx), replay.clone());
        let other = Outlet::resumable(4, None, replay.clone());
        assert_eq!(outlet.prime(Duration::from_secs(1)), Delivery::Sent);
        assert_eq!(outlet.send(note(1)), Delivery::Sent);
        assert_eq!(rx.recv().await.unwrap().id.as_deref(), Some("3-0"));
        drop(rx);
        assert_eq!(outlet.send(note(2)), Delivery::Closed);
        assert_eq!(outlet.send(note(3)), Delivery::Detached);
        other.send(note(99));

        let missed = replay.after(3, 1).unwrap();
        let ids: Vec<_> = missed.iter().map(|e| e.id.clone().unwrap()).collect();
        assert_eq!(ids, ["3-2", "3-3"]);
        assert_eq!(parse_event_id("3-1"), Some((3, 1)));
        assert_eq!(parse_event_id("x"), None);
        // A client's claim to have seen the last possible event: nothing follows it.
        assert_eq!(replay.after(3, u64::MAX).unwrap().len(), 0);
    }

    #[tokio::test]
    async fn only_a_stream_the_client_can_resume_is_closed_early() {
        let (tx, mut rx) = channel(10, 1 << 20);
        let plain = Outlet::plain(tx);
        assert!(
            !plain.close_resumable(),
            "no ids: the client could not come back"
        );
        assert_eq!(plain.send(note(1)), Delivery::Sent);
        assert!(rx.recv().await.is_some());

        let replay = Replay::new(10, 1 << 20);
        let (tx, mut rx) = channel(10, 1 << 20);
        let outlet = Outlet::resumable(5, Some(tx), replay.clone());
        assert!(!outlet.close_resumable(), "no id sent yet");
        // An id without the priming event (a 2025-06-18 stream): its client expects the
        // stream to stay open until the answer.
        let (unprimed_tx, _unprimed_rx) = channel(10, 1 << 20);
        let unprimed = Outlet::resumable(6, Some(unprimed_tx), replay.clone());
        unprimed.send(note(1));
        unprimed.send(note(2));
        assert!(!unprimed.close_resumable());
        assert!(unprimed.is_attached());
        assert_eq!(replay.after(6, 0).unwrap().len(), 1);
        replay.forget(6);
        assert!(replay.after(6, 0).unwrap().is_empty(), "forgotten");
        outlet.prime(Duration::from_secs(1));
        assert!(outlet.close_resumable());
        // The priming event still reaches the client, then the stream ends; what follows
        // waits for the client's GET.
        assert_eq!(rx.recv().await.unwrap().id.as_deref(), Some("5-0"));
        assert!(rx.recv().await.is_none());
        assert_eq!(outlet.send(note(2)), Delivery::Detached);
        assert_eq!(replay.after(5, 0).unwrap().len(), 1);
    }
}
