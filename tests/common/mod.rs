//! Shared test harness: starts the real server on 127.0.0.1:0 and speaks raw HTTP/SSE to it.
//!
//! [`TestServer`] runs the server in its own thread and actix system, as `main` does, so tests
//! use plain tokio and reqwest and see exactly what a remote client sees. [`SseClient`] opens
//! `GET /sse`, reads the `endpoint` event, POSTs to it and reads `message` events in order.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod clients;
pub mod cluster;
pub mod fake_github;
pub mod github_process;
pub mod raw_github;
pub mod stateless;

use std::{collections::HashMap, net::TcpListener, thread, time::Duration};

use actix_web::dev::ServerHandle;
use futures_util::StreamExt;
use github_issue_mcp::{config::Settings, dispatch::Features};
use serde_json::{Value, json};
use tokio::time::timeout;

/// How long a test waits for an event before it fails. Generous: CI machines are shared.
pub const WAIT: Duration = Duration::from_secs(10);

/// Settings for tests: a throwaway token, two workers, and `overrides` on top.
pub fn settings(overrides: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> = HashMap::from([
        ("GITHUB_TOKEN".into(), "ghp_testtokentesttokentest".into()),
        ("GITHUB_API_URL".into(), "http://127.0.0.1:9".into()),
        ("GITHUB_ISSUE_MCP__SERVER__WORKERS".into(), "2".into()),
    ]);
    for (key, value) in overrides {
        env.insert(key.to_string(), value.to_string());
    }
    Settings::from_env(&env).expect("test settings are valid")
}

/// The real server, on a free loopback port, stopped when dropped.
pub struct TestServer {
    pub base: String,
    /// `None` for a server running in another process.
    handle: Option<ServerHandle>,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(settings(&[]), Features::default())
    }

    pub fn start_with(settings: Settings, features: Features) -> TestServer {
        Self::spawn(settings, Some(features))
    }

    /// The server as `main` runs it, with the GitHub features, against the GitHub that
    /// `settings` names (the fake one, in tests).
    pub fn start_github(settings: Settings) -> TestServer {
        Self::spawn(settings, None)
    }

    fn spawn(settings: Settings, features: Option<Features>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = match features {
                    Some(features) => {
                        github_issue_mcp::run_with(listener, settings, move |_, _, _| features)
                    }
                    None => github_issue_mcp::run(listener, settings),
                }
                .expect("server starts");
                tx.send(server.handle()).unwrap();
                server.await
            })
        });
        let handle = rx.recv_timeout(WAIT).expect("server started");
        TestServer {
            base,
            handle: Some(handle),
        }
    }

    /// A server in another process (the real binary), reached at `base`.
    pub fn external(base: String) -> TestServer {
        TestServer { base, handle: None }
    }

    /// Polls `/health` until the server answers, failing after [`WAIT`].
    pub async fn wait_until_up(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while reqwest::get(self.url("/health")).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never came up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn health(&self) -> Value {
        reqwest::get(self.url("/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls `/health` until `activeConnections` is `count`, failing after [`WAIT`].
    pub async fn wait_for_sessions(&self, count: u64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let live = self.health().await["activeConnections"].as_u64().unwrap();
            if live == count {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{live} sessions live, expected {count}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // The stop command is sent at once; nobody needs to await its completion.
        if let Some(handle) = &self.handle {
            drop(handle.stop(false));
        }
    }
}

/// One event read off an SSE stream.
#[derive(Debug, Clone, PartialEq)]
pub enum SseEvent {
    Comment(String),
    Event { event: String, data: String },
}

/// Reads SSE events from a response body.
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> Self {
        SseReader {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event or comment, or `None` when the stream ends.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse_block(block.trim_end_matches('\n')));
            }
            let chunk = timeout(WAIT, self.body.next())
                .await
                .expect("an SSE event in time")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk.expect("stream reads")).unwrap());
        }
    }
}

fn parse_block(block: &str) -> SseEvent {
    if let Some(comment) = block.strip_prefix(':') {
        return SseEvent::Comment(comment.trim().to_string());
    }
    let (mut event, mut data) = ("message".to_string(), Vec::new());
    for line in block.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            event = name.trim().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
        }
    }
    SseEvent::Event {
        event,
        data: data.join("\n"),
    }
}

/// A legacy HTTP+SSE MCP client, as the Inspector or the TypeScript SDK would be.
pub struct SseClient {
    pub http: reqwest::Client,
    pub endpoint: String,
    pub reader: SseReader,
}

impl SseClient {
    pub async fn connect(server: &TestServer) -> SseClient {
        Self::connect_with(server, reqwest::Client::new()).await
    }

