//! Event ids and the replay buffer: what lets a client whose connection broke come back.
//!
//! An outlet of a resumable stream gives each event an id ([`event_id`]) and records it in its
//! session's [`Replay`]. A client's `GET` with `Last-Event-ID` gets what followed that id back
//! from it: the `Session` actor (`crate::actors::session`) parses the id ([`parse_event_id`])
//! and reads the buffer ([`Replay::after`]). The Streamable HTTP transport parses ids too, to
//! tell which stream an answer belongs to.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
};

use super::Event;

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

    pub(super) fn record(&self, stream: u64, seq: u64, event: Event) {
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

/// The id of event `seq` of `stream`: `<stream>-<sequence>`, unique within the session.
pub(super) fn event_id(stream: u64, seq: u64) -> String {
    format!("{stream}-{seq}")
}

/// Parses an event id `<stream>-<sequence>`, as `event_id` writes it.
pub fn parse_event_id(id: &str) -> Option<(u64, u64)> {
    let (stream, seq) = id.split_once('-')?;
    Some((stream.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlet::{
        Outlet,
        tests::{big, note},
    };

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
}
