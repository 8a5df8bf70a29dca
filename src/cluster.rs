//! Several replicas behind one load balancer, sharing one Redis (issue 18).
//!
//! A session stays on the replica that opened it: its id carries that replica's [`Instance`]
//! (see `actors::SessionId`), so any replica knows a session's owner without asking anyone.
//! A request that reaches another replica is forwarded to the owner over HTTP (`http::forward`)
//! and answered through the replica the client reached. Redis holds what replicas must agree
//! on and nothing of a session's state: the directory of live replicas and where they listen
//! ([`link`]: each one's lease, refreshed every second), and (later) the shared per-token
//! budgets and the session counts.
//!
//! [`Cluster`] is the handle the rest of the server holds. Without `cluster.redis_url` it is
//! [`Cluster::single`]: no Redis, no forwarding, today's one process. Its reads (where a
//! replica is, whether Redis answers) come from memory the link keeps current; only a replica
//! not yet in the directory costs a Redis round trip, and none of it can hang a request: Redis
//! calls time out after [`REDIS_TIMEOUT`]. When Redis is down, forwarding keeps working to the
//! replicas last known, and a request for a replica never seen is answered 503.
//!
//! Nothing secret goes to Redis: keys name replicas by their random instance ids, and values
//! are their advertised URLs.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix::Addr;

use crate::{config::ClusterSettings, metrics::ClusterSnapshot};

pub mod link;

use link::{Leave, Lookup, RedisLink};

/// Longest a Redis call may take before it counts as failed.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(1000);

/// A replica's id, drawn at start: 32 random bits, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instance(u32);

impl Instance {
    pub fn random() -> Instance {
        loop {
            let bytes = uuid::Uuid::new_v4().into_bytes();
            let bits = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if bits != 0 {
                return Instance(bits);
            }
        }
    }

    /// The instance whose id is `bits`; `None` for 0, which no replica has.
    pub fn from_bits(bits: u32) -> Option<Instance> {
        (bits != 0).then_some(Instance(bits))
    }

    pub fn bits(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// Where another replica is, as far as this one can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Live (its lease holds), listening at this base URL.
    At(Arc<str>),
    /// Not live: its lease ran out or it left. Its sessions are gone.
    Gone,
    /// Unknown, and Redis cannot be asked now.
    Unreachable,
}

/// What the link keeps current and request handlers read without waiting.
#[derive(Debug, Default)]
pub struct Directory {
    peers: RwLock<HashMap<Instance, Known>>,
    redis_up: AtomicBool,
    rtt_micros: AtomicU64,
}

/// A replica, where it listens, and when Redis last listed it.
#[derive(Debug)]
struct Known {
    url: Arc<str>,
    seen: Instant,
}

impl Directory {
    fn get(&self, instance: Instance) -> Option<Arc<str>> {
        let peers = self
            .peers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        peers.get(&instance).map(|known| known.url.clone())
    }

    /// Takes in Redis's listing of the live replicas (`listed`) and of those that left
    /// (`left`). A replica missing from the listing is kept until its lease would have run out
    /// ([`link::LEASE`]): after Redis restarts empty, the replicas list themselves again
    /// within a second, and their sessions must not look gone meanwhile. One that left is
    /// dropped at once: it is shutting down.
    fn merge(&self, listed: HashMap<Instance, Arc<str>>, left: &[Instance], now: Instant) {
        let mut peers = self
            .peers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (instance, url) in listed {
            peers.insert(instance, Known { url, seen: now });
        }
        for instance in left {
            peers.remove(instance);
        }
        peers.retain(|_, known| now.duration_since(known.seen) < link::LEASE);
    }

    fn insert(&self, instance: Instance, url: Arc<str>) {
        let mut peers = self
            .peers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seen = Instant::now();
        peers.insert(instance, Known { url, seen });
    }

