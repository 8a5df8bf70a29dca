//! `/metrics` (Prometheus text, no secrets in it) and `/ready`.

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
        "mcp_requests_total{method=\"tools/call\",outcome=\"ok\"} 2",
        "mcp_requests_total{method=\"tools/call\",outcome=\"tool_error\"} 1",
        "mcp_requests_total{method=\"no/such/method\",outcome=\"error\"} 1",
        "mcp_tool_call_seconds_count 3",
        "github_requests_total{status=\"200\"} 1",
        "github_requests_total{status=\"304\"} 1",
        "github_requests_total{status=\"404\"} 1",
        "github_not_modified_total 1",
        "github_rate_limit_remaining{resource=\"core\"} 4998",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        !text.contains(TEST_TOKEN) && !text.contains("testtoken"),
        "a secret in /metrics"
    );

    let ready = reqwest::get(server.url("/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
}
