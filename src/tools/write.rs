//! The tools that change GitHub: `create_issue`, `update_issue`, `batch_label_issues` and
//! `add_issue_comment`. The gateway spaces their calls out and never retries them blindly.

use serde_json::{Map, Value, json};

use super::{
    LocalFuture, ToolDefinition,
    args::{ArgError, Args},
    audit,
    kit::{
        About, Env, Outcome, define, hints, input, issue_number_property, output, repo_properties,
    },
    render::{clean_line, issue_line, issue_summary, issue_summary_schema, shape},
};
use crate::github::{error::GitHubError, models::Label};

const MAX_BODY_CHARS: usize = 65_536;

fn issue_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"issue": issue_summary_schema()},
        "required": ["issue"],
    })
}

fn labels_property(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": true,
           "maxItems": 100, "description": description})
}

fn assignees_property(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": true,
           "maxItems": 10, "description": description})
}

pub fn create_issue_definition() -> ToolDefinition {
    define(
        "create_issue",
        "Create an issue",
        "Open a new issue in a repository. Labels that do not exist yet are created by GitHub \
         (if the token may); assignees must be collaborators. Each call files a new issue: \
         check with search_issues first to avoid duplicates.",
        input(
            repo_properties(json!({
                "title": {"type": "string", "minLength": 1, "maxLength": 256},
                "body": {"type": "string", "maxLength": MAX_BODY_CHARS, "description": "Markdown description"},
                "labels": labels_property("Label names to set"),
                "assignees": assignees_property("Logins to assign"),
            })),
            &["owner", "repo", "title"],
        ),
        issue_output_schema(),
        hints(false, false, false),
    )
}

pub fn create_issue(env: Env, args: Args) -> LocalFuture<Outcome> {
    Box::pin(async move {
        let repo = env.repo(&args)?;
        let mut fields = Map::new();
        fields.insert("title".into(), json!(args.string_within("title", 1..=256)?));
        common_fields(&args, &mut fields)?;
        let issue = env
            .github
            .create_issue(&env.credential, &repo, Value::Object(fields))
            .await
            .about(|| format!("a new issue in {repo}"))?;
        Ok(output(
            format!(
                "Created issue #{} in {repo}:\n{}",
                issue.summary().number(),
                issue_line(issue.summary())
            ),
            json!({ "issue": issue_summary(issue.summary()) }),
        )
        .into())
    })
}

