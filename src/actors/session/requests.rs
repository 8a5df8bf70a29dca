//! A session's requests: admitting one (its id unused, the server not draining, the session
//! under its limit), running it through the dispatcher, answering it where it asked, and
//! cancelling it (`notifications/cancelled`, the end of the session).
//!
//! Each request not yet answered is one [`RunningRequest`] record in `Session::in_flight`: the
//! spawned work, where its answer goes, and what the metrics need. An answer ready at once is
//! sent without a record.

use std::time::Instant;

use actix::prelude::*;
use serde_json::json;

use super::{ReplyTo, Session, clipped, control};
use crate::{
    call::Notifier,
    dispatch::{NotificationEffect, Outcome},
    mcp::{
        jsonrpc::{ErrorCode, ErrorObject, Message, Notification, Request, RequestId},
        protocol::{LogLevel, Method, ProtocolVersion},
    },
    outlet::{Delivery, Outlet},
};

use super::Lifetime;

/// A request whose answer is still being worked out.
#[derive(Debug)]
pub(super) struct RunningRequest {
    /// The dispatcher's future, spawned on the session.
    handle: SpawnHandle,
    answer: Answer,
}

/// Where a request's answer goes, and what the metrics count of it.
#[derive(Debug)]
pub(super) struct Answer {
    /// The request's own stream (a Streamable HTTP POST's); `None`: the session's stream.
    outlet: Option<Outlet>,
    /// `None` for a method this server does not have (`other` in the metrics).
    method: Option<Method>,
    since: Instant,
}

impl RunningRequest {
    /// The request's own stream, if it has one.
    pub(super) fn outlet(&self) -> Option<&Outlet> {
        self.answer.outlet.as_ref()
    }

    /// Stops the work; no response will be sent.
    pub(super) fn cancel(self, ctx: &mut Context<Session>) {
        ctx.cancel_future(self.handle);
    }
}

impl Session {
    pub(super) fn handle_request(
        &mut self,
        ctx: &mut Context<Self>,
        request: Request,
        reply_to: Option<ReplyTo>,
    ) {
        let id = request.id.clone();
        let outlet = reply_to.map(|reply_to| self.request_outlet(reply_to));
        if self.in_flight.contains_key(&id) {
            let err = ErrorObject::invalid_request(format!(
                "request id {} is already in use by a request in flight; ids must be unique",
                clipped(&id)
            ));
            return self.refuse(ctx, id, outlet, err);
        }
        if self.dispatcher.config().draining.is_on() {
            return self.refuse(ctx, id, outlet, control::shutting_down());
        }
        if self.in_flight.len() >= self.dispatcher.config().max_in_flight {
            let err = ErrorObject::new(
                ErrorCode::SERVER_BUSY,
                format!(
                    "this session already has {} requests in flight (limits.max_in_flight_per_session); \
                     wait for some answers before sending more",
                    self.in_flight.len()
                ),
            );
            return self.refuse(ctx, id, outlet, err);
        }
        log::debug!("session {}: request {id} {}", self.id, request.method);
        let watched = self.state.subscriptions.len();
        let answer = Answer {
            method: Method::parse(&request.method),
            since: Instant::now(),
            outlet,
        };
        // Progress and other notifications of this request go where its response goes.
        let notifier = answer
            .outlet
            .as_ref()
            .or(self.stream.as_ref())
            .cloned()
            .map(Notifier::new);
        match self
            .dispatcher
            .handle_request(&mut self.state, request, notifier)
        {
            Outcome::Ready(outcome) => {
                self.reply(ctx, id.clone(), answer, Message::reply(id, outcome));
            }
            Outcome::Pending(work) => {
                let key = id.clone();
                let handle = ctx.spawn(work.into_actor(self).map(move |outcome, act, ctx| {
                    // Gone from the map means cancelled: then no response is sent.
                    if let Some(running) = act.in_flight.remove(&id) {
                        act.reply(ctx, id.clone(), running.answer, Message::reply(id, outcome));
                    }
                }));
                self.in_flight
                    .insert(key, RunningRequest { handle, answer });
            }
        }
        if self.state.subscriptions.len() > watched {
            // A new subscription: read it now, so that a change right after subscribing is
            // noticed. (Not for a refused one or a repeat: a client looping on subscribe must
            // not make the session read GitHub faster than the poll interval.)
            self.poll_subscriptions(ctx);
        }
    }

