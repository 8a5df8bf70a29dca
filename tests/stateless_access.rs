//! Who may do what on the stateless revision (2026-07-28): every request authenticated on its
//! own in each auth mode, a `requestState` usable only by the principal it was sealed for,
//! policy and repository allow-lists as on sessions, and each principal's bound on requests
//! in flight (listen streams included).

mod common;

use std::time::{Duration, Instant};

use common::{
    SseReader, TestServer,
    fake_github::{FakeGitHub, IssueSeed},
    github_server, metric, settings,
    stateless::{post, request},
};
use serde_json::{Value, json};

async fn answer_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_are_checked_on_every_request_and_a_state_stays_with_its_principal() {
    // One key given as itself, one as its SHA-256 (of "beta-key").
    let beta = "sha256:7a3d637bc601f7000cc2c33141c8c8a7554e02e319fa8b293a0c88c613b77620";
    let keys = format!("alpha-key,{beta}");
    let server = TestServer::start_github(settings(&[
        ("GITHUB_ISSUE_MCP__AUTH__MODE", "api-keys"),
        ("GITHUB_ISSUE_MCP__AUTH__API_KEYS", &keys),
        ("MCP_CONFORMANCE_FIXTURES", "1"),
    ]));
    let url = server.url("/mcp");
    let discover = request(1, "server/discover", json!({}));
    for key in [None, Some("wrong-key")] {
        let auth = key.map(bearer);
        let (status, _) =
            answer_of(post(&url, &discover, &[("Authorization", auth.as_deref())]).await).await;
        assert_eq!(status, 401, "{key:?}");
    }
    let (alpha, beta) = (bearer("alpha-key"), bearer("beta-key"));
    let (status, _) =
        answer_of(post(&url, &discover, &[("Authorization", Some(&alpha))]).await).await;
    assert_eq!(status, 200);

    let name = "test_input_required_result_request_state";
    let first = request(2, "tools/call", json!({"name": name}));
    let (_, round) = answer_of(post(&url, &first, &[("Authorization", Some(&alpha))]).await).await;
    let state = round["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    let retry = request(
        3,
        "tools/call",
        json!({"name": name, "requestState": state,
               "inputResponses": {"confirm": {"action": "accept", "content": {"ok": true}}}}),
    );
    let (_, stolen) = answer_of(post(&url, &retry, &[("Authorization", Some(&beta))]).await).await;
    assert_eq!(
        stolen["error"]["code"], -32602,
        "another key's state: {stolen}"
    );
    let (_, done) = answer_of(post(&url, &retry, &[("Authorization", Some(&alpha))]).await).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn github_token_mode_sends_each_requests_own_token() {
    let (token_a, token_b) = (
        "ghp_callerAAAAAAAAAAAAAA1111",
        "ghp_callerBBBBBBBBBBBBBB2222",
    );
    let fake = FakeGitHub::start_with_tokens(&[token_a, token_b]);
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    let server = github_server(&fake, &[("GITHUB_ISSUE_MCP__AUTH__MODE", "github-token")]);
    let url = server.url("/mcp");
    let call = request(
        1,
        "tools/call",
        json!({"name": "get_issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": 1}}),
    );
    let (status, _) = answer_of(post(&url, &call, &[]).await).await;
    assert_eq!(status, 401, "no token");
    let bad = bearer("ghp_notavalidtokenatall0000");
    let (status, _) = answer_of(post(&url, &call, &[("Authorization", Some(&bad))]).await).await;
    assert_eq!(status, 401, "a token GitHub refuses");
    for token in [token_a, token_b] {
        let auth = bearer(token);
        let (status, answer) =
            answer_of(post(&url, &call, &[("Authorization", Some(&auth))]).await).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["result"]["structuredContent"]["issue"]["number"], 1,
            "{answer}"
        );
    }
    let tokens: std::collections::HashSet<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path_and_query == "/repos/octo/hello/issues/1")
        .map(|r| r.headers["authorization"].clone())
        .collect();
    assert_eq!(
        tokens.len(),
        2,
        "each request's own token went to GitHub: {tokens:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_and_allow_lists_hold_without_a_session() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_repo("other", "place");
    fake.add_issue("octo", "hello", IssueSeed::default());
    fake.add_issue("other", "place", IssueSeed::default());
    let server = github_server(
        &fake,
        &[
            ("GITHUB_ISSUE_MCP__POLICY__TOOLS_DENY", "search_issues"),
            ("GITHUB_ISSUE_MCP__POLICY__REPOSITORIES", "octo/hello"),
        ],
    );
    let url = server.url("/mcp");
    let (_, listed) = answer_of(post(&url, &request(1, "tools/list", json!({})), &[]).await).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"get_issue") && !names.contains(&"search_issues"),
        "{names:?}"
    );
    let search = request(
        2,
        "tools/call",
        json!({"name": "search_issues", "arguments": {"query": "x"}}),
    );
    let (_, refused) = answer_of(post(&url, &search, &[]).await).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let elsewhere = request(
        3,
        "tools/call",
        json!({"name": "get_issue", "arguments": {"owner": "other", "repo": "place", "issue_number": 1}}),
    );
    let (_, outside) = answer_of(post(&url, &elsewhere, &[]).await).await;
    assert_eq!(outside["result"]["isError"], true, "{outside}");
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.path_and_query.starts_with("/repos/other")),
        "nothing outside the allow-list reached GitHub"
    );
    let read = request(4, "resources/read", json!({"uri": "issue://other/place/1"}));
    let (_, unread) = answer_of(post(&url, &read, &[]).await).await;
    assert!(unread.get("error").is_some(), "{unread}");
}

