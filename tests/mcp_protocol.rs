//! MCP over a real session: the initialize handshake and version table, error codes, ids,
//! notifications, logging, pagination, cancellation, and version-gated fields.

mod common;

use std::sync::{Arc, Mutex};

use common::{SseClient, TestServer, settings};
use github_issue_mcp::{
    dispatch::Features,
    mcp::jsonrpc::{ErrorCode, ErrorObject},
    tools::{
        CallContext, CallToolResult, LocalFuture, Tool, ToolDefinition, ToolRegistry, ToolReply,
    },
};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

#[tokio::test]
async fn the_version_negotiation_table_holds() {
    let server = TestServer::start();
    for (asked, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2024-10-07", "2025-11-25"),
        ("2099-01-01", "2025-11-25"),
    ] {
        let mut client = SseClient::connect(&server).await;
        let result = client.initialize(asked).await;
        assert_eq!(result["protocolVersion"], answered, "asked {asked}");
        assert_eq!(result["serverInfo"]["name"], "github-issue-manager");
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        let has_title = answered >= "2025-06-18";
        assert_eq!(
            result["serverInfo"].get("title").is_some(),
            has_title,
            "asked {asked}"
        );
        assert!(result["instructions"].as_str().unwrap().len() > 100);
        let capabilities = result["capabilities"].as_object().unwrap();
        let mut declared: Vec<_> = capabilities.keys().map(String::as_str).collect();
        declared.sort();
        assert_eq!(declared, ["logging", "prompts", "resources", "tools"]);
    }
}

#[tokio::test]
async fn requests_before_initialize_get_a_clear_error_but_ping_works() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    let response = client.request(json!(1), "ping", json!({})).await;
    assert_eq!(response["result"], json!({}));
    let response = client.request(json!(2), "tools/list", json!({})).await;
    assert_eq!(response["error"]["code"], ErrorCode::INVALID_REQUEST.0);
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("initialize")
    );
    client.initialize("2025-11-25").await;
    let response = client.request(json!(3), "initialize", json!({})).await;
    assert_eq!(
        response["error"]["code"],
        ErrorCode::INVALID_REQUEST.0,
        "no second initialize"
    );
}

#[tokio::test]
async fn a_request_may_beat_the_initialized_notification() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    let params = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
    client.request(json!(0), "initialize", params).await;
    // No notifications/initialized yet.
    let response = client.request(json!(1), "tools/list", json!({})).await;
    assert_eq!(response["result"]["tools"], json!([]));
}

#[tokio::test]
async fn ids_are_echoed_with_their_json_type() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    client.initialize("2025-11-25").await;
    for id in [
        json!(1),
        json!("1"),
        json!(-5),
        json!("req-☃"),
        json!(9007199254740993i64),
    ] {
        let response = client.request(id.clone(), "ping", json!({})).await;
        assert_eq!(response["id"], id);
    }
}

#[tokio::test]
async fn protocol_errors_carry_the_spec_codes() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    client.initialize("2025-11-25").await;
    let cases = [
        (
            "no/such/method",
            json!({}),
            ErrorCode::METHOD_NOT_FOUND,
            "no/such/method",
        ),
        (
            "tools/call",
            json!({"name": "nope"}),
            ErrorCode::INVALID_PARAMS,
            "nope",
        ),
        ("tools/call", json!({}), ErrorCode::INVALID_PARAMS, "name"),
        (
            "prompts/get",
            json!({"name": "nope"}),
            ErrorCode::INVALID_PARAMS,
            "nope",
        ),
        (
            "resources/read",
            json!({"uri": "issue://o/r/1"}),
            ErrorCode::RESOURCE_NOT_FOUND,
            "issue://o/r/1",
        ),
        (
            "tools/list",
            json!({"cursor": "bogus"}),
            ErrorCode::INVALID_PARAMS,
            "cursor",
        ),
        (
            "prompts/list",
            json!({"cursor": 5}),
            ErrorCode::INVALID_PARAMS,
            "cursor",
        ),
        (
            "logging/setLevel",
            json!({"level": "loud"}),
            ErrorCode::INVALID_PARAMS,
            "emergency",
        ),
    ];
    for (index, (method, params, code, mentions)) in cases.into_iter().enumerate() {
        let response = client.request(json!(index), method, params).await;
        assert_eq!(response["error"]["code"], code.0, "{method}: {response}");
        let message = response["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{method}: {message}");
    }
    let response = client
        .request(json!("r"), "resources/read", json!({"uri": "issue://x"}))
        .await;
    assert_eq!(response["error"]["data"]["uri"], "issue://x");
}

