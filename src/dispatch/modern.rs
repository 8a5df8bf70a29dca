//! The stateless revision (2026-07-28) on the dispatcher: `server/discover`, the methods that
//! revision dropped, and the envelope of its results.
//!
//! `crate::http::modern` calls [`Dispatcher::handle_modern`] with the request's [`Envelope`],
//! already checked against its headers; the request is then served by the same handlers as a
//! session's ([`Dispatcher::handle_request`]), on an [`McpState`] made for it alone from what
//! the envelope declares. What differs is here: the errors the revision renamed get their new
//! codes, and [`result_members`] says what every result carries beyond a session's
//! (`resultType`, the server's name in `_meta`, caching hints on the six cacheable ones),
//! which the transport writes into the answer's text.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::{Dispatcher, McpState, Outcome, SERVER_NAME, lifecycle::INSTRUCTIONS};
use crate::{
    auth::Principal,
    call::Notifier,
    mcp::{
        envelope::{self, Envelope, SERVER_INFO},
        jsonrpc::{ErrorCode, ErrorObject, Members, Request, ResultObject, SerializedResult},
        protocol::{Method, ProtocolVersion},
    },
    tools::ParamHeader,
};

/// How long a client may reuse a list that does not change while the server runs (the tools,
/// prompts and templates, and `server/discover`): a new configuration is seen within this.
const STATIC_TTL_MS: u64 = 300_000;
/// How long a client may reuse `resources/list`.
const RESOURCES_TTL_MS: u64 = 60_000;

impl Dispatcher {
    /// Answers one request of the stateless revision for `principal`. `version` is the
    /// envelope's revision, known to be served. A method the revision does not have, or whose
    /// capability is not offered, is -32601.
    pub fn handle_modern(
        &self,
        principal: &Principal,
        envelope: &Envelope,
        version: ProtocolVersion,
        request: Request,
        notifier: Option<Notifier>,
    ) -> Outcome {
        let method = match Method::parse(&request.method) {
            Some(method) if method.is_modern() && self.offers(method) => method,
            _ => return Outcome::Ready(Err(ErrorObject::method_not_found(&request.method))),
        };
        match method {
            Method::ServerDiscover => return Outcome::Ready(Ok(self.discover())),
            // A stream of its own, which the transport keeps (`crate::http::modern`).
            Method::SubscriptionsListen => {
                return Outcome::Ready(Err(ErrorObject::method_not_found(&request.method)));
            }
            Method::ToolsCall => {
                if let Err(err) = self.check_tool_capabilities(envelope, version, &request) {
                    return Outcome::Ready(Err(err));
                }
            }
            _ => {}
        }
        let mut state = McpState::stateless(principal, version);
        state.client = envelope.client.clone();
        state.client_capabilities = envelope.capabilities;
        match envelope.log_level {
            Some(level) => state.log_level = level,
            None => state.quiet = true,
        }
        match self.handle_request(&mut state, request, notifier) {
            Outcome::Ready(result) => Outcome::Ready(result.map_err(modern_error)),
            Outcome::Pending(work) => {
                Outcome::Pending(Box::pin(async move { work.await.map_err(modern_error) }))
            }
        }
    }

    /// The arguments of tool `name` that stateless clients mirror in `Mcp-Param-*` headers.
    pub fn param_headers(&self, name: &str, version: ProtocolVersion) -> &[ParamHeader] {
        self.features.tools.param_headers(name, version)
    }

    /// Whether the server offers `method` (its capability is advertised in `discover`).
    fn offers(&self, method: Method) -> bool {
        match method {
            Method::CompletionComplete => self.features.completions.is_enabled(),
            _ => true,
        }
    }

    /// -32021 if the named tool needs client capabilities the request did not declare.
    pub fn check_tool_capabilities(
        &self,
        envelope: &Envelope,
        version: ProtocolVersion,
        request: &Request,
    ) -> Result<(), ErrorObject> {
        let Some(name) = request
            .params
            .as_ref()
            .and_then(|params| params.get("name"))
            .and_then(Value::as_str)
        else {
            return Ok(());
        };
        let missing: Vec<&str> = self
            .features
            .tools
            .requirements(name, version)
            .iter()
            .copied()
            .filter(|capability| !envelope.capabilities.has(capability))
            .collect();
        match missing.is_empty() {
            true => Ok(()),
            false => Err(envelope::missing_capabilities(&missing)),
        }
    }

