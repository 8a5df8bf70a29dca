//! The JSON objects the fake GitHub hands out (users, labels, issues, comments), shaped like
//! GitHub's own answers in `tests/fixtures/github-api/recorded/` and like the OpenAPI schemas
//! `simple-user`, `label`, `issue` and `issue-comment`. `tests/fake_github.rs` checks them.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

/// `2024-01-01T00:00:00Z` plus `minutes`, in GitHub's format (no fractional seconds).
///
/// Issue number `n` is created at minute `n`, so "sort by created" is the number order;
/// changes happen at minute 100 000 and later, so an updated issue sorts after every fresh one.
pub(crate) fn timestamp(minutes: u64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(1_704_067_200 + minutes * 60);
    github_issue_mcp::time::rfc3339(time).replace(".000Z", "Z")
}

/// A `simple-user`, with every URL GitHub sends. The id is derived from the login, so the
/// same login is the same user everywhere.
pub(crate) fn user(login: &str) -> Value {
    let id = login
        .bytes()
        .fold(7_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 100_000_000;
    let api = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": id, "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "", "url": api, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": "User", "site_admin": false,
    })
}

/// A repository label, as GitHub creates one on the fly (grey, no description).
pub(crate) fn label(repo_api: &str, id: u64, name: &str) -> Value {
    json!({
        "id": id, "node_id": format!("MDU6TGFiZWw{id}"),
        "url": format!("{repo_api}/labels/{}", name.replace(' ', "%20")),
        "name": name, "color": "ededed", "default": false, "description": null,
    })
}

fn reactions(url: String) -> Value {
    json!({"url": url, "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
           "confused": 0, "heart": 0, "rocket": 0, "eyes": 0})
}

/// Where an issue lives: `api` is `{base}/repos/{owner}/{name}`, `html` its github.com page.
pub(crate) struct Place<'a> {
    pub api: &'a str,
    pub html: &'a str,
    pub owner: &'a str,
}

/// What a new issue or pull request holds.
pub(crate) struct NewIssue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub author: String,
    pub labels: Vec<Value>,
    pub assignees: Vec<Value>,
    pub comments: u64,
    pub closed: bool,
    pub pull: bool,
}

/// The full issue object of GET /repos/{o}/{r}/issues/{n}. Lists leave out `closed_by`, as
/// GitHub's do (see [`in_list`]).
pub(crate) fn issue(place: &Place<'_>, new: NewIssue) -> Value {
    let (api, html, number) = (place.api, place.html, new.number);
    let url = format!("{api}/issues/{number}");
    let created = timestamp(number);
    let mut issue = json!({
        "url": url,
        "repository_url": api,
        "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"),
        "html_url": format!("{html}/{}/{number}", if new.pull { "pull" } else { "issues" }),
        "id": new.id, "node_id": format!("MDU6SXNzdWU{}", new.id), "number": number,
        "title": new.title, "user": user(&new.author), "labels": new.labels,
        "state": if new.closed { "closed" } else { "open" },
        "locked": false, "assignee": new.assignees.first().cloned(), "assignees": new.assignees,
        "milestone": null, "comments": new.comments,
        "created_at": created, "updated_at": created,
        "closed_at": if new.closed { json!(created) } else { Value::Null },
        "author_association": association(&new.author, place.owner),
        "active_lock_reason": null, "body": new.body,
        "closed_by": if new.closed { user(&new.author) } else { Value::Null },
        "reactions": reactions(format!("{url}/reactions")),
        "timeline_url": format!("{url}/timeline"),
        "performed_via_github_app": null,
        "state_reason": if new.closed { json!("completed") } else { Value::Null },
    });
    if new.pull {
        issue["draft"] = json!(false);
        issue["pull_request"] = json!({
            "url": format!("{api}/pulls/{number}"), "html_url": format!("{html}/pull/{number}"),
            "diff_url": format!("{html}/pull/{number}.diff"),
            "patch_url": format!("{html}/pull/{number}.patch"), "merged_at": null,
        });
    }
    issue
}

/// An issue as list and search answers show it: without `closed_by`, which GitHub only sends
/// for a single issue.
pub(crate) fn in_list(issue: &Value) -> Value {
    let mut item = issue.clone();
    if let Some(fields) = item.as_object_mut() {
        fields.remove("closed_by");
    }
    item
}

/// An issue comment on the issue `issue`, written at `at`.
pub(crate) fn comment(issue: &Value, id: u64, login: &str, body: &str, at: &str) -> Value {
    let api = issue["repository_url"].as_str().unwrap_or_default();
    let html = issue["html_url"].as_str().unwrap_or_default();
    let owner = issue["repository_url"]
        .as_str()
        .and_then(|url| url.rsplit('/').nth(1))
        .unwrap_or_default();
    json!({
        "url": format!("{api}/issues/comments/{id}"),
        "html_url": format!("{html}#issuecomment-{id}"),
        "issue_url": issue["url"], "id": id, "node_id": format!("MDEyOklzc3VlQ29tbWVudA{id}"),
        "user": user(login), "created_at": at, "updated_at": at,
        "author_association": association(login, owner), "body": body,
        "performed_via_github_app": null,
        "reactions": reactions(format!("{api}/issues/comments/{id}/reactions")),
    })
}

fn association(login: &str, owner: &str) -> &'static str {
    if login.eq_ignore_ascii_case(owner) {
        "OWNER"
    } else {
        "NONE"
    }
}
