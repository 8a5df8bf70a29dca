//! Several replicas behind one load balancer, sharing one Redis (issue 18).
//!
//! A session stays on the replica that opened it: its id carries that replica's [`Instance`]
//! (see `actors::SessionId`), so any replica knows a session's owner without asking anyone.
//! A request that reaches another replica is forwarded to the owner over HTTP (`http::forward`)
//! and answered through the replica the client reached. Redis holds nothing of a session's
//! state, only what the replicas must agree on: the directory of live replicas and where they
//! listen ([`link`]: each one's lease, refreshed every second), and more below.
//!
//! [`Cluster`] is the handle the rest of the server holds. Without `cluster.redis_url` it is
//! [`Cluster::single`]: no Redis, no forwarding, today's one process. Its reads (where a
//! replica is, whether Redis answers) come from memory the link keeps current; only a replica
//! not yet in the directory costs a Redis round trip, and none of it can hang a request: Redis
//! calls time out (after [`CALL_TIMEOUT`] for a request's), and while Redis is down a request
//! does not wait for it at all. When Redis is down, forwarding keeps working to the
//! replicas last known, and a request for a replica never seen is answered 503.
//!
//! Nothing secret goes to Redis: replicas are named by their random instance ids, tokens and
//! principals by HMACs under the cluster's secret ([`names`]). Besides the directory: the
//! shared per-token rules of GitHub ([`tokens`]), the session counts ([`sessions`]) and word
//! of changed repositories ([`broadcast`]).

use std::{
    fmt,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use actix::Addr;

use crate::{config::ClusterSettings, metrics::ClusterSnapshot};

pub mod broadcast;
mod directory;
pub mod link;
mod names;
pub mod sessions;
pub mod tokens;

use broadcast::Changed;
pub use directory::Directory;
use link::{Leave, Lookup, RedisLink};
use names::Names;
use sessions::{AdmitSession, Full, PublishSessions};
use tokens::{AdmitCall, Answered, RecordAnswer, Verdict};

/// Set on a request one replica forwards to another: `<instance>;<client address>;<MAC>`, the
/// forwarding replica, the address its client came from, and an HMAC of both under the
/// cluster's secret. The owner takes the client's address from it (for anonymous principals
/// and per-address limits), and never forwards such a request again. Without a valid MAC the
/// header counts for nothing.
pub const FORWARDED_BY: &str = "mcp-forwarded-by";

/// What a valid [`FORWARDED_BY`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// The address the forwarding replica's client came from.
    pub client: Option<IpAddr>,
}

/// Now, in milliseconds of Unix time.
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis().try_into().unwrap_or(u64::MAX))
}

