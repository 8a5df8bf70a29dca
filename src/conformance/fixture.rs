//! What a conformance fixture tool is: a definition, a handler (or, for a multi round-trip
//! fixture, a step run on each round), the era whose clients are offered it, and the client
//! capabilities it needs. The fixtures themselves are in `tools.rs`, `modern.rs` and
//! `rounds.rs`.

use serde_json::{Map, Value};

use crate::{
    call::Round,
    mcp::{jsonrpc::ErrorObject, protocol::ProtocolVersion},
    tools::{CallContext, CallToolResult, LocalFuture, Tool, ToolDefinition, ToolReply},
};

pub type Handler =
    fn(Map<String, Value>, CallContext) -> LocalFuture<Result<ToolReply, ErrorObject>>;
pub type ResultHandler =
    fn(Map<String, Value>, CallContext) -> LocalFuture<Result<CallToolResult, ErrorObject>>;

/// A fixture: a definition, its handler, and the era whose clients are offered it.
pub struct FixtureTool {
    definition: ToolDefinition,
    handler: Handler,
    /// A multi round-trip fixture's step, run on the request's round instead of `handler`.
    step: Option<Step>,
    era: Era,
    requires: &'static [&'static str],
}

/// One round of a multi round-trip fixture: the reply to what the retry brought back.
pub type Step = fn(&Round) -> Result<ToolReply, ErrorObject>;

/// Which clients see a fixture: the suite's scenarios for the handshake era and for the
/// stateless revision expect different tools (docs/mcp-2026-07-28.md §11.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Both,
    /// It sends requests to the client, which only a session can answer.
    Handshake,
    /// It answers with `input_required`, which only the stateless revision has.
    Modern,
}

impl std::fmt::Debug for FixtureTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FixtureTool({})", self.definition.name)
    }
}

impl Tool for FixtureTool {
    fn definition(&self) -> &ToolDefinition {
        &self.definition
    }

    fn requires(&self) -> &[&'static str] {
        self.requires
    }

    fn offered(&self, version: ProtocolVersion) -> bool {
        match self.era {
            Era::Both => true,
            Era::Handshake => !version.is_modern(),
            Era::Modern => version.is_modern(),
        }
    }

    fn call(
        &self,
        arguments: Map<String, Value>,
        context: CallContext,
    ) -> LocalFuture<Result<ToolReply, ErrorObject>> {
        let Some(step) = self.step else {
            return (self.handler)(arguments, context);
        };
        let reply = match &context.round {
            Some(round) => step(round),
            None => Err(ErrorObject::internal(
                "this fixture asks for input only on protocol revision 2026-07-28",
            )),
        };
        Box::pin(async move { reply })
    }
}

impl FixtureTool {
    /// The fixture, offered to `era`'s clients only.
    pub fn only(mut self, era: Era) -> Self {
        self.era = era;
        self
    }

    /// The fixture, answering each round with `step`.
    pub fn stepping(mut self, step: Step) -> Self {
        self.step = Some(step);
        self
    }

    /// The fixture, needing the client capabilities `requires`.
    pub fn requiring(mut self, requires: &'static [&'static str]) -> Self {
        self.requires = requires;
        self
    }
}

/// A fixture offered to both eras, whose handler answers with a [`ToolReply`].
pub fn replying(
    name: &str,
    description: &str,
    input_schema: Value,
    handler: Handler,
) -> FixtureTool {
    FixtureTool {
        definition: ToolDefinition {
            name: name.into(),
            title: name.into(),
            description: description.into(),
            input_schema,
            output_schema: None,
            annotations: None,
        },
        handler,
        step: None,
        era: Era::Both,
        requires: &[],
    }
}
