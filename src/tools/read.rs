//! The read-only tools: `list_issues`, `list_issues_paginated`, `get_issue`,
//! `search_issues` and `list_issue_comments`.

use serde::Serialize;
use serde_json::{Value, json};

use super::{
    LocalFuture, ToolDefinition,
    args::{ArgError, Args},
    kit::{
        About, Env, Outcome, define, hints, input, issue_number_property, output, repo_properties,
    },
    render::{
        Fence, IssueSummary, UNTRUSTED_NOTE, clean_line, clip, closed_at, comment_block,
        issue_detail, issue_lines, issue_summary, issue_summary_schema, shape, state_reason,
    },
};
use crate::github::{
    api::{IssueQuery, Page, RepoRef},
    models::{IssueRef, Issues},
    request::page_of,
};

const STATES: [&str; 3] = ["open", "closed", "all"];
const SORTS: [&str; 3] = ["created", "updated", "comments"];
const DIRECTIONS: [&str; 2] = ["asc", "desc"];
/// Pages `list_issues` reads at most to fill its limit past pull requests.
const MAX_PAGES: usize = 10;

fn list_output_schema(extra: Value, required: &[&str]) -> Value {
    let mut schema = json!({
        "type": "object",
        "properties": {
            "repository": {"type": "string"},
            "state": {"type": "string"},
            "count": {"type": "integer"},
            "issues": {"type": "array", "items": issue_summary_schema()},
        },
        "required": ["repository", "state", "count", "issues"],
    });
    if let (Some(props), Value::Object(extra)) = (schema["properties"].as_object_mut(), extra) {
        props.extend(extra);
    }
    if let Some(list) = schema["required"].as_array_mut() {
        list.extend(required.iter().map(|name| json!(name)));
    }
    schema
}

pub fn list_issues_definition() -> ToolDefinition {
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

pub fn list_issues(env: Env, args: Args) -> LocalFuture<Outcome> {
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

/// The structured content of a list of issues (see [`list_output_schema`]).
#[derive(Serialize)]
struct IssueList<'a> {
    repository: String,
    state: &'a str,
    count: usize,
    issues: Vec<IssueSummary<'a>>,
}

impl<'a> IssueList<'a> {
    fn of(repo: &RepoRef, state: &'a str, issues: &[IssueRef<'a>]) -> Self {
        IssueList {
            repository: repo.to_string(),
            state,
            count: issues.len(),
            issues: issues
                .iter()
                .map(|issue| IssueSummary::of(*issue))
                .collect(),
        }
    }
}

pub fn list_issues_paginated_definition() -> ToolDefinition {
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

pub fn list_issues_paginated(env: Env, args: Args) -> LocalFuture<Outcome> {
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

pub fn get_issue_definition() -> ToolDefinition {
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

pub fn get_issue(env: Env, args: Args) -> LocalFuture<Outcome> {
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

pub fn search_issues_definition() -> ToolDefinition {
    define(
        "search_issues",
        "Search issues",
        "Search issues and pull requests across GitHub with GitHub's search syntax, e.g. \
         `repo:owner/name is:issue is:open label:bug crash`. Add `is:issue` to leave pull \
         requests out. Returns the total count and, per result, repository, number, title, \
         state and URL. Search has its own, smaller rate limit (30 per minute).",
        input(
            json!({
                "query": {"type": "string", "minLength": 1, "maxLength": 256,
                          "description": "GitHub issue search query"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
            }),
            &["query"],
        ),
        json!({
            "type": "object",
            "properties": {
                "total_count": {"type": "integer"},
                "incomplete_results": {"type": "boolean"},
                "items": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "repository": {"type": "string"},
                        "number": {"type": "integer"},
                        "title": {"type": "string"},
                        "state": {"type": "string"},
                        "url": {"type": "string"},
                        "is_pull_request": {"type": "boolean"},
                    },
                    "required": ["repository", "number", "title", "state", "url", "is_pull_request"],
                }},
            },
            "required": ["total_count", "incomplete_results", "items"],
        }),
        hints(true, false, true),
    )
}

pub fn search_issues(env: Env, args: Args) -> LocalFuture<Outcome> {
    Box::pin(async move {
        let asked = args.string_within("query", 1..=256)?;
        let query = env.policy.constrain_search(&asked).map_err(ArgError)?;
        let limit = args.integer("limit", 1..=50, Some(10))? as u32;
        let results = env
            .github
            .search_issues(&env.credential, &query, limit)
            .await
            .about(|| format!("the search {query:?}"))?;
        // The query is confined, and results are checked all the same: GitHub's reading of a
        // query is not ours to predict.
        let mut outside = 0;
        let items: Vec<Value> = results
            .items
            .iter()
            .filter(|issue| {
                let allowed = !env.policy.confines_repositories()
                    || issue
                        .repository()
                        .is_some_and(|repo| env.policy.allows(&repo));
                outside += usize::from(!allowed);
                allowed
            })
            .map(|issue| {
                json!({
                    "repository": shape::repository(issue.repository().as_deref()),
                    "number": issue.number(),
                    "title": clean_line(issue.title()),
                    "state": shape::state(issue.state()),
                    "url": shape::web_url(issue.html_url()),
                    "is_pull_request": issue.is_pull_request(),
                })
            })
            .collect();
        // GitHub's total counts what was left out: shown, it would tell how much lies outside
        // the allowed repositories. Then the total is what is shown, and the text says why.
        let total = if outside > 0 {
            items.len() as u64
        } else {
            results.total_count
        };
        let mut text = format!(
            "{total} results in total for {query:?}, showing {}{}",
            items.len(),
            if results.incomplete_results {
                " (GitHub says the results are incomplete: the search timed out)"
            } else {
                ""
            }
        );
        if outside > 0 {
            text.push_str(
                " (results from repositories outside those allowed on this server were left \
                 out; the total counts only those shown)",
            );
        }
        if !items.is_empty() {
            text.push_str(&format!(":\n{UNTRUSTED_NOTE}\n"));
        }
        for item in &items {
            text.push_str(&format!(
                "\n- {}#{} {} [{}{}]\n  {}",
                item["repository"].as_str().unwrap_or_default(),
                item["number"],
                item["title"].as_str().unwrap_or_default(),
                item["state"].as_str().unwrap_or_default(),
                if item["is_pull_request"] == true {
                    ", pull request"
                } else {
                    ""
                },
                item["url"].as_str().unwrap_or_default(),
            ));
        }
        Ok(output(text, {
            let mut structured = json!({
                "total_count": total,
                "incomplete_results": results.incomplete_results,
            });
            structured["items"] = Value::Array(items);
            structured
        })
        .into())
    })
}

pub fn list_issue_comments_definition() -> ToolDefinition {
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

pub fn list_issue_comments(env: Env, args: Args) -> LocalFuture<Outcome> {
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
