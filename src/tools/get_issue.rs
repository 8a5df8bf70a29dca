//! `get_issue`: one issue in full, its body fenced as user-written text. Rendered once and
//! reused (with a fresh fence code) while GitHub's answer stays the same.

use serde_json::json;

use super::{
    LocalFuture, ToolDefinition,
    args::Args,
    definition::{define, hints, input, issue_number_property, repo_properties},
    github_tool::{About, Env, HandlerResult, output},
    render::{
        Fence, clip, closed_at, issue_detail, issue_summary, issue_summary_schema, state_reason,
    },
};

pub fn definition() -> ToolDefinition {
    let mut issue_schema = issue_summary_schema();
    if let Some(props) = issue_schema["properties"].as_object_mut() {
        props.insert("body".into(), json!({"type": "string"}));
        props.insert("body_truncated".into(), json!({"type": "boolean"}));
        // Present only when set: nullable union types are legal but not portable to every
        // client's schema dialect (the Inspector's --strict check flags them).
        props.insert("state_reason".into(), json!({"type": "string"}));
        props.insert("closed_at".into(), json!({"type": "string"}));
        props.insert("is_pull_request".into(), json!({"type": "boolean"}));
    }
    define(
        "get_issue",
        "Get an issue",
        "Read one issue in full: title, state, author, dates, labels, assignees and its body \
         (the description). Comments are read with list_issue_comments.",
        input(
            repo_properties(json!({"issue_number": issue_number_property()})),
            &["owner", "repo", "issue_number"],
        ),
        json!({
            "type": "object",
            "properties": {"issue": issue_schema},
            "required": ["issue"],
        }),
        hints(true, false, true),
    )
}

pub fn handle(env: Env, args: Args) -> LocalFuture<HandlerResult> {
    Box::pin(async move {
        let repo = env.repo(&args)?;
        let number = args.integer("issue_number", 1..=u32::MAX as u64, None)?;
        let issue = env
            .github
            .issue(&env.credential, &repo, number)
            .await
            .about(|| format!("issue #{number} in {repo}"))?;
        let key = env.rendering_key("get_issue", format_args!("{repo} {number}"));
        let sources = [issue.clone()];
        if let Some(kept) = env.rendered(&key, &sources) {
            return Ok(kept);
        }
        let max = env.settings.body_max_chars;
        let more = format!("read the resource issue://{repo}/{number} for the whole body");
        let fence = Fence::new();
        let mut text = format!("{}\n\n", fence.note());
        if issue.summary().is_pull_request() {
            text.push_str(&format!(
                "Note: #{number} is a pull request, not an issue.\n\n"
            ));
        }
        text.push_str(&issue_detail(&issue, &fence, max, &more));
        let (body, body_truncated) = clip(issue.body.as_deref().unwrap_or(""), max);
        let mut structured = issue_summary(issue.summary());
        structured["body"] = json!(body);
        structured["body_truncated"] = json!(body_truncated);
        if let Some(reason) = state_reason(&issue) {
            structured["state_reason"] = json!(reason);
        }
        if let Some(closed) = closed_at(&issue) {
            structured["closed_at"] = json!(closed);
        }
        structured["is_pull_request"] = json!(issue.summary().is_pull_request());
        let result = output(text, json!({ "issue": structured }));
        // Kept with where its fence code stands: a reuse carries a fresh one.
        Ok(env.keep_fenced(key, &sources, env.serialize(result), &fence))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        policy::{Policy, PolicySettings},
        tools::{
            definition::testing::assert_well_formed,
            github_tool::testing::{refusal, refusal_under},
        },
    };

    #[test]
    fn the_definition_is_well_formed_and_read_only() {
        let definition = definition();
        assert_well_formed(&definition);
        assert_eq!(definition.name, "get_issue");
        assert_eq!(definition.annotations, Some(hints(true, false, true)));
    }

    #[actix::test]
    async fn an_issue_number_is_required_and_positive() {
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
            json!({"owner": "octo", "repo": "hello", "issue_number": 0}),
        )
        .await;
        assert!(
            text.contains("`issue_number` must be a whole number from 1"),
            "{text}"
        );
    }

    #[actix::test]
    async fn a_repository_outside_the_policy_is_refused() {
        let policy = Policy::new(&PolicySettings {
            repositories: "octo/hello".into(),
            ..PolicySettings::default()
        })
        .unwrap();
        let text = refusal_under(
            policy,
            definition(),
            handle,
            json!({"owner": "octo", "repo": "secret", "issue_number": 1}),
        )
        .await;
        assert!(
            text.contains("repository octo/secret is not allowed"),
            "{text}"
        );
    }
}