    /// Answers every request still running with `err`, and stops its work.
    pub(super) fn answer_all(&mut self, ctx: &mut Context<Self>, err: ErrorObject) {
        for (id, running) in std::mem::take(&mut self.in_flight) {
            ctx.cancel_future(running.handle);
            let message = Message::error(Some(id.clone()), err.clone());
            self.reply(ctx, id, running.answer, message);
        }
    }

    /// Sends a request's response where the request asked for it, which ends that stream.
    fn reply(&mut self, ctx: &mut Context<Self>, id: RequestId, answer: Answer, message: Message) {
        let outcome = match &message {
            Message::Error(_) => "error",
            Message::Response(r) if r.result.is_tool_error() => "tool_error",
            _ => "ok",
        };
        self.dispatcher
            .config()
            .metrics
            .request(answer.method, outcome, answer.since.elapsed());
        match answer.outlet {
            // A client that dropped the POST's connection can resume the stream and get the
            // response from the replay buffer: disconnecting is not cancelling.
            Some(outlet) => {
                match outlet.answer(message) {
                    Delivery::Sent => {}
                    // The POST's queue has room for every answer it is owed, so this is a
                    // client that let its notifications pile up unread.
                    Delivery::Full => log::warn!(
                        "session {}: the response to {id} found its stream's queue full (the \
                         client is not reading); only a resumable stream's replay keeps it",
                        self.id
                    ),
                    _ => log::debug!(
                        "session {}: response to {id} is waiting for its client",
                        self.id
                    ),
                }
                outlet.detach();
            }
            None => self.send(ctx, message),
        }
    }

    /// The outlet for a request's own answer: numbered and resumable when streamed on a
    /// Streamable HTTP session, opened with a priming event for 2025-11-25 clients.
    fn request_outlet(&mut self, reply_to: ReplyTo) -> Outlet {
        let (Some(replay), true) = (&self.replay, reply_to.streamed) else {
            return Outlet::plain(reply_to.sender);
        };
        self.streams_opened += 1;
        let outlet = Outlet::resumable(self.streams_opened, Some(reply_to.sender), replay.clone());
        if let (Lifetime::Idle { retry, .. }, Some(ProtocolVersion::V2025_11_25)) =
            (self.lifetime, self.state.version)
        {
            outlet.prime(retry);
        }
        outlet
    }

    /// Answers a request with an error without running it.
    fn refuse(
        &mut self,
        ctx: &mut Context<Self>,
        id: RequestId,
        outlet: Option<Outlet>,
        err: ErrorObject,
    ) {
        let message = Message::error(Some(id), err);
        match outlet {
            Some(outlet) => {
                outlet.answer(message);
                outlet.detach();
            }
            None => self.send(ctx, message),
        }
    }

    pub(super) fn handle_notification(&mut self, ctx: &mut Context<Self>, note: Notification) {
        match self.dispatcher.handle_notification(&mut self.state, note) {
            NotificationEffect::Done => {}
            NotificationEffect::Cancel(id) => match self.in_flight.remove(&id) {
                Some(running) => {
                    // No response will come: a POST stream waiting for one can end.
                    running.cancel(ctx);
                    self.log_to_client(
                        ctx,
                        LogLevel::Debug,
                        json!(format!("request {} cancelled", clipped(&id))),
                    );
                }
                // Late or unknown cancellations are ignored, as the spec says.
                None => log::debug!(
                    "session {}: cancellation of {}, which is not in flight",
                    self.id,
                    clipped(&id)
                ),
            },
            NotificationEffect::Ignored(what) => {
                self.log_to_client(
                    ctx,
                    LogLevel::Debug,
                    json!(format!("ignored notification {}", clipped(&what))),
                );
            }
        }
    }
}
