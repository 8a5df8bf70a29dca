//! The MCP method dispatcher: one exhaustive `match` on [`Method`], transport-agnostic.
//!
//! The seam: [`Dispatcher::handle_request`] takes a parsed request, the caller's
//! [`McpState`] (who is calling and with which GitHub credential, the negotiated revision, the
//! client's log level) and a [`Notifier`] for the request's progress, log and client-request
//! messages, and returns the answer: at once where it can ([`Outcome::Ready`]), otherwise as a
//! future ([`Outcome::Pending`]). Dropping that future cancels the work; a server that starts
//! draining ([`DispatcherConfig::draining`]) makes long tools stop between two steps.
//!
//! A `Session` actor (`crate::actors::session`) keeps one [`McpState`] for the session's life
//! and hands it every request and notification it receives; it runs, tracks and cancels the
//! pending futures. A caller without a session (a stateless request) makes an [`McpState`]
//! with [`McpState::stateless`] for the one request; it must then do what the Session does
//! around the dispatcher: refuse new requests while draining, bound the requests in flight and
//! refuse a duplicate request id. Nothing here knows SSE or HTTP.
//!
//! This file routes, and serves what takes a few lines (`ping`, `prompts/get`, `tools/call`,
//! the notifications). The method groups with more to them live below it: `lifecycle.rs`
//! (`initialize`, `logging/setLevel`), `lists.rs` (the `*/list` methods), `resources.rs`
//! (`resources/read`, `subscribe`, `unsubscribe`) and `completion.rs` (`completion/complete`);
//! `state.rs` holds a session's [`McpState`]. The stateless revision (2026-07-28) comes in
//! through `modern.rs` ([`Dispatcher::handle_modern`]: `server/discover`, the methods it
//! dropped, its results' envelope), and `rounds.rs` seals and opens the `requestState` of its
//! multi round-trip (`input_required`) results.

mod completion;
mod lifecycle;
mod lists;
mod modern;
mod resources;
pub mod rounds;
pub mod state;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, OnceLock},
    time::Duration,
};

use serde::Deserialize;
use serde_json::{Map, Value};

pub use lifecycle::{SERVER_NAME, SERVER_TITLE};
pub use modern::result_members;
use state::RequestMeta;
pub use state::{LOGGER, McpState};

use crate::{
    call::Notifier,
    draining::Draining,
    mcp::{
        jsonrpc::{ErrorObject, Notification, Request, RequestId, ResultObject, SerializedResult},
        protocol::{Method, ProtocolVersion, parse_params},
    },
    metrics::Metrics,
    tools::{CallToolResult, ToolReply},
};

pub use crate::call::PendingReply;
pub use crate::features::Features;

/// The answer to a request.
pub enum Outcome {
    Ready(Result<ResultObject, ErrorObject>),
    Pending(PendingReply),
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ready(result) => f.debug_tuple("Ready").field(result).finish(),
            Outcome::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// What a notification asks the session to do.
#[derive(Debug, PartialEq)]
pub enum NotificationEffect {
    /// Nothing more to do.
    Done,
    /// Stop the request with this id and send no response for it.
    Cancel(RequestId),
    /// A notification this server does not know or cannot take now: ignore it (never answer).
    Ignored(String),
}

/// Routes methods to their handlers. Shared by every session; cheap to clone.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    features: Features,
    config: DispatcherConfig,
    /// The first page of `tools/list` per protocol version, serialized once: the tools never
    /// change after start, every session asks, and the schemas make it the largest answer
    /// that involves no GitHub call.
    first_tools_page: Arc<OnceLock<Vec<(ProtocolVersion, SerializedResult)>>>,
    /// `server/discover`'s result (`modern.rs`), serialized once: it never changes either.
    discovered: Arc<OnceLock<SerializedResult>>,
}