#[tokio::test]
async fn empty_lists_have_no_next_cursor() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    client.initialize("2025-11-25").await;
    for (method, key) in [
        ("tools/list", "tools"),
        ("resources/list", "resources"),
        ("resources/templates/list", "resourceTemplates"),
        ("prompts/list", "prompts"),
    ] {
        let response = client.request(json!(method), method, json!({})).await;
        assert_eq!(response["result"], json!({ key: [] }), "{method}");
    }
}

#[tokio::test]
async fn notifications_never_get_a_response() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    client.initialize("2025-11-25").await;
    for method in [
        "notifications/initialized",
        "notifications/unknown",
        "notifications/cancelled",
        "tools/list",
    ] {
        client
            .post(json!({"jsonrpc": "2.0", "method": method}))
            .await;
    }
    client.post(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}})).await;
    // The next thing on the stream is the ping's response: nothing answered the notifications.
    let response = client.request(json!("after"), "ping", json!({})).await;
    assert_eq!(response["result"], json!({}));
}

#[tokio::test]
async fn log_messages_honour_the_level_the_client_set() {
    let server = TestServer::start();
    let mut client = SseClient::connect(&server).await;
    client.initialize("2025-11-25").await;
    // At the default level (warning) a debug message is not sent.
    client
        .post(json!({"jsonrpc": "2.0", "method": "notifications/whatever"}))
        .await;
    assert_eq!(client.request(json!(1), "ping", json!({})).await["id"], 1);

    client
        .request(json!(2), "logging/setLevel", json!({"level": "debug"}))
        .await;
    client
        .post(json!({"jsonrpc": "2.0", "method": "notifications/whatever"}))
        .await;
    let log = client.next_message().await;
    assert_eq!(log["method"], "notifications/message");
    assert_eq!(log["params"]["level"], "debug");
    assert!(
        log["params"]["data"]
            .as_str()
            .unwrap()
            .contains("notifications/whatever")
    );
    assert!(log.get("id").is_none());

    client
        .request(json!(3), "logging/setLevel", json!({"level": "error"}))
        .await;
    client
        .post(json!({"jsonrpc": "2.0", "method": "notifications/whatever"}))
        .await;
    assert_eq!(client.request(json!(4), "ping", json!({})).await["id"], 4);
}

/// What the test sees of the calls to [`GatedTool`].
struct CallLog {
    started: mpsc::UnboundedSender<String>,
    dropped: mpsc::UnboundedSender<String>,
    releases: Mutex<Vec<oneshot::Sender<()>>>,
}

/// A tool whose calls wait until the test releases them, and which reports when a call's
/// future is dropped: the way to see cancellation from outside.
struct GatedTool {
    definition: ToolDefinition,
    log: Arc<CallLog>,
}

struct DropReporter(String, mpsc::UnboundedSender<String>);

impl Drop for DropReporter {
    fn drop(&mut self) {
        let _ = self.1.send(self.0.clone());
    }
}

impl Tool for GatedTool {
    fn definition(&self) -> &ToolDefinition {
        &self.definition
    }

    fn call(
        &self,
        arguments: Map<String, Value>,
        _context: CallContext,
    ) -> LocalFuture<Result<ToolReply, ErrorObject>> {
        let tag = arguments
            .get("tag")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (release, released) = oneshot::channel();
        self.log.releases.lock().unwrap().push(release);
        let _ = self.log.started.send(tag.clone());
        let reporter = DropReporter(tag.clone(), self.log.dropped.clone());
        Box::pin(async move {
            let _reporter = reporter;
            let _ = released.await;
            Ok(CallToolResult {
                structured_content: Some(json!({"tag": tag})),
                ..CallToolResult::text(format!("done {tag}"))
            }
            .into())
        })
    }
}

struct Gated {
    server: TestServer,
    started: mpsc::UnboundedReceiver<String>,
    dropped: mpsc::UnboundedReceiver<String>,
    log: Arc<CallLog>,
}

