//! What `list_issues` and `list_issues_paginated` share: the states they take, the structured
//! content of a list of issues ([`IssueList`]) and its output schema ([`list_output_schema`]).

use serde::Serialize;
use serde_json::{Value, json};

use super::render::{IssueSummary, issue_summary_schema};
use crate::github::{api::RepoRef, models::IssueRef};

/// The `state` values of an issue list, as GitHub takes them.
pub const STATES: [&str; 3] = ["open", "closed", "all"];

/// The output schema of an issue list, with `extra` properties, of which `required` are
/// required.
pub fn list_output_schema(extra: Value, required: &[&str]) -> Value {
    let mut schema = json!({
        "type": "object",
        "properties": {
            "repository": {"type": "string"},
            "state": {"type": "string"},
            "count": {"type": "integer"},
            "issues": {"type": "array", "items": issue_summary_schema()},
        },
        "required": ["repository", "state", "count", "issues"],
    });
    if let (Some(props), Value::Object(extra)) = (schema["properties"].as_object_mut(), extra) {
        props.extend(extra);
    }
    if let Some(list) = schema["required"].as_array_mut() {
        list.extend(required.iter().map(|name| json!(name)));
    }
    schema
}

/// The structured content of a list of issues (see [`list_output_schema`]).
#[derive(Debug, Serialize)]
pub struct IssueList<'a> {
    pub repository: String,
    pub state: &'a str,
    pub count: usize,
    pub issues: Vec<IssueSummary<'a>>,
}

impl<'a> IssueList<'a> {
    pub fn of(repo: &RepoRef, state: &'a str, issues: &[IssueRef<'a>]) -> Self {
        IssueList {
            repository: repo.to_string(),
            state,
            count: issues.len(),
            issues: issues
                .iter()
                .map(|issue| IssueSummary::of(*issue))
                .collect(),
        }
    }
}
