//! Limits: sessions per server and per principal, requests in flight per session, and the
//! tool-call timeout.

mod common;

use std::time::Duration;

use common::{
    SseClient, TestServer,
    fake_github::{FakeGitHub, IssueSeed},
    github_server, session, settings, text_of,
};
use futures_util::future::join_all;
use reqwest::Client;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn a_full_server_answers_503_with_retry_after_on_both_transports() {
    let server =
        TestServer::start_github(settings(&[("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS", "2")]));
    let _first = SseClient::connect(&server).await;
    let _second = SseClient::connect(&server).await;
    let sse = Client::new().get(server.url("/sse")).send().await.unwrap();
    assert_eq!(sse.status(), 503);
    assert_eq!(sse.headers()["retry-after"], "30");
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let mcp = Client::new()
        .post(server.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(mcp.status(), 503);
    let body: serde_json::Value = mcp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server is full"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_principal_has_its_own_session_allowance() {
    let server = TestServer::start_github(settings(&[
        ("GITHUB_ISSUE_MCP__AUTH__MODE", "api-keys"),
        ("GITHUB_ISSUE_MCP__AUTH__API_KEYS", "key-a,key-b"),
        ("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS_PER_PRINCIPAL", "1"),
    ]));
    let open = |key: &'static str| {
        Client::new()
            .get(server.url("/sse"))
            .bearer_auth(key)
            .send()
    };
    let first = open("key-a").await.unwrap();
    assert_eq!(first.status(), 200);
    server.wait_for_sessions(1).await;
    assert_eq!(open("key-a").await.unwrap().status(), 429);
    assert_eq!(open("key-b").await.unwrap().status(), 200);
}

fn slow_fake(latency: Duration) -> FakeGitHub {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    fake.set_latency(latency);
    fake
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_beyond_the_in_flight_limit_are_refused() {
    let fake = slow_fake(Duration::from_millis(300));
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__LIMITS__MAX_IN_FLIGHT_PER_SESSION", "2")],
    );
    let mut client = session(&server, "2025-06-18").await;
    for id in 1..=3 {
        client
            .post(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                "name": "get_issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": 1}}}))
            .await;
    }
    let refused = client.next_message().await;
    assert_eq!(refused["id"], 3, "the third is answered at once: {refused}");
    assert_eq!(refused["error"]["code"], -32000);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in flight")
    );
    for _ in 0..2 {
        let answer = client.next_message().await;
        assert_ne!(answer["result"]["isError"], true, "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_call_past_the_timeout_is_stopped_with_an_answer() {
    let fake = slow_fake(Duration::from_secs(3));
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__LIMITS__TOOL_TIMEOUT_SECS", "1")],
    );
    let mut client = session(&server, "2025-06-18").await;
    let result = client
        .call_tool(
            1,
            "get_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": 1}),
        )
        .await;
    assert_eq!(result["isError"], true);
    assert!(
        text_of(&result).starts_with("The tool call took longer than 1 s"),
        "{result}"
    );
    // The server keeps serving.
    let ping = client.request(json!(2), "ping", json!({})).await;
    assert_eq!(ping["result"], json!({}));
}

fn initialize_body(params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}).to_string()
}

fn good_params() -> Value {
    json!({"protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}})
}

/// A Streamable `initialize` POST that would open a session.
fn post_initialize(client: &Client, server: &TestServer, params: Value) -> reqwest::RequestBuilder {
    client
        .post(server.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(initialize_body(params))
}

/// Opens sent at once by the concurrency test (the review's burst).
const OPENS: usize = 300;

// Found in review: `Admit` only checked the limits and `Register` counted later, so opens at
// the same instant all passed (300 of them made 62 sessions under limits of 5 and 10).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_opens_on_both_transports_never_pass_the_limits() {
    let server = TestServer::start_github(settings(&[
        ("GITHUB_ISSUE_MCP__AUTH__MODE", "api-keys"),
        ("GITHUB_ISSUE_MCP__AUTH__API_KEYS", "key-a,key-b,key-c"),
        ("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS", "10"),
        ("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS_PER_PRINCIPAL", "5"),
    ]));
    let client = Client::new();
    // Open the connections first (idle ones stay pooled), so that the opens below arrive
    // together rather than one connection set-up apart.
    let warm = (0..OPENS).map(|_| client.get(server.url("/health")).send());
    for answer in join_all(warm).await {
        answer.unwrap().bytes().await.unwrap();
    }
    let keys = ["key-a", "key-b", "key-c"];
    // Half GET /sse and half Streamable initialize, spread over three principals.
    let opens = (0..OPENS).map(|i| {
        let key = keys[i % keys.len()];
        let request = if i % 2 == 0 {
            client.get(server.url("/sse")).bearer_auth(key)
        } else {
            post_initialize(&client, &server, good_params()).bearer_auth(key)
        };
        async move { (key, request.send().await.unwrap()) }
    });
    // The SSE responses are kept: their sessions last as long as their streams.
    let answers = join_all(opens).await;
    let admitted: Vec<_> = answers.iter().filter(|(_, r)| r.status() == 200).collect();
    for key in keys {
        let mine = admitted.iter().filter(|(k, _)| *k == key).count();
        assert!(mine <= 5, "{key} has {mine} sessions, more than 5");
    }
    for (_, refused) in answers.iter().filter(|(_, r)| r.status() != 200) {
        assert!(
            [429, 503].contains(&refused.status().as_u16()),
            "{}",
            refused.status()
        );
    }
    // Three principals of five fill the server's ten, and nothing ends, so exactly ten.
    assert_eq!(admitted.len(), 10);
    assert_eq!(server.health().await["activeConnections"], 10);
}

// Found in review: the session was started before its initialize was checked, so a failed
// initialize left a session holding a slot for `mcp.session_idle_secs`.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_initialize_leaves_no_session_behind() {
    let server =
        TestServer::start_github(settings(&[("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS", "1")]));
    let client = Client::new();
    let no_version = json!({"capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
    let failed = post_initialize(&client, &server, no_version)
        .send()
        .await
        .unwrap();
    let handed_out = failed.headers().contains_key("mcp-session-id");
    let body: Value = failed.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32602, "{body}");
    server.wait_for_sessions(0).await;
    assert!(!handed_out, "no id of an ended session is handed out");
    // Its slot is free again: the one session this server allows can open.
    let next = post_initialize(&client, &server, good_params())
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
    assert!(next.headers().contains_key("mcp-session-id"));
    server.wait_for_sessions(1).await;
}