/// The dispatcher's settings (from `mcp.*` and `limits.*`).
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Items per page in the `*/list` methods.
    pub page_size: usize,
    /// How often sessions re-read the resources they subscribed to.
    pub poll_interval: Duration,
    /// A tool call still running after this is stopped and answered with an error.
    pub tool_timeout: Duration,
    /// Requests one session may have in flight at once.
    pub max_in_flight: usize,
    /// Resources one session may subscribe to: each is re-read from GitHub every
    /// `poll_interval`, so without a bound one client could spend a shared token's budget.
    pub max_subscriptions: usize,
    /// Where sessions count their requests.
    pub metrics: Metrics,
    /// Seals the state of stateless `input_required` results (`rounds.rs`).
    pub request_state_key: rounds::StateKey,
    /// How long a sealed request state stays valid: a person may be answering.
    pub request_state_ttl: Duration,
    /// Set when the server starts shutting down; long tools stop at a safe point.
    pub draining: Draining,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            page_size: 50,
            poll_interval: Duration::from_secs(60),
            tool_timeout: Duration::from_secs(120),
            max_in_flight: 16,
            max_subscriptions: 20,
            metrics: Metrics::default(),
            request_state_key: rounds::StateKey::generate(),
            request_state_ttl: Duration::from_secs(600),
            draining: Draining::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallToolParams {
    name: String,
    #[serde(default)]
    arguments: Map<String, Value>,
    #[serde(rename = "_meta")]
    meta: Option<RequestMeta>,
    /// Stateless revision: answers to an `input_required` result (`rounds.rs`).
    input_responses: Option<Value>,
    request_state: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetPromptParams {
    name: String,
    #[serde(default)]
    arguments: HashMap<String, String>,
    input_responses: Option<Value>,
    request_state: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelledParams {
    request_id: RequestId,
}

impl Dispatcher {
    pub fn new(features: Features, config: DispatcherConfig) -> Self {
        Dispatcher {
            features,
            config,
            first_tools_page: Arc::default(),
            discovered: Arc::default(),
        }
    }

    /// Where changes to what the server offers are announced.
    pub fn changes(&self) -> &crate::features::Changes {
        &self.features.changes
    }

    pub fn config(&self) -> &DispatcherConfig {
        &self.config
    }

    /// Answers one request. `notifier` takes the request's progress, log and client-request
    /// messages (`None`: they are dropped). Before `initialize` only `initialize` and `ping`
    /// are served.
    pub fn handle_request(
        &self,
        state: &mut McpState,
        request: Request,
        notifier: Option<Notifier>,
    ) -> Outcome {
        let Request { method, params, .. } = request;
        self.serve(state, &method, params, notifier)
            .unwrap_or_else(|err| Outcome::Ready(Err(err)))
    }

    fn serve(
        &self,
        state: &mut McpState,
        name: &str,
        params: Option<Value>,
        notifier: Option<Notifier>,
    ) -> Result<Outcome, ErrorObject> {
        let negotiated = state.version;
        let version = || {
            negotiated.ok_or_else(|| {
                ErrorObject::invalid_request(format!(
                    "session not initialized: send initialize before {name}"
                ))
            })
        };
        let Some(method) = Method::parse(name) else {
            version()?;
            return Err(ErrorObject::method_not_found(name));
        };
        let ready = |result: Map<String, Value>| Outcome::Ready(Ok(result.into()));
        let resources = &self.features.resources;
        let prompts = &self.features.prompts;
        Ok(match method {
            Method::Ping => ready(Map::new()),
            Method::Initialize => ready(lifecycle::initialize(
                state,
                params,
                self.features.completions.is_enabled(),
            )?),
            Method::LoggingSetLevel => {
                version()?;
                ready(lifecycle::set_level(state, params)?)
            }
            Method::ToolsList => Outcome::Ready(Ok(self.list_tools(params, version()?)?)),
            Method::ResourcesList => {
                ready(self.list(name, params, "resources", &resources.resources(version()?))?)
            }
            Method::ResourcesTemplatesList => ready(self.list(
                name,
                params,
                "resourceTemplates",
                &resources.templates(version()?),
            )?),
            Method::PromptsList => {
                ready(self.list(name, params, "prompts", &prompts.definitions(version()?))?)
            }
            Method::PromptsGet => {
                version()?;
                let p: GetPromptParams = parse_params(name, params)?;
                // Sorted for the state's binding (`rounds.rs`); a session has no rounds.
                let sorted: BTreeMap<&String, &String> = match state.stateless {
                    true => p.arguments.iter().collect(),
                    false => BTreeMap::new(),
                };
                let round = self.round(
                    state,
                    name,
                    &p.name,
                    &sorted,
                    p.input_responses,
                    p.request_state,
                )?;
                let (round, sealer) = round.unzip();
                match prompts.get(&p.name, &p.arguments, round.as_ref())? {
                    Ok(result) => ready(result),
                    Err(input) => match sealer {
                        Some(sealer) => Outcome::Ready(Ok(sealer.input_required(input))),
                        None => return Err(ErrorObject::internal("a prompt asked for input")),
                    },
                }
            }
            Method::ToolsCall => self.call_tool(state, version()?, params, notifier)?,
            Method::ResourcesRead => self.read_resource(state, version()?, params, notifier)?,
            Method::CompletionComplete => self.complete(state, version()?, params, notifier)?,
            Method::ResourcesSubscribe | Method::ResourcesUnsubscribe => {
                version()?;
                let on = method == Method::ResourcesSubscribe;
                ready(self.subscribe(state, name, params, on)?)
            }
            // The stateless revision's own (`modern.rs`): unknown to a session, as before
            // they existed.
            Method::ServerDiscover | Method::SubscriptionsListen => {
                version()?;
                return Err(ErrorObject::method_not_found(name));
            }
        })
    }

    /// Handles one notification. It never produces a response.
    pub fn handle_notification(
        &self,
        state: &mut McpState,
        note: Notification,
    ) -> NotificationEffect {
        match note.method.as_str() {
            "notifications/initialized" if state.version.is_some() => {
                state.initialized = true;
                NotificationEffect::Done
            }
            "notifications/cancelled" => {
                match parse_params::<CancelledParams>(&note.method, note.params) {
                    Ok(params) => NotificationEffect::Cancel(params.request_id),
                    Err(err) => {
                        NotificationEffect::Ignored(format!("{}: {}", note.method, err.message))
                    }
                }
            }
            _ => NotificationEffect::Ignored(note.method),
        }
    }

    fn call_tool(
        &self,
        state: &McpState,
        version: ProtocolVersion,
        params: Option<Value>,
        notifier: Option<Notifier>,
    ) -> Result<Outcome, ErrorObject> {
        let p: CallToolParams = parse_params("tools/call", params)?;
        let mut context = state.context(version, p.meta.as_ref(), notifier);
        context.draining = self.config.draining.clone();
        let mut sealer = None;
        if state.stateless {
            let round = self.round(
                state,
                "tools/call",
                &p.name,
                &p.arguments,
                p.input_responses,
                p.request_state,
            )?;
            (context.round, sealer) = round.unzip();
        }
        let call = self.features.tools.call(&p.name, p.arguments, context)?;
        let limit = self.config.tool_timeout;
        Ok(Outcome::Pending(Box::pin(async move {
            let result = match tokio::time::timeout(limit, call).await {
                Ok(result) => result?,
                // Dropping the call stops its work; a GitHub write already sent is not
                // undone, so the message says to check.
                Err(_) => CallToolResult::error(format!(
                    "The tool call took longer than {} s and was stopped. If it was \
                     changing something, check the current state before trying again.",
                    limit.as_secs()
                ))
                .into(),
            };
            Ok(match (result, sealer) {
                (ToolReply::InputRequired(input), Some(sealer)) => sealer.input_required(input),
                (result, _) => result.into_result(version),
            })
        })))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        mcp::{
            jsonrpc::{ErrorCode, Version2},
            protocol::{LogLevel, Method},
        },
        tools::LocalFuture,
    };

    fn request(method: &str, params: Value) -> Request {
        Request {
            jsonrpc: Version2,
            id: RequestId::Number(1),
            method: method.into(),
            params: Some(params),
        }
    }

    fn ready(outcome: Outcome) -> Result<Map<String, Value>, ErrorObject> {
        match outcome {
            Outcome::Ready(result) => result.map(ResultObject::into_map),
            Outcome::Pending(_) => panic!("expected an immediate answer"),
        }
    }

    fn initialized(version: &str) -> (Dispatcher, McpState) {
        let dispatcher = Dispatcher::new(Features::default(), DispatcherConfig::default());
        let mut state = McpState::default();
        let params = json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
        ready(dispatcher.handle_request(&mut state, request("initialize", params), None)).unwrap();
        (dispatcher, state)
    }

    #[test]
    fn request_methods_lists_the_methods_that_are_answered() {
        let (dispatcher, mut state) = initialized("2025-06-18");
        for method in Method::ALL
            .iter()
            .filter(|m| m.is_handshake())
            .map(|m| m.as_str())
            .filter(|m| *m != "initialize")
        {
            if let Outcome::Ready(Err(err)) =
                dispatcher.handle_request(&mut state, request(method, json!({})), None)
            {
                assert_ne!(err.code, ErrorCode::METHOD_NOT_FOUND, "{method}");
            }
        }
        let unknown =
            dispatcher.handle_request(&mut state, request("tools/frobnicate", json!({})), None);
        assert!(matches!(unknown, Outcome::Ready(Err(e)) if e.code == ErrorCode::METHOD_NOT_FOUND));
    }

    #[test]
    fn tools_list_pages_through_every_tool_with_the_first_page_kept_serialized() {
        let features = crate::conformance::add_fixtures(Features::default());
        let config = DispatcherConfig {
            page_size: 2,
            ..DispatcherConfig::default()
        };
        let dispatcher = Dispatcher::new(features.clone(), config);
        for (version, titled) in [("2025-03-26", false), ("2025-06-18", true)] {
            let mut state = McpState::default();
            let params = json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
            ready(dispatcher.handle_request(&mut state, request("initialize", params), None))
                .unwrap();
            let kept =
                dispatcher.handle_request(&mut state, request("tools/list", json!({})), None);
            assert!(
                matches!(kept, Outcome::Ready(Ok(ResultObject::Serialized(_)))),
                "{version}: the first page is sent as kept text"
            );
            let mut list = |params: Value| {
                ready(dispatcher.handle_request(&mut state, request("tools/list", params), None))
                    .unwrap()
            };
            let first = list(json!({}));
            assert_eq!(list(json!({})), first, "{version}");
            let mut page = first;
            let mut listed = Vec::new();
            loop {
                let tools = page["tools"].as_array().unwrap();
                assert!(tools.len() <= 2, "{version}: {page:?}");
                assert!(tools.iter().all(|t| t.get("title").is_some() == titled));
                listed.extend(tools.iter().map(|t| t["name"].clone()));
                match page.get("nextCursor") {
                    Some(cursor) => page = list(json!({"cursor": cursor})),
                    None => break,
                }
            }
            let version = ProtocolVersion::negotiate(version);
            let all: Vec<Value> = features
                .tools
                .definitions(version)
                .iter()
                .map(|t| t["name"].clone())
                .collect();
            assert!(all.len() > 2);
            assert_eq!(listed, all);
        }
    }

    /// A tool that reports progress, then echoes `text` with the caller's principal.
    struct Echo(crate::tools::ToolDefinition);

    impl crate::tools::Tool for Echo {
        fn definition(&self) -> &crate::tools::ToolDefinition {
            &self.0
        }

        fn call(
            &self,
            arguments: Map<String, Value>,
            context: crate::call::CallContext,
        ) -> LocalFuture<Result<crate::tools::ToolReply, ErrorObject>> {
            let text = arguments
                .get("text")
                .and_then(Value::as_str)
                .map(String::from);
            Box::pin(async move {
                if let Some(progress) = &context.progress {
                    progress.report(1, 1, "echoing");
                }
                let text = text.unwrap_or_default();
                Ok(CallToolResult::text(format!("{} says {text}", context.principal)).into())
            })
        }
    }

    /// The seam a stateless transport uses: a request, the caller's state made for it, a
    /// sink for its notifications; no Session actor, no HTTP.
    #[actix::test]
    async fn answers_a_tool_call_without_a_session() {
        let echo = Echo(crate::tools::ToolDefinition {
            name: "echo".into(),
            title: "Echo".into(),
            description: "Says it again.".into(),
            input_schema: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
            output_schema: None,
            annotations: None,
        });
        let features = Features {
            tools: crate::tools::ToolRegistry::default().with(echo),
            ..Features::default()
        };
        let dispatcher = Dispatcher::new(features, DispatcherConfig::default());
        let principal = crate::auth::Principal {
            id: "key:1a2b3c4d".into(),
            credential: None,
            owner: crate::auth::Owner::new("key:1a2b3c4d".into(), None),
        };
        let mut state = McpState::stateless(&principal, ProtocolVersion::V2025_11_25);

        let listed =
            ready(dispatcher.handle_request(&mut state, request("tools/list", json!({})), None))
                .unwrap();
        assert_eq!(listed["tools"][0]["name"], "echo");
        assert_eq!(listed["tools"][0]["title"], "Echo");

        let (sender, mut receiver) = crate::outlet::channel(8, 1 << 16);
        let notifier = Notifier::new(crate::outlet::Outlet::plain(sender));
        let call = request(
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "hi"}, "_meta": {"progressToken": 7}}),
        );
        let Outcome::Pending(work) = dispatcher.handle_request(&mut state, call, Some(notifier))
        else {
            panic!("a tool call runs as a future");
        };
        let result = work.await.unwrap().into_map();
        assert_eq!(result["content"][0]["text"], "key:1a2b3c4d says hi");
        assert!(result.get("isError").is_none(), "{result:?}");
        let progress = receiver.recv().await.unwrap();
        let progress = &progress.message.as_ref().unwrap().json;
        assert!(progress.contains("notifications/progress"), "{progress}");
        assert!(progress.contains("\"progressToken\":7"), "{progress}");
    }

    #[test]
    fn initialize_gates_title_by_version() {
        let (_, state) = initialized("2025-06-18");
        assert_eq!(state.version, Some(ProtocolVersion::V2025_06_18));
        let dispatcher = Dispatcher::new(Features::default(), DispatcherConfig::default());
        for (version, has_title) in [
            ("2024-11-05", false),
            ("2025-03-26", false),
            ("2025-06-18", true),
        ] {
            let mut state = McpState::default();
            let params = json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
            let result =
                ready(dispatcher.handle_request(&mut state, request("initialize", params), None))
                    .unwrap();
            assert_eq!(
                result["serverInfo"].get("title").is_some(),
                has_title,
                "{version}"
            );
            assert_eq!(result["protocolVersion"], version);
        }
    }

    #[test]
    fn initialize_without_client_info_is_invalid_params() {
        let dispatcher = Dispatcher::new(Features::default(), DispatcherConfig::default());
        let mut state = McpState::default();
        let err = ready(dispatcher.handle_request(
            &mut state,
            request("initialize", json!({"protocolVersion": "2025-06-18"})),
            None,
        ))
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
        assert!(err.message.contains("clientInfo"), "{}", err.message);
        assert_eq!(state.version, None);
    }

    #[test]
    fn set_level_rejects_unknown_levels_naming_the_allowed_ones() {
        let (dispatcher, mut state) = initialized("2025-11-25");
        let err = ready(dispatcher.handle_request(
            &mut state,
            request("logging/setLevel", json!({"level": "verbose"})),
            None,
        ))
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
        assert!(err.message.contains("debug, info"), "{}", err.message);
        ready(dispatcher.handle_request(
            &mut state,
            request("logging/setLevel", json!({"level": "debug"})),
            None,
        ))
        .unwrap();
        assert_eq!(state.log_level, LogLevel::Debug);
    }

    #[test]
    fn initialized_notification_before_initialize_is_ignored() {
        let dispatcher = Dispatcher::new(Features::default(), DispatcherConfig::default());
        let mut state = McpState::default();
        let effect = dispatcher.handle_notification(
            &mut state,
            Notification::new("notifications/initialized", None),
        );
        assert_eq!(
            effect,
            NotificationEffect::Ignored("notifications/initialized".into())
        );
        assert!(!state.initialized);
    }

    #[test]
    fn cancellation_names_the_request_with_its_json_type() {
        let (dispatcher, mut state) = initialized("2025-11-25");
        let note = Notification::new(
            "notifications/cancelled",
            Some(json!({"requestId": "7", "reason": "x"})),
        );
        assert_eq!(
            dispatcher.handle_notification(&mut state, note),
            NotificationEffect::Cancel(RequestId::String("7".into()))
        );
    }
}
