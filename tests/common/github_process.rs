//! The fake GitHub as a process of its own (examples/fake_github.rs), for the cluster test,
//! and the builds that test runs: the server's release binary for its replicas and the fake.
//!
//! [`GitHubProcess`] starts the fake, learns its two addresses from the line it prints, and
//! drives its control API over HTTP: seeding, injected limits, revoking a token, and reading
//! back every request it served as [`Seen`] records. [`audit`] checks those records against
//! GitHub's rules for a token, as a cluster must keep them together.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    sync::OnceLock,
};

use serde::Deserialize;
use serde_json::{Value, json};

use super::cluster::Process;

/// Builds `target` (cargo's `--bin NAME` or `--example NAME`) with `profile` flags and returns
/// its executable, as cargo reports it (so `CARGO_TARGET_DIR` and the like are honoured).
/// Building here, not trusting a file from an earlier build, means a test never runs a stale
/// binary; when nothing changed it costs cargo's freshness check.
fn build(kind: &str, name: &str, profile: &[&str]) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    // What cargo told this test about its own crate is not for the build: build scripts
    // that watch such variables (ring's) would see them change and rebuild everything.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let about_this_crate = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
            || [
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
            ]
            .contains(&name.as_ref());
        if about_this_crate {
            command.env_remove(name.as_ref());
        }
    }
    let output = command
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            kind,
            name,
        ])
        .args(profile)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo build {kind} {name} failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no executable for {name}"))
}

/// The server built as it ships (`--release`: optimised, fat LTO), built once per test run.
pub fn release_server() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("--bin", "github-issue-mcp", &["--release"]))
}

/// The fake GitHub's executable (a debug build, as the tests' own).
fn fake_github() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("--example", "fake_github", &[]))
}

/// One request as the fake GitHub process saw it.
#[derive(Debug, Clone, Deserialize)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The credentials it carried (the token, without its scheme).
    pub token: Option<String>,
    pub status: u16,
    /// When it arrived, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The budget its answer reported: remaining and reset (epoch seconds).
    pub remaining: u64,
    pub reset: u64,
    /// A secondary limit's `retry-after`, in seconds.
    pub retry_after: Option<u64>,
    /// It was refused because the budget was spent. (Not a breach in itself: the first
    /// request after the budget ran out learns it; [`audit`] looks at what was known.)
    pub budget_spent: bool,
}

/// The fake GitHub in a process of its own, killed (by PID) when dropped.
pub struct GitHubProcess {
    /// Its REST API, `http://127.0.0.1:PORT`.
    pub base_url: String,
    control: String,
    http: reqwest::Client,
    _process: Process,
}

impl GitHubProcess {
    /// Starts it with the command-line `options` (see examples/fake_github.rs: say
    /// `--two-issues` for octo/hello holding #1 "Crash on start" and #2 "Dark mode"); it
    /// accepts the tests' token.
    pub fn start(options: &[&str]) -> GitHubProcess {
        let mut child = Command::new(fake_github())
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the fake GitHub starts");
        let stdout = child.stdout.take().unwrap();
        let process = Process::new(child);
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the fake GitHub says where it listens");
        let addresses: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("the fake GitHub printed {line:?}"));
        GitHubProcess {
            base_url: addresses["api"].as_str().unwrap().to_string(),
            control: addresses["control"].as_str().unwrap().to_string(),
            http: reqwest::Client::new(),
            _process: process,
        }
    }

    async fn call(&self, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.control);
        let request = match body {
            Some(body) => self.http.post(url).json(&body),
            None => self.http.get(url),
        };
        let response = request.send().await.expect("the fake GitHub answers");
        let status = response.status();
        let answer: Value = response.json().await.expect("JSON from the fake GitHub");
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// Every request its API served so far, in order.
    pub async fn requests(&self) -> Vec<Seen> {
        serde_json::from_value(self.call("/requests", None).await).unwrap()
    }

    /// The issue as it is now.
    pub async fn issue(&self, owner: &str, repo: &str, number: u64) -> Value {
        self.call(&format!("/issues/{owner}/{repo}/{number}"), None)
            .await
    }

    pub async fn add_comment(&self, owner: &str, repo: &str, number: u64, user: &str, body: &str) {
        let comment =
            json!({"owner": owner, "repo": repo, "number": number, "user": user, "body": body});
        self.call("/comments", Some(comment)).await;
    }

    /// The `core` budget has `remaining` requests left, refilled `reset_in_s` from now.
    pub async fn set_core_budget(&self, remaining: u64, reset_in_s: u64) {
        let budget = json!({"resource": "core", "remaining": remaining, "reset_in_s": reset_in_s});
        self.call("/rate-limit", Some(budget)).await;
    }

    /// The next `times` requests get a secondary limit (403) with `retry-after`.
    pub async fn set_secondary_limit(&self, retry_after_s: u64, times: u64) {
        let limit = json!({"retry_after": retry_after_s, "status": 403, "times": times});
        self.call("/secondary-limit", Some(limit)).await;
    }

    /// From now on `token` is answered 401.
    pub async fn revoke(&self, token: &str) {
        self.call("/revoke", Some(json!({"token": token}))).await;
    }
}

