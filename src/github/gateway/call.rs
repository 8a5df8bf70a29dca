//! One call's way through the gateway: a turn on its token ([`super::turns`]), admission
//! against the token's limits, one try on the wire, and the answer booked ([`settle`]); a GET
//! to be tried again gives its turn back and queues for another. A call told to wait (for its
//! mutation slot, or a budget's reset) is admitted again after the wait, as what it waited
//! for may have changed meanwhile: another replica may have spent the budget or met a limit.
//!
//! A GET that waits for a turn also waits for the answer of an identical GET another
//! principal queued ([`take_turn`]): whichever of them gets a turn first marks the key as
//! on turn, sends, and answers the other, which then gives back (or drops its place for) the
//! turn it no longer needs: the second call costs nothing.
//!
//! [`settle`]: GitHubGateway::settle
//! [`take_turn`]: GitHubGateway::take_turn

use std::{
    sync::Weak,
    time::{Duration, Instant, SystemTime},
};

use actix::{fut, prelude::*};
use tokio::sync::oneshot;

use super::{
    GitHubGateway, Shared, SharedState, abandoned_share, shared_answer,
    turns::{Full, Principal},
};
use crate::github::{
    error::GitHubError,
    get_key::{GetKey, GetKeyMap},
    request::{ApiRequest, ApiResult, Credential, TokenKey},
    transport::Raw,
};

/// What happened to a call between admission and answer.
pub(super) enum Attempt {
    Refused(GitHubError),
    Sent(Result<Raw, GitHubError>),
}

/// How a GET queued for a turn stopped waiting.
enum Waited {
    /// An identical call answered it (its turn receiver, which may have fired too).
    Answered(
        Result<ApiResult, oneshot::error::RecvError>,
        oneshot::Receiver<()>,
    ),
    /// It got its turn (its receiver for the answer, unused now unless another call holds
    /// the key's turn).
    Turn(oneshot::Receiver<ApiResult>),
}

/// The key's entry, made if missing (it is made when the first call for a key arrives, so
/// this looks up without copying the key).
fn shared_mut<'a>(pending: &'a mut GetKeyMap<Shared>, key: &GetKey) -> &'a mut Shared {
    if !pending.contains_key(key) {
        pending.insert(key.clone(), Shared::default());
    }
    pending.get_mut(key).expect("inserted above")
}

/// Where [`GitHubGateway::take_turn`] left a call.
enum Turn {
    /// It holds a turn on its token: send it.
    Holds(Call),
    /// It is answered without sending (refused, its principal's queue being full).
    Answered(Call, ApiResult),
    /// It waits: for a turn (`None` once it holds one), or (a GET) for the answer of an
    /// identical call that gets a turn first.
    Wait(ResponseActFuture<GitHubGateway, (Call, Option<ApiResult>)>),
}

/// One call, carried through its turns and tries.
pub(super) struct Call {
    pub(super) key: TokenKey,
    /// The token's state, looked up when the call came and again before each retry (see
    /// [`GitHubGateway::credential`]).
    pub(super) state: SharedState,
    pub(super) principal: Principal,
    pub(super) credential: Credential,
    pub(super) request: ApiRequest,
    pub(super) caller: Weak<()>,
    /// For a GET: where callers of the identical GET wait for this one's answer, and its
    /// answer's key in the cache.
    pub(super) pending: Option<GetKey>,
    /// Whether this call holds its key's turn (see [`Shared::on_turn`]) and so answers the
    /// key's waiters. Kept through its tries.
    pub(super) sender: bool,
    /// Tries so far.
    pub(super) tries: u32,
    /// For a mutation: its slot in the spacing is taken and waited for; it is admitted again
    /// without taking another.
    pub(super) slotted: bool,
}

impl Call {
    /// Whether callers of the identical GET wait for this one's answer.
    fn shared(&self, pending: &GetKeyMap<Shared>) -> bool {
        self.pending
            .as_ref()
            .and_then(|key| pending.get(key))
            .is_some_and(|shared| shared.waiters.iter().any(|w| !w.is_closed()))
    }

