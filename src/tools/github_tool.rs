//! The machinery every GitHub tool shares: [`GitHubTool`] (a definition plus a [`Handler`]
//! function), the [`Env`] a handler works with, what a handler answers ([`HandlerResult`]),
//! [`Failure`] (a wrong argument or a GitHub error, both shown to the model as
//! `isError: true` results) and [`output`], the usual successful result. A `GitHubTool`
//! checks the arguments against the input schema before its handler runs, remembers the
//! repository a call named for completions, and writes the audit line of a write call.

use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    CallContext, CallToolResult, LocalFuture, Tool, ToolDefinition, ToolReply,
    args::{ArgError, Args},
    audit,
    render::Fence,
    renderings::Renderings,
};
use crate::{
    config::ToolSettings,
    github::{
        api::{GitHub, RepoRef},
        error::GitHubError,
        request::Credential,
    },
    mcp::jsonrpc::{ErrorObject, SerializedResult},
    policy::Policy,
};

/// Why a call did not succeed, in words for the model.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Argument(#[from] ArgError),
    #[error("{}", .error.explain(.what))]
    GitHub { error: GitHubError, what: String },
}

/// Attaches what a GitHub call was about to its error: `.about(|| format!("issue #{n} in {repo}"))`.
pub trait About<T> {
    fn about(self, what: impl FnOnce() -> String) -> Result<T, Failure>;
}

impl<T> About<T> for Result<T, GitHubError> {
    fn about(self, what: impl FnOnce() -> String) -> Result<T, Failure> {
        self.map_err(|error| Failure::GitHub {
            error,
            what: what(),
        })
    }
}

/// What a handler works with.
#[derive(Debug, Clone)]
pub struct Env {
    pub github: GitHub,
    pub credential: Credential,
    pub context: CallContext,
    pub settings: Arc<ToolSettings>,
    pub policy: Arc<Policy>,
    pub renderings: Renderings,
    /// The repository the call named, once read and allowed: the session remembers it for
    /// completions when the call ends, unless the call was refused on its arguments.
    named: Arc<OnceLock<RepoRef>>,
    /// Set by a handler whose every GitHub call failed before GitHub acted on it (see
    /// [`audit::not_acted_on`]) but which answers `Ok` all the same: not audited.
    acted_on_nothing: Arc<OnceLock<()>>,
}

impl Env {
    /// Reads `owner` and `repo`; they are remembered for completions if the call is accepted.
    pub fn repo(&self, args: &Args) -> Result<RepoRef, Failure> {
        let repo = args.repo()?;
        self.policy.check_repo(&repo).map_err(ArgError)?;
        let _ = self.named.set(repo.clone());
        Ok(repo)
    }

    /// Says that GitHub acted on none of this call's requests (each failed with an error
    /// [`audit::not_acted_on`] accepts), so that the call writes no audit line.
    pub fn acted_on_nothing(&self) {
        let _ = self.acted_on_nothing.set(());
    }

    /// The key of a rendering by `tool` of `what` (its arguments, normalized) for this caller:
    /// the credential decides what GitHub shows, the protocol version what the result holds.
    pub fn rendering_key(&self, tool: &str, what: std::fmt::Arguments<'_>) -> String {
        format!(
            "{tool} {what} credential={} version={}",
            self.credential.key(),
            self.context.version
        )
    }

    /// Keeps `serialized`, whose user text is inside `fence`'s markers, for the next call with
    /// the same key and sources, which gets it with a fresh code.
    pub fn keep_fenced<T: std::any::Any + Send + Sync>(
        &self,
        key: String,
        sources: &[Arc<T>],
        serialized: SerializedResult,
        fence: &Fence,
    ) -> ToolReply {
        self.renderings
            .keep_fenced(key, sources, serialized.clone(), fence);
        ToolReply::Serialized(serialized)
    }

    /// The result kept under `key` if it was rendered from these very pages.
    pub fn rendered<T: std::any::Any + Send + Sync>(
        &self,
        key: &str,
        sources: &[Arc<T>],
    ) -> Option<ToolReply> {
        self.renderings.get(key, sources).map(ToolReply::Serialized)
    }

    /// `result`, serialized for this caller.
    pub fn serialize(&self, result: CallToolResult) -> SerializedResult {
        SerializedResult::of(&result.into_result(self.context.version))
    }

