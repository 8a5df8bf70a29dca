//! `RedisLink`: the one actor that talks to Redis, on an arbiter (thread) of its own.
//!
//! The `redis` crate's connection manager runs its connection on the runtime that created
//! it, and reconnects on the one that notices the loss: both are this arbiter, whatever
//! thread asks. Every second the link renews this replica's lease in the directory of live
//! replicas and reads the directory back into the [`Directory`] that request handlers read
//! from memory. A replica whose lease (`LEASE`) ran out is dropped from the directory by
//! whichever replica notices first.
//!
//! Redis layout, under `cluster.key_prefix` (`P`): `P:replicas` (hash: instance id →
//! advertised URL), `P:leases` (sorted set: instance id, scored by its lease's end in
//! Redis's own clock, so replicas' clocks need not agree) and `P:left` (sorted set: replicas
//! that left while shutting down, kept for a lease's time, so that the others drop them at
//! once rather than when their lease would have run out).

use std::{collections::HashMap, sync::Arc, time::Duration};

use actix::prelude::*;
use redis::{
    Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use super::{
    CALL_TIMEOUT, Directory, Instance, REDIS_TIMEOUT, names::Names, sessions::SessionScripts,
    tokens::TokenScripts,
};
use crate::config::ClusterSettings;

/// How often the lease is renewed and the directory read back.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// How long a lease holds unless renewed: a replica that stopped without leaving (killed)
/// drops out of the directory this long after its last renewal.
pub(super) const LEASE: Duration = Duration::from_secs(10);

/// Renews a lease (unless this replica left: a refresh sent before the leave may land after
/// it) and reads back the live replicas and those that left, pruning leases that ran out.
/// Also says whether this replica's lease was still there: if not, Redis lost its state (a
/// restart) and the listing may miss replicas that have not renewed since. Uses Redis's
/// clock (`TIME`), so that replicas' clocks need not agree.
const REFRESH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('ZSCORE', KEYS[2], ARGV[1])
local kept = 1
if not held or tonumber(held) <= now then kept = 0 end
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(dead) do redis.call('HDEL', KEYS[1], id) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
return {kept, redis.call('HGETALL', KEYS[1]), redis.call('ZRANGE', KEYS[3], 0, -1)}
";

/// Takes a replica out of the directory, and notes for a lease's time that it left.
const LEAVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
return 1
";

/// Where one replica listens, if its lease holds.
const LOOKUP: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not until_ or tonumber(until_) <= now then return false end
return redis.call('HGET', KEYS[1], ARGV[1])
";

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Not echoed: the URL may hold a password.
    #[error("cluster.redis_url is not a usable Redis URL ({0})")]
    BadUrl(String),
}

/// Handlers → link: where does this replica listen, if it is live?
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<String>, redis::RedisError>")]
pub struct Lookup(pub Instance);

/// Shutdown → link: take this replica out of the directory.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Leave;

struct Scripts {
    refresh: Script,
    lookup: Script,
    leave: Script,
}

pub struct RedisLink {
    connection: ConnectionManager,
    instance: Instance,
    advertise: String,
    /// This replica's entry in the directory: its URL, signed.
    entry: String,
    names: Arc<Names>,
    replicas_key: String,
    leases_key: String,
    left_key: String,
    directory: Arc<Directory>,
    scripts: Arc<Scripts>,
    tokens: Arc<TokenScripts>,
    sessions: Arc<SessionScripts>,
    prefix: String,
    /// Set once this replica left: the lease is no longer renewed.
    left: bool,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("instance", &self.instance)
            .field("advertise", &self.advertise)
            .finish_non_exhaustive()
    }
}