    /// Whether nobody wants the answer any more: the caller is gone, and `shared` is false.
    fn abandoned(&self, shared: bool) -> bool {
        self.caller.strong_count() == 0 && !shared
    }
}

impl GitHubGateway {
    /// Takes a turn on the call's token (queueing for it), sends once, and books the answer;
    /// a GET to be tried again gives its turn back and comes here again.
    pub(super) fn attempt(&mut self, call: Call) -> ResponseActFuture<Self, (Call, ApiResult)> {
        match self.take_turn(call) {
            // The usual, uncontended case: no future besides the call's own.
            Turn::Holds(call) => self.send_once(call),
            Turn::Answered(call, result) => Box::pin(fut::ready((call, result))),
            Turn::Wait(wait) => Box::pin(wait.then(|(call, answered), act, _ctx| {
                let done: ResponseActFuture<Self, (Call, ApiResult)> = match answered {
                    Some(result) => Box::pin(fut::ready((call, result))),
                    None => act.send_once(call),
                };
                done
            })),
        }
    }

    /// Takes a turn on the call's token for it, or queues for one: see [`Turn`].
    fn take_turn(&mut self, mut call: Call) -> Turn {
        let entered = call.state.borrow_mut().turns.enter(&call.principal);
        let turn = match entered {
            Ok(turn) => turn,
            Err(Full(queued)) => {
                self.stats.refused += 1;
                return Turn::Answered(call, Err(GitHubError::Busy { queued }));
            }
        };
        // A retry already holds its key; other calls may join it meanwhile, as before.
        let shares = !call.sender && call.pending.is_some();
        let (mut turn, mut answer) = match (turn, &call.pending) {
            (Some(turn), Some(key)) if shares => {
                // Queued: wait for the turn, or for an identical call of another principal's
                // to answer first. Joining that call instead would mean waiting behind its
                // principal's queue. (One lookup for both its principal and its answer.)
                let shared = shared_mut(&mut self.pending, key);
                if !shared.queued.contains(&call.principal) {
                    shared.queued.push(call.principal.clone());
                }
                let (tx, answer) = oneshot::channel();
                shared.waiters.push(tx);
                (turn, answer)
            }
            (turn, key) => {
                if let Some(key) = key.as_ref().filter(|_| shares) {
                    shared_mut(&mut self.pending, key).on_turn = true;
                    call.sender = true;
                }
                let Some(turn) = turn else {
                    return Turn::Holds(call);
                };
                // A mutation, or a retry: it waits for its turn alone.
                let wait = async move {
                    // Only a gateway being stopped drops the sender.
                    let _ = turn.await;
                };
                return Turn::Wait(Box::pin(wait.into_actor(self).map(|(), _, _| (call, None))));
            }
        };
        let wait = async move {
            tokio::select! {
                biased;
                result = &mut answer => Waited::Answered(result, turn),
                _ = &mut turn => Waited::Turn(answer),
            }
        };
        Turn::Wait(Box::pin(wait.into_actor(self).then(
            move |waited, act, _ctx| {
                let answered: ResponseActFuture<Self, (Call, Option<ApiResult>)> = match waited {
                    Waited::Answered(result, mut turn) => {
                        // The turn may have come as the answer did: it is then given back.
                        if turn.try_recv().is_ok() {
                            call.state.borrow_mut().leave();
                        }
                        act.stats.coalesced += 1;
                        let result = result.unwrap_or_else(|_| Err(abandoned_share()));
                        Box::pin(fut::ready((call, Some(result))))
                    }
                    Waited::Turn(answer) => {
                        let key = call.pending.as_ref().expect("a call that shares has a key");
                        let shared = shared_mut(&mut act.pending, key);
                        if shared.on_turn {
                            // An identical call took a turn meanwhile (several may be in
                            // flight): it answers this one, which needs no turn of its own.
                            call.state.borrow_mut().leave();
                            act.stats.coalesced += 1;
                            let share = shared_answer(answer).into_actor(act);
                            Box::pin(share.map(|result, _, _| (call, Some(result))))
                        } else {
                            shared.on_turn = true;
                            shared.queued.retain(|p| *p != call.principal);
                            call.sender = true;
                            Box::pin(fut::ready((call, None)))
                        }
                    }
                };
                answered
            },
        )))
    }

