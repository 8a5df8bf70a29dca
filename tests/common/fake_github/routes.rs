//! The fake GitHub's request handling: recording, auth, injected faults, rate-limit budgets,
//! ETags, and the issue, comment, label and search endpoints.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    time::Instant,
};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{RecordedRequest, Shared, State};

const DOCS: &str = "https://docs.github.com/rest";

/// What a route produced, before the common headers.
struct Answer {
    status: u16,
    body: Value,
    link: Option<String>,
    retry_after: Option<u64>,
}

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body,
        link: None,
        retry_after: None,
    }
}

fn error(status: u16, message: &str) -> Answer {
    answer(
        status,
        json!({"message": message, "documentation_url": DOCS, "status": status.to_string()}),
    )
}

fn validation(resource: &str, field: &str, code: &str, value: Option<&Value>) -> Answer {
    let mut item = json!({"resource": resource, "field": field, "code": code});
    if let Some(value) = value {
        item["value"] = value.clone();
    }
    answer(
        422,
        json!({"message": "Validation Failed", "errors": [item], "documentation_url": DOCS, "status": "422"}),
    )
}

pub async fn serve(request: HttpRequest, body: Bytes, state: web::Data<Shared>) -> HttpResponse {
    let method = request.method().as_str().to_string();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or_default().to_string();
            (name.as_str().to_lowercase(), value)
        })
        .collect();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let resource = if request.path().starts_with("/search/") {
        "search"
    } else {
        "core"
    };

    let (latency, answer, broken) = {
        let mut state = state.lock().unwrap();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        let answer = decide(
            &mut state,
            &method,
            &path_and_query,
            &headers,
            &body_text,
            resource,
        );
        let broken = match &mut state.broken {
            Some((m, times)) if *m == method && *times > 0 => {
                *times -= 1;
                true
            }
            _ => false,
        };
        state.requests.push(RecordedRequest {
            method: method.clone(),
            path_and_query: path_and_query.clone(),
            headers: headers.clone(),
            body: body_text,
            status: answer.0.status,
            at: Instant::now(),
        });
        (state.latency, answer, broken)
    };
    if !latency.is_zero() {
        actix_web::rt::time::sleep(latency).await;
    }
    let response = respond(&state, answer, resource, broken);
    state.lock().unwrap().in_flight -= 1;
    response
}

/// The answer and the ETag-matching verdict, applying the injected faults and budgets.
fn decide(
    state: &mut State,
    method: &str,
    path_and_query: &str,
    headers: &HashMap<String, String>,
    body: &str,
    resource: &'static str,
) -> (Answer, bool) {
    let token = headers.get("authorization").and_then(|auth| {
        auth.strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("token "))
    });
    if !token.is_some_and(|token| state.tokens.contains(token)) {
        return (error(401, "Bad credentials"), false);
    }
    if let Some((retry_after, status, times)) = state.secondary.as_mut().filter(|s| s.2 > 0) {
        *times -= 1;
        let mut answer = error(
            *status,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        );
        answer.retry_after = *retry_after;
        return (answer, false);
    }
    if let Some((status, times)) = state.failures.as_mut().filter(|f| f.1 > 0) {
        *times -= 1;
        let status = *status;
        return (error(status, "Server Error"), false);
    }
    let budget = state.budgets[resource];
    if budget.remaining == 0 {
        return (
            error(
                403,
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
            ),
            false,
        );
    }
    let answer = route(state, method, path_and_query, body);
    let etag = etag_of(&answer.body);
    let not_modified = method == "GET"
        && answer.status == 200
        && headers
            .get("if-none-match")
            .is_some_and(|sent| *sent == etag);
    if !not_modified {
        let budget = state.budgets.get_mut(resource).unwrap();
        budget.remaining -= 1;
    }
    let status = if not_modified { 304 } else { answer.status };
    (Answer { status, ..answer }, not_modified)
}

fn etag_of(body: &Value) -> String {
    let mut hasher = DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    format!("W/\"{:016x}\"", hasher.finish())
}

fn respond(
    state: &Shared,
    (answer, not_modified): (Answer, bool),
    resource: &str,
    broken: bool,
) -> HttpResponse {
    let budget = state.lock().unwrap().budgets[resource];
    let mut builder = HttpResponse::build(StatusCode::from_u16(answer.status).unwrap());
    builder
        .insert_header(("x-ratelimit-limit", budget.limit.to_string()))
        .insert_header(("x-ratelimit-remaining", budget.remaining.to_string()))
        .insert_header((
            "x-ratelimit-used",
            (budget.limit - budget.remaining).to_string(),
        ))
        .insert_header(("x-ratelimit-reset", budget.reset.to_string()))
        .insert_header(("x-ratelimit-resource", resource))
        .insert_header(("x-github-api-version-selected", "2022-11-28"));
    if let Some(link) = &answer.link {
        builder.insert_header(("link", link.as_str()));
    }
    if let Some(seconds) = answer.retry_after {
        builder.insert_header(("retry-after", seconds.to_string()));
    }
    if answer.status == 200 {
        builder.insert_header(("etag", etag_of(&answer.body)));
    }
    if not_modified || answer.status == 204 {
        return builder.finish();
    }
    builder.content_type("application/json; charset=utf-8");
    let text = answer.body.to_string();
    if broken {
        // Promise more than is sent, then fail the stream: the connection breaks mid-answer.
        let half = Bytes::from(text[..text.len() / 2].to_string());
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(half),
            Err(std::io::Error::other("connection dropped by the fake")),
        ];
        builder.insert_header(("content-length", text.len().to_string()));
        return builder.streaming(futures_util::stream::iter(chunks));
    }
    builder.body(text)
}

fn query_of(path_and_query: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_string(), decode(v))
        })
        .collect();
    (path.to_string(), pairs)
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// One page of `items` and GitHub's `Link` header for it, with links at `link_path`.
fn paginate(
    items: Vec<Value>,
    pairs: &[(String, String)],
    base: &str,
    link_path: &str,
    default_per_page: usize,
) -> Answer {
    let per_page = param(pairs, "per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(default_per_page)
        .clamp(1, 100);
    let page = param(pairs, "page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let body: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let kept: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let url = |n: usize| {
        let mut query = kept.clone();
        query.push(format!("page={n}"));
        format!("<{base}{link_path}?{}>", query.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page.min(last + 1) - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    Answer {
        link: (!links.is_empty()).then(|| links.join(", ")),
        ..answer(200, Value::Array(body))
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn route(state: &mut State, method: &str, path_and_query: &str, body: &str) -> Answer {
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
