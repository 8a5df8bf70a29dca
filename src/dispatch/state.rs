//! The MCP state of one session, and the [`CallContext`] its requests get.
//!
//! A `Session` actor owns an [`McpState`] and lends it to the dispatcher for each message; a
//! request served without a session brings one made for it ([`McpState::stateless`]). The
//! dispatcher builds each handler's [`CallContext`] from it with [`McpState::context`].

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use crate::{
    auth::Principal,
    call::{
        CallContext, ClientRequests, Logger, Notifier, PendingRequests, Progress, SessionMemory,
    },
    github::request::Credential,
    mcp::protocol::{ClientCapabilities, ClientInfo, LogLevel, ProtocolVersion},
};

/// The `logger` name on `notifications/message` from this server.
pub const LOGGER: &str = "github-issue-mcp";

/// How long a request to the client (sampling, elicitation) may wait for its answer: a person
/// may be answering.
const CLIENT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// A request's `_meta`: the progress token, echoed with its JSON type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestMeta {
    pub(crate) progress_token: Option<Value>,
}

/// The MCP state of one session, owned by its `Session` actor (or of one stateless request).
#[derive(Debug, Clone)]
pub struct McpState {
    /// Set once `initialize` has been answered; `None` before.
    pub version: Option<ProtocolVersion>,
    pub client: Option<ClientInfo>,
    pub client_capabilities: ClientCapabilities,
    /// Whether `notifications/initialized` has arrived. Over HTTP it can race the next request,
    /// so requests are gated on `version`, never on this.
    pub initialized: bool,
    /// `notifications/message` below this level are not sent.
    pub log_level: LogLevel,
    /// No `notifications/message` at all: a stateless request that asked for no log level.
    pub quiet: bool,
    /// Served without a session (the stateless revision): no requests to the client, which
    /// has no stream to answer them on (that revision asks through `input_required` results).
    pub stateless: bool,
    /// The GitHub identity this session's calls use.
    pub credential: Option<Credential>,
    /// Repositories this session has named, for completions.
    pub memory: SessionMemory,
    /// Requests sent to the client, awaiting its answers.
    pub pending: PendingRequests,
    /// Who opened the session (a principal id, never a secret), for audit lines.
    pub principal: String,
    /// Resources the client subscribed to.
    pub subscriptions: BTreeSet<String>,
}

impl Default for McpState {
    fn default() -> Self {
        McpState {
            version: None,
            client: None,
            client_capabilities: ClientCapabilities::default(),
            initialized: false,
            log_level: LogLevel::Warning,
            quiet: false,
            stateless: false,
            credential: None,
            memory: SessionMemory::default(),
            pending: PendingRequests::default(),
            principal: "anonymous".into(),
            subscriptions: Default::default(),
        }
    }
}

impl McpState {
    /// The state of a new session opened by `principal`, before `initialize`.
    pub fn new(principal: &Principal) -> Self {
        McpState {
            // Tagged with the principal, so that the gateway takes turns between principals
            // sharing a token.
            credential: principal
                .credential
                .clone()
                .map(|c| c.on_behalf_of(&principal.id)),
            principal: principal.id.clone(),
            ..McpState::default()
        }
    }

    /// The state for one request served without a session: `version` is the revision the
    /// request names, taken as negotiated; nothing outlives the request.
    pub fn stateless(principal: &Principal, version: ProtocolVersion) -> Self {
        McpState {
            version: Some(version),
            initialized: true,
            stateless: true,
            ..McpState::new(principal)
        }
    }

    /// The context for one request of this session. `meta` is the request's `_meta`;
    /// `notifier` takes the request's messages to the client (on its response's stream).
    pub(super) fn context(
        &self,
        version: ProtocolVersion,
        meta: Option<&RequestMeta>,
        notifier: Option<Notifier>,
    ) -> CallContext {
        let progress = match (meta.and_then(|m| m.progress_token.clone()), &notifier) {
            (Some(token), Some(notifier)) => Some(Progress::new(token, notifier.clone(), version)),
            _ => None,
        };
        CallContext {
            version,
            credential: self.credential.clone(),
            principal: self.principal.clone(),
            progress,
            memory: self.memory.clone(),
            log: notifier
                .clone()
                .filter(|_| !self.quiet)
                .map(|n| Logger::new(n, self.log_level, LOGGER)),
            client: notifier.clone().filter(|_| !self.stateless).map(|n| {
                ClientRequests::new(
                    n,
                    self.pending.clone(),
                    self.client_capabilities,
                    CLIENT_REQUEST_TIMEOUT,
                )
            }),
            stream: notifier,
            draining: Default::default(),
            round: None,
        }
    }
}
