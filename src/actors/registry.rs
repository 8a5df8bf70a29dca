//! `SessionRegistry`: the map from session id to session address.
//!
//! Sessions register themselves when they start and unregister when they stop; the HTTP layer
//! looks sessions up to route POSTed messages, and `/health` asks for the live count. One line
//! is logged per session opened or closed, with the live count.
//!
//! The session limits hold exactly, however many sessions open at once: `Admit` does not only
//! check them, it reserves a slot (a [`Reservation`]) that counts against them at once. The
//! new session hands the reservation back in `Register`, which turns it into the session; an
//! open that fails before that drops the reservation, whose `Drop` gives the slot back.

use std::collections::{BTreeMap, HashMap, HashSet};

use actix::prelude::*;

use crate::{
    auth::Owner,
    cluster::{Cluster, sessions::Full},
};

use super::{
    SessionId,
    session::{InFlight, Session, Shutdown},
};

/// Session → registry: this session is live, takes messages at `addr`, and belongs to `owner`
/// (a principal id, with its token's key in github-token mode; never a secret). It takes the place of `reservation`, the slot that
/// `Admit` gave for it (whose id is the session's).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Register {
    pub reservation: Reservation,
    pub addr: Addr<Session>,
    pub owner: Owner,
    /// "sse" or "streamable-http", for the metrics.
    pub transport: &'static str,
}

/// Session → registry: this session has stopped.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unregister {
    pub id: SessionId,
}

/// HTTP layer → registry: where is this session, if it is live and belongs to `owner`?
/// Someone else's session is not found: its existence is not revealed.
#[derive(Debug, Message)]
#[rtype(result = "Option<Addr<Session>>")]
pub struct Lookup {
    pub id: SessionId,
    pub owner: Owner,
}

/// HTTP layer → registry: may `principal` open another session? If so, a slot is held for it
/// until the session registers or the reservation is dropped, so that sessions opened at the
/// same instant cannot all pass the limits before any of them counts.
#[derive(Debug, Message)]
#[rtype(result = "Result<Reservation, SessionLimit>")]
pub struct Admit {
    pub principal: String,
}

/// A session slot held between `Admit` and `Register`, under the session id it carries.
/// Dropped without being registered (the open failed or was abandoned), it releases the slot.
#[derive(Debug)]
pub struct Reservation {
    id: SessionId,
    /// Told of the release on drop; `None` once `Register` has taken the slot.
    registry: Option<Addr<SessionRegistry>>,
}

impl Reservation {
    /// The id of the session this slot is for.
    pub fn id(&self) -> SessionId {
        self.id
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.take() {
            // `do_send`, not `send`: a drop cannot wait, and a full mailbox must not lose the
            // release (`do_send` ignores the mailbox's capacity).
            registry.do_send(Release { id: self.id });
        }
    }
}

/// Reservation → registry (on drop): the open this slot was held for did not happen.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct Release {
    id: SessionId,
}

/// Which session limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLimit {
    Server(usize),
    Principal(usize),
}

/// Shutdown → registry: how many requests are running, across all sessions?
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct TotalInFlight;

/// Shutdown → registry: answer what is still running with an error and end every session.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ShutdownAll;

/// Metrics → registry: live sessions by transport.
#[derive(Debug, Message)]
#[rtype(result = "BTreeMap<&'static str, usize>")]
pub struct CountByTransport;

/// HTTP layer → registry: how many sessions are live?
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct CountSessions;

/// The live sessions of this server.
#[derive(Debug)]
pub struct SessionRegistry {
    sessions: HashMap<SessionId, (Addr<Session>, Owner)>,
    /// Slots admitted but not yet registered, with their principal; they count against the
    /// limits like live sessions.
    reserved: HashMap<SessionId, String>,
    /// Of those, the ones the cluster is being asked about: not published yet, since the
    /// cluster's admission counts them itself (published first, one would count twice and
    /// could be refused for taking its own place).
    asking: HashSet<SessionId>,
    transports: HashMap<SessionId, &'static str>,
    max_sessions: usize,
    max_per_principal: usize,
    /// The other replicas, if any: this one's session ids name it, and the limits count
    /// theirs too.
    cluster: Cluster,
}

impl SessionRegistry {
    pub fn new(max_sessions: usize, max_per_principal: usize) -> Self {
        SessionRegistry {
            sessions: HashMap::new(),
            reserved: HashMap::new(),
            asking: HashSet::new(),
            transports: HashMap::new(),
            max_sessions,
            max_per_principal,
            cluster: Cluster::single(),
        }
    }

    /// The registry of a replica of `cluster`.
    pub fn in_cluster(self, cluster: Cluster) -> Self {
        SessionRegistry { cluster, ..self }
    }

    /// Tells the other replicas how many sessions this one holds (slots reserved included).
    fn publish_counts(&self) {
        let mut by_principal: HashMap<&str, usize> = HashMap::new();
        let principals = self
            .sessions
            .values()
            .map(|(_, owner)| owner.principal.as_str());
        let admitted = self
            .reserved
            .iter()
            .filter(|(id, _)| !self.asking.contains(id))
            .map(|(_, principal)| principal.as_str());
        let mut total = 0;
        for principal in principals.chain(admitted) {
            *by_principal.entry(principal).or_default() += 1;
            total += 1;
        }
        self.cluster.publish_sessions(total, by_principal);
    }
}

impl Default for SessionRegistry {
    fn default() -> Self {
        Self::new(usize::MAX, usize::MAX)
    }
}

/// How often a replica's session counts are published to the others.
const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Actor for SessionRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.cluster.instance().is_some() {
            ctx.run_interval(PUBLISH_EVERY, |registry, _ctx| registry.publish_counts());
        }
    }
}

