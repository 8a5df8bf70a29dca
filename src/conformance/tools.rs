//! The conformance suite's tools: content types, logging, progress, errors, and requests to the
//! client (sampling, elicitation).

use std::time::Duration;

use serde_json::{Value, json};

use super::fixture::{Era, FixtureTool, ResultHandler, replying};
use super::{PNG, WAV};
use crate::{
    mcp::{jsonrpc::ErrorObject, protocol::LogLevel},
    tools::{CallContext, CallToolResult, LocalFuture, ToolReply},
};

/// A fixture whose handler answers with a complete result, the usual kind.
macro_rules! tool {
    ($name:expr, $description:expr, $schema:expr, $handler:expr $(,)?) => {
        replying($name, $description, $schema, |arguments, context| {
            let handler: ResultHandler = $handler;
            let call = handler(arguments, context);
            Box::pin(async move { call.await.map(ToolReply::from) })
        })
    };
}

pub fn no_arguments() -> Value {
    json!({"type": "object", "properties": {}})
}

fn string_argument(name: &str) -> Value {
    json!({"type": "object", "properties": {name: {"type": "string"}}, "required": [name]})
}

pub fn content(blocks: Vec<Value>) -> CallToolResult {
    CallToolResult {
        content: blocks,
        ..CallToolResult::default()
    }
}

fn done(result: CallToolResult) -> LocalFuture<Result<CallToolResult, ErrorObject>> {
    Box::pin(async move { Ok(result) })
}

