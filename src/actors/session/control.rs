//! The messages a transport sends a session besides client messages: open or resume a stream,
//! ask for the negotiated version, end the session; and those of the shutdown (how many
//! requests are running, answer them and end). Draining itself needs no message: the session
//! reads the server's shared `Draining` flag (`DispatcherConfig::draining`) for each request.

use actix::prelude::*;

use super::Session;
use crate::{
    mcp::{
        jsonrpc::{ErrorCode, ErrorObject},
        protocol::ProtocolVersion,
    },
    outlet::{EventSender, Outlet, parse_event_id},
};

/// Transport → session: a Streamable HTTP GET stream for messages not tied to a request.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), StreamRefused>")]
pub struct OpenStream {
    pub sender: EventSender,
}

/// Transport → session: a GET with `Last-Event-ID`: continue that stream on this connection,
/// after replaying what followed the event.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), StreamRefused>")]
pub struct Resume {
    pub last_event_id: String,
    pub sender: EventSender,
}

/// Why a stream was not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamRefused {
    /// The stream already has a live connection (a session has one GET stream).
    Busy,
    /// The event id is not one of this session's, or what followed it is no longer buffered.
    UnknownEvent(String),
}

/// Transport → session: the negotiated protocol version, once initialized.
#[derive(Debug, Message)]
#[rtype(result = "Option<ProtocolVersion>")]
pub struct GetVersion;

/// Transport → session: the answer on the POST stream with this number went out as JSON, so
/// no client can resume that stream: its events leave the replay buffer.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ForgetStream(pub u64);

/// Shutdown → session: how many requests are running?
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct InFlight;

/// Shutdown → session: answer what is still running with an error, then end.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Transport → session: the client ended the session (Streamable HTTP DELETE).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct End;

impl Session {
    /// The session's GET stream outlet, made on first use.
    fn get_stream(&mut self) -> Option<Outlet> {
        if self.stream.is_none() {
            let replay = self.replay.clone()?;
            self.stream = Some(Outlet::resumable(0, None, replay));
        }
        self.stream.clone()
    }
}

impl Handler<OpenStream> for Session {
    type Result = Result<(), StreamRefused>;

    fn handle(&mut self, msg: OpenStream, _ctx: &mut Self::Context) -> Self::Result {
        let outlet = self.get_stream().ok_or(StreamRefused::Busy)?;
        if outlet.is_attached() {
            return Err(StreamRefused::Busy);
        }
        self.last_activity = std::time::Instant::now();
        outlet.attach(msg.sender, Vec::new());
        Ok(())
    }
}

impl Handler<Resume> for Session {
    type Result = Result<(), StreamRefused>;

    fn handle(&mut self, msg: Resume, _ctx: &mut Self::Context) -> Self::Result {
        let unknown = || StreamRefused::UnknownEvent(msg.last_event_id.clone());
        let (stream, seq) = parse_event_id(&msg.last_event_id).ok_or_else(unknown)?;
        let replay = self.replay.clone().ok_or_else(unknown)?;
        if stream > self.streams_opened {
            return Err(unknown());
        }
        let backlog = replay.after(stream, seq).ok_or_else(unknown)?;
        self.last_activity = std::time::Instant::now();
        let outlet = if stream == 0 {
            self.get_stream()
        } else {
            self.in_flight
                .values()
                .filter_map(|running| running.outlet())
                .find(|outlet| outlet.stream() == stream)
                .cloned()
        };
        match outlet {
            Some(outlet) if outlet.is_attached() => Err(StreamRefused::Busy),
            Some(outlet) => {
                outlet.attach(msg.sender, backlog);
                Ok(())
            }
            // The request was answered: its events, response included, are all in the backlog;
            // the stream ends after them.
            None => {
                for event in backlog {
                    let _ = msg.sender.push(Box::new(event));
                }
                Ok(())
            }
        }
    }
}

impl Handler<GetVersion> for Session {
    type Result = Option<ProtocolVersion>;

    fn handle(&mut self, _msg: GetVersion, _ctx: &mut Self::Context) -> Self::Result {
        self.state.version
    }
}

impl Handler<ForgetStream> for Session {
    type Result = ();

    fn handle(&mut self, msg: ForgetStream, _ctx: &mut Self::Context) {
        if let Some(replay) = &self.replay {
            replay.forget(msg.0);
        }
    }
}

impl Handler<End> for Session {
    type Result = ();

    fn handle(&mut self, _msg: End, ctx: &mut Self::Context) {
        log::debug!("session {}: ended by the client", self.id);
        ctx.stop();
    }
}

impl Handler<InFlight> for Session {
    type Result = usize;

    fn handle(&mut self, _msg: InFlight, _ctx: &mut Self::Context) -> usize {
        self.in_flight.len()
    }
}

impl Handler<Shutdown> for Session {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Self::Context) {
        self.answer_all(ctx, shutting_down());
        ctx.stop();
    }
}

/// The answer to requests the server will not run because it is stopping.
pub fn shutting_down() -> ErrorObject {
    ErrorObject::new(
        ErrorCode::SERVER_BUSY,
        "the server is shutting down; reconnect in a moment and send the request again",
    )
}
