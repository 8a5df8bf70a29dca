//! A stateful fake of GitHub's REST API for the integration tests: real HTTP on 127.0.0.1:0.
//!
//! The gateway, tool, resource, auth and fault tests start one, seed it, point the server at
//! `base_url`, and read back every request it served. It keeps repositories, issues (with pull
//! requests mixed in, as GitHub's issue lists do), comments and labels, and answers like GitHub:
//! `Link` pagination pointing at `/repositories/{id}/...`, ETags and free 304s, `x-ratelimit-*`
//! headers with 403 answers when a budget is spent, secondary limits with `retry-after`, and
//! GitHub's 401/404/410/422 bodies. Faults can be injected: 5xx answers, secondary limits,
//! latency, and connections that break after the write was applied.
//!
//! `tests/fake_github.rs` checks its answers against GitHub's OpenAPI description and recorded
//! answers in `tests/fixtures/github-api/`, so that it cannot drift from the real GitHub.
//!
//! Layout: this file holds the state and the seeding API; `shapes.rs` the JSON objects,
//! `routes.rs` the HTTP layer (auth, faults, budgets, ETags, pagination) and `endpoints.rs`
//! the endpoints.

use std::{
    collections::{HashMap, HashSet},
    net::TcpListener,
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use actix_web::{App, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};

// Explicit paths, so that the benchmark (benches/load) can include this file as well.
#[path = "fake_github/endpoints.rs"]
mod endpoints;
#[path = "fake_github/routes.rs"]
mod routes;
#[path = "fake_github/shapes.rs"]
mod shapes;

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
    /// The status the fake answered (for a dropped connection: the one it would have sent).
    pub status: u16,
    pub at: Instant,
    /// When it arrived, in milliseconds since the Unix epoch: comparable with what another
    /// process saw (the fake as a process of its own reports this, not `at`).
    pub unix_ms: u64,
    /// What the answer said of its budget: `x-ratelimit-remaining` and `x-ratelimit-reset`
    /// (epoch seconds).
    pub budget: (u64, u64),
    /// The answer's `retry-after` (a secondary limit), in seconds.
    pub retry_after: Option<u64>,
    /// The answer was GitHub's refusal for a spent budget: the request should not have been
    /// sent.
    pub budget_spent: bool,
}

