//! The tool registry: what `tools/list` shows and where `tools/call` goes.
//!
//! The dispatcher asks the registry for definitions and hands it calls; each tool is a
//! definition plus an async handler. [`github_tools`] builds the registry of the GitHub issue
//! tools, one module each, holding its definition, its handler and its tests:
//!
//! - read-only: [`list_issues`], [`list_issues_paginated`], [`get_issue`], [`search_issues`],
//!   [`list_issue_comments`];
//! - changing GitHub: [`create_issue`], [`update_issue`], [`batch_label_issues`],
//!   [`add_issue_comment`].
//!
//! They share [`github_tool`] (the [`Tool`] every GitHub tool is, and what a handler works
//! with), [`definition`] (the parts of a definition), [`args`] (reading arguments), [`confirm`]
//! (asking the user before a change that is hard to undo), [`render`]
//! (text, structured content and the hygiene of GitHub's text), [`renderings`] (results kept
//! for reuse), [`audit`] (the audit line of a write call), [`issue_list`] (what both list tools
//! answer) and [`issue_fields`] (the fields create and update take). Tests register their own
//! tools through [`ToolRegistry::with`].

pub mod args;
pub mod audit;
pub mod confirm;
pub mod definition;
pub mod github_tool;
pub mod issue_fields;
pub mod issue_list;
pub mod render;
pub mod renderings;

pub mod add_issue_comment;
pub mod batch_label_issues;
pub mod create_issue;
pub mod get_issue;
pub mod list_issue_comments;
pub mod list_issues;
pub mod list_issues_paginated;
pub mod search_issues;
pub mod update_issue;

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value, json};

pub use crate::call::{CallContext, InputRequired};
use crate::{
    config::ToolSettings,
    github::api::GitHub,
    mcp::{
        jsonrpc::{ErrorObject, ResultObject, SerializedResult},
        protocol::ProtocolVersion,
    },
    metrics::Metrics,
    policy::Policy,
};

pub use crate::call::LocalFuture;

/// What a model sees of a tool. Fields that only later revisions define are dropped for
/// sessions on older ones (see [`ToolDefinition::to_json`]).
#[derive(Debug, Clone)]
pub struct ToolDefinition {
    pub name: String,
    pub title: String,
    pub description: String,
    /// JSON Schema for the arguments; its root must be `"type": "object"`.
    pub input_schema: Value,
    pub output_schema: Option<Value>,
    /// `readOnlyHint`, `destructiveHint`, `idempotentHint`, `openWorldHint`.
    pub annotations: Option<Value>,
}

impl ToolDefinition {
    pub fn to_json(&self, version: ProtocolVersion) -> Value {
        let mut tool = json!({
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
        });
        if version.has_titles() {
            tool["title"] = json!(self.title);
        }
        if let (true, Some(schema)) = (version.has_structured_content(), &self.output_schema) {
            tool["outputSchema"] = schema.clone();
        }
        if let (true, Some(annotations)) = (version.has_annotations(), &self.annotations) {
            tool["annotations"] = annotations.clone();
        }
        tool
    }
}

/// What a tool call produced. `is_error` marks failures the model can act on (a bad argument
/// value, a GitHub error); protocol faults are JSON-RPC errors instead.
#[derive(Debug, Clone, Default)]
pub struct CallToolResult {
    pub content: Vec<Value>,
    pub structured_content: Option<Value>,
    pub is_error: bool,
}

impl CallToolResult {
    pub fn text(text: impl Into<String>) -> Self {
        CallToolResult {
            content: vec![json!({"type": "text", "text": text.into()})],
            ..Default::default()
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        CallToolResult {
            is_error: true,
            ..Self::text(text)
        }
    }

    pub fn into_result(self, version: ProtocolVersion) -> Map<String, Value> {
        let mut result = Map::new();
        result.insert("content".into(), Value::Array(self.content));
        if let (true, Some(structured)) =
            (version.has_structured_content(), self.structured_content)
        {
            result.insert("structuredContent".into(), structured);
        }
        if self.is_error {
            result.insert("isError".into(), Value::Bool(true));
        }
        result
    }
}

/// What a tool call gives back: a result still to be serialized, or one already serialized
/// for the caller's protocol version (a rendering kept by [`renderings::Renderings`]).
#[derive(Debug, Clone)]
pub enum ToolReply {
    Built(CallToolResult),
    Serialized(SerializedResult),
    /// The tool needs the client's input first (stateless revision only: a handler returns
    /// it only when its context has a [`crate::call::Round`]); the dispatcher seals its state.
    InputRequired(InputRequired),
}

impl ToolReply {
    pub fn is_error(&self) -> bool {
        match self {
            ToolReply::Built(result) => result.is_error,
            ToolReply::Serialized(serialized) => serialized.is_tool_error(),
            ToolReply::InputRequired(_) => false,
        }
    }

