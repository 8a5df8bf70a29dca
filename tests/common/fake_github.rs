//! A stateful fake of GitHub's REST API for the integration tests: real HTTP on 127.0.0.1:0.
//!
//! It keeps repositories, issues (with pull requests mixed in, as GitHub's issue lists do),
//! comments and labels, and answers like GitHub: `Link` pagination pointing at
//! `/repositories/{id}/...`, ETags and free 304s, `x-ratelimit-*` headers with 403 answers when
//! a budget is spent, secondary limits with `retry-after`, and GitHub's 401/404/410/422 bodies.
//! Tests seed it, inject faults, and read back every request it served (with the most it served
//! at once). `tests/fake_github.rs` checks its shapes against GitHub's OpenAPI description and
//! recorded answers in `tests/fixtures/github-api/`, so that it cannot drift from GitHub.
//!
//! The HTTP layer is in `routes.rs`, the endpoints in `endpoints.rs`; this file holds the
//! state, the seeding API and the JSON shapes.

use std::{
    collections::{HashMap, HashSet},
    net::TcpListener,
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use actix_web::{App, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};

mod endpoints;
mod routes;

/// The token that `common::settings` gives the server.
pub const TEST_TOKEN: &str = "ghp_testtokentesttokentest";

/// The GitHub login a token belongs to: octocat for [`TEST_TOKEN`], `user-<last 4>` for others.
pub fn login_of(token: &str) -> String {
    if token == TEST_TOKEN {
        "octocat".into()
    } else {
        format!("user-{}", &token[token.len().saturating_sub(4)..])
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path_and_query: String,
    /// Lowercase names.
    pub headers: HashMap<String, String>,
    pub body: String,
    /// The status the fake answered.
    pub status: u16,
    pub at: Instant,
}

/// What a seeded issue looks like.
#[derive(Debug, Clone)]
pub struct IssueSeed {
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub user: String,
    pub comments: u64,
}

impl Default for IssueSeed {
    fn default() -> Self {
        IssueSeed {
            title: "Seeded issue".into(),
            body: None,
            state: "open".into(),
            labels: Vec::new(),
            assignees: Vec::new(),
            user: "octocat".into(),
            comments: 0,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    /// Issues and pull requests, by number order (number = index + 1).
    pub issues: Vec<Value>,
    pub deleted: HashSet<u64>,
    /// (issue number, comment)
    pub comments: Vec<(u64, Value)>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub limit: u64,
    pub remaining: u64,
    pub reset: u64,
}

#[derive(Debug)]
pub(crate) struct State {
    pub base_url: String,
    pub tokens: HashSet<String>,
    pub users: HashSet<String>,
    pub repos: Vec<Repo>,
    pub budgets: HashMap<&'static str, Budget>,
    pub secondary: Option<(Option<u64>, u16, usize)>,
    pub failures: Option<(u16, usize)>,
    pub broken: Option<(String, usize)>,
    pub latency: Duration,
    pub requests: Vec<RecordedRequest>,
    pub in_flight: usize,
    pub max_in_flight: usize,
    pub next_id: u64,
    /// Minutes since the fake's epoch, advanced by every change (for `updated_at`).
    pub clock: u64,
}

pub(crate) type Shared = Arc<Mutex<State>>;

/// The fake GitHub, stopped when dropped.
pub struct FakeGitHub {
    pub base_url: String,
    state: Shared,
    handle: ServerHandle,
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `2024-01-01T00:00:00Z` plus `minutes`, in GitHub's format.
pub(crate) fn timestamp(minutes: u64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(1_704_067_200 + minutes * 60);
    github_issue_mcp::time::rfc3339(time).replace(".000Z", "Z")
}

impl FakeGitHub {
    pub fn start() -> FakeGitHub {
        Self::start_with_tokens(&[TEST_TOKEN])
    }

    pub fn start_with_tokens(tokens: &[&str]) -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let reset = epoch_now() + 3600;
        let state = Arc::new(Mutex::new(State {
            base_url: base_url.clone(),
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            users: ["octocat", "hubot"].map(String::from).into(),
            repos: Vec::new(),
            budgets: HashMap::from([
                (
                    "core",
                    Budget {
                        limit: 5000,
                        remaining: 5000,
                        reset,
                    },
                ),
                (
                    "search",
                    Budget {
                        limit: 30,
                        remaining: 30,
                        reset,
                    },
                ),
            ]),
            secondary: None,
            failures: None,
            broken: None,
            latency: Duration::ZERO,
            requests: Vec::new(),
            in_flight: 0,
            max_in_flight: 0,
            next_id: 1000,
            clock: 0,
        }));
        let shared = state.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(shared.clone()))
                        .default_service(web::to(routes::serve))
                })
                .workers(2)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                tx.send(server.handle()).unwrap();
                server.await
            })
        });
        let handle = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("fake GitHub started");
        FakeGitHub {
            base_url,
            state,
            handle,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn add_repo(&self, owner: &str, repo: &str) -> u64 {
        self.with(|state| {
            state.next_id += 1;
            let id = state.next_id;
            state.users.insert(owner.to_string());
            state.repos.push(Repo {
                id,
                owner: owner.into(),
                name: repo.into(),
                issues: Vec::new(),
                deleted: HashSet::new(),
                comments: Vec::new(),
            });
            id
        })
    }

    pub fn add_issue(&self, owner: &str, repo: &str, seed: IssueSeed) -> u64 {
        self.with(|state| state.insert_issue(owner, repo, seed, false))
    }

    pub fn add_pull_request(&self, owner: &str, repo: &str, title: &str) -> u64 {
        let seed = IssueSeed {
            title: title.into(),
            ..IssueSeed::default()
        };
        self.with(|state| state.insert_issue(owner, repo, seed, true))
    }

    pub fn add_comment(&self, owner: &str, repo: &str, number: u64, user: &str, body: &str) -> u64 {
        self.with(|state| state.insert_comment(owner, repo, number, user, body))
            .expect("the issue exists")
    }

    /// Later reads of the issue answer 410 Gone.
    pub fn delete_issue(&self, owner: &str, repo: &str, number: u64) {
        self.with(|state| {
            state
                .repo_mut(owner, repo)
                .expect("repo")
                .deleted
                .insert(number);
        })
    }

    pub fn issue(&self, owner: &str, repo: &str, number: u64) -> Option<Value> {
        self.with(|state| {
            let repo = state.repo_mut(owner, repo)?;
            repo.issues.get(number.checked_sub(1)? as usize).cloned()
        })
    }

    pub fn set_rate_limit(&self, resource: &str, remaining: u64, reset_in: Duration) {
        self.with(|state| {
            let key = if resource == "search" {
                "search"
            } else {
                "core"
            };
            let budget = state.budgets.get_mut(key).unwrap();
            budget.remaining = remaining;
            budget.reset = epoch_now() + reset_in.as_secs();
        })
    }

    /// The next `times` requests get a secondary rate limit answer.
    pub fn set_secondary_limit(&self, retry_after: Option<u64>, status: u16, times: usize) {
        self.with(|state| state.secondary = Some((retry_after, status, times)))
    }

    /// The next `times` requests get `status` with a GitHub-shaped body.
    pub fn fail_next(&self, status: u16, times: usize) {
        self.with(|state| state.failures = Some((status, times)))
    }

    /// The next `times` requests with `method` take effect, but their answer breaks off
    /// mid-body (a declared length that the stream never delivers), so the client sees a
    /// network error after GitHub did the work.
    pub fn drop_connection_next(&self, method: &str, times: usize) {
        self.with(|state| state.broken = Some((method.to_uppercase(), times)))
    }

    pub fn set_latency(&self, latency: Duration) {
        self.with(|state| state.latency = latency)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.with(|state| state.requests.clone())
    }

    pub fn request_count(&self) -> usize {
        self.with(|state| state.requests.len())
    }

    pub fn max_in_flight(&self) -> usize {
        self.with(|state| state.max_in_flight)
    }

    pub fn reset_records(&self) {
        self.with(|state| {
            state.requests.clear();
            state.max_in_flight = state.in_flight;
        })
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl State {
    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos
            .iter_mut()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    pub fn tick(&mut self) -> String {
        self.clock += 1;
        timestamp(100_000 + self.clock)
    }

    pub fn user(&self, login: &str) -> Value {
        let id = login.bytes().map(u64::from).sum::<u64>();
        json!({
            "login": login, "id": id, "node_id": format!("MDQ6VXNlcj{id}"),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
            "gravatar_id": "", "url": format!("https://api.github.com/users/{login}"),
            "html_url": format!("https://github.com/{login}"), "type": "User", "site_admin": false,
        })
    }

    pub fn label(&mut self, owner: &str, repo: &str, name: &str) -> Value {
        self.next_id += 1;
        json!({
            "id": self.next_id, "node_id": format!("MDU6TGFiZWw{}", self.next_id),
            "url": format!("{}/repos/{owner}/{repo}/labels/{name}", self.base_url),
            "name": name, "color": "ededed", "default": false, "description": null,
        })
    }

    pub fn insert_issue(&mut self, owner: &str, repo: &str, seed: IssueSeed, pull: bool) -> u64 {
        self.users.insert(seed.user.clone());
        let labels: Vec<Value> = seed
            .labels
            .iter()
            .map(|l| self.label(owner, repo, l))
            .collect();
        let assignees: Vec<Value> = seed.assignees.iter().map(|a| self.user(a)).collect();
        let author = self.user(&seed.user);
        self.next_id += 1;
        let id = self.next_id;
        let base = self.base_url.clone();
        let r = self.repo_mut(owner, repo).expect("add_repo first");
        let number = r.issues.len() as u64 + 1;
        let api = format!("{base}/repos/{}/{}", r.owner, r.name);
        let html = format!("https://github.com/{}/{}", r.owner, r.name);
        let closed = seed.state == "closed";
        let mut issue = json!({
            "url": format!("{api}/issues/{number}"),
            "repository_url": api,
            "labels_url": format!("{api}/issues/{number}/labels{{/name}}"),
            "comments_url": format!("{api}/issues/{number}/comments"),
            "events_url": format!("{api}/issues/{number}/events"),
            "html_url": format!("{html}/{}/{number}", if pull { "pull" } else { "issues" }),
            "id": id, "node_id": format!("MDU6SXNzdWU{id}"), "number": number,
            "title": seed.title, "user": author, "labels": labels, "state": seed.state,
            "locked": false, "assignee": assignees.first().cloned(), "assignees": assignees,
            "milestone": null, "comments": seed.comments,
            "created_at": timestamp(number), "updated_at": timestamp(number),
            "closed_at": if closed { json!(timestamp(number)) } else { Value::Null },
            "author_association": "OWNER", "active_lock_reason": null, "body": seed.body,
            "reactions": {"url": format!("{api}/issues/{number}/reactions"), "total_count": 0,
                          "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0,
                          "rocket": 0, "eyes": 0},
            "timeline_url": format!("{api}/issues/{number}/timeline"),
            "performed_via_github_app": null,
            "state_reason": if closed { json!("completed") } else { Value::Null },
        });
        if pull {
            issue["pull_request"] = json!({
                "url": format!("{api}/pulls/{number}"), "html_url": format!("{html}/pull/{number}"),
                "diff_url": format!("{html}/pull/{number}.diff"),
                "patch_url": format!("{html}/pull/{number}.patch"), "merged_at": null,
            });
        }
        r.issues.push(issue);
        number
    }

    pub fn insert_comment(
        &mut self,
        owner: &str,
        repo: &str,
        number: u64,
        login: &str,
        body: &str,
    ) -> Option<u64> {
        self.users.insert(login.to_string());
        let user = self.user(login);
        let now = self.tick();
        self.next_id += 1;
        let id = self.next_id;
        let r = self.repo_mut(owner, repo)?;
        let issue = r.issues.get_mut(number.checked_sub(1)? as usize)?;
        issue["comments"] = json!(issue["comments"].as_u64().unwrap_or(0) + 1);
        let issue_url = issue["url"].as_str().unwrap_or_default().to_string();
        let html = issue["html_url"].as_str().unwrap_or_default().to_string();
        let api = issue["repository_url"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        r.comments.push((
            number,
            json!({
                "url": format!("{api}/issues/comments/{id}"),
                "html_url": format!("{html}#issuecomment-{id}"),
                "issue_url": issue_url, "id": id, "node_id": format!("MDEyOklzc3VlQ29tbWVudA{id}"),
                "user": user, "created_at": now, "updated_at": now,
                "author_association": "NONE", "body": body, "performed_via_github_app": null,
                "reactions": {"url": format!("{api}/issues/comments/{id}/reactions"), "total_count": 0},
            }),
        ));
        Some(id)
    }
}
