//! The fake GitHub's endpoints: issues (list, get, create, update), labels, comments,
//! search and rate_limit, on the state in `fake_github.rs`.

use serde_json::{Value, json};

use super::{
    State,
    routes::{Answer, DOCS, answer, error, paginate, param, query_of, validation},
};

pub(super) fn route(
    state: &mut State,
    method: &str,
    path_and_query: &str,
    body: &str,
    token: &str,
) -> Answer {
    let (path, pairs) = query_of(path_and_query);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    // Resolve /repositories/{id}/... to the owner and name.
    let (owner, name, rest): (String, String, Vec<&str>) = match segments.as_slice() {
        ["repos", owner, name, rest @ ..] => (owner.to_string(), name.to_string(), rest.to_vec()),
        ["repositories", id, rest @ ..] => {
            match state.repos.iter().find(|r| r.id.to_string() == *id) {
                Some(r) => (r.owner.clone(), r.name.clone(), rest.to_vec()),
                None => return error(404, "Not Found"),
            }
        }
        ["search", "issues"] if method == "GET" => return search(state, &pairs),
        ["rate_limit"] => return rate_limit(state),
        ["user"] if method == "GET" => {
            let login = super::login_of(token);
            return answer(200, state.user(&login));
        }
        _ => return error(404, "Not Found"),
    };
    let Some(repo_id) = state.repo_mut(&owner, &name).map(|r| r.id) else {
        return error(404, "Not Found");
    };
    // Every route under /issues/{number} needs the issue to exist and not be deleted.
    let n = match rest.as_slice() {
        ["issues", n, ..] => match check_issue(state, &owner, &name, n.parse().ok()) {
            Ok(n) => n,
            Err(missing) => return missing,
        },
        _ => 0,
    };
    match (method, rest.as_slice()) {
        ("GET", ["issues"]) => list_issues(state, &owner, &name, repo_id, &pairs),
        ("POST", ["issues"]) => create_issue(state, &owner, &name, &body),
        ("GET", ["issues", _]) => answer(
            200,
            state.repo_mut(&owner, &name).unwrap().issues[n as usize - 1].clone(),
        ),
        ("PATCH", ["issues", _]) => update_issue(state, &owner, &name, n, &body),
        ("POST", ["issues", _, "labels"]) => add_labels(state, &owner, &name, n, &body),
        ("GET", ["issues", _, "comments"]) => {
            let repo = state.repo_mut(&owner, &name).unwrap();
            let comments: Vec<Value> = repo
                .comments
                .iter()
                .filter(|(i, _)| *i == n)
                .map(|(_, c)| c.clone())
                .collect();
            let base = state.base_url.clone();
            paginate(
                comments,
                &pairs,
                &base,
                &format!("/repositories/{repo_id}/issues/{n}/comments"),
                30,
            )
        }
        ("POST", ["issues", _, "comments"]) => {
            match body["body"].as_str().filter(|b| !b.trim().is_empty()) {
                None => validation("IssueComment", "body", "missing_field", None),
                Some(text) => {
                    let id = state
                        .insert_comment(&owner, &name, n, "octocat", text)
                        .unwrap();
                    let repo = state.repo_mut(&owner, &name).unwrap();
                    let comment = repo
                        .comments
                        .iter()
                        .find(|(_, c)| c["id"] == id)
                        .unwrap()
                        .1
                        .clone();
                    answer(201, comment)
                }
            }
        }
        _ => error(404, "Not Found"),
    }
}

/// The issue number, if it names an issue that exists (404) and was not deleted (410).
fn check_issue(
    state: &mut State,
    owner: &str,
    name: &str,
    number: Option<u64>,
) -> Result<u64, Answer> {
    let repo = state.repo_mut(owner, name).unwrap();
    let n = number.ok_or_else(|| error(404, "Not Found"))?;
    if repo.deleted.contains(&n) {
        return Err(error(410, "This issue was deleted"));
    }
    if n == 0 || n as usize > repo.issues.len() {
        return Err(error(404, "Not Found"));
    }
    Ok(n)
}