/// `body`, `labels` and `assignees`, shared by create and update.
fn common_fields(args: &Args, fields: &mut Map<String, Value>) -> Result<(), ArgError> {
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

pub fn update_issue_definition() -> ToolDefinition {
    define(
        "update_issue",
        "Update an issue",
        "Change an issue's title, body, state, labels or assignees; give only what changes. \
         `labels` and `assignees` REPLACE the current sets (an empty list clears them); to add \
         labels without removing any, use batch_label_issues. To close, set state \"closed\" \
         with state_reason \"completed\" or \"not_planned\"; to reopen, state \"open\".",
        input(
            repo_properties(json!({
                "issue_number": issue_number_property(),
                "title": {"type": "string", "minLength": 1, "maxLength": 256},
                "body": {"type": "string", "maxLength": MAX_BODY_CHARS},
                "state": {"type": "string", "enum": ["open", "closed"]},
                "state_reason": {"type": "string", "enum": ["completed", "not_planned", "reopened"]},
                "labels": labels_property("The complete new set of label names (replaces the current labels)"),
                "assignees": assignees_property("The complete new set of assignees (replaces the current ones)"),
            })),
            &["owner", "repo", "issue_number"],
        ),
        issue_output_schema(),
        hints(false, true, true),
    )
}

pub fn update_issue(env: Env, args: Args) -> LocalFuture<Outcome> {
    Box::pin(async move {
        let repo = env.repo(&args)?;
        let number = args.integer("issue_number", 1..=u32::MAX as u64, None)?;
        let mut fields = Map::new();
        if args.optional_string("title")?.is_some() {
            fields.insert("title".into(), json!(args.string_within("title", 1..=256)?));
        }
        common_fields(&args, &mut fields)?;
        let state = args
            .optional_string("state")?
            .map(|_| args.choice("state", &["open", "closed"], None))
            .transpose()?;
        let reason = args
            .optional_string("state_reason")?
            .map(|_| {
                args.choice(
                    "state_reason",
                    &["completed", "not_planned", "reopened"],
                    None,
                )
            })
            .transpose()?;
        match (state.as_deref(), reason.as_deref()) {
            (Some("open"), Some(reason @ ("completed" | "not_planned")))
            | (Some("closed"), Some(reason @ "reopened")) => {
                return Err(ArgError(format!(
                    "argument `state_reason` {reason:?} does not go with state {:?}: use \
                     completed or not_planned when closing, reopened when opening",
                    state.unwrap_or_default()
                ))
                .into());
            }
            _ => {}
        }
        if let Some(state) = state {
            fields.insert("state".into(), json!(state));
        }
        if let Some(reason) = reason {
            fields.insert("state_reason".into(), json!(reason));
        }
        if fields.is_empty() {
            return Err(ArgError(
                "nothing to change: give at least one of title, body, state, state_reason, \
                 labels, assignees"
                    .into(),
            )
            .into());
        }
        let changed: Vec<String> = fields.keys().cloned().collect();
        let issue = env
            .github
            .update_issue(&env.credential, &repo, number, Value::Object(fields))
            .await
            .about(|| format!("issue #{number} in {repo}"))?;
        Ok(output(
            format!(
                "Updated {} of issue #{number} in {repo}:\n{}",
                changed.join(", "),
                issue_line(issue.summary())
            ),
            json!({ "issue": issue_summary(issue.summary()) }),
        )
        .into())
    })
}

pub fn batch_label_issues_definition() -> ToolDefinition {
    define(
        "batch_label_issues",
        "Add labels to several issues",
        "ADD labels to up to 25 issues of one repository; existing labels stay. Reports success \
         or failure per issue and goes on past failures. Sends progress notifications when the \
         request has a progressToken. Calls are spaced out (about one per second) to respect \
         GitHub's limits.",
        input(
            repo_properties(json!({
                "issue_numbers": {"type": "array", "items": {"type": "integer", "minimum": 1},
                                  "minItems": 1, "maxItems": 25, "uniqueItems": true},
                "labels": {"type": "array", "items": {"type": "string", "minLength": 1},
                           "minItems": 1, "maxItems": 10, "uniqueItems": true},
            })),
            &["owner", "repo", "issue_numbers", "labels"],
        ),
        json!({
            "type": "object",
            "properties": {
                "succeeded": {"type": "integer"},
                "failed": {"type": "integer"},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "issue_number": {"type": "integer"},
                        "ok": {"type": "boolean"},
                        "labels": {"type": "array", "items": {"type": "string"}},
                        "error": {"type": "string"},
                    },
                    "required": ["issue_number", "ok"],
                }},
            },
            "required": ["succeeded", "failed", "results"],
        }),
        hints(false, false, true),
    )
}