impl Handler<Register> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, mut msg: Register, _ctx: &mut Self::Context) {
        // The slot becomes the session: nothing to release when the reservation drops.
        msg.reservation.registry = None;
        let id = msg.reservation.id;
        self.reserved.remove(&id);
        // The principal, not the owner: the token's key stays out of the logs.
        log::info!(
            "session {} opened by {} ({} live)",
            id,
            msg.owner.principal,
            self.sessions.len() + 1
        );
        self.transports.insert(id, msg.transport);
        self.sessions.insert(id, (msg.addr, msg.owner));
    }
}

impl Handler<Release> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, msg: Release, _ctx: &mut Self::Context) {
        self.reserved.remove(&msg.id);
    }
}

impl Handler<Unregister> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, msg: Unregister, _ctx: &mut Self::Context) {
        self.transports.remove(&msg.id);
        if self.sessions.remove(&msg.id).is_some() {
            log::info!("session {} closed ({} live)", msg.id, self.sessions.len());
        }
    }
}

impl Handler<Lookup> for SessionRegistry {
    type Result = Option<Addr<Session>>;

    fn handle(&mut self, msg: Lookup, _ctx: &mut Self::Context) -> Self::Result {
        self.sessions
            .get(&msg.id)
            .filter(|(_, owner)| *owner == msg.owner)
            .map(|(addr, _)| addr.clone())
    }
}

impl Handler<Admit> for SessionRegistry {
    type Result = ResponseActFuture<Self, Result<Reservation, SessionLimit>>;

    /// This replica's limits first, with a slot reserved at once; then, on a replica of
    /// several, the cluster's (the slot is given back if they refuse).
    fn handle(&mut self, msg: Admit, ctx: &mut Self::Context) -> Self::Result {
        let principal = msg.principal.clone();
        let reservation = match self.admit_here(msg, ctx) {
            Ok(reservation) if self.cluster.instance().is_some() => reservation,
            here => return Box::pin(actix::fut::ready(here)),
        };
        let id = reservation.id();
        self.asking.insert(id);
        let (cluster, max) = (self.cluster.clone(), self.max_sessions);
        let max_per_principal = self.max_per_principal;
        Box::pin(
            async move {
                cluster
                    .admit_session(&principal, max, max_per_principal)
                    .await
            }
            .into_actor(self)
            .map(move |full, registry, _ctx| {
                registry.asking.remove(&id);
                match full {
                    None => Ok(reservation),
                    Some(Full::Sessions) => Err(SessionLimit::Server(max)),
                    Some(Full::Principal) => Err(SessionLimit::Principal(max_per_principal)),
                }
            }),
        )
    }
}

impl SessionRegistry {
    fn admit_here(
        &mut self,
        msg: Admit,
        ctx: &mut Context<Self>,
    ) -> Result<Reservation, SessionLimit> {
        if self.sessions.len() + self.reserved.len() >= self.max_sessions {
            return Err(SessionLimit::Server(self.max_sessions));
        }
        let mine = self
            .sessions
            .values()
            .map(|(_, owner)| owner.principal.as_str())
            .chain(self.reserved.values().map(String::as_str))
            .filter(|principal| *principal == msg.principal)
            .count();
        if mine >= self.max_per_principal {
            return Err(SessionLimit::Principal(self.max_per_principal));
        }
        let id = self
            .cluster
            .instance()
            .map_or_else(SessionId::new, SessionId::owned_by);
        self.reserved.insert(id, msg.principal);
        Ok(Reservation {
            id,
            registry: Some(ctx.address()),
        })
    }
}

impl Handler<TotalInFlight> for SessionRegistry {
    type Result = ResponseFuture<usize>;

    fn handle(&mut self, _msg: TotalInFlight, _ctx: &mut Self::Context) -> Self::Result {
        let asks: Vec<_> = self
            .sessions
            .values()
            .map(|(addr, _)| addr.send(InFlight))
            .collect();
        Box::pin(async move {
            let mut total = 0;
            for ask in asks {
                total += ask.await.unwrap_or(0);
            }
            total
        })
    }
}

impl Handler<ShutdownAll> for SessionRegistry {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: ShutdownAll, _ctx: &mut Self::Context) -> Self::Result {
        let asks: Vec<_> = self
            .sessions
            .values()
            .map(|(addr, _)| addr.send(Shutdown))
            .collect();
        Box::pin(async move {
            for ask in asks {
                let _ = ask.await;
            }
        })
    }
}

impl Handler<CountByTransport> for SessionRegistry {
    type Result = MessageResult<CountByTransport>;

    fn handle(&mut self, _msg: CountByTransport, _ctx: &mut Self::Context) -> Self::Result {
        let mut counts = BTreeMap::from([("sse", 0), ("streamable-http", 0)]);
        for transport in self.transports.values() {
            *counts.entry(*transport).or_default() += 1;
        }
        MessageResult(counts)
    }
}

impl Handler<CountSessions> for SessionRegistry {
    type Result = usize;

    fn handle(&mut self, _msg: CountSessions, _ctx: &mut Self::Context) -> usize {
        self.sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix::test]
    async fn a_reservation_holds_its_slot_until_dropped() {
        let registry = SessionRegistry::new(1, 1).start();
        let admit = || {
            registry.send(Admit {
                principal: "a".into(),
            })
        };
        let held = admit().await.unwrap().expect("the first open is admitted");
        assert_eq!(admit().await.unwrap().unwrap_err(), SessionLimit::Server(1));
        drop(held);
        // The release was queued ahead of this Admit, and a mailbox keeps its order.
        assert!(admit().await.unwrap().is_ok());
    }
}
