//! Faults: a client that stops reading is disconnected instead of growing the server's memory,
//! and GitHub failing, slow or rate-limiting never leaves a call unanswered or the server down.

mod common;

use std::time::Duration;

use common::{
    SseClient, TestServer,
    fake_github::{FakeGitHub, IssueSeed},
    github_server, session, settings,
};
use futures_util::future::join_all;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_is_disconnected() {
    let server = TestServer::start_github(settings(&[(
        "GITHUB_ISSUE_MCP__SSE__OUTBOUND_CAPACITY",
        "4",
    )]));
    let mut client = SseClient::connect(&server).await;
    client.initialize("2025-06-18").await;
    server.wait_for_sessions(1).await;
    // Ask for far more than the socket buffers hold, and never read the answers: the session's
    // queue fills and the session ends.
    post_until_disconnected(&server, client, |round| {
        (0..50).map(|n| json!(round * 100 + n)).collect()
    })
    .await;
}

/// Posts rounds of `tools/list` requests with the ids `ids(round)` gives, never reading the
/// answers, until a POST finds the session gone (404); then checks that it was removed and that
/// the server still serves.
async fn post_until_disconnected(
    server: &TestServer,
    client: SseClient,
    ids: impl Fn(usize) -> Vec<serde_json::Value>,
) {
    let deadline = std::time::Instant::now() + common::WAIT;
    for round in 1.. {
        let posts = ids(round).into_iter().map(|id| {
            client.post_raw(
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}).to_string(),
                "application/json",
            )
        });
        let statuses: Vec<u16> = join_all(posts)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        if statuses.contains(&404) {
            break; // the session is gone
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the session was never disconnected"
        );
    }
    server.wait_for_sessions(0).await;
    drop(client);
    assert_eq!(server.health().await["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_large_answers_is_disconnected_by_bytes() {
    // A queue that never fills by count: only its byte bound can end the session.
    let server = TestServer::start_github(settings(&[
        ("GITHUB_ISSUE_MCP__SSE__OUTBOUND_CAPACITY", "1000000"),
        ("GITHUB_ISSUE_MCP__SSE__OUTBOUND_BYTES", "65536"),
    ]));
    let mut client = SseClient::connect(&server).await;
    client.initialize("2025-06-18").await;
    server.wait_for_sessions(1).await;
    // Requests whose 200 KB ids come back in their answers, never read: once the socket
    // buffers are full, the queue passes 64 KB after a few answers and the session ends.
    post_until_disconnected(&server, client, |round| {
        (0..10)
            .map(|n| json!(format!("{round}-{n}-{}", "x".repeat(200_000))))
            .collect()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_is_answered_while_github_misbehaves() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    for _ in 0..5 {
        fake.add_issue("octo", "hello", IssueSeed::default());
    }
    let server = github_server(
        &fake,
        &[
            ("GITHUB_ISSUE_MCP__LIMITS__TOOL_TIMEOUT_SECS", "1"),
            ("GITHUB_ISSUE_MCP__GITHUB__MAX_IN_FLIGHT_PER_TOKEN", "4"),
        ],
    );
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(session(&server, "2025-06-18").await);
    }
    // Rounds of failures, slowness past the tool timeout, and a secondary rate limit.
    for round in 0..3 {
        match round {
            0 => fake.fail_next(502, 10),
            1 => fake.set_latency(Duration::from_millis(1500)),
            _ => {
                fake.set_latency(Duration::ZERO);
                fake.set_secondary_limit(Some(1), 429, 3);
            }
        }
        for (n, client) in clients.iter().enumerate() {
            client
                .post(json!({"jsonrpc": "2.0", "id": round * 10 + n, "method": "tools/call", "params": {
                    "name": "get_issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": n % 5 + 1}}}))
                .await;
        }
        for (n, client) in clients.iter_mut().enumerate() {
            let answer = client.next_message().await;
            assert_eq!(answer["id"], round * 10 + n, "{answer}");
            assert!(
                answer.get("result").is_some(),
                "a tool result, not a protocol error: {answer}"
            );
        }
    }
    assert_eq!(server.health().await["status"], "ok");
}

/// A "GitHub" that answers every request with a JSON array that never ends (chunked, 1 MiB at
/// a time, up to `total` bytes): the server must stop reading at its bound, not buffer it all.
fn endless_github(total: usize) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                        transfer-encoding: chunked\r\n\r\n";
            let chunk = format!("{:x}\r\n[{}\r\n", 1 << 20, " ".repeat((1 << 20) - 1));
            let _ = stream.write_all(head.as_bytes());
            for _ in 0..total >> 20 {
                // The server hangs up once it has read enough.
                if stream.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_too_large_to_read_is_refused_not_buffered() {
    let base = endless_github(40 << 20);
    let server = TestServer::start_github(settings(&[("GITHUB_API_URL", &base)]));
    let mut client = session(&server, "2025-06-18").await;
    let answer = client
        .call_tool(1, "list_issues", json!({"owner": "octo", "repo": "hello"}))
        .await;
    assert_eq!(answer["isError"], true, "{answer}");
    let text = common::text_of(&answer);
    assert!(text.contains("larger than the 32 MiB"), "{text}");
    assert_eq!(server.health().await["status"], "ok");
}