/// How long after GitHub's answer a request may still go out without knowing it: it was
/// admitted while the answer was on its way back and into Redis. Generous for a loaded
/// 2-core machine, and far below every window checked (seconds).
pub const NEWS_TRAVEL_MS: u64 = 200;

/// Checks `seen` against GitHub's rules for each token, as the replicas must keep them
/// together, and returns every breach found (empty: none):
/// - no request while the token's budget was known to be spent (an earlier answer said 0
///   remaining, and its reset had not come);
/// - none within a secondary limit's `retry-after`;
/// - none for a minute after a 401 (the token was rejected);
/// - mutations at least `min_mutation_gap_ms` apart.
///
/// "Known" means answered at least [`NEWS_TRAVEL_MS`] before.
pub fn audit(seen: &[Seen], min_mutation_gap_ms: u64) -> Vec<String> {
    let mut breaches = Vec::new();
    let mut by_arrival: Vec<&Seen> = seen.iter().filter(|s| s.token.is_some()).collect();
    by_arrival.sort_by_key(|s| s.unix_ms);
    for (index, request) in by_arrival.iter().enumerate() {
        let at = request.unix_ms;
        let known = by_arrival[..index].iter().filter(|earlier| {
            earlier.token == request.token && earlier.unix_ms + NEWS_TRAVEL_MS <= at
        });
        for earlier in known {
            let said = format!("{} {} at {}", earlier.method, earlier.path, earlier.unix_ms);
            let sent = format!("{} {} at {at}", request.method, request.path);
            let same_budget =
                earlier.path.starts_with("/search/") == request.path.starts_with("/search/");
            if same_budget && earlier.remaining == 0 && at < earlier.reset * 1000 {
                breaches.push(format!("{sent}: budget spent ({said} said 0 left)"));
            }
            if let Some(seconds) = earlier.retry_after
                && at < earlier.unix_ms + seconds * 1000
            {
                breaches.push(format!("{sent}: within {said}'s retry-after {seconds}s"));
            }
            if earlier.status == 401 && at < earlier.unix_ms + 60_000 {
                breaches.push(format!("{sent}: token rejected by {said}"));
            }
        }
    }
    let mut mutations: Vec<&Seen> = by_arrival
        .into_iter()
        .filter(|s| s.method != "GET")
        .collect();
    mutations.sort_by_key(|s| (s.token.clone(), s.unix_ms));
    for pair in mutations.windows(2) {
        if pair[0].token != pair[1].token {
            continue;
        }
        let gap = pair[1].unix_ms - pair[0].unix_ms;
        if gap < min_mutation_gap_ms {
            breaches.push(format!(
                "{} {} {gap} ms after {} {}",
                pair[1].method, pair[1].path, pair[0].method, pair[0].path
            ));
        }
    }
    breaches
}