    fn answered(&self, rtt: Duration) {
        self.redis_up.store(true, Ordering::Relaxed);
        self.rtt_micros.store(
            rtt.as_micros().try_into().unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Marks Redis down; whether it was up until now (worth a log line).
    fn failed(&self) -> bool {
        self.redis_up.swap(false, Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
struct Counters {
    forwarded_out: AtomicU64,
    forwarded_in: AtomicU64,
    /// Forwarded requests that got no answer from their owner: gone, or not reachable.
    owner_gone: AtomicU64,
    owner_unreachable: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    instance: Instance,
    link: Addr<RedisLink>,
    directory: Arc<Directory>,
    counters: Counters,
}

/// The server's view of its cluster; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    shared: Option<Arc<Shared>>,
}

/// Why a forwarded request got no answer from the session's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardFailure {
    /// The owner is gone: its sessions are too (404).
    Gone,
    /// The owner could not be found or reached now (503).
    Unreachable,
}

impl Cluster {
    /// One process: no Redis, no forwarding.
    pub fn single() -> Cluster {
        Cluster::default()
    }

    /// Joins the cluster at `settings.redis_url` as `instance`, reachable at `advertise`. The
    /// link connects in the background (a Redis that is down now is retried every second), so
    /// this never fails for Redis being away.
    pub fn join(
        settings: &ClusterSettings,
        instance: Instance,
        advertise: String,
    ) -> Result<Cluster, link::LinkError> {
        let directory = Arc::new(Directory::default());
        let link = link::start(settings, instance, advertise, directory.clone())?;
        Ok(Cluster {
            shared: Some(Arc::new(Shared {
                instance,
                link,
                directory,
                counters: Counters::default(),
            })),
        })
    }

    /// This replica's id, when it is one of several.
    pub fn instance(&self) -> Option<Instance> {
        self.shared.as_ref().map(|shared| shared.instance)
    }

    /// Where replica `instance` listens: from memory, or else asked of Redis.
    pub async fn peer(&self, instance: Instance) -> Peer {
        let Some(shared) = &self.shared else {
            return Peer::Gone;
        };
        if let Some(url) = shared.directory.get(instance) {
            return Peer::At(url);
        }
        match shared.link.send(Lookup(instance)).await {
            Ok(Ok(Some(url))) => {
                let url: Arc<str> = url.into();
                shared.directory.insert(instance, url.clone());
                Peer::At(url)
            }
            Ok(Ok(None)) => Peer::Gone,
            Ok(Err(_)) | Err(_) => Peer::Unreachable,
        }
    }

    /// Counts a request forwarded to its owner, and how it went.
    pub fn forwarded_out(&self, failure: Option<ForwardFailure>) {
        if let Some(shared) = &self.shared {
            let counters = &shared.counters;
            counters.forwarded_out.fetch_add(1, Ordering::Relaxed);
            match failure {
                Some(ForwardFailure::Gone) => &counters.owner_gone,
                Some(ForwardFailure::Unreachable) => &counters.owner_unreachable,
                None => return,
            }
            .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a request another replica forwarded here.
    pub fn forwarded_in(&self) {
        if let Some(shared) = &self.shared {
            shared.counters.forwarded_in.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether Redis answered the link's last call (`None`: one process, no Redis).
    pub fn redis_up(&self) -> Option<bool> {
        let shared = self.shared.as_ref()?;
        Some(shared.directory.redis_up.load(Ordering::Relaxed))
    }

    /// For `/metrics`; `None` for one process.
    pub fn snapshot(&self) -> Option<ClusterSnapshot> {
        let shared = self.shared.as_ref()?;
        let counters = &shared.counters;
        let directory = &shared.directory;
        Some(ClusterSnapshot {
            redis_up: directory.redis_up.load(Ordering::Relaxed),
            redis_rtt: Duration::from_micros(directory.rtt_micros.load(Ordering::Relaxed)),
            replicas: directory.peers.read().map_or(0, |peers| peers.len()),
            forwarded_out: counters.forwarded_out.load(Ordering::Relaxed),
            forwarded_in: counters.forwarded_in.load(Ordering::Relaxed),
            owner_gone: counters.owner_gone.load(Ordering::Relaxed),
            owner_unreachable: counters.owner_unreachable.load(Ordering::Relaxed),
        })
    }

    /// Takes this replica out of the directory (at shutdown): the others answer its sessions
    /// 404 from then on instead of forwarding to a server that is going away.
    pub async fn leave(&self) {
        if let Some(shared) = &self.shared {
            let _ = shared.link.send(Leave).await;
        }
    }
}
