//! `list_issue_comments`: the comments on an issue, oldest first, each fenced as user-written
//! text.

use serde_json::{Value, json};

use super::{
    LocalFuture, ToolDefinition,
    args::Args,
    definition::{define, hints, input, issue_number_property, repo_properties},
    github_tool::{About, Env, HandlerResult, output},
    render::{Fence, clean_line, clip, comment_block, shape},
};

pub fn definition() -> ToolDefinition {
    define(
        "list_issue_comments",
        "List issue comments",
        "Read the comments on an issue, oldest first, with author, date and text.",
        input(
            repo_properties(json!({
                "issue_number": issue_number_property(),
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 30,
                          "description": "How many comments to return at most"},
            })),
            &["owner", "repo", "issue_number"],
        ),
        json!({
            "type": "object",
            "properties": {
                "issue_number": {"type": "integer"},
                "count": {"type": "integer"},
                "comments": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "author": {"type": "string"},
                        "created_at": {"type": "string"},
                        "url": {"type": "string"},
                        "body": {"type": "string"},
                        "body_truncated": {"type": "boolean"},
                    },
                    "required": ["id", "author", "created_at", "body", "body_truncated"],
                }},
            },
            "required": ["issue_number", "count", "comments"],
        }),
        hints(true, false, true),
    )
}

pub fn handle(env: Env, args: Args) -> LocalFuture<HandlerResult> {
    Box::pin(async move {
        let repo = env.repo(&args)?;
        let number = args.integer("issue_number", 1..=u32::MAX as u64, None)?;
        let limit = args.integer("limit", 1..=100, Some(30))? as usize;
        let (comments, _) = env
            .github
            .comments(&env.credential, &repo, number, limit)
            .await
            .about(|| format!("the comments of issue #{number} in {repo}"))?;
        let max = env.settings.body_max_chars;
        let more = format!("read the resource issue://{repo}/{number}/comments for whole comments");
        let mut text = format!("{} comments on issue #{number} in {repo}", comments.len());
        if !comments.is_empty() {
            let fence = Fence::new();
            text.push_str(&format!(":\n{}\n\n", fence.note()));
            let blocks: Vec<String> = comments
                .iter()
                .map(|c| comment_block(c, &fence, max, &more))
                .collect();
            text.push_str(&blocks.join("\n\n"));
        }
        let structured: Vec<Value> = comments
            .iter()
            .map(|comment| {
                let (body, body_truncated) = clip(comment.body.as_deref().unwrap_or(""), max);
                let mut entry = json!({
                    "id": comment.id,
                    "author": clean_line(comment.author()),
                    "created_at": shape::date(&comment.created_at),
                    "body": body,
                    "body_truncated": body_truncated,
                });
                if let Some(url) = &comment.html_url {
                    entry["url"] = json!(shape::web_url(url));
                }
                entry
            })
            .collect();
        Ok(output(text, {
            let count = structured.len();
            let mut all = json!({"issue_number": number, "count": count});
            all["comments"] = Value::Array(structured);
            all
        })
        .into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{definition::testing::assert_well_formed, github_tool::testing::refusal};

    #[test]
    fn the_definition_is_well_formed_and_read_only() {
        let definition = definition();
        assert_well_formed(&definition);
        assert_eq!(definition.name, "list_issue_comments");
        assert_eq!(definition.annotations, Some(hints(true, false, true)));
    }

    #[actix::test]
    async fn an_issue_number_and_a_limit_in_range_are_required() {
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello"}),
        )
        .await;
        assert!(
            text.contains("missing required argument `issue_number`"),
            "{text}"
        );
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "issue_number": 1, "limit": 0}),
        )
        .await;
        assert!(
            text.contains("`limit` must be a whole number from 1 to 100"),
            "{text}"
        );
    }
}
