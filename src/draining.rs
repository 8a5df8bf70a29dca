//! The flag that says the server is draining (shutting down): set once by `crate::shutdown`,
//! read by `/ready`, the transports (no new sessions), the sessions (no new requests) and, through
//! the dispatcher, long tools (stop between two steps); awaited by what must end itself when
//! draining starts (the stateless revision's `subscriptions/listen` streams). A leaf:
//! everything may read it.

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

    pub(crate) fn start(&self) {
        self.0.on.store(true, Ordering::Relaxed);
        self.0.started.notify_waiters();
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
    }
}