fn list_issues(
    state: &mut State,
    owner: &str,
    name: &str,
    repo_id: u64,
    pairs: &[(String, String)],
) -> Answer {
    let wanted = param(pairs, "state").unwrap_or("open").to_string();
    let sort = param(pairs, "sort").unwrap_or("created").to_string();
    let ascending = param(pairs, "direction") == Some("asc");
    let repo = state.repo_mut(owner, name).unwrap();
    let mut items: Vec<Value> = repo
        .issues
        .iter()
        .filter(|issue| !repo.deleted.contains(&issue["number"].as_u64().unwrap()))
        .filter(|issue| wanted == "all" || issue["state"] == wanted.as_str())
        .cloned()
        .collect();
    items.sort_by(|a, b| {
        let key = |issue: &Value| match sort.as_str() {
            "updated" => issue["updated_at"].as_str().unwrap_or_default().to_string(),
            "comments" => format!("{:010}", issue["comments"].as_u64().unwrap_or(0)),
            _ => issue["created_at"].as_str().unwrap_or_default().to_string(),
        };
        let order = key(a)
            .cmp(&key(b))
            .then(a["number"].as_u64().cmp(&b["number"].as_u64()));
        if ascending { order } else { order.reverse() }
    });
    let base = state.base_url.clone();
    paginate(
        items,
        pairs,
        &base,
        &format!("/repositories/{repo_id}/issues"),
        30,
    )
}

/// Checks assignees against known users and creates missing labels, as GitHub does for users
/// with push access.
fn apply_sets(
    state: &mut State,
    owner: &str,
    name: &str,
    issue: &mut Value,
    body: &Value,
) -> Result<(), Answer> {
    if let Some(assignees) = body.get("assignees").and_then(Value::as_array) {
        let mut users = Vec::new();
        for login in assignees {
            let known = login.as_str().is_some_and(|l| state.users.contains(l));
            if !known {
                return Err(validation("Issue", "assignees", "invalid", Some(login)));
            }
            users.push(state.user(login.as_str().unwrap()));
        }
        issue["assignee"] = users.first().cloned().unwrap_or(Value::Null);
        issue["assignees"] = Value::Array(users);
    }
    if let Some(labels) = body.get("labels").and_then(Value::as_array) {
        let labels: Vec<Value> = labels
            .iter()
            .filter_map(Value::as_str)
            .map(|l| state.label(owner, name, l))
            .collect();
        issue["labels"] = Value::Array(labels);
    }
    Ok(())
}

fn create_issue(state: &mut State, owner: &str, name: &str, body: &Value) -> Answer {
    let Some(title) = body["title"].as_str().filter(|t| !t.trim().is_empty()) else {
        return validation("Issue", "title", "missing_field", None);
    };
    let seed = super::IssueSeed {
        title: title.into(),
        body: body["body"].as_str().map(String::from),
        ..super::IssueSeed::default()
    };
    let mut probe = json!({});
    if let Err(refused) = apply_sets(state, owner, name, &mut probe, body) {
        return refused;
    }
    let number = state.insert_issue(owner, name, seed, false);
    let repo = state.repo_mut(owner, name).unwrap();
    let issue = &mut repo.issues[number as usize - 1];
    for key in ["labels", "assignees", "assignee"] {
        if let Some(value) = probe.get(key) {
            issue[key] = value.clone();
        }
    }
    answer(201, issue.clone())
}

