//! Whose call goes out next on one token: the gateway's per-token queue, fair between the
//! principals that share the token.
//!
//! At most `max_in_flight` calls of a token are on their way to GitHub at once (GitHub asks
//! for one). The others wait in one queue per principal, and the queues take turns
//! (round-robin): a principal with hundreds of calls waiting delays another principal's next
//! call by about one call per principal with calls waiting, not by all of its own. A principal
//! has at most `max_queued` calls waiting; beyond, [`Turns::enter`] refuses at once.
//!
//! Only the gateway actor uses this, between awaits, so it needs no lock. A call that gets no
//! turn at once waits on a oneshot receiver; [`Turns::leave`] hands the turn straight to the
//! next waiter, so a call that arrives meanwhile cannot overtake the queue.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

use tokio::sync::oneshot;

/// Who a call is for: a principal id, or `None` for calls made for no one in particular
/// (authentication's own lookups), which take turns as one more principal.
pub type Principal = Option<Arc<str>>;

/// The turns of one token.
#[derive(Debug)]
pub struct Turns {
    /// Calls holding a turn: sending, or waiting for their admission delay.
    in_flight: usize,
    max_in_flight: usize,
    max_queued: usize,
    /// Calls waiting for a turn, per principal, oldest first. No empty queues are kept.
    waiting: HashMap<Principal, VecDeque<oneshot::Sender<()>>>,
    /// The principals with calls waiting, in the order they get their next turn.
    order: VecDeque<Principal>,
}

/// A principal's queue is full: this many of its calls wait already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full(pub usize);

impl Turns {
    pub fn new(max_in_flight: usize, max_queued: usize) -> Self {
        Turns {
            in_flight: 0,
            max_in_flight,
            max_queued,
            waiting: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Asks for a turn for `principal`: `None` when the call may go at once (it holds a turn
    /// now), or the receiver that fires when its turn comes. Every turn taken is given back
    /// with [`Turns::leave`].
    pub fn enter(&mut self, principal: &Principal) -> Result<Option<oneshot::Receiver<()>>, Full> {
        if self.in_flight < self.max_in_flight && self.order.is_empty() {
            self.in_flight += 1;
            return Ok(None);
        }
        // Looked up by reference, so that the usual case allocates no key.
        if let Some(queue) = self.waiting.get_mut(principal) {
            if queue.len() >= self.max_queued {
                return Err(Full(queue.len()));
            }
            let (tx, rx) = oneshot::channel();
            queue.push_back(tx);
            return Ok(Some(rx));
        }
        if self.max_queued == 0 {
            return Err(Full(0));
        }
        let (tx, rx) = oneshot::channel();
        self.waiting.insert(principal.clone(), VecDeque::from([tx]));
        self.order.push_back(principal.clone());
        Ok(Some(rx))
    }

    /// Gives a turn back: it goes to the oldest call of the next principal in order, or is
    /// freed when no call waits.
    pub fn leave(&mut self) {
        while let Some(principal) = self.order.pop_front() {
            let Some(queue) = self.waiting.get_mut(&principal) else {
                continue;
            };
            let next = queue.pop_front();
            if queue.is_empty() {
                self.waiting.remove(&principal);
            } else {
                self.order.push_back(principal);
            }
            // A waiter whose receiver is gone (its gateway future was dropped) takes no turn.
            if next.is_some_and(|waiter| waiter.send(()).is_ok()) {
                return;
            }
        }
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Calls waiting for a turn (some may have gone since, and will be skipped).
    pub fn waiting(&self) -> usize {
        self.waiting.values().map(VecDeque::len).sum()
    }

    /// Whether any call holds or waits for a turn (the token's state must then be kept).
    pub fn busy(&self) -> bool {
        self.in_flight > 0 || !self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str) -> Principal {
        Some(name.into())
    }

    /// The principals whose waiting calls got the turn, in order, as turns are given back one
    /// by one.
    fn served(
        turns: &mut Turns,
        mut waiting: Vec<(&'static str, oneshot::Receiver<()>)>,
    ) -> Vec<&'static str> {
        let mut order = Vec::new();
        while !waiting.is_empty() {
            turns.leave();
            let at = waiting
                .iter_mut()
                .position(|(_, rx)| rx.try_recv().is_ok())
                .expect("a waiting call got the turn");
            order.push(waiting.remove(at).0);
        }
        order
    }

    #[test]
    fn principals_take_turns_whatever_they_queued() {
        let mut turns = Turns::new(1, 100);
        assert!(
            turns.enter(&who("a")).unwrap().is_none(),
            "the first goes at once"
        );
        let mut waiting = Vec::new();
        for _ in 0..5 {
            waiting.push(("a", turns.enter(&who("a")).unwrap().unwrap()));
        }
        waiting.push(("b", turns.enter(&who("b")).unwrap().unwrap()));
        waiting.push(("none", turns.enter(&None).unwrap().unwrap()));
        waiting.push(("b", turns.enter(&who("b")).unwrap().unwrap()));
        assert_eq!(
            served(&mut turns, waiting),
            ["a", "b", "none", "a", "b", "a", "a", "a"]
        );
        assert!(turns.busy(), "the last call still holds its turn");
        turns.leave();
        assert!(!turns.busy());
        assert!(turns.enter(&who("b")).unwrap().is_none());
    }

    #[test]
    fn a_principals_queue_is_bounded_and_others_still_queue() {
        let mut turns = Turns::new(1, 2);
        assert!(turns.enter(&who("a")).unwrap().is_none());
        let _first = turns.enter(&who("a")).unwrap().unwrap();
        let _second = turns.enter(&who("a")).unwrap().unwrap();
        assert_eq!(turns.enter(&who("a")).unwrap_err(), Full(2));
        assert!(turns.enter(&who("b")).unwrap().is_some());
    }

    #[test]
    fn a_turn_skips_waiters_that_are_gone_and_is_freed_when_none_wait() {
        let mut turns = Turns::new(2, 10);
        assert!(turns.enter(&who("a")).unwrap().is_none());
        assert!(
            turns.enter(&who("a")).unwrap().is_none(),
            "two may go at once"
        );
        let gone = turns.enter(&who("a")).unwrap().unwrap();
        let mut kept = turns.enter(&who("b")).unwrap().unwrap();
        drop(gone);
        turns.leave();
        assert!(
            kept.try_recv().is_ok(),
            "b got the turn a's dropped call left"
        );
        turns.leave();
        turns.leave();
        assert!(!turns.busy());
    }
}
