//! GitHub's redirects and the server's token (issue 15, finding 4): the token goes only to
//! URLs under GITHUB_API_URL (scheme, host, port and path), a change is never re-sent to a new
//! address, and redirects are followed a few hops at most. A scripted GitHub answers with the
//! redirects an attacker (or a broken proxy) would send, and a second server stands for the
//! place they point to; both record every request with its headers.

mod common;
#[path = "common/scripted_github.rs"]
mod scripted_github;

use common::{TestServer, fake_github::FakeGitHub, raw_github, session, settings, text_of};
use scripted_github::{Reply, ScriptedGitHub, Seen};
use serde_json::{Value, json};

/// The token `common::settings` gives the server.
const TOKEN: &str = "ghp_testtokentesttokentest";
const ISSUES: &str = "/api/v3/repos/octo/hello/issues";

/// The server against `github`, with its API under `/api/v3`.
fn server_for(github: &ScriptedGitHub) -> TestServer {
    let api = format!("{}/api/v3", github.base);
    TestServer::start_github(settings(&[
        ("GITHUB_API_URL", api.as_str()),
        ("GITHUB_ISSUE_MCP__GITHUB__RETRY_BASE_MS", "1"),
        ("GITHUB_ISSUE_MCP__GITHUB__MUTATION_INTERVAL_MS", "0"),
    ]))
}

fn redirect(status: u16, location: impl Into<String>) -> Reply {
    Reply::Redirect {
        status,
        location: location.into(),
    }
}

fn issue(number: u64) -> Value {
    json!({"owner": "octo", "repo": "hello", "issue_number": number})
}

fn requests_for<'a>(seen: &'a [Seen], path: &str) -> Vec<&'a Seen> {
    seen.iter().filter(|s| s.path == path).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_to_other_hosts_are_not_followed_and_the_token_stays_home() {
    let github = ScriptedGitHub::start();
    let elsewhere = ScriptedGitHub::start();
    // The chain of the attack: another host, which redirects on (back to GitHub's API, where
    // reqwest used to put the original headers back).
    github.on(
        None,
        &format!("{ISSUES}/1"),
        redirect(302, format!("{}/hop", elsewhere.base)),
    );
    elsewhere.on(
        None,
        "/hop",
        redirect(302, format!("{}{ISSUES}/9", elsewhere.base)),
    );
    // Another port of the same address; another name of the same host and port; https.
    let moves = [
        (2, format!("http://127.0.0.1:{}{ISSUES}/2", elsewhere.port)),
        (3, format!("http://localhost:{}{ISSUES}/3", github.port)),
        (4, format!("https://127.0.0.1:{}{ISSUES}/4", github.port)),
        (
            5,
            format!(
                "http://127.0.0.1:{}@127.0.0.1:{}{ISSUES}/5",
                github.port, elsewhere.port
            ),
        ),
    ];
    for (number, to) in &moves {
        github.on(None, &format!("{ISSUES}/{number}"), redirect(301, to));
    }
    let server = server_for(&github);
    let mut client = session(&server, "2025-06-18").await;
    let mut answers = Vec::new();
    for number in 1..=5 {
        answers.push(client.call_tool(number, "get_issue", issue(number)).await);
    }
    let carried: Vec<Seen> = elsewhere
        .seen()
        .into_iter()
        .filter(|s| s.headers.contains_key("authorization"))
        .collect();
    assert!(carried.is_empty(), "the token reached {carried:?}");
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect target saw requests: {:?}",
        elsewhere.seen()
    );
    for (number, read) in (1..=5).zip(&answers) {
        let seen = github.seen();
        assert_eq!(
            requests_for(&seen, &format!("{ISSUES}/{number}")).len(),
            1,
            "issue {number}: asked once, not followed: {seen:?}"
        );
        assert_eq!(read["isError"], true, "{read}");
        assert!(
            text_of(read).contains("outside the configured GitHub API URL"),
            "{read}"
        );
    }
    let seen = github.seen();
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.headers.get("host").map(String::as_str)
                == Some(&format!("127.0.0.1:{}", github.port))),
        "only GitHub's own address was asked: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_out_of_the_api_path_are_not_followed() {
    let github = ScriptedGitHub::start();
    let moves = [
        (11, "/elsewhere/11"),
        (12, "/api/v3evil/repos/octo/hello/issues/12"),
        (13, "/api/v3/../elsewhere/13"),
        (14, "../../../../../../elsewhere/14"),
        (15, "/api/v3/%2e%2e/elsewhere/15"),
    ];
    for (number, to) in moves {
        github.on(None, &format!("{ISSUES}/{number}"), redirect(302, to));
    }
    let server = server_for(&github);
    let mut client = session(&server, "2025-06-18").await;
    let mut answers = Vec::new();
    for (number, _) in moves {
        answers.push(client.call_tool(number, "get_issue", issue(number)).await);
    }
    let seen = github.seen();
    let outside: Vec<&Seen> = seen
        .iter()
        .filter(|s| !s.path.starts_with("/api/v3/repos/"))
        .collect();
    assert!(
        outside.is_empty(),
        "requests left the API path: {outside:?}"
    );
    assert_eq!(seen.len(), moves.len(), "{seen:?}");
    for read in &answers {
        assert_eq!(read["isError"], true, "{read}");
        assert!(
            text_of(read).contains("outside the configured GitHub API URL"),
            "{read}"
        );
    }
}