    /// [`SseClient::connect`] with `http` (one that sends a bearer on every request, say).
    pub async fn connect_with(server: &TestServer, http: reqwest::Client) -> SseClient {
        let response = http
            .get(server.url("/sse"))
            .header("Accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut reader = SseReader::new(response);
        let endpoint = match reader.next().await.expect("an endpoint event") {
            SseEvent::Event { event, data } if event == "endpoint" => data,
            other => panic!("first event must be endpoint, got {other:?}"),
        };
        SseClient {
            http,
            endpoint: server.url(&endpoint),
            reader,
        }
    }

    /// POSTs raw bytes to the session's endpoint with the given content type.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> reqwest::Response {
        self.http
            .post(&self.endpoint)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs one JSON-RPC message and checks the 202.
    pub async fn post(&self, message: Value) {
        let response = self.post_raw(message.to_string(), "application/json").await;
        assert_eq!(response.status(), 202, "{message}");
    }

    /// The next `message` event's JSON, skipping keep-alive comments.
    pub async fn next_message(&mut self) -> Value {
        loop {
            match self.reader.next().await.expect("the stream is open") {
                SseEvent::Comment(_) => continue,
                SseEvent::Event { event, data } => {
                    assert_eq!(event, "message");
                    assert!(!data.contains('\n'), "one compact JSON message per event");
                    return serde_json::from_str(&data).unwrap();
                }
            }
        }
    }

    /// Sends a request and returns the next message, which must be its response.
    pub async fn request(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let response = self.next_message().await;
        assert_eq!(response["id"], id, "response to {method}: {response}");
        response
    }

    /// Calls a tool and returns the `result` (failing on a JSON-RPC error).
    pub async fn call_tool(&mut self, id: u64, name: &str, arguments: Value) -> Value {
        let response = self
            .request(
                json!(id),
                "tools/call",
                json!({"name": name, "arguments": arguments}),
            )
            .await;
        assert!(response.get("error").is_none(), "{name}: {response}");
        response["result"].clone()
    }

    /// Runs the initialize handshake and returns the initialize result.
    pub async fn initialize(&mut self, version: &str) -> Value {
        let params = json!({
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "test-client", "version": "1.0.0"},
        });
        let response = self.request(json!(0), "initialize", params).await;
        self.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        response["result"].clone()
    }
}

/// The real server with the GitHub features, pointed at `fake`, with mutations unspaced and
/// GET retries fast (tests that check spacing or retries set their own values in `overrides`).
pub fn github_server(fake: &fake_github::FakeGitHub, overrides: &[(&str, &str)]) -> TestServer {
    let mut all = vec![
        ("GITHUB_API_URL", fake.base_url.as_str()),
        ("GITHUB_ISSUE_MCP__GITHUB__MUTATION_INTERVAL_MS", "0"),
        ("GITHUB_ISSUE_MCP__GITHUB__RETRY_BASE_MS", "1"),
    ];
    all.extend_from_slice(overrides);
    TestServer::start_github(settings(&all))
}

/// A session on `server`, initialized at `version`.
pub async fn session(server: &TestServer, version: &str) -> SseClient {
    let mut client = SseClient::connect(server).await;
    client.initialize(version).await;
    client
}

/// A legacy SSE session at `version` sending `key` as the bearer on every request (the
/// `api-keys` mode).
pub async fn session_as(server: &TestServer, key: &str, version: &str) -> SseClient {
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}")).unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let mut client = SseClient::connect_with(server, http).await;
    client.initialize(version).await;
    client
}

/// The text of a tool result's first content block.
pub fn text_of(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

/// The real binary in a child process on a free port, with `env` set; waits until it answers.
/// Its stderr (the logs) is piped, for the caller to read once it has exited.
pub async fn spawn_binary(env: &[(&str, &str)]) -> (std::process::Child, TestServer) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_github-issue-mcp"))
        .envs(env.iter().copied())
        .env("PORT", port.to_string())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let server = TestServer::external(format!("http://127.0.0.1:{port}"));
    server.wait_until_up().await;
    (child, server)
}

/// Sends SIGTERM to a child process.
pub fn terminate(child: &std::process::Child) {
    terminate_pid(child.id());
}

/// Sends SIGTERM to process `pid`.
pub fn terminate_pid(pid: u32) {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// The server's `/metrics` text.
async fn metrics_text(server: &TestServer) -> String {
    reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of a gauge or counter line in the server's `/metrics` text.
pub async fn metric(server: &TestServer, name: &str) -> u64 {
    let text = metrics_text(server).await;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// The sum of every line of the counter `family` in the server's `/metrics`, whatever their
/// labels (0 when none has been counted yet).
pub async fn metric_total(server: &TestServer, family: &str) -> u64 {
    metrics_text(server)
        .await
        .lines()
        .filter_map(|line| line.strip_prefix(family))
        .filter(|rest| rest.starts_with(['{', ' ']))
        .filter_map(|rest| rest.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum()
}
