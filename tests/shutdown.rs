//! Graceful shutdown of the real binary: on SIGTERM, `/ready` turns 503, new requests are
//! answered "shutting down", the tool call already running finishes and is answered, and the
//! process exits 0 within Docker's 10 s stop timeout.

mod common;

use std::time::{Duration, Instant};

use common::{
    SseClient,
    fake_github::{FakeGitHub, IssueSeed, TEST_TOKEN},
};
use serde_json::json;

/// The real binary against `fake`, with `extra` settings, and an initialized session on it.
async fn start(
    fake: &FakeGitHub,
    extra: &[(&str, &str)],
) -> (std::process::Child, common::TestServer, SseClient) {
    let mut env = vec![
        ("GITHUB_TOKEN", TEST_TOKEN),
        ("GITHUB_API_URL", fake.base_url.as_str()),
        ("RUST_LOG", "warn"),
    ];
    env.extend_from_slice(extra);
    let (child, server) = common::spawn_binary(&env).await;
    let mut client = SseClient::connect(&server).await;
    client.initialize("2025-06-18").await;
    (child, server, client)
}

/// The process's exit status; fails if it still runs 10 s (Docker's stop timeout) after
/// `signalled`.
async fn exit_status(
    child: &mut std::process::Child,
    signalled: Instant,
) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_and_exits_zero() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    fake.set_latency(Duration::from_millis(1500));

    let (mut child, server, mut client) = start(&fake, &[]).await;
    client
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "get_issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": 1}}}))
        .await;
    // The call is on its way to GitHub before the signal.
    let deadline = Instant::now() + common::WAIT;
    while fake.request_count() == 0 {
        assert!(Instant::now() < deadline, "the call never reached GitHub");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let signalled = Instant::now();
    common::terminate(&child);
    let ready = server.url("/ready");
    loop {
        let status = reqwest::get(&ready)
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == 503 {
            break;
        }
        assert!(Instant::now() < deadline, "/ready never turned 503");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client
        .post(json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}))
        .await;

    let (mut refused, mut finished) = (false, false);
    while !(refused && finished) {
        let message = client.next_message().await;
        match message["id"].as_u64() {
            Some(2) => {
                assert_eq!(message["error"]["code"], -32000, "{message}");
                assert!(
                    message["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("shutting down")
                );
                refused = true;
            }
            Some(1) => {
                assert_eq!(
                    message["result"]["structuredContent"]["issue"]["number"], 1,
                    "{message}"
                );
                finished = true;
            }
            _ => panic!("unexpected {message}"),
        }
    }

    let status = exit_status(&mut child, signalled).await;
    assert!(status.success(), "{status}");
    assert!(signalled.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_batch_stops_between_issues_and_says_which_were_not_done() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    for _ in 0..10 {
        fake.add_issue("octo", "hello", IssueSeed::default());
    }
    let (child, _server, mut client) = start(
        &fake,
        &[("GITHUB_ISSUE_MCP__GITHUB__MUTATION_INTERVAL_MS", "500")],
    )
    .await;
    client
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "batch_label_issues",
            "arguments": {"owner": "octo", "repo": "hello", "issue_numbers": (1..=10).collect::<Vec<_>>(), "labels": ["x"]}}}))
        .await;
    let deadline = Instant::now() + common::WAIT;
    while fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
        == 0
    {
        assert!(Instant::now() < deadline, "the batch never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    common::terminate(&child);

    let answer = client.next_message().await;
    let results = &answer["result"]["structuredContent"];
    let done = results["succeeded"].as_u64().unwrap();
    assert!((1..10).contains(&done), "{answer}");
    let skipped: Vec<_> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["error"]
                .as_str()
                .is_some_and(|e| e.contains("shutting down"))
        })
        .collect();
    assert_eq!(skipped.len() as u64, 10 - done, "{answer}");
    // Nothing half-done: GitHub saw exactly the labelled issues.
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count() as u64;
    assert_eq!(posts, done);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
}

/// The stateless revision drains like sessions: a call already running finishes and is
/// answered, a new request is refused, and a `subscriptions/listen` stream ends with the
/// listen request's result.
#[tokio::test(flavor = "multi_thread")]
async fn stateless_requests_drain_too() {
    use common::{
        SseEvent, SseReader,
        stateless::{post, request},
    };

    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    fake.set_latency(Duration::from_millis(1500));
    let (mut child, server, _client) = start(&fake, &[]).await;
    let url = server.url("/mcp");

    let listen = request(
        7,
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true}}),
    );
    let mut stream = SseReader::new(post(&url, &listen, &[]).await);
    let mut next_message = async || loop {
        match stream.next().await {
            Some(SseEvent::Event { data, .. }) => {
                return Some(serde_json::from_str::<serde_json::Value>(&data).unwrap());
            }
            Some(SseEvent::Comment(_)) => continue,
            None => return None,
        }
    };
    let ack = next_message().await.unwrap();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");

    let call = request(
        1,
        "tools/call",
        json!({"name": "get_issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": 1}}),
    );
    let running = tokio::spawn({
        let url = url.clone();
        async move {
            post(&url, &call, &[])
                .await
                .json::<serde_json::Value>()
                .await
        }
    });
    let deadline = Instant::now() + common::WAIT;
    while fake.request_count() == 0 {
        assert!(Instant::now() < deadline, "the call never reached GitHub");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let signalled = Instant::now();
    common::terminate(&child);

    let closing = next_message().await.expect("the listen stream's result");
    assert_eq!(closing["id"], 7, "{closing}");
    assert_eq!(closing["result"]["resultType"], "complete");
    assert_eq!(
        closing["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );
    assert!(next_message().await.is_none(), "and the stream ends");

    let refused = post(&url, &request(2, "tools/list", json!({})), &[]).await;
    assert_eq!(refused.status(), 503);
    let refused: serde_json::Value = refused.json().await.unwrap();
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shutting down"),
        "{refused}"
    );

    let answer = running.await.unwrap().unwrap();
    assert_eq!(
        answer["result"]["structuredContent"]["issue"]["number"], 1,
        "{answer}"
    );
    let status = exit_status(&mut child, signalled).await;
    assert!(status.success(), "{status}");
}