/// Longest a Redis call of the link's own (the directory's refresh) may take before it
/// counts as failed.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(1000);
/// Longest a Redis call made for a request (before a GitHub call, a session's opening, an
/// unknown replica's lookup) may take: past it the request goes on without Redis's word,
/// and Redis counts as down until the next refresh gets an answer. While it is down such
/// calls are not even tried, so a Redis that hangs slows no request by more than this once.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);

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
    /// Names in Redis, and the signature on forwarded requests.
    names: Arc<Names>,
    link: Addr<RedisLink>,
    directory: Arc<Directory>,
    counters: Counters,
    /// Repositories other replicas changed, until the gateway takes the receiver.
    changes: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<String>>>,
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
        let (changed, changes) = tokio::sync::mpsc::unbounded_channel();
        let names = Arc::new(Names::new(settings));
        let link = link::start(
            settings,
            instance,
            advertise,
            directory.clone(),
            changed,
            names.clone(),
        )?;
        Ok(Cluster {
            shared: Some(Arc::new(Shared {
                instance,
                names,
                link,
                directory,
                counters: Counters::default(),
                changes: std::sync::Mutex::new(Some(changes)),
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
        if !shared.directory.redis_up() {
            return Peer::Unreachable;
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

    /// What the cluster says of a GitHub request about to go out with the token whose key is
    /// `token` (`github::request::TokenKey`), for the gateway to combine with its own limits.
    /// Go at once on one process, and when Redis does not answer in time.
    pub async fn admit_call(
        &self,
        token: u128,
        resource: &'static str,
        mutation: bool,
        interval: Duration,
        max_reset_wait: Duration,
        local_wait: Duration,
    ) -> Verdict {
        let Some(shared) = self
            .shared
            .as_ref()
            .filter(|shared| shared.directory.redis_up())
        else {
            // One process; or Redis is down, and each replica keeps the rules it knows of.
            return Verdict::Go(Duration::ZERO);
        };
        let admit = AdmitCall {
            key: shared.names.token_key(token),
            resource,
            mutation,
            interval,
            max_reset_wait,
            local_wait,
        };
        match shared.link.send(admit).await {
            Ok(Some(verdict)) => verdict,
            _ => Verdict::Go(Duration::ZERO),
        }
    }

    /// Shares what GitHub's answer said of token `token`'s limits (not awaited).
    pub fn record_answer(&self, token: u128, answered: Answered) {
        if let Some(shared) = &self.shared {
            let key = shared.names.token_key(token);
            shared.link.do_send(RecordAnswer { key, answered });
        }
    }

    /// Whether the cluster has room for another session of `principal`, counting it if so.
    /// `None` (room) on one process, and when Redis cannot be asked: each replica's own
    /// limits hold regardless.
    pub async fn admit_session(
        &self,
        principal: &str,
        max_sessions: usize,
        max_per_principal: usize,
    ) -> Option<Full> {
        let shared = self
            .shared
            .as_ref()
            .filter(|shared| shared.directory.redis_up())?;
        let admit = AdmitSession {
            principal: shared.names.name("principal", principal.as_bytes()),
            max_sessions,
            max_per_principal,
        };
        shared.link.send(admit).await.ok().flatten()
    }

    /// This replica's live sessions, `total` and per principal, for the others to count.
    pub fn publish_sessions<'a>(
        &self,
        total: usize,
        by_principal: impl IntoIterator<Item = (&'a str, usize)>,
    ) {
        if let Some(shared) = &self.shared {
            let counts = by_principal
                .into_iter()
                .map(|(principal, count)| {
                    (shared.names.name("principal", principal.as_bytes()), count)
                })
                .collect();
            shared.link.do_send(PublishSessions { counts, total });
        }
    }

    /// Tells the other replicas that `repo` (`owner/repo`) changed through this one, so that
    /// they drop its cached reads.
    pub fn changed(&self, repo: &str) {
        if let Some(shared) = &self.shared {
            shared.link.do_send(Changed {
                repo: repo.to_string(),
            });
        }
    }

    /// The repositories other replicas change, as they are announced: for the gateway, once.
    pub fn take_changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        let shared = self.shared.as_ref()?;
        let mut changes = shared
            .changes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        changes.take()
    }

    /// The [`FORWARDED_BY`] value for a request from `client` that this replica forwards;
    /// `binding` names the request (see `auth::hop_binding`).
    pub fn hop(&self, client: Option<IpAddr>, binding: &str) -> Option<String> {
        let shared = self.shared.as_ref()?;
        Some(
            shared
                .names
                .hop(shared.instance, client, unix_ms(), binding),
        )
    }

    /// What a [`FORWARDED_BY`] value says, if another replica of this cluster set it for the
    /// request `binding` names, moments ago.
    pub fn forwarded(&self, value: &str, binding: &str) -> Option<Forwarded> {
        self.shared
            .as_ref()?
            .names
            .forwarded(value, unix_ms(), binding)
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
        Some(shared.directory.redis_up())
    }

    /// For `/metrics`; `None` for one process.
    pub fn snapshot(&self) -> Option<ClusterSnapshot> {
        let shared = self.shared.as_ref()?;
        let counters = &shared.counters;
        let directory = &shared.directory;
        Some(ClusterSnapshot {
            redis_up: directory.redis_up(),
            redis_rtt: directory.rtt(),
            replicas: directory.len(),
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