    /// The complete result. (An `input_required` reply is turned into a result by the
    /// dispatcher before this; one that reached a session anyway is a tool error.)
    pub fn into_result(self, version: ProtocolVersion) -> ResultObject {
        match self {
            ToolReply::Built(result) => result.into_result(version).into(),
            ToolReply::Serialized(serialized) => serialized.into(),
            ToolReply::InputRequired(_) => CallToolResult::error(
                "this tool needs the client's input, which it asks for only on protocol \
                 revision 2026-07-28",
            )
            .into_result(version)
            .into(),
        }
    }
}

impl From<CallToolResult> for ToolReply {
    fn from(result: CallToolResult) -> Self {
        ToolReply::Built(result)
    }
}

/// One tool: its definition and its handler.
pub trait Tool: Send + Sync {
    fn definition(&self) -> &ToolDefinition;
    /// Client capabilities a call needs. A stateless request that does not declare them is
    /// refused (-32021) before the tool runs; a session's tool asks and copes.
    fn requires(&self) -> &[&'static str] {
        &[]
    }
    /// Whether clients of `version` are offered the tool (listed, and callable). Every GitHub
    /// tool is; some conformance fixtures exist for one era only.
    fn offered(&self, version: ProtocolVersion) -> bool {
        let _ = version;
        true
    }
    fn call(
        &self,
        arguments: Map<String, Value>,
        context: CallContext,
    ) -> LocalFuture<Result<ToolReply, ErrorObject>>;
}

/// Tool definitions as `tools/list` shows them, per protocol version.
type Listed = Vec<(ProtocolVersion, Vec<Value>)>;

/// An argument that a stateless client mirrors in an `Mcp-Param-{header}` header (its schema
/// says `"x-mcp-header": "{header}"`), so that a proxy can route on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamHeader {
    pub header: String,
    pub argument: String,
    /// The argument's JSON type: `string`, `integer` or `boolean`.
    pub kind: String,
}

impl ParamHeader {
    /// The annotated top-level arguments of an input schema.
    fn of(schema: &Value) -> Vec<ParamHeader> {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        properties
            .iter()
            .filter_map(|(argument, property)| {
                Some(ParamHeader {
                    header: property.get("x-mcp-header")?.as_str()?.to_string(),
                    argument: argument.clone(),
                    kind: property.get("type")?.as_str()?.to_string(),
                })
            })
            .collect()
    }
}

/// The tools this server offers, in the order `tools/list` shows them. Cheap to clone.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: Arc<Vec<Arc<dyn Tool>>>,
    /// Tools the policy withholds, with why: refused by name if called anyway.
    disabled: Arc<Vec<(String, String)>>,
    /// `definitions` per protocol version, built on first use: a registry does not change
    /// once built (`with` and `disable` make a new one), and building the JSON of every schema
    /// on each `tools/list` cost more than the rest of the request.
    listed: Arc<OnceLock<Listed>>,
    /// Each tool's [`ParamHeader`]s, by tool, built on first use.
    param_headers: Arc<OnceLock<Vec<Vec<ParamHeader>>>>,
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tools.iter().map(|tool| &tool.definition().name))
            .finish()
    }
}

impl ToolRegistry {
    /// Adds a tool; a second tool of the same name replaces the first.
    pub fn with(self, tool: impl Tool + 'static) -> Self {
        let mut tools: Vec<_> = self.tools.iter().cloned().collect();
        tools.retain(|known| known.definition().name != tool.definition().name);
        tools.push(Arc::new(tool));
        ToolRegistry {
            tools: Arc::new(tools),
            disabled: self.disabled,
            listed: Arc::default(),
            param_headers: Arc::default(),
        }
    }

