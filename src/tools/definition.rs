//! The building blocks of the GitHub tools' definitions: input schemas ([`input`]) with the
//! property schemas several tools take ([`repo_properties`], [`issue_number_property`]), the
//! behaviour hints ([`hints`]), and [`define`], which puts a definition together.

use serde_json::{Value, json};

use super::ToolDefinition;

/// An input schema: an object with these properties, these required, nothing else.
pub fn input(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// `owner` and `repo` property schemas, plus `more`.
pub fn repo_properties(more: Value) -> Value {
    let mut properties = json!({
        "owner": {"type": "string", "minLength": 1, "maxLength": 39,
                  "description": "Repository owner (user or organization), as in github.com/<owner>/<repo>"},
        "repo": {"type": "string", "minLength": 1, "maxLength": 100,
                 "description": "Repository name, as in github.com/<owner>/<repo>"},
    });
    if let (Some(base), Value::Object(extra)) = (properties.as_object_mut(), more) {
        base.extend(extra);
    }
    properties
}

/// The `issue_number` property schema.
pub fn issue_number_property() -> Value {
    json!({"type": "integer", "minimum": 1, "description": "The issue number, as in .../issues/<number>"})
}

/// The behaviour hints. Every tool here talks to GitHub, an open world.
pub fn hints(read_only: bool, destructive: bool, idempotent: bool) -> Value {
    json!({
        "readOnlyHint": read_only,
        "destructiveHint": destructive,
        "idempotentHint": idempotent,
        "openWorldHint": true,
    })
}

/// A definition with every field filled in.
pub fn define(
    name: &str,
    title: &str,
    description: &str,
    input_schema: Value,
    output_schema: Value,
    annotations: Value,
) -> ToolDefinition {
    ToolDefinition {
        name: name.into(),
        title: title.into(),
        description: description.into(),
        input_schema,
        output_schema: Some(output_schema),
        annotations: Some(annotations),
    }
}
