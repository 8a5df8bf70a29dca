//! `GitHubGateway`: the only way out to GitHub. One per server, shared by every session.
//!
//! Sessions send [`Fetch`] (a credential and a request) and get the answer or a
//! [`GitHubError`]. In between, the gateway applies GitHub's rules for integrators on behalf of
//! all sessions, per credential:
//! - at most `github.max_in_flight_per_token` calls at once (default 1: GitHub asks for no
//!   concurrent requests per token);
//! - nothing is sent while a rate-limit budget is spent or a secondary-limit back-off runs: the
//!   caller hears at once why and for how long (or waits, when the reset is near);
//! - mutations go out at least `github.mutation_interval_ms` apart;
//! - after GitHub rejects a token (401), calls with it are refused for a minute without
//!   sending: GitHub locks a user's logins after repeated bad credentials;
//! - a GET that was answered before is sent with `If-None-Match`; a 304 (free of charge) reuses
//!   the cached answer;
//! - identical GETs in flight at the same time go out once, and every caller gets the answer.
//!
//! Per-credential state is forgotten once a credential has been idle for [`IDLE_FOR`] and
//! holds nothing back: in `github-token` mode every caller brings a token, and the memory must
//! not grow with the tokens ever seen.
//!
//! The handler's future runs in the actor's context, so other calls keep flowing while one
//! waits for GitHub; the bookkeeping (budgets, cache, waiters) happens between awaits, on the
//! actor, without locks.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Weak},
    time::{Duration, Instant, SystemTime},
};

use actix::{fut, prelude::*};
use tokio::sync::{Semaphore, oneshot};

use crate::{
    config::GitHubSettings,
    github::{
        cache::EtagCache,
        error::{GitHubError, RateResource},
        limits::{LimitPolicy, Limits, REJECTED_TOKEN_HOLD},
        request::{ApiRequest, ApiResponse, ApiResult, Credential, Method},
        transport::{Classified, Moves, Raw, Transport},
    },
    metrics::Metrics,
};

/// How long a credential's state is kept after its last call, when it holds nothing back.
pub const IDLE_FOR: Duration = Duration::from_secs(15 * 60);
/// How often idle credential states are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Session → gateway: make this call with this credential.
#[derive(Debug, Message)]
#[rtype(result = "ApiResult")]
pub struct Fetch {
    pub credential: Credential,
    pub request: ApiRequest,
    /// Dead once the caller stopped waiting (its call was cancelled or its session ended): a
    /// call still queued for its token's turn is then dropped instead of sent, so that
    /// abandoned work neither spends GitHub's budget nor holds up everyone else's calls.
    pub caller: Weak<()>,
}

/// Counters, for tests, benchmarks and (later) metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, MessageResponse)]
pub struct GatewayStats {
    /// Requests that went out to GitHub (retries of one call count once).
    pub upstream: u64,
    /// Of those, answered `304 Not Modified` from the cache.
    pub not_modified: u64,
    /// Calls that shared another identical call's answer instead of going out.
    pub coalesced: u64,
    /// Calls answered without sending anything (rate limit spent, back-off).
    pub refused: u64,
    /// Credentials whose permits and budgets are kept now.
    pub credentials: usize,
}

/// Asks for the lowest remaining budget of any credential, per resource (for `/metrics`).
#[derive(Debug, Message)]
#[rtype(result = "BTreeMap<&'static str, u64>")]
pub struct RateLimits;

/// Asks for the [`GatewayStats`].
#[derive(Debug, Message)]
#[rtype(result = "GatewayStats")]
pub struct Stats;

#[derive(Debug)]
struct CredentialState {
    permits: Arc<Semaphore>,
    limits: Limits,
    last_used: Instant,
}

type PendingKey = (u64, String);

#[derive(Debug)]
pub struct GitHubGateway {
    transport: Transport,
    policy: LimitPolicy,
    max_in_flight: usize,
    credentials: HashMap<u64, CredentialState>,
    cache: EtagCache,
    /// GETs on the wire, with the callers of identical GETs waiting for the same answer.
    pending: HashMap<PendingKey, Vec<oneshot::Sender<ApiResult>>>,
    stats: GatewayStats,
    metrics: Metrics,
}

/// What happened to a call between admission and answer.
enum Attempt {
    Refused(GitHubError),
    Sent(Result<Raw, GitHubError>),
}

impl GitHubGateway {
    pub fn new(
        settings: &GitHubSettings,
        moves: Moves,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        Ok(GitHubGateway {
            transport: Transport::new(settings, moves)?,
            policy: LimitPolicy {
                mutation_interval: Duration::from_millis(settings.mutation_interval_ms),
                max_reset_wait: Duration::from_millis(settings.rate_limit_wait_ms),
                secondary_backoff: Duration::from_secs(settings.secondary_backoff_s),
            },
            max_in_flight: settings.max_in_flight_per_token,
            credentials: HashMap::new(),
            cache: EtagCache::new(settings.cache_max_entries, settings.cache_max_bytes),
            pending: HashMap::new(),
            stats: GatewayStats::default(),
            metrics,
        })
    }