fn gated_server() -> Gated {
    let (started_tx, started) = mpsc::unbounded_channel();
    let (dropped_tx, dropped) = mpsc::unbounded_channel();
    let log = Arc::new(CallLog {
        started: started_tx,
        dropped: dropped_tx,
        releases: Mutex::new(Vec::new()),
    });
    let tool = GatedTool {
        definition: ToolDefinition {
            name: "wait".into(),
            title: "Wait for the test".into(),
            description: "Waits until the test releases it.".into(),
            input_schema: json!({"type": "object", "properties": {"tag": {"type": "string"}}, "additionalProperties": false}),
            output_schema: Some(
                json!({"type": "object", "properties": {"tag": {"type": "string"}}}),
            ),
            annotations: Some(json!({"readOnlyHint": true})),
        },
        log: log.clone(),
    };
    let features = Features {
        tools: ToolRegistry::default().with(tool),
        ..Features::default()
    };
    let server = TestServer::start_with(settings(&[]), features);
    Gated {
        server,
        started,
        dropped,
        log,
    }
}

async fn call_wait(client: &SseClient, id: Value, tag: &str) {
    client
        .post(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "wait", "arguments": {"tag": tag}}}))
        .await;
}

#[tokio::test]
async fn a_cancelled_request_stops_and_gets_no_response() {
    let mut gated = gated_server();
    let mut client = SseClient::connect(&gated.server).await;
    client.initialize("2025-11-25").await;
    call_wait(&client, json!(10), "cancel-me").await;
    assert_eq!(gated.started.recv().await.unwrap(), "cancel-me");
    client
        .post(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 10, "reason": "test"}}))
        .await;
    assert_eq!(
        gated.dropped.recv().await.unwrap(),
        "cancel-me",
        "the work was dropped"
    );
    // The id is free again, and the stream holds nothing for request 10.
    call_wait(&client, json!(10), "second").await;
    assert_eq!(gated.started.recv().await.unwrap(), "second");
    for release in gated.log.releases.lock().unwrap().drain(..) {
        let _ = release.send(());
    }
    let response = client.next_message().await;
    assert_eq!(response["id"], 10);
    assert_eq!(response["result"]["content"][0]["text"], "done second");
}

#[tokio::test]
async fn a_request_id_in_flight_cannot_be_reused() {
    let mut gated = gated_server();
    let mut client = SseClient::connect(&gated.server).await;
    client.initialize("2025-11-25").await;
    call_wait(&client, json!("dup"), "first").await;
    gated.started.recv().await.unwrap();
    let response = client.request(json!("dup"), "ping", json!({})).await;
    assert_eq!(response["error"]["code"], ErrorCode::INVALID_REQUEST.0);
}

#[tokio::test]
async fn a_client_that_leaves_has_its_work_cancelled() {
    let mut gated = gated_server();
    let mut client = SseClient::connect(&gated.server).await;
    client.initialize("2025-11-25").await;
    call_wait(&client, json!(1), "a").await;
    call_wait(&client, json!(2), "b").await;
    gated.started.recv().await.unwrap();
    gated.started.recv().await.unwrap();
    drop(client);
    let mut dropped = vec![
        gated.dropped.recv().await.unwrap(),
        gated.dropped.recv().await.unwrap(),
    ];
    dropped.sort();
    assert_eq!(dropped, ["a", "b"]);
    gated.server.wait_for_sessions(0).await;
}

#[tokio::test]
async fn version_gated_fields_reach_only_sessions_that_have_them() {
    let gated = gated_server();
    for (version, title, annotations, structured) in [
        ("2024-11-05", false, false, false),
        ("2025-03-26", false, true, false),
        ("2025-06-18", true, true, true),
        ("2025-11-25", true, true, true),
    ] {
        let mut client = SseClient::connect(&gated.server).await;
        client.initialize(version).await;
        let tools = client.request(json!(1), "tools/list", json!({})).await;
        let tool = &tools["result"]["tools"][0];
        assert_eq!(tool["name"], "wait");
        assert_eq!(tool["inputSchema"]["type"], "object");
        assert_eq!(tool.get("title").is_some(), title, "{version}");
        assert_eq!(tool.get("annotations").is_some(), annotations, "{version}");
        assert_eq!(tool.get("outputSchema").is_some(), structured, "{version}");

        call_wait(&client, json!(2), version).await;
        // Wait until the call is registered, then release it.
        loop {
            if let Some(release) = gated.log.releases.lock().unwrap().pop() {
                let _ = release.send(());
                break;
            }
            tokio::task::yield_now().await;
        }
        let result = client.next_message().await;
        assert_eq!(result["id"], 2);
        assert_eq!(
            result["result"].get("structuredContent").is_some(),
            structured,
            "{version}"
        );
    }
}