pub fn batch_label_issues(env: Env, args: Args) -> LocalFuture<Outcome> {
    Box::pin(async move {
        let repo = env.repo(&args)?;
        let numbers = args.number_list("issue_numbers", 1..=25)?;
        let labels = args
            .string_list("labels", 1..=10)?
            .ok_or_else(|| ArgError("missing required argument `labels`".into()))?;
        let total = numbers.len() as u64;
        let mut results = Vec::new();
        let mut lines = Vec::new();
        let mut skipped = Vec::new();
        // Issues whose call GitHub did not act on: all of them, and the call is not audited.
        let mut unacted = 0;
        for (done, number) in numbers.iter().copied().enumerate() {
            // Shutting down: stop between two issues, never in the middle of one, and say which
            // were not done.
            if env.context.draining.is_on() {
                skipped = numbers[done..].to_vec();
                break;
            }
            let outcome: Result<Vec<Label>, GitHubError> = env
                .github
                .add_labels(&env.credential, &repo, number, &labels)
                .await;
            match outcome {
                Ok(now) => {
                    let names: Vec<String> = now
                        .iter()
                        .map(|l| clean_line(l.name()).into_owned())
                        .collect();
                    lines.push(format!("- #{number}: ok, labels now {}", names.join(", ")));
                    results.push(json!({"issue_number": number, "ok": true, "labels": names}));
                }
                Err(err) => {
                    unacted += usize::from(audit::not_acted_on(&err));
                    let why = err.explain(&format!("issue #{number} in {repo}"));
                    lines.push(format!("- #{number}: FAILED: {why}"));
                    results.push(json!({"issue_number": number, "ok": false, "error": why}));
                }
            }
            if let Some(progress) = &env.context.progress {
                progress.report(
                    done as u64 + 1,
                    total,
                    &format!("labelled {} of {total} issues", done + 1),
                );
            }
        }
        for number in &skipped {
            let why = "not done: the server is shutting down; call again for this issue";
            lines.push(format!("- #{number}: {why}"));
            results.push(json!({"issue_number": number, "ok": false, "error": why}));
        }
        if unacted == numbers.len() {
            env.acted_on_nothing();
        }
        let succeeded = results.iter().filter(|r| r["ok"] == true).count();
        let failed = results.len() - succeeded;
        let text = format!(
            "Added {} to {succeeded} of {total} issues in {repo}{}:\n{}",
            labels.join(", "),
            if failed > 0 {
                format!(" ({failed} failed)")
            } else {
                String::new()
            },
            lines.join("\n")
        );
        let mut result = output(
            text,
            json!({"succeeded": succeeded, "failed": failed, "results": results}),
        );
        // All failed: the call as a whole failed. Some failed: the results say which.
        result.is_error = succeeded == 0;
        Ok(result.into())
    })
}

pub fn add_issue_comment_definition() -> ToolDefinition {
    define(
        "add_issue_comment",
        "Comment on an issue",
        "Add a Markdown comment to an issue (or pull request). Each call adds a new comment.",
        input(
            repo_properties(json!({
                "issue_number": issue_number_property(),
                "body": {"type": "string", "minLength": 1, "maxLength": MAX_BODY_CHARS},
            })),
            &["owner", "repo", "issue_number", "body"],
        ),
        json!({
            "type": "object",
            "properties": {"comment": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "url": {"type": "string"},
                    "author": {"type": "string"},
                    "created_at": {"type": "string"},
                },
                "required": ["id", "author", "created_at"],
            }},
            "required": ["comment"],
        }),
        hints(false, false, false),
    )
}

pub fn add_issue_comment(env: Env, args: Args) -> LocalFuture<Outcome> {
    Box::pin(async move {
        let repo = env.repo(&args)?;
        let number = args.integer("issue_number", 1..=u32::MAX as u64, None)?;
        let body = args.string_within("body", 1..=MAX_BODY_CHARS)?;
        let comment = env
            .github
            .add_comment(&env.credential, &repo, number, &body)
            .await
            .about(|| format!("issue #{number} in {repo}"))?;
        let mut structured = json!({
            "id": comment.id,
            "author": clean_line(comment.author()),
            "created_at": shape::date(&comment.created_at),
        });
        let url = comment.html_url.as_deref().map(shape::web_url);
        if let Some(url) = url {
            structured["url"] = json!(url);
        }
        Ok(output(
            format!(
                "Added comment {} to issue #{number} in {repo}: {}",
                comment.id,
                url.unwrap_or("")
            ),
            json!({ "comment": structured }),
        )
        .into())
    })
}
