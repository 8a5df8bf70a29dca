//! The Streamable HTTP transport on `/mcp`, spoken raw: sessions, every status code, JSON and
//! SSE answers, the GET stream, DELETE, idle expiry, batches; and Host/Origin checks on both
//! transports.

mod common;

use common::{SseEvent, SseReader, TestServer, settings};
use reqwest::{Client, Response, header::HeaderMap};
use serde_json::{Value, json};

const BOTH: &str = "application/json, text/event-stream";
const QUICK_ANSWER: &str = "GITHUB_ISSUE_MCP__MCP__JSON_ANSWER_WITHIN_MS";

fn initialize(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1"}}})
}

struct McpClient {
    http: Client,
    url: String,
    session: Option<String>,
}

impl McpClient {
    fn new(server: &TestServer) -> McpClient {
        McpClient {
            http: Client::new(),
            url: server.url("/mcp"),
            session: None,
        }
    }

    async fn post_with(&self, body: &Value, headers: &[(&str, &str)]) -> Response {
        let mut request = self
            .http
            .post(&self.url)
            .header("Accept", BOTH)
            .header("Content-Type", "application/json");
        if let Some(session) = &self.session {
            request = request.header("Mcp-Session-Id", session);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body.to_string()).send().await.unwrap()
    }

    /// A POST with exactly these Accept and Content-Type headers and no session.
    async fn raw(&self, accept: &str, content_type: &str, body: String) -> Response {
        self.http
            .post(&self.url)
            .header("Accept", accept)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, body: Value) -> Response {
        self.post_with(&body, &[]).await
    }

    /// `GET /mcp`, resuming after `last_event_id` if given.
    async fn get_stream(&self, last_event_id: Option<&str>) -> Response {
        let mut request = self
            .http
            .get(&self.url)
            .header("Accept", "text/event-stream")
            .header("Mcp-Session-Id", self.session.as_deref().unwrap());
        if let Some(last) = last_event_id {
            request = request.header("Last-Event-ID", last);
        }
        request.send().await.unwrap()
    }

    /// Initializes and sends `notifications/initialized`; returns the initialize result.
    async fn start(&mut self, version: &str) -> Value {
        let response = self.post(initialize(version)).await;
        assert_eq!(response.status(), 200);
        assert!(content_type(response.headers()).starts_with("application/json"));
        let id = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{id}");
        self.session = Some(id);
        let result = response.json::<Value>().await.unwrap()["result"].clone();
        let initialized = self
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(initialized.status(), 202);
        assert_eq!(initialized.text().await.unwrap(), "");
        result
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn error_code(response: Response) -> i64 {
    response.json::<Value>().await.unwrap()["error"]["code"]
        .as_i64()
        .unwrap()
}

/// The `message` events of an SSE answer, in order.
async fn sse_messages(response: Response) -> Vec<Value> {
    assert!(content_type(response.headers()).starts_with("text/event-stream"));
    let mut reader = SseReader::new(response);
    let mut messages = Vec::new();
    while let Some(event) = reader.next().await {
        match event {
            // The priming event of 2025-11-25 sessions: an id to resume from, no message.
            SseEvent::Event { data, .. } if data.is_empty() => {}
            SseEvent::Event { event, data } => {
                assert_eq!(event, "message");
                messages.push(serde_json::from_str(&data).unwrap());
            }
            SseEvent::Comment(_) => {}
        }
    }
    messages
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_from_initialize_to_delete() {
    // A window long enough that a quick answer is JSON however slow this machine is.
    let server = TestServer::start_github(settings(&[(QUICK_ANSWER, "10000")]));
    let mut client = McpClient::new(&server);
    let result = client.start("2025-11-25").await;
    assert_eq!(result["protocolVersion"], "2025-11-25");

    let listed = client
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    assert_eq!(listed.status(), 200);
    assert!(content_type(listed.headers()).starts_with("application/json"));
    assert_eq!(
        listed.json::<Value>().await.unwrap()["result"]["tools"]
            .as_array()
            .unwrap()
            .len(),
        9
    );

    // A tools/call answered at once, with nothing ahead of its result, is answered as JSON.
    let called = client
        .post(
            json!({"jsonrpc": "2.0", "id": "call-1", "method": "tools/call",
                     "params": {"name": "list_issues", "arguments": {"owner": "o"}}}),
        )
        .await;
    assert!(content_type(called.headers()).starts_with("application/json"));
    let answer: Value = called.json().await.unwrap();
    assert_eq!(answer["id"], "call-1");
    assert_eq!(answer["result"]["isError"], true, "{answer}");

    // A supported version other than the negotiated one is accepted; an unknown one is not.
    let other = client
        .post_with(
            &json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
            &[("MCP-Protocol-Version", "2025-03-26")],
        )
        .await;
    assert_eq!(other.status(), 200);
    let unknown = client
        .post_with(
            &json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}),
            &[("MCP-Protocol-Version", "2099-01-01")],
        )
        .await;
    assert_eq!(unknown.status(), 400);

    let deleted = client
        .http
        .delete(&client.url)
        .header("Mcp-Session-Id", client.session.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let after = client
        .post(json!({"jsonrpc": "2.0", "id": 4, "method": "ping"}))
        .await;
    assert_eq!(after.status(), 404);
    server.wait_for_sessions(0).await;
}

/// A 2025-11-25 session whose client asked for every log message: an unknown notification
/// then puts an event (a debug log) on the GET stream.
async fn logging_session(server: &TestServer) -> McpClient {
    let mut client = McpClient::new(server);
    client.start("2025-11-25").await;
    client
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "logging/setLevel", "params": {"level": "debug"}}))
        .await;
    client
}