    fn credential(&mut self, key: u64) -> &mut CredentialState {
        let max = self.max_in_flight;
        let now = Instant::now();
        let state = self
            .credentials
            .entry(key)
            .or_insert_with(|| CredentialState {
                permits: Arc::new(Semaphore::new(max)),
                limits: Limits::default(),
                last_used: now,
            });
        state.last_used = now;
        state
    }

    /// Forgets the credentials idle for [`IDLE_FOR`] whose state holds nothing back. A call
    /// in flight or queued holds a clone of the permits, so its credential is kept.
    fn forget_idle(&mut self, now: Instant, wall: SystemTime) {
        self.credentials.retain(|_, state| {
            Arc::strong_count(&state.permits) > 1
                || now.duration_since(state.last_used) < IDLE_FOR
                || state.limits.holds_back(now, wall)
        });
    }

    /// Books the answer: budgets, back-off, cache. Runs on the actor after the call.
    fn settle(&mut self, key: u64, request: &ApiRequest, attempt: Attempt) -> ApiResult {
        let raw = match attempt {
            Attempt::Refused(GitHubError::Abandoned) => return Err(GitHubError::Abandoned),
            Attempt::Refused(err) => {
                self.stats.refused += 1;
                return Err(err);
            }
            Attempt::Sent(raw) => {
                self.stats.upstream += 1;
                if request.method.is_mutation()
                    && let Some(repo) = &request.repo
                {
                    // Even a failed or lost mutation may have changed the repository.
                    self.cache.invalidate_repo(repo);
                }
                raw?
            }
        };
        self.metrics.github_status(raw.status);
        let policy = self.policy.clone();
        let limits = &mut self.credential(key).limits;
        if let (Some(remaining), Some(reset)) = (raw.remaining, raw.reset) {
            limits.record_budget(raw.resource.unwrap_or(request.resource), remaining, reset);
        }
        let etag = raw.etag.clone();
        match raw.classify(request.resource) {
            Classified::Fresh(response) => {
                limits.record_success();
                let response = Arc::new(response);
                if let (Method::Get, Some(etag)) = (request.method, etag) {
                    self.cache.insert(
                        key,
                        &request.url,
                        etag,
                        request.repo.clone(),
                        response.clone(),
                    );
                }
                Ok(response)
            }
            Classified::NotModified => {
                limits.record_success();
                self.stats.not_modified += 1;
                let cached = self.cache.revalidated(key, &request.url).ok_or_else(|| {
                    GitHubError::Unexpected {
                        status: 304,
                        message: "Not Modified for an answer that is no longer cached".into(),
                    }
                })?;
                Ok(Arc::new(ApiResponse {
                    revalidated: true,
                    ..(*cached).clone()
                }))
            }
            Classified::Secondary(retry_after) => {
                let retry_in = limits.record_secondary(retry_after, Instant::now(), &policy);
                log::warn!(
                    "GitHub secondary rate limit on {} {}; holding calls for this token {}s",
                    request.method.as_str(),
                    request.url,
                    retry_in.as_secs()
                );
                Err(GitHubError::SecondaryRateLimited { retry_in })
            }
            Classified::Failed(GitHubError::Unauthorized { message }) => {
                limits.record_rejected(&message, Instant::now());
                log::warn!(
                    "GitHub rejected a token (401: {message}) on {} {}; calls with it are \
                     refused for {}s without sending",
                    request.method.as_str(),
                    request.url,
                    REJECTED_TOKEN_HOLD.as_secs()
                );
                Err(GitHubError::Unauthorized { message })
            }
            Classified::Failed(err) => Err(err),
        }
    }
}

impl Actor for GitHubGateway {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(SWEEP_EVERY, |act, _ctx| {
            act.forget_idle(Instant::now(), SystemTime::now());
        });
    }
}

impl Handler<Fetch> for GitHubGateway {
    type Result = ResponseActFuture<Self, ApiResult>;

