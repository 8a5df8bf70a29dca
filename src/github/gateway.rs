//! `GitHubGateway`: the only way out to GitHub. One per server, shared by every session.
//!
//! Sessions send [`Fetch`] (a credential and a request) and get the answer or a
//! [`GitHubError`]. In between, the gateway applies GitHub's rules for integrators on behalf of
//! all sessions, per credential:
//! - at most `github.max_in_flight_per_token` calls at once (default 1: GitHub asks for no
//!   concurrent requests per token); the principals sharing a token take turns, each with at
//!   most `github.max_queued_per_principal` calls waiting ([`turns`]);
//! - nothing is sent while a rate-limit budget is spent or a secondary-limit back-off runs: the
//!   caller hears at once why and for how long (or waits, when the reset is near);
//! - mutations go out at least `github.mutation_interval_ms` apart;
//! - after GitHub rejects a token (401), calls with it are refused for a minute without
//!   sending: GitHub locks a user's logins after repeated bad credentials;
//! - a GET that was answered before is sent with `If-None-Match`; a 304 (free of charge) reuses
//!   the cached answer;
//! - identical GETs go out once, and every caller gets the answer: a GET joins an identical one
//!   that holds a turn (or is on the wire), or one its own principal has waiting; an identical
//!   GET another principal has waiting is not joined (joining would put the call behind that
//!   principal's queue), but both wait, and whichever gets a turn first answers both ([`call`]);
//! - a GET that failed on the way or with a 5xx is tried again, but gives its turn back first
//!   and queues again: a GitHub that answers slowly holds the token for one
//!   `request_timeout`, not one per try.
//!
//! Per-credential state is forgotten once a credential has been idle for [`IDLE_FOR`] and
//! holds nothing back: in `github-token` mode every caller brings a token, and the memory must
//! not grow with the tokens ever seen.
//!
//! Layout: this file holds the actor, its state and messages; [`call`] one call's way through
//! it (turn, admission, tries, booking); [`turns`] the fair per-token queue.
//! A GET's key in the pending map and the cache is hashed once per call ([`get_key`]).
//!
//! The handler's future runs in the actor's context, so other calls keep flowing while one
//! waits for GitHub; the bookkeeping (budgets, cache, waiters) happens between awaits, on the
//! actor, without locks.

use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap},
    rc::Rc,
    sync::Weak,
    time::{Duration, Instant, SystemTime},
};

use actix::{fut, prelude::*};
use tokio::sync::oneshot;

use crate::{
    config::GitHubSettings,
    github::{
        cache::EtagCache,
        error::{GitHubError, RateResource},
        get_key::{GetKey, GetKeyMap, GetKeys},
        limits::{LimitPolicy, Limits},
        request::{ApiRequest, ApiResult, Credential, Method, TokenKey},
        transport::{BuildError, Moves, Transport},
    },
    metrics::Metrics,
};

mod call;
mod cluster;
mod gate;
mod settle;
mod turns;

use call::Call;
use gate::Gated;
use turns::{Principal, Turns};

/// How long a credential's state is kept after its last call, when it holds nothing back.
pub const IDLE_FOR: Duration = Duration::from_secs(15 * 60);
/// How often idle credential states are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Session → gateway: make this call with this credential.
#[derive(Debug, Message)]
#[rtype(result = "ApiResult")]
pub struct Fetch {
    /// The token, and the principal the call is made for (see [`Credential::principal`]).
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
    /// Calls waiting for their token's turn now.
    pub waiting: usize,
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
    turns: Turns,
    limits: Limits,
    last_used: Instant,
}

impl CredentialState {
    /// Gives a call's turn back: the state counts as used until now.
    fn leave(&mut self) {
        self.turns.leave();
        self.last_used = Instant::now();
    }
}

/// A credential's state, shared by the gateway's map and the calls that hold or wait for one
/// of its turns, so that a call looks it up once per try rather than at every step.
type SharedState = Rc<RefCell<CredentialState>>;

