//! The fixtures that only the stateless revision's scenarios call (docs/mcp-2026-07-28.md
//! §10.3): a tool that needs a client capability, log messages only on request, and the
//! tools that announce list changes to `subscriptions/listen` streams. The multi round-trip
//! ones are in `rounds.rs`.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{
    fixture::{Era, FixtureTool, replying},
    tools::{content, no_arguments, text},
};
use crate::{
    features::{Change, Changes},
    mcp::{
        jsonrpc::ErrorObject,
        protocol::{LogLevel, ProtocolVersion},
    },
    tools::{CallContext, LocalFuture, Tool, ToolDefinition, ToolReply},
};

pub fn fixtures() -> Vec<FixtureTool> {
    vec![
        replying(
            "test_missing_capability",
            "Needs the client's sampling capability, and is refused (-32021) without it",
            no_arguments(),
            |_, _| {
                Box::pin(async {
                    Ok(ToolReply::from(content(vec![text(
                        "the client declared sampling",
                    )])))
                })
            },
        )
        .requiring(&["sampling"])
        .only(Era::Modern),
        replying(
            "test_logging_tool",
            "Sends log messages, only to a request that set a log level",
            no_arguments(),
            |_, context| {
                Box::pin(async move {
                    for step in ["logging tool started", "logging tool finished"] {
                        if let Some(log) = &context.log {
                            log.log(LogLevel::Info, json!(step));
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Ok(ToolReply::from(content(vec![text("logging tool done")])))
                })
            },
        )
        .only(Era::Modern),
        replying(
            "test_custom_header",
            "Echoes its region, which clients mirror in the Mcp-Param-Region header",
            json!({"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
            }}),
            |arguments, _| {
                let region = arguments.get("region").cloned().unwrap_or(Value::Null);
                Box::pin(async move {
                    Ok(ToolReply::from(content(vec![text(&format!(
                        "region: {region}"
                    ))])))
                })
            },
        )
        .only(Era::Modern),
    ]
}

/// `test_trigger_tool_change` and `test_trigger_prompt_change`: announce that a list changed
/// to every open `subscriptions/listen` stream that asked (the lists themselves stay).
#[derive(Debug)]
pub struct Trigger {
    definition: ToolDefinition,
    change: Change,
    changes: Changes,
}

pub fn triggers(changes: &Changes) -> Vec<Trigger> {
    [
        ("test_trigger_tool_change", "tools", Change::ToolsList),
        ("test_trigger_prompt_change", "prompts", Change::PromptsList),
    ]
    .into_iter()
    .map(|(name, list, change)| Trigger {
        definition: ToolDefinition {
            name: name.into(),
            title: name.into(),
            description: format!("Announces that the {list} list changed to open listen streams"),
            input_schema: no_arguments(),
            output_schema: None,
            annotations: None,
        },
        change,
        changes: changes.clone(),
    })
    .collect()
}

impl Tool for Trigger {
    fn definition(&self) -> &ToolDefinition {
        &self.definition
    }

    fn offered(&self, version: ProtocolVersion) -> bool {
        version.is_modern()
    }

    fn call(
        &self,
        _: Map<String, Value>,
        _: CallContext,
    ) -> LocalFuture<Result<ToolReply, ErrorObject>> {
        self.changes.announce(self.change);
        Box::pin(async { Ok(ToolReply::from(content(vec![text("announced")]))) })
    }
}
