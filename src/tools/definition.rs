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

/// What every GitHub tool's definition must be, checked by each tool's tests.
#[cfg(test)]
pub mod testing {
    use serde_json::Value;

    use super::ToolDefinition;

    /// `definition` is complete and its schemas hang together: every required property is
    /// declared, every default is allowed by its property, arguments beyond the declared ones
    /// are refused, and the four behaviour hints are set, GitHub being an open world.
    pub fn assert_well_formed(definition: &ToolDefinition) {
        let name = &definition.name;
        assert!(!definition.title.is_empty(), "{name}: a title");
        assert!(!definition.description.is_empty(), "{name}: a description");
        let input = &definition.input_schema;
        assert_eq!(input["type"], "object", "{name}: input is an object");
        assert_eq!(
            input["additionalProperties"], false,
            "{name}: no extra arguments"
        );
        assert_required_are_declared(name, input);
        for (property, schema) in input["properties"].as_object().expect("properties") {
            assert!(schema["type"].is_string(), "{name}.{property}: a type");
            let (Some(default), Some(allowed)) = (schema.get("default"), schema.get("enum")) else {
                continue;
            };
            let allowed = allowed.as_array().expect("an enum is a list");
            assert!(
                allowed.contains(default),
                "{name}.{property}: default allowed"
            );
        }
        let output = definition.output_schema.as_ref().expect("an output schema");
        assert_eq!(output["type"], "object", "{name}: output is an object");
        assert_required_are_declared(name, output);
        let hints = definition.annotations.as_ref().expect("annotations");
        for hint in ["readOnlyHint", "destructiveHint", "idempotentHint"] {
            assert!(hints[hint].is_boolean(), "{name}: {hint}");
        }
        assert_eq!(
            hints["openWorldHint"], true,
            "{name}: GitHub is an open world"
        );
    }

    fn assert_required_are_declared(name: &str, schema: &Value) {
        let declared = schema["properties"].as_object().expect("properties");
        for required in schema["required"].as_array().expect("required") {
            let required = required.as_str().expect("a property name");
            assert!(
                declared.contains_key(required),
                "{name}: {required} declared"
            );
        }
    }
}