/// What a seeded issue looks like.
#[derive(Debug, Clone)]
pub struct IssueSeed {
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed`.
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
    /// The repository's labels: an issue's label with a known name (any case) is this one.
    pub labels: Vec<Value>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub limit: u64,
    pub remaining: u64,
    /// Epoch seconds.
    pub reset: u64,
}

/// An injected fault: what it answers, and how many more requests get it.
#[derive(Debug, Clone)]
pub(crate) struct Fault<T> {
    pub what: T,
    pub times: usize,
}

impl<T: Clone> Fault<T> {
    /// Takes one use of the fault, if any is left.
    pub fn take(fault: &mut Option<Fault<T>>) -> Option<T> {
        let fault = fault.as_mut().filter(|f| f.times > 0)?;
        fault.times -= 1;
        Some(fault.what.clone())
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub base_url: String,
    pub tokens: HashSet<String>,
    /// Logins that can be assigned.
    pub users: HashSet<String>,
    pub repos: Vec<Repo>,
    pub budgets: HashMap<&'static str, Budget>,
    /// How long a budget's window lasts: an hour on GitHub.
    pub window: Duration,
    /// (retry-after, status)
    pub secondary: Option<Fault<(Option<u64>, u16)>>,
    pub failures: Option<Fault<u16>>,
    /// The method whose answers break off.
    pub broken: Option<Fault<String>>,
    /// GETs answered as usual, but with a `next` link to the request's own URL.
    pub looping_pages: Option<Fault<()>>,
    /// (from, to): requests for a path under `from` are redirected to the same place under
    /// `to`, as GitHub does for a transferred issue or a renamed repository.
    pub moves: Vec<(String, String)>,
    pub latency: Duration,
    pub requests: Vec<RecordedRequest>,
    pub in_flight: usize,
    pub max_in_flight: usize,
    /// Rendered GET answers by token and path, valid until the state changes (any request
    /// other than a GET, any call of the seeding API).
    pub memo: HashMap<String, Arc<routes::Rendered>>,
    /// Every 200 gets an ETag never seen before, as if the resource changed between reads.
    pub fresh_etags: bool,
    pub etag_serial: u64,
    pub next_id: u64,
    /// Minutes since the fake's epoch, advanced by every change (for `updated_at`).
    pub clock: u64,
}

pub(crate) type Shared = Arc<Mutex<State>>;

/// The fake GitHub, stopped when dropped.
#[derive(Debug)]
pub struct FakeGitHub {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    state: Shared,
    handle: ServerHandle,
}

pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub(crate) fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// GitHub's default budgets for an authenticated user.
/// GitHub's rate-limit window.
const WINDOW: Duration = Duration::from_secs(3600);

fn default_budgets() -> HashMap<&'static str, Budget> {
    let reset = epoch_now() + WINDOW.as_secs();
    let budget = |limit| Budget {
        limit,
        remaining: limit,
        reset,
    };
    HashMap::from([("core", budget(5000)), ("search", budget(30))])
}

impl FakeGitHub {
    /// A fake that accepts [`TEST_TOKEN`], the token `common::settings` configures.
    pub fn start() -> FakeGitHub {
        Self::start_with_tokens(&[TEST_TOKEN])
    }

    /// [`FakeGitHub::start`] with octo/hello holding two issues with bodies: #1 "Crash on
    /// start" and #2 "Dark mode".
    pub fn with_two_issues() -> FakeGitHub {
        let fake = Self::start();
        fake.add_repo("octo", "hello");
        for (title, body) in [
            ("Crash on start", "Steps to reproduce"),
            ("Dark mode", "Please"),
        ] {
            fake.add_issue(
                "octo",
                "hello",
                IssueSeed {
                    title: title.into(),
                    body: Some(body.into()),
                    ..IssueSeed::default()
                },
            );
        }
        fake
    }

    /// A fake that accepts exactly `tokens`; each belongs to the user [`login_of`] names.
    pub fn start_with_tokens(tokens: &[&str]) -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Self::start_on(listener, tokens)
    }

    /// [`FakeGitHub::start_with_tokens`] on a listener of the caller's.
    pub fn start_on(listener: TcpListener, tokens: &[&str]) -> FakeGitHub {
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let mut users: HashSet<String> = ["octocat", "hubot"].map(String::from).into();
        users.extend(tokens.iter().map(|token| login_of(token)));
        let state = Arc::new(Mutex::new(State {
            base_url: base_url.clone(),
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            users,
            repos: Vec::new(),
            budgets: default_budgets(),
            window: WINDOW,
            secondary: None,
            failures: None,
            broken: None,
            looping_pages: None,
            moves: Vec::new(),
            latency: Duration::ZERO,
            requests: Vec::new(),
            in_flight: 0,
            max_in_flight: 0,
            memo: HashMap::new(),
            fresh_etags: false,
            etag_serial: 0,
            next_id: 1000,
            clock: 0,
        }));
        let handle = serve(listener, state.clone());
        FakeGitHub {
            base_url,
            state,
            handle,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap();
        // Whatever the seeding API changes, no rendered answer may outlive it.
        state.memo.clear();
        f(&mut state)
    }

    /// Adds an empty repository owned by `owner` and returns its id.
    pub fn add_repo(&self, owner: &str, repo: &str) -> u64 {
        self.with(|state| {
            let id = state.new_id();
            state.users.insert(owner.to_string());
            state.repos.push(Repo {
                id,
                owner: owner.into(),
                name: repo.into(),
                issues: Vec::new(),
                deleted: HashSet::new(),
                comments: Vec::new(),
                labels: Vec::new(),
            });
            id
        })
    }

    /// Lets `login` be assigned (besides octocat, hubot, repo owners and seeded authors).
    pub fn add_user(&self, login: &str) {
        self.with(|state| state.users.insert(login.to_string()));
    }

    /// Adds an issue and returns its number (issues and pull requests share the numbers).
    pub fn add_issue(&self, owner: &str, repo: &str, seed: IssueSeed) -> u64 {
        self.with(|state| state.insert_issue(owner, repo, seed, false))
    }

    /// Adds an open pull request by octocat and returns its number.
    pub fn add_pull_request(&self, owner: &str, repo: &str, title: &str) -> u64 {
        let seed = IssueSeed {
            title: title.into(),
            ..IssueSeed::default()
        };
        self.with(|state| state.insert_issue(owner, repo, seed, true))
    }

    /// Adds a comment by `user` and returns its id; the issue's `comments` count goes up.
    pub fn add_comment(&self, owner: &str, repo: &str, number: u64, user: &str, body: &str) -> u64 {
        self.with(|state| state.insert_comment(owner, repo, number, user, body))
            .expect("the issue exists")
    }

    /// Later reads of the issue answer 410 Gone, and lists and searches leave it out.
    pub fn delete_issue(&self, owner: &str, repo: &str, number: u64) {
        self.with(|state| {
            let repo = state.repo_mut(owner, repo).expect("add_repo first");
            repo.deleted.insert(number);
        })
    }

    /// Overwrites fields of a stored issue with what GitHub would never send (`fields` is an
    /// object): for tests of what the server makes of a broken or hostile answer.
    pub fn tamper_issue(&self, owner: &str, repo: &str, number: u64, fields: Value) {
        self.with(|state| {
            let repo = state.repo_mut(owner, repo).expect("add_repo first");
            let issue = &mut repo.issues[number as usize - 1];
            for (key, value) in fields.as_object().expect("fields are an object") {
                issue[key] = value.clone();
            }
        })
    }

    /// The same for a stored comment, by its id.
    pub fn tamper_comment(&self, owner: &str, repo: &str, id: u64, fields: Value) {
        self.with(|state| {
            let repo = state.repo_mut(owner, repo).expect("add_repo first");
            let (_, comment) = repo
                .comments
                .iter_mut()
                .find(|(_, comment)| comment["id"] == id)
                .expect("the comment exists");
            for (key, value) in fields.as_object().expect("fields are an object") {
                comment[key] = value.clone();
            }
        })
    }

    /// The issue's current state, as GET /repos/{owner}/{repo}/issues/{number} would show it
    /// (also after it was deleted).
    pub fn issue(&self, owner: &str, repo: &str, number: u64) -> Option<Value> {
        self.with(|state| {
            let repo = state.repo_mut(owner, repo)?;
            repo.issues.get(number.checked_sub(1)? as usize).cloned()
        })
    }

    /// Sets the budget of `resource` (`core` or `search`); it refills `reset_in` from now.
    pub fn set_rate_limit(&self, resource: &str, remaining: u64, reset_in: Duration) {
        self.with(|state| {
            let key = if resource == "search" {
                "search"
            } else {
                "core"
            };
            let budget = state.budgets.get_mut(key).unwrap();
            budget.remaining = remaining.min(budget.limit);
            budget.reset = epoch_now().saturating_add(reset_in.as_secs());
        })
    }

    /// Budget windows last `window` (GitHub's last an hour), this one included: the
    /// budgets are full again, until `window` from now. Short windows let a test see a
    /// budget run out and refill, as each window's reset comes later than the one before.
    pub fn set_window(&self, window: Duration) {
        self.with(|state| {
            state.window = window;
            let reset = epoch_now() + window.as_secs();
            for budget in state.budgets.values_mut() {
                budget.remaining = budget.limit;
                budget.reset = reset;
            }
        })
    }

    /// Gives `resource` a budget of `limit` requests per hour, full now. (GitHub's are 5,000
    /// and 30 per token; a benchmark that sends thousands of calls a second needs more.)
    pub fn set_rate_limit_size(&self, resource: &str, limit: u64) {
        self.with(|state| {
            let key = if resource == "search" {
                "search"
            } else {
                "core"
            };
            let budget = state.budgets.get_mut(key).unwrap();
            budget.limit = limit;
            budget.remaining = limit;
        })
    }

    /// The next `times` requests get a secondary rate limit answer: `status` (403 or 429),
    /// with `retry-after` when `retry_after` is `Some`.
    pub fn set_secondary_limit(&self, retry_after: Option<u64>, status: u16, times: usize) {
        let fault = Fault {
            what: (retry_after, status),
            times,
        };
        self.with(|state| state.secondary = Some(fault))
    }

    /// The next `times` requests get `status` with a GitHub-shaped body, and have no effect.
    pub fn fail_next(&self, status: u16, times: usize) {
        self.with(|state| {
            state.failures = Some(Fault {
                what: status,
                times,
            })
        })
    }

    /// The next `times` requests with `method` take effect, but their connection is then
    /// closed before any byte of the answer is sent, so the client sees a network error after
    /// GitHub did the work. (The answer's body stream fails at once; actix then drops the
    /// connection without flushing the status line it had buffered.)
    pub fn drop_connection_next(&self, method: &str, times: usize) {
        let fault = Fault {
            what: method.to_uppercase(),
            times,
        };
        self.with(|state| state.broken = Some(fault))
    }

    /// The next `times` GETs are answered as usual but with a `next` link to the request's
    /// own URL: a paginator that never ends (the same page again and again), which a client
    /// must not follow forever.
    pub fn loop_pages_next(&self, times: usize) {
        self.with(|state| state.looping_pages = Some(Fault { what: (), times }))
    }

    /// From now on, requests for `from` (a path such as `/repos/o/r/issues/5`) and what is
    /// under it are answered with a redirect to the same place under `to`: 301 for a GET, 307
    /// (same method and body) for the others, as GitHub answers for moved resources.
    pub fn move_to(&self, from: &str, to: &str) {
        self.with(|state| state.moves.push((from.to_string(), to.to_string())))
    }

    /// From now on `token` is rejected with a 401, as after its owner revoked it.
    pub fn revoke_token(&self, token: &str) {
        self.with(|state| state.tokens.remove(token));
    }

    /// Every answer waits this long before it is sent.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|state| state.latency = latency)
    }

    /// With `true`, every 200 to a GET carries a new ETag, so that no conditional request
    /// gets a 304: reads behave as if the data changed all the time (benchmarks use this to
    /// measure uncached reads).
    pub fn set_fresh_etags(&self, fresh: bool) {
        self.with(|state| state.fresh_etags = fresh)
    }

    /// Every request served since the start or the last [`FakeGitHub::reset_records`].
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.with(|state| state.requests.clone())
    }

    /// The paths (and queries) of the requests received so far that contain `part`, in order.
    pub fn paths_with(&self, part: &str) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|request| request.path_and_query)
            .filter(|path| path.contains(part))
            .collect()
    }

    pub fn request_count(&self) -> usize {
        self.with(|state| state.requests.len())
    }

    /// The most requests that were being served at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.with(|state| state.max_in_flight)
    }

    /// Forgets the recorded requests and restarts `max_in_flight` from the current count.
    pub fn reset_records(&self) {
        self.with(|state| {
            state.requests.clear();
            state.max_in_flight = state.in_flight;
        })
    }
}

/// Runs the fake's HTTP server in its own thread and actix system, as `TestServer` does.
fn serve(listener: TcpListener, state: Shared) -> ServerHandle {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(state.clone()))
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
    rx.recv_timeout(Duration::from_secs(10))
        .expect("fake GitHub started")
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        // The stop command is sent at once; nobody needs to await its completion.
        drop(self.handle.stop(false));
    }
}

impl State {
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos
            .iter_mut()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    /// The time of a change: one minute after the previous change.
    pub fn tick(&mut self) -> String {
        self.clock += 1;
        shapes::timestamp(100_000 + self.clock)
    }

    /// The repository's label called `name` (any case), created if it does not exist yet.
    pub fn label(&mut self, owner: &str, repo: &str, name: &str) -> Value {
        let id = self.next_id + 1;
        let base = self.base_url.clone();
        let repo = self.repo_mut(owner, repo).expect("add_repo first");
        if let Some(known) = repo.labels.iter().find(|l| {
            l["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            return known.clone();
        }
        let api = format!("{base}/repos/{}/{}", repo.owner, repo.name);
        let label = shapes::label(&api, id, name);
        repo.labels.push(label.clone());
        self.next_id = id;
        label
    }

    pub fn insert_issue(&mut self, owner: &str, repo: &str, seed: IssueSeed, pull: bool) -> u64 {
        self.users.insert(seed.user.clone());
        let labels = seed
            .labels
            .iter()
            .map(|l| self.label(owner, repo, l))
            .collect();
        let id = self.new_id();
        let base = self.base_url.clone();
        let r = self.repo_mut(owner, repo).expect("add_repo first");
        let api = format!("{base}/repos/{}/{}", r.owner, r.name);
        let html = format!("https://github.com/{}/{}", r.owner, r.name);
        let place = shapes::Place {
            api: &api,
            html: &html,
            owner: &r.owner,
        };
        let number = r.issues.len() as u64 + 1;
        let issue = shapes::issue(
            &place,
            shapes::NewIssue {
                id,
                number,
                title: seed.title,
                body: seed.body,
                author: seed.user,
                labels,
                assignees: seed.assignees.iter().map(|a| shapes::user(a)).collect(),
                comments: seed.comments,
                closed: seed.state == "closed",
                pull,
            },
        );
        r.issues.push(issue);
        number
    }

    /// Adds a comment by `login`; GitHub counts it on the issue and bumps its `updated_at`.
    pub fn insert_comment(
        &mut self,
        owner: &str,
        repo: &str,
        number: u64,
        login: &str,
        body: &str,
    ) -> Option<u64> {
        self.users.insert(login.to_string());
        let now = self.tick();
        let id = self.new_id();
        let r = self.repo_mut(owner, repo)?;
        let issue = r.issues.get_mut(number.checked_sub(1)? as usize)?;
        issue["comments"] = json!(issue["comments"].as_u64().unwrap_or(0) + 1);
        issue["updated_at"] = json!(now);
        let comment = shapes::comment(issue, id, login, body, &now);
        r.comments.push((number, comment));
        Some(id)
    }
}