/// Starts the link on an arbiter of its own. Connecting happens there, in the background.
pub(super) fn start(
    settings: &ClusterSettings,
    instance: Instance,
    advertise: String,
    directory: Arc<Directory>,
    changes: tokio::sync::mpsc::UnboundedSender<String>,
    names: Arc<Names>,
) -> Result<Addr<RedisLink>, LinkError> {
    let url = settings
        .redis_url()
        .map(|url| url.expose())
        .unwrap_or_default();
    // The parser's message may quote the URL, password and all: only its kind is kept.
    let client =
        redis::Client::open(url).map_err(|err| LinkError::BadUrl(format!("{:?}", err.kind())))?;
    let prefix = settings.key_prefix.clone();
    let arbiter = Arbiter::new();
    Ok(RedisLink::start_in_arbiter(
        &arbiter.handle(),
        move |_ctx| {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(REDIS_TIMEOUT))
                .set_response_timeout(Some(REDIS_TIMEOUT))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(500));
            // Lazy: connects on first use and reconnects after a loss, so a Redis that is down
            // at start is no reason not to start.
            let channel = format!("{prefix}:changed");
            actix::spawn(super::broadcast::listen(
                client.clone(),
                channel,
                instance,
                changes,
            ));
            let connection = ConnectionManager::new_lazy_with_config(client, config)
                .expect("a lazy connection manager without push settings builds");
            RedisLink {
                connection,
                instance,
                entry: names.sign_replica(instance, &advertise),
                names,
                advertise,
                replicas_key: format!("{prefix}:replicas"),
                leases_key: format!("{prefix}:leases"),
                left_key: format!("{prefix}:left"),
                directory,
                scripts: Arc::new(Scripts {
                    refresh: Script::new(REFRESH),
                    lookup: Script::new(LOOKUP),
                    leave: Script::new(LEAVE),
                }),
                tokens: Arc::default(),
                sessions: Arc::default(),
                prefix,
                left: false,
            }
        },
    ))
}

impl RedisLink {
    /// A handle on the connection, for a call made in a future.
    pub(super) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    pub(super) fn directory(&self) -> Arc<Directory> {
        self.directory.clone()
    }

    pub(super) fn token_scripts(&self) -> Arc<TokenScripts> {
        self.tokens.clone()
    }

    pub(super) fn session_scripts(&self) -> Arc<SessionScripts> {
        self.sessions.clone()
    }

    pub(super) fn leases_key(&self) -> String {
        self.leases_key.clone()
    }

    pub(super) fn prefix(&self) -> String {
        self.prefix.clone()
    }

    pub(super) fn instance(&self) -> Instance {
        self.instance
    }

    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.left {
            return;
        }
        let mut connection = self.connection.clone();
        let scripts = self.scripts.clone();
        let (replicas, leases) = (self.replicas_key.clone(), self.leases_key.clone());
        let left = self.left_key.clone();
        let (id, entry) = (self.instance.to_string(), self.entry.clone());
        let (directory, names) = (self.directory.clone(), self.names.clone());
        let lease = LEASE.as_millis() as u64;
        ctx.spawn(
            async move {
                let started = std::time::Instant::now();
                let mut invocation = scripts.refresh.key(&replicas);
                invocation
                    .key(&leases)
                    .key(&left)
                    .arg(&id)
                    .arg(&entry)
                    .arg(lease);
                type Listing = (i64, Vec<String>, Vec<String>);
                let call = invocation.invoke_async::<Listing>(&mut connection);
                match tokio::time::timeout(REDIS_TIMEOUT, call).await {
                    Ok(Ok((kept, live, left))) => {
                        directory.answered(started.elapsed());
                        let left: Vec<Instance> =
                            left.iter().filter_map(|id| parse_instance(id)).collect();
                        let listed = parse_directory(&names, &live);
                        directory.merge(listed, &left, kept == 1, std::time::Instant::now());
                    }
                    Ok(Err(err)) => {
                        if directory.failed() {
                            // The kind only: a message could quote the URL.
                            let kind = err.kind();
                            log::warn!("redis is not answering ({kind:?}); trying every second");
                        }
                    }
                    Err(_) => {
                        if directory.failed() {
                            let within = REDIS_TIMEOUT;
                            log::warn!("redis did not answer within {within:?}; trying again");
                        }
                    }
                }
            }
            .into_actor(self),
        );
    }
}

