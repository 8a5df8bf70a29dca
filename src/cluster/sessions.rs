//! The session limits across the replicas: `limits.max_sessions` and
//! `limits.max_sessions_per_principal` count every live replica's sessions.
//!
//! Each replica's registry stays the truth for its own sessions and publishes their counts
//! every second ([`PublishSessions`]) into `P:sessions:<instance>` (a hash: `*` → all of its
//! sessions, principal name → that principal's; names are HMACs, as for tokens). Opening a
//! session asks [`AdmitSession`], which adds up the hashes of the replicas whose lease holds
//! and, if both limits leave room, counts the new session in this replica's hash at once, so
//! that replicas admitting at the same moment see one another. A replica that dies stops
//! counting with its lease; its hash expires. With Redis away each replica keeps its own
//! limits, and no session is refused for Redis being down.

use std::{collections::HashMap, time::Duration};

use actix::prelude::*;
use redis::Script;

use super::{CALL_TIMEOUT, link::RedisLink};

/// How long a replica's published counts outlive its last publication.
const COUNTS_TTL: Duration = Duration::from_secs(15);

/// KEYS[1]: leases; ARGV: own instance, principal name, max total, max per principal, key
/// prefix, counts TTL (ms). Answers 0 (admitted and counted), 1 (the cluster is full) or 2
/// (the principal has its most).
const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
local total, mine = 0, 0
for _, id in ipairs(live) do
  local counts = redis.call('HMGET', ARGV[5] .. ':sessions:' .. id, '*', ARGV[2])
  total = total + (tonumber(counts[1]) or 0)
  mine = mine + (tonumber(counts[2]) or 0)
end
if total >= tonumber(ARGV[3]) then return 1 end
if mine >= tonumber(ARGV[4]) then return 2 end
local own = ARGV[5] .. ':sessions:' .. ARGV[1]
redis.call('HINCRBY', own, '*', 1)
redis.call('HINCRBY', own, ARGV[2], 1)
redis.call('PEXPIRE', own, ARGV[6])
return 0
";

/// KEYS[1]: this replica's counts; ARGV[1]: TTL (ms); then field, count pairs.
const PUBLISH: &str = r"
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
";

pub(super) struct SessionScripts {
    admit: Script,
    publish: Script,
}

impl Default for SessionScripts {
    fn default() -> Self {
        SessionScripts {
            admit: Script::new(ADMIT),
            publish: Script::new(PUBLISH),
        }
    }
}

/// Which limit the cluster has reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Sessions,
    Principal,
}

/// Registry → link (through [`super::Cluster::admit_session`]): `None` when admitted, or
/// when Redis could not be asked.
#[derive(Debug, Message)]
#[rtype(result = "Option<Full>")]
pub struct AdmitSession {
    pub(super) principal: String,
    pub(super) max_sessions: usize,
    pub(super) max_per_principal: usize,
}

/// Registry → link: this replica's session counts now, by principal name, and in all.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PublishSessions {
    pub(super) counts: HashMap<String, usize>,
    pub(super) total: usize,
}

impl Handler<AdmitSession> for RedisLink {
    type Result = ResponseFuture<Option<Full>>;

    fn handle(&mut self, msg: AdmitSession, _ctx: &mut Self::Context) -> Self::Result {
        let mut connection = self.connection();
        let scripts = self.session_scripts();
        let (leases, prefix, me) = (self.leases_key(), self.prefix(), self.instance());
        let directory = self.directory();
        Box::pin(async move {
            let mut invocation = scripts.admit.key(&leases);
            invocation
                .arg(me.to_string())
                .arg(&msg.principal)
                .arg(msg.max_sessions)
                .arg(msg.max_per_principal)
                .arg(&prefix)
                .arg(COUNTS_TTL.as_millis() as u64);
            let call = invocation.invoke_async::<i64>(&mut connection);
            match tokio::time::timeout(CALL_TIMEOUT, call).await {
                Ok(Ok(1)) => Some(Full::Sessions),
                Ok(Ok(2)) => Some(Full::Principal),
                Ok(_) => None,
                Err(_) => {
                    // Not waited for again until the next refresh hears from Redis.
                    directory.failed();
                    None
                }
            }
        })
    }
}

impl Handler<PublishSessions> for RedisLink {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: PublishSessions, _ctx: &mut Self::Context) -> Self::Result {
        let mut connection = self.connection();
        let scripts = self.session_scripts();
        let key = format!("{}:sessions:{}", self.prefix(), self.instance());
        Box::pin(async move {
            let mut invocation = scripts.publish.key(&key);
            invocation
                .arg(COUNTS_TTL.as_millis() as u64)
                .arg("*")
                .arg(msg.total);
            for (name, count) in &msg.counts {
                invocation.arg(name).arg(count);
            }
            let call = invocation.invoke_async::<i64>(&mut connection);
            // Lost with Redis away; the next second's publication says the same again.
            let _ = tokio::time::timeout(CALL_TIMEOUT, call).await;
        })
    }
}
