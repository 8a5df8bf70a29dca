//! GitHub's per-token rules, shared by the replicas: one Redis hash per token.
//!
//! Each replica keeps its own `github::limits::Limits` as before; the gateway also asks here
//! before each request ([`AdmitCall`]) and tells what GitHub answered ([`RecordAnswer`]), and
//! applies the stricter of the two verdicts. So N replicas spend a token's budget no faster
//! than one would, honour one another's back-offs and 401 holds, and space mutations one
//! interval apart across the cluster; and when Redis is away each replica still keeps the
//! rules it knows of (it loses only what the others learnt meanwhile).
//!
//! The hash is `P:token:<name>`, where the name is an HMAC of the token's key under the
//! cluster's secret ([`super::Names`]): no token, nor its plain hash, reaches Redis. Its
//! fields: per resource `rem:<r>` and `reset:<r>` (epoch seconds), `backoff` and `rejected`
//! (ends, in Redis's clock, in ms) and `next_mut` (the next mutation's slot). Scripts read
//! Redis's clock (`TIME`), so replicas' clocks need not agree, and answer with durations.
//! The hash expires an hour after its last use.

use std::time::Duration;

use actix::prelude::*;
use redis::Script;

use super::{CALL_TIMEOUT, link::RedisLink};

/// Before a request: refuses during a 401 hold or a back-off; with the budget spent, says to
/// wait for a reset that is near (ARGV[4] ms) and refuses otherwise; for a mutation
/// (ARGV[2] = 1), reserves the next slot one interval (ARGV[3] ms) after the last, and not
/// before that wait, or the replica's own (ARGV[5] ms), ends. It takes no unit of the budget: GitHub does not charge the 304s
/// most reads get, so counting down here would refuse calls GitHub would take; between two
/// reports the replicas can overspend by no more than their requests in flight.
/// Answers {verdict, ms}: {'go', delay}, {'rejected', left}, {'backoff', left},
/// {'spent', reset epoch seconds}.
const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'rejected', 'backoff', 'rem:' .. ARGV[1], 'reset:' .. ARGV[1], 'next_mut')
local rejected, backoff = tonumber(f[1]), tonumber(f[2])
if rejected and rejected > now then return {'rejected', rejected - now} end
if backoff and backoff > now then return {'backoff', backoff - now} end
local delay = 0
local rem, reset = tonumber(f[3]), tonumber(f[4])
if rem and reset and reset * 1000 > now then
  if rem <= 0 then
    local wait = reset * 1000 - now
    if wait > tonumber(ARGV[4]) then return {'spent', reset} end
    delay = wait + 250
  end
end
if ARGV[2] == '1' then
  local slot = math.max(now + math.max(delay, tonumber(ARGV[5])), tonumber(f[5]) or 0)
  redis.call('HSET', KEYS[1], 'next_mut', slot + tonumber(ARGV[3]))
  delay = slot - now
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], 3600000) end
return {'go', delay}
";

/// After an answer: a budget report (ARGV[2] remaining, ARGV[3] reset epoch s; empty when
/// none) replaces an older window's and, within one window, keeps the lower count (GitHub's
/// count only falls within a window, so a higher one is a report that arrived late); a
/// secondary limit (ARGV[4] ms, 0: none) and a 401 (ARGV[5] ms of hold, 0: none) push their
/// ends out, never in.
const RECORD: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] ~= '' then
  local reset = tonumber(ARGV[3])
  local known = tonumber(redis.call('HGET', KEYS[1], 'reset:' .. ARGV[1]))
  local rem = tonumber(ARGV[2])
  if known == reset then
    rem = math.min(rem, tonumber(redis.call('HGET', KEYS[1], 'rem:' .. ARGV[1])) or rem)
  end
  if not known or reset >= known then
    redis.call('HSET', KEYS[1], 'rem:' .. ARGV[1], rem, 'reset:' .. ARGV[1], reset)
  end
end
for i, field in ipairs({'backoff', 'rejected'}) do
  local ms = tonumber(ARGV[3 + i])
  if ms > 0 then
    local until_ = now + ms
    if until_ > (tonumber(redis.call('HGET', KEYS[1], field)) or 0) then
      redis.call('HSET', KEYS[1], field, until_)
    end
  end
