//! The actors that hold the server's state.
//!
//! - [`registry::SessionRegistry`]: one per server; maps session ids to live sessions, so that a
//!   POSTed message finds its session, and counts them for `/health`.
//! - [`session::Session`]: one per client session; owns the session's outbound queue and MCP
//!   state and runs its requests.
//! - [`watcher::ResourceWatcher`]: one per server; re-reads the resources that stateless
//!   clients' `subscriptions/listen` streams watch, and tells them of changes.
//!
//! HTTP handlers (`crate::http`) only translate between HTTP and messages to these actors.

use std::{fmt, str::FromStr};

use uuid::Uuid;

pub mod registry;
pub mod session;
pub mod watcher;

/// A session's id: a random (v4) UUID, made by the transport when the session opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(Uuid);

impl SessionId {
    pub fn new() -> Self {
        SessionId(Uuid::new_v4())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for SessionId {
    type Err = uuid::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text).map(SessionId)
    }
}
