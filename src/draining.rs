//! The flag that says the server is draining (shutting down): set once by `crate::shutdown`,
//! read by `/ready`, the transports (no new sessions), the sessions (no new requests) and, through
//! the dispatcher, long tools (stop between two steps); awaited by what must end itself when
//! draining starts (the stateless revision's `subscriptions/listen` streams) or when its wait
//! is over (the stateless revision's requests still running). A leaf: everything may read it.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use tokio::sync::Notify;

/// Whether the server is draining. Cheap to clone and to read.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    on: AtomicBool,
    started: Notify,
    /// Set when the drain's wait is over: what still runs is answered with an error.
    over: AtomicBool,
    ended: Notify,
}

impl Draining {
    pub fn is_on(&self) -> bool {
        self.0.on.load(Ordering::Relaxed)
    }

    /// Returns once draining has started (at once if it has).
    pub async fn started(&self) {
        loop {
            // Registered before the flag is read: a start in between still wakes it.
            let started = self.0.started.notified();
            if self.is_on() {
                return;
            }
            started.await;
        }
    }

    /// Returns once the drain's wait is over (at once if it is): requests still running
    /// then are answered with "shutting down" and cancelled.
    pub async fn ended(&self) {
        loop {
            let ended = self.0.ended.notified();
            if self.0.over.load(Ordering::Relaxed) {
                return;
            }
            ended.await;
        }
    }

    pub(crate) fn start(&self) {
        self.0.on.store(true, Ordering::Relaxed);
        self.0.started.notify_waiters();
    }

    pub(crate) fn end(&self) {
        self.start();
        self.0.over.store(true, Ordering::Relaxed);
        self.0.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_when_draining_starts() {
        let draining = Draining::default();
        let waiter = tokio::spawn({
            let draining = draining.clone();
            async move { draining.started().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        draining.start();
        waiter.await.unwrap();
        // Once started, at once.
        draining.started().await;
        let ending = tokio::spawn({
            let draining = draining.clone();
            async move { draining.ended().await }
        });
        tokio::task::yield_now().await;
        assert!(!ending.is_finished(), "started is not ended");
        draining.end();
        ending.await.unwrap();
    }
}
