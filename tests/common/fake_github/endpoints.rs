//! The fake GitHub's endpoints: issues (list, get, create, update), labels, comments, search,
//! rate_limit and user, on the state in `fake_github.rs`.

use serde_json::{Value, json};

use super::{
    IssueSeed, State, login_of,
    routes::{Answer, DOCS, answer, error, paginate, param, query_of, validation},
    shapes,
};

const ISSUES_DOCS: &str = "https://docs.github.com/rest/issues/issues";
const SEARCH_DOCS: &str =
    "https://docs.github.com/rest/search/search#search-issues-and-pull-requests";

/// One request to a repository's issues, once the repository is known.
struct Ctx<'a> {
    owner: String,
    name: String,
    repo_id: u64,
    pairs: Vec<(String, String)>,
    body: Value,
    /// The `documentation_url` of this endpoint's errors.
    docs: &'static str,
    login: &'a str,
}

pub(super) fn route(
    state: &mut State,
    method: &str,
    path_and_query: &str,
    body: &str,
    token: &str,
) -> Answer {
    let (path, pairs) = query_of(path_and_query);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /repositories/{id}/... is the same as /repos/{owner}/{name}/..., as on GitHub.
    let (owner, name, rest): (String, String, Vec<&str>) = match segments.as_slice() {
        ["repos", owner, name, rest @ ..] => (owner.to_string(), name.to_string(), rest.to_vec()),
        ["repositories", id, rest @ ..] => {
            match state.repos.iter().find(|r| r.id.to_string() == *id) {
                Some(r) => (r.owner.clone(), r.name.clone(), rest.to_vec()),
                None => return error(404, "Not Found", docs_for(method, rest)),
            }
        }
        ["search", "issues"] if method == "GET" => return search(state, &pairs),
        ["rate_limit"] if method == "GET" => return rate_limit(state),
        ["user"] if method == "GET" => return answer(200, shapes::user(&login_of(token))),
        _ => return error(404, "Not Found", DOCS),
    };
    let docs = docs_for(method, &rest);
    let Some(repo_id) = state.repo_mut(&owner, &name).map(|r| r.id) else {
        return error(404, "Not Found", docs);
    };
    let login = login_of(token);
    let ctx = Ctx {
        owner,
        name,
        repo_id,
        pairs,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        docs,
        login: &login,
    };
    match (method, rest.as_slice()) {
        ("GET", ["issues"]) => list_issues(state, &ctx),
        ("POST", ["issues"]) => create_issue(state, &ctx),
        (_, ["issues", n, more @ ..]) => {
            // Every route under /issues/{number} needs the issue to exist and not be deleted.
            let n = match check_issue(state, &ctx, n.parse().ok()) {
                Ok(n) => n,
                Err(missing) => return missing,
            };
            issue_route(state, &ctx, method, more, n)
        }
        _ => error(404, "Not Found", DOCS),
    }
}

fn issue_route(state: &mut State, ctx: &Ctx<'_>, method: &str, more: &[&str], n: u64) -> Answer {
    match (method, more) {
        ("GET", []) => answer(200, stored(state, ctx, n).clone()),
        ("PATCH", []) => update_issue(state, ctx, n),
        ("POST", ["labels"]) => add_labels(state, ctx, n),
        ("GET", ["comments"]) => list_comments(state, ctx, n),
        ("POST", ["comments"]) => create_comment(state, ctx, n),
        _ => error(404, "Not Found", DOCS),
    }
}

/// The docs page GitHub names in an endpoint's errors.
fn docs_for(method: &str, rest: &[&str]) -> &'static str {
    match (method, rest) {
        ("GET", ["issues"]) => "https://docs.github.com/rest/issues/issues#list-repository-issues",
        ("POST", ["issues"]) => "https://docs.github.com/rest/issues/issues#create-an-issue",
        ("GET", ["issues", _]) => "https://docs.github.com/rest/issues/issues#get-an-issue",
        ("PATCH", ["issues", _]) => "https://docs.github.com/rest/issues/issues#update-an-issue",
        ("POST", ["issues", _, "labels"]) => {
            "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue"
        }
        ("GET", ["issues", _, "comments"]) => {
            "https://docs.github.com/rest/issues/comments#list-issue-comments"
        }
        ("POST", ["issues", _, "comments"]) => {
            "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
        }
        _ => ISSUES_DOCS,
    }
}

fn stored<'s>(state: &'s mut State, ctx: &Ctx<'_>, n: u64) -> &'s mut Value {
    let repo = state.repo_mut(&ctx.owner, &ctx.name).expect("checked");
    &mut repo.issues[n as usize - 1]
}