/// The callers of one GET (one token, one URL) waiting for a shared answer.
#[derive(Debug, Default)]
struct Shared {
    /// Whether a call for the key holds a turn: it answers everyone, so anyone may join it.
    on_turn: bool,
    /// Principals with a call for the key waiting for a turn. Their identical calls join it
    /// (they would wait behind it anyway); others' calls queue on their own. Empty (and not
    /// allocated) unless the token is contended.
    queued: Vec<Principal>,
    /// Who gets the answer: callers that joined, and calls that wait for a turn (which stop
    /// waiting once the answer comes from another call).
    waiters: Vec<oneshot::Sender<ApiResult>>,
}

#[derive(Debug)]
pub struct GitHubGateway {
    transport: Transport,
    policy: LimitPolicy,
    max_in_flight: usize,
    max_queued: usize,
    credentials: HashMap<TokenKey, SharedState>,
    cache: EtagCache,
    /// GETs waiting for a turn or on the wire, with the callers waiting for their answer.
    pending: GetKeyMap<Shared>,
    get_keys: GetKeys,
    stats: GatewayStats,
    metrics: Metrics,
    /// The other replicas, if any ([`cluster`]).
    cluster: crate::cluster::Cluster,
}

impl GitHubGateway {
    pub fn new(
        settings: &GitHubSettings,
        moves: Moves,
        metrics: Metrics,
    ) -> Result<Self, BuildError> {
        Ok(GitHubGateway {
            transport: Transport::new(settings, moves)?,
            policy: LimitPolicy {
                mutation_interval: Duration::from_millis(settings.mutation_interval_ms),
                max_reset_wait: Duration::from_millis(settings.rate_limit_wait_ms),
                secondary_backoff: Duration::from_secs(settings.secondary_backoff_s),
            },
            max_in_flight: settings.max_in_flight_per_token,
            max_queued: settings.max_queued_per_principal,
            credentials: HashMap::new(),
            cache: EtagCache::new(settings.cache_max_entries, settings.cache_max_bytes),
            pending: GetKeyMap::default(),
            get_keys: GetKeys::default(),
            stats: GatewayStats::default(),
            metrics,
            cluster: crate::cluster::Cluster::single(),
        })
    }

    /// The credential's state (made if missing), used now. A call keeps it through one try:
    /// [`GitHubGateway::forget_idle`] cannot drop it meanwhile, since from the call's
    /// [`Turns::enter`] (right after this lookup, with no await between) to its
    /// [`CredentialState::leave`] the state is busy.
    fn credential(&mut self, key: TokenKey) -> SharedState {
        let (max, queued) = (self.max_in_flight, self.max_queued);
        let now = Instant::now();
        let state = self.credentials.entry(key).or_insert_with(|| {
            Rc::new(RefCell::new(CredentialState {
                turns: Turns::new(max, queued),
                limits: Limits::default(),
                last_used: now,
            }))
        });
        state.borrow_mut().last_used = now;
        state.clone()
    }

    /// Forgets the credentials idle for [`IDLE_FOR`] whose state holds nothing back. A call
    /// in flight or queued keeps its credential.
    fn forget_idle(&mut self, now: Instant, wall: SystemTime) {
        self.credentials.retain(|_, state| {
            let state = state.borrow();
            state.turns.busy()
                || now.duration_since(state.last_used) < IDLE_FOR
                || state.limits.holds_back(now, wall)
        });
    }
}

impl Actor for GitHubGateway {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(SWEEP_EVERY, |act, _ctx| {
            act.forget_idle(Instant::now(), SystemTime::now());
        });
        self.listen_for_changes(ctx);
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

        // An identical GET that answers this caller without putting it behind another
        // principal's queue: wait for its answer instead.
        let principal = credential.principal().cloned();
        let pending_key =
            (request.method == Method::Get).then(|| self.get_keys.key(key, &request.url));
        if let Some(pending_key) = &pending_key {
            match self.pending.get_mut(pending_key) {
                Some(shared) if shared.on_turn || shared.queued.contains(&principal) => {
                    let (tx, rx) = oneshot::channel();
                    shared.waiters.push(tx);
                    self.stats.coalesced += 1;
                    let share = Box::pin(fut::wrap_future(shared_answer(rx)));
                    return Box::pin(Gated::new(share));
                }
                // Another principal's identical call waits for a turn: queue on our own.
                Some(_) => {}
                None => {
                    self.pending.insert(pending_key.clone(), Shared::default());
                }
            }
        }

