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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{definition::testing::assert_well_formed, github_tool::testing::refusal};

    #[test]
    fn the_definition_is_well_formed_and_not_idempotent() {
        let definition = definition();
        assert_well_formed(&definition);
        assert_eq!(definition.name, "create_issue");
        // Each call files an issue: a client must not repeat it on its own.
        assert_eq!(definition.annotations, Some(hints(false, false, false)));
    }

    #[actix::test]
    async fn a_blank_title_or_an_overlong_body_is_refused_before_github_is_asked() {
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "title": "  "}),
        )
        .await;
        assert!(
            text.contains("`title` must be 1 to 256 characters long"),
            "{text}"
        );
        let body = "x".repeat(MAX_BODY_CHARS + 1);
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "title": "Crash", "body": body}),
        )
        .await;
        assert!(
            text.contains("`body` must be at most 65536 characters"),
            "{text}"
        );
    }

    #[actix::test]
    async fn repeated_labels_are_refused() {
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "title": "Crash", "labels": ["bug", "bug"]}),
        )
        .await;
        assert!(
            text.contains("`labels` must be a list of 0 to 100 distinct"),
            "{text}"
        );
    }
}
