//! `Session`: the actor behind one client session, whatever its transport.
//!
//! Messages for the client go through bounded channels whose receiving halves the transport
//! turns into its wire format; the session knows nothing of SSE or HTTP. A legacy HTTP+SSE
//! session has one channel, its event stream, for everything, and it lives as long as that
//! stream: when the client goes away the transport drops the receiver, which the session notices
//! at once through `Sender::closed`. A Streamable HTTP session outlives its connections: each
//! POST that carries requests brings its own channel, on which those requests' notifications and
//! responses go; an optional GET stream takes everything else; the session ends on DELETE or
//! after `mcp.session_idle_secs` without traffic. Work still in flight when a session ends is
//! cancelled, and no response for it is sent.
//!
//! The session registers with the [`SessionRegistry`] in `started()`, in the slot that the
//! transport reserved for it, and unregisters in `stopping()`.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use actix::prelude::*;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::{
    SessionId,
    registry::{Register, Reservation, SessionRegistry, Unregister},
};

mod control;
mod requests;
pub mod watch;

use crate::{
    auth::{Owner, Principal},
    dispatch::{Dispatcher, LOGGER, McpState},
    mcp::{
        jsonrpc::{Message, Notification, RequestId},
        protocol::LogLevel,
    },
    outlet::{Delivery, EventSender, Outlet, Replay},
};
pub use control::{
    End, ForgetStream, GetVersion, InFlight, OpenStream, Resume, Shutdown, StreamRefused,
};

/// Transport → session: one message from the client. Answered once the session has taken it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub message: Message,
    /// Where a request's notifications and response go (a Streamable HTTP POST's own answer);
    /// `None` sends them on the session's stream.
    pub reply_to: Option<ReplyTo>,
}

/// A POST's own answer channel.
#[derive(Debug)]
pub struct ReplyTo {
    pub sender: EventSender,
    /// An SSE answer, whose events get ids and can be resumed; otherwise a JSON one.
    pub streamed: bool,
}

/// How the session lives and dies.
#[derive(Debug, Clone, Copy)]
pub enum Lifetime {
    /// As long as its one stream (legacy HTTP+SSE).
    Stream,
    /// Streamable HTTP: until DELETE, or `idle` without traffic. Streams are resumable from
    /// the last `replay_events` events, at most `replay_bytes` of them; 2025-11-25 sessions
    /// are told to wait `retry` before reconnecting.
    Idle {
        idle: Duration,
        retry: Duration,
        replay_events: usize,
        replay_bytes: usize,
    },
}

/// How much of a client-chosen id or method the session repeats in its logs and log
/// notifications: enough to recognize it. Repeated whole, a 1 MB id sent back in a warning
/// would take a megabyte of the stream's queue and of the replay buffer.
const ECHO_CHARS: usize = 64;

