//! Many sessions at once: isolation under concurrency, and sessions ending with their clients.

mod common;

use common::{SseClient, TestServer};
use futures_util::future::join_all;
use serde_json::{Value, json};

const SESSIONS: usize = 100;
const REQUESTS: usize = 10;

/// One session's share of the concurrent test: pipelined requests with ids that every other
/// session uses too, and answers that only this session can have produced.
async fn run_session(server: &TestServer, index: usize) {
    let mut client = SseClient::connect(server).await;
    let version = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"][index % 4];
    assert_eq!(client.initialize(version).await["protocolVersion"], version);

    // Send everything before reading anything.
    let posts = (0..REQUESTS).map(|id| {
        let message = if id.is_multiple_of(2) {
            json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
        } else {
            // The error names the tool, so the answer is this session's own.
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": format!("session-{index}-call-{id}")}})
        };
        client.post(message)
    });
    join_all(posts).await;

    let mut seen = Vec::new();
    for _ in 0..REQUESTS {
        let response: Value = client.next_message().await;
        let id = response["id"].as_u64().expect("a numeric id, as sent") as usize;
        if id.is_multiple_of(2) {
            assert_eq!(response["result"], json!({}), "session {index}: {response}");
        } else {
            let message = response["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("session-{index}-call-{id}\"")),
                "session {index} got {message}"
            );
        }
        seen.push(id);
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..REQUESTS).collect::<Vec<_>>(),
        "session {index}: every response exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sessions_with_overlapping_ids_each_get_only_their_own_responses() {
    let server = TestServer::start();
    join_all((0..SESSIONS).map(|index| run_session(&server, index))).await;
    server.wait_for_sessions(0).await;
}

#[tokio::test]
async fn a_disconnected_client_leaves_the_registry() {
    let server = TestServer::start();
    let clients = join_all((0..5).map(|_| SseClient::connect(&server))).await;
    assert_eq!(server.health().await["activeConnections"], 5);
    let mut clients = clients.into_iter();
    drop(clients.next());
    server.wait_for_sessions(4).await;
    drop(clients);
    server.wait_for_sessions(0).await;
}

#[tokio::test]
async fn connect_disconnect_churn_leaves_no_session_behind() {
    let server = TestServer::start();
    for round in 0..20 {
        let clients = join_all((0..25).map(|_| SseClient::connect(&server))).await;
        for mut client in clients {
            assert_eq!(
                client.request(json!(round), "ping", json!({})).await["result"],
                json!({})
            );
        }
    }
    server.wait_for_sessions(0).await;
    // Still serving after 500 sessions came and went.
    let mut client = SseClient::connect(&server).await;
    assert_eq!(client.request(json!(1), "ping", json!({})).await["id"], 1);
}