/// Listen streams have a bound of their own, as many as a principal's sessions: each may
/// watch resources, which the server re-reads.
#[tokio::test(flavor = "multi_thread")]
async fn listen_streams_are_bounded_like_sessions() {
    let server = TestServer::start_github(settings(&[
        ("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS_PER_PRINCIPAL", "1"),
        ("GITHUB_ISSUE_MCP__LIMITS__MAX_IN_FLIGHT_PER_SESSION", "4"),
    ]));
    let url = server.url("/mcp");
    let listen = request(
        1,
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true}}),
    );
    let response = post(&url, &listen, &[]).await;
    assert_eq!(response.status(), 200);
    let mut stream = SseReader::new(response);
    stream.next().await.expect("the acknowledgement");
    let (status, refused) = answer_of(post(&url, &listen, &[]).await).await;
    assert_eq!(status, 429, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("listen streams")
    );
    let (status, _) =
        answer_of(post(&url, &request(2, "server/discover", json!({})), &[]).await).await;
    assert_eq!(status, 200, "other requests still go");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_in_flight_are_bounded_per_principal_listen_streams_included() {
    // In flight: sessions (2) x requests per session (1); listen streams: as many as sessions.
    let server = TestServer::start_github(settings(&[
        ("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS_PER_PRINCIPAL", "2"),
        ("GITHUB_ISSUE_MCP__LIMITS__MAX_IN_FLIGHT_PER_SESSION", "1"),
        // A closed stream is noticed at its next write.
        ("GITHUB_ISSUE_MCP__SSE__KEEP_ALIVE_MS", "50"),
    ]));
    let url = server.url("/mcp");
    let listen = request(
        1,
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true}}),
    );
    let mut open = Vec::new();
    for _ in 0..2 {
        let response = post(&url, &listen, &[]).await;
        assert_eq!(response.status(), 200);
        let mut stream = SseReader::new(response);
        stream.next().await.expect("the acknowledgement");
        open.push(stream);
    }
    let discover = request(2, "server/discover", json!({}));
    let (status, refused) = answer_of(post(&url, &discover, &[]).await).await;
    assert_eq!(status, 429, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in flight")
    );

    drop(open.pop());
    let deadline = Instant::now() + common::WAIT;
    while metric(&server, "mcp_stateless_in_flight").await > 1 {
        assert!(
            Instant::now() < deadline,
            "the closed stream's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    loop {
        let (status, _) = answer_of(post(&url, &discover, &[]).await).await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed stream's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
