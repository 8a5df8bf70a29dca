//! A corpus of malformed input (bodies, headers, query strings, URIs, argument types), each
//! with the answer it must get: a clear HTTP status or JSON-RPC error, never a panic, and the
//! server keeps serving. Legacy cases POST to a live `/messages` session; Streamable HTTP
//! cases use an initialized `/mcp` session, whose answers come back in the HTTP response.

mod common;

use common::{SseClient, TestServer, settings};
use reqwest::Client;
use serde_json::{Value, json};

/// What an input must get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This HTTP status (and, for 400, a JSON-RPC error body).
    Status(u16),
    /// A JSON-RPC error with this code.
    Code(i64),
    /// A tool result with `isError` and this text in it.
    ToolError(&'static str),
}

use Expect::{Code, Status, ToolError};

fn request(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string()
}

fn call(arguments: Value) -> String {
    request(
        "tools/call",
        json!({"name": "list_issues", "arguments": arguments}),
    )
}

/// Bodies POSTed to the legacy `/messages` endpoint of a live session.
fn legacy_bodies() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let b = |s: &str| s.as_bytes().to_vec();
    vec![
        ("empty body", b(""), Status(400)),
        ("truncated JSON", b("{"), Status(400)),
        ("invalid UTF-8", vec![0xff, 0xfe, b'{'], Status(400)),
        ("null", b("null"), Status(400)),
        ("a string", b("\"ping\""), Status(400)),
        ("a number", b("123"), Status(400)),
        ("an empty batch", b("[]"), Status(400)),
        (
            "a batch on the legacy transport",
            b(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            Status(400),
        ),
        (
            "JSON-RPC 1.0",
            b(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#),
            Status(400),
        ),
        (
            "no jsonrpc member",
            b(r#"{"id":1,"method":"ping"}"#),
            Status(400),
        ),
        (
            "id null",
            b(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            Status(400),
        ),
        (
            "id an object",
            b(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#),
            Status(400),
        ),
        (
            "id a fraction",
            b(r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#),
            Status(400),
        ),
        (
            "method a number",
            b(r#"{"jsonrpc":"2.0","id":1,"method":5}"#),
            Status(400),
        ),
        (
            "params an array",
            b(r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#),
            Status(400),
        ),
        (
            "a response without id",
            b(r#"{"jsonrpc":"2.0","result":{}}"#),
            Status(400),
        ),
        (
            "result and error both",
            b(r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}"#),
            Status(400),
        ),
        (
            "deeply nested",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            Status(400),
        ),
        (
            "over 4 MiB",
            format!(
                r#"{{"jsonrpc":"2.0","method":"x","params":{{"p":"{}"}}}}"#,
                "a".repeat(4_200_000)
            )
            .into_bytes(),
            Status(413),
        ),
    ]
}

/// Requests on an initialized Streamable HTTP session.
fn session_requests() -> Vec<(&'static str, String, Expect)> {
    vec![
        (
            "tools/call without params",
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call"}).to_string(),
            Code(-32602),
        ),
        (
            "tools/call name a number",
            request("tools/call", json!({"name": 5})),
            Code(-32602),
        ),
        (
            "unknown tool",
            request("tools/call", json!({"name": "drop_tables"})),
            Code(-32602),
        ),
        (
            "arguments an array",
            request(
                "tools/call",
                json!({"name": "list_issues", "arguments": [1]}),
            ),
            Code(-32602),
        ),
        (
            "owner a number",
            call(json!({"owner": 5, "repo": "r"})),
            ToolError("`owner` must be a string"),
        ),
        (
            "owner a path",
            call(json!({"owner": "../etc", "repo": "r"})),
            ToolError("owner \"../etc\""),
        ),
        (
            "owner unicode",
            call(json!({"owner": "oct\u{f6}", "repo": "r"})),
            ToolError("is not a GitHub user"),
        ),
        (
            "owner too long",
            call(json!({"owner": "o".repeat(40), "repo": "r"})),
            ToolError("1 to 39"),
        ),
        (
            "repo dot-dot",
            call(json!({"owner": "o", "repo": ".."})),
            ToolError("repo \"..\""),
        ),
        (
            "repo with a slash",
            call(json!({"owner": "o", "repo": "a/b"})),
            ToolError("not a GitHub repository name"),
        ),
        (
            "repo missing",
            call(json!({"owner": "o"})),
            ToolError("missing required argument `repo`"),
        ),
        (
            "limit a word",
            call(json!({"owner": "o", "repo": "r", "limit": "abc"})),
            ToolError("`limit` must be a whole number"),
        ),
        (
            "limit negative",
            call(json!({"owner": "o", "repo": "r", "limit": -1})),
            ToolError("from 1 to 100"),
        ),
        (
            "limit a fraction",
            call(json!({"owner": "o", "repo": "r", "limit": 2.5})),
            ToolError("from 1 to 100"),
        ),
        (
            "limit huge",
            call(json!({"owner": "o", "repo": "r", "limit": 1e300})),
            ToolError("from 1 to 100"),
        ),
        (
            "state a list",
            call(json!({"owner": "o", "repo": "r", "state": ["open"]})),
            ToolError("`state` must be a string"),
        ),
        (
            "state unknown",
            call(json!({"owner": "o", "repo": "r", "state": "OPEN"})),
            ToolError("one of open, closed, all"),
        ),
        (
            "an unknown argument",
            call(json!({"owner": "o", "repo": "r", "sort": "x"})),
            ToolError("unknown argument sort"),
        ),
        (
            "issue_number text",
            request(
                "tools/call",
                json!({"name": "get_issue", "arguments": {"owner": "o", "repo": "r", "issue_number": "1; DROP"}}),
            ),
            ToolError("`issue_number` must be a whole number"),
        ),
        (
            "labels not a list",
            request(
                "tools/call",
                json!({"name": "batch_label_issues", "arguments": {"owner": "o", "repo": "r", "issue_numbers": [1], "labels": "bug"}}),
            ),
            ToolError("`labels` must be a list"),
        ),
        (
            "too many issues",
            request(
                "tools/call",
                json!({"name": "batch_label_issues", "arguments": {"owner": "o", "repo": "r", "issue_numbers": (1..=26).collect::<Vec<_>>(), "labels": ["x"]}}),
            ),
            ToolError("1 to 25 distinct"),
        ),
        (
            "title too long",
            request(
                "tools/call",
                json!({"name": "create_issue", "arguments": {"owner": "o", "repo": "r", "title": "t".repeat(257)}}),
            ),
            ToolError("1 to 256 characters"),
        ),
        (
            "search empty",
            request(
                "tools/call",
                json!({"name": "search_issues", "arguments": {"query": " "}}),
            ),
            ToolError("`query` must be 1 to 256"),
        ),
        (
            "read without uri",
            request("resources/read", json!({})),
            Code(-32602),
        ),
        (
            "uri a number",
            request("resources/read", json!({"uri": 5})),
            Code(-32602),
        ),
        (
            "issue:// alone",
            request("resources/read", json!({"uri": "issue://"})),
            Code(-32602),
        ),
        (
            "issue uri too deep",
            request("resources/read", json!({"uri": "issue://a/b/1/comments/x"})),
            Code(-32602),
        ),
        (
            "issue number negative",
            request("resources/read", json!({"uri": "issue://a/b/-1"})),
            Code(-32602),
        ),
        (
            "foreign scheme",
            request("resources/read", json!({"uri": "file:///etc/passwd"})),
            Code(-32002),
        ),
        (
            "unknown prompt",
            request("prompts/get", json!({"name": "nope"})),
            Code(-32602),
        ),
        (
            "prompt missing arguments",
            request("prompts/get", json!({"name": "triage-issue"})),
            Code(-32602),
        ),
        (
            "prompt argument a number",
            request(
                "prompts/get",
                json!({"name": "weekly-summary", "arguments": {"owner": 5, "repo": "r"}}),
            ),
            Code(-32602),
        ),
        (
            "log level unknown",
            request("logging/setLevel", json!({"level": "loud"})),
            Code(-32602),
        ),
        (
            "completion ref unknown",
            request(
                "completion/complete",
                json!({"ref": {"type": "ref/tool", "name": "x"}, "argument": {"name": "a", "value": ""}}),
            ),
            Code(-32602),
        ),
        (
            "completion argument unknown",
            request(
                "completion/complete",
                json!({"ref": {"type": "ref/prompt", "name": "triage-issue"}, "argument": {"name": "colour", "value": ""}}),
            ),
            Code(-32602),
        ),
        (
            "cursor garbage",
            request("tools/list", json!({"cursor": "garbage"})),
            Code(-32602),
        ),
        (
            "unknown method",
            request("tools/destroy", json!({})),
            Code(-32601),
        ),
        (
            "second initialize",
            request(
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}),
            ),
            Code(-32600),
        ),
        (
            "subscribe to nothing",
            request("resources/subscribe", json!({"uri": "nope://x"})),
            Code(-32002),
        ),
    ]
}

/// The JSON-RPC answer in a Streamable HTTP response, JSON or SSE.
async fn answer_of(response: reqwest::Response) -> Value {
    let sse = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream");
    let text = response.text().await.unwrap();
    if !sse {
        return serde_json::from_str(&text).unwrap();
    }
    let data = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .rfind(|data| !data.is_empty())
        .expect("an answer on the stream");
    serde_json::from_str(data).unwrap()
}

fn check(name: &str, expect: Expect, status: u16, answer: &Value) {
    match expect {
        Status(wanted) => {
            assert_eq!(status, wanted, "{name}: {answer}");
            assert!(
                answer["error"]["message"].is_string(),
                "{name}: an error body, got {answer}"
            );
        }
        Code(code) => assert_eq!(answer["error"]["code"], code, "{name}: {answer}"),
        ToolError(text) => {
            assert_eq!(answer["result"]["isError"], true, "{name}: {answer}");
            let said = answer["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or_default();
            assert!(said.contains(text), "{name}: {said:?} lacks {text:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_malformed_input_gets_its_answer() {
    let server = TestServer::start_github(settings(&[]));
    let http = Client::new();
    let legacy = SseClient::connect(&server).await;
    let mut cases = 0;
    for (name, body, expect) in legacy_bodies() {
        let response = legacy.post_raw(body, "application/json").await;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        check(name, expect, status, &answer);
        cases += 1;
    }

    let init = request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}),
    );
    let post = |body: String, session: Option<&str>| {
        let mut builder = http
            .post(server.url("/mcp"))
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json");
        if let Some(session) = session {
            builder = builder.header("Mcp-Session-Id", session);
        }
        builder.body(body).send()
    };
    let opened = post(init, None).await.unwrap();
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    for (name, body, expect) in session_requests() {
        let response = post(body, Some(&session)).await.unwrap();
        let status = response.status().as_u16();
        assert_eq!(status, 200, "{name}");
        check(name, expect, status, &answer_of(response).await);
        cases += 1;
    }

    // Headers, query strings and paths.
    let ping = request("ping", json!({}));
    let raw: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "no sessionId",
            http.post(server.url("/messages"))
                .header("Content-Type", "application/json")
                .body(ping.clone()),
            400,
        ),
        (
            "sessionId not a uuid",
            http.post(server.url("/messages?sessionId=abc"))
                .header("Content-Type", "application/json")
                .body(ping.clone()),
            400,
        ),
        (
            "sessionId unknown",
            http.post(server.url("/messages?sessionId=6f1c2c3e-0000-4000-8000-000000000000"))
                .header("Content-Type", "application/json")
                .body(ping.clone()),
            404,
        ),
        (
            "legacy text/plain",
            http.post(legacy.endpoint.clone())
                .header("Content-Type", "text/plain")
                .body(ping.clone()),
            415,
        ),
        (
            "legacy no content type",
            http.post(legacy.endpoint.clone()).body(ping.clone()),
            415,
        ),
        (
            "mcp unknown protocol version",
            http.post(server.url("/mcp"))
                .header("Accept", "application/json, text/event-stream")
                .header("Content-Type", "application/json")
                .header("Mcp-Session-Id", &session)
                .header("MCP-Protocol-Version", "1999-01-01")
                .body(ping.clone()),
            400,
        ),
        (
            "mcp accepts only html",
            http.post(server.url("/mcp"))
                .header("Accept", "text/html")
                .header("Content-Type", "application/json")
                .body(ping.clone()),
            406,
        ),
        (
            "mcp session id garbage",
            http.post(server.url("/mcp"))
                .header("Accept", "application/json, text/event-stream")
                .header("Content-Type", "application/json")
                .header("Mcp-Session-Id", "../../etc")
                .body(ping.clone()),
            404,
        ),
        (
            "mcp delete without session",
            http.delete(server.url("/mcp")),
            400,
        ),
        ("mcp patch", http.patch(server.url("/mcp")), 405),
        ("get /messages", http.get(server.url("/messages")), 405),
        ("unknown path", http.get(server.url("/admin")), 404),
        (
            "foreign Host",
            http.get(server.url("/health"))
                .header("Host", "attacker.example"),
            403,
        ),
        (
            "foreign Origin",
            http.post(server.url("/mcp"))
                .header("Origin", "https://attacker.example")
                .body(ping.clone()),
            403,
        ),
        (
            "bad Last-Event-ID",
            http.get(server.url("/mcp"))
                .header("Accept", "text/event-stream")
                .header("Mcp-Session-Id", &session)
                .header("Last-Event-ID", "x-y"),
            400,
        ),
    ];
    for (name, builder, wanted) in raw {
        let response = builder.send().await.unwrap();
        assert_eq!(response.status().as_u16(), wanted, "{name}");
        cases += 1;
    }
    assert!(cases >= 50, "only {cases} cases");

    // After all that, the server still serves.
    assert_eq!(server.health().await["status"], "ok");
}