    /// A successful result of `text` and `structured` content, serialized for this caller
    /// straight from `structured` (a borrowing struct): no `Value` tree is built first.
    pub fn serialize_output<S: Serialize>(&self, text: &str, structured: &S) -> SerializedResult {
        #[derive(Serialize)]
        struct Output<'a, S> {
            content: [TextContent<'a>; 1],
            #[serde(rename = "structuredContent", skip_serializing_if = "Option::is_none")]
            structured_content: Option<&'a S>,
        }
        #[derive(Serialize)]
        struct TextContent<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            text: &'a str,
        }
        let output = Output {
            content: [TextContent { kind: "text", text }],
            structured_content: Some(structured)
                .filter(|_| self.context.version.has_structured_content()),
        };
        SerializedResult::of_serializable(&output, false)
    }

    /// Keeps `serialized` for the next call with the same key and sources.
    pub fn keep<T: std::any::Any + Send + Sync>(
        &self,
        key: String,
        sources: &[Arc<T>],
        serialized: SerializedResult,
    ) -> ToolReply {
        self.renderings.keep(key, sources, serialized.clone());
        ToolReply::Serialized(serialized)
    }
}

/// What a handler answers: a result for the model, or why the call did not succeed (shown to
/// the model as an `isError: true` result all the same, but neither remembered nor audited
/// when an argument was wrong).
pub type HandlerResult = Result<ToolReply, Failure>;
/// A tool's handler: it reads its arguments, calls GitHub through the [`Env`] and renders.
pub type Handler = fn(Env, Args) -> LocalFuture<HandlerResult>;

/// A tool backed by GitHub.
pub struct GitHubTool {
    definition: ToolDefinition,
    handler: Handler,
    github: GitHub,
    settings: Arc<ToolSettings>,
    policy: Arc<Policy>,
    renderings: Renderings,
}

impl std::fmt::Debug for GitHubTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitHubTool({})", self.definition.name)
    }
}

impl GitHubTool {
    pub fn new(
        definition: ToolDefinition,
        handler: Handler,
        github: GitHub,
        settings: Arc<ToolSettings>,
        policy: Arc<Policy>,
        renderings: Renderings,
    ) -> Self {
        GitHubTool {
            definition,
            handler,
            github,
            settings,
            policy,
            renderings,
        }
    }
}

impl GitHubTool {
    /// Whether calls of this tool change GitHub, and so are audited.
    fn writes(&self) -> bool {
        self.definition
            .annotations
            .as_ref()
            .is_some_and(|hints| hints["readOnlyHint"] != true)
    }
}

impl Tool for GitHubTool {
    fn definition(&self) -> &ToolDefinition {
        &self.definition
    }

