//! `add_issue_comment`: adds a Markdown comment to an issue or pull request. Not idempotent:
//! each call adds one.

use serde_json::json;

use super::{
    LocalFuture, ToolDefinition,
    args::Args,
    definition::{define, hints, input, issue_number_property, repo_properties},
    github_tool::{About, Env, HandlerResult, output},
    issue_fields::MAX_BODY_CHARS,
    render::{clean_line, shape},
};

pub fn definition() -> ToolDefinition {
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

pub fn handle(env: Env, args: Args) -> LocalFuture<HandlerResult> {
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
