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

use crate::cluster::Instance;

pub mod registry;
pub mod session;
pub mod watcher;

/// A session's id, made by the registry when the session opens: a random (v4) UUID, or, on a
/// replica of several, a v8 UUID whose first 32 bits name the replica that owns the session
/// (its [`Instance`]) and whose other 90 bits are random, so that any replica can tell where
/// to forward a session's requests without asking, and ids stay unguessable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(Uuid);

impl SessionId {
    pub fn new() -> Self {
        SessionId(Uuid::new_v4())
    }

    /// A new id for a session owned by replica `owner`.
    pub fn owned_by(owner: Instance) -> Self {
        let mut bytes = Uuid::new_v4().into_bytes();
        bytes[..4].copy_from_slice(&owner.bits().to_be_bytes());
        SessionId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }

    /// The replica that owns the session, if its id names one.
    pub fn owner(&self) -> Option<Instance> {
        if self.0.get_version_num() != 8 {
            return None;
        }
        let bytes = self.0.as_bytes();
        Instance::from_bits(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replicas_session_ids_name_it_and_stay_random() {
        let owner = Instance::random();
        let one = SessionId::owned_by(owner);
        let other = SessionId::owned_by(owner);
        assert_eq!(one.owner(), Some(owner));
        assert_ne!(one, other);
        // Through its text form, as clients send it back.
        let parsed: SessionId = one.to_string().parse().unwrap();
        assert_eq!(parsed.owner(), Some(owner));
        assert_eq!(parsed.0.get_version_num(), 8);
        // 90 random bits: the bytes after the owner's differ between two ids.
        assert_ne!(one.0.as_bytes()[4..], other.0.as_bytes()[4..]);
        // A one-process id names no owner.
        assert_eq!(SessionId::new().owner(), None);
    }
}
