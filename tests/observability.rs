//! `/metrics` (Prometheus text, no secrets in it, only for authenticated callers unless
//! `auth.metrics = public`) and `/ready`.

mod common;

use common::{
    fake_github::{FakeGitHub, IssueSeed, TEST_TOKEN},
    github_server, session,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_sessions_requests_and_github_traffic_without_secrets() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    let args = json!({"owner": "octo", "repo": "hello", "issue_number": 1});
    client.call_tool(1, "get_issue", args.clone()).await;
    client.call_tool(2, "get_issue", args).await; // answered by a 304
    client
        .call_tool(3, "list_issues", json!({"owner": "octo", "repo": "nope"}))
        .await;
    client.request(json!(4), "no/such/method", json!({})).await;

    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for line in [
        "mcp_sessions{transport=\"sse\"} 1",
        "mcp_sessions{transport=\"streamable-http\"} 0",
        "mcp_requests_total{era=\"session\",method=\"tools/call\",outcome=\"ok\"} 2",
        "mcp_requests_total{era=\"session\",method=\"tools/call\",outcome=\"tool_error\"} 1",
        "mcp_requests_total{era=\"session\",method=\"other\",outcome=\"error\"} 1",
        "mcp_tool_call_seconds_count 3",
        "github_requests_total{status=\"200\"} 1",
        "github_requests_total{status=\"304\"} 1",
        "github_requests_total{status=\"404\"} 1",
        "github_not_modified_total 1",
        "github_rate_limit_remaining{resource=\"core\"} 4998",
        "github_tokens_tracked 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // Six POSTs (initialize, initialized, four requests). Each of the two workers asks the
    // registry for the session at most once and remembers the answer; which worker gets a
    // POST depends on the client's connections, so only the total is exact.
    let lookups = |by: &str| -> u64 {
        let prefix = format!("mcp_session_lookups_total{{answered_by=\"{by}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix:?} in:\n{text}"))
    };
    let (registry, worker) = (lookups("registry"), lookups("worker"));
    assert!((1..=2).contains(&registry), "registry {registry}:\n{text}");
    assert_eq!(registry + worker, 6, "{text}");
    assert!(
        !text.contains(TEST_TOKEN) && !text.contains("testtoken"),
        "a secret in /metrics"
    );

    let ready = reqwest::get(server.url("/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_an_audit_line_per_write_and_no_secret() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let (child, server) = common::spawn_binary(&[
        ("GITHUB_TOKEN", TEST_TOKEN),
        ("GITHUB_API_URL", &fake.base_url),
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "debug"),
    ])
    .await;
    let mut client = session(&server, "2025-06-18").await;
    let created = client
        .call_tool(
            1,
            "create_issue",
            json!({"owner": "octo", "repo": "hello", "title": "Audited"}),
        )
        .await;
    assert_ne!(created["isError"], true, "{created}");
    client
        .call_tool(2, "list_issues", json!({"owner": "octo", "repo": "hello"}))
        .await;
    drop(client);
    common::terminate(&child);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let logs = String::from_utf8(output.stderr).unwrap();
    assert!(!logs.contains(TEST_TOKEN), "the token reached the logs");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let audits: Vec<&str> = lines
        .iter()
        .filter(|line| line["target"] == "audit")
        .map(|line| line["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        audits,
        [
            "principal=\"anonymous@127.0.0.1\" era=session tool=create_issue repository=\"octo/hello\" issue=- outcome=ok"
        ],
        "one audit line, for the write only"
    );
}

/// `/metrics` tells sessions and the GitHub budget left: by default only whoever may use the
/// MCP routes reads it, with the same credentials; `auth.metrics = public` opens it.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_the_mcp_credentials_unless_public() {
    let keys = ("GITHUB_ISSUE_MCP__AUTH__API_KEYS", "scrape-key-0123456789");
    let mode = ("GITHUB_ISSUE_MCP__AUTH__MODE", "api-keys");
    let server = common::TestServer::start_github(common::settings(&[mode, keys]));
    let get = |bearer: Option<&'static str>| {
        let request = reqwest::Client::new().get(server.url("/metrics"));
        match bearer {
            Some(bearer) => request.bearer_auth(bearer),
            None => request,
        }
        .send()
    };
    for bearer in [None, Some("wrong-key")] {
        let refused = get(bearer).await.unwrap();
        assert_eq!(refused.status(), 401, "{bearer:?}");
        assert!(!refused.text().await.unwrap().contains("mcp_sessions"));
    }
    let allowed = get(Some("scrape-key-0123456789")).await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert!(allowed.text().await.unwrap().contains("mcp_sessions"));

    let public = common::TestServer::start_github(common::settings(&[
        mode,
        keys,
        ("GITHUB_ISSUE_MCP__AUTH__METRICS", "public"),
    ]));
    let open = reqwest::get(public.url("/metrics")).await.unwrap();
    assert_eq!(open.status(), 200);
}