    fn handle(&mut self, msg: Fetch, _ctx: &mut Self::Context) -> Self::Result {
        let Fetch {
            credential,
            request,
            caller,
        } = msg;
        let key = credential.key();

        // An identical GET already on the wire: wait for its answer instead.
        let pending_key = (request.method == Method::Get).then(|| (key, request.url.clone()));
        if let Some(pending_key) = &pending_key {
            if let Some(waiters) = self.pending.get_mut(pending_key) {
                let (tx, rx) = oneshot::channel();
                waiters.push(tx);
                self.stats.coalesced += 1;
                return Box::pin(fut::wrap_future(async move {
                    rx.await.unwrap_or_else(|_| {
                        Err(GitHubError::Network {
                            reason: "the shared call was abandoned".into(),
                            mutation: false,
                        })
                    })
                }));
            }
            self.pending.insert(pending_key.clone(), Vec::new());
        }

        let permits = self.credential(key).permits.clone();
        let probe = pending_key.clone();
        Box::pin(
            async move { permits.acquire_owned().await }
                .into_actor(self)
                .then(move |permit, act, _ctx| {
                    let policy = act.policy.clone();
                    // Others waiting for this GET's answer still want it sent.
                    let shared = probe
                        .as_ref()
                        .and_then(|pending| act.pending.get(pending))
                        .is_some_and(|waiters| !waiters.is_empty());
                    let abandoned = move || caller.strong_count() == 0 && !shared;
                    let admitted = if abandoned() {
                        Err(GitHubError::Abandoned)
                    } else {
                        act.credential(key).limits.admit(
                            request.resource,
                            request.method.is_mutation(),
                            Instant::now(),
                            SystemTime::now(),
                            &policy,
                        )
                    };
                    let etag = (request.method == Method::Get)
                        .then(|| act.cache.etag(key, &request.url))
                        .flatten();
                    let transport = act.transport.clone();
                    async move {
                        let attempt = match admitted {
                            Err(err) => Attempt::Refused(err),
                            Ok(delay) => {
                                if !delay.is_zero() {
                                    tokio::time::sleep(delay).await;
                                }
                                // The caller may have gone while this call waited its turn.
                                if abandoned() {
                                    Attempt::Refused(GitHubError::Abandoned)
                                } else {
                                    Attempt::Sent(
                                        transport
                                            .send(&request, credential.token(), etag.as_deref())
                                            .await,
                                    )
                                }
                            }
                        };
                        (attempt, request, permit)
                    }
                    .into_actor(act)
                })
                .map(move |(attempt, request, permit), act, _ctx| {
                    let result = act.settle(key, &request, attempt);
                    // Released only now, so the next call for this token is admitted against
                    // the budget this answer reported.
                    drop(permit);
                    if let Some(pending_key) = pending_key {
                        for waiter in act.pending.remove(&pending_key).unwrap_or_default() {
                            let _ = waiter.send(result.clone());
                        }
                    }
                    result
                }),
        )
    }
}

impl Handler<RateLimits> for GitHubGateway {
    type Result = MessageResult<RateLimits>;

    fn handle(&mut self, _msg: RateLimits, _ctx: &mut Self::Context) -> Self::Result {
        let mut lowest = BTreeMap::new();
        for state in self.credentials.values() {
            for (name, resource) in [
                ("core", RateResource::Core),
                ("search", RateResource::Search),
            ] {
                if let Some(remaining) = state.limits.remaining(resource) {
                    let entry = lowest.entry(name).or_insert(remaining);
                    *entry = (*entry).min(remaining);
                }
            }
        }
        MessageResult(lowest)
    }
}

impl Handler<Stats> for GitHubGateway {
    type Result = GatewayStats;

    fn handle(&mut self, _msg: Stats, _ctx: &mut Self::Context) -> GatewayStats {
        GatewayStats {
            credentials: self.credentials.len(),
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_credentials_are_forgotten_unless_something_holds_them() {
        let settings = GitHubSettings::test_defaults();
        let mut gateway = GitHubGateway::new(&settings, Moves::Follow, Metrics::default()).unwrap();
        let policy = gateway.policy.clone();
        for key in 1..=4 {
            gateway.credential(key);
        }
        let in_flight = gateway.credential(2).permits.clone();
        gateway
            .credential(3)
            .limits
            .record_secondary(None, Instant::now(), &policy);
        let (now, wall) = (Instant::now(), SystemTime::now());
        gateway.forget_idle(now, wall);
        assert_eq!(gateway.credentials.len(), 4, "none idle yet");

        let (later, wall_later) = (now + IDLE_FOR, wall + IDLE_FOR);
        gateway.credential(4).last_used = later - Duration::from_secs(1);
        gateway.forget_idle(later, wall_later);
        let mut kept: Vec<u64> = gateway.credentials.keys().copied().collect();
        kept.sort();
        assert_eq!(
            kept,
            [2, 3, 4],
            "1 forgotten; 2 in flight, 3 struck lately, 4 used lately"
        );

        drop(in_flight);
        // 25 minutes on: 3's back-off (60 s) ended more than its strikes are kept, 15 minutes.
        gateway.forget_idle(later + Duration::from_secs(600), wall_later);
        let kept: Vec<u64> = gateway.credentials.keys().copied().collect();
        assert_eq!(
            kept,
            [4],
            "4 still used lately; 2 and 3 hold nothing back any more"
        );
    }
}
