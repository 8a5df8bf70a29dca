//! Who a principal is, where session ownership and session limits decide on it (issue 15,
//! lower items): an API key is its own principal even when its hash starts like another key's
//! (ids used to be the first 32 bits of the hash), and in `auth.mode = none` each client
//! address is its own principal (it used to be one for everyone: 100 sessions in all).

mod common;

use common::{TestServer, settings};
use reqwest::{Client, Response};
use serde_json::json;

fn initialize() -> String {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "principals", "version": "1"}}})
    .to_string()
}

/// POST /mcp from `local` (a loopback address), with an optional bearer and session.
async fn mcp(
    server: &TestServer,
    local: &str,
    bearer: Option<&str>,
    session: Option<&str>,
    body: String,
) -> Response {
    let client = Client::builder()
        .local_address(local.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut request = client
        .post(server.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json");
    if let Some(session) = session {
        request = request.header("Mcp-Session-Id", session);
    }
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    request.body(body).send().await.unwrap()
}

fn session_of(response: &Response) -> String {
    assert_eq!(response.status(), 200);
    response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string()
}

fn ping() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_whose_hashes_share_a_prefix_are_two_principals() {
    // The SHA-256 of both starts with aed6dbf9: one principal under 32-bit ids.
    let (first, second) = ("key-collide-00106232", "key-collide-00182427");
    let server = TestServer::start_github(settings(&[
        ("GITHUB_ISSUE_MCP__AUTH__MODE", "api-keys"),
        (
            "GITHUB_ISSUE_MCP__AUTH__API_KEYS",
            &format!("{first},{second}"),
        ),
        ("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS_PER_PRINCIPAL", "1"),
    ]));
    let mine = session_of(&mcp(&server, "127.0.0.1", Some(first), None, initialize()).await);
    let theirs = mcp(&server, "127.0.0.1", Some(second), Some(&mine), ping()).await;
    assert_eq!(theirs.status(), 404, "the other key sees no such session");
    let own = mcp(&server, "127.0.0.1", Some(second), None, initialize()).await;
    assert_eq!(own.status(), 200, "the other key has its own session limit");
    let over = mcp(&server, "127.0.0.1", Some(first), None, initialize()).await;
    assert_eq!(over.status(), 429, "the limit still holds per key");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_authentication_each_client_address_is_a_principal() {
    let server = TestServer::start_github(settings(&[(
        "GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS_PER_PRINCIPAL",
        "1",
    )]));
    let first = session_of(&mcp(&server, "127.0.0.1", None, None, initialize()).await);
    let over = mcp(&server, "127.0.0.1", None, None, initialize()).await;
    assert_eq!(over.status(), 429, "one address, one limit");
    let second = session_of(&mcp(&server, "127.0.0.2", None, None, initialize()).await);
    let across = mcp(&server, "127.0.0.2", None, Some(&first), ping()).await;
    assert_eq!(across.status(), 404, "another address sees no such session");
    for (from, session) in [("127.0.0.1", &first), ("127.0.0.2", &second)] {
        let own = mcp(&server, from, None, Some(session), ping()).await;
        assert_eq!(own.status(), 200, "{from} uses its own session");
    }
}
