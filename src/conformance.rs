//! The fixtures that the official MCP conformance suite calls (`test_simple_text`,
//! `test://static-text`, `test_simple_prompt`, ...), with the names and shapes of the suite's
//! reference server (docs/mcp-protocol.md §9.4).
//!
//! Off by default; `mcp.conformance_fixtures = true` or `MCP_CONFORMANCE_FIXTURES=1` adds them
//! beside the GitHub features. They run on the same machinery the GitHub tools use (request
//! streams, progress, logging, requests to the client, subscriptions), so the suite passing
//! says something about the real server. The tools are in [`tools`]; resources and prompts here.

use serde_json::{Value, json};

use crate::{
    features::Features,
    mcp::jsonrpc::ErrorObject,
    prompts::{PromptArgument, PromptDefinition, PromptFn, RenderFn, messages},
    resources::{ResourceEntry, ResourceSource},
    tools::{CallContext, LocalFuture},
};

mod fixture;
mod modern;
mod rounds;
mod tools;

/// A 1×1 PNG.
pub const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
/// A short silent WAV.
pub const WAV: &str =
    "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Adds the fixtures to `features`.
pub fn add_fixtures(features: Features) -> Features {
    let mut tools = features.tools;
    let fixtures = tools::fixtures().into_iter().chain(modern::fixtures());
    for tool in fixtures.chain(rounds::fixtures()) {
        tools = tools.with(tool);
    }
    for trigger in modern::triggers(&features.changes) {
        tools = tools.with(trigger);
    }
    let mut prompts = features.prompts;
    for prompt in fixture_prompts() {
        prompts = prompts.with(prompt);
    }
    prompts = prompts.with(rounds::ContextPrompt(PromptDefinition {
        name: "test_input_required_result_prompt".into(),
        title: "test_input_required_result_prompt".into(),
        description: "Asks for context (elicitation) before it renders, on 2026-07-28".into(),
        arguments: Vec::new(),
    }));
    Features {
        tools,
        resources: features.resources.with(TestResources),
        prompts,
        ..features
    }
}

#[derive(Debug)]
struct TestResources;

fn entry(uri: &str, name: &str, mime_type: &str, description: &str) -> ResourceEntry {
    ResourceEntry {
        uri: uri.into(),
        name: name.into(),
        title: name.into(),
        description: description.into(),
        mime_type: mime_type.into(),
    }
}

impl ResourceSource for TestResources {
    fn resources(&self) -> Vec<ResourceEntry> {
        vec![
            entry(
                "test://static-text",
                "static-text",
                "text/plain",
                "A static text resource",
            ),
            entry(
                "test://static-binary",
                "static-binary",
                "image/png",
                "A static binary resource",
            ),
            entry(
                "test://watched-resource",
                "watched-resource",
                "text/plain",
                "A resource to subscribe to",
            ),
        ]
    }

    fn templates(&self) -> Vec<ResourceEntry> {
        vec![entry(
            "test://template/{id}/data",
            "template",
            "application/json",
            "A resource template with an id",
        )]
    }

    fn read(
        &self,
        uri: &str,
        _context: &CallContext,
    ) -> Option<LocalFuture<Result<Vec<Value>, ErrorObject>>> {
        let content = match uri {
            "test://static-text" => json!({"uri": uri, "mimeType": "text/plain",
                "text": "This is the content of the static text resource."}),
            "test://static-binary" => json!({"uri": uri, "mimeType": "image/png", "blob": PNG}),
            "test://watched-resource" => json!({"uri": uri, "mimeType": "text/plain",
                "text": "Watched resource content."}),
            _ => {
                let id = uri
                    .strip_prefix("test://template/")?
                    .strip_suffix("/data")?;
                let data =
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                json!({"uri": uri, "mimeType": "application/json", "text": data.to_string()})
            }
        };
        Some(Box::pin(async move { Ok(vec![content]) }))
    }
}

fn user(content: Value) -> Value {
    json!({"role": "user", "content": content})
}

fn prompt(name: &str, description: &str, arguments: &[&str], render: RenderFn) -> PromptFn {
    PromptFn {
        definition: PromptDefinition {
            name: name.into(),
            title: name.into(),
            description: description.into(),
            arguments: arguments
                .iter()
                .map(|arg| PromptArgument {
                    name: arg.to_string(),
                    description: format!("The {arg} argument"),
                    required: true,
                })
                .collect(),
        },
        render,
    }
}

fn fixture_prompts() -> Vec<PromptFn> {
    vec![
        prompt(
            "test_simple_prompt",
            "A simple prompt without arguments",
            &[],
            |_| {
                Ok(messages(
                    None,
                    vec![user(
                        json!({"type": "text", "text": "This is a simple prompt for testing."}),
                    )],
                ))
            },
        ),
        prompt(
            "test_prompt_with_arguments",
            "A prompt with arguments",
            &["arg1", "arg2"],
            |args| {
                let arg = |name: &str| args.get(name).cloned().unwrap_or_default();
                let text = format!(
                    "Prompt with arguments: arg1='{}', arg2='{}'",
                    arg("arg1"),
                    arg("arg2")
                );
                Ok(messages(
                    None,
                    vec![user(json!({"type": "text", "text": text}))],
                ))
            },
        ),
        prompt(
            "test_prompt_with_embedded_resource",
            "A prompt with an embedded resource",
            &["resourceUri"],
            |args| {
                let uri = args.get("resourceUri").cloned().unwrap_or_default();
                Ok(messages(
                    None,
                    vec![
                        user(
                            json!({"type": "resource", "resource": {"uri": uri, "mimeType": "text/plain",
                        "text": "Embedded resource content for testing."}}),
                        ),
                        user(
                            json!({"type": "text", "text": "Please process the embedded resource above."}),
                        ),
                    ],
                ))
            },
        ),
        prompt(
            "test_prompt_with_image",
            "A prompt with an image",
            &[],
            |_| {
                Ok(messages(
                    None,
                    vec![
                        user(json!({"type": "image", "data": PNG, "mimeType": "image/png"})),
                        user(json!({"type": "text", "text": "Please analyze the image above."})),
                    ],
                ))
            },
        ),
    ]
}