    /// Sends a call that holds a turn, once, and books the answer; a GET to be tried again
    /// gives the turn back and goes round [`GitHubGateway::attempt`] again.
    fn send_once(&mut self, call: Call) -> ResponseActFuture<Self, (Call, ApiResult)> {
        let act = self;
        let policy = act.policy.clone();
        // Others waiting for this GET's answer still want it sent.
        let shared = call.shared(&act.pending);
        // A mutation takes one slot in the spacing, on its first admission.
        let mutation = call.request.method.is_mutation() && !call.slotted;
        let admitted = if call.abandoned(shared) {
            Err(GitHubError::Abandoned)
        } else {
            call.state.borrow_mut().limits.admit(
                call.request.resource,
                mutation,
                Instant::now(),
                SystemTime::now(),
                &policy,
            )
        };
        let etag = call.pending.as_ref().and_then(|key| act.cache.etag(key));
        let transport = act.transport.clone();
        // The other replicas' word, when there are some; the stricter of the two holds.
        let local_wait = admitted.as_ref().map_or(Duration::ZERO, |wait| *wait);
        let shared_verdict =
            act.shared_verdict(call.key, call.request.resource, mutation, local_wait);
        Box::pin(
            async move {
                let admitted = match admitted {
                    Ok(delay) => shared_verdict.await.map(|shared| delay.max(shared)),
                    refused => refused,
                };
                // None: to be admitted again (after a delay, which has passed).
                let attempt = match admitted {
                    Err(err) => Some(Attempt::Refused(err)),
                    Ok(delay) if !delay.is_zero() => {
                        tokio::time::sleep(delay).await;
                        None
                    }
                    // The caller may have gone while this call waited (its turn, or Redis):
                    // admitted again, where an identical GET that joined meanwhile is seen.
                    Ok(_) if call.abandoned(shared) => None,
                    Ok(_) => {
                        let token = call.credential.token();
                        let sent = transport.send(&call.request, token, etag.as_deref()).await;
                        Some(Attempt::Sent(sent))
                    }
                };
                (call, attempt)
            }
            .into_actor(act)
            .then(move |(mut call, attempt), act, _ctx| {
                let Some(attempt) = attempt else {
                    // Admitted again, still holding its turn: what it waited for may have
                    // changed meanwhile. A mutation that waited for its slot keeps it; one
                    // that then had to wait for a reset takes a new one after it, so that
                    // mutations held by a reset do not all go out at once.
                    call.slotted = mutation;
                    return act.send_once(call);
                };
                call.tries += 1;
                let retry_in = match &attempt {
                    Attempt::Sent(result) if !call.abandoned(call.shared(&act.pending)) => {
                        act.transport.retry_in(&call.request, result, call.tries)
                    }
                    _ => None,
                };
                // The turn is given back in both cases; a retry queues for another.
                if let Some(backoff) = retry_in {
                    call.state.borrow_mut().leave();
                    log::debug!(
                        "GET {} failed; try {} in about {backoff:?}",
                        call.request.url,
                        call.tries + 1
                    );
                    let retry: ResponseActFuture<Self, (Call, ApiResult)> =
                        Box::pin(tokio::time::sleep(backoff).into_actor(act).then(
                            move |(), act, _ctx| {
                                // Holding no turn meanwhile, the state may have been
                                // forgotten: looked up again.
                                call.state = act.credential(call.key);
                                act.attempt(call)
                            },
                        ));
                    return retry;
                }
                let result = act.settle(&call, attempt);
                // Given back only now, so the next call for this token is admitted against
                // the budget this answer reported.
                call.state.borrow_mut().leave();
                Box::pin(fut::ready((call, result)))
            }),
        )
    }
}
