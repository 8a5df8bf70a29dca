//! `Session`: the actor behind one client session.
//!
//! The transport that opened the session gives it the sending half of a bounded channel; every
//! message for the client (responses, notifications) goes through it, and the transport turns the
//! receiving half into its wire format (an SSE stream for the legacy transport). The session knows
//! nothing of that format. It registers with the [`SessionRegistry`] in `started()` and
//! unregisters in `stopping()`. It stops when the client goes away: the transport drops the
//! receiver, which the session notices at once through `Sender::closed`, or a send fails. Work
//! still in flight is cancelled then, and responses for it are never sent.

use std::collections::HashMap;

use actix::prelude::*;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::{
    SessionId,
    registry::{Register, SessionRegistry, Unregister},
};
use crate::{
    github::request::Credential,
    mcp::{
        context::Notifier,
        dispatcher::{Dispatcher, McpState, NotificationEffect, Outcome},
        jsonrpc::{ErrorObject, Message, Notification, Request, RequestId},
        protocol::LogLevel,
    },
};

/// The `logger` name on `notifications/message` from this server.
const LOGGER: &str = "github-issue-mcp";

/// Transport → session: one message from the client. Answered once the session has taken it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub message: Message,
}

/// One client session.
#[derive(Debug)]
pub struct Session {
    id: SessionId,
    registry: Addr<SessionRegistry>,
    dispatcher: Dispatcher,
    /// Everything for the client goes here; bounded, so a client that stops reading cannot grow
    /// the server's memory.
    outbound: mpsc::Sender<Message>,
    /// Told once the registry knows this session, so that the transport can tell the client
    /// where to POST only when a POST can find it.
    on_registered: Option<oneshot::Sender<()>>,
    state: McpState,
    /// Requests still being worked on, by id, so that `notifications/cancelled` and the end of
    /// the session can stop them.
    in_flight: HashMap<RequestId, SpawnHandle>,
}

impl Session {
    pub fn new(
        id: SessionId,
        registry: Addr<SessionRegistry>,
        dispatcher: Dispatcher,
        outbound: mpsc::Sender<Message>,
        on_registered: oneshot::Sender<()>,
        credential: Option<Credential>,
    ) -> Self {
        let state = McpState {
            credential,
            notifier: Some(Notifier::new(outbound.clone())),
            ..McpState::default()
        };
        Session {
            id,
            registry,
            dispatcher,
            outbound,
            on_registered: Some(on_registered),
            state,
            in_flight: HashMap::new(),
        }
    }

    /// Queues a message for the client. A full queue means the client stopped reading; a closed
    /// one means it left. Either way the session ends.
    fn send(&mut self, ctx: &mut Context<Self>, message: Message) {
        match self.outbound.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                log::warn!(
                    "session {}: client stopped reading its stream ({} messages waiting); disconnecting it",
                    self.id,
                    self.outbound.max_capacity()
                );
                ctx.stop();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => ctx.stop(),
        }
    }

    /// Sends `notifications/message` if the client asked for this level or a lower one.
    fn log_to_client(&mut self, ctx: &mut Context<Self>, level: LogLevel, data: Value) {
        if level >= self.state.log_level {
            let params = json!({"level": level, "logger": LOGGER, "data": data});
            self.send(
                ctx,
                Message::Notification(Notification::new("notifications/message", Some(params))),
            );
        }
    }

    fn handle_request(&mut self, ctx: &mut Context<Self>, request: Request) {
        let id = request.id.clone();
        if self.in_flight.contains_key(&id) {
            let err = ErrorObject::invalid_request(format!(
                "request id {id} is already in use by a request in flight; ids must be unique"
            ));
            return self.send(ctx, Message::error(Some(id), err));
        }
        log::debug!("session {}: request {id} {}", self.id, request.method);
        match self.dispatcher.handle_request(&mut self.state, request) {
            Outcome::Ready(outcome) => self.send(ctx, Message::reply(id, outcome)),
            Outcome::Pending(work) => {
                let key = id.clone();
                let handle = ctx.spawn(work.into_actor(self).map(move |outcome, act, ctx| {
                    // Gone from the map means cancelled: then no response is sent.
                    if act.in_flight.remove(&id).is_some() {
                        act.send(ctx, Message::reply(id, outcome));
                    }
                }));
                self.in_flight.insert(key, handle);
            }
        }
    }

    fn handle_notification(&mut self, ctx: &mut Context<Self>, note: Notification) {
        match self.dispatcher.handle_notification(&mut self.state, note) {
            NotificationEffect::Done => {}
            NotificationEffect::Cancel(id) => match self.in_flight.remove(&id) {
                Some(handle) => {
                    ctx.cancel_future(handle);
                    self.log_to_client(
                        ctx,
                        LogLevel::Debug,
                        json!(format!("request {id} cancelled")),
                    );
                }
                // Late or unknown cancellations are ignored, as the spec says.
                None => log::debug!(
                    "session {}: cancellation of {id}, which is not in flight",
                    self.id
                ),
            },
            NotificationEffect::Ignored(what) => {
                self.log_to_client(
                    ctx,
                    LogLevel::Debug,
                    json!(format!("ignored notification {what}")),
                );
            }
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Register before anything else, and only then let the transport announce the session.
        let register = Register {
            id: self.id,
            addr: ctx.address(),
        };
        self.registry
            .send(register)
            .into_actor(self)
            .map(|registered, act, ctx| match registered {
                Ok(()) => {
                    if let Some(ready) = act.on_registered.take() {
                        let _ = ready.send(());
                    }
                }
                Err(_) => ctx.stop(),
            })
            .wait(ctx);

        // The transport drops the receiver when the client goes away; notice that at once rather
        // than at the next send.
        let outbound = self.outbound.clone();
        ctx.spawn(
            async move { outbound.closed().await }
                .into_actor(self)
                .map(|(), _act, ctx| ctx.stop()),
        );
    }

    fn stopping(&mut self, ctx: &mut Self::Context) -> Running {
        if !self.in_flight.is_empty() {
            log::info!(
                "session {}: client gone, cancelling {} requests in flight",
                self.id,
                self.in_flight.len()
            );
        }
        for (_, handle) in self.in_flight.drain() {
            ctx.cancel_future(handle);
        }
        self.registry.do_send(Unregister { id: self.id });
        Running::Stop
    }
}

impl Handler<Deliver> for Session {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) {
        match msg.message {
            Message::Request(request) => self.handle_request(ctx, request),
            Message::Notification(note) => self.handle_notification(ctx, note),
            // This server sends no requests to clients yet, so no response can be awaited.
            Message::Response(response) => {
                log::debug!("session {}: unexpected response {}", self.id, response.id);
                self.log_to_client(
                    ctx,
                    LogLevel::Warning,
                    json!(format!(
                        "ignored response to unknown request {}",
                        response.id
                    )),
                );
            }
            Message::Error(error) => {
                log::debug!(
                    "session {}: client sent an error: {}",
                    self.id,
                    error.error.message
                );
            }
        }
    }
}
