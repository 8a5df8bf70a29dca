//! The directory of live replicas as this one knows it: kept current by the link (every
//! second, from Redis) and read by request handlers without waiting; and whether Redis
//! answers.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::{Instance, link};

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
    pub(super) fn get(&self, instance: Instance) -> Option<Arc<str>> {
        let peers = self
            .peers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        peers.get(&instance).map(|known| known.url.clone())
    }

    /// Takes in Redis's listing of the live replicas (`listed`) and of those that left
    /// (`left`). When Redis `kept` its state, the listing is the truth. When it did not (it
    /// restarted empty: this replica's own lease was gone), a replica missing from the
    /// listing is kept until its lease would have run out ([`link::LEASE`]): the replicas
    /// list themselves again within a second, and their sessions must not look gone
    /// meanwhile. One that left is dropped at once either way: it is shutting down.
    pub(super) fn merge(
        &self,
        listed: HashMap<Instance, Arc<str>>,
        left: &[Instance],
        kept: bool,
        now: Instant,
    ) {
        let mut peers = self
            .peers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept {
            peers.retain(|instance, _| listed.contains_key(instance));
        }
        for (instance, url) in listed {
            peers.insert(instance, Known { url, seen: now });
        }
        for instance in left {
            peers.remove(instance);
        }
        peers.retain(|_, known| now.duration_since(known.seen) < link::LEASE);
    }

    pub(super) fn insert(&self, instance: Instance, url: Arc<str>) {
        let mut peers = self
            .peers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seen = Instant::now();
        peers.insert(instance, Known { url, seen });
    }

    /// Whether Redis answered the last call.
    pub(super) fn redis_up(&self) -> bool {
        self.redis_up.load(Ordering::Relaxed)
    }

    /// The round-trip time of the last refresh Redis answered.
    pub(super) fn rtt(&self) -> Duration {
        Duration::from_micros(self.rtt_micros.load(Ordering::Relaxed))
    }

    /// How many replicas are known now, this one included.
    pub(super) fn len(&self) -> usize {
        self.peers.read().map_or(0, |peers| peers.len())
    }

    pub(super) fn answered(&self, rtt: Duration) {
        self.redis_up.store(true, Ordering::Relaxed);
        self.rtt_micros.store(
            rtt.as_micros().try_into().unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Marks Redis down; whether it was up until now (worth a log line).
    pub(super) fn failed(&self) -> bool {
        self.redis_up.swap(false, Ordering::Relaxed)
    }
}