/// The issue number, if it names an issue that exists (else 404) and was not deleted (410).
fn check_issue(state: &mut State, ctx: &Ctx<'_>, number: Option<u64>) -> Result<u64, Answer> {
    let repo = state.repo_mut(&ctx.owner, &ctx.name).expect("checked");
    let n = number.ok_or_else(|| error(404, "Not Found", ctx.docs))?;
    if repo.deleted.contains(&n) {
        return Err(error(410, "This issue was deleted", ctx.docs));
    }
    if n == 0 || n as usize > repo.issues.len() {
        return Err(error(404, "Not Found", ctx.docs));
    }
    Ok(n)
}

/// `updated_at` and `since` compared to the second, whatever fraction `since` carries.
fn updated_since(issue: &Value, since: &str) -> bool {
    let updated = issue["updated_at"].as_str().unwrap_or_default();
    updated.get(..19).unwrap_or(updated) >= since.get(..19).unwrap_or(since)
}

fn has_labels(issue: &Value, wanted: &str) -> bool {
    let names: Vec<String> = issue["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["name"].as_str())
        .map(str::to_lowercase)
        .collect();
    wanted
        .split(',')
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .all(|w| names.contains(&w))
}

/// Sorts issues by `sort` (created, updated, comments), newest or most first unless `asc`.
fn sort_issues(items: &mut [Value], sort: &str, ascending: bool) {
    items.sort_by(|a, b| {
        let key = |issue: &Value| match sort {
            "updated" => issue["updated_at"].as_str().unwrap_or_default().to_string(),
            "comments" => format!("{:010}", issue["comments"].as_u64().unwrap_or(0)),
            _ => issue["created_at"].as_str().unwrap_or_default().to_string(),
        };
        let order = key(a)
            .cmp(&key(b))
            .then(a["number"].as_u64().cmp(&b["number"].as_u64()));
        if ascending { order } else { order.reverse() }
    });
}

fn list_issues(state: &mut State, ctx: &Ctx<'_>) -> Answer {
    let pairs = &ctx.pairs;
    let wanted = param(pairs, "state").unwrap_or("open");
    if !["open", "closed", "all"].contains(&wanted) {
        return validation(ctx.docs, "Issue", "state", "invalid", Some(&json!(wanted)));
    }
    let repo = state.repo_mut(&ctx.owner, &ctx.name).expect("checked");
    let mut items: Vec<Value> = repo
        .issues
        .iter()
        .filter(|issue| !repo.deleted.contains(&issue["number"].as_u64().unwrap()))
        .filter(|issue| wanted == "all" || issue["state"] == wanted)
        .filter(|issue| param(pairs, "labels").is_none_or(|l| has_labels(issue, l)))
        .filter(|issue| param(pairs, "since").is_none_or(|s| updated_since(issue, s)))
        .map(shapes::in_list)
        .collect();
    let sort = param(pairs, "sort").unwrap_or("created");
    sort_issues(&mut items, sort, param(pairs, "direction") == Some("asc"));
    let link_path = format!("/repositories/{}/issues", ctx.repo_id);
    paginate(items, pairs, &state.base_url, &link_path)
}

/// The assignee users for `logins`, or GitHub's 422 for the first unknown login.
fn assignees(state: &State, ctx: &Ctx<'_>, logins: &[Value]) -> Result<Vec<Value>, Answer> {
    logins
        .iter()
        .map(|login| match login.as_str() {
            Some(l) if state.users.contains(l) => Ok(shapes::user(l)),
            _ => Err(validation(
                ctx.docs,
                "Issue",
                "assignees",
                "invalid",
                Some(login),
            )),
        })
        .collect()
}

/// Label names from `["a", "b"]` or `[{"name": "a"}]`, both of which GitHub accepts.
fn label_names(labels: &[Value]) -> Vec<String> {
    labels
        .iter()
        .filter_map(|l| l.as_str().or_else(|| l["name"].as_str()))
        .map(String::from)
        .collect()
}

fn create_issue(state: &mut State, ctx: &Ctx<'_>) -> Answer {
    let body = &ctx.body;
    let Some(title) = body["title"].as_str().filter(|t| !t.trim().is_empty()) else {
        return validation(ctx.docs, "Issue", "title", "missing_field", None);
    };
    let logins = body["assignees"].as_array().cloned().unwrap_or_default();
    let assigned = match assignees(state, ctx, &logins) {
        Ok(users) => users,
        Err(refused) => return refused,
    };
    let seed = IssueSeed {
        title: title.into(),
        body: body["body"].as_str().map(String::from),
        // GitHub creates labels it does not know yet, for users with push access.
        labels: label_names(body["labels"].as_array().map_or(&[], Vec::as_slice)),
        user: ctx.login.to_string(),
        ..IssueSeed::default()
    };
    let number = state.insert_issue(&ctx.owner, &ctx.name, seed, false);
    let issue = stored(state, ctx, number);
    issue["assignee"] = assigned.first().cloned().unwrap_or(Value::Null);
    issue["assignees"] = Value::Array(assigned);
    Answer {
        location: issue["url"].as_str().map(String::from),
        ..answer(201, issue.clone())
    }
}

/// Checks a PATCH body's `state` and `state_reason` the way GitHub does.
fn check_state(ctx: &Ctx<'_>) -> Result<(), Answer> {
    let body = &ctx.body;
    if let Some(s) = body.get("state").filter(|s| *s != "open" && *s != "closed") {
        return Err(validation(ctx.docs, "Issue", "state", "invalid", Some(s)));
    }
    let reasons = ["completed", "not_planned", "reopened", "duplicate"];
    if let Some(r) = body
        .get("state_reason")
        .filter(|r| !r.is_null() && !reasons.contains(&r.as_str().unwrap_or("")))
    {
        return Err(validation(
            ctx.docs,
            "Issue",
            "state_reason",
            "invalid",
            Some(r),
        ));
    }
    match body.get("title") {
        Some(t) if t.as_str().is_none_or(|t| t.trim().is_empty()) => Err(validation(
            ctx.docs,
            "Issue",
            "title",
            "missing_field",
            None,
        )),
        _ => Ok(()),
    }
}

fn update_issue(state: &mut State, ctx: &Ctx<'_>, n: u64) -> Answer {
    if let Err(refused) = check_state(ctx) {
        return refused;
    }
    let body = &ctx.body;
    let mut issue = stored(state, ctx, n).clone();
    // Labels and assignees given here replace the issue's, as on GitHub.
    if let Some(logins) = body["assignees"].as_array() {
        match assignees(state, ctx, logins) {
            Ok(users) => {
                issue["assignee"] = users.first().cloned().unwrap_or(Value::Null);
                issue["assignees"] = Value::Array(users);
            }
            Err(refused) => return refused,
        }
    }
    if let Some(labels) = body["labels"].as_array() {
        let labels = label_names(labels)
            .iter()
            .map(|l| state.label(&ctx.owner, &ctx.name, l))
            .collect();
        issue["labels"] = Value::Array(labels);
    }
    for key in ["title", "body"] {
        if let Some(value) = body.get(key) {
            issue[key] = value.clone();
        }
    }
    let now = state.tick();
    change_state(&mut issue, body, ctx.login, &now);
    issue["updated_at"] = json!(now);
    *stored(state, ctx, n) = issue.clone();
    answer(200, issue)
}

/// Closing sets `closed_at`, `closed_by` and a reason (completed by default); reopening a
/// closed issue clears them and sets the reason `reopened`.
fn change_state(issue: &mut Value, body: &Value, login: &str, now: &str) {
    let was = issue["state"].as_str().unwrap_or("open").to_string();
    let reason = body.get("state_reason").filter(|r| !r.is_null()).cloned();
    match (was.as_str(), body["state"].as_str()) {
        ("open", Some("closed")) => {
            issue["state"] = json!("closed");
            issue["closed_at"] = json!(now);
            issue["closed_by"] = shapes::user(login);
            issue["state_reason"] = reason.unwrap_or(json!("completed"));
        }
        ("closed", Some("open")) => {
            issue["state"] = json!("open");
            issue["closed_at"] = Value::Null;
            issue["closed_by"] = Value::Null;
            issue["state_reason"] = json!("reopened");
        }
        // Changing why a closed issue was closed.
        ("closed", _) if reason.is_some() => issue["state_reason"] = reason.unwrap(),
        _ => {}
    }
}

fn add_labels(state: &mut State, ctx: &Ctx<'_>, n: u64) -> Answer {
    // GitHub takes {"labels": [...]} or a bare array.
    let Some(wanted) = ctx.body["labels"].as_array().or(ctx.body.as_array()) else {
        return validation(ctx.docs, "Label", "labels", "missing_field", None);
    };
    let mut labels = stored(state, ctx, n)["labels"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for name in label_names(wanted) {
        let label = state.label(&ctx.owner, &ctx.name, &name);
        if !labels.iter().any(|l| l["id"] == label["id"]) {
            labels.push(label);
        }
    }
    let now = state.tick();
    let issue = stored(state, ctx, n);
    issue["labels"] = Value::Array(labels.clone());
    issue["updated_at"] = json!(now);
    answer(200, Value::Array(labels))
}

fn list_comments(state: &mut State, ctx: &Ctx<'_>, n: u64) -> Answer {
    let repo = state.repo_mut(&ctx.owner, &ctx.name).expect("checked");
    let comments: Vec<Value> = repo
        .comments
        .iter()
        .filter(|(i, _)| *i == n)
        .map(|(_, c)| c.clone())
        .collect();
    let link_path = format!("/repositories/{}/issues/{n}/comments", ctx.repo_id);
    paginate(comments, &ctx.pairs, &state.base_url, &link_path)
}

fn create_comment(state: &mut State, ctx: &Ctx<'_>, n: u64) -> Answer {
    let Some(text) = ctx.body["body"].as_str().filter(|b| !b.trim().is_empty()) else {
        return validation(ctx.docs, "IssueComment", "body", "missing_field", None);
    };
    let id = state
        .insert_comment(&ctx.owner, &ctx.name, n, ctx.login, text)
        .expect("checked");
    let repo = state.repo_mut(&ctx.owner, &ctx.name).expect("checked");
    let (_, comment) = repo.comments.iter().find(|(_, c)| c["id"] == id).unwrap();
    Answer {
        location: comment["url"].as_str().map(String::from),
        ..answer(201, comment.clone())
    }
}

fn search(state: &mut State, pairs: &[(String, String)]) -> Answer {
    let q = param(pairs, "q").unwrap_or("").trim();
    if q.is_empty() {
        return answer(
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "Search", "field": "q", "code": "missing"}], "documentation_url": SEARCH_DOCS, "status": "422"}),
        );
    }
    let terms = tokens(q);
    let mut matches = Vec::new();
    for repo in &state.repos {
        let full = format!("{}/{}", repo.owner, repo.name).to_lowercase();
        let live = repo.issues.iter().filter(|issue| {
            !repo
                .deleted
                .contains(&issue["number"].as_u64().unwrap_or(0))
        });
        for issue in live.filter(|issue| matches_query(&terms, &full, issue)) {
            let mut item = shapes::in_list(issue);
            item["score"] = json!(1.0);
            matches.push(item);
        }
    }
    // Without `sort`, GitHub orders by best match; every item scores the same here, so the
    // newest come first.
    let sort = param(pairs, "sort").unwrap_or("created");
    sort_issues(&mut matches, sort, param(pairs, "order") == Some("asc"));
    let total = matches.len();
    let page = paginate(matches, pairs, &state.base_url, "/search/issues");
    Answer {
        body: json!({"total_count": total, "incomplete_results": false, "items": page.body}),
        ..page
    }
}