pub fn text(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

fn image() -> Value {
    json!({"type": "image", "data": PNG, "mimeType": "image/png"})
}

/// Sends `elicitation/create` with `schema` and reports the answer.
fn elicit(
    context: CallContext,
    message: String,
    schema: Value,
) -> LocalFuture<Result<CallToolResult, ErrorObject>> {
    Box::pin(async move {
        let client = context
            .client
            .ok_or_else(|| ErrorObject::internal("no client stream"))?;
        let params = json!({"message": message, "requestedSchema": schema});
        let answer = client
            .request("elicitation/create", params, "elicitation")
            .await?;
        Ok(content(vec![text(&format!(
            "User response: action={}, content={}",
            answer.get("action").cloned().unwrap_or(Value::Null),
            answer.get("content").cloned().unwrap_or(Value::Null)
        ))]))
    })
}

pub fn fixtures() -> Vec<FixtureTool> {
    vec![
        tool!(
            "test_simple_text",
            "Returns a simple text response",
            no_arguments(),
            |_, _| {
                done(content(vec![text(
                    "This is a simple text response for testing.",
                )]))
            },
        ),
        tool!(
            "test_image_content",
            "Returns an image",
            no_arguments(),
            |_, _| done(content(vec![image()])),
        ),
        tool!(
            "test_audio_content",
            "Returns audio",
            no_arguments(),
            |_, _| {
                done(content(vec![
                    json!({"type": "audio", "data": WAV, "mimeType": "audio/wav"}),
                ]))
            },
        ),
        tool!(
            "test_embedded_resource",
            "Returns an embedded resource",
            no_arguments(),
            |_, _| {
                done(content(vec![json!({"type": "resource", "resource": {
                "uri": "test://embedded-resource", "mimeType": "text/plain",
                "text": "This is an embedded resource content."}})]))
            },
        ),
        tool!(
            "test_multiple_content_types",
            "Returns text, an image and a resource",
            no_arguments(),
            |_, _| {
                done(content(vec![
                    text("Multiple content types test:"),
                    image(),
                    json!({"type": "resource", "resource": {"uri": "test://mixed-content-resource",
                    "mimeType": "application/json", "text": "{\"test\":\"data\",\"value\":123}"}}),
                ]))
            },
        ),
        tool!(
            "test_tool_with_logging",
            "Sends log messages while it runs",
            no_arguments(),
            |_, context| {
                Box::pin(async move {
                    for (i, step) in [
                        "Tool execution started",
                        "Tool processing data",
                        "Tool execution completed",
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        if i > 0 {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        if let Some(log) = &context.log {
                            log.log(LogLevel::Info, json!(step));
                        }
                    }
                    Ok(content(vec![text(
                        "Tool with logging executed successfully",
                    )]))
                })
            },
        ),
        tool!(
            "test_error_handling",
            "Always fails, as a tool error",
            no_arguments(),
            |_, _| {
                done(CallToolResult::error(
                    "This tool intentionally returns an error for testing",
                ))
            },
        ),
        tool!(
            "test_tool_with_progress",
            "Reports progress while it runs",
            no_arguments(),
            |_, context| {
                Box::pin(async move {
                    for (i, progress) in [0, 50, 100].into_iter().enumerate() {
                        if i > 0 {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        if let Some(reporter) = &context.progress {
                            reporter.report(progress, 100, &format!("{progress}% done"));
                        }
                    }
                    Ok(content(vec![text("Progress tool completed")]))
                })
            },
        ),
        tool!(
            "test_sampling",
            "Asks the client's model",
            string_argument("prompt"),
            |arguments, context| {
                Box::pin(async move {
                    let prompt = arguments
                        .get("prompt")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let client = context
                        .client
                        .ok_or_else(|| ErrorObject::internal("no client stream"))?;
                    let params = json!({
                        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
                        "maxTokens": 100,
                    });
                    let answer = client
                        .request("sampling/createMessage", params, "sampling")
                        .await?;
                    let reply = answer
                        .get("content")
                        .and_then(|c| c.get("text"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    Ok(content(vec![text(&format!("LLM response: {reply}"))]))
                })
            },
        )
        .only(Era::Handshake),
        tool!(
            "test_reconnection",
            "Closes its stream's connection before its result, which the client then fetches \
             with GET and Last-Event-ID (SEP-1699)",
            no_arguments(),
            |_, context| {
                Box::pin(async move {
                    let closed = context
                        .stream
                        .as_ref()
                        .is_some_and(|stream| stream.close_connection());
                    Ok(content(vec![text(if closed {
                        "Reconnection test completed: the stream was closed before this result"
                    } else {
                        "Reconnection test completed: this stream cannot be resumed, so it stayed open"
                    })]))
                })
            },
        )
        .only(Era::Handshake),
        tool!(
            "test_elicitation",
            "Asks the user for input",
            string_argument("message"),
            |arguments, context| {
                let message = arguments
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                elicit(
                    context,
                    message,
                    json!({
                        "type": "object",
                        "properties": {
                            "username": {"type": "string", "description": "User's response"},
                            "email": {"type": "string", "description": "User's email address"},
                        },
                        "required": ["username", "email"],
                    }),
                )
            },
        )
        .only(Era::Handshake),
        tool!(
            "test_elicitation_sep1034_defaults",
            "Elicitation with defaults",
            no_arguments(),
            |_, context| {
                elicit(
                    context,
                    "Please review and update the form fields with defaults".into(),
                    json!({
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "description": "User name", "default": "John Doe"},
                            "age": {"type": "integer", "description": "User age", "default": 30},
                            "score": {"type": "number", "description": "User score", "default": 95.5},
                            "status": {"type": "string", "description": "User status",
                                       "enum": ["active", "inactive", "pending"], "default": "active"},
                            "verified": {"type": "boolean", "description": "Verification status", "default": true},
                        },
                    }),
                )
            },
        )
        .only(Era::Handshake),
        tool!(
            "test_elicitation_sep1330_enums",
            "Elicitation with enum schemas",
            no_arguments(),
            |_, context| {
                elicit(
                    context,
                    "Please select options from the enum fields".into(),
                    json!({
                        "type": "object",
                        "properties": {
                            "untitledSingle": {"type": "string", "description": "Select one option",
                                               "enum": ["option1", "option2", "option3"]},
                            "titledSingle": {"type": "string", "description": "Select one option with titles",
                                             "oneOf": [{"const": "value1", "title": "First Option"},
                                                       {"const": "value2", "title": "Second Option"},
                                                       {"const": "value3", "title": "Third Option"}]},
                            "legacyEnum": {"type": "string", "description": "Select one option (legacy)",
                                           "enum": ["opt1", "opt2", "opt3"],
                                           "enumNames": ["Option One", "Option Two", "Option Three"]},
                            "untitledMulti": {"type": "array", "description": "Select multiple options",
                                              "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                            "titledMulti": {"type": "array", "description": "Select multiple options with titles",
                                            "items": {"anyOf": [{"const": "value1", "title": "First Choice"},
                                                                {"const": "value2", "title": "Second Choice"},
                                                                {"const": "value3", "title": "Third Choice"}]}},
                        },
                    }),
                )
            },
        )
        .only(Era::Handshake),
        tool!(
            "json_schema_2020_12_tool",
            "A tool whose input schema uses JSON Schema 2020-12 keywords",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {"address": {"$anchor": "address", "type": "object", "properties": {
                    "street": {"type": "string"}, "city": {"type": "string"}}}},
                "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
                "allOf": [{"anyOf": [
                    {"properties": {"name": {"minLength": 1}}},
                    {"required": ["address"]},
                ]}],
                "if": {"properties": {"name": {"const": "home"}}},
                "then": {"required": ["address"]},
                "else": {"required": ["name"]},
                "additionalProperties": false,
            }),
            |arguments, _| {
                done(content(vec![text(&format!(
                    "Received: {}",
                    Value::Object(arguments)
                ))]))
            },
        ),
    ]
}