        let call = Call {
            key,
            state: self.credential(key),
            principal,
            credential,
            request,
            caller,
            pending: pending_key,
            sender: false,
            tries: 0,
            slotted: false,
        };
        // Gated: polled only when what the call waits for woke it, not on every wake of the
        // gateway (with many calls waiting for their token's turn, that was O(queue) a wake).
        Box::pin(Gated::new(self.attempt(call).map(
            |(call, result), act, _ctx| {
                if let Some(pending_key) = &call.pending {
                    act.release(pending_key, call.sender, &result);
                }
                result
            },
        )))
    }
}

impl GitHubGateway {
    /// Once a GET call is done: the call that held the key's turn answers every waiter; any
    /// other leaves the key to the calls still waiting, or forgets it when none is left (a
    /// call refused before it queued).
    fn release(&mut self, pending_key: &GetKey, sender: bool, result: &ApiResult) {
        if sender {
            for waiter in self
                .pending
                .remove(pending_key)
                .map(|s| s.waiters)
                .unwrap_or_default()
            {
                let _ = waiter.send(result.clone());
            }
        } else if self
            .pending
            .get(pending_key)
            .is_some_and(|s| !s.on_turn && s.waiters.iter().all(|w| w.is_closed()))
        {
            self.pending.remove(pending_key);
        }
    }
}

/// The answer another call shares with this caller.
async fn shared_answer(rx: oneshot::Receiver<ApiResult>) -> ApiResult {
    rx.await.unwrap_or_else(|_| Err(abandoned_share()))
}

/// The call whose answer a caller waited for went away without one (a gateway stopping).
fn abandoned_share() -> GitHubError {
    GitHubError::Network {
        reason: "the shared call was abandoned".into(),
        mutation: false,
    }
}

impl Handler<RateLimits> for GitHubGateway {
    type Result = MessageResult<RateLimits>;

    fn handle(&mut self, _msg: RateLimits, _ctx: &mut Self::Context) -> Self::Result {
        let mut lowest = BTreeMap::new();
        for state in self.credentials.values() {
            let state = state.borrow();
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
            waiting: self
                .credentials
                .values()
                .map(|c| c.borrow().turns.waiting())
                .sum(),
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
        gateway
            .credential(2)
            .borrow_mut()
            .turns
            .enter(&None)
            .unwrap();
        gateway
            .credential(3)
            .borrow_mut()
            .limits
            .record_secondary(None, Instant::now(), &policy);
        let (now, wall) = (Instant::now(), SystemTime::now());
        gateway.forget_idle(now, wall);
        assert_eq!(gateway.credentials.len(), 4, "none idle yet");

        let (later, wall_later) = (now + IDLE_FOR, wall + IDLE_FOR);
        gateway.credential(4).borrow_mut().last_used = later - Duration::from_secs(1);
        gateway.forget_idle(later, wall_later);
        let mut kept: Vec<TokenKey> = gateway.credentials.keys().copied().collect();
        kept.sort();
        assert_eq!(
            kept,
            [2, 3, 4],
            "1 forgotten; 2 in flight, 3 struck lately, 4 used lately"
        );

        gateway.credential(2).borrow_mut().turns.leave();
        // 25 minutes on: 3's back-off (60 s) ended more than its strikes are kept, 15 minutes.
        gateway.forget_idle(later + Duration::from_secs(600), wall_later);
        let kept: Vec<TokenKey> = gateway.credentials.keys().copied().collect();
        assert_eq!(
            kept,
            [4],
            "4 still used lately; 2 and 3 hold nothing back any more"
        );
    }
}