/// `HGETALL`'s flat list (id, entry, id, entry, ...) as a map of URLs; entries that do not
/// parse, or that this cluster's secret did not sign, are skipped (another deployment's keys
/// under the same prefix, or someone else writing to Redis).
fn parse_directory(names: &Names, flat: &[String]) -> HashMap<Instance, Arc<str>> {
    flat.chunks_exact(2)
        .filter_map(|pair| {
            let instance = parse_instance(&pair[0])?;
            Some((instance, Arc::from(names.replica_url(instance, &pair[1])?)))
        })
        .collect()
}

fn parse_instance(id: &str) -> Option<Instance> {
    Instance::from_bits(u32::from_str_radix(id, 16).ok()?)
}

impl Actor for RedisLink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        log::info!(
            "cluster: replica {} (reachable at {}) joining through redis",
            self.instance,
            self.advertise
        );
        self.refresh(ctx);
        ctx.run_interval(REFRESH_EVERY, |link, ctx| link.refresh(ctx));
    }
}

impl Handler<Lookup> for RedisLink {
    type Result = ResponseFuture<Result<Option<String>, redis::RedisError>>;

    fn handle(&mut self, msg: Lookup, _ctx: &mut Self::Context) -> Self::Result {
        let mut connection = self.connection.clone();
        let scripts = self.scripts.clone();
        let (replicas, leases) = (self.replicas_key.clone(), self.leases_key.clone());
        let (names, directory) = (self.names.clone(), self.directory.clone());
        Box::pin(async move {
            let mut invocation = scripts.lookup.key(&replicas);
            invocation.key(&leases).arg(msg.0.to_string());
            let call = invocation.invoke_async::<Option<String>>(&mut connection);
            let entry = match tokio::time::timeout(CALL_TIMEOUT, call).await {
                Ok(answer) => answer?,
                Err(_) => {
                    directory.failed();
                    return Err(timed_out());
                }
            };
            // Unsigned is as good as absent.
            Ok(entry.and_then(|entry| names.replica_url(msg.0, &entry)))
        })
    }
}

impl Handler<Leave> for RedisLink {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Leave, _ctx: &mut Self::Context) -> Self::Result {
        self.left = true;
        let mut connection = self.connection.clone();
        let scripts = self.scripts.clone();
        let (replicas, leases) = (self.replicas_key.clone(), self.leases_key.clone());
        let left = self.left_key.clone();
        let id = self.instance.to_string();
        Box::pin(async move {
            let mut invocation = scripts.leave.key(&replicas);
            invocation
                .key(&leases)
                .key(&left)
                .arg(&id)
                .arg(LEASE.as_millis() as u64);
            let call = invocation.invoke_async::<i64>(&mut connection);
            if !matches!(tokio::time::timeout(REDIS_TIMEOUT, call).await, Ok(Ok(_))) {
                log::warn!(
                    "cluster: could not leave the directory; the lease runs out in {LEASE:?}"
                );
            }
        })
    }
}

fn timed_out() -> redis::RedisError {
    std::io::Error::from(std::io::ErrorKind::TimedOut).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_entries_that_do_not_parse_or_are_not_signed_are_skipped() {
        let names = Names::for_tests("one secret shared by the replicas ....");
        let (a, b) = (
            Instance::from_bits(42).unwrap(),
            Instance::from_bits(43).unwrap(),
        );
        let flat: Vec<String> = [
            "0000002a".to_string(),
            names.sign_replica(a, "http://a:1"),
            "0000002b".to_string(),
            "http://unsigned:2".to_string(),
            "zz".to_string(),
            names.sign_replica(b, "http://b:2"),
            "00000000".to_string(),
            "x".to_string(),
            "lonely".to_string(),
        ]
        .to_vec();
        let parsed = parse_directory(&names, &flat);
        assert_eq!(parsed.len(), 1, "{parsed:?}");
        assert_eq!(&*parsed[&a], "http://a:1");
    }
}