end
redis.call('PEXPIRE', KEYS[1], 3600000)
return 1
";

pub(super) struct TokenScripts {
    admit: Script,
    record: Script,
}

impl Default for TokenScripts {
    fn default() -> Self {
        TokenScripts {
            admit: Script::new(ADMIT),
            record: Script::new(RECORD),
        }
    }
}

/// What the cluster says of a request about to go to GitHub with one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it after this long (zero: now).
    Go(Duration),
    /// Another replica saw GitHub reject the token (401): refuse for this long.
    Rejected(Duration),
    /// A secondary rate limit's back-off runs for this long.
    BackOff(Duration),
    /// The budget is spent until this reset (epoch seconds), too far to wait for.
    Spent { reset_epoch: u64 },
}

/// Gateway → link (through [`super::Cluster::admit_call`]).
#[derive(Debug, Message)]
#[rtype(result = "Option<Verdict>")]
pub struct AdmitCall {
    pub(super) key: String,
    pub resource: &'static str,
    pub mutation: bool,
    pub interval: Duration,
    pub max_reset_wait: Duration,
    /// How long the replica itself would wait before sending (its own limits' verdict).
    pub local_wait: Duration,
}

/// What GitHub's answer said about a token's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answered {
    pub resource: &'static str,
    /// `x-ratelimit-remaining` and `x-ratelimit-reset` (epoch seconds), when reported.
    pub budget: Option<(u64, u64)>,
    /// A secondary limit: calls held back this long.
    pub backoff: Option<Duration>,
    /// A 401: calls refused this long.
    pub rejected: Option<Duration>,
}

/// Gateway → link: record an answer (not awaited).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RecordAnswer {
    pub(super) key: String,
    pub answered: Answered,
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}

impl Handler<AdmitCall> for RedisLink {
    type Result = ResponseFuture<Option<Verdict>>;

    fn handle(&mut self, msg: AdmitCall, _ctx: &mut Self::Context) -> Self::Result {
        let mut connection = self.connection();
        let scripts = self.token_scripts();
        let directory = self.directory();
        Box::pin(async move {
            let mut invocation = scripts.admit.key(&msg.key);
            invocation
                .arg(msg.resource)
                .arg(if msg.mutation { "1" } else { "0" })
                .arg(millis(msg.interval))
                .arg(millis(msg.max_reset_wait))
                .arg(millis(msg.local_wait));
            let call = invocation.invoke_async::<(String, u64)>(&mut connection);
            let Ok(answer) = tokio::time::timeout(CALL_TIMEOUT, call).await else {
                // Not waited for again until the next refresh hears from Redis.
                directory.failed();
                return None;
            };
            let (verdict, value) = answer.ok()?;
            let ms = Duration::from_millis(value);
            Some(match verdict.as_str() {
                "rejected" => Verdict::Rejected(ms),
                "backoff" => Verdict::BackOff(ms),
                "spent" => Verdict::Spent { reset_epoch: value },
                _ => Verdict::Go(ms),
            })
        })
    }
}

impl Handler<RecordAnswer> for RedisLink {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: RecordAnswer, _ctx: &mut Self::Context) -> Self::Result {
        let mut connection = self.connection();
        let scripts = self.token_scripts();
        Box::pin(async move {
            let answered = msg.answered;
            let (remaining, reset) = answered
                .budget
                .map_or((String::new(), 0), |(remaining, reset)| {
                    (remaining.to_string(), reset)
                });
            let mut invocation = scripts.record.key(&msg.key);
            invocation
                .arg(answered.resource)
                .arg(remaining)
                .arg(reset)
                .arg(answered.backoff.map_or(0, millis))
                .arg(answered.rejected.map_or(0, millis));
            let call = invocation.invoke_async::<i64>(&mut connection);
            // Lost with Redis away: each replica's own limits still hold what it saw.
            let _ = tokio::time::timeout(CALL_TIMEOUT, call).await;
        })
    }
}
