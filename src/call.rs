//! What a tool call, resource read or completion knows about the request it serves: the
//! session's protocol revision and GitHub credential, a way to report progress, and the
//! session's memory of the repositories it has used (for completions).
//!
//! The dispatcher builds a [`CallContext`] from the session's state for each request; handlers
//! run as futures on the session's actor, so everything here is cheap to clone.

use std::{
    collections::{HashMap, VecDeque},
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::{
    draining::Draining,
    github::{api::RepoRef, request::Credential},
    mcp::{
        jsonrpc::{ErrorObject, Message, Notification, Request, RequestId, ResultObject, Version2},
        protocol::{ClientCapabilities, LogLevel, ProtocolVersion},
    },
    outlet::{Delivery, Outlet},
};

/// A future that runs on the calling session's actor thread.
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// A request's result, still being worked out.
pub type PendingReply = LocalFuture<Result<ResultObject, ErrorObject>>;

/// Sends messages to the session's client while a request is in flight, on the request's
/// stream.
#[derive(Debug, Clone)]
pub struct Notifier(Outlet);

impl Notifier {
    pub fn new(outlet: Outlet) -> Self {
        Notifier(outlet)
    }

    /// Queues a notification. Progress is advisory: when the client's queue is full it is
    /// dropped rather than waited for (the session itself deals with a client that stopped
    /// reading); on a resumable stream it stays in the replay buffer.
    pub fn notify(&self, method: &str, params: Value) {
        let note = Notification::new(method, Some(params));
        self.0.send(Message::Notification(note));
    }

    /// Queues any message; false if no connection took it (a resumable stream keeps it for a
    /// client that comes back).
    pub fn send(&self, message: Message) -> bool {
        self.0.send(message) == Delivery::Sent
    }

    /// Ends the connection early when the client can resume the stream (see
    /// [`Outlet::close_resumable`]); false when it could not.
    pub fn close_connection(&self) -> bool {
        self.0.close_resumable()
    }
}

/// `notifications/message` for one request, at or above the level the client set.
#[derive(Debug, Clone)]
pub struct Logger {
    notifier: Notifier,
    level: LogLevel,
    name: &'static str,
}

impl Logger {
    pub fn new(notifier: Notifier, level: LogLevel, name: &'static str) -> Self {
        Logger {
            notifier,
            level,
            name,
        }
    }

    pub fn log(&self, level: LogLevel, data: Value) {
        if level >= self.level {
            self.notifier.notify(
                "notifications/message",
                json!({"level": level, "logger": self.name, "data": data}),
            );
        }
    }
}

/// Requests this server sent to a client, waiting for the answers that arrive in later POSTs.
/// Shared by a session and the handlers of its requests.
#[derive(Debug, Clone, Default)]
pub struct PendingRequests(Arc<Mutex<PendingState>>);

type Answer = Result<Map<String, Value>, ErrorObject>;

#[derive(Debug, Default)]
struct PendingState {
    next: u64,
    waiting: HashMap<RequestId, oneshot::Sender<Answer>>,
}

impl PendingRequests {
    fn register(&self) -> (RequestId, oneshot::Receiver<Answer>) {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.next += 1;
        // A string id of our own form, so it cannot be confused with the client's ids.
        let id = RequestId::String(format!("server-{}", state.next));
        let (tx, rx) = oneshot::channel();
        state.waiting.insert(id.clone(), tx);
        (id, rx)
    }

    fn forget(&self, id: &RequestId) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .waiting
            .remove(id);
    }

    /// Hands a client's answer to the request waiting for it; false if none was.
    pub fn resolve(&self, id: &RequestId, answer: Answer) -> bool {
        let waiting = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .waiting
            .remove(id);
        waiting.is_some_and(|tx| tx.send(answer).is_ok())
    }
}

/// Sends requests to the client (`sampling/createMessage`, `elicitation/create`, `roots/list`)
/// on the stream of the request being served, and awaits the answers.
#[derive(Debug, Clone)]
pub struct ClientRequests {
    notifier: Notifier,
    pending: PendingRequests,
    capabilities: ClientCapabilities,
    timeout: Duration,
}

impl ClientRequests {
    pub fn new(
        notifier: Notifier,
        pending: PendingRequests,
        capabilities: ClientCapabilities,
        timeout: Duration,
    ) -> Self {
        ClientRequests {
            notifier,
            pending,
            capabilities,
            timeout,
        }
    }

    /// Whether the client declared `capability` (`"elicitation"`, say).
    pub fn can(&self, capability: &str) -> bool {
        self.capabilities.has(capability)
    }

