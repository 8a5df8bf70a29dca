//! Each worker thread's memory of the registry's answers: session id → session address.
//!
//! The registry is an actor on another thread, so asking it where a session is costs every
//! POSTed message a round trip of two cross-thread wake-ups; a session's messages all ask the
//! same question. The registry stays the authority: an entry is only ever the registry's own
//! earlier answer for that session and principal. It holds a `WeakAddr`, which upgrades only
//! while the session's mailbox is open: a session closes it when it stops, in the same turn
//! in which it unregisters. An ended session's entry is dropped and the registry is asked
//! again, and says it is gone. A weak address also keeps nothing alive.
//!
//! One `Routes` per worker, made in the app factory: no locks, and nothing crosses threads.

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
};

use actix::{Actor, Addr, WeakAddr};

use crate::{
    actors::{SessionId, session::Session},
    auth::Owner,
};

/// Below this many entries, ended sessions' entries are not swept.
const SWEEP_FLOOR: usize = 64;

/// Generic over the actor only so that its tests can use a stand-in for `Session`.
#[derive(Debug)]
pub struct Routes<A: Actor = Session> {
    known: RefCell<HashMap<SessionId, Route<A>>>,
    /// Sweep ended sessions out when the map reaches this size: twice what the last sweep
    /// left, so sweeping costs O(1) per insertion however many sessions come and go.
    sweep_at: Cell<usize>,
}

impl<A: Actor> Default for Routes<A> {
    fn default() -> Self {
        Routes {
            known: RefCell::default(),
            sweep_at: Cell::default(),
        }
    }
}

#[derive(Debug)]
struct Route<A: Actor> {
    owner: Owner,
    addr: WeakAddr<A>,
}

impl<A: Actor> Routes<A> {
    /// The session's address, if the registry gave it for this owner and it is live.
    pub fn get(&self, id: &SessionId, owner: &Owner) -> Option<Addr<A>> {
        let mut known = self.known.borrow_mut();
        let route = known.get(id)?;
        if route.owner != *owner {
            // Not this caller's session: the registry decides (and will not reveal it).
            return None;
        }
        match route.addr.upgrade() {
            Some(addr) => Some(addr),
            None => {
                known.remove(id);
                None
            }
        }
    }

    /// Keeps the registry's answer `addr` for session `id` owned by `owner`.
    pub fn remember(&self, id: SessionId, owner: &Owner, addr: &Addr<A>) {
        let mut known = self.known.borrow_mut();
        if known.len() >= self.sweep_at.get().max(SWEEP_FLOOR) {
            known.retain(|_, route| route.addr.upgrade().is_some());
            self.sweep_at.set(known.len() * 2);
            if known.capacity() > 4 * known.len().max(SWEEP_FLOOR) {
                // After a burst of sessions: give the memory back.
                known.shrink_to_fit();
            }
        }
        known.insert(
            id,
            Route {
                owner: owner.clone(),
                addr: addr.downgrade(),
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.known.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use actix::prelude::*;

    use super::*;

    fn owner(principal: &str) -> Owner {
        Owner::new(principal.into(), None)
    }

    /// Stands in for a session: lives until told to stop.
    struct Stub;

    impl Actor for Stub {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Stop;

    impl Handler<Stop> for Stub {
        type Result = ();

        fn handle(&mut self, _msg: Stop, ctx: &mut Context<Self>) {
            ctx.stop();
        }
    }

    /// Lets the runtime run until `done` holds (an actor's mailbox closes when its context is
    /// dropped, a turn or two after it stopped); fails rather than hangs if it never does.
    async fn until(what: &str, done: impl Fn() -> bool) {
        for _ in 0..1_000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("never happened: {what}");
    }

    async fn stop(addr: Addr<Stub>) {
        addr.send(Stop).await.unwrap();
        until("the stopped actor's mailbox closes", || !addr.connected()).await;
    }

    #[actix::test]
    async fn answers_only_the_owner_and_only_while_the_session_lives() {
        let routes = Routes::<Stub>::default();
        let (id, addr) = (SessionId::new(), Stub.start());
        assert!(
            routes.get(&id, &owner("alice")).is_none(),
            "nothing known yet"
        );
        routes.remember(id, &owner("alice"), &addr);
        assert!(routes.get(&id, &owner("alice")).is_some());
        assert!(
            routes.get(&id, &owner("mallory")).is_none(),
            "not the owner"
        );
        assert!(routes.get(&SessionId::new(), &owner("alice")).is_none());

        stop(addr).await;
        assert!(
            routes.get(&id, &owner("alice")).is_none(),
            "the session has ended"
        );
        assert_eq!(routes.len(), 0, "and its entry is gone");
    }

    #[actix::test]
    async fn a_route_does_not_keep_its_session_alive() {
        let routes = Routes::<Stub>::default();
        let id = SessionId::new();
        let addr = Stub.start();
        routes.remember(id, &owner("alice"), &addr);
        // The registry's address (here the only one) goes: the actor stops on its own.
        let weak = addr.downgrade();
        drop(addr);
        until("the actor stops once its address is gone", || {
            weak.upgrade().is_none()
        })
        .await;
        assert!(routes.get(&id, &owner("alice")).is_none());
    }

    #[actix::test]
    async fn ended_sessions_are_swept_as_new_ones_come() {
        let routes = Routes::<Stub>::default();
        let live: Vec<_> = (0..10).map(|_| (SessionId::new(), Stub.start())).collect();
        for (id, addr) in &live {
            routes.remember(*id, &owner("alice"), addr);
        }
        for _ in 0..1_000 {
            let addr = Stub.start();
            routes.remember(SessionId::new(), &owner("bob"), &addr);
            stop(addr).await;
        }
        // Never more than twice what the last sweep kept, or the floor.
        assert!(
            routes.len() <= SWEEP_FLOOR.max(2 * live.len()) + 1,
            "{}",
            routes.len()
        );
        for (id, _) in &live {
            assert!(
                routes.get(id, &owner("alice")).is_some(),
                "live sessions are kept"
            );
        }
    }
}
