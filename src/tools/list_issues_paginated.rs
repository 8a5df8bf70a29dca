//! `list_issues_paginated`: one page of a repository's issues, sorted as asked, with how many
//! pages there are. Rendered once and reused while GitHub's page stays the same.

use serde::Serialize;
use serde_json::json;

use super::{
    LocalFuture, ToolDefinition,
    args::Args,
    definition::{define, hints, input, repo_properties},
    github_tool::{About, Env, HandlerResult},
    issue_list::{IssueList, STATES, list_output_schema},
    render::{UNTRUSTED_NOTE, issue_lines},
};
use crate::github::{
    api::{IssueQuery, Page},
    models::{IssueRef, Issues},
    request::page_of,
};

const SORTS: [&str; 3] = ["created", "updated", "comments"];
const DIRECTIONS: [&str; 2] = ["asc", "desc"];

pub fn definition() -> ToolDefinition {
    define(
        "list_issues_paginated",
        "List issues, one page at a time",
        "Read one page of a repository's issues, with control over sorting, and learn how many \
         pages there are (\"page X of Y\"). Pull requests on the page are left out and counted. \
         Use list_issues for a simple newest-first list.",
        input(
            repo_properties(json!({
                "state": {"type": "string", "enum": STATES, "default": "open"},
                "page": {"type": "integer", "minimum": 1, "default": 1},
                "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 30},
                "sort": {"type": "string", "enum": SORTS, "default": "updated"},
                "direction": {"type": "string", "enum": DIRECTIONS, "default": "desc"},
            })),
            &["owner", "repo"],
        ),
        list_output_schema(
            json!({
                "page": {"type": "integer"},
                "total_pages": {"type": "integer", "description": "Absent when GitHub does not say"},
                "per_page": {"type": "integer"},
                "has_next": {"type": "boolean"},
                "pull_requests_omitted": {"type": "integer"},
            }),
            &["page", "per_page", "has_next"],
        ),
        hints(true, false, true),
    )
}

pub fn handle(env: Env, args: Args) -> LocalFuture<HandlerResult> {
    Box::pin(async move {
        let repo = env.repo(&args)?;
        let query = IssueQuery {
            state: args.choice("state", &STATES, Some("open"))?,
            page: args.integer("page", 1..=100_000, Some(1))?,
            per_page: args.integer("per_page", 1..=100, Some(30))? as u32,
            sort: args.choice("sort", &SORTS, Some("updated"))?,
            direction: args.choice("direction", &DIRECTIONS, Some("desc"))?,
        };
        let page: Page<Issues> = env
            .github
            .issues_page(&env.credential, &repo, &query)
            .await
            .about(|| format!("page {} of the issues of {repo}", query.page))?;
        // The links that shape the text came with these items: same items, same answer (a
        // 304 hands back the cached answer whole, links included; see the gateway).
        let key = env.rendering_key(
            "list_issues_paginated",
            format_args!(
                "{repo} {} {} {} {} {}",
                query.state, query.page, query.per_page, query.sort, query.direction
            ),
        );
        let sources = [page.items.clone()];
        if let Some(kept) = env.rendered(&key, &sources) {
            return Ok(kept);
        }
        // Without a `last` link GitHub is on the last page, or past it.
        let has_next = page.links.next.is_some();
        let total_pages = page.links.last_page().or_else(|| {
            let previous = page.links.prev.as_deref().and_then(page_of);
            match (page.items.is_empty(), previous) {
                (false, _) => Some(query.page),
                (true, Some(previous)) => Some(previous),
                (true, None) => None,
            }
        });
        let total = page.items.len();
        let issues: Vec<IssueRef<'_>> =
            page.items.iter().filter(|i| !i.is_pull_request()).collect();
        let omitted = total - issues.len();
        let list = IssueList::of(&repo, &query.state, &issues);
        let of = total_pages.map_or("?".to_string(), |t| t.to_string());
        let mut text = format!(
            "Page {} of {of} of the {} issues in {repo} (sorted by {} {}, {} per page)",
            query.page, query.state, query.sort, query.direction, query.per_page
        );
        if omitted > 0 {
            text.push_str(&format!("; {omitted} pull requests on this page left out"));
        }
        if issues.is_empty() {
            text.push_str(if total == 0 && query.page > 1 {
                ": this page is past the end."
            } else {
                ": no issues on this page."
            });
        } else {
            text.push_str(&format!(":\n{UNTRUSTED_NOTE}\n\n"));
            text.push_str(&issue_lines(&list.issues));
        }
        if has_next {
            text.push_str(&format!("\n\nMore: page {}.", query.page + 1));
        }
        #[derive(Serialize)]
        struct IssuePage<'a> {
            #[serde(flatten)]
            list: IssueList<'a>,
            page: u64,
            per_page: u32,
            has_next: bool,
            pull_requests_omitted: usize,
            #[serde(skip_serializing_if = "Option::is_none")]
            total_pages: Option<u64>,
        }
        let structured = IssuePage {
            list,
            page: query.page,
            per_page: query.per_page,
            has_next,
            pull_requests_omitted: omitted,
            total_pages,
        };
        Ok(env.keep(key, &sources, env.serialize_output(&text, &structured)))
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
        assert_eq!(definition.name, "list_issues_paginated");
        assert_eq!(definition.annotations, Some(hints(true, false, true)));
    }

    #[actix::test]
    async fn a_sort_or_page_github_does_not_take_is_refused_before_github_is_asked() {
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "sort": "reactions"}),
        )
        .await;
        assert!(
            text.contains("`sort` must be one of created, updated, comments"),
            "{text}"
        );
        let text = refusal(
            definition(),
            handle,
            json!({"owner": "octo", "repo": "hello", "page": 0}),
        )
        .await;
        assert!(
            text.contains("`page` must be a whole number from 1"),
            "{text}"
        );
    }
}