/// An unknown notification: on a [`logging_session`], a debug log on the GET stream.
async fn noise(client: &McpClient) {
    client
        .post(json!({"jsonrpc": "2.0", "method": "notifications/noise"}))
        .await;
}

/// Opens the GET stream, reads one event off it and drops the connection: the event's id.
async fn broken_get_stream(client: &McpClient) -> String {
    let mut stream = client.get_stream(None).await;
    noise(client).await;
    let first = blocks_until(&mut stream, |b| !b.is_empty()).await;
    field(&first[0], "id").unwrap().to_string()
}

fn call(id: u64, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {}, "_meta": {"progressToken": id}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_call_streams_when_a_notification_goes_ahead_of_its_result() {
    let fixtures = ("MCP_CONFORMANCE_FIXTURES", "1");
    let server = TestServer::start_github(settings(&[fixtures, (QUICK_ANSWER, "10000")]));
    let mut client = McpClient::new(&server);
    client.start("2025-11-25").await;

    // Progress goes out before the result, so the answer must be a stream, and at once: the
    // window for a JSON answer is not waited out.
    let began = std::time::Instant::now();
    let streamed = client.post(call(1, "test_tool_with_progress")).await;
    assert!(began.elapsed() < std::time::Duration::from_secs(5));
    let messages = sse_messages(streamed).await;
    let methods: Vec<&str> = messages
        .iter()
        .map(|m| m["method"].as_str().unwrap_or("(answer)"))
        .collect();
    assert_eq!(
        methods,
        [
            "notifications/progress",
            "notifications/progress",
            "notifications/progress",
            "(answer)"
        ]
    );
    assert_eq!(messages[3]["id"], 1);

    // The same session: a tool with nothing to say ahead of its result answers as JSON.
    let quick = client.post(call(2, "test_simple_text")).await;
    assert!(content_type(quick.headers()).starts_with("application/json"));
    assert_eq!(quick.json::<Value>().await.unwrap()["id"], 2);

    // With the window at 0, every tools/call is a stream, primed on 2025-11-25.
    let server = TestServer::start_github(settings(&[fixtures, (QUICK_ANSWER, "0")]));
    let mut client = McpClient::new(&server);
    client.start("2025-11-25").await;
    let response = client.post(call(3, "test_simple_text")).await;
    let mut reader = SseReader::new(response);
    // The `retry` block (actix-web-lab writes it on its own, first), then the priming event:
    // neither has data.
    for _ in 0..2 {
        let next = reader.next().await;
        assert!(matches!(next, Some(SseEvent::Event { data, .. }) if data.is_empty()));
    }
    match reader.next().await {
        Some(SseEvent::Event { data, .. }) => {
            assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["id"], 3)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_their_status_codes() {
    let server = TestServer::start_github(settings(&[]));
    let mut client = McpClient::new(&server);
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});

    let no_session = client.post(ping.clone()).await;
    assert_eq!(no_session.status(), 400);
    client.session = Some("00000000-0000-4000-8000-000000000000".into());
    assert_eq!(client.post(ping.clone()).await.status(), 404);
    client.session = None;

    let init = initialize("2025-06-18").to_string();
    let json_only = client
        .raw("application/json", "application/json", init.clone())
        .await;
    assert_eq!(json_only.status(), 406);
    let text = client.raw(BOTH, "text/plain", init.clone()).await;
    assert_eq!(text.status(), 415);
    let garbage = client
        .raw(BOTH, "application/json", "{not json".into())
        .await;
    assert_eq!(garbage.status(), 400);
    assert_eq!(error_code(garbage).await, -32700);
    let put = client.http.put(&client.url).send().await.unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "GET, POST, DELETE");
    let get = client
        .http
        .get(&client.url)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 400, "GET without a session");
    // Probing clients fall back to the legacy transport on these.
    assert_eq!(
        client
            .http
            .post(server.url("/sse"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );

    client.start("2025-06-18").await;
    let batch = client
        .post(json!([ping.clone(), {"jsonrpc": "2.0", "id": 2, "method": "ping"}]))
        .await;
    assert_eq!(
        batch.status(),
        400,
        "batches are for 2025-03-26 sessions only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_from_2025_03_26_sessions_get_every_answer() {
    let server = TestServer::start_github(settings(&[]));
    let mut client = McpClient::new(&server);
    client.start("2025-03-26").await;
    let batch = client
        .post(json!([
            {"jsonrpc": "2.0", "id": "a", "method": "ping"},
            {"jsonrpc": "2.0", "method": "notifications/whatever"},
            {"jsonrpc": "2.0", "id": "b", "method": "tools/list"},
        ]))
        .await;
    assert_eq!(batch.status(), 200);
    let mut ids: Vec<Value> = sse_messages(batch)
        .await
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    ids.sort_by_key(|id| id.to_string());
    assert_eq!(ids, [json!("a"), json!("b")]);

    // More answers at once than a stream's queue holds (sse.outbound_capacity, 256): none is
    // lost. The largest batch allowed is used; one message more is refused whole, before any
    // of it runs (on 3ff28a0 a batch of 60,000 was answered with 540 MB held in memory).
    let max = settings(&[]).limits.max_batch_messages;
    let server = TestServer::start_github(settings(&[(
        "GITHUB_ISSUE_MCP__SSE__OUTBOUND_CAPACITY",
        "4",
    )]));
    let mut client = McpClient::new(&server);
    client.start("2025-03-26").await;
    let pings = |count: usize| -> Value {
        (0..count)
            .map(|n| json!({"jsonrpc": "2.0", "id": n, "method": "ping"}))
            .collect()
    };
    let batch = client.post(pings(max)).await;
    assert_eq!(batch.status(), 200);
    let mut ids: Vec<usize> = sse_messages(batch)
        .await
        .iter()
        .map(|m| m["id"].as_u64().unwrap() as usize)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..max).collect::<Vec<_>>());

    let too_many = client.post(pings(max + 1)).await;
    assert_eq!(too_many.status(), 400);
    let error: Value = too_many.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("at most {max} messages")) && message.contains("max_batch"),
        "{message}"
    );
    let alive = client
        .post(json!({"jsonrpc": "2.0", "id": "after", "method": "ping"}))
        .await;
    assert_eq!(alive.status(), 200, "the session goes on");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_get_stream_carries_messages_not_tied_to_a_request() {
    let server = TestServer::start_github(settings(&[]));
    let mut client = McpClient::new(&server);
    client.start("2025-11-25").await;
    let session = client.session.clone().unwrap();
    let set = client
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "logging/setLevel", "params": {"level": "debug"}}))
        .await;
    assert_eq!(set.status(), 200);

    let open = |http: Client| {
        let (url, session) = (client.url.clone(), session.clone());
        async move {
            http.get(url)
                .header("Accept", "text/event-stream")
                .header("Mcp-Session-Id", session)
                .send()
                .await
                .unwrap()
        }
    };
    let stream = open(client.http.clone()).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(
        open(client.http.clone()).await.status(),
        409,
        "one GET stream per session"
    );

    // An unknown notification is logged to the client at debug level, on the GET stream.
    let note = client
        .post(json!({"jsonrpc": "2.0", "method": "notifications/unheard-of"}))
        .await;
    assert_eq!(note.status(), 202);
    let mut reader = SseReader::new(stream);
    let message = loop {
        match reader.next().await.expect("the stream is open") {
            SseEvent::Event { data, .. } => break serde_json::from_str::<Value>(&data).unwrap(),
            SseEvent::Comment(_) => continue,
        }
    };
    assert_eq!(message["method"], "notifications/message");
    assert!(
        message["params"]["data"]
            .as_str()
            .unwrap()
            .contains("notifications/unheard-of")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sessions_expire() {
    let server = TestServer::start_github(settings(&[(
        "GITHUB_ISSUE_MCP__MCP__SESSION_IDLE_SECS",
        "1",
    )]));
    let mut client = McpClient::new(&server);
    client.start("2025-06-18").await;
    server.wait_for_sessions(1).await;
    // Expiry is the point of this test, so it waits for it: polling /health until the session
    // count drops, bounded by the harness's deadline.
    server.wait_for_sessions(0).await;
    let after = client
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .await;
    assert_eq!(after.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_hosts_and_origins_are_refused_on_both_transports() {
    let server = TestServer::start_github(settings(&[]));
    let http = Client::new();
    let port = server.base.rsplit(':').next().unwrap().to_string();
    for path in ["/mcp", "/sse", "/messages?sessionId=x", "/health"] {
        let evil_host = http
            .get(server.url(path))
            .header("Host", "evil.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(evil_host.status(), 403, "{path}");
        let evil_origin = http
            .get(server.url(path))
            .header("Origin", "http://evil.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(evil_origin.status(), 403, "{path}");
    }
    let friendly = http
        .get(server.url("/health"))
        .header("Host", format!("localhost:{port}"))
        .header("Origin", format!("http://localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(friendly.status(), 200);
    assert_eq!(
        friendly.headers()["access-control-allow-origin"],
        format!("http://localhost:{port}").as_str()
    );
    let preflight = http
        .request(reqwest::Method::OPTIONS, server.url("/mcp"))
        .header("Origin", format!("http://127.0.0.1:{port}"))
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        allowed.contains("mcp-session-id") && allowed.contains("last-event-id"),
        "{allowed}"
    );
}

/// Raw SSE blocks (`field: value` lines) off a response, until `done` says enough.
async fn blocks_until(
    response: &mut Response,
    done: impl Fn(&[Vec<(String, String)>]) -> bool,
) -> Vec<Vec<(String, String)>> {
    let mut text = String::new();
    let mut blocks = Vec::new();
    while !done(&blocks) {
        let chunk = tokio::time::timeout(common::WAIT, response.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream is open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let fields = block
                .lines()
                .filter(|line| !line.starts_with(':') && !line.is_empty())
                .map(|line| {
                    let (name, value) = line.split_once(':').unwrap_or((line, ""));
                    (name.to_string(), value.trim_start().to_string())
                })
                .collect::<Vec<_>>();
            // A keep-alive comment alone is not an event.
            if !fields.is_empty() {
                blocks.push(fields);
            }
        }
    }
    blocks
}

/// GET with `Last-Event-ID`. The server learns of a broken connection asynchronously; until
/// then the stream still has a connection and a second one is refused (409), so this retries
/// on 409 until the deadline.
async fn resume(client: &McpClient, last_event_id: &str) -> Response {
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let response = client.get_stream(Some(last_event_id)).await;
        if response.status() != 409 {
            return response;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the broken stream never closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The priming event that opens a POST's stream (its first event with an id), and the `retry`
/// sent before it or with it: actix-web-lab writes `retry` as a block of its own, first.
async fn priming_event(response: &mut Response) -> (Vec<(String, String)>, Option<String>) {
    let blocks = blocks_until(response, |blocks| {
        blocks.iter().any(|block| field(block, "id").is_some())
    })
    .await;
    let retry = blocks
        .iter()
        .find_map(|block| field(block, "retry"))
        .map(str::to_string);
    let priming = blocks
        .into_iter()
        .find(|block| field(block, "id").is_some());
    (priming.unwrap(), retry)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_tool_call_stream_is_resumed_with_last_event_id() {
    let fake = common::fake_github::FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", common::fake_github::IssueSeed::default());
    // Slow enough that the client can drop the connection before the answer.
    fake.set_latency(std::time::Duration::from_millis(300));
    let server = common::github_server(&fake, &[]);
    let mut client = McpClient::new(&server);
    client.start("2025-11-25").await;

    let mut call = client
        .post(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
            "name": "get_issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": 1}}}))
        .await;
    let (priming, retry) = priming_event(&mut call).await;
    let id = field(&priming, "id")
        .expect("the priming event has an id")
        .to_string();
    assert_eq!(retry.as_deref(), Some("3000"));
    assert_eq!(field(&priming, "data"), Some(""));
    drop(call); // the connection breaks before the result

    let mut resumed = resume(&client, &id).await;
    assert_eq!(resumed.status(), 200);
    let blocks = blocks_until(&mut resumed, |blocks| {
        blocks
            .iter()
            .any(|b| field(b, "data").is_some_and(|d| d.contains("\"id\":9")))
    })
    .await;
    let result = blocks.last().unwrap();
    let message: Value = serde_json::from_str(field(result, "data").unwrap()).unwrap();
    assert_eq!(
        message["result"]["structuredContent"]["issue"]["number"], 1,
        "{message}"
    );
    assert_ne!(field(result, "id"), Some(id.as_str()), "ids are unique");

    let unknown = client
        .http
        .get(&client.url)
        .header("Accept", "text/event-stream")
        .header("Mcp-Session-Id", client.session.as_deref().unwrap())
        .header("Last-Event-ID", "999-0")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_that_closes_its_stream_is_answered_on_the_resumed_get() {
    let server = TestServer::start_github(settings(&[("MCP_CONFORMANCE_FIXTURES", "1")]));
    let mut client = McpClient::new(&server);
    client.start("2025-11-25").await;

    // SEP-1699 polling: the POST's stream brings the priming event and ends, no result.
    let mut call = client.post(call(5, "test_reconnection")).await;
    assert!(content_type(call.headers()).starts_with("text/event-stream"));
    let (priming, _) = priming_event(&mut call).await;
    assert_eq!(field(&priming, "data"), Some(""));
    let id = field(&priming, "id").unwrap().to_string();
    let end = tokio::time::timeout(common::WAIT, call.chunk()).await;
    assert!(end.expect("the stream ended in time").unwrap().is_none());

    let mut resumed = resume(&client, &id).await;
    assert_eq!(resumed.status(), 200);
    let blocks = blocks_until(&mut resumed, |blocks| !blocks.is_empty()).await;
    let message: Value = serde_json::from_str(field(&blocks[0], "data").unwrap()).unwrap();
    assert_eq!(message["id"], 5);
    let said = message["result"]["content"][0]["text"].as_str().unwrap();
    assert!(said.contains("closed before this result"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_sent_as_json_leave_the_replay_buffer_to_the_streams() {
    let server = TestServer::start_github(settings(&[
        ("MCP_CONFORMANCE_FIXTURES", "1"),
        (QUICK_ANSWER, "10000"),
        ("GITHUB_ISSUE_MCP__MCP__REPLAY_EVENTS", "4"),
    ]));
    let client = logging_session(&server).await;
    let first_id = broken_get_stream(&client).await;
    noise(&client).await; // kept for the replay: the buffer now holds two events of four

    // Each call is a priming event and an answer (two events) that no client can ask for
    // once the answer went out as JSON: they must not push the GET stream's events out.
    for id in 10..13 {
        let quick = client.post(call(id, "test_simple_text")).await;
        assert!(content_type(quick.headers()).starts_with("application/json"));
        assert_eq!(quick.json::<Value>().await.unwrap()["id"], id);
    }
    let mut resumed = resume(&client, &first_id).await;
    assert_eq!(resumed.status(), 200, "the missed event was pushed out");
    let replayed = blocks_until(&mut resumed, |b| !b.is_empty()).await;
    assert_ne!(field(&replayed[0], "id"), Some(first_id.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_get_stream_replays_what_it_missed() {
    let server = TestServer::start_github(settings(&[]));
    let client = logging_session(&server).await;
    let first_id = broken_get_stream(&client).await;
    // Sent while the GET stream is broken: kept for the replay.
    noise(&client).await;
    noise(&client).await;
    let mut resumed = resume(&client, &first_id).await;
    assert_eq!(resumed.status(), 200);
    let replayed = blocks_until(&mut resumed, |b| b.len() >= 2).await;
    let ids: Vec<&str> = replayed.iter().filter_map(|b| field(b, "id")).collect();
    assert_eq!(ids.len(), 2, "{replayed:?}");
    assert!(ids.iter().all(|id| *id != first_id), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_request_ends_its_post_without_saying_the_session_is_gone() {
    let fake = common::fake_github::FakeGitHub::start();
    fake.add_repo("octo", "hello");
    // One issue each, so that the second is not answered from what the first left cached.
    fake.add_issue("octo", "hello", common::fake_github::IssueSeed::default());
    fake.add_issue("octo", "hello", common::fake_github::IssueSeed::default());
    let server = common::github_server(&fake, &[(QUICK_ANSWER, "10000")]);
    let mut client = McpClient::new(&server);
    client.start("2025-11-25").await;
    // Slow enough that the cancellation comes while GitHub is still answering.
    fake.set_latency(std::time::Duration::from_secs(3));
    fake.reset_records();

    for (id, request) in [
        (
            "read",
            json!({"method": "resources/read", "params": {"uri": "issue://octo/hello/1"}}),
        ),
        (
            "call",
            json!({"method": "tools/call", "params": {"name": "get_issue",
                "arguments": {"owner": "octo", "repo": "hello", "issue_number": 2}}}),
        ),
    ] {
        let mut body = request;
        body["jsonrpc"] = json!("2.0");
        body["id"] = json!(id);
        let cancel = async {
            while fake.max_in_flight() == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let cancelled = client
                .post(
                    json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": id, "reason": "test"}}),
                )
                .await;
            assert_eq!(cancelled.status(), 202);
        };
        let (slow, ()) = tokio::join!(client.post(body), cancel);
        // No response for a cancelled request: a stream that ends with none, not a 404.
        assert_eq!(slow.status(), 200, "{id}");
        assert_eq!(sse_messages(slow).await, Vec::<Value>::new(), "{id}");
        fake.reset_records();
        // The GitHub request of the cancelled work ends on its own; let it, for the next round.
        while fake.max_in_flight() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            fake.reset_records();
        }
    }

    fake.set_latency(std::time::Duration::ZERO);
    let ping = client
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .await;
    assert_eq!(ping.status(), 200);
    assert_eq!(ping.json::<Value>().await.unwrap()["result"], json!({}));
}
