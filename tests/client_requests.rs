//! Requests from the server to the client (`sampling/createMessage`, `elicitation/create`):
//! sent only when the client declared the capability, on the stream of the request they serve,
//! with the client's answer (a separate POST) correlated by id. Over the legacy transport here;
//! the conformance suite covers Streamable HTTP.

mod common;

use common::{SseClient, TestServer, settings};
use serde_json::json;

fn fixtures_server() -> TestServer {
    TestServer::start_github(settings(&[("MCP_CONFORMANCE_FIXTURES", "1")]))
}

async fn connect(server: &TestServer, capabilities: serde_json::Value) -> SseClient {
    let mut client = SseClient::connect(server).await;
    let init = client
        .request(
            json!(0),
            "initialize",
            json!({
            "protocolVersion": "2025-06-18", "capabilities": capabilities,
            "clientInfo": {"name": "t", "version": "1"}}),
        )
        .await;
    assert!(init.get("result").is_some(), "{init}");
    client
}

#[tokio::test(flavor = "multi_thread")]
async fn sampling_round_trips_through_the_client() {
    let server = fixtures_server();
    let mut client = connect(&server, json!({"sampling": {}})).await;
    client
        .post(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                     "params": {"name": "test_sampling", "arguments": {"prompt": "Say hi"}}}))
        .await;
    let request = client.next_message().await;
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    assert_eq!(
        request["params"]["messages"][0]["content"]["text"],
        "Say hi"
    );
    let id = request["id"].clone();
    client
        .post(json!({"jsonrpc": "2.0", "id": id, "result": {
            "role": "assistant", "content": {"type": "text", "text": "Hi!"}, "model": "test"}}))
        .await;
    let answer = client.next_message().await;
    assert_eq!(answer["id"], 5);
    assert_eq!(
        answer["result"]["content"][0]["text"], "LLM response: Hi!",
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_asked_of_a_client_without_the_capability() {
    let server = fixtures_server();
    let mut client = connect(&server, json!({})).await;
    let answer = client
        .request(
            json!(6),
            "tools/call",
            json!({"name": "test_elicitation", "arguments": {"message": "Name?"}}),
        )
        .await;
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("elicitation capability"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_error_reaches_the_tool() {
    let server = fixtures_server();
    let mut client = connect(&server, json!({"elicitation": {}})).await;
    client
        .post(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                     "params": {"name": "test_elicitation", "arguments": {"message": "Name?"}}}))
        .await;
    let request = client.next_message().await;
    assert_eq!(request["method"], "elicitation/create");
    client
        .post(json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -1, "message": "user closed the dialog"}}))
        .await;
    let answer = client.next_message().await;
    assert_eq!(answer["id"], 7);
    assert_eq!(
        answer["error"]["message"], "user closed the dialog",
        "{answer}"
    );
}

/// Closing an issue is confirmed with the user when the session's client can be asked
/// (`elicitation`): declined, nothing changes; accepted, the issue closes. A client that
/// cannot be asked is not blocked.
#[tokio::test(flavor = "multi_thread")]
async fn closing_an_issue_asks_the_user_first_where_the_client_can_ask() {
    use common::fake_github::{FakeGitHub, IssueSeed};

    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    fake.add_issue("octo", "hello", IssueSeed::default());
    let server = common::github_server(&fake, &[]);
    let close = |id: u64, number: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "update_issue", "arguments":
                {"owner": "octo", "repo": "hello", "issue_number": number, "state": "closed"}}})
    };
    let mut client = connect(&server, json!({"elicitation": {}})).await;
    for (id, action, closed) in [(8, "decline", false), (9, "accept", true)] {
        client.post(close(id, 1)).await;
        let asked = client.next_message().await;
        assert_eq!(asked["method"], "elicitation/create", "{asked}");
        assert!(
            asked["params"]["message"]
                .as_str()
                .unwrap()
                .contains("Close issue #1")
        );
        client
            .post(json!({"jsonrpc": "2.0", "id": asked["id"], "result":
                {"action": action, "content": {"confirm": true}}}))
            .await;
        let answer = client.next_message().await;
        assert_eq!(answer["id"], id, "{answer}");
        let state = fake.issue("octo", "hello", 1).unwrap()["state"].clone();
        assert_eq!(state == "closed", closed, "{action}: {answer}");
        assert_eq!(answer["result"]["isError"] == true, !closed, "{answer}");
    }
    let mut unasked = connect(&server, json!({})).await;
    let answer = unasked
        .request(json!(10), "tools/call", close(10, 2)["params"].clone())
        .await;
    assert_ne!(answer["result"]["isError"], true, "{answer}");
    assert_eq!(fake.issue("octo", "hello", 2).unwrap()["state"], "closed");
}