/// The words of a query, keeping double-quoted phrases (`label:"good first issue"`) whole.
fn tokens(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut current, mut quoted) = (String::new(), false);
    for c in q.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A simple matcher: words match the title or body (any case); the qualifiers repo, is,
/// state, type, label, author and assignee are honoured; other qualifiers are ignored.
fn matches_query(terms: &[String], repo: &str, issue: &Value) -> bool {
    let text = format!(
        "{} {}",
        issue["title"].as_str().unwrap_or_default(),
        issue["body"].as_str().unwrap_or_default()
    )
    .to_lowercase();
    let is_pr = issue.get("pull_request").is_some();
    let same = |value: &Value, wanted: &str| {
        value
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
    };
    terms.iter().all(|term| match term.split_once(':') {
        Some(("repo", r)) => r.eq_ignore_ascii_case(repo),
        Some(("is" | "type", "issue")) => !is_pr,
        Some(("is" | "type", "pr")) => is_pr,
        Some(("is" | "state", s @ ("open" | "closed"))) => issue["state"] == s,
        Some(("label", l)) => issue["labels"]
            .as_array()
            .is_some_and(|ls| ls.iter().any(|x| same(&x["name"], l))),
        Some(("author", a)) => same(&issue["user"]["login"], a),
        Some(("assignee", a)) => issue["assignees"]
            .as_array()
            .is_some_and(|us| us.iter().any(|u| same(&u["login"], a))),
        Some(_) => true,
        None => text.contains(&term.to_lowercase()),
    })
}

fn rate_limit(state: &State) -> Answer {
    let show = |key: &str| {
        let b = state.budgets[key];
        json!({"limit": b.limit, "used": b.limit - b.remaining, "remaining": b.remaining,
               "reset": b.reset, "resource": key})
    };
    answer(
        200,
        json!({"resources": {"core": show("core"), "search": show("search")}, "rate": show("core")}),
    )
}