    /// Withholds a tool: not listed, and a call says `reason`.
    pub fn disable(self, name: &str, reason: String) -> Self {
        let mut disabled: Vec<_> = self.disabled.iter().cloned().collect();
        disabled.push((name.to_string(), reason));
        ToolRegistry {
            tools: self.tools,
            disabled: Arc::new(disabled),
            listed: Arc::default(),
            param_headers: Arc::default(),
        }
    }

    pub fn definitions(&self, version: ProtocolVersion) -> &[Value] {
        let listed = self.listed.get_or_init(|| {
            ProtocolVersion::ALL
                .iter()
                .map(|&v| {
                    let offered = self.tools.iter().filter(|t| t.offered(v));
                    (v, offered.map(|t| t.definition().to_json(v)).collect())
                })
                .collect()
        });
        listed
            .iter()
            .find(|(v, _)| *v == version)
            .map_or(&[], |(_, definitions)| definitions)
    }

    /// The tool `name` as offered to clients of `version`.
    fn find(&self, name: &str, version: ProtocolVersion) -> Option<&Arc<dyn Tool>> {
        self.tools
            .iter()
            .find(|tool| tool.definition().name == name && tool.offered(version))
    }

    /// The arguments of tool `name` that stateless clients mirror in `Mcp-Param-*` headers.
    pub fn param_headers(&self, name: &str, version: ProtocolVersion) -> &[ParamHeader] {
        let all = self.param_headers.get_or_init(|| {
            self.tools
                .iter()
                .map(|tool| ParamHeader::of(&tool.definition().input_schema))
                .collect()
        });
        self.tools
            .iter()
            .position(|tool| tool.definition().name == name && tool.offered(version))
            .map_or(&[], |index| &all[index])
    }

    /// The client capabilities a call of `name` needs (none for a tool not offered).
    pub fn requirements(&self, name: &str, version: ProtocolVersion) -> &[&'static str] {
        self.find(name, version).map_or(&[], |tool| tool.requires())
    }

    /// Starts a call. An unknown name is a protocol error (-32602), as the spec says.
    pub fn call(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        context: CallContext,
    ) -> Result<LocalFuture<Result<ToolReply, ErrorObject>>, ErrorObject> {
        let tool = self.find(name, context.version).ok_or_else(|| {
            if let Some((_, reason)) = self.disabled.iter().find(|(n, _)| n == name) {
                return ErrorObject::invalid_params(reason.clone());
            }
            let known: Vec<_> = self
                .tools
                .iter()
                .filter(|t| t.offered(context.version))
                .map(|t| t.definition().name.as_str())
                .collect();
            ErrorObject::invalid_params(format!(
                "unknown tool {name:?}; tools/list gives the available ones ({})",
                if known.is_empty() {
                    "none yet".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        Ok(tool.call(arguments, context))
    }
}

/// The GitHub issue tools, in the order `tools/list` shows them.
pub fn github_tools(
    github: GitHub,
    settings: ToolSettings,
    policy: Arc<Policy>,
    metrics: Metrics,
) -> ToolRegistry {
    let settings = Arc::new(settings);
    let renderings = renderings::Renderings::new(metrics);
    let tools: [(ToolDefinition, github_tool::Handler); 9] = [
        (list_issues::definition(), list_issues::handle),
        (get_issue::definition(), get_issue::handle),
        (create_issue::definition(), create_issue::handle),
        (update_issue::definition(), update_issue::handle),
        (search_issues::definition(), search_issues::handle),
        (
            list_issues_paginated::definition(),
            list_issues_paginated::handle,
        ),
        (batch_label_issues::definition(), batch_label_issues::handle),
        (add_issue_comment::definition(), add_issue_comment::handle),
        (
            list_issue_comments::definition(),
            list_issue_comments::handle,
        ),
    ];
    tools.into_iter().fold(
        ToolRegistry::default(),
        |registry, (definition, handler)| {
            let read_only = definition
                .annotations
                .as_ref()
                .is_some_and(|hints| hints["readOnlyHint"] == true);
            match policy.disabled(&definition.name, read_only) {
                Some(reason) => registry.disable(&definition.name, reason),
                None => registry.with(github_tool::GitHubTool::new(
                    definition,
                    handler,
                    github.clone(),
                    settings.clone(),
                    policy.clone(),
                    renderings.clone(),
                )),
            }
        },
    )
}
