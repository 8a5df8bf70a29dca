//! [`Gated`]: an actor future that is polled only when something it waits for woke it.
//!
//! Actix polls every future spawned in an actor's context each time the context wakes, whatever
//! woke it. The gateway holds one such future per call, and with one token's calls going out
//! one at a time, most of them wait for a turn: each answer (each wake) then polled every
//! waiting call down to its channels, O(queue) per wake. A call wrapped in [`Gated`] lends its
//! own waker to what it waits for and, when polled without having been woken, returns at once.

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use actix::{Actor, fut::ActorFuture};

/// Wraps `inner`: see the module's documentation.
pub(super) struct Gated<F> {
    inner: F,
    signal: Arc<Signal>,
    waker: Waker,
    /// The context's waker as last given to `signal`: compared without taking its lock.
    parent: Option<Waker>,
}

/// What the inner future's wakers share with the gate.
#[derive(Default)]
struct Signal {
    /// Set by a wake; taken by the poll that follows.
    woken: AtomicBool,
    /// The context's waker, woken in turn.
    parent: Mutex<Option<Waker>>,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let parent = self
            .parent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

impl<F> Gated<F> {
    pub(super) fn new(inner: F) -> Self {
        let signal = Arc::new(Signal {
            // The first poll goes through.
            woken: AtomicBool::new(true),
            parent: Mutex::new(None),
        });
        let waker = Waker::from(signal.clone());
        Gated {
            inner,
            signal,
            waker,
            parent: None,
        }
    }
}

impl<A: Actor, F: ActorFuture<A> + Unpin> ActorFuture<A> for Gated<F> {
    type Output = F::Output;

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut A::Context,
        task: &mut Context<'_>,
    ) -> Poll<F::Output> {
        let this = self.get_mut();
        // Registered before the flag is looked at: a wake in between is seen now, or wakes
        // the context again. (The context's waker hardly ever changes: the usual poll is a
        // pointer comparison and one atomic load.)
        if !this
            .parent
            .as_ref()
            .is_some_and(|p| p.will_wake(task.waker()))
        {
            let waker = task.waker().clone();
            *this.signal.parent.lock().unwrap_or_else(|e| e.into_inner()) = Some(waker.clone());
            this.parent = Some(waker);
        }
        if !this.signal.woken.load(Ordering::Acquire)
            || !this.signal.woken.swap(false, Ordering::AcqRel)
        {
            return Poll::Pending;
        }
        let mut own = Context::from_waker(&this.waker);
        Pin::new(&mut this.inner).poll(act, ctx, &mut own)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix::{fut, prelude::*};
    use tokio::sync::oneshot;

    use super::Gated;

    struct Waits;

    impl Actor for Waits {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "u32")]
    struct Wait(oneshot::Receiver<u32>);

    impl Handler<Wait> for Waits {
        type Result = ResponseActFuture<Self, u32>;

        fn handle(&mut self, Wait(rx): Wait, _ctx: &mut Self::Context) -> Self::Result {
            let inner = Box::pin(fut::wrap_future(async move { rx.await.unwrap_or(0) }));
            Box::pin(Gated::new(inner))
        }
    }

    #[actix::test]
    async fn a_gated_future_is_woken_by_what_it_waits_for_among_others() {
        let addr = Waits.start();
        let (txs, waits): (Vec<_>, Vec<_>) = (0..20)
            .map(|_| {
                let (tx, rx) = oneshot::channel();
                (tx, addr.send(Wait(rx)))
            })
            .unzip();
        // Answered from another thread, in reverse, while the others keep waiting.
        std::thread::spawn(move || {
            for (n, tx) in txs.into_iter().enumerate().rev() {
                std::thread::sleep(Duration::from_millis(1));
                let _ = tx.send(n as u32 + 1);
            }
        });
        for (n, wait) in waits.into_iter().enumerate() {
            let got = tokio::time::timeout(Duration::from_secs(5), wait)
                .await
                .expect("no wake lost")
                .unwrap();
            assert_eq!(got, n as u32 + 1);
        }
    }
}
