//! What a tool call, resource read or completion knows about the request it serves: the
//! session's protocol revision and GitHub credential, a way to report progress, and the
//! session's memory of the repositories it has used (for completions).
//!
//! The dispatcher builds a [`CallContext`] from the session's state for each request; handlers
//! run as futures on the session's actor, so everything here is cheap to clone.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{
    jsonrpc::{Message, Notification},
    protocol::ProtocolVersion,
};
use crate::github::{api::RepoRef, request::Credential};

/// Sends notifications to the session's client while a request is in flight.
#[derive(Debug, Clone)]
pub struct Notifier(mpsc::Sender<Message>);

impl Notifier {
    pub fn new(outbound: mpsc::Sender<Message>) -> Self {
        Notifier(outbound)
    }

    /// Queues a notification. Progress is advisory: when the client's queue is full it is
    /// dropped rather than waited for (the session itself deals with a client that stopped
    /// reading).
    pub fn notify(&self, method: &str, params: Value) {
        let note = Notification::new(method, Some(params));
        let _ = self.0.try_send(Message::Notification(note));
    }
}

/// `notifications/progress` for one request, when the client asked with a `progressToken`.
#[derive(Debug, Clone)]
pub struct Progress {
    token: Value,
    notifier: Notifier,
    with_message: bool,
}

impl Progress {
    pub fn new(token: Value, notifier: Notifier, version: ProtocolVersion) -> Self {
        Progress {
            token,
            notifier,
            // `message` on progress exists from 2025-03-26.
            with_message: version.has_annotations(),
        }
    }

    /// Reports `progress` of `total`. Callers make `progress` strictly increase.
    pub fn report(&self, progress: u64, total: u64, message: &str) {
        let mut params = json!({
            "progressToken": self.token,
            "progress": progress,
            "total": total,
        });
        if self.with_message {
            params["message"] = json!(message);
        }
        self.notifier.notify("notifications/progress", params);
    }
}

/// The repositories a session has named, newest knowledge for completions.
#[derive(Debug, Clone, Default)]
pub struct SessionMemory(Arc<Mutex<BTreeSet<RepoRef>>>);

impl SessionMemory {
    pub fn remember(&self, repo: &RepoRef) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(repo.clone());
    }

    pub fn repositories(&self) -> Vec<RepoRef> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// What a handler knows about the request it serves.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub version: ProtocolVersion,
    /// The GitHub identity of the session (the server's token until per-user tokens arrive).
    pub credential: Option<Credential>,
    pub progress: Option<Progress>,
    pub memory: SessionMemory,
}

impl CallContext {
    /// A context with no credential, progress or memory: for tests and tools that need none.
    pub fn bare(version: ProtocolVersion) -> Self {
        CallContext {
            version,
            credential: None,
            progress: None,
            memory: SessionMemory::default(),
        }
    }
}
