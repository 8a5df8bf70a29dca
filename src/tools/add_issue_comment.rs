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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{definition::testing::assert_well_formed, github_tool::testing::refusal};

    #[test]
    fn the_definition_is_well_formed_and_not_idempotent() {
        let definition = definition();
        assert_well_formed(&definition);
        assert_eq!(definition.name, "add_issue_comment");
        // Each call adds a comment: a client must not repeat it on its own.
        assert_eq!(definition.annotations, Some(hints(false, false, false)));
    }

    #[actix::test]
    async fn a_blank_or_overlong_body_is_refused_before_github_is_asked() {
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "issue_number": 1, "body": " "}),
        )
        .await;
        assert!(
            text.contains("`body` must be 1 to 65536 characters long"),
            "{text}"
        );
        let body = "x".repeat(MAX_BODY_CHARS + 1);
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "issue_number": 1, "body": body}),
        )
        .await;
        assert!(
            text.contains("`body` must be 1 to 65536 characters long"),
            "{text}"
        );
    }
}
