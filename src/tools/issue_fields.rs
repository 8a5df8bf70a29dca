//! The issue fields that `create_issue` and `update_issue` share: `body`, `labels` and
//! `assignees` (their schemas and how they are read), and the output schema of both.

use serde_json::{Map, Value, json};

use super::{
    args::{ArgError, Args},
    render::issue_summary_schema,
};

/// The longest issue or comment body GitHub takes, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;

/// The output schema of a tool that answers with one issue's summary.
pub fn issue_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"issue": issue_summary_schema()},
        "required": ["issue"],
    })
}

pub fn labels_property(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": true,
           "maxItems": 100, "description": description})
}

pub fn assignees_property(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": true,
           "maxItems": 10, "description": description})
}

/// `body`, `labels` and `assignees`, shared by create and update.
pub fn common_fields(args: &Args, fields: &mut Map<String, Value>) -> Result<(), ArgError> {
    if let Some(body) = args.optional_string("body")? {
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(ArgError(format!(
                "argument `body` must be at most {MAX_BODY_CHARS} characters"
            )));
        }
        fields.insert("body".into(), json!(body));
    }
    if let Some(labels) = args.string_list("labels", 0..=100)? {
        fields.insert("labels".into(), json!(labels));
    }
    if let Some(assignees) = args.string_list("assignees", 0..=10)? {
        fields.insert("assignees".into(), json!(assignees));
    }
    Ok(())
}
