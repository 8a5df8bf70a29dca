//! `batch_label_issues`: adds labels to up to 25 issues of one repository, one GitHub call per
//! issue, going on past failures, reporting progress, and stopping between two issues when
//! the server shuts down. Labelling [`CONFIRM_FROM`] issues or more is confirmed with the
//! user first, where the client can ask (`super::confirm`).

use serde_json::json;

use super::{
    LocalFuture, ToolDefinition,
    args::{ArgError, Args},
    audit,
    confirm::{Confirmation, confirm},
    definition::{define, hints, input, repo_properties},
    github_tool::{Env, HandlerResult, output},
    render::clean_line,
};
use crate::github::{error::GitHubError, models::Label};

/// From this many issues, the user is asked before the labels go on.
pub const CONFIRM_FROM: usize = 10;

pub fn definition() -> ToolDefinition {
    define(
        "batch_label_issues",
        "Add labels to several issues",
        "ADD labels to up to 25 issues of one repository; existing labels stay. Reports success \
         or failure per issue and goes on past failures. Sends progress notifications when the \
         request has a progressToken. Calls are spaced out (about one per second) to respect \
         GitHub's limits. From 10 issues, the user is asked to confirm first where the client \
         supports elicitation.",
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

pub fn handle(env: Env, args: Args) -> LocalFuture<HandlerResult> {
    Box::pin(async move {
        let repo = env.repo(&args)?;
        let numbers = args.number_list("issue_numbers", 1..=25)?;
        let labels = args
            .string_list("labels", 1..=10)?
            .ok_or_else(|| ArgError("missing required argument `labels`".into()))?;
        let total = numbers.len() as u64;
        if numbers.len() >= CONFIRM_FROM {
            let question = format!(
                "Add the labels {} to {total} issues in {repo}?",
                labels.join(", ")
            );
            if let Confirmation::Stop(reply) = confirm(&env.context, &question).await {
                env.acted_on_nothing();
                return Ok(reply);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{definition::testing::assert_well_formed, github_tool::testing::refusal};

    #[test]
    fn the_definition_is_well_formed_and_idempotent() {
        let definition = definition();
        assert_well_formed(&definition);
        assert_eq!(definition.name, "batch_label_issues");
        // Labels are added, never removed: adding them again changes nothing.
        assert_eq!(definition.annotations, Some(hints(false, false, true)));
    }

    #[actix::test]
    async fn issue_numbers_and_labels_are_required_within_their_bounds() {
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "issue_numbers": [1, 2]}),
        )
        .await;
        assert_eq!(text, "missing required argument `labels`");
        let numbers: Vec<u64> = (1..=26).collect();
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "issue_numbers": numbers, "labels": ["bug"]}),
        )
        .await;
        assert!(
            text.contains("`issue_numbers` must be a list of 1 to 25 distinct"),
            "{text}"
        );
    }
}