    /// `server/discover`: the revisions served without a session, and the capabilities as
    /// this server serves them there.
    pub fn discover(&self) -> ResultObject {
        let kept = self.discovered.get_or_init(|| {
            let ResultObject::Built(result) = self.discovery() else {
                unreachable!("built just now")
            };
            SerializedResult::of(&result)
        });
        kept.clone().into()
    }

    fn discovery(&self) -> ResultObject {
        let mut capabilities = json!({
            "logging": {},
            "tools": {"listChanged": true},
            "prompts": {"listChanged": true},
            "resources": {"subscribe": true, "listChanged": true},
        });
        if self.features.completions.is_enabled() {
            capabilities["completions"] = json!({});
        }
        let versions: Vec<&str> = ProtocolVersion::MODERN.iter().map(|v| v.as_str()).collect();
        let result = json!({
            "supportedVersions": versions,
            "capabilities": capabilities,
            "instructions": INSTRUCTIONS,
        });
        let Value::Object(result) = result else {
            unreachable!("json! object literal")
        };
        result.into()
    }
}

/// What the revision adds to a result of `method` (the transport adds it when it writes the
/// answer, into the text of a kept result): `resultType`, the server's name in `_meta`, and
/// for the six cacheable methods' complete results, `ttlMs` and `cacheScope`. An
/// `input_required` result (`rounds.rs`) says its type already and is never cached.
pub fn result_members(method: Option<Method>, result: &ResultObject) -> &'static Members {
    /// [complete, complete + static lists' hint, + resources/list's, + resources/read's,
    /// input_required]
    static MEMBERS: LazyLock<[Members; 5]> = LazyLock::new(|| {
        let complete = |hint: Option<(u64, &str)>| {
            let mut members = Map::new();
            members.insert("resultType".into(), json!("complete"));
            if let Some((ttl, scope)) = hint {
                members.insert("ttlMs".into(), json!(ttl));
                members.insert("cacheScope".into(), json!(scope));
            }
            members.insert("_meta".into(), server_info());
            Members::new(members)
        };
        let mut input_required = Map::new();
        input_required.insert("_meta".into(), server_info());
        [
            complete(None),
            complete(Some((STATIC_TTL_MS, "public"))),
            complete(Some((RESOURCES_TTL_MS, "private"))),
            complete(Some((0, "private"))),
            Members::new(input_required),
        ]
    });
    if let ResultObject::Built(map) = result
        && map.contains_key("resultType")
    {
        return &MEMBERS[4];
    }
    &MEMBERS[match method.map(cache_hint) {
        Some(Hint::Static) => 1,
        Some(Hint::ResourcesList) => 2,
        Some(Hint::ResourceRead) => 3,
        Some(Hint::None) | None => 0,
    }]
}

/// Which caching hint a method's complete result carries.
enum Hint {
    None,
    /// Lists that do not change while the server runs: anyone may reuse them a while.
    Static,
    /// `resources/list`, and `resources/read`: read with the caller's credentials.
    ResourcesList,
    ResourceRead,
}

fn cache_hint(method: Method) -> Hint {
    match method {
        Method::ServerDiscover
        | Method::ToolsList
        | Method::PromptsList
        | Method::ResourcesTemplatesList => Hint::Static,
        Method::ResourcesList => Hint::ResourcesList,
        Method::ResourcesRead => Hint::ResourceRead,
        _ => Hint::None,
    }
}

/// The server's name, as every result of the revision carries it in `_meta`.
fn server_info() -> Value {
    json!({SERVER_INFO: {"name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION")}})
}

/// An error in the revision's vocabulary: resource not found is -32602 (with its URI), and
/// the handshake era's implementation-defined -32000..-32019 become -32603.
fn modern_error(mut error: ErrorObject) -> ErrorObject {
    match error.code {
        ErrorCode::RESOURCE_NOT_FOUND => error.code = ErrorCode::INVALID_PARAMS,
        ErrorCode(code) if (-32019..=-32000).contains(&code) => {
            error.code = ErrorCode::INTERNAL_ERROR;
        }
        _ => {}
    }
    error
}
