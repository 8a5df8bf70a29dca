//! `create_issue`: opens a new issue. Not idempotent: each call files one.

use serde_json::{Map, Value, json};

use super::{
    LocalFuture, ToolDefinition,
    args::Args,
    definition::{define, hints, input, repo_properties},
    github_tool::{About, Env, HandlerResult, output},
    issue_fields::{
        MAX_BODY_CHARS, assignees_property, common_fields, issue_output_schema, labels_property,
    },
    render::{issue_line, issue_summary},
};

pub fn definition() -> ToolDefinition {
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

pub fn handle(env: Env, args: Args) -> LocalFuture<HandlerResult> {
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
