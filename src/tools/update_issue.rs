//! `update_issue`: changes an issue's title, body, state, labels or assignees; labels and
//! assignees given replace the current sets. Closing is confirmed with the user first, where
//! the client can ask (`super::confirm`).

use serde_json::{Map, Value, json};

use super::{
    LocalFuture, ToolDefinition,
    args::{ArgError, Args},
    confirm::{Confirmation, confirm},
    definition::{define, hints, input, issue_number_property, repo_properties},
    github_tool::{About, Env, HandlerResult, output},
    issue_fields::{
        MAX_BODY_CHARS, assignees_property, common_fields, issue_output_schema, labels_property,
    },
    render::{issue_line, issue_summary},
};

pub fn definition() -> ToolDefinition {
    define(
        "update_issue",
        "Update an issue",
        "Change an issue's title, body, state, labels or assignees; give only what changes. \
         `labels` and `assignees` REPLACE the current sets (an empty list clears them); to add \
         labels without removing any, use batch_label_issues. To close, set state \"closed\" \
         with state_reason \"completed\" or \"not_planned\" (where the client supports \
         elicitation, the user is asked to confirm first); to reopen, state \"open\".",
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

pub fn handle(env: Env, args: Args) -> LocalFuture<HandlerResult> {
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
        let closing = state.as_deref() == Some("closed");
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
        if closing {
            let question = format!("Close issue #{number} in {repo}?");
            if let Confirmation::Stop(reply) = confirm(&env.context, &question).await {
                env.acted_on_nothing();
                return Ok(reply);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{definition::testing::assert_well_formed, github_tool::testing::refusal};

    #[test]
    fn the_definition_is_well_formed_and_destructive() {
        let definition = definition();
        assert_well_formed(&definition);
        assert_eq!(definition.name, "update_issue");
        // `labels` and `assignees` replace the current sets: what was there is lost.
        assert_eq!(definition.annotations, Some(hints(false, true, true)));
    }

    #[actix::test]
    async fn an_update_without_changes_is_refused() {
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "issue_number": 1}),
        )
        .await;
        assert!(text.starts_with("nothing to change"), "{text}");
    }

    #[actix::test]
    async fn a_state_reason_that_contradicts_the_state_is_refused() {
        for (state, reason) in [
            ("open", "completed"),
            ("open", "not_planned"),
            ("closed", "reopened"),
        ] {
            let text = refusal(
                definition(),
                handle,
                json!({"owner": "octo", "repo": "hello", "issue_number": 1,
                       "state": state, "state_reason": reason}),
            )
            .await;
            assert!(
                text.contains(&format!(
                    "`state_reason` {reason:?} does not go with state {state:?}"
                )),
                "{text}"
            );
        }
    }
}