/// GitHub's own moves (a renamed, then transferred repository) are still followed for a read,
/// within the API, and with the token.
#[tokio::test(flavor = "multi_thread")]
async fn moves_within_the_api_are_followed() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "moved");
    fake.add_issue(
        "octo",
        "moved",
        common::fake_github::IssueSeed {
            title: "Found at its new place".into(),
            ..Default::default()
        },
    );
    let body = raw_github::Client::new(&fake)
        .get_json("/repos/octo/moved/issues/1")
        .await
        .to_string();
    let github = ScriptedGitHub::start();
    github.on(
        None,
        &format!("{ISSUES}/21"),
        redirect(301, "/api/v3/repos/octo/renamed/issues/21"),
    );
    github.on(
        None,
        "/api/v3/repos/octo/renamed/issues/21",
        redirect(301, "/api/v3/repos/octo/moved/issues/1"),
    );
    github.on(
        None,
        "/api/v3/repos/octo/moved/issues/1",
        Reply::Json { status: 200, body },
    );
    let server = server_for(&github);
    let mut client = session(&server, "2025-06-18").await;
    let read = client.call_tool(1, "get_issue", issue(21)).await;
    assert_ne!(read["isError"], true, "{read}");
    assert!(text_of(&read).contains("Found at its new place"), "{read}");
    let seen = github.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/v3/repos/octo/hello/issues/21",
            "/api/v3/repos/octo/renamed/issues/21",
            "/api/v3/repos/octo/moved/issues/1"
        ]
    );
    assert!(
        seen.iter()
            .all(|s| s.headers["authorization"] == format!("Bearer {TOKEN}")),
        "{seen:?}"
    );
}

/// A 307 answers a POST with "send it again over there": the comment would be posted twice,
/// or into another repository. It goes out once, and the caller hears why it was not made.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_is_sent_once_and_never_replayed_to_a_new_address() {
    let github = ScriptedGitHub::start();
    let elsewhere = ScriptedGitHub::start();
    github.on(
        Some("POST"),
        &format!("{ISSUES}/31/comments"),
        redirect(307, "/api/v3/repos/octo/other/issues/31/comments"),
    );
    github.on(
        Some("POST"),
        &format!("{ISSUES}/32/comments"),
        redirect(308, format!("{}/comments", elsewhere.base)),
    );
    let server = server_for(&github);
    let mut client = session(&server, "2025-06-18").await;
    let mut answers = Vec::new();
    for number in [31, 32] {
        let mut arguments = issue(number);
        arguments["body"] = json!("posted once");
        answers.push(
            client
                .call_tool(number, "add_issue_comment", arguments)
                .await,
        );
    }
    let seen = github.seen();
    let posts: Vec<&str> = seen
        .iter()
        .filter(|s| s.method == "POST")
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(
        posts,
        [
            "/api/v3/repos/octo/hello/issues/31/comments",
            "/api/v3/repos/octo/hello/issues/32/comments"
        ],
        "each POST reached GitHub exactly once"
    );
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
    for posted in &answers {
        assert_eq!(posted["isError"], true, "{posted}");
        let text = text_of(posted);
        assert!(text.contains("has moved (30"), "{posted}");
        assert!(text.contains("does not re-send a change"), "{posted}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_loops_end_after_a_few_hops() {
    let github = ScriptedGitHub::start();
    github.on(
        None,
        &format!("{ISSUES}/41"),
        redirect(302, format!("{ISSUES}/41")),
    );
    github.on(
        None,
        &format!("{ISSUES}/42"),
        redirect(302, format!("{ISSUES}/43")),
    );
    github.on(
        None,
        &format!("{ISSUES}/43"),
        redirect(301, format!("{ISSUES}/42")),
    );
    let server = server_for(&github);
    let mut client = session(&server, "2025-06-18").await;
    let mut answers = Vec::new();
    for number in [41, 42] {
        answers.push(client.call_tool(number, "get_issue", issue(number)).await);
    }
    // The first request and three hops, for each; no retries.
    let seen = github.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        requests_for(&seen, &format!("{ISSUES}/41")).len(),
        4,
        "{paths:?}"
    );
    let pair = requests_for(&seen, &format!("{ISSUES}/42")).len()
        + requests_for(&seen, &format!("{ISSUES}/43")).len();
    assert_eq!(pair, 4, "{paths:?}");
    for read in &answers {
        assert_eq!(read["isError"], true, "{read}");
        assert!(text_of(read).contains("too many times"), "{read}");
    }
}