fn update_issue(state: &mut State, owner: &str, name: &str, n: u64, body: &Value) -> Answer {
    if let Some(s) = body.get("state").filter(|s| *s != "open" && *s != "closed") {
        return validation("Issue", "state", "invalid", Some(s));
    }
    if let Some(r) = body
        .get("state_reason")
        .filter(|r| !["completed", "not_planned", "reopened"].contains(&r.as_str().unwrap_or("")))
    {
        return validation("Issue", "state_reason", "invalid", Some(r));
    }
    let now = state.tick();
    let mut issue = state.repo_mut(owner, name).unwrap().issues[n as usize - 1].clone();
    if let Err(refused) = apply_sets(state, owner, name, &mut issue, body) {
        return refused;
    }
    for key in ["title", "body"] {
        if let Some(value) = body.get(key) {
            issue[key] = value.clone();
        }
    }
    match body["state"].as_str() {
        Some("closed") => {
            issue["state"] = json!("closed");
            issue["closed_at"] = json!(now);
            issue["state_reason"] = body
                .get("state_reason")
                .cloned()
                .unwrap_or(json!("completed"));
        }
        Some("open") => {
            issue["state"] = json!("open");
            issue["closed_at"] = Value::Null;
            issue["state_reason"] = json!("reopened");
        }
        _ => {}
    }
    issue["updated_at"] = json!(now);
    state.repo_mut(owner, name).unwrap().issues[n as usize - 1] = issue.clone();
    answer(200, issue)
}

fn add_labels(state: &mut State, owner: &str, name: &str, n: u64, body: &Value) -> Answer {
    let Some(wanted) = body["labels"].as_array() else {
        return validation("Label", "labels", "missing_field", None);
    };
    let now = state.tick();
    let mut labels = state.repo_mut(owner, name).unwrap().issues[n as usize - 1]["labels"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for label in wanted.iter().filter_map(Value::as_str) {
        if !labels.iter().any(|l| l["name"] == label) {
            labels.push(state.label(owner, name, label));
        }
    }
    let issue = &mut state.repo_mut(owner, name).unwrap().issues[n as usize - 1];
    issue["labels"] = Value::Array(labels.clone());
    issue["updated_at"] = json!(now);
    answer(200, Value::Array(labels))
}

fn search(state: &mut State, pairs: &[(String, String)]) -> Answer {
    let q = param(pairs, "q").unwrap_or("").trim().to_string();
    if q.is_empty() {
        return answer(
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "Search", "field": "q", "code": "missing"}], "documentation_url": DOCS, "status": "422"}),
        );
    }
    let mut matches = Vec::new();
    for repo in &state.repos {
        let full = format!("{}/{}", repo.owner, repo.name).to_lowercase();
        for issue in &repo.issues {
            if matches_query(&q, &full, issue) {
                let mut item = issue.clone();
                item["score"] = json!(1.0);
                matches.push(item);
            }
        }
    }
    matches.reverse();
    let total = matches.len();
    let base = state.base_url.clone();
    let page = paginate(matches, pairs, &base, "/search/issues", 30);
    Answer {
        body: json!({"total_count": total, "incomplete_results": false, "items": page.body}),
        ..page
    }
}

fn matches_query(q: &str, repo: &str, issue: &Value) -> bool {
    let text = format!(
        "{} {}",
        issue["title"].as_str().unwrap_or_default(),
        issue["body"].as_str().unwrap_or_default()
    )
    .to_lowercase();
    let is_pr = issue.get("pull_request").is_some();
    q.split_whitespace().all(|term| match term.split_once(':') {
        Some(("repo", r)) => r.to_lowercase() == repo,
        Some(("is", "issue")) => !is_pr,
        Some(("is", "pr")) => is_pr,
        Some(("is" | "state", s @ ("open" | "closed"))) => issue["state"] == s,
        Some(("label", l)) => issue["labels"]
            .as_array()
            .is_some_and(|ls| ls.iter().any(|x| x["name"] == l)),
        Some(("author", a)) => issue["user"]["login"] == a,
        Some(_) => true,
        None => text.contains(&term.to_lowercase()),
    })
}

fn rate_limit(state: &State) -> Answer {
    let show = |key: &str| {
        let b = state.budgets[key];
        json!({"limit": b.limit, "remaining": b.remaining, "reset": b.reset, "used": b.limit - b.remaining})
    };
    answer(
        200,
        json!({"resources": {"core": show("core"), "search": show("search")}, "rate": show("core")}),
    )
}