    /// Sends `method` if the client declared `capability`, and waits for its answer.
    pub async fn request(&self, method: &str, params: Value, capability: &str) -> Answer {
        if !self.capabilities.has(capability) {
            return Err(ErrorObject::invalid_request(format!(
                "the client did not declare the {capability} capability, so {method} cannot be used"
            )));
        }
        let (id, answer) = self.pending.register();
        let request = Request {
            jsonrpc: Version2,
            id: id.clone(),
            method: method.into(),
            params: Some(params),
        };
        if !self.notifier.send(Message::Request(request)) {
            self.pending.forget(&id);
            return Err(ErrorObject::internal("the client's stream is gone"));
        }
        let outcome = tokio::time::timeout(self.timeout, answer).await;
        self.pending.forget(&id);
        match outcome {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(ErrorObject::internal(
                "the session ended before the client answered",
            )),
            Err(_) => Err(ErrorObject::internal(format!(
                "the client did not answer {method} within {} s",
                self.timeout.as_secs()
            ))),
        }
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

/// Repositories a session remembers at most; beyond it the least recently used is forgotten.
/// Completion answers hold at most 100 values anyway.
pub const REMEMBERED_REPOSITORIES: usize = 100;

/// The repositories a session has named, for completions: at most
/// [`REMEMBERED_REPOSITORIES`], the most recently used (whoever sends the calls, the memory
/// must not grow with them).
#[derive(Debug, Clone, Default)]
pub struct SessionMemory(Arc<Mutex<VecDeque<RepoRef>>>);

impl SessionMemory {
    /// Remembers `repo` as the most recently used, forgetting the oldest beyond the bound.
    pub fn remember(&self, repo: &RepoRef) {
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match known.iter().position(|known| known == repo) {
            // Known already: it moves to the newest end, pushing nothing out.
            Some(at) => {
                if let Some(again) = known.remove(at) {
                    known.push_back(again);
                }
            }
            None => {
                if known.len() >= REMEMBERED_REPOSITORIES {
                    known.pop_front();
                }
                known.push_back(repo.clone());
            }
        }
    }

    /// The repositories remembered, in order (owner, then name), as before the bound.
    pub fn repositories(&self) -> Vec<RepoRef> {
        let mut repositories: Vec<RepoRef> = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect();
        repositories.sort();
        repositories
    }
}

/// What a handler knows about the request it serves.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub version: ProtocolVersion,
    /// The GitHub identity of the session (the server's token until per-user tokens arrive).
    pub credential: Option<Credential>,
    /// Who is calling (an id such as `key:1a2b3c4d`, never a secret), for audit lines.
    pub principal: String,
    pub progress: Option<Progress>,
    pub memory: SessionMemory,
    /// Log messages to the client, on this request's stream.
    pub log: Option<Logger>,
    /// Requests to the client, on this request's stream.
    pub client: Option<ClientRequests>,
    /// This request's stream itself, for a handler that ends its connection early.
    pub stream: Option<Notifier>,
    /// On once the server is shutting down: a tool doing many steps stops between two.
    pub draining: Draining,
    /// A stateless request's answers to what an earlier `input_required` result asked;
    /// `None` in a session (which asks through [`CallContext::client`] instead).
    pub round: Option<Round>,
}

/// What a retry of a stateless request brings back (multi round-trip requests).
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// Its `inputResponses` by key; `None` when it carried none.
    pub responses: Option<Map<String, Value>>,
    /// The state the handler kept in its last `input_required` result, verified.
    pub state: Option<Value>,
    /// The client capabilities this request declared: only these may be asked for.
    pub capabilities: ClientCapabilities,
}

impl Round {
    /// The answer under `key`, if the client sent one.
    pub fn response(&self, key: &str) -> Option<&Value> {
        self.responses.as_ref()?.get(key)
    }
}

/// A handler's answer that it needs input first: requests for the client by key
/// (`elicitation/create`, `sampling/createMessage`, `roots/list`), and a state to get back.
#[derive(Debug, Clone, Default)]
pub struct InputRequired {
    pub requests: Map<String, Value>,
    pub state: Option<Value>,
}

impl CallContext {
    /// A context with no credential, progress or memory: for tests and tools that need none.
    pub fn bare(version: ProtocolVersion) -> Self {
        CallContext {
            version,
            credential: None,
            principal: "anonymous".into(),
            progress: None,
            memory: SessionMemory::default(),
            log: None,
            client: None,
            stream: None,
            draining: Draining::default(),
            round: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(n: usize) -> RepoRef {
        RepoRef::new("owner", &format!("repo-{n:05}")).unwrap()
    }

    #[test]
    fn memory_keeps_the_most_recently_used_repositories() {
        let memory = SessionMemory::default();
        let extra = 20;
        for n in 0..REMEMBERED_REPOSITORIES + extra {
            memory.remember(&repo(n));
        }
        let known = memory.repositories();
        let newest: Vec<RepoRef> = (extra..REMEMBERED_REPOSITORIES + extra).map(repo).collect();
        assert_eq!(
            known, newest,
            "the oldest are forgotten first, the rest sorted"
        );
    }

    #[test]
    fn using_a_repository_again_keeps_it_and_adds_nothing() {
        let memory = SessionMemory::default();
        for n in 0..REMEMBERED_REPOSITORIES {
            memory.remember(&repo(n));
        }
        // The oldest, used again, becomes the newest: the next new one pushes out repo 1.
        memory.remember(&repo(0));
        assert_eq!(memory.repositories().len(), REMEMBERED_REPOSITORIES);
        memory.remember(&repo(REMEMBERED_REPOSITORIES));
        let known = memory.repositories();
        assert_eq!(known.len(), REMEMBERED_REPOSITORIES);
        assert!(known.contains(&repo(0)));
        assert!(!known.contains(&repo(1)));
        assert!(known.contains(&repo(REMEMBERED_REPOSITORIES)));
    }
}