/// `text` cut to its first `ECHO_CHARS` characters, with `…` when it was longer.
fn clipped(text: &impl std::fmt::Display) -> String {
    let text = text.to_string();
    match text.char_indices().nth(ECHO_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// One client session.
#[derive(Debug)]
pub struct Session {
    id: SessionId,
    /// Who opened the session (an id and a token's key, never a secret).
    owner: Owner,
    registry: Addr<SessionRegistry>,
    dispatcher: Dispatcher,
    lifetime: Lifetime,
    /// The session's own stream: the legacy event stream, or the Streamable HTTP GET stream
    /// once one was opened. Bounded, so a client that stops reading cannot grow the server's
    /// memory.
    stream: Option<Outlet>,
    /// The legacy stream's sender, watched (in `started`) to end the session with its stream.
    legacy_sender: Option<EventSender>,
    /// Recent events of resumable streams (Streamable HTTP only).
    replay: Option<Replay>,
    /// The number of the last request stream opened (0 is the GET stream).
    streams_opened: u64,
    /// Told once the registry knows this session, so that the transport can tell the client
    /// about the session only when a request can find it.
    on_registered: Option<oneshot::Sender<()>>,
    /// The slot admitted for this session, until `started()` hands it to the registry.
    reservation: Option<Reservation>,
    state: McpState,
    /// Requests still being worked on, by id, so that `notifications/cancelled` and the end of
    /// the session can stop them, and their responses find their streams.
    in_flight: HashMap<RequestId, requests::RunningRequest>,
    last_activity: Instant,
    /// What the subscribed resources looked like at the last poll.
    watch: watch::Watch,
}

/// What a transport gives a new session.
#[derive(Debug)]
pub struct SessionSetup {
    /// The slot the registry admitted the session into; it also names the session.
    pub reservation: Reservation,
    pub registry: Addr<SessionRegistry>,
    pub dispatcher: Dispatcher,
    pub lifetime: Lifetime,
    /// The legacy transport's one stream; `None` for Streamable HTTP.
    pub stream: Option<EventSender>,
    /// Told once the registry knows the session.
    pub on_registered: oneshot::Sender<()>,
    /// Who opened it: the session belongs to them, and uses their GitHub credential.
    pub principal: Principal,
}

impl Session {
    pub fn new(setup: SessionSetup) -> Self {
        let SessionSetup {
            reservation,
            registry,
            dispatcher,
            lifetime,
            stream,
            on_registered,
            principal,
        } = setup;
        let state = McpState::new(&principal);
        Session {
            id: reservation.id(),
            owner: principal.owner,
            registry,
            dispatcher,
            lifetime,
            legacy_sender: stream.clone(),
            stream: stream.map(Outlet::plain),
            replay: match lifetime {
                Lifetime::Idle {
                    replay_events,
                    replay_bytes,
                    ..
                } => Some(Replay::new(replay_events, replay_bytes)),
                Lifetime::Stream => None,
            },
            streams_opened: 0,
            on_registered: Some(on_registered),
            reservation: Some(reservation),
            state,
            in_flight: HashMap::new(),
            last_activity: Instant::now(),
            watch: watch::Watch::default(),
        }
    }

    /// Queues a message on the session's stream. On the legacy transport a full queue means
    /// the client stopped reading and a closed one that it left: either way the session ends.
    /// A Streamable HTTP session just loses its GET stream; with none open, the message (a
    /// notification not tied to any request) has nowhere to go and is dropped.
    fn send(&mut self, ctx: &mut Context<Self>, message: Message) {
        let Some(outlet) = &self.stream else {
            return log::debug!("session {}: no stream open; dropped a message", self.id);
        };
        let legacy = matches!(self.lifetime, Lifetime::Stream);
        match outlet.send(message) {
            Delivery::Sent | Delivery::Detached => {}
            Delivery::Full => {
                log::warn!(
                    "session {}: client stopped reading its stream; disconnecting it",
                    self.id
                );
                outlet.detach();
                if legacy {
                    ctx.stop();
                }
            }
            Delivery::Closed if legacy => ctx.stop(),
            Delivery::Closed => {}
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

    /// Ends a Streamable HTTP session that has been idle too long.
    fn expire_when_idle(&mut self, ctx: &mut Context<Self>, idle: Duration) {
        let check_every = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(60));
        ctx.run_interval(check_every, move |act, ctx| {
            let busy =
                !act.in_flight.is_empty() || act.stream.as_ref().is_some_and(Outlet::is_attached);
            if !busy && act.last_activity.elapsed() >= idle {
                log::info!("session {}: idle for {idle:?}, expiring it", act.id);
                ctx.stop();
            }
        });
    }

    /// Ends a legacy session as soon as the transport drops its stream's receiving end.
    fn end_with_stream(&mut self, ctx: &mut Context<Self>, stream: EventSender) {
        ctx.spawn(
            async move { stream.closed().await }
                .into_actor(self)
                .map(|(), _act, ctx| ctx.stop()),
        );
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Register before anything else, and only then let the transport announce the session.
        // `new` always sets the reservation and `started` runs once, so it is there.
        let Some(reservation) = self.reservation.take() else {
            ctx.stop();
            return;
        };
        let register = Register {
            reservation,
            addr: ctx.address(),
            owner: self.owner.clone(),
            transport: match self.lifetime {
                Lifetime::Stream => "sse",
                Lifetime::Idle { .. } => "streamable-http",
            },
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

        match self.lifetime {
            Lifetime::Stream => {
                if let Some(sender) = self.legacy_sender.take() {
                    self.end_with_stream(ctx, sender);
                }
            }
            Lifetime::Idle { idle, .. } => self.expire_when_idle(ctx, idle),
        }
        ctx.run_interval(self.dispatcher.config().poll_interval, |act, ctx| {
            act.poll_subscriptions(ctx)
        });
    }

    fn stopping(&mut self, ctx: &mut Self::Context) -> Running {
        if !self.in_flight.is_empty() {
            log::info!(
                "session {}: ending, cancelling {} requests in flight",
                self.id,
                self.in_flight.len()
            );
        }
        for (_, running) in self.in_flight.drain() {
            running.cancel(ctx);
        }
        self.registry.do_send(Unregister { id: self.id });
        Running::Stop
    }
}

impl Handler<Deliver> for Session {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) {
        self.last_activity = Instant::now();
        match msg.message {
            Message::Request(request) => self.handle_request(ctx, request, msg.reply_to),
            Message::Notification(note) => self.handle_notification(ctx, note),
            // The client's answer to a request of ours (sampling, elicitation, roots).
            Message::Response(response) => {
                if !self
                    .state
                    .pending
                    .resolve(&response.id, Ok(response.result.into_map()))
                {
                    let id = clipped(&response.id);
                    log::debug!("session {}: unexpected response {id}", self.id);
                    self.log_to_client(
                        ctx,
                        LogLevel::Warning,
                        json!(format!("ignored response to unknown request {id}")),
                    );
                }
            }
            Message::Error(error) => {
                let resolved = error
                    .id
                    .as_ref()
                    .is_some_and(|id| self.state.pending.resolve(id, Err(error.error.clone())));
                if !resolved {
                    log::debug!(
                        "session {}: client sent an error: {}",
                        self.id,
                        clipped(&error.error.message)
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_ids_are_clipped() {
        assert_eq!(clipped(&"short"), "short");
        let long = "é".repeat(1000);
        let cut = clipped(&long);
        assert_eq!(cut.chars().count(), ECHO_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
