//! `list_issues`: a repository's issues, newest first, without bodies, read past the pull
//! requests GitHub mixes in. Rendered once and reused while GitHub's pages stay the same.

use serde_json::json;

use super::{
    LocalFuture, ToolDefinition,
    args::Args,
    definition::{define, hints, input, repo_properties},
    github_tool::{About, Env, HandlerResult},
    issue_list::{IssueList, STATES, list_output_schema},
    render::{UNTRUSTED_NOTE, issue_lines},
};
use crate::github::{api::IssueQuery, models::IssueRef};

/// Pages `list_issues` reads at most to fill its limit past pull requests.
const MAX_PAGES: usize = 10;

pub fn definition() -> ToolDefinition {
    define(
        "list_issues",
        "List issues",
        "List a repository's issues, newest first, without bodies (use get_issue for one issue's \
         full text). Pull requests are left out. Returns number, title, state, author, dates, \
         comment count, labels, assignees and URL of each.",
        input(
            repo_properties(json!({
                "state": {"type": "string", "enum": STATES, "default": "open",
                          "description": "Which issues: open, closed or all"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20,
                          "description": "How many issues to return at most"},
            })),
            &["owner", "repo"],
        ),
        list_output_schema(json!({}), &[]),
        hints(true, false, true),
    )
}

pub fn handle(env: Env, args: Args) -> LocalFuture<HandlerResult> {
    Box::pin(async move {
        let repo = env.repo(&args)?;
        let state = args.choice("state", &STATES, Some("open"))?;
        let limit = args.integer("limit", 1..=100, Some(20))? as usize;
        let query = IssueQuery {
            state: state.clone(),
            // Room for the pull requests that GitHub mixes in, in one page where possible.
            per_page: (limit + limit / 2).clamp(30, 100) as u32,
            page: 1,
            sort: "created".into(),
            direction: "desc".into(),
        };
        let what = || format!("the issues of {repo}");
        let mut page = env
            .github
            .issues_page(&env.credential, &repo, &query)
            .await
            .about(what)?;
        // The pages stay shared with the gateway's cache; the list borrows from them.
        let mut pages = Vec::new();
        let mut found = 0;
        for read in 1.. {
            found += page.items.iter().filter(|i| !i.is_pull_request()).count();
            let next = page.links.next.take();
            pages.push(page.items);
            match next {
                Some(next) if found < limit && read < MAX_PAGES => {
                    page = env
                        .github
                        .page_at(&env.credential, &repo, next)
                        .await
                        .about(what)?;
                }
                _ => break,
            }
        }
        // Agents often ask for the same list while it has not changed: render it once.
        let key = env.rendering_key("list_issues", format_args!("{repo} {state} {limit}"));
        if let Some(kept) = env.rendered(&key, &pages) {
            return Ok(kept);
        }
        let issues: Vec<IssueRef<'_>> = pages
            .iter()
            .flat_map(|items| items.iter())
            .filter(|i| !i.is_pull_request())
            .take(limit)
            .collect();
        let structured = IssueList::of(&repo, &state, &issues);
        let mut text = format!("{} {state} issues in {repo}", issues.len());
        if issues.is_empty() {
            text.push('.');
        } else {
            text.push_str(&format!(":\n{UNTRUSTED_NOTE}\n\n"));
            text.push_str(&issue_lines(&structured.issues));
        }
        Ok(env.keep(key, &pages, env.serialize_output(&text, &structured)))
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
        assert_eq!(definition.name, "list_issues");
        assert_eq!(definition.annotations, Some(hints(true, false, true)));
    }

    #[actix::test]
    async fn a_state_or_limit_out_of_range_is_refused_before_github_is_asked() {
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "state": "draft"}),
        )
        .await;
        assert!(
            text.contains("`state` must be one of open, closed, all"),
            "{text}"
        );
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "limit": 101}),
        )
        .await;
        assert!(
            text.contains("`limit` must be a whole number from 1 to 100"),
            "{text}"
        );
    }
}
