//! Authentication modes and session ownership, over both transports: `api-keys` (401 without a
//! right key; sessions belong to their key), `github-token` (each caller's own token goes to
//! GitHub; per-token gateway state), and `none` refused on a non-loopback address.

mod common;

use std::net::TcpListener;

use common::{
    TestServer,
    fake_github::{FakeGitHub, IssueSeed, login_of},
    settings,
};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::json;

const BOTH: &str = "application/json, text/event-stream";

fn initialize() -> String {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "auth-test", "version": "1"}}})
    .to_string()
}

fn with_bearer(request: RequestBuilder, bearer: Option<&str>) -> RequestBuilder {
    match bearer {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// POST /mcp with an optional bearer and session.
async fn mcp(
    server: &TestServer,
    bearer: Option<&str>,
    session: Option<&str>,
    body: String,
) -> Response {
    let mut request = Client::new()
        .post(server.url("/mcp"))
        .header("Accept", BOTH)
        .header("Content-Type", "application/json");
    if let Some(session) = session {
        request = request.header("Mcp-Session-Id", session);
    }
    with_bearer(request, bearer)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn open_mcp_session(server: &TestServer, bearer: &str) -> String {
    let response = mcp(server, Some(bearer), None, initialize()).await;
    assert_eq!(response.status(), 200);
    response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string()
}

fn api_key_server() -> TestServer {
    // One key given as itself, one as its SHA-256 (of "beta-key").
    let beta = "sha256:7a3d637bc601f7000cc2c33141c8c8a7554e02e319fa8b293a0c88c613b77620";
    let keys = format!("alpha-key,{beta}");
    TestServer::start_github(settings(&[
        ("GITHUB_ISSUE_MCP__AUTH__MODE", "api-keys"),
        ("GITHUB_ISSUE_MCP__AUTH__API_KEYS", &keys),
    ]))
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_are_required_on_both_transports() {
    let server = api_key_server();
    for bearer in [None, Some("wrong-key")] {
        let sse = with_bearer(Client::new().get(server.url("/sse")), bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(sse.status(), 401, "{bearer:?}");
        assert!(
            sse.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let streamable = mcp(&server, bearer, None, initialize()).await;
        assert_eq!(streamable.status(), 401, "{bearer:?}");
        assert!(streamable.headers().contains_key("www-authenticate"));
    }
    let ok = with_bearer(Client::new().get(server.url("/sse")), Some("alpha-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    open_mcp_session(&server, "alpha-key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_is_invisible_to_other_principals() {
    let server = api_key_server();
    let beta = "beta-key"; // accepted through its configured hash
    let session = open_mcp_session(&server, "alpha-key").await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();

    let mine = mcp(&server, Some("alpha-key"), Some(&session), ping.clone()).await;
    assert_eq!(mine.status(), 200);
    let theirs = mcp(&server, Some(beta), Some(&session), ping.clone()).await;
    assert_eq!(theirs.status(), 404, "another key sees no such session");
    let get = with_bearer(Client::new().get(server.url("/mcp")), Some(beta))
        .header("Accept", "text/event-stream")
        .header("Mcp-Session-Id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404);
    let delete = with_bearer(Client::new().delete(server.url("/mcp")), Some(beta))
        .header("Mcp-Session-Id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 404);
    let still = mcp(&server, Some("alpha-key"), Some(&session), ping).await;
    assert_eq!(still.status(), 200, "the owner's session survived");

    // The legacy transport: POST /messages to someone else's session.
    let stream = with_bearer(Client::new().get(server.url("/sse")), Some("alpha-key"))
        .send()
        .await
        .unwrap();
    let mut reader = common::SseReader::new(stream);
    let endpoint = match reader.next().await.unwrap() {
        common::SseEvent::Event { data, .. } => data,
        other => panic!("{other:?}"),
    };
    // One client, so one keep-alive connection and one worker: the owner's post teaches that
    // worker the session's route, which must still not answer for anyone else.
    let http = Client::new();
    let post = |bearer: &'static str| {
        with_bearer(http.post(server.url(&endpoint)), Some(bearer))
            .header("Content-Type", "application/json")
            .body(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string())
            .send()
    };
    assert_eq!(post("alpha-key").await.unwrap().status(), 202);
    assert_eq!(post(beta).await.unwrap().status(), 404);
    let keyless = Client::new()
        .post(server.url(&endpoint))
        .header("Content-Type", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(keyless.status(), 401, "POST /messages without a key");
    assert!(keyless.headers().contains_key("www-authenticate"));
    assert_eq!(post("alpha-key").await.unwrap().status(), 202);
}

#[tokio::test(flavor = "multi_thread")]
async fn github_token_mode_uses_each_callers_own_token() {
    let (token_a, token_b) = (
        "ghp_callerAAAAAAAAAAAAAA1111",
        "ghp_callerBBBBBBBBBBBBBB2222",
    );
    let fake = FakeGitHub::start_with_tokens(&[token_a, token_b]);
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    fake.set_latency(std::time::Duration::from_millis(200));
    let server = common::github_server(&fake, &[("GITHUB_ISSUE_MCP__AUTH__MODE", "github-token")]);

    let bad = mcp(
        &server,
        Some("ghp_notavalidtokenatall0000"),
        None,
        initialize(),
    )
    .await;
    assert_eq!(
        bad.status(),
        401,
        "a token GitHub rejects is refused when the session opens"
    );
    let none = mcp(&server, None, None, initialize()).await;
    assert_eq!(none.status(), 401);

    let session_a = open_mcp_session(&server, token_a).await;
    let session_b = open_mcp_session(&server, token_b).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "get_issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": 1}}})
    .to_string();
    // Both at once: different tokens go out in parallel.
    let (a, b) = tokio::join!(
        mcp(&server, Some(token_a), Some(&session_a), call.clone()),
        mcp(&server, Some(token_b), Some(&session_b), call.clone()),
    );
    for response in [a, b] {
        let text = response.text().await.unwrap();
        assert!(text.contains("\"number\":1"), "{text}");
    }
    let to_issue: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path_and_query == "/repos/octo/hello/issues/1")
        .collect();
    let tokens: std::collections::HashSet<String> = to_issue
        .iter()
        .map(|r| r.headers["authorization"].clone())
        .collect();
    assert_eq!(
        tokens.len(),
        2,
        "each caller's own token went to GitHub: {tokens:?}"
    );
    assert_eq!(
        fake.max_in_flight(),
        2,
        "calls for different tokens ran in parallel"
    );

    let cross = mcp(&server, Some(token_b), Some(&session_a), call).await;
    assert_eq!(cross.status(), 404);
    assert!(login_of(token_a).starts_with("user-"));
}

/// GitHub answers repeated bad credentials by locking the user's logins for a while: a client
/// stuck on a revoked token must not reach GitHub with it on every retry. Good tokens are
/// checked once, too.
#[tokio::test(flavor = "multi_thread")]
async fn github_token_checks_are_remembered_refusals_included() {
    let (good, bad) = (
        "ghp_rememberedEEEEEEEEEEE5555",
        "ghp_revokedFFFFFFFFFFFFFF6666",
    );
    let fake = FakeGitHub::start_with_tokens(&[good]);
    let server = common::github_server(&fake, &[("GITHUB_ISSUE_MCP__AUTH__MODE", "github-token")]);
    for attempt in 1..=3 {
        let refused = mcp(&server, Some(bad), None, initialize()).await;
        assert_eq!(refused.status(), 401, "attempt {attempt}");
        let text = refused.text().await.unwrap();
        assert!(
            text.contains("GitHub rejected the token"),
            "attempt {attempt}: {text}"
        );
    }
    let session = open_mcp_session(&server, good).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    for _ in 0..2 {
        let listed = mcp(&server, Some(good), Some(&session), list.clone()).await;
        assert_eq!(listed.status(), 200);
    }
    let user_checks = |token: &str| {
        fake.requests()
            .into_iter()
            .filter(|r| r.path_and_query == "/user")
            .filter(|r| r.headers["authorization"].ends_with(token))
            .count()
    };
    assert_eq!(user_checks(bad), 1, "the refused token went to GitHub once");
    assert_eq!(user_checks(good), 1, "the good token was checked once");
}

#[test]
fn unauthenticated_remote_serving_is_refused_unless_allowed() {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let err = actix_web::rt::System::new()
        .block_on(async { github_issue_mcp::run(listener, settings(&[])).map(|_| ()) })
        .unwrap_err();
    assert!(err.to_string().contains("refusing to serve"), "{err}");
    assert!(err.to_string().contains("auth.mode"), "{err}");

    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let allowed = actix_web::rt::System::new().block_on(async {
        let server = github_issue_mcp::run(
            listener,
            settings(&[(
                "GITHUB_ISSUE_MCP__AUTH__ALLOW_UNAUTHENTICATED_REMOTE",
                "true",
            )]),
        )?;
        let handle = server.handle();
        actix_web::rt::spawn(server);
        handle.stop(false).await;
        Ok::<_, std::io::Error>(())
    });
    assert!(allowed.is_ok(), "{allowed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn github_token_mode_over_the_legacy_transport() {
    let token = "ghp_legacyCCCCCCCCCCCCCCCC3333";
    let fake = FakeGitHub::start_with_tokens(&[token]);
    fake.add_repo("octo", "hello");
    let server = common::github_server(&fake, &[("GITHUB_ISSUE_MCP__AUTH__MODE", "github-token")]);
    let refused = Client::new().get(server.url("/sse")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let stream = Client::new()
        .get(server.url("/sse"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut reader = common::SseReader::new(stream);
    let endpoint = match reader.next().await.unwrap() {
        common::SseEvent::Event { data, .. } => server.url(&data),
        other => panic!("{other:?}"),
    };
    let post = |body: serde_json::Value| {
        Client::new()
            .post(&endpoint)
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
    };
    post(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
    .await
    .unwrap();
    post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "list_issues", "arguments": {"owner": "octo", "repo": "hello"}}}),
    )
    .await
    .unwrap();
    let mut answered = 0;
    while answered < 2 {
        if let Some(common::SseEvent::Event { data, .. }) = reader.next().await {
            let message: serde_json::Value = serde_json::from_str(&data).unwrap();
            assert!(message.get("result").is_some(), "{message}");
            answered += 1;
        }
    }
    let sent = fake
        .requests()
        .into_iter()
        .find(|r| r.path_and_query.contains("/issues"))
        .unwrap();
    assert_eq!(sent.headers["authorization"], format!("Bearer {token}"));
}

/// A session acts with the token that opened it: another token of the same GitHub user (a
/// narrower one, say) that learns the session id must not use it or end it. Sessions still
/// count against the user's limit together.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_belongs_to_its_token_not_only_to_its_user() {
    // Both belong to user-1234 (the fake's logins are the tokens' last four characters).
    let (first, second) = (
        "ghp_firstAAAAAAAAAAAAAAA1234",
        "ghp_secondBBBBBBBBBBBBBB1234",
    );
    let fake = FakeGitHub::start_with_tokens(&[first, second]);
    let server = common::github_server(
        &fake,
        &[
            ("GITHUB_ISSUE_MCP__AUTH__MODE", "github-token"),
            ("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS_PER_PRINCIPAL", "1"),
        ],
    );
    let session = open_mcp_session(&server, first).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    let theirs = mcp(&server, Some(second), Some(&session), ping.clone()).await;
    assert_eq!(theirs.status(), 404, "the other token sees no such session");
    let delete = with_bearer(Client::new().delete(server.url("/mcp")), Some(second))
        .header("Mcp-Session-Id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 404);
    let mine = mcp(&server, Some(first), Some(&session), ping).await;
    assert_eq!(mine.status(), 200, "the session survived");
    let over = mcp(&server, Some(second), None, initialize()).await;
    assert_eq!(over.status(), 429, "one user, one limit");
}
