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

use std::{
    collections::VecDeque,
    future::poll_fn,
    sync::{
        Arc, Mutex, MutexGuard,
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

/// The session's recent events on resumable streams, oldest first, bounded by count
/// (`mcp.replay_events`) and by bytes (`mcp.replay_bytes`): a client that makes the session
/// send large events (answers echoing long ids) must not make it hold `replay_events` of them
/// for the session's whole life.
#[derive(Debug, Clone)]
pub struct Replay(Arc<Mutex<ReplayBuffer>>);

#[derive(Debug)]
struct ReplayBuffer {
    events: VecDeque<(u64, u64, Event)>,
    /// The ids (stream, sequence) of the last `capacity` events pushed out (or never kept,
    /// being larger than `max_bytes`), so that a stream whose every later event is gone is not
    /// mistaken for one to which nothing followed.
    dropped: VecDeque<(u64, u64)>,
    capacity: usize,
    /// The bytes (`Event::bytes`) of `events`, at most `max_bytes`.
    bytes: usize,
    max_bytes: usize,
}

impl ReplayBuffer {
    fn note_dropped(&mut self, stream: u64, seq: u64) {
        if self.dropped.len() == self.capacity {
            self.dropped.pop_front();
        }
        self.dropped.push_back((stream, seq));
    }
}

impl Replay {
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Replay(Arc::new(Mutex::new(ReplayBuffer {
            events: VecDeque::new(),
            dropped: VecDeque::new(),
            capacity,
            bytes: 0,
            max_bytes,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, ReplayBuffer> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(&self, stream: u64, seq: u64, event: Event) {
        let mut buffer = self.lock();
        if buffer.capacity == 0 {
            return;
        }
        let size = event.bytes();
        if size > buffer.max_bytes {
            // Larger than the whole buffer: not kept, and a resume that needs it is refused.
            return buffer.note_dropped(stream, seq);
        }
        // Oldest first, until there is room by count and by bytes.
        while buffer.events.len() >= buffer.capacity || buffer.bytes + size > buffer.max_bytes {
            let Some((s, q, old)) = buffer.events.pop_front() else {
                break;
            };
            buffer.bytes -= old.bytes();
            buffer.note_dropped(s, q);
        }
        buffer.bytes += size;
        buffer.events.push_back((stream, seq, event));
    }

    /// Drops every event of `stream`: its client can never ask for them (its answer went out
    /// as JSON), and they would push other streams' events out of the buffer.
    pub fn forget(&self, stream: u64) {
        let buffer = &mut *self.lock();
        let bytes = &mut buffer.bytes;
        buffer.events.retain(|(s, _, event)| {
            let keep = *s != stream;
            if !keep {
                *bytes -= event.bytes();
            }
            keep
        });
    }

    /// The events of `stream` after `seq`, or `None` if events after `seq` were already
    /// dropped from the buffer (the client cannot get them all back).
    pub fn after(&self, stream: u64, seq: u64) -> Option<Vec<Event>> {
        let buffer = self.lock();
        let mut of_stream = buffer
            .events
            .iter()
            .filter(|(s, _, _)| *s == stream)
            .peekable();
        // The next event the client expects must still be here, unless nothing followed.
        // `seq` comes from the client's Last-Event-ID: `seq + 1` may not exist.
        if let Some((_, first, _)) = of_stream.peek()
            && seq.checked_add(1).is_some_and(|next| *first > next)
        {
            return None;
        }
        if buffer.dropped.iter().any(|(s, q)| *s == stream && *q > seq) {
            return None;
        }
        Some(
            of_stream
                .filter(|(_, n, _)| *n > seq)
                .map(|(_, _, event)| event.clone())
                .collect(),
        )
    }
}

/// Parses an event id `<stream>-<sequence>`.
pub fn parse_event_id(id: &str) -> Option<(u64, u64)> {
    let (stream, seq) = id.split_once('-')?;
    Some((stream.parse().ok()?, seq.parse().ok()?))
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
                    id: Some(format!("{}-{seq}", state.stream)),
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

    fn note(n: u64) -> Message {
        Message::Notification(Notification::new("n", Some(json!(n))))
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

    #[test]
    fn events_pushed_out_of_the_buffer_cannot_be_replayed() {
        let replay = Replay::new(2, 1 << 20);
        let outlet = Outlet::resumable(0, None, replay.clone());
        for n in 0..4 {
            outlet.send(note(n));
        }
        assert!(replay.after(0, 0).is_none(), "0-1 is gone");
        assert_eq!(replay.after(0, 2).unwrap().len(), 1);
        // Another stream pushes out all that is left of stream 0: resuming it after 2 must
        // fail, not replay nothing as if nothing had followed.
        let other = Outlet::resumable(1, None, replay.clone());
        other.send(note(8));
        other.send(note(9));
        assert!(replay.after(0, 2).is_none(), "0-3 is gone");
        assert_eq!(replay.after(0, 3).unwrap().len(), 0, "nothing followed 0-3");
        assert_eq!(replay.after(1, 0).unwrap().len(), 1);
    }

    /// A notification whose JSON is about `bytes` long.
    fn big(bytes: usize) -> Message {
        Message::Notification(Notification::new("n", Some(json!("x".repeat(bytes)))))
    }

    #[test]
    fn the_replay_buffer_is_bounded_by_bytes_and_refuses_what_it_dropped() {
        let replay = Replay::new(100, 10_000);
        let outlet = Outlet::resumable(0, None, replay.clone());
        for _ in 0..5 {
            outlet.send(big(3_000));
        }
        // Five of about 3 KB do not fit in 10 KB: the oldest went, by bytes, not by count.
        assert!(replay.lock().bytes <= 10_000);
        assert_eq!(replay.lock().events.len(), 3);
        assert!(replay.after(0, 0).is_none(), "0-1 is gone");
        assert_eq!(replay.after(0, 1).unwrap().len(), 3);
        // Another stream's large event pushes out what is left of stream 0: resuming it must
        // fail, not replay nothing as if nothing had followed.
        let other = Outlet::resumable(1, None, replay.clone());
        other.send(big(9_000));
        assert_eq!(replay.lock().events.len(), 1);
        assert!(replay.after(0, 1).is_none(), "0-2 to 0-4 are gone");
        assert_eq!(replay.after(1, 0).unwrap().len(), 0);
        // An event larger than the whole buffer is not kept, and not silently missed either.
        other.send(big(20_000));
        assert!(replay.after(1, 0).is_none(), "1-1 was never kept");
        assert_eq!(replay.after(1, 1).unwrap().len(), 0);
        // Forgetting a stream gives its bytes back.
        other.send(note(1));
        replay.forget(1);
        assert_eq!(replay.lock().bytes, 0);
        assert!(replay.lock().events.is_empty());
    }

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