    fn call(
        &self,
        arguments: Map<String, Value>,
        context: CallContext,
    ) -> LocalFuture<Result<ToolReply, ErrorObject>> {
        // What the audit line needs of the raw arguments, taken bounded (numbers only); the
        // line itself is written only if the call is accepted and GitHub may have acted on it
        // (see `audit`).
        let audit = self.writes().then(|| {
            let issues = arguments
                .get("issue_number")
                .or_else(|| arguments.get("issue_numbers"));
            let tool = self.definition.name.clone();
            let era = audit::era(context.version);
            (tool, context.principal.clone(), era, audit::issues(issues))
        });
        let args = Args::new(arguments, &self.definition.input_schema);
        let started = match (args, context.credential.clone()) {
            (Err(err), _) => Err(CallToolResult::error(err.0).into()),
            (Ok(_), None) => Err(CallToolResult::error(
                "This session has no GitHub credential, so GitHub tools cannot run.",
            )
            .into()),
            (Ok(args), Some(credential)) => {
                let named = Arc::new(OnceLock::new());
                let acted_on_nothing = Arc::new(OnceLock::new());
                let memory = context.memory.clone();
                let work = (self.handler)(
                    Env {
                        github: self.github.clone(),
                        credential,
                        context,
                        settings: self.settings.clone(),
                        policy: self.policy.clone(),
                        renderings: self.renderings.clone(),
                        named: named.clone(),
                        acted_on_nothing: acted_on_nothing.clone(),
                    },
                    args,
                );
                Ok((work, named, memory, acted_on_nothing))
            }
        };
        Box::pin(async move {
            let (result, audited) = match started {
                Err(refusal) => (refusal, None),
                Ok((work, named, memory, acted_on_nothing)) => {
                    let outcome = work.await;
                    // A call refused on its arguments (`issue_number: 0`, say) taught nothing
                    // about the repository and changed nothing: only calls that were
                    // accepted are remembered and audited.
                    let accepted = !matches!(outcome, Err(Failure::Argument(_)));
                    if let (Some(repo), true) = (named.get(), accepted) {
                        memory.remember(repo);
                    }
                    // Nor is a call GitHub never acted on (see `audit::not_acted_on`): refused
                    // at once by the gateway, it could be repeated at request rate.
                    let audited = accepted
                        && acted_on_nothing.get().is_none()
                        && !matches!(&outcome,
                            Err(Failure::GitHub { error, .. }) if audit::not_acted_on(error));
                    let result = outcome.unwrap_or_else(|failure| {
                        CallToolResult::error(failure.to_string()).into()
                    });
                    (result, audited.then(|| named.get().cloned()))
                }
            };
            if let (Some((tool, principal, era, issues)), Some(repo)) = (audit, audited) {
                let line = audit::line(&principal, era, &tool, repo.as_ref(), &issues);
                let outcome = if result.is_error() { "failed" } else { "ok" };
                log::info!(target: "audit", "{line} outcome={outcome}");
            }
            Ok(result)
        })
    }
}

/// A result with Markdown text and the same data as structured content.
pub fn output(text: String, structured: Value) -> CallToolResult {
    CallToolResult {
        structured_content: Some(structured),
        ..CallToolResult::text(text)
    }
}

/// Calling a GitHub tool in a unit test, as a session with a credential does, through
/// [`GitHubTool`]: for calls that end before any request to GitHub, refused on their
/// arguments or by the policy. The gateway is real; its GitHub is a closed local port.
#[cfg(test)]
pub mod testing {
    use actix::Actor;
    use serde_json::Value;

    use super::*;
    use crate::{
        config::{GitHubSettings, Secret},
        github::{gateway::GitHubGateway, transport::Moves},
        mcp::protocol::ProtocolVersion,
        metrics::Metrics,
    };

    /// The text of the `isError` result `definition`'s `handler` answers to `arguments`, on a
    /// server without a policy. Runs inside an actix system (`#[actix::test]`).
    pub async fn refusal(definition: ToolDefinition, handler: Handler, arguments: Value) -> String {
        refusal_under(Policy::default(), definition, handler, arguments).await
    }

    /// As [`refusal`], under `policy`.
    pub async fn refusal_under(
        policy: Policy,
        definition: ToolDefinition,
        handler: Handler,
        arguments: Value,
    ) -> String {
        let settings = GitHubSettings {
            api_url: "http://127.0.0.1:9".into(),
            ..GitHubSettings::test_defaults()
        };
        let gateway = GitHubGateway::new(&settings, Moves::Follow, Metrics::default())
            .expect("test settings are valid")
            .start();
        let tool = GitHubTool::new(
            definition,
            handler,
            GitHub::new(gateway.recipient(), &settings.api_url),
            Arc::new(ToolSettings {
                body_max_chars: 100,
                comments_max: 10,
            }),
            Arc::new(policy),
            Renderings::default(),
        );
        let context = CallContext {
            credential: Some(Credential::new(Secret::new("t"))),
            ..CallContext::bare(ProtocolVersion::LATEST)
        };
        let memory = context.memory.clone();
        let Value::Object(arguments) = arguments else {
            panic!("arguments are an object");
        };
        let reply = tool.call(arguments, context).await.expect("a tool result");
        let ToolReply::Built(result) = reply else {
            panic!("a refusal is built, not a kept rendering: {reply:?}");
        };
        assert!(result.is_error, "refused: {:?}", result.content);
        // Refused on its arguments: the repository named is not remembered for completions
        // (nor is the call audited).
        assert!(memory.repositories().is_empty(), "nothing remembered");
        result.content[0]["text"]
            .as_str()
            .expect("a text result")
            .to_string()
    }
}
